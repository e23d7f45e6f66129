// IPv6 header and extension header chain (RFC 8200): round trip, libtins in both directions, every truncation,
// the chain walker's refusals (length wrap, too many headers, RH0, unknown next header / options with their
// Parameter Problem pointers), and the address helpers (RFC 4291, RFC 2464).
#include "ip/ipv6.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <vector>

namespace tapstack::ip {
namespace {

const Ipv6Address kSrc = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kDst = *Ipv6Address::parse("2001:db8::2");
const Ipv6Address kMcast = *Ipv6Address::parse("ff02::1");

std::vector<std::byte> to_bytes(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}
Ipv6Repr sample_repr(std::uint16_t payload_len, std::uint8_t nh = std::uint8_t(IpProtocol::kUdp)) {
  Ipv6Repr r;
  r.src = kSrc;
  r.dst = kDst;
  r.next_header = nh;
  r.hop_limit = 17;
  r.traffic_class = 0xb8;
  r.flow_label = 0x12345;
  r.payload_len = payload_len;
  return r;
}

// A packet: fixed header with `first_nh`, then `rest` (extension headers and upper layer) as the payload.
std::vector<std::byte> packet(std::uint8_t first_nh, const std::vector<std::uint8_t>& rest,
                              const Ipv6Address& dst = kDst) {
  auto r = sample_repr(std::uint16_t(rest.size()), first_nh);
  r.dst = dst;
  std::vector<std::byte> b(kIpv6HeaderLen);
  r.emit(b);
  const auto tail = to_bytes(rest);
  b.insert(b.end(), tail.begin(), tail.end());
  return b;
}

constexpr std::uint8_t kUdp = 17, kTcp = 6, kIcmp6 = 58;
// 8 bytes of UDP header (ports 1000 -> 53, length 8, checksum 0: the walker does not look at it).
const std::vector<std::uint8_t> kUdpHdr{0x03, 0xe8, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00};

std::vector<std::uint8_t> cat(std::initializer_list<std::vector<std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Walked {
  std::optional<Ipv6Chain> chain;
  Ipv6ChainFailure why;
};
Walked walk(const std::vector<std::byte>& b, const Ipv6ChainOptions& o = {}) {
  auto v = Ipv6View::parse(b);
  EXPECT_TRUE(v);
  Walked w;
  if (v) w.chain = walk_ipv6_chain(*v, &w.why, o);
  return w;
}

// ---- header ----

TEST(Ipv6, EmitThenParse_RoundTrips) {
  for (std::uint16_t len : {0, 1, 8, 1452}) {
    const auto r = sample_repr(len);
    std::vector<std::byte> b(r.buffer_len());
    r.emit(b);
    auto v = Ipv6View::parse(b);
    ASSERT_TRUE(v) << r;
    EXPECT_EQ(Ipv6Repr::parse(*v), r);
    EXPECT_EQ(v->version(), 6);
    EXPECT_EQ(v->payload().size(), len);
  }
}

TEST(Ipv6, FlowLabelMaskedToTwentyBits) {
  auto r = sample_repr(0);
  r.flow_label = 0xfff12345;
  std::vector<std::byte> b(40);
  r.emit(b);
  EXPECT_EQ(Ipv6View::parse(b)->flow_label(), 0x12345u);
  EXPECT_EQ(Ipv6View::parse(b)->traffic_class(), 0xb8);
}

TEST(Ipv6, LibtinsParsesWhatWeEmit) {
  const auto b = packet(kUdp, kUdpHdr);
  Tins::IPv6 t(reinterpret_cast<const std::uint8_t*>(b.data()), std::uint32_t(b.size()));
  EXPECT_EQ(t.src_addr().to_string(), "2001:db8::1");
  EXPECT_EQ(t.dst_addr().to_string(), "2001:db8::2");
  EXPECT_EQ(t.hop_limit(), 17);
  EXPECT_EQ(t.traffic_class(), 0xb8);
  EXPECT_EQ(t.flow_label(), 0x12345u);
  EXPECT_EQ(t.payload_length(), 8);
  EXPECT_EQ(t.next_header(), kUdp);
}

TEST(Ipv6, WeParseWhatLibtinsSerializes_WithExtensionHeaders) {
  Tins::IPv6 ip("2001:db8::2", "2001:db8::1");
  ip.hop_limit(9);
  const std::uint8_t padn4[6] = {1, 4, 0, 0, 0, 0};
  ip.add_header(Tins::IPv6::ext_header(Tins::IPv6::HOP_BY_HOP, sizeof padn4, padn4));
  ip.add_header(Tins::IPv6::ext_header(Tins::IPv6::DESTINATION_ROUTING_OPTIONS, sizeof padn4, padn4));
  // Routing type 4 (SRH-like) with segments left 0: skipped (RFC 8200 §4.4).
  const std::uint8_t rh[6] = {4, 0, 0, 0, 0, 0};
  ip.add_header(Tins::IPv6::ext_header(Tins::IPv6::ROUTING, sizeof rh, rh));
  auto pdu = ip / Tins::UDP(53, 1000) / Tins::RawPDU("abcd");
  const auto raw = pdu.serialize();
  const std::vector<std::byte> b(reinterpret_cast<const std::byte*>(raw.data()),
                                 reinterpret_cast<const std::byte*>(raw.data() + raw.size()));
  auto v = Ipv6View::parse(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src(), kSrc);
  EXPECT_EQ(v->dst(), kDst);
  EXPECT_EQ(v->hop_limit(), 9);
  EXPECT_EQ(v->next_header(), kIpv6NextHopByHop);
  Ipv6ChainFailure why;
  auto c = walk_ipv6_chain(*v, &why);
  ASSERT_TRUE(c) << why.error;
  EXPECT_EQ(c->upper_layer, kUdp);
  EXPECT_EQ(c->upper_layer_offset, 40u + 24u);
  EXPECT_EQ(c->next_header_field, 40u + 16u);
  EXPECT_EQ(c->header_count, 3u);
  EXPECT_FALSE(c->fragment);
  EXPECT_FALSE(c->router_alert);
  EXPECT_EQ(b.size() - c->upper_layer_offset, 12u);
}

TEST(Ipv6, PaddingAfterPayloadIsTrimmed) {
  auto b = packet(kUdp, kUdpHdr);
  b.resize(b.size() + 10, std::byte{0xee});
  auto v = Ipv6View::parse(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), 48u);
  EXPECT_EQ(v->payload().size(), 8u);
}

TEST(Ipv6, EveryTruncationIsRefused) {
  const auto b = packet(kUdp, kUdpHdr);
  for (std::size_t n = 0; n < b.size(); ++n) {
    Ipv6Error e{};
    EXPECT_FALSE(Ipv6View::parse(Bytes{b}.first(n), &e)) << n;
    EXPECT_EQ(e, n < 40 ? Ipv6Error::kTruncated : Ipv6Error::kBadPayloadLen) << n;
  }
}

TEST(Ipv6, WrongVersionIsRefused) {
  auto b = packet(kUdp, kUdpHdr);
  for (std::uint8_t ver : {0, 4, 7, 15}) {
    b[0] = std::byte((ver << 4) | (std::uint8_t(b[0]) & 0x0f));
    Ipv6Error e{};
    EXPECT_FALSE(Ipv6View::parse(b, &e));
    EXPECT_EQ(e, Ipv6Error::kBadVersion);
  }
}

TEST(Ipv6, PayloadLengthZeroWithHopByHopIsAJumbogramAndRefused) {
  // RFC 2675: payload length 0 + Hop-by-Hop with a Jumbo option. We take no jumbograms.
  auto b = packet(kIpv6NextHopByHop, {kUdp, 0, 0xc2, 4, 0, 0, 0x01, 0x00});
  store_be16(b, ipv6_field::kPayloadLen, 0);
  Ipv6Error e{};
  EXPECT_FALSE(Ipv6View::parse(b, &e));
  EXPECT_EQ(e, Ipv6Error::kJumbogram);
  // Payload length 0 with No Next Header is an ordinary empty packet.
  const auto empty = packet(kIpv6NextNone, {});
  auto w = walk(empty);
  ASSERT_TRUE(w.chain);
  EXPECT_EQ(w.chain->upper_layer, kIpv6NextNone);
  EXPECT_EQ(w.chain->upper_layer_offset, 40u);
}

// ---- chain walker ----

TEST(Ipv6Chain, NoExtensionHeaders) {
  auto w = walk(packet(kTcp, std::vector<std::uint8_t>(20)));
  ASSERT_TRUE(w.chain);
  EXPECT_EQ(w.chain->upper_layer, kTcp);
  EXPECT_EQ(w.chain->upper_layer_offset, 40u);
  EXPECT_EQ(w.chain->next_header_field, 6u);
  EXPECT_EQ(w.chain->header_count, 0u);
}

TEST(Ipv6Chain, HopByHopRouterAlertIsReported) {
  // What an MLD report carries: Router Alert (value 0) + PadN.
  auto w = walk(packet(kIpv6NextHopByHop, cat({{kIcmp6, 0, 5, 2, 0, 0, 1, 0}, std::vector<std::uint8_t>(8)}), kMcast));
  ASSERT_TRUE(w.chain);
  EXPECT_EQ(w.chain->upper_layer, kIcmp6);
  EXPECT_EQ(w.chain->upper_layer_offset, 48u);
  ASSERT_TRUE(w.chain->router_alert);
  EXPECT_EQ(*w.chain->router_alert, kRouterAlertMld);
}

TEST(Ipv6Chain, Pad1AndPadNAreSkipped) {
  auto w = walk(packet(kIpv6NextDestOpts, cat({{kUdp, 0, 0, 0, 1, 1, 0, 0}, kUdpHdr})));
  ASSERT_TRUE(w.chain) << w.why.error;
  EXPECT_EQ(w.chain->upper_layer, kUdp);
}

TEST(Ipv6Chain, HopByHopNotFirstIsParamProblemCode1AtThePreviousNextHeader) {
  auto w = walk(packet(kIpv6NextDestOpts, cat({{kIpv6NextHopByHop, 0, 1, 4, 0, 0, 0, 0},
                                               {kUdp, 0, 1, 4, 0, 0, 0, 0}, kUdpHdr})));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kHopByHopNotFirst);
  ASSERT_TRUE(w.why.param_problem);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, 40}));
}

