// Reassembler6 (RFC 8200 §4.5, RFC 5722, RFC 7112, RFC 6946): in order, reordered, unfragmentable headers
// kept, overlap drops the datagram, exact duplicates ignored, first fragment without the upper-layer header,
// atomic fragments, Parameter Problem verdicts with their pointers, timeout (with the rebuilt first fragment
// for Time Exceeded) and the memory/table caps.
#include "ip/reassembly6.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace tapstack::ip {
namespace {

const Ipv6Address kSrc = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kSrc2 = *Ipv6Address::parse("2001:db8::3");
const Ipv6Address kDst = *Ipv6Address::parse("2001:db8::2");
const Instant kT0 = Instant::from_millis(1000);
constexpr std::uint8_t kUdp = 17;

// The fragmentable part of a datagram: a UDP header (length = n) followed by bytes 0, 1, 2, ...
std::vector<std::byte> udp_datagram(std::size_t n) {
  std::vector<std::byte> d(n);
  for (std::size_t i = 8; i < n; ++i) d[i] = std::byte(i * 7);
  store_be16(d, 0, 1000);
  store_be16(d, 2, 53);
  store_be16(d, 4, std::uint16_t(n));
  return d;
}

// One fragment packet: IPv6 header, optional `unfrag` extension headers (their last Next Header must be 44),
// the Fragment header and data[off, off + len).
std::vector<std::byte> fragment(Bytes data, std::size_t off, std::size_t len, bool more, std::uint32_t id = 0x1234,
                                const Ipv6Address& src = kSrc, const std::vector<std::byte>& unfrag = {},
                                std::uint8_t next_header = kUdp) {
  Ipv6Repr ip;
  ip.src = src;
  ip.dst = kDst;
  ip.next_header = unfrag.empty() ? kIpv6NextFragment : kIpv6NextHopByHop;
  ip.payload_len = std::uint16_t(unfrag.size() + 8 + len);
  std::vector<std::byte> b(ip.buffer_len());
  ip.emit(b);
  std::copy(unfrag.begin(), unfrag.end(), b.begin() + 40);
  const std::size_t fh = 40 + unfrag.size();
  store_u8(b, fh, next_header);
  store_u8(b, fh + 1, 0);
  store_be16(b, fh + 2, std::uint16_t((off & ~std::size_t(7)) | (more ? 1 : 0)));
  store_be32(b, fh + 4, id);
  copy_bytes(MutableBytes{b}.subspan(fh + 8), data.subspan(off, len));
  return b;
}

struct Harness {
  Reassembler6 r;
  explicit Harness(Reassembly6Config c = {}) : r{c} {}
  Reassembly6Result add(Instant now, const std::vector<std::byte>& pkt) {
    auto v = Ipv6View::parse(pkt);
    EXPECT_TRUE(v);
    auto chain = walk_ipv6_chain(*v);
    EXPECT_TRUE(chain);
    return r.add(now, *v, *chain);
  }
};

void expect_udp_packet(const Reassembly6Result& res, const std::vector<std::byte>& datagram) {
  ASSERT_EQ(res.status, Reassembly6Status::kComplete);
  auto v = Ipv6View::parse(res.packet);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->payload_len(), datagram.size());
  auto chain = walk_ipv6_chain(*v);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->upper_layer, kUdp);
  EXPECT_FALSE(chain->fragment);
  EXPECT_TRUE(std::ranges::equal(res.packet.subspan(chain->upper_layer_offset), datagram));
}

TEST(Reassembler6, InOrder) {
  Harness h;
  const auto d = udp_datagram(3000);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 1232, true)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 1232, 1232, true)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.r.datagrams_in_flight(), 1u);
  EXPECT_EQ(h.r.bytes_held(), 2464u);
  const auto res = h.add(kT0, fragment(d, 2464, 536, false));
  expect_udp_packet(res, d);
  auto v = Ipv6View::parse(res.packet);
  EXPECT_EQ(v->src(), kSrc);
  EXPECT_EQ(v->next_header(), kUdp);
  EXPECT_EQ(h.r.counters().reassembled, 1u);
  EXPECT_EQ(h.r.counters().fragments, 3u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
  EXPECT_FALSE(h.r.poll_at());
}

TEST(Reassembler6, Reordered) {
  Harness h;
  const auto d = udp_datagram(2000);
  EXPECT_EQ(h.add(kT0, fragment(d, 1600, 400, false)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 800, 800, true)).status, Reassembly6Status::kHeld);
  expect_udp_packet(h.add(kT0, fragment(d, 0, 800, true)), d);
}

