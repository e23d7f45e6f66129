// ip::Interface's IPv6 half (ip::Ipv6Engine) over a MemoryLink pair: DAD with MLDv2 joins, NS/NA, neighbour
// resolution, router discovery with SLAAC/MTU/RDNSS, ICMPv6 echo (fragmented both ways), errors and path MTU.
// libtins crafts what the peer sends and parses what the stack emits; byte offsets check what it does not
// parse. Time is a hand-moved Instant; SeededRng. Addresses: 2001:db8::/32 and fe80::/10 only.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ip/icmpv6.hpp"
#include "ip/interface.hpp"
#include "ip/slaac.hpp"
#include "stack/memory_link.hpp"

namespace tapstack::ip {
namespace {

using Frame = std::vector<std::uint8_t>;

constexpr MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
const std::string kOurMacS = "02:00:00:00:00:02", kPeerMacS = "02:00:00:00:00:01", kRouterMacS = "02:00:00:00:00:fe";
const Ipv6Address kOurLl = *Ipv6Address::parse("fe80::ff:fe00:2");  // modified EUI-64 of 02:00:00:00:00:02
const Ipv6Address kOurGlobal = *Ipv6Address::parse("2001:db8::2");
const Ipv6Address kPeer = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kRemote = *Ipv6Address::parse("2001:db8:99::7");
const Ipv6Address kSlaac = *Ipv6Address::parse("2001:db8:1::ff:fe00:2");
const std::string kOurLlS = "fe80::ff:fe00:2", kOurGlobalS = "2001:db8::2", kPeerS = "2001:db8::1",
                  kPeerLlS = "fe80::1", kRouterLlS = "fe80::fe", kSolicitedOursS = "ff02::1:ff00:2";

Bytes bytes_of(const Frame& f) { return {reinterpret_cast<const std::byte*>(f.data()), f.size()}; }
std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::uint8_t(i * 7 + 3);
  return v;
}

class FakeTransport final : public TransportHandler {
 public:
  struct Rx {
    IpPacketInfo info;
    std::vector<std::uint8_t> payload;
  };
  struct Err {
    IcmpErrorInfo info;
    std::vector<std::uint8_t> quoted;
  };
  Verdict verdict = Verdict::kAccepted;
  std::vector<Rx> packets;
  std::vector<Err> errors;
  Verdict on_packet(Instant, const IpPacketInfo& ip, Bytes payload) noexcept override {
    const auto* p = reinterpret_cast<const std::uint8_t*>(payload.data());
    packets.push_back({ip, {p, p + payload.size()}});
    return verdict;
  }
  void on_icmp_error(Instant, const IcmpErrorInfo& info, Bytes quoted) noexcept override {
    const auto* p = reinterpret_cast<const std::uint8_t*>(quoted.data());
    errors.push_back({info, {p, p + quoted.size()}});
  }
  void poll(Instant, IpSender&) noexcept override {}
  std::optional<Instant> poll_at() const noexcept override { return std::nullopt; }
};

// No IPv4, a static 2001:db8::2/64, no RS, DAD without the random start delay.
InterfaceConfig config6() {
  InterfaceConfig c;
  c.mac = kOurMac;
  c.ipv6 = true;
  c.ipv6_addresses = {Ipv6Cidr{kOurGlobal, 64}};
  c.router_solicitations = 0;
  c.max_dad_delay = Duration{0};
  return c;
}

// What one emitted frame holds, read by libtins (addresses, hop limit, next header) and by offset.
struct Out {
  Frame raw;
  std::string eth_dst, src, dst;
  std::uint8_t hop_limit = 0, next_header = 0;
  std::vector<std::uint8_t> payload;  // after the 40-byte IPv6 header
  std::uint8_t icmp_type() const { return payload.at(0); }
};
Out parse_out(const Frame& f) {
  Out o;
  o.raw = f;
  Tins::EthernetII eth(f.data(), std::uint32_t(f.size()));
  EXPECT_EQ(eth.payload_type(), 0x86dd);
  const auto& ip = eth.rfind_pdu<Tins::IPv6>();
  o.eth_dst = eth.dst_addr().to_string();
  o.src = ip.src_addr().to_string();
  o.dst = ip.dst_addr().to_string();
  o.hop_limit = ip.hop_limit();
  o.next_header = f.at(14 + 6);
  o.payload.assign(f.begin() + 14 + 40, f.end());
  return o;
}

struct Harness6 {
  std::unique_ptr<MemoryLink> link, peer;
  SeededRng rng{11};
  FakeTransport udp;
  std::unique_ptr<Interface> iface;
  Instant now = Instant::from_millis(1000);

  explicit Harness6(InterfaceConfig cfg = config6(), std::size_t mtu = 1500) {
    auto [a, b] = MemoryLink::pair({.mtu = mtu});
    link = std::move(a);
    peer = std::move(b);
    iface = std::make_unique<Interface>(*link, cfg, rng);
    iface->register_transport(IpProtocol::kUdp, udp);
  }
  const Ipv6Counters& c() const { return iface->ipv6_counters(); }
  void inject_raw(const Frame& f) {
    peer->transmit(now, bytes_of(f));
    iface->poll(now);
  }
  void inject(Tins::PDU& pdu) { inject_raw(pdu.serialize()); }
  void inject(Tins::PDU&& pdu) { inject_raw(pdu.serialize()); }
  std::vector<Frame> sent_raw() {
    std::vector<Frame> out;
    std::vector<std::byte> buf(kMaxFrameSize);
    while (auto n = peer->receive(now, MutableBytes{buf})) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(buf.data());
      out.emplace_back(p, p + *n);
    }
    return out;
  }
  std::vector<Out> sent() {
    std::vector<Out> out;
    for (const auto& f : sent_raw()) out.push_back(parse_out(f));
    return out;
  }
  void advance(Duration d) {
    now += d;
    iface->poll(now);
  }
  // Runs DAD to completion for the configured addresses and forgets what was sent.
  void up() {
    iface->poll(now);
    advance(seconds(1));
    ASSERT_EQ(iface->address_state(kOurLl), AddressState::kPreferred);
    sent_raw();
  }
  // The peer (2001:db8::1) solicits our address with its link-layer address: we learn it and answer.
  void learn_peer() {
    inject(ns_from(kPeerS, kSolicitedOursS, kOurGlobalS, kPeerMacS));
    ASSERT_EQ(sent().size(), 1u);
  }
  SendResult send_udp(const Ipv6Address& dst, const std::vector<std::uint8_t>& payload) {
    IpSendParams p;
    p.dst = dst;
    p.protocol = 17;
    return iface->send(now, p, payload.size(), [&](MutableBytes out, const PseudoHeader& ph) {
      EXPECT_EQ(ph.length, payload.size());
      EXPECT_TRUE(ph.src.is_v6());
      std::copy(payload.begin(), payload.end(), reinterpret_cast<std::uint8_t*>(out.data()));
    });
  }

  static Tins::EthernetII ns_from(const std::string& src, const std::string& dst, const std::string& target,
                                  const std::string& slla, const std::string& eth_src = kPeerMacS) {
    Tins::IPv6 ip(dst, src);
    ip.hop_limit(255);
    Tins::ICMPv6 ns(Tins::ICMPv6::NEIGHBOUR_SOLICIT);
    ns.target_addr(target);
    if (!slla.empty()) ns.source_link_layer_addr(slla);
    const std::string eth_dst = dst.rfind("ff02", 0) == 0 ? "33:33:ff:00:00:02" : kOurMacS;
    return Tins::EthernetII(eth_dst, eth_src) / ip / ns;
  }
  static Tins::EthernetII na_from(const std::string& src, const std::string& dst, const std::string& target,
                                  const std::string& tlla, bool solicited, bool override_flag,
                                  const std::string& eth_src = kPeerMacS) {
    Tins::IPv6 ip(dst, src);
    ip.hop_limit(255);
    Tins::ICMPv6 na(Tins::ICMPv6::NEIGHBOUR_ADVERT);
    na.target_addr(target);
    na.solicited(solicited ? 1 : 0);
    na.override(override_flag ? 1 : 0);
    if (!tlla.empty()) na.target_link_layer_addr(tlla);
    const std::string eth_dst = dst == "ff02::1" ? "33:33:00:00:00:01" : kOurMacS;
    return Tins::EthernetII(eth_dst, eth_src) / ip / na;
  }
  static Tins::EthernetII from_peer6() { return Tins::EthernetII(kOurMacS, kPeerMacS); }
};

Tins::IPv6 ip6(const std::string& dst, const std::string& src) {
  Tins::IPv6 ip(dst, src);
  ip.hop_limit(64);
  return ip;
}

// ---------------------------------------------------------------------------------------------------
// Addresses and DAD (RFC 4862)