TEST(Ipv6Chain, UnknownNextHeaderIsParamProblemCode1WithPointer) {
  // Directly after the fixed header: pointer 6 (the header's Next Header field).
  auto w = walk(packet(200, std::vector<std::uint8_t>(8)));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kUnknownNextHeader);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, 6}));
  // After two Destination Options headers: pointer 48 (the second one's Next Header byte).
  w = walk(packet(kIpv6NextDestOpts, cat({{kIpv6NextDestOpts, 0, 1, 4, 0, 0, 0, 0}, {253, 0, 1, 4, 0, 0, 0, 0},
                                          std::vector<std::uint8_t>(8)})));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, 48}));
  // ESP (50) is not supported either.
  w = walk(packet(50, std::vector<std::uint8_t>(16)));
  EXPECT_EQ(w.why.error, Ipv6ChainError::kUnknownNextHeader);
}

TEST(Ipv6Chain, UnrecognizedNextHeaderHelperPointsAtTheLastNextHeaderField) {
  auto w = walk(packet(kIpv6NextDestOpts, cat({{kUdp, 0, 1, 4, 0, 0, 0, 0}, kUdpHdr})));
  ASSERT_TRUE(w.chain);
  EXPECT_EQ(w.chain->unrecognized_next_header(),
            (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, 40}));
}

