// Unit tests for tap::GsoCoalescer and the virtio-net header: segments crafted with libtins go in, the merged
// frames that come out are split again the way the kernel's GSO does, and must give back the original segments;
// their checksums, completed as a device would, must verify by libtins' own computation.
#include "tap/gso.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include "stack/checksum.hpp"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace tapstack::tap {
namespace {

using Frame = std::vector<std::byte>;

struct Out {
  VnetHeader h;
  Frame frame;
};

struct Flow {
  bool v6 = false;
  std::uint16_t sport = 40000, dport = 5001;
  std::uint32_t ack = 7777;
  std::uint16_t window = 512;
  std::uint32_t tsval = 1000;
};

Frame bytes_of(const Tins::PDU& pdu) {
  Tins::PDU* copy = pdu.clone();
  const auto raw = copy->serialize();
  delete copy;
  Frame f(raw.size());
  std::memcpy(f.data(), raw.data(), raw.size());
  return f;
}

std::vector<std::uint8_t> payload_bytes(std::size_t n, std::uint32_t seq) {
  std::vector<std::uint8_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = std::uint8_t((seq + i) * 31 + 7);
  return p;
}

Frame segment(const Flow& fl, std::uint32_t seq, std::size_t len, std::uint8_t extra_flags = 0) {
  Tins::TCP tcp{fl.dport, fl.sport};
  tcp.seq(seq);
  tcp.ack_seq(fl.ack);
  tcp.window(fl.window);
  tcp.set_flag(Tins::TCP::ACK, 1);
  if (extra_flags & 0x08) tcp.set_flag(Tins::TCP::PSH, 1);
  if (extra_flags & 0x01) tcp.set_flag(Tins::TCP::FIN, 1);
  if (extra_flags & 0x02) tcp.set_flag(Tins::TCP::SYN, 1);
  if (extra_flags & 0x04) tcp.set_flag(Tins::TCP::RST, 1);
  tcp.add_option(Tins::TCP::option{Tins::TCP::NOP});
  tcp.add_option(Tins::TCP::option{Tins::TCP::NOP});
  tcp.timestamp(fl.tsval, 99);
  Tins::EthernetII eth{"02:00:00:00:00:01", "02:00:00:00:00:02"};
  const auto pl = payload_bytes(len, seq);
  if (fl.v6) {
    Tins::IPv6 ip{"2001:db8::1", "2001:db8::2"};
    ip.hop_limit(64);
    if (len == 0) return bytes_of(eth / ip / tcp);
    return bytes_of(eth / ip / tcp / Tins::RawPDU{pl.data(), std::uint32_t(pl.size())});
  }
  Tins::IP ip{"192.0.2.1", "192.0.2.2"};
  ip.ttl(64);
  ip.flags(Tins::IP::DONT_FRAGMENT);
  ip.id(std::uint16_t(seq));  // a different ID per segment, as the stack's are
  if (len == 0) return bytes_of(eth / ip / tcp);
  return bytes_of(eth / ip / tcp / Tins::RawPDU{pl.data(), std::uint32_t(pl.size())});
}

class Coalesce : public ::testing::Test {
 protected:
  bool add(const Frame& f) {
    return gso_.add(Bytes{f}, [&](const VnetHeader& h, Bytes b) {
      out_.push_back(Out{h, Frame(b.begin(), b.end())});
      return accept_;
    });
  }
  bool flush() {
    return gso_.flush([&](const VnetHeader& h, Bytes b) {
      out_.push_back(Out{h, Frame(b.begin(), b.end())});
      return accept_;
    });
  }
  GsoCoalescer gso_;
  std::vector<Out> out_;
  bool accept_ = true;
};

// The kernel's view of a merged frame: the checksum a device completes, then one segment per gso_size bytes.
struct Split {
  std::vector<std::uint32_t> seqs;
  std::vector<std::vector<std::uint8_t>> payloads;
  bool psh = false;
};

Split split(const Out& o) {
  Frame f = o.frame;
  EXPECT_TRUE(complete_partial_checksum(o.h, MutableBytes{f}));
  Tins::EthernetII eth{reinterpret_cast<const std::uint8_t*>(f.data()), std::uint32_t(f.size())};
  // libtins recomputes every length and checksum when it serializes: the frame must already hold those values.
  EXPECT_EQ(bytes_of(eth), f) << "a length or checksum in the merged frame is wrong";
  const auto& tcp = eth.rfind_pdu<Tins::TCP>();
  const auto& raw = eth.rfind_pdu<Tins::RawPDU>().payload();
  Split s;
  s.psh = tcp.get_flag(Tins::TCP::PSH) != 0;
  for (std::size_t off = 0; off < raw.size(); off += o.h.gso_size) {
    s.seqs.push_back(tcp.seq() + std::uint32_t(off));
    const std::size_t n = std::min<std::size_t>(o.h.gso_size, raw.size() - off);
    s.payloads.emplace_back(raw.begin() + std::ptrdiff_t(off), raw.begin() + std::ptrdiff_t(off + n));
  }
  return s;
}

void expect_merged(const Out& o, bool v6, std::uint32_t seq0, std::vector<std::size_t> lens) {
  ASSERT_GT(lens.size(), 1u);
  EXPECT_EQ(o.h.flags, VnetHeader::kNeedsCsum);
  EXPECT_EQ(o.h.gso_type, v6 ? VnetHeader::kGsoTcpV6 : VnetHeader::kGsoTcpV4);
  const std::size_t hdr = 14 + (v6 ? 40 : 20) + 32;  // TCP: 20 + NOP NOP TS
  EXPECT_EQ(o.h.hdr_len, hdr);
  EXPECT_EQ(o.h.gso_size, lens[0]);
  EXPECT_EQ(o.h.csum_start, 14 + (v6 ? 40 : 20));
  EXPECT_EQ(o.h.csum_offset, 16);
  const Split s = split(o);
  ASSERT_EQ(s.seqs.size(), lens.size());
  std::uint32_t seq = seq0;
  for (std::size_t i = 0; i < lens.size(); ++i) {
    EXPECT_EQ(s.seqs[i], seq) << "segment " << i;
    EXPECT_EQ(s.payloads[i], payload_bytes(lens[i], seq)) << "segment " << i;
    seq += std::uint32_t(lens[i]);
  }
}

TEST_F(Coalesce, TenFullSegmentsBecomeOneGsoFrame_V4) {
  const Flow fl;
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(add(segment(fl, 1000 + i * 1448, 1448)));
  EXPECT_TRUE(out_.empty()) << "nothing is written before the flush";
  EXPECT_TRUE(gso_.holding());
  ASSERT_TRUE(flush());
  ASSERT_EQ(out_.size(), 1u);
  expect_merged(out_[0], false, 1000, std::vector<std::size_t>(10, 1448));
  EXPECT_FALSE(gso_.holding());
  EXPECT_EQ(gso_.counters().super_frames, 1u);
  EXPECT_EQ(gso_.counters().segments_in_super_frames, 10u);
}

TEST_F(Coalesce, TenFullSegmentsBecomeOneGsoFrame_V6) {
  const Flow fl{.v6 = true};
  for (std::uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(add(segment(fl, 5000 + i * 1428, 1428)));
  ASSERT_TRUE(flush());
  ASSERT_EQ(out_.size(), 1u);
  expect_merged(out_[0], true, 5000, std::vector<std::size_t>(10, 1428));
}

TEST_F(Coalesce, ASequenceNumberWrapInsideTheRunIsFollowed) {
  const Flow fl;
  const std::uint32_t seq0 = 0xffffffffu - 2000;
  for (std::uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(add(segment(fl, seq0 + i * 1448, 1448)));
  ASSERT_TRUE(flush());
  ASSERT_EQ(out_.size(), 1u);
  expect_merged(out_[0], false, seq0, {1448, 1448, 1448});
}

TEST_F(Coalesce, AShortSegmentEndsTheRun) {
  const Flow fl;
  add(segment(fl, 0, 1448));
  add(segment(fl, 1448, 1448));
  add(segment(fl, 2896, 700));  // the end of the application's write: appended, and nothing after it
  add(segment(fl, 3596, 1448));
  flush();
  ASSERT_EQ(out_.size(), 2u);
  expect_merged(out_[0], false, 0, {1448, 1448, 700});
  EXPECT_EQ(out_[1].h, VnetHeader{}) << "a lone segment goes out as it came";
  EXPECT_EQ(out_[1].frame, segment(fl, 3596, 1448));
}

TEST_F(Coalesce, PshIsKeptOnTheMergedFrameAndEndsTheRun) {
  const Flow fl;
  add(segment(fl, 0, 1448));
  add(segment(fl, 1448, 1448, 0x08));
  add(segment(fl, 2896, 1448));
  flush();
  ASSERT_EQ(out_.size(), 2u);
  expect_merged(out_[0], false, 0, {1448, 1448});
  EXPECT_TRUE(split(out_[0]).psh);
  EXPECT_EQ(out_[1].frame, segment(fl, 2896, 1448));
}

TEST_F(Coalesce, ALoneSegmentWithPshGoesOutAtOnce) {
  const Flow fl;
  const Frame request = segment(fl, 0, 1, 0x08);  // a 1-byte request: nothing can follow it in a merged frame
  ASSERT_TRUE(add(request));
  ASSERT_EQ(out_.size(), 1u) << "written without waiting for the end of the batch";
  EXPECT_EQ(out_[0].h, VnetHeader{});
  EXPECT_EQ(out_[0].frame, request);
  EXPECT_FALSE(gso_.holding());
}

TEST_F(Coalesce, AGapInSequenceNumbersIsNotMerged) {
  const Flow fl;
  add(segment(fl, 0, 1448));
  add(segment(fl, 1448 * 2, 1448));  // a retransmission of something later, say
  flush();
  ASSERT_EQ(out_.size(), 2u);
  EXPECT_EQ(out_[0].frame, segment(fl, 0, 1448));
  EXPECT_EQ(out_[1].frame, segment(fl, 1448 * 2, 1448));
}

TEST_F(Coalesce, SegmentsThatDifferInAckWindowTimestampOrFlowAreNotMerged) {
  const Flow base;
  Flow ack = base, win = base, ts = base, port = base, v6 = base;
  ack.ack += 1;
  win.window += 1;
  ts.tsval += 1;
  port.sport += 1;
  v6.v6 = true;
  for (const Flow& other : {ack, win, ts, port, v6}) {
    out_.clear();
    add(segment(base, 0, 1448));
    add(segment(other, 1448, 1448));
    flush();
    ASSERT_EQ(out_.size(), 2u);
    EXPECT_EQ(out_[0].h, VnetHeader{});
    EXPECT_EQ(out_[1].h, VnetHeader{});
    EXPECT_EQ(out_[1].frame, segment(other, 1448, 1448)) << "the order is kept";
  }
}

TEST_F(Coalesce, ControlSegmentsPureAcksAndOtherFramesGoOutAtOnceAfterWhatIsHeld) {
  const Flow fl;
  Frame arp(42, std::byte{0});
  arp[12] = std::byte{0x08};
  arp[13] = std::byte{0x06};
  const std::vector<Frame> others = {segment(fl, 2896, 0), segment(fl, 2896, 10, 0x01), segment(fl, 2896, 0, 0x04),
                                     segment(fl, 2896, 0, 0x02), arp};
  for (const Frame& other : others) {
    out_.clear();
    add(segment(fl, 0, 1448));
    add(segment(fl, 1448, 1448));
    ASSERT_TRUE(add(other));
    ASSERT_EQ(out_.size(), 2u) << "the held run first, then the frame, without waiting for the flush";
    expect_merged(out_[0], false, 0, {1448, 1448});
    EXPECT_EQ(out_[1].h, VnetHeader{});
    EXPECT_EQ(out_[1].frame, other);
    EXPECT_FALSE(gso_.holding());
  }
}

TEST_F(Coalesce, AMergedFrameStaysWithin64KiBOfIpPacket) {
  const Flow fl;
  for (std::uint32_t i = 0; i < 50; ++i) add(segment(fl, i * 1448, 1448));
  flush();
  ASSERT_EQ(out_.size(), 2u);
  // 20 + 32 + 45 * 1448 = 65212 <= 65535; a 46th segment would pass it.
  expect_merged(out_[0], false, 0, std::vector<std::size_t>(45, 1448));
  expect_merged(out_[1], false, 45 * 1448, std::vector<std::size_t>(5, 1448));
}

TEST_F(Coalesce, MaxSegmentsIsHonoured) {
  GsoCoalescer small{3};
  std::vector<Out> out;
  const Flow fl;
  auto sink = [&](const VnetHeader& h, Bytes b) {
    out.push_back(Out{h, Frame(b.begin(), b.end())});
    return true;
  };
  for (std::uint32_t i = 0; i < 7; ++i) small.add(Bytes{segment(fl, i * 100, 100)}, sink);
  small.flush(sink);
  ASSERT_EQ(out.size(), 3u);
  expect_merged(out[0], false, 0, {100, 100, 100});
  expect_merged(out[1], false, 300, {100, 100, 100});
  EXPECT_EQ(out[2].frame, segment(fl, 600, 100));
}

TEST_F(Coalesce, MalformedFramesAreWrittenAloneAndUnchanged) {
  const Flow fl;
  Frame good = segment(fl, 0, 1448);
  std::vector<Frame> bad;
  bad.push_back(Frame(good.begin(), good.begin() + 13));  // shorter than Ethernet
  bad.push_back(Frame(good.begin(), good.begin() + 40));  // IPv4 total length says more than there is
  Frame padded = good;
  padded.push_back(std::byte{0});  // a byte after the IP packet
  bad.push_back(padded);
  Frame ihl = good;
  ihl[14] = std::byte{0x46};  // IPv4 options
  bad.push_back(ihl);
  Frame frag = good;
  frag[20] = std::byte{0x20};  // MF
  bad.push_back(frag);
  Frame doff = good;
  doff[34 + 12] = std::byte{0xf0};  // TCP header of 60 bytes, past the payload start but within the frame
  bad.push_back(doff);
  Frame doff_small = good;
  doff_small[34 + 12] = std::byte{0x40};  // data offset 16 < 20
  bad.push_back(doff_small);
  Frame v6 = segment(Flow{.v6 = true}, 0, 100);
  v6[14 + 6] = std::byte{0};  // a hop-by-hop header first
  bad.push_back(v6);
  for (const Frame& b : bad) {
    out_.clear();
    ASSERT_TRUE(add(b));
    if (out_.empty()) {  // held as a segment it does parse as (the data-offset cases): flushed unchanged
      flush();
    }
    ASSERT_EQ(out_.size(), 1u);
    EXPECT_EQ(out_[0].h, VnetHeader{});
    EXPECT_EQ(out_[0].frame, b);
  }
}

TEST_F(Coalesce, ARefusalIsReportedForAFrameSentAtOnceAndCounted) {
  accept_ = false;
  Frame arp(42, std::byte{0});
  EXPECT_FALSE(add(arp));
  const Flow fl;
  EXPECT_TRUE(add(segment(fl, 0, 1448))) << "a held segment counts as accepted";
  EXPECT_FALSE(flush());
  EXPECT_EQ(gso_.counters().refused_by_sink, 2u);
  EXPECT_FALSE(gso_.holding()) << "a refused frame is dropped, not retried";
}

TEST(VnetHeader, WritesAndReadsTheTenByteLayoutInHostOrder) {
  VnetHeader h{VnetHeader::kNeedsCsum, VnetHeader::kGsoTcpV6, 86, 1428, 54, 16};
  std::array<std::byte, VnetHeader::kLen> b{};
  h.write(MutableBytes{b});
  EXPECT_EQ(b[0], std::byte{1});
  EXPECT_EQ(b[1], std::byte{4});
  std::uint16_t v;
  std::memcpy(&v, b.data() + 4, 2);
  EXPECT_EQ(v, 1428);
  std::memcpy(&v, b.data() + 6, 2);
  EXPECT_EQ(v, 54);
  EXPECT_EQ(VnetHeader::read(Bytes{b}), h);
}

TEST(VnetHeader, CompletingAChecksumChecksItsOffsets) {
  const Flow fl;
  Frame f = segment(fl, 0, 100);
  const Frame orig = f;
  // The field set to the pseudo-header sum, as a kernel sends a CHECKSUM_PARTIAL frame: completing it must give
  // back the checksum libtins computed.
  std::uint32_t pseudo = 6 + std::uint32_t(f.size() - 34);
  pseudo = checksum_add(Bytes{f}.subspan(26, 8), pseudo);
  store_be16(MutableBytes{f}, 34 + 16, std::uint16_t(checksum_add({}, pseudo)));
  const VnetHeader h{VnetHeader::kNeedsCsum, VnetHeader::kGsoNone, 0, 0, 34, 16};
  ASSERT_TRUE(complete_partial_checksum(h, MutableBytes{f}));
  EXPECT_EQ(f, orig);
  // Out of bounds: the offsets point past the frame, or the field's second byte would.
  EXPECT_FALSE(complete_partial_checksum(VnetHeader{1, 0, 0, 0, std::uint16_t(f.size()), 0}, MutableBytes{f}));
  EXPECT_FALSE(complete_partial_checksum(VnetHeader{1, 0, 0, 0, 34, std::uint16_t(f.size() - 35)}, MutableBytes{f}));
  EXPECT_FALSE(complete_partial_checksum(VnetHeader{1, 0, 0, 0, 0xffff, 0xffff}, MutableBytes{f}));
  EXPECT_EQ(f, orig);
}

}  // namespace
}  // namespace tapstack::tap