TEST(Interface6, LinkLocalFromMac_MldReportThenDadNsFromUnspecified_PreferredAfterRetransTimer) {
  InterfaceConfig cfg = config6();
  cfg.ipv6_addresses.clear();
  cfg.max_dad_delay = seconds(1);  // the RFC 4862 §5.4.2 random delay
  Harness6 h{cfg};
  EXPECT_EQ(h.iface->ipv6().link_local(), kOurLl);
  EXPECT_EQ(h.iface->address_state(kOurLl), AddressState::kTentative);
  h.iface->poll(h.now);
  const auto first = h.iface->poll_at();
  ASSERT_TRUE(first);
  ASSERT_GE(*first, h.now);
  ASSERT_LT(*first, h.now + seconds(1));
  if (*first > h.now) {
    EXPECT_TRUE(h.sent().empty());
  }
  h.now = *first;
  h.iface->poll(h.now);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 2u);
  // The MLDv2 report joining the solicited-node group comes first (RFC 4862 §5.4.2, RFC 3810 §5.2).
  EXPECT_EQ(out[0].eth_dst, "33:33:00:00:00:16");
  EXPECT_EQ(out[0].src, "::");
  EXPECT_EQ(out[0].dst, "ff02::16");
  EXPECT_EQ(out[0].hop_limit, 1);
  EXPECT_EQ(out[0].next_header, 0);           // Hop-by-Hop with Router Alert
  ASSERT_GE(out[0].payload.size(), 8u + 28u);
  EXPECT_EQ(out[0].payload[8], 143);          // MLDv2 report
  EXPECT_EQ(out[0].payload[8 + 8], 4);        // CHANGE_TO_EXCLUDE({}): join
  const Ipv6Address group = Ipv6Address::from_bytes(bytes_of(out[0].payload).subspan(8 + 12, 16));
  EXPECT_EQ(group, *Ipv6Address::parse(kSolicitedOursS));
  const std::vector<std::uint8_t> first_report = out[0].payload;
  // Then the DAD probe: from ::, to the solicited-node group, hop limit 255, no SLLA option.
  EXPECT_EQ(out[1].eth_dst, "33:33:ff:00:00:02");
  EXPECT_EQ(out[1].src, "::");
  EXPECT_EQ(out[1].dst, kSolicitedOursS);
  EXPECT_EQ(out[1].hop_limit, 255);
  Tins::EthernetII eth(out[1].raw.data(), std::uint32_t(out[1].raw.size()));
  const auto& ns = eth.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(ns.type(), Tins::ICMPv6::NEIGHBOUR_SOLICIT);
  EXPECT_EQ(ns.target_addr().to_string(), kOurLlS);
  EXPECT_EQ(ns.search_option(Tins::ICMPv6::SOURCE_ADDRESS), nullptr);
  EXPECT_EQ(out[1].raw.size(), 14u + 40u + 24u);
  EXPECT_EQ(h.c().dad_ns_sent, 1u);
  EXPECT_EQ(h.c().mld_reports_sent, 1u);
  // RFC 3810 §6.1: the join is repeated once, within the Unsolicited Report Interval (1 s).
  const Instant joined_at = h.now;
  const auto repeat = h.iface->poll_at();
  ASSERT_TRUE(repeat);
  ASSERT_GT(*repeat, joined_at);
  ASSERT_LE(*repeat, joined_at + seconds(1));
  h.now = *repeat - microseconds(1);
  h.iface->poll(h.now);
  EXPECT_TRUE(h.sent().empty());
  h.now = *repeat;
  h.iface->poll(h.now);
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, "ff02::16");
  EXPECT_EQ(std::vector<std::uint8_t>(out[0].payload.begin() + 8, out[0].payload.end()),
            std::vector<std::uint8_t>(first_report.begin() + 8, first_report.end()));  // the same report
  EXPECT_EQ(h.c().mld_reports_sent, 2u);
  EXPECT_EQ(h.c().mld_report_retransmissions, 1u);
  // Not usable until RetransTimer (1 s) has passed without a conflict.
  h.advance(joined_at + seconds(1) - microseconds(1) - h.now);
  EXPECT_EQ(h.iface->address_state(kOurLl), AddressState::kTentative);
  EXPECT_FALSE(h.iface->is_local(IpAddress{kOurLl}));
  EXPECT_TRUE(h.sent().empty());
  h.advance(microseconds(1));
  EXPECT_EQ(h.iface->address_state(kOurLl), AddressState::kPreferred);
  EXPECT_TRUE(h.iface->is_local(IpAddress{kOurLl}));
  EXPECT_EQ(h.c().dad_succeeded, 1u);
  EXPECT_EQ(h.iface->source_for(IpAddress{*Ipv6Address::parse("fe80::1")}), IpAddress{kOurLl});
}

TEST(Interface6, DadConflictingNaMarksDuplicate_NeverUsedAsSource) {
  Harness6 h;
  h.iface->poll(h.now);
  EXPECT_EQ(h.sent().size(), 3u);  // one MLD report (shared group ff02::1:ff00:2), two DAD NS
  // Another node already owns 2001:db8::2 and defends it (RFC 4862 §5.4.4).
  h.inject(Harness6::na_from(kPeerS, "ff02::1", kOurGlobalS, kPeerMacS, false, true));
  EXPECT_EQ(h.iface->address_state(kOurGlobal), AddressState::kDuplicate);
  EXPECT_EQ(h.c().dad_duplicates, 1u);
  h.advance(seconds(1));
  EXPECT_EQ(h.iface->address_state(kOurGlobal), AddressState::kDuplicate);
  EXPECT_EQ(h.iface->address_state(kOurLl), AddressState::kPreferred);
  EXPECT_EQ(h.sent().size(), 1u);  // the join's repeat (RFC 3810 §6.1): the link-local address keeps the group
  EXPECT_FALSE(h.iface->is_local(IpAddress{kOurGlobal}));
  // No global source is left: global destinations have no route, and the duplicate is never a source.
  EXPECT_EQ(h.iface->source_for(IpAddress{kPeer}), std::nullopt);
  EXPECT_EQ(h.send_udp(kPeer, pattern(10)), SendResult::kNoRoute);
  IpSendParams p;
  p.dst = kPeer;
  p.src = IpAddress{kOurGlobal};
  p.protocol = 17;
  EXPECT_EQ(h.iface->send(h.now, p, 4, [](MutableBytes, const PseudoHeader&) {}), SendResult::kNoRoute);
  // An NS for the duplicate address is not answered; packets to it are not accepted.
  h.inject(Harness6::ns_from(kPeerS, kSolicitedOursS, kOurGlobalS, kPeerMacS));
  EXPECT_TRUE(h.sent().empty());
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / Tins::UDP(9, 1000) / Tins::RawPDU("x"));
  EXPECT_TRUE(h.udp.packets.empty());
}

TEST(Interface6, DadNsFromAnotherNodeMarksTentativeDuplicate) {
  Harness6 h;
  h.iface->poll(h.now);
  h.sent();
  h.inject(Harness6::ns_from("::", kSolicitedOursS, kOurGlobalS, ""));
  EXPECT_EQ(h.iface->address_state(kOurGlobal), AddressState::kDuplicate);
  EXPECT_EQ(h.iface->address_state(kOurLl), AddressState::kTentative);
  // Our own probe looped back (same MAC) is not a conflict.
  h.inject(Harness6::ns_from("::", kSolicitedOursS, kOurLlS, "", kOurMacS));
  EXPECT_EQ(h.iface->address_state(kOurLl), AddressState::kTentative);
}

TEST(Interface6, PacketsToTentativeAddressAreDropped) {
  Harness6 h;
  h.iface->poll(h.now);
  h.sent();
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / Tins::UDP(9, 1000) / Tins::RawPDU("early"));
  EXPECT_TRUE(h.udp.packets.empty());
  EXPECT_EQ(h.c().drop_ipv6_tentative_dst, 1u);
}

// ---------------------------------------------------------------------------------------------------
// Neighbor Discovery (RFC 4861)

TEST(Interface6, NsForOurAddressGetsSolicitedNaWithTlla_AndSenderIsLearned) {
  Harness6 h;
  h.up();
  h.inject(Harness6::ns_from(kPeerS, kSolicitedOursS, kOurGlobalS, kPeerMacS));
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth_dst, kPeerMacS);
  EXPECT_EQ(out[0].src, kOurGlobalS);
  EXPECT_EQ(out[0].dst, kPeerS);
  EXPECT_EQ(out[0].hop_limit, 255);
  Tins::EthernetII eth(out[0].raw.data(), std::uint32_t(out[0].raw.size()));
  const auto& na = eth.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(na.type(), Tins::ICMPv6::NEIGHBOUR_ADVERT);
  EXPECT_EQ(na.target_addr().to_string(), kOurGlobalS);
  EXPECT_EQ(na.solicited(), 1);
  EXPECT_EQ(na.override(), 1);
  EXPECT_EQ(na.router(), 0);
  EXPECT_EQ(na.target_link_layer_addr().to_string(), kOurMacS);
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kStale);
  // The learned address is used at once (STALE -> DELAY), without a solicitation.
  EXPECT_EQ(h.send_udp(kPeer, pattern(8)), SendResult::kSent);
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth_dst, kPeerMacS);
  EXPECT_EQ(out[0].next_header, 17);
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kDelay);
}

TEST(Interface6, NdpWithHopLimitBelow255IsDropped) {
  Harness6 h;
  h.up();
  auto f = Harness6::ns_from(kPeerS, kSolicitedOursS, kOurGlobalS, kPeerMacS);
  f.rfind_pdu<Tins::IPv6>().hop_limit(254);
  h.inject(f);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().drop_ndp_bad_hop_limit, 1u);
}

TEST(Interface6, FirstPacketsQueuedUntilNaThenSentInOrder) {
  Harness6 h;
  h.up();
  EXPECT_EQ(h.send_udp(kPeer, pattern(10)), SendResult::kQueued);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);  // the multicast NS
  EXPECT_EQ(out[0].eth_dst, "33:33:ff:00:00:01");
  EXPECT_EQ(out[0].src, kOurGlobalS);
  EXPECT_EQ(out[0].dst, "ff02::1:ff00:1");
  Tins::EthernetII eth(out[0].raw.data(), std::uint32_t(out[0].raw.size()));
  const auto& ns = eth.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(ns.target_addr().to_string(), kPeerS);
  EXPECT_EQ(ns.source_link_layer_addr().to_string(), kOurMacS);
  EXPECT_EQ(h.send_udp(kPeer, pattern(20)), SendResult::kQueued);
  EXPECT_TRUE(h.sent().empty());  // one NS per RetransTimer, not per packet
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kIncomplete);
  h.inject(Harness6::na_from(kPeerS, kOurGlobalS, kPeerS, kPeerMacS, true, true));
  out = h.sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].eth_dst, kPeerMacS);
  EXPECT_EQ(out[0].payload.size(), 10u);
  EXPECT_EQ(out[1].payload.size(), 20u);
  EXPECT_EQ(out[0].payload, pattern(10));
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kReachable);
}