TEST(Ipv6Chain, OverlongHeaderLengthIsTruncatedNotWrapped) {
  // Hdr Ext Len 255 = 2048 bytes in a 16-byte payload: CVE-2020-17442/17444 wrapped such sums.
  for (std::uint8_t nh : {kIpv6NextHopByHop, kIpv6NextDestOpts, kIpv6NextRouting}) {
    auto w = walk(packet(nh, cat({{kUdp, 255, 1, 4, 0, 0, 0, 0}, kUdpHdr})));
    ASSERT_FALSE(w.chain) << unsigned(nh);
    EXPECT_EQ(w.why.error, Ipv6ChainError::kTruncated);
    EXPECT_FALSE(w.why.param_problem);
  }
  // Length 1 (16 bytes) with only 8 present.
  auto w = walk(packet(kIpv6NextDestOpts, {kUdp, 1, 1, 4, 0, 0, 0, 0}));
  EXPECT_EQ(w.why.error, Ipv6ChainError::kTruncated);
}

TEST(Ipv6Chain, EveryTruncationOfAChainIsRefusedWithoutReadingPastIt) {
  const auto full = packet(kIpv6NextHopByHop, cat({{kIpv6NextDestOpts, 0, 5, 2, 0, 0, 1, 0},
                                                   {kIpv6NextFragment, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
                                                   {kUdp, 0, 0, 0, 0, 0, 0, 42}, kUdpHdr}));
  ASSERT_TRUE(walk(full).chain);
  for (std::size_t cut = 40; cut < full.size() - kUdpHdr.size(); ++cut) {
    std::vector<std::byte> b(full.begin(), full.begin() + std::ptrdiff_t(cut));
    store_be16(b, ipv6_field::kPayloadLen, std::uint16_t(cut - 40));
    Ipv6Error e{};
    auto v = Ipv6View::parse(b, &e);
    if (!v) {
      EXPECT_EQ(e, Ipv6Error::kJumbogram) << cut;  // payload length 0 with Hop-by-Hop
      continue;
    }
    Ipv6ChainFailure why;
    EXPECT_FALSE(walk_ipv6_chain(*v, &why)) << cut;
    EXPECT_EQ(why.error, Ipv6ChainError::kTruncated) << cut;
  }
}

TEST(Ipv6Chain, TooManyHeadersIsRefused) {
  std::vector<std::uint8_t> rest;
  for (int i = 0; i < 8; ++i) rest = cat({rest, {kIpv6NextDestOpts, 0, 1, 4, 0, 0, 0, 0}});
  rest = cat({rest, {kUdp, 0, 1, 4, 0, 0, 0, 0}, kUdpHdr});  // 9 Destination Options headers
  auto w = walk(packet(kIpv6NextDestOpts, rest));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kTooManyHeaders);
  Ipv6ChainOptions more;
  more.max_headers = 9;
  EXPECT_TRUE(walk(packet(kIpv6NextDestOpts, rest), more).chain);
}

