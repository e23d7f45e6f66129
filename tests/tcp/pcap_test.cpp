// Option parsing against real captures (tests/data, see its README): every TCP segment in the traces
// parses, the SYN/SYN-ACK options come out exactly as tcpdump shows them, wscale 255 reads as 14, and the
// frames captured with checksum offload are rejected by the verifying parse (RFC 9293 MUST-3).
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp {
namespace {

// One TCP segment out of an Ethernet/IPv4 frame, with the bytes as captured (checksums not recomputed).
struct Segment {
  std::size_t frame = 0;  // 1-based, as tcpdump counts
  std::vector<std::byte> bytes;
  ip::PseudoHeader pseudo;
  std::optional<View> view() const { return View::parse(Bytes{bytes}); }
};

std::string data_path(const std::string& name) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

// Reads every IPv4/TCP frame of an Ethernet pcap. The IP header is walked here by hand (IHL, total length,
// trimming Ethernet padding) so that the test does not depend on ip/'s parser.
std::vector<Segment> read_tcp_segments(const std::string& name) {
  std::vector<Segment> out;
  Tins::FileSniffer sniffer(data_path(name));
  sniffer.set_extract_raw_pdus(true);  // the bytes as captured: libtins must not re-serialize them
  std::size_t frame = 0;
  for (Tins::Packet pkt = sniffer.next_packet(); pkt; pkt = sniffer.next_packet()) {
    ++frame;
    const auto* raw = pkt.pdu()->find_pdu<Tins::RawPDU>();
    if (raw == nullptr) continue;
    const auto& f = raw->payload();
    const Bytes b = std::as_bytes(std::span{f});
    if (b.size() < 14 + 20 || load_be16(b, 12) != 0x0800) continue;
    const Bytes ip4 = b.subspan(14);
    const std::size_t ihl = std::size_t(load_u8(ip4, 0) & 0x0f) * 4;
    const std::size_t total = load_be16(ip4, 2);
    if (load_u8(ip4, 9) != 6 || ihl < 20 || total < ihl || total > ip4.size()) continue;
    Segment s;
    s.frame = frame;
    const Bytes tcp = ip4.subspan(ihl, total - ihl);
    s.bytes.assign(tcp.begin(), tcp.end());
    s.pseudo = {ip::Ipv4Address::from_bytes(ip4.subspan(12)), ip::Ipv4Address::from_bytes(ip4.subspan(16)),
                std::uint8_t(ip::IpProtocol::kTcp), std::uint32_t(tcp.size())};
    out.push_back(std::move(s));
  }
  return out;
}

// Parses with checksum verification; where the checksum is wrong (offload), asserts that the verifying
// parse rejects it and falls back to the unverified path to check the rest.
Repr parse_checked(const Segment& s, bool expect_good_checksum) {
  const auto v = s.view();
  EXPECT_TRUE(v) << "frame " << s.frame;
  if (!v) return {};
  DropReason why{};
  const auto r = Repr::parse(*v, s.pseudo, &why);
  if (expect_good_checksum) {
    EXPECT_TRUE(r) << "frame " << s.frame << ": " << why;
    if (r) return *r;
  } else {
    EXPECT_FALSE(r) << "frame " << s.frame << " has an offloaded checksum and must be dropped";
    EXPECT_EQ(why, DropReason::kBadChecksum);
  }
  const auto u = Repr::parse_unverified(*v);
  EXPECT_TRUE(u) << "frame " << s.frame;
  return u.value_or(Repr{});
}

TEST(TcpPcap, SynOptionsMssSackTsWs) {
  const auto segs = read_tcp_segments("tcp_syn_options_mss_sack_ts_ws.pcap");
  ASSERT_EQ(segs.size(), 4u);
  for (const auto& s : segs) parse_checked(s, true);

  // SYN: mss 1460,sackOK,TS val 4294923497 ecr 0,nop,wscale 6
  const Repr syn = parse_checked(segs[0], true);
  EXPECT_EQ(syn.flags(), Control::kSyn);
  EXPECT_EQ(syn.src_port, 36861);
  EXPECT_EQ(syn.dst_port, 80);
  EXPECT_EQ(syn.seq, SeqNum{3750886907u});
  EXPECT_FALSE(syn.ack);
  EXPECT_EQ(syn.window, 5840);
  EXPECT_EQ(syn.mss, 1460);
  EXPECT_TRUE(syn.sack_permitted);
  EXPECT_EQ(syn.timestamps, (Timestamps{4294923497u, 0}));
  EXPECT_EQ(syn.window_scale, 6);
  EXPECT_TRUE(syn.sacks().empty());

  // SYN-ACK: mss 1380,sackOK,TS val 419445911 ecr 4294923497,nop,wscale 7
  const Repr synack = parse_checked(segs[1], true);
  EXPECT_EQ(synack.flags(), Control::kSyn | Control::kAck);
  EXPECT_EQ(synack.seq, SeqNum{724047884u});
  EXPECT_EQ(synack.ack, syn.seq + 1);
  EXPECT_EQ(synack.window, 5792);
  EXPECT_EQ(synack.mss, 1380);
  EXPECT_TRUE(synack.sack_permitted);
  EXPECT_EQ(synack.timestamps, (Timestamps{419445911u, 4294923497u}));
  EXPECT_EQ(synack.window_scale, 7);

  // ACK and GET: nop,nop,TS val 4294923545 ecr 419445911; the TS value has moved 48 ticks without wrapping.
  const Repr get = parse_checked(segs[3], true);
  EXPECT_EQ(get.flags(), Control::kPsh | Control::kAck);
  EXPECT_EQ(get.timestamps, (Timestamps{4294923545u, 419445911u}));
  EXPECT_FALSE(get.mss);
  EXPECT_FALSE(get.window_scale);
  EXPECT_EQ(get.payload.size(), 104u);
  EXPECT_EQ(as_chars(get.payload).substr(0, 4), "GET ");
}

TEST(TcpPcap, WindowScale255IsClampedTo14) {
  const auto segs = read_tcp_segments("tcp_wscale_255_clamp.pcap");
  ASSERT_EQ(segs.size(), 5u);
  for (const auto& s : segs) parse_checked(s, true);
  // The raw option byte really is 255...
  const auto v = segs[0].view();
  ASSERT_TRUE(v);
  EXPECT_EQ(std::uint8_t(v->options()[6]), 255);
  // ...and reads as 14 (RFC 7323 §2.3). Options: mss 1460,wscale 255,eol.
  const Repr syn = parse_checked(segs[0], true);
  EXPECT_EQ(syn.flags(), Control::kSyn);
  EXPECT_EQ(syn.mss, 1460);
  EXPECT_EQ(syn.window_scale, 14);
  EXPECT_FALSE(syn.sack_permitted);
  EXPECT_FALSE(syn.timestamps);
  const Repr synack = parse_checked(segs[1], true);
  EXPECT_EQ(synack.window_scale, 7);
  EXPECT_EQ(synack.mss, 1460);
}

TEST(TcpPcap, HandshakeDataFinEverySegmentParses) {
  const auto segs = read_tcp_segments("tcp_handshake_data_fin_opts.pcap");
  ASSERT_EQ(segs.size(), 10u);
  // Frames 4 and 6 (the two data segments) were captured with checksum offload.
  for (const auto& s : segs) {
    const bool offloaded = s.frame == 4 || s.frame == 6;
    const Repr r = parse_checked(s, !offloaded);
    EXPECT_TRUE(r.timestamps) << "frame " << s.frame;
  }
  for (std::size_t i : {0u, 1u}) {  // mss 16396,sackOK,TS,nop,wscale 2 on both sides
    const Repr r = parse_checked(segs[i], true);
    EXPECT_TRUE(r.has_flags(Control::kSyn));
    EXPECT_EQ(r.mss, 16396);
    EXPECT_TRUE(r.sack_permitted);
    EXPECT_EQ(r.window_scale, 2);
    ASSERT_TRUE(r.timestamps);
    EXPECT_EQ(r.timestamps->tsval, 1306300950u);
  }
  const Repr get = parse_checked(segs[3], false);
  EXPECT_EQ(get.payload.size(), 202u);
  EXPECT_EQ(get.timestamps, (Timestamps{1306300951u, 1306300950u}));
  const Repr reply = parse_checked(segs[5], false);
  EXPECT_EQ(reply.payload.size(), 5559u);
  EXPECT_EQ(parse_checked(segs[7], true).flags(), Control::kFin | Control::kAck);
  EXPECT_EQ(parse_checked(segs[8], true).flags(), Control::kFin | Control::kAck);
}

TEST(TcpPcap, DnsOverTcpLifecycle) {
  const auto segs = read_tcp_segments("tcp_dns_over_tcp_lifecycle.pcap");
  ASSERT_EQ(segs.size(), 11u);
  for (const auto& s : segs) parse_checked(s, true);
  const Repr syn = parse_checked(segs[0], true);
  EXPECT_EQ(syn.mss, 1460);
  EXPECT_TRUE(syn.sack_permitted);
  EXPECT_EQ(syn.timestamps, (Timestamps{2044906138u, 0}));
  EXPECT_EQ(syn.window_scale, 7);
  // The SYN-ACK carries only MSS 1460: the peer refused SACK, timestamps and window scaling.
  const Repr synack = parse_checked(segs[1], true);
  EXPECT_EQ(synack.flags(), Control::kSyn | Control::kAck);
  EXPECT_EQ(synack.mss, 1460);
  EXPECT_FALSE(synack.sack_permitted);
  EXPECT_FALSE(synack.timestamps);
  EXPECT_FALSE(synack.window_scale);
  EXPECT_TRUE(synack.sacks().empty());
  EXPECT_EQ(parse_checked(segs[3], true).payload.size(), 58u);
  EXPECT_EQ(parse_checked(segs[5], true).payload.size(), 226u);
  EXPECT_EQ(parse_checked(segs[9], true).flags(), Control::kFin | Control::kPsh | Control::kAck);
}

// Re-emitting each parsed segment gives back bytes that parse to the same Repr (layout may differ).
TEST(TcpPcap, ReemittedSegmentsRoundTrip) {
  for (const char* name : {"tcp_syn_options_mss_sack_ts_ws.pcap", "tcp_wscale_255_clamp.pcap",
                           "tcp_handshake_data_fin_opts.pcap", "tcp_dns_over_tcp_lifecycle.pcap"}) {
    for (const auto& s : read_tcp_segments(name)) {
      const auto r = Repr::parse_unverified(*s.view());
      ASSERT_TRUE(r);
      std::vector<std::byte> out(r->buffer_len());
      r->emit(out, s.pseudo);
      const auto back = Repr::parse(*View::parse(Bytes{out}), s.pseudo);
      ASSERT_TRUE(back) << name << " frame " << s.frame;
      EXPECT_EQ(*back, *r) << name << " frame " << s.frame;
    }
  }
}

}  // namespace
}  // namespace tapstack::tcp