TEST(Interface6, ResolutionRetriesThreeTimesThenDropsQueuedPackets) {
  Harness6 h;
  h.up();
  EXPECT_EQ(h.send_udp(kPeer, pattern(10)), SendResult::kQueued);
  EXPECT_EQ(h.sent().size(), 1u);
  h.advance(milliseconds(999));
  EXPECT_TRUE(h.sent().empty());
  h.advance(milliseconds(1));
  EXPECT_EQ(h.sent().size(), 1u);
  h.advance(seconds(1));
  EXPECT_EQ(h.sent().size(), 1u);
  h.advance(seconds(1));
  EXPECT_TRUE(h.sent().empty());  // MAX_MULTICAST_SOLICIT = 3, then give up
  EXPECT_EQ(h.iface->ipv6().neighbors().counters().drop_resolution_failed, 1u);
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), std::nullopt);
}

TEST(Interface6, NeighbourStaleUseDelaysThenProbesUnicast) {
  Harness6 h;
  h.up();
  EXPECT_EQ(h.send_udp(kPeer, pattern(10)), SendResult::kQueued);
  h.inject(Harness6::na_from(kPeerS, kOurGlobalS, kPeerS, kPeerMacS, true, true));
  h.sent();
  const Instant t = h.now;
  const Duration rt = h.iface->ipv6().neighbors().reachable_time();
  EXPECT_GE(rt, seconds(15));
  EXPECT_LE(rt, seconds(45));
  EXPECT_EQ(h.iface->ipv6().neighbors().state(t + rt - microseconds(1), kPeer), NeighborState::kReachable);
  EXPECT_EQ(h.iface->ipv6().neighbors().state(t + rt, kPeer), NeighborState::kStale);
  h.advance(rt);
  EXPECT_EQ(h.send_udp(kPeer, pattern(10)), SendResult::kSent);
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kDelay);
  h.sent();
  h.advance(seconds(5) - microseconds(1));
  EXPECT_TRUE(h.sent().empty());
  h.advance(microseconds(1));
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kProbe);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);  // a unicast probe to the cached MAC (RFC 4861 §7.3.3)
  EXPECT_EQ(out[0].eth_dst, kPeerMacS);
  EXPECT_EQ(out[0].dst, kPeerS);
  EXPECT_EQ(out[0].icmp_type(), 135);
  // A solicited NA confirms it.
  h.inject(Harness6::na_from(kPeerS, kOurGlobalS, kPeerS, kPeerMacS, true, false));
  EXPECT_EQ(h.iface->ipv6().neighbors().state(h.now, kPeer), NeighborState::kReachable);
}

// ---------------------------------------------------------------------------------------------------
// Router discovery, SLAAC, MTU, RDNSS

Tins::EthernetII router_advert(std::uint16_t lifetime, std::uint32_t mtu, std::uint32_t rdnss_lifetime,
                               std::uint32_t valid = 86400, std::uint32_t preferred = 14400) {
  Tins::IPv6 ip("ff02::1", kRouterLlS);
  ip.hop_limit(255);
  Tins::ICMPv6 ra(Tins::ICMPv6::ROUTER_ADVERT);
  ra.hop_limit(61);
  ra.router_lifetime(lifetime);
  ra.reachable_time(20000);
  ra.retransmit_timer(0);
  ra.source_link_layer_addr(kRouterMacS);
  if (mtu != 0) ra.mtu({0, mtu});
  ra.prefix_info(Tins::ICMPv6::prefix_info_type(64, 1, 1, valid, preferred, "2001:db8:1::"));
  if (rdnss_lifetime != 0) ra.recursive_dns_servers({rdnss_lifetime, {"2001:db8::53"}});
  return Tins::EthernetII("33:33:00:00:00:01", kRouterMacS) / ip / ra;
}

TEST(Interface6, RouterSolicitationsAfterLinkLocalThenRaGivesSlaacAddressRouterMtuAndDns) {
  InterfaceConfig cfg = config6();
  cfg.ipv6_addresses.clear();
  cfg.router_solicitations = 3;
  Harness6 h{cfg};
  const Instant start = h.now;
  h.iface->poll(h.now);
  EXPECT_EQ(h.sent().size(), 2u);  // MLD + DAD NS
  h.advance(*h.iface->poll_at() - h.now);
  EXPECT_EQ(h.sent().size(), 1u);  // the MLD report's repeat, within 1 s (RFC 3810 §6.1)
  EXPECT_EQ(h.c().mld_report_retransmissions, 1u);
  ASSERT_LT(h.now, start + seconds(1));  // before DAD ends
  h.advance(start + seconds(1) - h.now);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);  // the first RS as soon as the link-local address is usable
  EXPECT_EQ(out[0].src, kOurLlS);
  EXPECT_EQ(out[0].dst, "ff02::2");
  EXPECT_EQ(out[0].eth_dst, "33:33:00:00:00:02");
  EXPECT_EQ(out[0].hop_limit, 255);
  {
    Tins::EthernetII eth(out[0].raw.data(), std::uint32_t(out[0].raw.size()));
    const auto& rs = eth.rfind_pdu<Tins::ICMPv6>();
    EXPECT_EQ(rs.type(), Tins::ICMPv6::ROUTER_SOLICIT);
    EXPECT_EQ(rs.source_link_layer_addr().to_string(), kOurMacS);
  }
  h.advance(seconds(4) - microseconds(1));
  EXPECT_TRUE(h.sent().empty());
  h.advance(microseconds(1));
  EXPECT_EQ(h.sent().size(), 1u);  // RTR_SOLICITATION_INTERVAL = 4 s

  h.inject(router_advert(1800, 1400, 600));
  EXPECT_EQ(h.c().ndp_ra_rx, 1u);
  EXPECT_EQ(h.iface->ipv6().default_router(), *Ipv6Address::parse(kRouterLlS));
  EXPECT_EQ(h.iface->ipv6().cur_hop_limit(), 61);
  EXPECT_EQ(h.iface->ipv6().neighbors().config().base_reachable_time, milliseconds(20000));
  EXPECT_EQ(h.iface->dns_servers6(), (std::vector<Ipv6Address>{*Ipv6Address::parse("2001:db8::53")}));
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1400u - 40u);
  // The SLAAC address (prefix + EUI-64) runs its own DAD before it is used.
  EXPECT_EQ(h.iface->address_state(kSlaac), AddressState::kTentative);
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);  // DAD NS (the solicited-node group is shared with the link-local address)
  EXPECT_EQ(out[0].src, "::");
  EXPECT_EQ(out[0].icmp_type(), 135);
  EXPECT_EQ(h.iface->source_for(IpAddress{kRemote}), std::nullopt);
  h.advance(seconds(1));
  EXPECT_EQ(h.iface->address_state(kSlaac), AddressState::kPreferred);
  EXPECT_EQ(h.iface->source_for(IpAddress{kRemote}), IpAddress{kSlaac});
  EXPECT_TRUE(h.sent().empty());  // no more RS after an RA
  h.advance(seconds(8));
  EXPECT_TRUE(h.sent().empty());
  // Off-link traffic goes to the router's MAC (learned from its SLLA option), from the SLAAC address.
  EXPECT_EQ(h.send_udp(kRemote, pattern(12)), SendResult::kSent);
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth_dst, kRouterMacS);
  EXPECT_EQ(out[0].src, kSlaac.to_string());
  EXPECT_EQ(out[0].dst, kRemote.to_string());
  // RDNSS lifetime (600 s) ends: the server is gone.
  h.advance(seconds(600));
  EXPECT_TRUE(h.iface->dns_servers6().empty());
}

TEST(Interface6, RaMtuBelowMinimumOrAboveLinkIsIgnored) {
  Harness6 h;
  h.up();
  h.inject(router_advert(1800, 1000, 0));
  EXPECT_EQ(h.c().drop_ra_mtu_invalid, 1u);
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1460u);
  h.inject(router_advert(1800, 9000, 0));
  EXPECT_EQ(h.c().drop_ra_mtu_invalid, 2u);
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1460u);
}

TEST(Interface6, SlaacTwoHourRuleKeepsValidLifetime) {
  Harness6 h;
  h.up();
  h.inject(router_advert(1800, 0, 0, 86400, 3600));
  h.advance(seconds(1));
  ASSERT_EQ(h.iface->address_state(kSlaac), AddressState::kPreferred);
  // A forged RA with valid lifetime 10 s does not shorten a remaining day below two hours (RFC 4862 §5.5.3 e).
  h.inject(router_advert(1800, 0, 0, 10, 0));
  EXPECT_EQ(h.iface->address_state(kSlaac), AddressState::kDeprecated);  // preferred lifetime 0
  h.advance(seconds(2 * 3600) - seconds(1));
  EXPECT_EQ(h.iface->address_state(kSlaac), AddressState::kDeprecated);
  h.advance(seconds(1));
  EXPECT_EQ(h.iface->address_state(kSlaac), std::nullopt);
  EXPECT_EQ(h.c().addresses_expired, 1u);
}

// ---------------------------------------------------------------------------------------------------
// Redirects (RFC 4861 §8)

// A Redirect as a router sends it: to our global address, hop limit 255, with a TLLA option when `tlla` is set.
Tins::EthernetII redirect_from(const std::string& src, const std::string& target, const std::string& destination,
                               const std::string& tlla, std::uint8_t hop_limit = 255,
                               const std::string& eth_src = kRouterMacS) {
  Tins::IPv6 ip(kOurGlobalS, src);
  ip.hop_limit(hop_limit);
  Tins::ICMPv6 rd(Tins::ICMPv6::REDIRECT);
  rd.target_addr(target);
  rd.dest_addr(destination);
  if (!tlla.empty()) rd.target_link_layer_addr(tlla);
  return Tins::EthernetII(kOurMacS, eth_src) / ip / rd;
}

// Sends a datagram to `dst` and returns the MAC it went to (one frame expected).
std::string sent_to_mac(Harness6& h, const Ipv6Address& dst) {
  EXPECT_EQ(h.send_udp(dst, pattern(8)), SendResult::kSent);
  const auto out = h.sent();
  if (out.size() != 1u) return "(" + std::to_string(out.size()) + " frames)";
  EXPECT_EQ(out[0].dst, dst.to_string());
  return out[0].eth_dst;
}