TEST(Ipv6Chain, ChainLongerThanTheCapIsRefused) {
  // One 1248-byte Destination Options header (len 155) of PadN options: over the 1240-byte default cap.
  std::vector<std::uint8_t> h{kUdp, 155};
  while (h.size() < 1248) {
    const std::size_t room = std::min<std::size_t>(1248 - h.size() - 2, 255);
    h.push_back(1);
    h.push_back(std::uint8_t(room));
    h.resize(h.size() + room, 0);
  }
  auto w = walk(packet(kIpv6NextDestOpts, cat({h, kUdpHdr})));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kChainTooLong);
  Ipv6ChainOptions big;
  big.max_chain_len = 2048;
  EXPECT_TRUE(walk(packet(kIpv6NextDestOpts, cat({h, kUdpHdr})), big).chain);
}

TEST(Ipv6Chain, RoutingType0IsRefused) {
  // RFC 5095: with segments left > 0, Parameter Problem code 0 at the Routing Type field; with 0, silent.
  auto w = walk(packet(kIpv6NextRouting, cat({{kUdp, 0, 0, 1, 0, 0, 0, 0}, kUdpHdr})));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kRoutingType0);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, 42}));
  w = walk(packet(kIpv6NextRouting, cat({{kUdp, 0, 0, 0, 0, 0, 0, 0}, kUdpHdr})));
  EXPECT_EQ(w.why.error, Ipv6ChainError::kRoutingType0);
  EXPECT_FALSE(w.why.param_problem);
}

TEST(Ipv6Chain, OtherRoutingTypesSkippedOnlyWithSegmentsLeftZero) {
  auto w = walk(packet(kIpv6NextRouting, cat({{kUdp, 0, 4, 0, 0, 0, 0, 0}, kUdpHdr})));
  ASSERT_TRUE(w.chain);
  EXPECT_EQ(w.chain->upper_layer, kUdp);
  // After a Destination Options header: the Routing Type byte is at 48 + 2.
  w = walk(packet(kIpv6NextDestOpts, cat({{kIpv6NextRouting, 0, 1, 4, 0, 0, 0, 0}, {kUdp, 0, 2, 3, 0, 0, 0, 0},
                                          kUdpHdr})));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kRoutingHeader);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, 50}));
}