TEST(Reassembler6, UnfragmentableHeadersAreKeptAndTheirNextHeaderPatched) {
  Harness h;
  const auto d = udp_datagram(100);
  // Hop-by-Hop (PadN) naming the Fragment header.
  const std::vector<std::byte> hbh{std::byte{44}, std::byte{0}, std::byte{1}, std::byte{4},
                                   std::byte{0},  std::byte{0}, std::byte{0}, std::byte{0}};
  EXPECT_EQ(h.add(kT0, fragment(d, 48, 52, false, 9, kSrc, hbh)).status, Reassembly6Status::kHeld);
  const auto res = h.add(kT0, fragment(d, 0, 48, true, 9, kSrc, hbh));
  ASSERT_EQ(res.status, Reassembly6Status::kComplete);
  auto v = Ipv6View::parse(res.packet);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->next_header(), kIpv6NextHopByHop);
  EXPECT_EQ(v->payload_len(), 8u + 100u);
  EXPECT_EQ(std::uint8_t(res.packet[40]), kUdp);
  auto chain = walk_ipv6_chain(*v);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->upper_layer, kUdp);
  EXPECT_EQ(chain->upper_layer_offset, 48u);
  EXPECT_TRUE(std::ranges::equal(res.packet.subspan(48), d));
}

TEST(Reassembler6, OverlapDropsTheWholeDatagram) {
  Harness h;
  const auto d = udp_datagram(2400);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 800, true)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 792, 808, true)).status, Reassembly6Status::kDropped);  // 792 < 800
  EXPECT_EQ(h.r.counters().drop_overlap, 1u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
  // The rest of it (even a consistent piece) is discarded until the tombstone times out (RFC 5722).
  EXPECT_EQ(h.add(kT0, fragment(d, 800, 800, true)).status, Reassembly6Status::kDropped);
  EXPECT_EQ(h.add(kT0, fragment(d, 1600, 800, false)).status, Reassembly6Status::kDropped);
  EXPECT_EQ(h.r.counters().drop_after_abort, 2u);
  EXPECT_EQ(h.r.counters().reassembled, 0u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  // A later datagram with another identification is unaffected.
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 1200, true, 77)).status, Reassembly6Status::kHeld);
  expect_udp_packet(h.add(kT0, fragment(d, 1200, 1200, false, 77)), d);
}

TEST(Reassembler6, ExactDuplicateIsIgnoredButADifferentCopyIsAnOverlap) {
  Harness h;
  const auto d = udp_datagram(1600);
  const auto first = fragment(d, 0, 800, true);
  EXPECT_EQ(h.add(kT0, first).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, first).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.r.counters().duplicates_ignored, 1u);
  auto altered = first;
  altered.back() ^= std::byte{0xff};
  EXPECT_EQ(h.add(kT0, altered).status, Reassembly6Status::kDropped);
  EXPECT_EQ(h.r.counters().drop_overlap, 1u);
}

TEST(Reassembler6, AtomicFragmentIsReturnedUnchanged) {
  Harness h;
  const auto d = udp_datagram(100);
  const auto pkt = fragment(d, 0, 100, false);
  const auto res = h.add(kT0, pkt);
  ASSERT_EQ(res.status, Reassembly6Status::kComplete);
  EXPECT_TRUE(std::ranges::equal(res.packet, pkt));
  EXPECT_EQ(res.packet.data(), reinterpret_cast<const std::byte*>(pkt.data()));
  EXPECT_EQ(h.r.counters().atomic_fragments, 1u);
  EXPECT_EQ(h.r.counters().fragments, 0u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  // An atomic fragment with the identification of a datagram in progress does not disturb it (RFC 6946 §4).
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 48, true, 5)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 100, false, 5)).status, Reassembly6Status::kComplete);
  expect_udp_packet(h.add(kT0, fragment(d, 48, 52, false, 5)), d);
}

TEST(Reassembler6, NonLastFragmentNotAMultipleOf8IsParamProblemAtPayloadLength) {
  Harness h;
  const auto d = udp_datagram(1000);
  const auto res = h.add(kT0, fragment(d, 0, 500, true));
  EXPECT_EQ(res.status, Reassembly6Status::kParamProblem);
  EXPECT_EQ(res.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, 4}));
  EXPECT_EQ(h.r.counters().drop_bad_fragment_len, 1u);
  // An empty non-last fragment too.
  EXPECT_EQ(h.add(kT0, fragment(d, 8, 0, true, 2)).status, Reassembly6Status::kParamProblem);
}