TEST(Interface6, RedirectFromTheFirstHopRouterSetsTheDestinationsNextHop) {
  Harness6 h;
  h.up();
  h.inject(router_advert(1800, 0, 0));
  h.advance(seconds(1));  // the SLAAC address passes DAD
  h.sent();
  const Ipv6Address remote2 = *Ipv6Address::parse("2001:db8:99::8");
  const std::string remote = kRemote.to_string(), mac2 = "02:00:00:00:02:01";
  EXPECT_EQ(sent_to_mac(h, kRemote), kRouterMacS);  // via the default router
  // Not from the router we use for kRemote: refused (anyone on the link could send it).
  h.inject(redirect_from("fe80::99", "fe80::2:1", remote, mac2, 255, "02:00:00:00:00:99"));
  EXPECT_EQ(h.c().drop_redirect_not_from_first_hop, 1u);
  // Hop limit not 255 (it crossed a router), or a global target that is not the destination: refused by the parse.
  h.inject(redirect_from(kRouterLlS, "fe80::2:1", remote, mac2, 64));
  EXPECT_EQ(h.c().drop_ndp_bad_hop_limit, 1u);
  h.inject(redirect_from(kRouterLlS, "2001:db8::77", remote, mac2));
  EXPECT_EQ(h.c().drop_ndp_invalid, 1u);
  EXPECT_EQ(h.c().ndp_redirects_accepted, 0u);
  EXPECT_EQ(sent_to_mac(h, kRemote), kRouterMacS);

  // From the first-hop router: kRemote is better reached through router fe80::2:1, whose MAC comes with it.
  h.inject(redirect_from(kRouterLlS, "fe80::2:1", remote, mac2));
  EXPECT_EQ(h.c().ndp_redirects_accepted, 1u);
  EXPECT_TRUE(h.iface->ipv6().neighbors().is_router(*Ipv6Address::parse("fe80::2:1")));
  EXPECT_EQ(sent_to_mac(h, kRemote), mac2);
  EXPECT_EQ(sent_to_mac(h, remote2), kRouterMacS);  // other destinations still go to the default router
  // Now only fe80::2:1 may redirect kRemote again: the old router no longer can.
  h.inject(redirect_from(kRouterLlS, "fe80::3:1", remote, "02:00:00:00:03:01"));
  EXPECT_EQ(h.c().drop_redirect_not_from_first_hop, 2u);

  // A destination that is on-link after all (target == destination), without a TLLA: resolved by NS.
  h.inject(redirect_from(kRouterLlS, remote2.to_string(), remote2.to_string(), ""));
  EXPECT_EQ(h.c().ndp_redirects_accepted, 2u);
  ASSERT_EQ(h.send_udp(remote2, pattern(8)), SendResult::kQueued);
  const auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].icmp_type(), 135);  // NS for 2001:db8:99::8 itself
  EXPECT_EQ(out[0].dst, "ff02::1:ff00:8");  // its solicited-node group
  EXPECT_EQ(out[0].eth_dst, "33:33:ff:00:00:08");

  // redirect_timeout (600 s) later, kRemote goes to the default router again.
  h.advance(seconds(600));
  EXPECT_EQ(h.c().redirects_expired, 2u);
  h.sent();
  h.inject(router_advert(1800, 0, 0));  // (the router's lifetime, refreshed)
  EXPECT_EQ(sent_to_mac(h, kRemote), kRouterMacS);
}

TEST(Interface6, RedirectsIgnoredWhenNotAccepted_AndBounded) {
  {
    InterfaceConfig cfg = config6();
    cfg.accept_redirects6 = false;
    Harness6 h{cfg};
    h.up();
    h.inject(router_advert(1800, 0, 0));
    h.inject(redirect_from(kRouterLlS, "fe80::2:1", kRemote.to_string(), "02:00:00:00:02:01"));
    EXPECT_EQ(h.c().ndp_redirect_ignored, 1u);
    EXPECT_EQ(h.c().ndp_redirects_accepted, 0u);
  }
  // More redirected destinations than max_redirects (64): the table stays bounded, the newest are kept.
  Harness6 h;
  h.up();
  h.inject(router_advert(1800, 0, 0));
  h.advance(seconds(1));
  for (int i = 0; i < 70; ++i) {
    h.advance(milliseconds(1));
    const std::string d = "2001:db8:99::1:" + std::to_string(i);
    h.inject(redirect_from(kRouterLlS, "fe80::2:1", d, "02:00:00:00:02:01"));
  }
  EXPECT_EQ(h.c().ndp_redirects_accepted, 70u);
  h.sent();
  EXPECT_EQ(sent_to_mac(h, *Ipv6Address::parse("2001:db8:99::1:69")), "02:00:00:00:02:01");  // kept
  EXPECT_EQ(sent_to_mac(h, *Ipv6Address::parse("2001:db8:99::1:0")), kRouterMacS);  // the oldest made room
}

// ---------------------------------------------------------------------------------------------------
// ICMPv6 echo, errors, transports

TEST(Interface6, EchoRequestGetsReplyWithIdenticalData) {
  Harness6 h;
  h.up();
  h.learn_peer();
  Tins::ICMPv6 req(Tins::ICMPv6::ECHO_REQUEST);
  req.identifier(0x1234);
  req.sequence(7);
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / req / Tins::RawPDU("ping6 data"));
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].src, kOurGlobalS);
  EXPECT_EQ(out[0].dst, kPeerS);
  Tins::EthernetII eth(out[0].raw.data(), std::uint32_t(out[0].raw.size()));
  const auto& rep = eth.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(rep.type(), Tins::ICMPv6::ECHO_REPLY);
  EXPECT_EQ(rep.identifier(), 0x1234);
  EXPECT_EQ(rep.sequence(), 7);
  const auto& data = eth.rfind_pdu<Tins::RawPDU>().payload();
  EXPECT_EQ(std::string(data.begin(), data.end()), "ping6 data");
  EXPECT_EQ(icmpv6_checksum(bytes_of(out[0].payload), kOurGlobal, kPeer), 0);
  // To a multicast group: not answered.
  h.inject(Tins::EthernetII("33:33:00:00:00:01", kPeerMacS) / ip6("ff02::1", kPeerS) / req / Tins::RawPDU("x"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().drop_icmp6_echo_multicast, 1u);
}

TEST(Interface6, Ping6ClientGetsReplyThroughSharedQueue) {
  Harness6 h;
  h.up();
  h.learn_peer();
  const auto data = pattern(16);
  EXPECT_EQ(h.iface->send_echo_request6(h.now, kPeer, 77, 1, bytes_of(data)), SendResult::kSent);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].icmp_type(), 128);
  Tins::ICMPv6 rep(Tins::ICMPv6::ECHO_REPLY);
  rep.identifier(77);
  rep.sequence(1);
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / rep / Tins::RawPDU(data.data(), 16));
  auto r = h.iface->pop_echo_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (EchoReply{IpAddress{kPeer}, 77, 1, 64, 16, h.now}));
  EXPECT_FALSE(h.iface->pop_echo_reply());
}

// Splits an IPv6 packet (40-byte header, no extension headers) into Ethernet frames of fragments.
std::vector<Frame> fragment6(const Frame& packet, std::size_t piece, std::uint32_t ident) {
  const std::uint8_t nh = packet[6];
  const Frame payload(packet.begin() + 40, packet.end());
  std::vector<Frame> out;
  for (std::size_t off = 0; off < payload.size(); off += piece) {
    const std::size_t len = std::min(piece, payload.size() - off);
    const bool more = off + len < payload.size();
    Frame f{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x86, 0xdd};
    f.insert(f.end(), packet.begin(), packet.begin() + 40);
    f[14 + 4] = std::uint8_t((len + 8) >> 8);
    f[14 + 5] = std::uint8_t(len + 8);
    f[14 + 6] = 44;
    f.insert(f.end(), {nh, 0, std::uint8_t(off >> 8), std::uint8_t((off & 0xf8) | (more ? 1 : 0)),
                       std::uint8_t(ident >> 24), std::uint8_t(ident >> 16), std::uint8_t(ident >> 8),
                       std::uint8_t(ident)});
    f.insert(f.end(), payload.begin() + std::ptrdiff_t(off), payload.begin() + std::ptrdiff_t(off + len));
    out.push_back(f);
  }
  return out;
}

TEST(Interface6, FragmentedEchoRequestIsReassembledAndReplyFragmented) {
  Harness6 h;
  h.up();
  h.learn_peer();
  const auto data = pattern(4000);
  Tins::ICMPv6 req(Tins::ICMPv6::ECHO_REQUEST);
  req.identifier(5);
  req.sequence(9);
  auto pkt = ip6(kOurGlobalS, kPeerS) / req / Tins::RawPDU(data.data(), std::uint32_t(data.size()));
  const Frame whole = pkt.serialize();
  for (const auto& f : fragment6(whole, 1232, 0xabcdef01)) h.inject_raw(f);
  EXPECT_EQ(h.c().ipv6_reassembled, 1u);
  auto out = h.sent();
  // 4008 bytes of ICMPv6 in pieces of (1500 - 40 - 8) & ~7 = 1448: 1448 + 1448 + 1112.
  ASSERT_EQ(out.size(), 3u);
  Frame icmp;
  std::uint32_t ident = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].next_header, 44);
    EXPECT_LE(out[i].raw.size(), 14u + 1500u);
    const auto& p = out[i].payload;
    const std::size_t off = std::size_t(p[2] << 8 | (p[3] & 0xf8));
    const bool more = (p[3] & 1) != 0;
    const std::uint32_t id = std::uint32_t(p[4]) << 24 | std::uint32_t(p[5]) << 16 | std::uint32_t(p[6]) << 8 | p[7];
    if (i == 0) ident = id;
    EXPECT_EQ(id, ident);
    EXPECT_EQ(p[0], 58);
    EXPECT_EQ(off, icmp.size());
    EXPECT_EQ(more, i + 1 < out.size());
    icmp.insert(icmp.end(), p.begin() + 8, p.end());
  }
  ASSERT_EQ(icmp.size(), 4008u);
  EXPECT_EQ(icmpv6_checksum(bytes_of(icmp), kOurGlobal, kPeer), 0);
  Tins::ICMPv6 rep(icmp.data(), std::uint32_t(icmp.size()));
  EXPECT_EQ(rep.type(), Tins::ICMPv6::ECHO_REPLY);
  EXPECT_EQ(rep.identifier(), 5);
  EXPECT_EQ(rep.sequence(), 9);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), icmp.begin() + 8));
}