TEST(Ipv6Chain, OptionRunningPastItsHeaderIsRefused) {
  // PadN of length 5 in a header with 6 bytes of options (needs 7).
  auto w = walk(packet(kIpv6NextDestOpts, cat({{kUdp, 0, 1, 5, 0, 0, 0, 0}, kUdpHdr})));
  EXPECT_EQ(w.why.error, Ipv6ChainError::kBadOption);
  // A type byte with no room for its length byte.
  w = walk(packet(kIpv6NextDestOpts, cat({{kUdp, 0, 1, 3, 0, 0, 0, 0x01}, kUdpHdr})));
  EXPECT_EQ(w.why.error, Ipv6ChainError::kBadOption);
  // Router Alert with length 1.
  w = walk(packet(kIpv6NextHopByHop, cat({{kUdp, 0, 5, 1, 0, 1, 0, 0}, kUdpHdr})));
  EXPECT_EQ(w.why.error, Ipv6ChainError::kBadOption);
}

TEST(Ipv6Chain, JumboOptionIsRefusedWithParamProblemAtItsType) {
  auto w = walk(packet(kIpv6NextHopByHop, cat({{kUdp, 0, 0xc2, 4, 0, 1, 0, 0}, kUdpHdr})));
  ASSERT_FALSE(w.chain);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kJumboOption);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, 42}));
}

TEST(Ipv6Chain, UnknownOptionsActByTheirTopTwoBits) {
  auto with_opt = [&](std::uint8_t type, const Ipv6Address& dst) {
    return walk(packet(kIpv6NextDestOpts, cat({{kUdp, 0, 1, 0, type, 2, 0, 0}, kUdpHdr}), dst));
  };
  // 00: skipped.
  EXPECT_TRUE(with_opt(0x1e, kDst).chain);
  // 01: discarded, no ICMP.
  auto w = with_opt(0x5e, kDst);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kUnknownOption);
  EXPECT_FALSE(w.why.param_problem);
  // 10: discarded, Parameter Problem code 2 at the option type (offset 40 + 4), even to multicast.
  for (const auto& dst : {kDst, kMcast}) {
    w = with_opt(0x9e, dst);
    EXPECT_EQ(w.why.error, Ipv6ChainError::kUnknownOption);
    EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedOption, 44}));
  }
  // 11: the same to unicast, silent to multicast.
  w = with_opt(0xde, kDst);
  EXPECT_EQ(*w.why.param_problem, (Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedOption, 44}));
  w = with_opt(0xde, kMcast);
  EXPECT_EQ(w.why.error, Ipv6ChainError::kUnknownOption);
  EXPECT_FALSE(w.why.param_problem);
}

TEST(Ipv6Chain, FragmentHeaderFieldsAndStop) {
  // Offset 1448 (181 * 8), M = 1, id 0xdeadbeef: the walk stops after the Fragment header.
  const std::uint16_t off_m = std::uint16_t((181 << 3) | 1);
  auto w = walk(packet(kIpv6NextFragment, cat({{kUdp, 0, std::uint8_t(off_m >> 8), std::uint8_t(off_m), 0xde, 0xad, 0xbe, 0xef},
                                               std::vector<std::uint8_t>(16)})));
  ASSERT_TRUE(w.chain);
  ASSERT_TRUE(w.chain->fragment);
  const auto& f = *w.chain->fragment;
  EXPECT_EQ(f.offset, 1448);
  EXPECT_TRUE(f.more_fragments);
  EXPECT_EQ(f.ident, 0xdeadbeefu);
  EXPECT_EQ(f.next_header, kUdp);
  EXPECT_EQ(f.header_offset, 40u);
  EXPECT_EQ(f.next_header_field, 6u);
  EXPECT_FALSE(f.is_atomic());
  EXPECT_TRUE(w.chain->needs_reassembly());
  EXPECT_EQ(w.chain->upper_layer, kUdp);
  EXPECT_EQ(w.chain->upper_layer_offset, 48u);
}