TEST(Reassembler6, OverMaxPayloadIsParamProblemAtFragmentOffset) {
  Harness h;
  const auto d = udp_datagram(1000);
  // Offset 65528 + 16 bytes > 65535 (ping-of-death for IPv6).
  std::vector<std::byte> big(65528 + 16);
  const auto res = h.add(kT0, fragment(big, 65528, 16, false));
  EXPECT_EQ(res.status, Reassembly6Status::kParamProblem);
  EXPECT_EQ(res.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, 42}));
  EXPECT_EQ(h.r.counters().drop_too_big, 1u);
  // Exactly 65535 of payload length (8 unused + fragmentable 65527... ) is fine: 65520 + 15 as the last.
  std::vector<std::byte> edge(65535);
  EXPECT_EQ(h.add(kT0, fragment(edge, 65520, 15, false, 3)).status, Reassembly6Status::kHeld);
}

TEST(Reassembler6, FirstFragmentWithoutTheUpperLayerHeaderIsParamProblemCode3) {
  Harness h;
  // The first fragment holds a Destination Options header and only 0 bytes of UDP header: RFC 7112 §5.
  std::vector<std::byte> part(16);
  store_u8(part, 0, kUdp);
  store_u8(part, 1, 0);
  store_u8(part, 2, 1);
  store_u8(part, 3, 4);
  auto res = h.add(kT0, fragment(part, 0, 8, true, 1, kSrc, {}, kIpv6NextDestOpts));
  EXPECT_EQ(res.status, Reassembly6Status::kParamProblem);
  EXPECT_EQ(res.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kIncompleteChain, 0}));
  // The first fragment cuts the Destination Options header itself (length 1 = 16 bytes, 8 present).
  store_u8(part, 1, 1);
  res = h.add(kT0, fragment(part, 0, 8, true, 2, kSrc, {}, kIpv6NextDestOpts));
  EXPECT_EQ(res.status, Reassembly6Status::kParamProblem);
  EXPECT_EQ(res.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kIncompleteChain, 0}));
  EXPECT_EQ(h.r.counters().drop_incomplete_chain, 2u);
  // TCP needs 20 bytes: 16 are not enough.
  std::vector<std::byte> tcp(32);
  res = h.add(kT0, fragment(tcp, 0, 16, true, 3, kSrc, {}, 6));
  EXPECT_EQ(res.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kIncompleteChain, 0}));
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  // An unknown protocol after the Fragment header in a first fragment: its Parameter Problem (code 1 at the
  // Fragment header's Next Header byte).
  res = h.add(kT0, fragment(tcp, 0, 16, true, 4, kSrc, {}, 200));
  EXPECT_EQ(res.status, Reassembly6Status::kParamProblem);
  EXPECT_EQ(res.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, 40}));
  EXPECT_EQ(h.r.counters().drop_bad_chain, 1u);
}

TEST(Reassembler6, TimesOutAfter60SecondsAndRebuildsTheFirstFragment) {
  Harness h;
  const auto d = udp_datagram(2000);
  const auto first = fragment(d, 0, 800, true);
  h.add(kT0, first);
  h.add(kT0 + seconds(10), fragment(d, 1600, 400, false));
  EXPECT_EQ(h.r.poll_at(), kT0 + seconds(60));
  std::vector<std::vector<std::byte>> reports;
  auto cb = [&](Bytes b) { reports.emplace_back(b.begin(), b.end()); };
  h.r.poll(kT0 + seconds(60) - microseconds(1), cb);
  EXPECT_EQ(h.r.datagrams_in_flight(), 1u);
  h.r.poll(kT0 + seconds(60), cb);
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  EXPECT_EQ(h.r.counters().drop_timeout, 1u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0], first);
  // Without the first fragment nothing is reported (RFC 8200 §4.5).
  h.add(kT0, fragment(d, 800, 800, true, 6));
  h.r.poll(kT0 + seconds(61), cb);
  EXPECT_EQ(h.r.counters().drop_timeout, 2u);
  EXPECT_EQ(reports.size(), 1u);
  // The late remainder starts a new datagram rather than completing the expired one.
  EXPECT_EQ(h.add(kT0 + seconds(62), fragment(d, 800, 800, true)).status, Reassembly6Status::kHeld);
}

TEST(Reassembler6, TombstoneExpiresWithTheTimeout) {
  Harness h;
  const auto d = udp_datagram(1600);
  h.add(kT0, fragment(d, 0, 800, true));
  h.add(kT0, fragment(d, 400, 800, true));  // overlap
  EXPECT_EQ(h.add(kT0, fragment(d, 800, 800, false)).status, Reassembly6Status::kDropped);
  h.r.poll(kT0 + seconds(60));
  EXPECT_EQ(h.r.counters().drop_timeout, 0u);  // a tombstone is not a timed-out datagram
  EXPECT_EQ(h.add(kT0 + seconds(60), fragment(d, 0, 800, true)).status, Reassembly6Status::kHeld);
  expect_udp_packet(h.add(kT0 + seconds(60), fragment(d, 800, 800, false)), d);
}