TEST(Interface6, ReassemblyTimeoutSendsTimeExceededCode1) {
  Harness6 h;
  h.up();
  h.learn_peer();
  auto pkt = ip6(kOurGlobalS, kPeerS) / Tins::UDP(7, 40000) / Tins::RawPDU(std::string(3000, 'u'));
  const auto frags = fragment6(pkt.serialize(), 1232, 77);
  h.inject_raw(frags[0]);  // the first fragment only
  EXPECT_TRUE(h.sent().empty());
  h.advance(seconds(60) - microseconds(1));
  EXPECT_TRUE(h.sent().empty());
  h.advance(microseconds(1));  // RFC 8200 §4.5: 60 s
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kPeerS);
  EXPECT_EQ(out[0].payload[0], 3);  // Time Exceeded
  EXPECT_EQ(out[0].payload[1], 1);  // fragment reassembly time exceeded
  EXPECT_TRUE(h.udp.packets.empty());
}

TEST(Interface6, UnknownNextHeaderGetsParameterProblemPointingAtIt) {
  Harness6 h;
  h.up();
  h.learn_peer();
  // A Destination Options header (PadN only) followed by next header 253 (RFC 3692 experimental).
  auto ip = ip6(kOurGlobalS, kPeerS);
  ip.next_header(60);
  const std::vector<std::uint8_t> dst_opts{253, 0, 1, 4, 0, 0, 0, 0};
  std::vector<std::uint8_t> body = dst_opts;
  body.insert(body.end(), {1, 2, 3, 4, 5, 6, 7, 8});
  Tins::EthernetII eth = Harness6::from_peer6() / ip / Tins::RawPDU(body.data(), std::uint32_t(body.size()));
  Frame f = eth.serialize();
  f[14 + 6] = 60;  // libtins may rewrite the next header from the inner PDU
  h.inject_raw(f);
  EXPECT_EQ(h.c().drop_ipv6_unknown_next_header, 1u);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kPeerS);
  EXPECT_EQ(out[0].src, kOurGlobalS);
  const auto& m = out[0].payload;
  EXPECT_EQ(m[0], 4);  // Parameter Problem
  EXPECT_EQ(m[1], 1);  // unrecognized Next Header
  EXPECT_EQ(std::uint32_t(m[4]) << 24 | std::uint32_t(m[5]) << 16 | std::uint32_t(m[6]) << 8 | m[7], 40u);
  EXPECT_TRUE(std::equal(f.begin() + 14, f.end(), m.begin() + 8));  // the whole invoking packet quoted
  EXPECT_EQ(icmpv6_checksum(bytes_of(m), kOurGlobal, kPeer), 0);
}

TEST(Interface6, UdpDeliveredWithIpv6Info) {
  Harness6 h;
  h.up();
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / Tins::UDP(7, 40000) / Tins::RawPDU("over v6"));
  ASSERT_EQ(h.udp.packets.size(), 1u);
  const auto& rx = h.udp.packets[0];
  EXPECT_EQ(rx.info.src, IpAddress{kPeer});
  EXPECT_EQ(rx.info.dst, IpAddress{kOurGlobal});
  EXPECT_EQ(rx.info.protocol, 17);
  EXPECT_EQ(rx.info.ttl, 64);
  EXPECT_FALSE(rx.info.dst_multicast);
  ASSERT_EQ(rx.payload.size(), 8u + 7u);
  EXPECT_EQ(std::string(rx.payload.begin() + 8, rx.payload.end()), "over v6");
  EXPECT_EQ(h.c().ipv6_delivered, 1u);
}

TEST(Interface6, PortUnreachableFromTransportVerdict) {
  Harness6 h;
  h.up();
  h.learn_peer();
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  auto pdu = Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / Tins::UDP(9, 40000) / Tins::RawPDU("closed");
  const Frame f = pdu.serialize();
  h.inject_raw(f);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  const auto& m = out[0].payload;
  EXPECT_EQ(m[0], 1);  // Destination Unreachable
  EXPECT_EQ(m[1], 4);  // port
  EXPECT_TRUE(std::equal(f.begin() + 14, f.end(), m.begin() + 8));
  EXPECT_EQ(h.c().rx_port_unreachable, 1u);
  EXPECT_EQ(h.c().icmp6_errors_sent, 1u);
}

TEST(Interface6, NoErrorAboutMulticastDestination) {
  Harness6 h;
  h.up();
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  h.inject(Tins::EthernetII("33:33:00:00:00:01", kPeerMacS) / ip6("ff02::1", kPeerS) / Tins::UDP(9, 40000) /
           Tins::RawPDU("m"));
  ASSERT_EQ(h.udp.packets.size(), 1u);
  EXPECT_TRUE(h.udp.packets[0].info.dst_multicast);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().icmp6_error_suppressed, 1u);
  // A group we did not join is dropped at the link layer.
  h.inject(Tins::EthernetII("33:33:00:00:00:fb", kPeerMacS) / ip6("ff02::fb", kPeerS) / Tins::UDP(5353, 5353));
  EXPECT_EQ(h.udp.packets.size(), 1u);
  EXPECT_EQ(h.iface->counters().drop_eth_multicast, 1u);
}

// A Packet Too Big from a router quoting our packet to kRemote.
Frame packet_too_big(std::uint32_t mtu) {
  auto quoted = ip6(kRemote.to_string(), kOurGlobalS) / Tins::UDP(53, 40000) / Tins::RawPDU(std::string(100, 'q'));
  const Frame q = quoted.serialize();
  Tins::IPv6 ip(kOurGlobalS, kRouterLlS);
  ip.hop_limit(64);
  std::vector<std::uint8_t> body{std::uint8_t(mtu >> 24), std::uint8_t(mtu >> 16), std::uint8_t(mtu >> 8),
                                 std::uint8_t(mtu)};
  body.insert(body.end(), q.begin(), q.end());
  Tins::ICMPv6 ptb(Tins::ICMPv6::PACKET_TOOBIG);
  auto eth = Tins::EthernetII(kOurMacS, kRouterMacS) / ip / ptb / Tins::RawPDU(body.data() + 4, std::uint32_t(body.size() - 4));
  Frame f = eth.serialize();
  // The MTU field (libtins keeps it in the header's second word): write it and fix the checksum.
  for (int i = 0; i < 4; ++i) f[14 + 40 + 4 + std::size_t(i)] = body[std::size_t(i)];
  f[14 + 40 + 2] = 0;
  f[14 + 40 + 3] = 0;
  const auto sum = icmpv6_checksum(Bytes{reinterpret_cast<const std::byte*>(f.data()) + 54, f.size() - 54},
                                   *Ipv6Address::parse(kRouterLlS), kOurGlobal);
  f[14 + 40 + 2] = std::uint8_t(sum >> 8);
  f[14 + 40 + 3] = std::uint8_t(sum);
  return f;
}

TEST(Interface6, PacketTooBigLowersPathMtu_BelowMinimumIgnored) {
  Harness6 h;
  h.up();
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1460u);
  h.inject_raw(packet_too_big(1000));
  EXPECT_EQ(h.c().drop_icmp6_ptb_below_min, 1u);
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1460u);
  EXPECT_TRUE(h.udp.errors.empty());
  h.inject_raw(packet_too_big(1300));
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1260u);
  EXPECT_EQ(h.iface->max_payload(IpAddress{kPeer}), 1460u);  // per destination
  ASSERT_EQ(h.udp.errors.size(), 1u);
  EXPECT_EQ(h.udp.errors[0].info.kind, IcmpErrorInfo::Kind::kFragNeeded);
  EXPECT_EQ(h.udp.errors[0].info.next_hop_mtu, 1300u);
  EXPECT_EQ(h.udp.errors[0].info.orig_dst, IpAddress{kRemote});
  EXPECT_EQ(h.udp.errors[0].quoted.size(), 8u + 100u);
  // A larger PTB never raises it again.
  h.inject_raw(packet_too_big(1400));
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1260u);
  // Sends to kRemote are fragmented to the path MTU (through the configured gateway-less static prefix:
  // kRemote is off-link, so give a default router first).
  h.inject(router_advert(1800, 0, 0));
  h.advance(seconds(1));
  h.sent();
  EXPECT_EQ(h.send_udp(kRemote, pattern(2000)), SendResult::kSent);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 2u);
  for (const auto& o : out) EXPECT_LE(o.raw.size() - 14, 1300u);
  EXPECT_EQ(out[0].payload.size(), 8u + 1248u);  // (1300 - 48) & ~7
  // After the RFC 8201 timeout the estimate goes back to the link MTU.
  h.advance(seconds(600));
  EXPECT_EQ(h.iface->max_payload(IpAddress{kRemote}), 1460u);
}

TEST(Interface6, Ipv6DisabledCountsFramesAsUnknownEthertype) {
  InterfaceConfig cfg = config6();
  cfg.ipv6 = false;
  Harness6 h{cfg};
  h.iface->poll(h.now);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.iface->poll_at(), std::nullopt);
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kPeerS) / Tins::UDP(7, 40000));
  EXPECT_EQ(h.iface->counters().drop_unknown_ethertype, 1u);
  EXPECT_TRUE(h.udp.packets.empty());
  EXPECT_EQ(h.send_udp(kPeer, pattern(4)), SendResult::kNoRoute);
}

// ---------------------------------------------------------------------------------------------------
// The per-packet fast paths (receive without extension headers, 64-bit address compares and prefix match)

// Bit `i` (0 = the most significant bit of the first octet) of `a` inverted.
Ipv6Address flip_bit(Ipv6Address a, unsigned i) {
  a.octets[i / 8] = std::uint8_t(a.octets[i / 8] ^ (0x80u >> (i % 8)));
  return a;
}