TEST(Ipv6Chain, AtomicFragmentIsWalkedThrough) {
  // RFC 6946: offset 0, M = 0; the headers after it are walked like any packet's.
  auto w = walk(packet(kIpv6NextFragment, cat({{kIpv6NextDestOpts, 0, 0, 0, 0, 0, 0, 7}, {kUdp, 0, 1, 4, 0, 0, 0, 0},
                                               kUdpHdr})));
  ASSERT_TRUE(w.chain);
  ASSERT_TRUE(w.chain->fragment);
  EXPECT_TRUE(w.chain->fragment->is_atomic());
  EXPECT_EQ(w.chain->fragment->ident, 7u);
  EXPECT_FALSE(w.chain->needs_reassembly());
  EXPECT_EQ(w.chain->upper_layer, kUdp);
  EXPECT_EQ(w.chain->upper_layer_offset, 56u);
}

TEST(Ipv6Chain, ThroughFirstFragmentReachesTheUpperLayer) {
  const auto b = packet(kIpv6NextFragment, cat({{kIpv6NextDestOpts, 0, 0, 1, 0, 0, 0, 7}, {kUdp, 0, 1, 4, 0, 0, 0, 0},
                                                kUdpHdr}));
  Ipv6ChainOptions through;
  through.through_first_fragment = true;
  auto w = walk(b, through);
  ASSERT_TRUE(w.chain);
  EXPECT_EQ(w.chain->upper_layer, kUdp);
  EXPECT_EQ(w.chain->upper_layer_offset, 56u);
  EXPECT_TRUE(w.chain->needs_reassembly());
  // Without the option the walk stops at the Fragment header.
  w = walk(b);
  EXPECT_EQ(w.chain->upper_layer, kIpv6NextDestOpts);
  EXPECT_EQ(w.chain->upper_layer_offset, 48u);
}

// ---- addresses ----

TEST(Ipv6Address, SolicitedNodeMulticastAndItsMac) {
  const auto a = *Ipv6Address::parse("2001:db8::c000:54ff:fef5:1234");
  const auto sn = solicited_node_multicast(a);
  EXPECT_EQ(sn, *Ipv6Address::parse("ff02::1:fff5:1234"));
  EXPECT_TRUE(is_solicited_node_multicast(sn));
  EXPECT_FALSE(is_solicited_node_multicast(kIpv6AllNodes));
  EXPECT_EQ(ipv6_multicast_mac(sn), (MacAddress{{0x33, 0x33, 0xff, 0xf5, 0x12, 0x34}}));
  EXPECT_EQ(ipv6_multicast_mac(kIpv6AllMldv2Routers), (MacAddress{{0x33, 0x33, 0, 0, 0, 0x16}}));
}

TEST(Ipv6Address, LinkLocalFromMacUsesModifiedEui64) {
  // RFC 4291 App. A; the trace's router c2:00:54:f5:00:00 is fe80::c000:54ff:fef5:0.
  EXPECT_EQ(link_local_from_mac(MacAddress{{0xc2, 0x00, 0x54, 0xf5, 0x00, 0x00}}),
            *Ipv6Address::parse("fe80::c000:54ff:fef5:0"));
  EXPECT_EQ(link_local_from_mac(MacAddress{{0x00, 0x0c, 0x29, 0x0e, 0x4c, 0x67}}),
            *Ipv6Address::parse("fe80::20c:29ff:fe0e:4c67"));
  EXPECT_EQ(ipv6_with_interface_id(*Ipv6Address::parse("2001:db8:0:1::"),
                                   modified_eui64(MacAddress{{0xc2, 0x00, 0x54, 0xf5, 0x00, 0x00}})),
            *Ipv6Address::parse("2001:db8:0:1:c000:54ff:fef5:0"));
}

TEST(Ipv6Address, Scope) {
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("fe80::1")), Ipv6Scope::kLinkLocal);
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("::1")), Ipv6Scope::kLinkLocal);
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("2001:db8::1")), Ipv6Scope::kGlobal);
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("fec0::1")), Ipv6Scope::kSiteLocal);
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("ff01::1")), Ipv6Scope::kInterfaceLocal);
  EXPECT_EQ(ipv6_scope(kIpv6AllNodes), Ipv6Scope::kLinkLocal);
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("ff05::2")), Ipv6Scope::kSiteLocal);
  EXPECT_EQ(ipv6_scope(*Ipv6Address::parse("ff0e::101")), Ipv6Scope::kGlobal);
  EXPECT_EQ(kIpv6AllRouters, *Ipv6Address::parse("ff02::2"));
}

}  // namespace
}  // namespace tapstack::ip