TEST(Reassembler6, FragmentsPerDatagramAreCapped) {
  Reassembly6Config c;
  c.max_fragments = 3;
  Harness h{c};
  const auto d = udp_datagram(800);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(h.add(kT0, fragment(d, i * 8, 8, true)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 24, 8, true)).status, Reassembly6Status::kDropped);
  EXPECT_EQ(h.r.counters().drop_too_many_fragments, 1u);
}

TEST(Reassembler6, PerSourceMemoryCapRefusesThatSourceOnly) {
  Reassembly6Config c;
  c.max_bytes_per_source = 4000;
  Harness h{c};
  const auto d = udp_datagram(8000);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 2000, true, 1)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 2000, true, 2)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 8, true, 3)).status, Reassembly6Status::kDropped);
  EXPECT_EQ(h.r.counters().drop_memory_per_source, 1u);
  EXPECT_EQ(h.add(kT0, fragment(d, 0, 2000, true, 1, kSrc2)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.r.bytes_held(), 6000u);
}

TEST(Reassembler6, GlobalMemoryCapEvictsTheOldest) {
  Reassembly6Config c;
  c.max_bytes = 5000;
  Harness h{c};
  const auto d = udp_datagram(8000);
  h.add(kT0, fragment(d, 0, 2000, true, 1));
  h.add(kT0 + seconds(1), fragment(d, 0, 2000, true, 2, kSrc2));
  h.add(kT0 + seconds(2), fragment(d, 0, 2000, true, 3, *Ipv6Address::parse("2001:db8::4")));
  EXPECT_EQ(h.r.counters().evicted, 1u);
  EXPECT_EQ(h.r.bytes_held(), 4000u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 2u);
  // The evicted datagram's next fragment starts over, evicting the now oldest one to make room.
  EXPECT_EQ(h.add(kT0 + seconds(3), fragment(d, 1000, 200, true, 1)).status, Reassembly6Status::kHeld);
  EXPECT_EQ(h.r.counters().evicted, 2u);
  EXPECT_EQ(h.r.bytes_held(), 3200u);
}

TEST(Reassembler6, TableFullEvictsTheOldestDatagram) {
  Reassembly6Config c;
  c.max_datagrams = 2;
  Harness h{c};
  const auto d = udp_datagram(1600);
  h.add(kT0, fragment(d, 0, 800, true, 1));
  h.add(kT0 + seconds(1), fragment(d, 0, 800, true, 2));
  h.add(kT0 + seconds(2), fragment(d, 0, 800, true, 3));
  EXPECT_EQ(h.r.counters().evicted, 1u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 2u);
  expect_udp_packet(h.add(kT0 + seconds(3), fragment(d, 800, 800, false, 3)), d);
  EXPECT_EQ(h.add(kT0 + seconds(3), fragment(d, 800, 800, false, 1)).status, Reassembly6Status::kHeld);
}

TEST(Reassembler6, InconsistentLastFragmentsDropTheDatagram) {
  Harness h;
  const auto d = udp_datagram(2400);
  h.add(kT0, fragment(d, 1600, 800, false));
  EXPECT_EQ(h.add(kT0, fragment(d, 800, 808, false)).status, Reassembly6Status::kDropped);  // a second last
  EXPECT_EQ(h.r.counters().drop_inconsistent, 1u);
  h.add(kT0, fragment(d, 0, 800, false, 9) /* atomic: separate */);
  h.add(kT0, fragment(d, 800, 800, false, 10));
  EXPECT_EQ(h.add(kT0, fragment(d, 1600, 800, true, 10)).status, Reassembly6Status::kDropped);  // past the end
  EXPECT_EQ(h.r.counters().drop_inconsistent, 2u);
}

TEST(Reassembler6, ChainWithoutFragmentHeaderIsRefused) {
  Reassembler6 r;
  std::vector<std::byte> b(48);
  Ipv6Repr ip{kSrc, kDst, kUdp, 64, 0, 0, 8};
  ip.emit(b);
  auto v = Ipv6View::parse(b);
  auto chain = walk_ipv6_chain(*v);
  EXPECT_EQ(r.add(kT0, *v, *chain).status, Reassembly6Status::kDropped);
  EXPECT_EQ(r.counters().drop_inconsistent, 1u);
}

}  // namespace
}  // namespace tapstack::ip