TEST(Ipv6Prefix, MatchAgreesWithTheCommonPrefixLengthAtEveryLength) {
  // ipv6_prefix_match (two 64-bit compares) against ipv6_common_prefix_len (a byte loop), for pairs inside
  // 2001:db8::/32 that differ from bit 32 on, and every uint8 length (above 128 means 128).
  SeededRng rng{5};
  for (int i = 0; i < 200; ++i) {
    Ipv6Address a = *Ipv6Address::parse("2001:db8::"), b = a;
    for (std::size_t k = 4; k < 16; ++k) a.octets[k] = b.octets[k] = std::uint8_t(rng.next_u32());
    b.octets[4 + rng.uniform(12)] ^= std::uint8_t(1u << rng.uniform(8));  // one bit apart, anywhere past /32
    if (i % 4 == 0) b = a;                                                 // and equal pairs
    const unsigned common = ipv6_common_prefix_len(a, b);
    for (unsigned len = 0; len <= 255; ++len) {
      ASSERT_EQ(ipv6_prefix_match(a, b, std::uint8_t(len)), common >= std::min(len, 128u)) << "len " << len;
    }
  }
}

TEST(Interface6, StaticPrefixOnLinkDecisionAtEveryLength) {
  // 2001:db8::2/L makes a destination on-link exactly when it shares the first L bits: the one differing only
  // in bit L is resolved on the link (queued behind a multicast NS), the one differing only in bit L-1 has no
  // route (no router, no gateway). ipv6_prefix_match is the oracle for the choice of the two destinations.
  // Lengths from 33, so that both destinations stay inside 2001:db8::/32 (both branches of the 64-bit compare
  // are covered: 33..64 and 65..127; /0 is the next test).
  for (unsigned len = 33; len <= 127; ++len) {
    SCOPED_TRACE("prefix length " + std::to_string(len));
    InterfaceConfig cfg = config6();
    cfg.ipv6_addresses = {Ipv6Cidr{kOurGlobal, std::uint8_t(len)}};
    Harness6 h{cfg};
    h.up();
    const Ipv6Address inside = flip_bit(kOurGlobal, len), outside = flip_bit(kOurGlobal, len - 1);
    ASSERT_TRUE(ipv6_prefix_match(kOurGlobal, inside, std::uint8_t(len)));
    ASSERT_FALSE(ipv6_prefix_match(kOurGlobal, outside, std::uint8_t(len)));
    EXPECT_EQ(h.send_udp(outside, pattern(4)), SendResult::kNoRoute);
    EXPECT_EQ(h.c().drop_tx_no_route, 1u);
    EXPECT_TRUE(h.sent().empty());
    EXPECT_EQ(h.send_udp(inside, pattern(4)), SendResult::kQueued);
    const auto out = h.sent();
    ASSERT_EQ(out.size(), 1u);  // the NS for `inside` itself: it is on the link
    Tins::EthernetII eth(out[0].raw.data(), std::uint32_t(out[0].raw.size()));
    EXPECT_EQ(eth.rfind_pdu<Tins::ICMPv6>().target_addr().to_string(), inside.to_string());
  }
}

TEST(Interface6, StaticPrefixLengthZeroPutsEveryUnicastDestinationOnLink) {
  InterfaceConfig cfg = config6();
  cfg.ipv6_addresses = {Ipv6Cidr{kOurGlobal, 0}};
  Harness6 h{cfg};
  h.up();
  EXPECT_EQ(h.send_udp(kRemote, pattern(4)), SendResult::kQueued);
  ASSERT_EQ(h.sent().size(), 1u);
}

TEST(Interface6, UnknownNextHeaderRightAfterTheIpv6HeaderGetsParameterProblemAtOffset6) {
  Harness6 h;
  h.up();
  h.learn_peer();
  auto ip = ip6(kOurGlobalS, kPeerS);
  const std::vector<std::uint8_t> body{1, 2, 3, 4, 5, 6, 7, 8};
  Tins::EthernetII eth = Harness6::from_peer6() / ip / Tins::RawPDU(body.data(), std::uint32_t(body.size()));
  Frame f = eth.serialize();
  f[14 + 6] = 253;  // RFC 3692 experimental: no handler, not an extension header
  h.inject_raw(f);
  EXPECT_EQ(h.c().drop_ipv6_unknown_next_header, 1u);
  EXPECT_EQ(h.c().ipv6_delivered, 0u);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  const auto& m = out[0].payload;
  EXPECT_EQ(m[0], 4);  // Parameter Problem
  EXPECT_EQ(m[1], 1);  // unrecognized Next Header
  EXPECT_EQ(std::uint32_t(m[4]) << 24 | std::uint32_t(m[5]) << 16 | std::uint32_t(m[6]) << 8 | m[7], 6u);
  EXPECT_TRUE(std::equal(f.begin() + 14, f.end(), m.begin() + 8));
}

TEST(Interface6, UnicastToAnotherAddressAndOurOwnSourceAreDropped) {
  Harness6 h;
  h.up();
  // Differs from 2001:db8::2 in the last bit only, then in the high word only: neither is ours.
  h.inject(Harness6::from_peer6() / ip6("2001:db8::3", kPeerS) / Tins::UDP(7, 40000) / Tins::RawPDU("x"));
  h.inject(Harness6::from_peer6() / ip6("2001:db8:8000::2", kPeerS) / Tins::UDP(7, 40000) / Tins::RawPDU("x"));
  EXPECT_EQ(h.c().drop_ipv6_not_for_us, 2u);
  // Our own address as the source (a looped frame, or someone else using it).
  h.inject(Harness6::from_peer6() / ip6(kOurGlobalS, kOurGlobalS) / Tins::UDP(7, 40000) / Tins::RawPDU("x"));
  EXPECT_EQ(h.c().drop_ipv6_own_source, 1u);
  EXPECT_TRUE(h.udp.packets.empty());
  // The link-local address is ours too, as a destination.
  h.inject(Harness6::from_peer6() / ip6(kOurLlS, kPeerLlS) / Tins::UDP(7, 40000) / Tins::RawPDU("ll"));
  ASSERT_EQ(h.udp.packets.size(), 1u);
  EXPECT_EQ(h.udp.packets[0].info.dst, IpAddress{kOurLl});
  EXPECT_EQ(h.c().ipv6_delivered, 1u);
}

// ---------------------------------------------------------------------------------------------------
// MLDv2 queries (RFC 3810 §5.1, §6.2): answered with Current State Reports

// An MLD query frame as a querier (router) sends it: Hop-by-Hop with Router Alert, ICMPv6 type 130. `v2`: the
// 28-byte MLDv2 form (plus sources), else the 24-byte MLDv1 form. The checksum is summed here, independently.
Frame mld_query(const std::string& src, const std::string& dst, const std::string& group, std::uint16_t max_resp_code,
                bool v2 = true, std::uint8_t hop_limit = 1, bool router_alert = true, std::size_t sources = 0,
                std::size_t trim = 0) {
  const Ipv6Address s = *Ipv6Address::parse(src), d = *Ipv6Address::parse(dst), g = *Ipv6Address::parse(group);
  std::vector<std::uint8_t> icmp(v2 ? 28 + 16 * sources : 24, 0);
  icmp[0] = 130;
  icmp[4] = std::uint8_t(max_resp_code >> 8);
  icmp[5] = std::uint8_t(max_resp_code);
  std::copy(g.octets.begin(), g.octets.end(), icmp.begin() + 8);
  if (v2) {
    icmp[24] = 2;   // QRV 2
    icmp[25] = 125; // QQIC
    icmp[26] = std::uint8_t(sources >> 8);
    icmp[27] = std::uint8_t(sources);
    for (std::size_t i = 0; i < sources; ++i) icmp[28 + 16 * i] = 0x20, icmp[28 + 16 * i + 15] = std::uint8_t(i + 1);
  }
  icmp.resize(icmp.size() - trim);
  std::uint64_t sum = 0;
  auto add16 = [&](const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 2) sum += std::uint32_t(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
  };
  add16(s.octets.data(), 16);
  add16(d.octets.data(), 16);
  sum += icmp.size() + 58;
  add16(icmp.data(), icmp.size());
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  icmp[2] = std::uint8_t(~sum >> 8);
  icmp[3] = std::uint8_t(~sum);
  Frame f;
  const auto mac = d.octets;  // 33:33 + the low 32 bits of the destination
  for (std::uint8_t b : {std::uint8_t(0x33), std::uint8_t(0x33), mac[12], mac[13], mac[14], mac[15]}) f.push_back(b);
  for (std::uint8_t b : {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}) f.push_back(std::uint8_t(b));
  f.push_back(0x86), f.push_back(0xdd);
  const std::size_t hbh = router_alert ? 8 : 0;
  const std::size_t plen = hbh + icmp.size();
  for (std::uint8_t b : {0x60, 0x00, 0x00, 0x00}) f.push_back(std::uint8_t(b));
  f.push_back(std::uint8_t(plen >> 8)), f.push_back(std::uint8_t(plen));
  f.push_back(router_alert ? 0 : 58), f.push_back(hop_limit);
  f.insert(f.end(), s.octets.begin(), s.octets.end());
  f.insert(f.end(), d.octets.begin(), d.octets.end());
  if (router_alert) {
    for (std::uint8_t b : {58, 0, 5, 2, 0, 0, 1, 0}) f.push_back(std::uint8_t(b));  // RA (MLD), PadN
  }
  f.insert(f.end(), icmp.begin(), icmp.end());
  return f;
}

// The Multicast Address Records of an MLDv2 report the stack sent: (record type, group).
std::vector<std::pair<int, std::string>> mld_records(const Out& o) {
  std::vector<std::pair<int, std::string>> r;
  EXPECT_EQ(o.next_header, 0);
  EXPECT_EQ(o.dst, "ff02::16");
  EXPECT_EQ(o.hop_limit, 1);
  const auto& p = o.payload;  // Hop-by-Hop (8), then the report
  if (p.size() < 16 || p[8] != 143) {
    ADD_FAILURE() << "not an MLDv2 report";
    return r;
  }
  const std::size_t n = std::size_t(p[8 + 6] << 8 | p[8 + 7]);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t off = 16 + 20 * i;
    if (off + 20 > p.size()) {
      ADD_FAILURE() << "record past the end";
      break;
    }
    r.emplace_back(p[off], Ipv6Address::from_bytes(bytes_of(p).subspan(off + 4, 16)).to_string());
  }
  return r;
}

