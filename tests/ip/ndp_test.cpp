// Neighbor Discovery (RFC 4861) and its options (RFC 4861 §4.6, RFC 8106), MLDv2 reports (RFC 3810): our
// RS/NS/NA/MLD output parsed by libtins, libtins-crafted RAs (SLLA, PIO, MTU, RDNSS) parsed by us, and the
// validation rules: hop limit 255, code 0, lengths, option length 0 / overrun / even RDNSS (CVE-2020-16898),
// DAD from ::.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <array>
#include <cstdint>
#include <vector>

#include "ip/icmpv6.hpp"
#include "ip/ndp_options.hpp"

namespace tapstack::ip {
namespace {

const Ipv6Address kLl = *Ipv6Address::parse("fe80::1");
const Ipv6Address kLl2 = *Ipv6Address::parse("fe80::2");
const Ipv6Address kGlobal = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kGlobal2 = *Ipv6Address::parse("2001:db8::2");
const MacAddress kMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};

std::vector<std::byte> from_u8(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}
PseudoHeader ph(const Ipv6Address& s, const Ipv6Address& d) { return PseudoHeader{s, d, 58, 0}; }

template <class R>
std::vector<std::byte> emitted(const R& r, const Ipv6Address& s, const Ipv6Address& d) {
  std::vector<std::byte> b(r.buffer_len());
  r.emit(b, ph(s, d));
  return b;
}

struct Parsed {
  std::vector<std::byte> wire;  // owns the message when the parse helper built it (repr borrows from it)
  std::optional<NdpRepr> repr;
  NdpError why{};
  NdpOptionError option_why{};
};
Parsed parse(Bytes icmp, const Ipv6Address& s, const Ipv6Address& d, std::uint8_t hop = 255, bool frag = false) {
  Parsed p;
  auto v = Icmpv6View::parse(icmp, ph(s, d));
  EXPECT_TRUE(v);
  if (v) p.repr = parse_ndp(*v, NdpContext{s, d, hop, frag}, &p.why, &p.option_why);
  return p;
}

// A message with `body` after the type/code/checksum, checksum fixed for s -> d.
std::vector<std::byte> message(std::uint8_t type, const std::vector<std::uint8_t>& body, const Ipv6Address& s,
                               const Ipv6Address& d, std::uint8_t code = 0) {
  std::vector<std::uint8_t> m{type, code, 0, 0};
  m.insert(m.end(), body.begin(), body.end());
  auto b = from_u8(m);
  store_be16(b, 2, icmpv6_checksum(b, s, d));
  return b;
}

// Serializes libtins' IPv6/ICMPv6 and returns the ICMPv6 part.
std::vector<std::byte> tins_icmp(Tins::IPv6 ip, const Tins::ICMPv6& icmp) {
  auto pdu = ip / icmp;
  const auto raw = pdu.serialize();
  return std::vector<std::byte>(reinterpret_cast<const std::byte*>(raw.data()) + 40,
                                reinterpret_cast<const std::byte*>(raw.data() + raw.size()));
}
Tins::ICMPv6 tins_parse(const std::vector<std::byte>& icmp) {
  return Tins::ICMPv6(reinterpret_cast<const std::uint8_t*>(icmp.data()), std::uint32_t(icmp.size()));
}

// ---- emit, checked by libtins, and round trip ----

TEST(Ndp, NeighborSolicitRoundTripAndLibtins) {
  const NeighborSolicitRepr ns{kGlobal2, kMac};
  const auto dst = solicited_node_multicast(kGlobal2);
  const auto b = emitted(ns, kGlobal, dst);
  ASSERT_EQ(b.size(), 32u);
  auto p = parse(b, kGlobal, dst);
  ASSERT_TRUE(p.repr) << p.why;
  EXPECT_EQ(std::get<NeighborSolicitRepr>(*p.repr), ns);
  const auto t = tins_parse(b);
  EXPECT_EQ(t.type(), Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  EXPECT_EQ(t.target_addr().to_string(), "2001:db8::2");
  EXPECT_EQ(t.source_link_layer_addr().to_string(), "02:00:00:00:00:01");
}

TEST(Ndp, DadNeighborSolicitFromUnspecified) {
  const auto tentative = *Ipv6Address::parse("fe80::c000:54ff:fef5:0");
  const auto ns = NeighborSolicitRepr::dad(tentative);
  const auto dst = solicited_node_multicast(tentative);
  const auto b = emitted(ns, Ipv6Address{}, dst);
  ASSERT_EQ(b.size(), 24u);  // no SLLA from :: (RFC 4861 §4.3)
  auto p = parse(b, Ipv6Address{}, dst);
  ASSERT_TRUE(p.repr) << p.why;
  EXPECT_EQ(std::get<NeighborSolicitRepr>(*p.repr), ns);
  EXPECT_EQ(tins_parse(b).target_addr().to_string(), "fe80::c000:54ff:fef5:0");
}

TEST(Ndp, NeighborAdvertRoundTripAndLibtins) {
  const NeighborAdvertRepr na{true, true, false, kGlobal, kMac};
  const auto b = emitted(na, kGlobal, kGlobal2);
  auto p = parse(b, kGlobal, kGlobal2);
  ASSERT_TRUE(p.repr) << p.why;
  EXPECT_EQ(std::get<NeighborAdvertRepr>(*p.repr), na);
  const auto t = tins_parse(b);
  EXPECT_EQ(t.type(), Tins::ICMPv6::NEIGHBOUR_ADVERT);
  EXPECT_EQ(t.router(), 1);
  EXPECT_EQ(t.solicited(), 1);
  EXPECT_EQ(t.override(), 0);
  EXPECT_EQ(t.target_link_layer_addr().to_string(), "02:00:00:00:00:01");
}

TEST(Ndp, RouterSolicitRoundTripAndLibtins) {
  for (const RouterSolicitRepr rs : {RouterSolicitRepr{kMac}, RouterSolicitRepr{}}) {
    const auto src = rs.source_link_addr ? kLl : Ipv6Address{};
    const auto b = emitted(rs, src, kIpv6AllRouters);
    auto p = parse(b, src, kIpv6AllRouters);
    ASSERT_TRUE(p.repr) << p.why;
    EXPECT_EQ(std::get<RouterSolicitRepr>(*p.repr), rs);
    EXPECT_EQ(tins_parse(b).type(), Tins::ICMPv6::ROUTER_SOLICIT);
  }
}

TEST(Ndp, WeParseLibtinsRouterAdvertWithOptions) {
  Tins::ICMPv6 ra(Tins::ICMPv6::ROUTER_ADVERT);
  ra.hop_limit(64);
  ra.managed(1);
  ra.router_lifetime(1800);
  ra.reachable_time(30000);
  ra.retransmit_timer(1000);
  ra.source_link_layer_addr(Tins::HWAddress<6>("02:00:00:00:00:01"));
  ra.mtu({0, 1500});
  ra.prefix_info(Tins::ICMPv6::prefix_info_type(64, 1, 1, 2592000, 604800, "2001:db8:0:1::"));
  ra.recursive_dns_servers(Tins::ICMPv6::recursive_dns_type(300, {"2001:db8::53", "2001:db8::54"}));
  Tins::IPv6 ip("ff02::1", "fe80::1");
  ip.hop_limit(255);
  const auto b = tins_icmp(ip, ra);
  auto p = parse(b, kLl, kIpv6AllNodes);
  ASSERT_TRUE(p.repr) << p.why << ' ' << p.option_why;
  const auto& r = std::get<RouterAdvertRepr>(*p.repr);
  EXPECT_EQ(r.cur_hop_limit, 64);
  EXPECT_TRUE(r.managed);
  EXPECT_FALSE(r.other);
  EXPECT_EQ(r.router_lifetime, 1800);
  EXPECT_EQ(r.reachable_time, 30000u);
  EXPECT_EQ(r.retrans_timer, 1000u);
  EXPECT_EQ(r.options.source_link_addr, kMac);
  EXPECT_EQ(r.options.mtu, 1500u);
  EXPECT_EQ(r.options.prefix_count, 1u);
  EXPECT_EQ(r.options.rdnss_count, 1u);
  std::vector<PrefixInfo> prefixes;
  r.options.for_each_prefix([&](const PrefixInfo& pi) { prefixes.push_back(pi); });
  ASSERT_EQ(prefixes.size(), 1u);
  EXPECT_EQ(prefixes[0], (PrefixInfo{64, true, true, 2592000, 604800, *Ipv6Address::parse("2001:db8:0:1::")}));
  std::vector<Ipv6Address> dns;
  std::uint32_t lifetime = 0;
  r.options.for_each_rdnss([&](const RdnssInfo& ri) {
    lifetime = ri.lifetime;
    for (std::size_t i = 0; i < ri.count(); ++i) dns.push_back(ri.address(i));
  });
  EXPECT_EQ(lifetime, 300u);
  EXPECT_EQ(dns, (std::vector<Ipv6Address>{*Ipv6Address::parse("2001:db8::53"), *Ipv6Address::parse("2001:db8::54")}));
  // Emit reproduces the bytes.
  EXPECT_EQ(emitted(r, kLl, kIpv6AllNodes), b);
}

TEST(Ndp, OurOptionEmittersMatchLibtins) {
  std::vector<std::byte> opts(8 + 32 + 8 + 40);
  std::size_t n = emit_ndp_link_addr(opts, NdpOptionType::kSourceLinkAddr, kMac);
  n += emit_ndp_prefix_info(MutableBytes{opts}.subspan(n),
                            PrefixInfo{48, true, false, 100, 50, *Ipv6Address::parse("2001:db8:1::")});
  n += emit_ndp_mtu(MutableBytes{opts}.subspan(n), 1280);
  const std::array<Ipv6Address, 2> servers{*Ipv6Address::parse("2001:db8::53"), *Ipv6Address::parse("2001:db8::54")};
  n += emit_ndp_rdnss(MutableBytes{opts}.subspan(n), 600, servers);
  ASSERT_EQ(n, opts.size());
  RouterAdvertRepr ra;
  ra.cur_hop_limit = 1;
  ra.options = *NdpOptions::parse(opts);
  const auto b = emitted(ra, kLl, kIpv6AllNodes);
  const auto t = tins_parse(b);
  EXPECT_EQ(t.source_link_layer_addr().to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(t.mtu().second, 1280u);
  const auto pi = t.prefix_info();
  EXPECT_EQ(pi.prefix_len, 48);
  EXPECT_EQ(int(pi.L), 1);
  EXPECT_EQ(int(pi.A), 0);
  EXPECT_EQ(pi.valid_lifetime, 100u);
  EXPECT_EQ(pi.preferred_lifetime, 50u);
  EXPECT_EQ(pi.prefix.to_string(), "2001:db8:1::");
  const auto rd = t.recursive_dns_servers();
  EXPECT_EQ(rd.lifetime, 600u);
  ASSERT_EQ(rd.servers.size(), 2u);
  EXPECT_EQ(rd.servers[1].to_string(), "2001:db8::54");
}

TEST(Ndp, RedirectIsParsed) {
  // Target fe80::2 (the better first hop), destination 2001:db8::2, TLLA, Redirected Header with 8 bytes.
  std::vector<std::uint8_t> body{0, 0, 0, 0};
  const auto t = kLl2.octets, d = kGlobal2.octets;
  body.insert(body.end(), t.begin(), t.end());
  body.insert(body.end(), d.begin(), d.end());
  body.insert(body.end(), {2, 1, 0x02, 0, 0, 0, 0, 2});
  body.insert(body.end(), {4, 2, 0, 0, 0, 0, 0, 0, 0x60, 0, 0, 0, 0, 0, 17, 64});
  const auto b = message(137, body, kLl, kGlobal);
  auto p = parse(b, kLl, kGlobal);
  ASSERT_TRUE(p.repr) << p.why;
  const auto& r = std::get<RedirectRepr>(*p.repr);
  EXPECT_EQ(r.target, kLl2);
  EXPECT_EQ(r.destination, kGlobal2);
  EXPECT_EQ(r.target_link_addr, (MacAddress{{0x02, 0, 0, 0, 0, 0x02}}));
  ASSERT_EQ(r.redirected_header.size(), 8u);
  EXPECT_EQ(std::uint8_t(r.redirected_header[0]), 0x60);
  // From a global source, or with a target neither link-local nor the destination: refused.
  EXPECT_EQ(parse(message(137, body, kGlobal2, kGlobal), kGlobal2, kGlobal).why, NdpError::kSourceNotLinkLocal);
  auto bad = body;
  bad[4] = 0x20;  // target 2001:db8::... != destination
  bad[5] = 0x01;
  EXPECT_EQ(parse(message(137, bad, kLl, kGlobal), kLl, kGlobal).why, NdpError::kBadRedirectTarget);
  // Too short for target + destination.
  EXPECT_EQ(parse(message(137, std::vector<std::uint8_t>(32), kLl, kGlobal), kLl, kGlobal).why, NdpError::kTruncated);
}

// ---- validation ----

TEST(Ndp, HopLimitMustBe255) {
  const auto b = emitted(NeighborAdvertRepr{false, true, true, kGlobal, kMac}, kGlobal, kGlobal2);
  for (std::uint8_t hop : {0, 1, 64, 254}) {
    auto p = parse(b, kGlobal, kGlobal2, hop);
    EXPECT_FALSE(p.repr) << unsigned(hop);
    EXPECT_EQ(p.why, NdpError::kBadHopLimit);
  }
}

TEST(Ndp, CodeMustBeZeroAndFragmentsAreRefused) {
  auto b = message(135, std::vector<std::uint8_t>(20, 0), kGlobal, kGlobal2, 1);
  EXPECT_EQ(parse(b, kGlobal, kGlobal2).why, NdpError::kBadCode);
  const auto ns = emitted(NeighborSolicitRepr{kGlobal2, kMac}, kGlobal, kGlobal2);
  EXPECT_EQ(parse(ns, kGlobal, kGlobal2, 255, true).why, NdpError::kFragmented);  // RFC 6980
}

TEST(Ndp, MessagesShorterThanTheirFixedPartAreRefused) {
  const std::vector<std::pair<std::uint8_t, std::size_t>> mins{{133, 8}, {134, 16}, {135, 24}, {136, 24}, {137, 40}};
  for (const auto& [type, min] : mins) {
    for (std::size_t len = 8; len < min; len += 4) {
      const auto b = message(type, std::vector<std::uint8_t>(len - 4, 0), kLl, kIpv6AllNodes);
      auto p = parse(b, kLl, kIpv6AllNodes);
      EXPECT_EQ(p.why, NdpError::kTruncated) << unsigned(type) << ' ' << len;
    }
  }
}

TEST(Ndp, NotNdpTypesAreRefused) {
  const auto b = message(128, {0, 0, 0, 0}, kLl, kLl2);
  EXPECT_EQ(parse(b, kLl, kLl2).why, NdpError::kNotNdp);
}

TEST(Ndp, MulticastTargetIsRefused) {
  EXPECT_EQ(parse(emitted(NeighborSolicitRepr{kIpv6AllNodes, kMac}, kGlobal, kGlobal2), kGlobal, kGlobal2).why,
            NdpError::kMulticastTarget);
  EXPECT_EQ(parse(emitted(NeighborAdvertRepr{false, false, true, kIpv6AllNodes, {}}, kGlobal, kGlobal2), kGlobal,
                  kGlobal2)
                .why,
            NdpError::kMulticastTarget);
}

TEST(Ndp, NeighborSolicitFromUnspecifiedRules) {
  // With an SLLA: refused (RFC 4861 §7.1.1).
  const auto sn = solicited_node_multicast(kGlobal2);
  const auto with_slla = emitted(NeighborSolicitRepr{kGlobal2, kMac}, Ipv6Address{}, sn);
  EXPECT_EQ(parse(with_slla, Ipv6Address{}, sn).why, NdpError::kUnspecifiedWithSlla);
  // Not to a solicited-node multicast address: refused.
  const auto to_unicast = emitted(NeighborSolicitRepr::dad(kGlobal2), Ipv6Address{}, kGlobal2);
  EXPECT_EQ(parse(to_unicast, Ipv6Address{}, kGlobal2).why, NdpError::kDadBadDestination);
  // RS from :: with an SLLA: refused (§6.1.1).
  const auto rs = emitted(RouterSolicitRepr{kMac}, Ipv6Address{}, kIpv6AllRouters);
  EXPECT_EQ(parse(rs, Ipv6Address{}, kIpv6AllRouters).why, NdpError::kUnspecifiedWithSlla);
}

TEST(Ndp, SolicitedAdvertToMulticastIsRefused) {
  const auto b = emitted(NeighborAdvertRepr{false, true, true, kGlobal, kMac}, kGlobal, kIpv6AllNodes);
  EXPECT_EQ(parse(b, kGlobal, kIpv6AllNodes).why, NdpError::kSolicitedToMulticast);
  const auto unsolicited = emitted(NeighborAdvertRepr{false, false, true, kGlobal, kMac}, kGlobal, kIpv6AllNodes);
  EXPECT_TRUE(parse(unsolicited, kGlobal, kIpv6AllNodes).repr);
}

TEST(Ndp, RouterAdvertMustComeFromLinkLocal) {
  RouterAdvertRepr ra;
  const auto b = emitted(ra, kGlobal, kIpv6AllNodes);
  EXPECT_EQ(parse(b, kGlobal, kIpv6AllNodes).why, NdpError::kSourceNotLinkLocal);
  EXPECT_EQ(parse(emitted(ra, Ipv6Address{}, kIpv6AllNodes), Ipv6Address{}, kIpv6AllNodes).why,
            NdpError::kSourceNotLinkLocal);
  EXPECT_TRUE(parse(emitted(ra, kLl, kIpv6AllNodes), kLl, kIpv6AllNodes).repr);
}

// An RA (fixed part all zero) followed by `opts`.
Parsed ra_with(const std::vector<std::uint8_t>& opts) {
  std::vector<std::uint8_t> body(12, 0);
  body.insert(body.end(), opts.begin(), opts.end());
  auto msg = message(134, body, kLl, kIpv6AllNodes);
  Parsed p = parse(msg, kLl, kIpv6AllNodes);
  p.wire = std::move(msg);  // a moved vector keeps its buffer: the repr's spans stay valid
  return p;
}

TEST(NdpOptions, ZeroLengthOptionDiscardsTheMessage) {
  auto p = ra_with({1, 1, 2, 0, 0, 0, 0, 1, 99, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(p.repr);
  EXPECT_EQ(p.why, NdpError::kBadOptions);
  EXPECT_EQ(p.option_why, NdpOptionError::kZeroLength);
}

TEST(NdpOptions, OverlongOptionDiscardsTheMessage) {
  auto p = ra_with({5, 2, 0, 0, 0, 0, 5, 0xdc});  // 16 bytes claimed, 8 present
  EXPECT_EQ(p.option_why, NdpOptionError::kOverrun);
  p = ra_with({5, 255, 0, 0, 0, 0, 5, 0xdc});
  EXPECT_EQ(p.option_why, NdpOptionError::kOverrun);
  // Trailing bytes too short for an option header.
  p = ra_with({5, 1, 0, 0, 0, 0, 5, 0xdc, 1, 1, 2, 0, 0, 0});  // 6 bytes left: type 1 length 1 runs past
  EXPECT_EQ(p.option_why, NdpOptionError::kOverrun);
  EXPECT_EQ(ndp_options_error(from_u8({5})), NdpOptionError::kTruncated);
}

TEST(NdpOptions, RdnssEvenLengthIsRefused_Cve2020_16898) {
  // Length 4 (32 bytes): lifetime + 24 bytes, i.e. one address and 8 bytes Windows read as the next option.
  std::vector<std::uint8_t> rdnss{25, 4, 0, 0, 0, 0, 0, 60};
  rdnss.resize(32, 0);
  rdnss[24] = 1;  // what would have looked like an option header inside the "address"
  rdnss[25] = 1;
  auto p = ra_with(rdnss);
  EXPECT_EQ(p.why, NdpError::kBadOptions);
  EXPECT_EQ(p.option_why, NdpOptionError::kBadRdnss);
  // Length 1 (no address) and 2 are refused too; 3 and 5 accepted.
  EXPECT_EQ(ra_with({25, 1, 0, 0, 0, 0, 0, 60}).option_why, NdpOptionError::kBadRdnss);
  for (std::uint8_t units : {3, 5}) {
    std::vector<std::uint8_t> ok{25, units, 0, 0, 0, 0, 0, 60};
    ok.resize(units * 8, 0x11);
    auto q = ra_with(ok);
    ASSERT_TRUE(q.repr) << unsigned(units);
    std::size_t n = 0;
    std::get<RouterAdvertRepr>(*q.repr).options.for_each_rdnss([&](const RdnssInfo& r) { n += r.count(); });
    EXPECT_EQ(n, (units - 1u) / 2u);
  }
}

TEST(NdpOptions, KnownOptionsWithWrongLengthsAreRefused) {
  EXPECT_EQ(ra_with({1, 2, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}).option_why, NdpOptionError::kBadLinkAddr);
  EXPECT_EQ(ra_with({5, 2, 0, 0, 0, 0, 5, 0xdc, 0, 0, 0, 0, 0, 0, 0, 0}).option_why, NdpOptionError::kBadMtu);
  std::vector<std::uint8_t> pio3{3, 3, 64, 0xc0};
  pio3.resize(24, 0);
  EXPECT_EQ(ra_with(pio3).option_why, NdpOptionError::kBadPrefixInfo);
  std::vector<std::uint8_t> pio129{3, 4, 129, 0xc0};
  pio129.resize(32, 0);
  EXPECT_EQ(ra_with(pio129).option_why, NdpOptionError::kBadPrefixInfo);
}

TEST(NdpOptions, UnknownAndDnsslOptionsAreSkipped) {
  // Advertisement Interval (7), DNSSL (31) of 16 bytes, an unknown 200, then MTU.
  auto p = ra_with({7, 1, 0, 0, 0, 0, 0x13, 0x88, 31, 2, 0, 0, 0, 0, 0, 5, 3, 'c', 'o', 'm', 0, 0, 0, 0,
                    200, 1, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 5, 0xdc});
  ASSERT_TRUE(p.repr) << p.option_why;
  const auto& o = std::get<RouterAdvertRepr>(*p.repr).options;
  EXPECT_EQ(o.mtu, 1500u);
  EXPECT_EQ(o.dnssl_count, 1u);
  EXPECT_EQ(o.unknown_count, 2u);
  EXPECT_EQ(o.prefix_count, 0u);
}

TEST(NdpOptions, IteratorWalksEveryOptionAndStopsAtABadOne) {
  const auto good = from_u8({1, 1, 2, 0, 0, 0, 0, 1, 5, 1, 0, 0, 0, 0, 5, 0xdc});
  NdpOptionIterator it{good};
  auto a = it.next();
  auto b = it.next();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->type, 1);
  EXPECT_EQ(ndp_link_addr(*a), kMac);
  EXPECT_EQ(ndp_mtu(*b), 1500u);
  EXPECT_FALSE(it.next());
  const auto bad = from_u8({5, 1, 0, 0, 0, 0, 5, 0xdc, 1, 0, 0, 0});
  NdpOptionIterator it2{bad};
  EXPECT_TRUE(it2.next());
  EXPECT_FALSE(it2.next());  // length 0: the walk stops instead of looping
  EXPECT_FALSE(it2.next());
}

// ---- MLDv2 ----

TEST(Mldv2, ReportPacketMatchesTheTraceBytes) {
  // ipv6_ndp_dad_na_ra_mld.pcap frame 5: fe80::c000:54ff:fef5:0 joins ff02::1:fff5:0 (CHANGE_TO_EXCLUDE, no
  // sources), with the router's traffic class 0xe0.
  const auto src = *Ipv6Address::parse("fe80::c000:54ff:fef5:0");
  const std::array<MldRecord, 1> records{MldRecord::join(solicited_node_multicast(src))};
  std::vector<std::byte> out(mldv2_report_packet_len(1));
  ASSERT_EQ(emit_mldv2_report_packet(out, src, records, 0xe0), 76u);
  const auto expect = from_u8({0x6e, 0x00, 0x00, 0x00, 0x00, 0x24, 0x00, 0x01, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xc0,
                               0x00, 0x54, 0xff, 0xfe, 0xf5, 0x00, 0x00, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               0, 0x00, 0x16, 0x3a, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00, 0x8f, 0x00, 0x5c, 0x1e,
                               0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               0x01, 0xff, 0xf5, 0x00, 0x00});
  EXPECT_EQ(out, expect);
  EXPECT_EQ(emit_mldv2_report_packet(MutableBytes{out}.first(75), src, records), 0u);
}

// The ICMPv6 message of an MLD packet we emitted, after checking that it is sent as MLD is (RFC 3810 §5, RFC 2710
// §3): from `src` to `dst`, hop limit 1, a Hop-by-Hop header with Router Alert 0, the checksum right.
std::optional<Icmpv6View> mld_message_of(Bytes packet, const Ipv6Address& src, const Ipv6Address& dst) {
  const auto ip = Ipv6View::parse(packet);
  if (!ip) {
    ADD_FAILURE() << "not an IPv6 packet";
    return std::nullopt;
  }
  EXPECT_EQ(ip->hop_limit(), 1);
  EXPECT_EQ(ip->src(), src);
  EXPECT_EQ(ip->dst(), dst);
  const auto chain = walk_ipv6_chain(*ip);
  if (!chain) {
    ADD_FAILURE() << "bad extension header chain";
    return std::nullopt;
  }
  EXPECT_EQ(chain->upper_layer, 58);
  EXPECT_EQ(chain->router_alert, kRouterAlertMld);
  auto v = Icmpv6View::parse(ip->bytes().subspan(chain->upper_layer_offset), ph(src, dst));
  EXPECT_TRUE(v) << "checksum";
  return v;
}

TEST(Mldv2, ReportParsesBackAndLibtinsAgrees) {
  const auto src = *Ipv6Address::parse("fe80::1");
  const std::array<MldRecord, 2> records{MldRecord::join(*Ipv6Address::parse("ff02::1:ff00:1")),
                                         MldRecord::leave(*Ipv6Address::parse("ff02::1:ff00:2"))};
  std::vector<std::byte> out(mldv2_report_packet_len(2));
  ASSERT_EQ(emit_mldv2_report_packet(out, src, records), out.size());
  const auto v = mld_message_of(out, src, kIpv6AllMldv2Routers);
  ASSERT_TRUE(v);
  auto rep = Mldv2Report::parse(*v);
  ASSERT_TRUE(rep);
  std::vector<MldRecord> got;
  rep->for_each_record([&](const MldRecordView& r) {
    EXPECT_EQ(r.source_count, 0);
    got.push_back({r.type, r.group});
  });
  EXPECT_EQ(got, std::vector<MldRecord>(records.begin(), records.end()));

  Tins::IPv6 t(reinterpret_cast<const std::uint8_t*>(out.data()), std::uint32_t(out.size()));
  const auto& ti = t.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(ti.type(), Tins::ICMPv6::MLD2_REPORT);
  ASSERT_EQ(ti.multicast_address_records().size(), 2u);
  EXPECT_EQ(ti.multicast_address_records()[0].type, 4);
  EXPECT_EQ(ti.multicast_address_records()[1].multicast_address.to_string(), "ff02::1:ff00:2");
}

TEST(Mldv2, ReportWithRecordsPastTheMessageIsRefused) {
  auto b = message(143, {0, 0, 0, 2, 4, 0, 0, 0, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, kLl, kIpv6AllMldv2Routers);
  auto v = Icmpv6View::parse(b, ph(kLl, kIpv6AllMldv2Routers));
  ASSERT_TRUE(v);
  EXPECT_FALSE(Mldv2Report::parse(*v));  // claims 2 records, holds 1
  store_be16(b, 6, 1);
  store_be16(b, 10, 3);  // 1 record with 3 sources it does not hold
  v = Icmpv6View::parse(b, ph(kLl, kIpv6AllMldv2Routers), nullptr, ChecksumCheck::kSkip);
  EXPECT_FALSE(Mldv2Report::parse(*v));
  store_be16(b, 10, 0);
  EXPECT_TRUE(Mldv2Report::parse(*v));
}

TEST(Mldv1, ReportAndDonePacketsParseBackAndLibtinsAgrees) {
  const auto src = *Ipv6Address::parse("fe80::1");
  const auto group = *Ipv6Address::parse("ff02::1:ff00:abcd");
  for (const Icmpv6Type type : {Icmpv6Type::kMldv1Report, Icmpv6Type::kMldv1Done}) {
    std::vector<std::byte> out(kMldv1PacketLen);
    ASSERT_EQ(emit_mldv1_packet(out, src, type, group), 72u);
    const Ipv6Address dst = type == Icmpv6Type::kMldv1Report ? group : kIpv6AllRouters;  // RFC 2710 §5
    const auto v = mld_message_of(out, src, dst);
    ASSERT_TRUE(v);
    const Bytes icmp = v->bytes();
    ASSERT_EQ(icmp.size(), kMldv1MessageLen);
    auto m = Mldv1Message::parse(*v);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->type, type);
    EXPECT_EQ(m->group, group);
    EXPECT_EQ(load_be16(icmp, 4), 0);  // Maximum Response Delay
    EXPECT_EQ(load_be16(icmp, 6), 0);  // reserved

    Tins::IPv6 t(reinterpret_cast<const std::uint8_t*>(out.data()), std::uint32_t(out.size()));
    const auto& ti = t.rfind_pdu<Tins::ICMPv6>();
    EXPECT_EQ(int(ti.type()), int(type));
    // libtins reads the address field only in queries; here it is the payload after the 8-byte header.
    const auto* raw = ti.find_pdu<Tins::RawPDU>();
    ASSERT_NE(raw, nullptr);
    ASSERT_EQ(raw->payload().size(), 16u);
    EXPECT_EQ(Tins::IPv6Address(raw->payload().data()).to_string(), "ff02::1:ff00:abcd");
  }
  std::vector<std::byte> out(kMldv1PacketLen);
  EXPECT_EQ(emit_mldv1_packet(MutableBytes{out}.first(kMldv1PacketLen - 1), src, Icmpv6Type::kMldv1Report, group), 0u);
  EXPECT_EQ(emit_mldv1_packet(out, src, Icmpv6Type::kMldv2Report, group), 0u);  // neither a Report nor a Done
}

TEST(Mldv1, MessageParse_24BytesOrMore_TheRestIgnored) {
  const std::vector<std::uint8_t> body{0, 0, 0, 0, 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2};
  auto b = message(131, body, kLl, kIpv6AllNodes);
  auto v = Icmpv6View::parse(b, ph(kLl, kIpv6AllNodes));
  ASSERT_TRUE(v);
  auto m = Mldv1Message::parse(*v);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->group, *Ipv6Address::parse("ff02::1:ff00:2"));
  // RFC 2710 §3.7: a longer message is read by its first 24 bytes.
  auto body_long = body;
  body_long.insert(body_long.end(), {1, 2, 3, 4});
  b = message(132, body_long, kLl, kIpv6AllNodes);
  v = Icmpv6View::parse(b, ph(kLl, kIpv6AllNodes));
  ASSERT_TRUE(v);
  m = Mldv1Message::parse(*v);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, Icmpv6Type::kMldv1Done);
  EXPECT_EQ(m->group, *Ipv6Address::parse("ff02::1:ff00:2"));
  // Shorter than 24 bytes, or another type: refused.
  b = message(131, std::vector<std::uint8_t>(body.begin(), body.end() - 1), kLl, kIpv6AllNodes);
  v = Icmpv6View::parse(b, ph(kLl, kIpv6AllNodes));
  ASSERT_TRUE(v);
  EXPECT_FALSE(Mldv1Message::parse(*v));
  b = message(143, body, kLl, kIpv6AllNodes);
  v = Icmpv6View::parse(b, ph(kLl, kIpv6AllNodes));
  ASSERT_TRUE(v);
  EXPECT_FALSE(Mldv1Message::parse(*v));
}

}  // namespace
}  // namespace tapstack::ip