// What the stack sent since the last look is one MLDv2 report: the number of its records (0 for anything else).
std::size_t records_of_the_one_report(Harness6& h) {
  const auto out = h.sent();
  EXPECT_EQ(out.size(), 1u);
  return out.size() == 1u ? mld_records(out[0]).size() : 0;
}

// Two solicited-node groups: ff02::1:ff00:2 (the link-local and 2001:db8::2) and ff02::1:ff00:abcd.
InterfaceConfig config_two_groups() {
  InterfaceConfig c = config6();
  c.ipv6_addresses.push_back(Ipv6Cidr{*Ipv6Address::parse("2001:db8::abcd"), 64});
  return c;
}

TEST(Interface6Mld, MaxResponseCode_LinearBelow32768_ExponentialAbove) {
  EXPECT_EQ(mld_max_response_ms(0), 0u);
  EXPECT_EQ(mld_max_response_ms(10000), 10000u);
  EXPECT_EQ(mld_max_response_ms(0x7fff), 32767u);
  EXPECT_EQ(mld_max_response_ms(0x8000), 0x1000u << 3);         // mant 0, exp 0
  EXPECT_EQ(mld_max_response_ms(0xffff), 0x1fffu << 10);        // mant 0xfff, exp 7: the largest, 8387584 ms
  EXPECT_EQ(mld_max_response_ms(0x9234), (0x1234u | 0x1000u) << 4);  // exp 1
}

TEST(Interface6Mld, GeneralQuery_OneCurrentStateReportOfEveryGroupWithinTheMaxResponseDelay) {
  Harness6 h{config_two_groups()};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 2000));
  EXPECT_EQ(h.c().mld_queries_rx, 1u);
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 1u);
  const auto at = h.iface->poll_at();
  ASSERT_TRUE(at);
  EXPECT_LE(*at, h.now + milliseconds{2000});
  std::vector<Out> out = h.sent();
  if (*at > h.now) {
    EXPECT_TRUE(out.empty());  // not before the random delay
    h.now = *at;
    h.iface->poll(h.now);
    out = h.sent();
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].src, kOurLlS);
  EXPECT_EQ(out[0].eth_dst, "33:33:00:00:00:16");
  const auto recs = mld_records(out[0]);
  ASSERT_EQ(recs.size(), 2u);
  for (const auto& [type, group] : recs) EXPECT_EQ(type, 2);  // MODE_IS_EXCLUDE({})
  std::vector<std::string> groups{recs[0].second, recs[1].second};
  std::sort(groups.begin(), groups.end());
  EXPECT_EQ(groups, (std::vector<std::string>{"ff02::1:ff00:2", "ff02::1:ff00:abcd"}));
  // Answered once: nothing more within a long wait.
  h.advance(seconds(30));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().mld_reports_sent, 5u);  // the two joins at DAD and their repeats, then this answer
}

TEST(Interface6Mld, SpecificQuery_AnsweredForAJoinedGroupOnly) {
  Harness6 h{config_two_groups()};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1:ff00:abcd", "ff02::1:ff00:abcd", 500));
  h.inject_raw(mld_query(kRouterLlS, "ff02::1:ff00:77", "ff02::1:ff00:77", 500));  // not ours (nor its MAC)
  h.advance(milliseconds{500});
  const auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(mld_records(out[0]), (std::vector<std::pair<int, std::string>>{{2, "ff02::1:ff00:abcd"}}));
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 1u);
  // A query naming sources is answered with the group's whole state too.
  h.inject_raw(mld_query(kRouterLlS, "ff02::1:ff00:2", "ff02::1:ff00:2", 100, true, 1, true, 2));
  h.advance(milliseconds{100});
  const auto out2 = h.sent();
  ASSERT_EQ(out2.size(), 1u);
  EXPECT_EQ(mld_records(out2[0]), (std::vector<std::pair<int, std::string>>{{2, "ff02::1:ff00:2"}}));
}

TEST(Interface6Mld, PendingGeneralAnswerCoversALaterSpecificQuery) {
  Harness6 h{config_two_groups()};
  h.up();
  // Both arrive in one poll: the general answer is due at once (Maximum Response Delay 0), so the specific query,
  // whose answer could not come sooner, needs no timer of its own (RFC 3810 §6.2 rule 1).
  h.peer->transmit(h.now, bytes_of(mld_query(kRouterLlS, "ff02::1", "::", 0)));
  h.peer->transmit(h.now, bytes_of(mld_query(kRouterLlS, "ff02::1:ff00:2", "ff02::1:ff00:2", 1000)));
  h.iface->poll(h.now);
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 1u);
  h.advance(seconds(2));
  EXPECT_EQ(records_of_the_one_report(h), 2u);
}

TEST(Interface6Mld, InvalidQueriesDropped) {
  Harness6 h{config_two_groups()};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 100, true, 255));                 // Hop Limit not 1
  h.inject_raw(mld_query("2001:db8::fe", "ff02::1", "::", 100));                         // not link-local
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 100, true, 1, false));             // no Router Alert
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 100, true, 1, true, 0, 2));        // 26 bytes
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 100, true, 1, true, 3, 16));       // a source past the end
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "ff02::1:ff00:2", 100));                 // specific, to ff02::1
  // MLDv1 queries are checked alike before they may switch the mode.
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 100, false, 255));                 // MLDv1, Hop Limit 255
  h.inject_raw(mld_query("2001:db8::fe", "ff02::1", "::", 100, false));                  // MLDv1, not link-local
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "ff02::1:ff00:2", 100, false));          // MLDv1, specific, to ff02::1
  EXPECT_EQ(h.c().mld_queries_rx, 9u);
  EXPECT_EQ(h.c().drop_mld_query_invalid, 9u);
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 0u);
  EXPECT_EQ(h.c().mldv1_mode_entered, 0u);
  h.advance(seconds(10));
  EXPECT_TRUE(h.sent().empty());
}

// ---------------------------------------------------------------------------------------------------
// MLDv1 compatibility mode (RFC 3810 §8.2.1; MLDv1 itself: RFC 2710)

// What an MLDv1 Report or Done the stack sent says: (ICMPv6 type, group), after checking how it was sent (RFC 2710
// §3: hop limit 1, Hop-by-Hop with Router Alert 0, 24 bytes, the checksum right; a Report goes to its group, a
// Done to ff02::2, each to the group's 33:33 MAC).
std::pair<int, std::string> mldv1_message(const Out& o) {
  EXPECT_EQ(o.hop_limit, 1);
  EXPECT_EQ(o.next_header, 0);
  const auto& p = o.payload;
  if (p.size() != 8 + 24) {
    ADD_FAILURE() << "MLDv1 message of " << p.size() << " bytes after the IPv6 header";
    return {};
  }
  EXPECT_EQ(std::vector<std::uint8_t>(p.begin(), p.begin() + 8), (std::vector<std::uint8_t>{58, 0, 5, 2, 0, 0, 1, 0}));
  EXPECT_EQ(p[9], 0);                      // code
  EXPECT_EQ(p[12] | p[13] | p[14] | p[15], 0);  // Maximum Response Delay and reserved
  // The checksum over the pseudo-header and the message sums to 0xffff.
  const Ipv6Address s = *Ipv6Address::parse(o.src), d = *Ipv6Address::parse(o.dst);
  std::uint64_t sum = 24 + 58;
  for (std::size_t i = 0; i < 16; i += 2)
    sum += (s.octets[i] << 8 | s.octets[i + 1]) + (d.octets[i] << 8 | d.octets[i + 1]);
  for (std::size_t i = 8; i < p.size(); i += 2) sum += std::uint32_t(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu) << "checksum";
  const std::string group = Ipv6Address::from_bytes(bytes_of(p).subspan(16, 16)).to_string();
  const int type = p[8];
  EXPECT_EQ(o.dst, type == 131 ? group : "ff02::2");
  const auto dst = d.octets;
  char mac[18];
  std::snprintf(mac, sizeof mac, "33:33:%02x:%02x:%02x:%02x", dst[12], dst[13], dst[14], dst[15]);
  EXPECT_EQ(o.eth_dst, mac);
  return {type, group};
}

// An MLDv1 Report as another listener on the link sends it.
Frame mldv1_report_from(const std::string& src, const std::string& group, std::uint8_t hop_limit = 1) {
  Frame f = mld_query(src, group, group, 0, false, hop_limit);  // the same 24-byte layout, type 130
  const std::size_t icmp = 14 + 40 + 8;
  f[icmp] = 131;
  // Type 130 -> 131: the checksum field drops by 1 << 8 (one's complement arithmetic).
  std::uint32_t c = std::uint32_t(f[icmp + 2] << 8 | f[icmp + 3]);
  c += 0xffff - 0x0100;
  c = (c & 0xffff) + (c >> 16);
  f[icmp + 2] = std::uint8_t(c >> 8), f[icmp + 3] = std::uint8_t(c);
  return f;
}

std::vector<std::pair<int, std::string>> sorted_mldv1(const std::vector<Out>& out) {
  std::vector<std::pair<int, std::string>> r;
  for (const Out& o : out) r.push_back(mldv1_message(o));
  std::sort(r.begin(), r.end());
  return r;
}

TEST(Interface6Mld, Mldv1Query_SwitchesToMldv1_EachGroupAnsweredByItsOwnReport) {
  Harness6 h{config_two_groups()};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 1000, false));
  EXPECT_EQ(h.c().mldv1_mode_entered, 1u);
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 2u);  // a timer per group (RFC 2710 §4)
  h.advance(milliseconds(1000));
  const auto out = h.sent();
  EXPECT_EQ(sorted_mldv1(out), (std::vector<std::pair<int, std::string>>{{131, "ff02::1:ff00:2"},
                                                                          {131, "ff02::1:ff00:abcd"}}));
  for (const Out& o : out) EXPECT_EQ(o.src, kOurLlS);
  EXPECT_EQ(h.c().mldv1_reports_sent, 2u);
  EXPECT_EQ(h.c().mld_reports_sent, 4u);  // only the two MLDv2 joins at DAD and their repeats, before the change
  h.advance(seconds(30));
  EXPECT_TRUE(h.sent().empty());
  // A specific MLDv1 query is answered for its group alone.
  h.inject_raw(mld_query(kRouterLlS, "ff02::1:ff00:abcd", "ff02::1:ff00:abcd", 200, false));
  h.advance(milliseconds(200));
  EXPECT_EQ(sorted_mldv1(h.sent()), (std::vector<std::pair<int, std::string>>{{131, "ff02::1:ff00:abcd"}}));
}

TEST(Interface6Mld, Mldv1Mode_Mldv2QueriesGetMldv1Reports_UntilTheOlderVersionQuerierTimeout) {
  Harness6 h{config_two_groups()};
  h.up();
  const Instant v1_query_at = h.now;
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 500, false));
  h.advance(milliseconds(500));
  EXPECT_EQ(h.sent().size(), 2u);
  // An MLDv2 query while the mode lasts: answered as MLDv1 would, a Report per group.
  h.advance(seconds(100));
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 1000));
  h.advance(milliseconds(1000));
  EXPECT_EQ(sorted_mldv1(h.sent()), (std::vector<std::pair<int, std::string>>{{131, "ff02::1:ff00:2"},
                                                                              {131, "ff02::1:ff00:abcd"}}));
  EXPECT_EQ(h.c().mldv1_mode_entered, 1u);  // an MLDv2 query does not re-arm the timer, nor does it end the mode
  // RFC 3810 §9.12: Robustness Variable (2) times Query Interval (125 s) plus the query's Maximum Response
  // Delay (500 ms) after the last MLDv1 query, back to MLDv2.
  const Instant timeout = v1_query_at + seconds(250) + milliseconds(500);
  h.advance(timeout - h.now - microseconds(1));
  EXPECT_EQ(h.c().mldv1_mode_left, 0u);
  h.advance(microseconds(1));
  EXPECT_EQ(h.c().mldv1_mode_left, 1u);
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 0));
  EXPECT_EQ(records_of_the_one_report(h), 2u);  // an MLDv2 Current State Report again
  EXPECT_EQ(h.c().mldv1_reports_sent, 4u);
}

TEST(Interface6Mld, Mldv1Query_RearmsTheTimer_AndCancelsAPendingMldv2Answer) {
  Harness6 h{config_two_groups()};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 5000));  // MLDv2: one answer within 5 s
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 1u);
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 0, false));  // MLDv1: Reports at once
  EXPECT_EQ(sorted_mldv1(h.sent()), (std::vector<std::pair<int, std::string>>{{131, "ff02::1:ff00:2"},
                                                                              {131, "ff02::1:ff00:abcd"}}));
  h.advance(seconds(5));
  EXPECT_TRUE(h.sent().empty());  // the MLDv2 answer went with the mode change
  EXPECT_EQ(h.c().mld_reports_sent, 4u);  // the joins and their repeats only
  // A second MLDv1 query 200 s later re-arms the 250 s timer: still MLDv1 at 300 s.
  h.advance(seconds(195));
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 0, false));
  EXPECT_EQ(h.sent().size(), 2u);
  h.advance(seconds(100));
  EXPECT_EQ(h.c().mldv1_mode_left, 0u);
  EXPECT_EQ(h.c().mldv1_mode_entered, 1u);
  h.advance(seconds(150));
  EXPECT_EQ(h.c().mldv1_mode_left, 1u);
}

TEST(Interface6Mld, Mldv1Mode_AnotherListenersReportSuppressesOurs) {
  Harness6 h{config_two_groups()};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 10000, false));
  // Not as MLD messages are sent (Hop Limit 255, or a global source): ignored, nothing suppressed.
  h.inject_raw(mldv1_report_from("fe80::77", "ff02::1:ff00:abcd", 255));
  h.inject_raw(mldv1_report_from("2001:db8::77", "ff02::1:ff00:abcd"));
  EXPECT_EQ(h.c().mld_ignored, 2u);
  // Another listener of ff02::1:ff00:abcd reports it first: the router knows, ours is not sent.
  h.inject_raw(mldv1_report_from("fe80::77", "ff02::1:ff00:abcd"));
  EXPECT_EQ(h.c().mldv1_reports_suppressed, 1u);
  h.advance(seconds(10));
  EXPECT_EQ(sorted_mldv1(h.sent()), (std::vector<std::pair<int, std::string>>{{131, "ff02::1:ff00:2"}}));
  // In MLDv2 mode nothing is suppressed (RFC 3810 §6).
  h.advance(seconds(250));
  ASSERT_EQ(h.c().mldv1_mode_left, 1u);
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 10000));
  h.inject_raw(mldv1_report_from("fe80::77", "ff02::1:ff00:abcd"));
  EXPECT_EQ(h.c().mldv1_reports_suppressed, 1u);
  h.advance(seconds(10));
  EXPECT_EQ(records_of_the_one_report(h), 2u);
}

TEST(Interface6Mld, Mldv1Mode_JoinsAreMldv1ReportsFromTheUnspecifiedAddressDuringDad) {
  InterfaceConfig cfg = config6();
  cfg.max_dad_delay = seconds(1);
  Harness6 h{cfg};
  h.iface->poll(h.now);  // starts address configuration: the join waits for a random delay
  const auto at = h.iface->poll_at();
  ASSERT_TRUE(at);
  ASSERT_GT(*at, h.now) << "this seed joins at once; the test needs a delay";
  ASSERT_TRUE(h.sent().empty());
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 1000, false));
  EXPECT_EQ(h.c().mldv1_mode_entered, 1u);
  h.advance(seconds(1));
  std::vector<Out> mld, others;
  for (Out& o : h.sent()) (o.next_header == 0 ? mld : others).push_back(std::move(o));
  ASSERT_EQ(mld.size(), 1u);
  EXPECT_EQ(mldv1_message(mld[0]), (std::pair<int, std::string>{131, "ff02::1:ff00:2"}));
  EXPECT_EQ(mld[0].src, "::");  // RFC 3590 §4: no usable link-local address yet
  ASSERT_EQ(others.size(), 2u);  // and a DAD NS for each address (which share the one group)
  for (const Out& o : others) EXPECT_EQ(o.icmp_type(), 135);
  EXPECT_EQ(h.c().mld_reports_sent, 0u);
  // RFC 2710 §4: the Report is repeated once within the MLDv1 Unsolicited Report Interval (10 s), by now from
  // the link-local address, which passed DAD.
  const auto repeat = h.iface->poll_at();
  ASSERT_TRUE(repeat);
  ASSERT_LE(*repeat, h.now + seconds(10));
  h.advance(seconds(10));
  const auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(mldv1_message(out[0]), (std::pair<int, std::string>{131, "ff02::1:ff00:2"}));
  EXPECT_EQ(out[0].src, kOurLlS);
  EXPECT_EQ(h.c().mld_report_retransmissions, 1u);
  h.advance(seconds(60));
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface6Mld, AJoinIsRepeatedOnlyWhileTheGroupIsStillJoined) {
  Harness6 h{config_two_groups()};
  h.iface->poll(h.now);  // joins ff02::1:ff00:2 and ff02::1:ff00:abcd; each repeat is due within 1 s
  EXPECT_EQ(h.c().mld_reports_sent, 2u);
  h.sent();
  // 2001:db8::abcd turns out to be a duplicate (RFC 4862 §5.4.4): its group is no longer ours to report.
  h.inject(Harness6::na_from(kPeerS, "ff02::1", "2001:db8::abcd", kPeerMacS, false, true));
  ASSERT_EQ(h.iface->address_state(*Ipv6Address::parse("2001:db8::abcd")), AddressState::kDuplicate);
  h.advance(seconds(2));
  std::vector<std::pair<int, std::string>> reports;
  for (const Out& o : h.sent())
    if (o.next_header == 0)
      for (const auto& r : mld_records(o)) reports.push_back(r);
  EXPECT_EQ(reports, (std::vector<std::pair<int, std::string>>{{4, "ff02::1:ff00:2"}}));  // CHANGE_TO_EXCLUDE
  EXPECT_EQ(h.c().mld_report_retransmissions, 1u);
}

TEST(Interface6Mld, ModeChangeCancelsThePendingRepeatOfAJoin) {
  Harness6 h;
  h.iface->poll(h.now);  // the join (MLDv2) and the DAD probes; the join's repeat is due within 1 s
  EXPECT_EQ(h.c().mld_reports_sent, 1u);
  h.sent();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 0, false));  // MLDv1, answered at once
  EXPECT_EQ(sorted_mldv1(h.sent()), (std::vector<std::pair<int, std::string>>{{131, "ff02::1:ff00:2"}}));
  h.advance(seconds(2));
  EXPECT_TRUE(h.sent().empty());  // RFC 3810 §8.2.1: the change of mode cancelled the MLDv2 repeat
  EXPECT_EQ(h.c().mld_reports_sent, 1u);
  EXPECT_EQ(h.c().mld_report_retransmissions, 0u);
}

TEST(Interface6Mld, Mldv1CompatOff_Mldv1QueriesIgnored) {
  InterfaceConfig cfg = config_two_groups();
  cfg.mldv1_compat = false;
  Harness6 h{cfg};
  h.up();
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 100, false));
  EXPECT_EQ(h.c().mld_v1_queries_ignored, 1u);
  EXPECT_EQ(h.c().mldv1_mode_entered, 0u);
  EXPECT_EQ(h.c().mld_query_answers_scheduled, 0u);
  h.advance(seconds(10));
  EXPECT_TRUE(h.sent().empty());
  // MLDv2 queries are answered as ever.
  h.inject_raw(mld_query(kRouterLlS, "ff02::1", "::", 0));
  EXPECT_EQ(records_of_the_one_report(h), 2u);
}

}  // namespace
}  // namespace tapstack::ip
