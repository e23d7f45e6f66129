// ip::Interface over a MemoryLink pair: libtins crafts what the peer sends and parses what the stack emits,
// so our own parsers are never the only judge of our output. Time is a hand-moved Instant; SeededRng.
#include "ip/interface.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "stack/checksum.hpp"
#include "stack/memory_link.hpp"

namespace tapstack::ip {
namespace {

using Frame = std::vector<std::uint8_t>;

constexpr MacAddress kOurMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
constexpr MacAddress kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
constexpr MacAddress kGwMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}};
constexpr Ipv4Address kOurIp{{192, 0, 2, 2}};
constexpr Ipv4Address kPeerIp{{192, 0, 2, 1}};
constexpr Ipv4Address kGwIp{{192, 0, 2, 254}};
constexpr Ipv4Address kRemoteIp{{198, 51, 100, 7}};
constexpr std::uint8_t kUdp = 17;

const std::string kOurMacS = "02:00:00:00:00:02", kPeerMacS = "02:00:00:00:00:01", kGwMacS = "02:00:00:00:00:fe";
const std::string kOurIpS = "192.0.2.2", kPeerIpS = "192.0.2.1", kGwIpS = "192.0.2.254", kRemoteIpS = "198.51.100.7";

Bytes bytes_of(const Frame& f) { return {reinterpret_cast<const std::byte*>(f.data()), f.size()}; }

// A transport that records what the interface hands it.
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

InterfaceConfig default_config() {
  InterfaceConfig c;
  c.mac = kOurMac;
  c.ipv4 = Ipv4Cidr{kOurIp, 24};
  c.gateway4 = kGwIp;
  c.ipv6 = false;  // these tests count every IPv4 frame and timer; IPv6 is covered by interface6_test.cpp
  return c;
}

struct Harness {
  std::unique_ptr<MemoryLink> link, peer;
  SeededRng rng{7};
  FakeTransport udp;
  std::unique_ptr<Interface> iface;
  Instant now = Instant::from_millis(1000);

  explicit Harness(InterfaceConfig cfg = default_config(), std::size_t mtu = 1500) {
    auto [a, b] = MemoryLink::pair({.mtu = mtu});
    link = std::move(a);
    peer = std::move(b);
    iface = std::make_unique<Interface>(*link, cfg, rng);
    iface->register_transport(IpProtocol::kUdp, udp);
  }
  const InterfaceCounters& c() const { return iface->counters(); }

  void inject_raw(const Frame& f) {
    peer->transmit(now, bytes_of(f));
    iface->poll(now);
  }
  void inject(Tins::PDU& pdu) { inject_raw(pdu.serialize()); }
  void inject(Tins::PDU&& pdu) { inject_raw(pdu.serialize()); }
  std::vector<Frame> sent() {
    std::vector<Frame> out;
    std::vector<std::byte> buf(kMaxFrameSize);
    while (auto n = peer->receive(now, MutableBytes{buf})) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(buf.data());
      out.emplace_back(p, p + *n);
    }
    return out;
  }
  void advance(Duration d) {
    now += d;
    iface->poll(now);
  }
  // The peer asks who has our address, which teaches us the peer's MAC (RFC 826). Clears what we sent.
  void resolve_peer() {
    inject(Tins::ARP::make_arp_request(kOurIpS, kPeerIpS, kPeerMacS));
    ASSERT_EQ(sent().size(), 1u);
  }
  // Sends `payload` as a UDP-like transport payload through IpSender.
  SendResult send_payload(Ipv4Address dst, const std::vector<std::uint8_t>& payload, bool df = false,
                          std::uint8_t proto = kUdp) {
    IpSendParams p;
    p.dst = dst;
    p.protocol = proto;
    p.dont_fragment = df;
    return iface->send(now, p, payload.size(), [&](MutableBytes out, const PseudoHeader& ph) {
      EXPECT_EQ(ph.length, payload.size());
      std::copy(payload.begin(), payload.end(), reinterpret_cast<std::uint8_t*>(out.data()));
    });
  }
};

Tins::EthernetII from_peer() { return Tins::EthernetII(kOurMacS, kPeerMacS); }
Tins::IP ip_from_peer() { return Tins::IP(kOurIpS, kPeerIpS); }

Tins::EthernetII udp_frame(const std::string& data = "hello, stack", std::uint16_t dport = 7, std::uint16_t sport = 40000) {
  return from_peer() / ip_from_peer() / Tins::UDP(dport, sport) / Tins::RawPDU(data);
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::uint8_t(i * 13 + 5);
  return v;
}

// Splits an IP packet (as libtins serialized it, 20-byte header) into Ethernet frames of fragments whose
// payload is at most `piece` bytes (a multiple of 8).
std::vector<Frame> fragment(const Frame& ip_packet, std::size_t piece, std::uint16_t id) {
  const std::uint8_t proto = ip_packet[9];
  const Frame payload(ip_packet.begin() + 20, ip_packet.end());
  std::vector<Frame> out;
  for (std::size_t off = 0; off < payload.size(); off += piece) {
    const std::size_t len = std::min(piece, payload.size() - off);
    Tins::IP ip = ip_from_peer();
    ip.id(id);
    ip.protocol(proto);
    ip.fragment_offset(std::uint16_t(off / 8));
    if (off + len < payload.size()) ip.flags(Tins::IP::MORE_FRAGMENTS);
    Tins::EthernetII eth = from_peer() / ip / Tins::RawPDU(payload.data() + off, std::uint32_t(len));
    out.push_back(eth.serialize());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// ARP

TEST(Interface, AnswersArpRequestForOurAddress) {
  Harness h;
  h.inject(Tins::ARP::make_arp_request(kOurIpS, kPeerIpS, kPeerMacS));
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  EXPECT_EQ(eth.dst_addr().to_string(), kPeerMacS);
  EXPECT_EQ(eth.src_addr().to_string(), kOurMacS);
  const auto& arp = eth.rfind_pdu<Tins::ARP>();
  EXPECT_EQ(arp.opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(arp.sender_hw_addr().to_string(), kOurMacS);
  EXPECT_EQ(arp.sender_ip_addr().to_string(), kOurIpS);
  EXPECT_EQ(arp.target_hw_addr().to_string(), kPeerMacS);
  EXPECT_EQ(arp.target_ip_addr().to_string(), kPeerIpS);
  EXPECT_EQ(h.c().arp_replies_sent, 1u);
  // The requester was learned: a packet to it leaves at once, without a request.
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(10)), SendResult::kSent);
  EXPECT_EQ(h.sent().size(), 1u);
}

TEST(Interface, IgnoresArpForOtherHostsAndDoesNotLearn) {
  Harness h;
  h.inject(Tins::ARP::make_arp_request("192.0.2.3", kPeerIpS, kPeerMacS));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().arp_not_for_us, 1u);
  EXPECT_EQ(h.iface->arp_cache().size(), 0u);
  // Gratuitous ARP from the peer does not create an entry either.
  h.inject(Tins::ARP::make_arp_request(kPeerIpS, kPeerIpS, kPeerMacS));
  EXPECT_EQ(h.iface->arp_cache().size(), 0u);
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(10)), SendResult::kQueued);
}

TEST(Interface, ArpClaimingOurAddressIsNotLearned) {
  Harness h;
  h.inject(Tins::ARP::make_arp_reply(kOurIpS, kOurIpS, kOurMacS, kPeerMacS));
  EXPECT_EQ(h.c().drop_arp_conflict, 1u);
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, FirstPacketToUnresolvedNeighbourIsSentAfterArpReply) {
  Harness h;
  const auto first = pattern(100), second = pattern(50);
  EXPECT_EQ(h.send_payload(kPeerIp, first), SendResult::kQueued);
  EXPECT_EQ(h.send_payload(kPeerIp, second), SendResult::kQueued);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);  // one request for both
  Tins::EthernetII req(out[0].data(), std::uint32_t(out[0].size()));
  EXPECT_EQ(req.dst_addr(), Tins::EthernetII::BROADCAST);
  const auto& a = req.rfind_pdu<Tins::ARP>();
  EXPECT_EQ(a.opcode(), Tins::ARP::REQUEST);
  EXPECT_EQ(a.target_ip_addr().to_string(), kPeerIpS);
  EXPECT_EQ(a.sender_ip_addr().to_string(), kOurIpS);
  EXPECT_EQ(a.sender_hw_addr().to_string(), kOurMacS);

  h.inject(Tins::ARP::make_arp_reply(kOurIpS, kPeerIpS, kOurMacS, kPeerMacS));
  out = h.sent();
  ASSERT_EQ(out.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    Tins::EthernetII eth(out[i].data(), std::uint32_t(out[i].size()));
    EXPECT_EQ(eth.dst_addr().to_string(), kPeerMacS);
    const auto& ip = eth.rfind_pdu<Tins::IP>();
    EXPECT_EQ(ip.dst_addr().to_string(), kPeerIpS);
    EXPECT_EQ(ip.src_addr().to_string(), kOurIpS);
    EXPECT_EQ(ip.protocol(), kUdp);
    EXPECT_EQ(Frame(out[i].begin() + 34, out[i].end()), i == 0 ? first : second) << "packets flushed in order";
  }
}

TEST(Interface, ArpResolutionGivesUpAfterThreeRequests) {
  Harness h;
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(10)), SendResult::kQueued);
  EXPECT_EQ(h.sent().size(), 1u);
  EXPECT_EQ(h.iface->poll_at(), h.now + seconds(1));
  h.advance(milliseconds(500));
  EXPECT_TRUE(h.sent().empty());  // at most one request per second (RFC 1122 §2.3.2.1)
  h.advance(milliseconds(500));
  EXPECT_EQ(h.sent().size(), 1u);
  h.advance(seconds(1));
  EXPECT_EQ(h.sent().size(), 1u);
  h.advance(seconds(1));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().arp_requests_sent, 3u);
  EXPECT_EQ(h.iface->arp_cache().counters().drop_resolution_failed, 1u);
  EXPECT_EQ(h.iface->poll_at(), std::nullopt);
}

TEST(Interface, GatewayRoutingUsesTheGatewaysMac) {
  Harness h;
  const auto data = pattern(40);
  EXPECT_EQ(h.send_payload(kRemoteIp, data), SendResult::kQueued);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII req(out[0].data(), std::uint32_t(out[0].size()));
  EXPECT_EQ(req.rfind_pdu<Tins::ARP>().target_ip_addr().to_string(), kGwIpS);
  h.inject(Tins::ARP::make_arp_reply(kOurIpS, kGwIpS, kOurMacS, kGwMacS));
  out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  EXPECT_EQ(eth.dst_addr().to_string(), kGwMacS);
  EXPECT_EQ(eth.rfind_pdu<Tins::IP>().dst_addr().to_string(), kRemoteIpS);
  EXPECT_EQ(h.iface->source_for(IpAddress{kRemoteIp}), IpAddress{kOurIp});
}

TEST(Interface, NoGatewayMeansNoRoute) {
  auto cfg = default_config();
  cfg.gateway4.reset();
  Harness h{cfg};
  EXPECT_EQ(h.send_payload(kRemoteIp, pattern(10)), SendResult::kNoRoute);
  EXPECT_EQ(h.iface->source_for(IpAddress{kRemoteIp}), std::nullopt);
  EXPECT_EQ(h.send_payload(kOurIp, pattern(10)), SendResult::kNoRoute);  // no loopback
  EXPECT_EQ(h.c().drop_tx_no_route, 2u);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_TRUE(h.iface->is_local(IpAddress{kOurIp}));
  EXPECT_FALSE(h.iface->is_local(IpAddress{kPeerIp}));
  EXPECT_EQ(h.iface->max_payload(IpAddress{kPeerIp}), 1480u);
}

TEST(Interface, LimitedBroadcastGoesToBroadcastMac) {
  Harness h;
  EXPECT_EQ(h.send_payload(Ipv4Address::broadcast(), pattern(12)), SendResult::kSent);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  EXPECT_EQ(eth.dst_addr(), Tins::EthernetII::BROADCAST);
  EXPECT_EQ(eth.rfind_pdu<Tins::IP>().dst_addr().to_string(), "255.255.255.255");
}

// ---------------------------------------------------------------------------------------------------
// ICMP echo

TEST(Interface, RepliesToPingWithIdenticalData) {
  Harness h;
  h.resolve_peer();
  const std::string data = "0123456789abcdefghijklmnopqrstuvwxyz";
  Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
  icmp.id(0x1234);
  icmp.sequence(7);
  h.inject(from_peer() / ip_from_peer() / icmp / Tins::RawPDU(data));
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  EXPECT_EQ(eth.dst_addr().to_string(), kPeerMacS);
  const auto& ip = eth.rfind_pdu<Tins::IP>();
  EXPECT_EQ(ip.src_addr().to_string(), kOurIpS);
  EXPECT_EQ(ip.dst_addr().to_string(), kPeerIpS);
  EXPECT_EQ(ip.ttl(), 64);
  const auto& reply = eth.rfind_pdu<Tins::ICMP>();
  EXPECT_EQ(reply.type(), Tins::ICMP::ECHO_REPLY);
  EXPECT_EQ(reply.id(), 0x1234);
  EXPECT_EQ(reply.sequence(), 7);
  const auto& raw = eth.rfind_pdu<Tins::RawPDU>().payload();
  EXPECT_EQ(std::string(raw.begin(), raw.end()), data);
  // Checksums verify over the bytes as sent (IP header and ICMP message).
  const Bytes b = bytes_of(out[0]);
  EXPECT_EQ(internet_checksum(b.subspan(14, 20)), 0);
  EXPECT_EQ(internet_checksum(b.subspan(34)), 0);
  EXPECT_EQ(h.c().icmp_echo_replies_sent, 1u);
}

TEST(Interface, FragmentedPingIsReassembledAndTheReplyFragmented) {
  Harness h;
  h.resolve_peer();
  const auto data = pattern(4000);
  Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
  icmp.id(77);
  icmp.sequence(1);
  Tins::IP whole = ip_from_peer() / icmp / Tins::RawPDU(data);
  const Frame packet = whole.serialize();
  auto frags = fragment(packet, 1480, 0x4242);
  ASSERT_EQ(frags.size(), 3u);
  // Out of order: last, first, middle.
  h.inject_raw(frags[2]);
  h.inject_raw(frags[0]);
  EXPECT_TRUE(h.sent().empty());
  h.inject_raw(frags[1]);
  EXPECT_EQ(h.c().ipv4_reassembled, 1u);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 3u);
  Tins::IPv4Reassembler reasm;
  std::optional<Tins::EthernetII> whole_reply;
  std::size_t covered = 0;
  for (const auto& f : out) {
    EXPECT_LE(f.size(), 14u + 1500u);
    Tins::EthernetII eth(f.data(), std::uint32_t(f.size()));
    const auto& ip = eth.rfind_pdu<Tins::IP>();
    EXPECT_EQ(ip.fragment_offset() * 8u, covered);
    covered += ip.tot_len() - 20u;
    if (reasm.process(eth) == Tins::IPv4Reassembler::REASSEMBLED) whole_reply = eth;
  }
  EXPECT_EQ(covered, 8u + 4000u);
  ASSERT_TRUE(whole_reply);
  const auto& reply = whole_reply->rfind_pdu<Tins::ICMP>();
  EXPECT_EQ(reply.type(), Tins::ICMP::ECHO_REPLY);
  EXPECT_EQ(reply.id(), 77);
  EXPECT_EQ(whole_reply->rfind_pdu<Tins::RawPDU>().payload(), data);
}

TEST(Interface, BroadcastPingIsNotAnswered) {
  Harness h;
  Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / Tins::IP("192.0.2.255", kPeerIpS) / icmp / Tins::RawPDU("x"));
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / Tins::IP("255.255.255.255", kPeerIpS) / icmp / Tins::RawPDU("x"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().drop_icmp_echo_broadcast, 2u);
}

TEST(Interface, PingClientReceivesReplies) {
  Harness h;
  h.resolve_peer();
  EXPECT_EQ(h.iface->send_echo_request(h.now, kPeerIp, 9, 3, as_bytes("ping!")), SendResult::kSent);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  const auto& req = eth.rfind_pdu<Tins::ICMP>();
  EXPECT_EQ(req.type(), Tins::ICMP::ECHO_REQUEST);
  EXPECT_EQ(req.id(), 9);
  EXPECT_EQ(req.sequence(), 3);
  Tins::ICMP rep(Tins::ICMP::ECHO_REPLY);
  rep.id(9);
  rep.sequence(3);
  Tins::IP ip = ip_from_peer();
  ip.ttl(61);
  h.inject(from_peer() / ip / rep / Tins::RawPDU("ping!"));
  auto r = h.iface->pop_echo_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (EchoReply{kPeerIp, 9, 3, 61, 5, h.now}));
  EXPECT_FALSE(h.iface->pop_echo_reply());
}

// ---------------------------------------------------------------------------------------------------
// Fragmented sends

TEST(Interface, FragmentedSendRespectsMtuAndEightByteOffsets) {
  Harness h{default_config(), 1000};
  h.resolve_peer();
  const auto data = pattern(3000);
  EXPECT_EQ(h.send_payload(kPeerIp, data), SendResult::kSent);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 4u);  // 976 + 976 + 976 + 72
  std::vector<std::uint8_t> joined(3000);
  std::size_t covered = 0;
  std::uint16_t id = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Bytes b = bytes_of(out[i]);
    ASSERT_LE(b.size(), 14u + 1000u);
    Tins::EthernetII eth(out[i].data(), std::uint32_t(out[i].size()));
    const auto& ip = eth.rfind_pdu<Tins::IP>();
    EXPECT_EQ(internet_checksum(b.subspan(14, 20)), 0);
    const std::size_t off = ip.fragment_offset() * 8u, len = ip.tot_len() - 20u;
    EXPECT_EQ(off, covered);
    const bool last = i + 1 == out.size();
    EXPECT_EQ((ip.flags() & Tins::IP::MORE_FRAGMENTS) != 0, !last);
    if (!last) {
      EXPECT_EQ(len % 8, 0u);
    }
    if (i == 0) id = ip.id();
    EXPECT_EQ(ip.id(), id);
    std::copy(out[i].begin() + 34, out[i].end(), joined.begin() + std::ptrdiff_t(off));
    covered += len;
  }
  EXPECT_EQ(covered, 3000u);
  EXPECT_EQ(joined, data);
  EXPECT_EQ(h.c().tx_fragments, 4u);
  // DF set and too big: refused.
  EXPECT_EQ(h.send_payload(kPeerIp, data, true), SendResult::kTooBig);
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(980), true), SendResult::kSent);
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(65516)), SendResult::kTooBig);
}

TEST(Interface, FragmentedSendToUnresolvedNeighbourQueuesEveryFragment) {
  Harness h{default_config(), 1000};
  // Protocol 253 (experimental) so that libtins keeps the payload raw instead of re-encoding a UDP header.
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(2500), false, 253), SendResult::kQueued);
  EXPECT_EQ(h.sent().size(), 1u);  // the ARP request
  h.inject(Tins::ARP::make_arp_reply(kOurIpS, kPeerIpS, kOurMacS, kPeerMacS));
  auto out = h.sent();
  ASSERT_EQ(out.size(), 3u);
  Tins::IPv4Reassembler reasm;
  int done = 0;
  for (auto& f : out) {
    Tins::EthernetII eth(f.data(), std::uint32_t(f.size()));
    if (reasm.process(eth) == Tins::IPv4Reassembler::REASSEMBLED) {
      ++done;
      EXPECT_EQ(eth.rfind_pdu<Tins::IP>().protocol(), 253);
      EXPECT_EQ(eth.rfind_pdu<Tins::RawPDU>().payload(), pattern(2500));
    }
  }
  EXPECT_EQ(done, 1);
}

// ---------------------------------------------------------------------------------------------------
// Transports and ICMP errors

TEST(Interface, TransportReceivesPackets) {
  Harness h;
  h.inject(udp_frame("datagram", 5353, 40001));
  ASSERT_EQ(h.udp.packets.size(), 1u);
  const auto& p = h.udp.packets[0];
  EXPECT_EQ(p.info.src, IpAddress{kPeerIp});
  EXPECT_EQ(p.info.dst, IpAddress{kOurIp});
  EXPECT_EQ(p.info.protocol, kUdp);
  EXPECT_FALSE(p.info.dst_broadcast);
  ASSERT_EQ(p.payload.size(), 8u + 8u);
  EXPECT_EQ(p.payload[0] << 8 | p.payload[1], 40001);
  EXPECT_EQ(p.payload[2] << 8 | p.payload[3], 5353);
  EXPECT_EQ(std::string(p.payload.begin() + 8, p.payload.end()), "datagram");
  EXPECT_EQ(h.c().ipv4_delivered, 1u);
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, EthernetPaddingIsTrimmed) {
  Harness h;
  Frame f = udp_frame("ab").serialize();
  const std::size_t ip_end = 14 + 20 + 8 + 2;
  f.resize(ip_end);
  f.resize(60, 0xee);  // padding to the Ethernet minimum
  h.inject_raw(f);
  ASSERT_EQ(h.udp.packets.size(), 1u);
  EXPECT_EQ(h.udp.packets[0].payload.size(), 10u);
}

TEST(Interface, UnknownProtocolGetsProtocolUnreachable) {
  Harness h;
  h.resolve_peer();
  Tins::IP ip = ip_from_peer();
  ip.protocol(253);
  const Frame frame = (from_peer() / ip / Tins::RawPDU("experimental payload")).serialize();
  h.inject_raw(frame);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  const auto& icmp = eth.rfind_pdu<Tins::ICMP>();
  EXPECT_EQ(icmp.type(), Tins::ICMP::DEST_UNREACHABLE);
  EXPECT_EQ(icmp.code(), 2);
  EXPECT_EQ(eth.rfind_pdu<Tins::IP>().dst_addr().to_string(), kPeerIpS);
  // The quote is the offending IP packet (header + its 20 payload bytes, all of it here).
  const Frame quote(out[0].begin() + 42, out[0].end());
  EXPECT_EQ(quote, Frame(frame.begin() + 14, frame.begin() + 14 + 40));  // libtins pads the frame to 60
  EXPECT_EQ(internet_checksum(bytes_of(out[0]).subspan(34)), 0);
  EXPECT_EQ(h.c().drop_unknown_protocol, 1u);
  EXPECT_EQ(h.c().icmp_errors_sent, 1u);
}

TEST(Interface, PortUnreachableVerdictSendsIcmpQuotingTheHeader) {
  Harness h;
  h.resolve_peer();
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  const Frame frame = udp_frame(std::string(1000, 'q')).serialize();
  h.inject_raw(frame);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  const auto& icmp = eth.rfind_pdu<Tins::ICMP>();
  EXPECT_EQ(icmp.type(), Tins::ICMP::DEST_UNREACHABLE);
  EXPECT_EQ(icmp.code(), 3);
  // 576-byte limit: IP 20 + ICMP 8 + quote 548 (RFC 1812 §4.3.2.3), quote = the packet's first 548 bytes.
  EXPECT_EQ(out[0].size(), 14u + 576u);
  const Frame quote(out[0].begin() + 42, out[0].end());
  EXPECT_EQ(quote, Frame(frame.begin() + 14, frame.begin() + 14 + 548));
  EXPECT_EQ(h.c().rx_port_unreachable, 1u);
}

TEST(Interface, ReassembledDatagramToClosedPortIsQuotedFromItsFirstFragment) {
  Harness h;
  h.resolve_peer();
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  Tins::IP whole = ip_from_peer() / Tins::UDP(9, 40000) / Tins::RawPDU(std::string(2000, 'z'));
  auto frags = fragment(whole.serialize(), 1480, 99);
  for (auto& f : frags) h.inject_raw(f);
  ASSERT_EQ(h.udp.packets.size(), 1u);
  EXPECT_EQ(h.udp.packets[0].payload.size(), 2008u);
  auto out = h.sent();
  ASSERT_EQ(out.size(), 1u);
  const Frame quote(out[0].begin() + 42, out[0].end());
  EXPECT_EQ(Frame(quote.begin(), quote.begin() + 28), Frame(frags[0].begin() + 14, frags[0].begin() + 42));
}

TEST(Interface, NoIcmpErrorForBroadcast) {
  Harness h;
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / Tins::IP("192.0.2.255", kPeerIpS) / Tins::UDP(9, 1) / Tins::RawPDU("b"));
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / Tins::IP("255.255.255.255", kPeerIpS) / Tins::UDP(9, 1) / Tins::RawPDU("b"));
  ASSERT_EQ(h.udp.packets.size(), 2u);
  EXPECT_TRUE(h.udp.packets[0].info.dst_broadcast);
  Tins::IP unknown("192.0.2.255", kPeerIpS);
  unknown.protocol(253);
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / unknown / Tins::RawPDU("b"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().icmp_error_suppressed, 3u);
  EXPECT_EQ(h.c().icmp_errors_sent, 0u);
}

TEST(Interface, NoIcmpErrorAboutAnIcmpError) {
  Harness h;
  h.resolve_peer();
  // An error quoting a packet of a protocol nobody registered (and one quoting ICMP itself): dropped
  // quietly, never answered with an error of our own.
  Tins::IP quoted(kPeerIpS, kOurIpS);
  quoted.protocol(253);
  Frame q = (quoted / Tins::RawPDU("12345678")).serialize();
  Tins::ICMP err(Tins::ICMP::DEST_UNREACHABLE);
  err.code(1);
  h.inject(from_peer() / ip_from_peer() / err / Tins::RawPDU(q));
  Tins::ICMP inner(Tins::ICMP::DEST_UNREACHABLE);
  Frame q2 = (Tins::IP(kPeerIpS, kOurIpS) / inner / Tins::RawPDU("abcd")).serialize();
  h.inject(from_peer() / ip_from_peer() / err / Tins::RawPDU(q2));
  // An unknown ICMP type: silently discarded (RFC 1122 §3.2.2).
  Tins::ICMP odd(Tins::ICMP::Flags(42));
  h.inject(from_peer() / ip_from_peer() / odd / Tins::RawPDU("zz"));
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.c().drop_icmp_error_no_transport, 2u);
  EXPECT_EQ(h.c().drop_icmp_unsupported, 1u);
  EXPECT_EQ(h.c().icmp_errors_sent, 0u);
}

TEST(Interface, TransportReceivesIcmpErrorsAboutItsPackets) {
  Harness h;
  // What we once sent: 192.0.2.2:5000 -> 198.51.100.7:53.
  Frame q = (Tins::IP(kRemoteIpS, kOurIpS) / Tins::UDP(53, 5000) / Tins::RawPDU("query")).serialize();
  Tins::ICMP err(Tins::ICMP::DEST_UNREACHABLE);
  err.code(3);
  h.inject(from_peer() / Tins::IP(kOurIpS, kGwIpS) / err / Tins::RawPDU(q));
  ASSERT_EQ(h.udp.errors.size(), 1u);
  const auto& e = h.udp.errors[0];
  EXPECT_EQ(e.info.kind, IcmpErrorInfo::Kind::kPortUnreachable);
  EXPECT_TRUE(e.info.hard);
  EXPECT_EQ(e.info.reporter, IpAddress{kGwIp});
  EXPECT_EQ(e.info.orig_src, IpAddress{kOurIp});
  EXPECT_EQ(e.info.orig_dst, IpAddress{kRemoteIp});
  EXPECT_EQ(e.info.protocol, kUdp);
  ASSERT_GE(e.quoted.size(), 8u);
  EXPECT_EQ(e.quoted[0] << 8 | e.quoted[1], 5000);
  EXPECT_EQ(e.quoted[2] << 8 | e.quoted[3], 53);

  // Frag needed carries the next-hop MTU (RFC 1191).
  Tins::ICMP fn(Tins::ICMP::DEST_UNREACHABLE);
  fn.code(4);
  fn.mtu(1400);
  h.inject(from_peer() / Tins::IP(kOurIpS, kGwIpS) / fn / Tins::RawPDU(q));
  ASSERT_EQ(h.udp.errors.size(), 2u);
  EXPECT_EQ(h.udp.errors[1].info.kind, IcmpErrorInfo::Kind::kFragNeeded);
  EXPECT_FALSE(h.udp.errors[1].info.hard);
  EXPECT_EQ(h.udp.errors[1].info.next_hop_mtu, 1400u);

  // Time exceeded: soft.
  Tins::ICMP te(Tins::ICMP::TIME_EXCEEDED);
  h.inject(from_peer() / Tins::IP(kOurIpS, kGwIpS) / te / Tins::RawPDU(q));
  ASSERT_EQ(h.udp.errors.size(), 3u);
  EXPECT_EQ(h.udp.errors[2].info.kind, IcmpErrorInfo::Kind::kTimeExceeded);

  // An error about a packet someone else sent is not ours to deliver.
  Frame foreign = (Tins::IP(kRemoteIpS, "192.0.2.3") / Tins::UDP(53, 5000) / Tins::RawPDU("query")).serialize();
  h.inject(from_peer() / Tins::IP(kOurIpS, kGwIpS) / err / Tins::RawPDU(foreign));
  EXPECT_EQ(h.c().drop_icmp_error_not_ours, 1u);
  // A quote too short to hold the transport ports.
  Frame shortq(q.begin(), q.begin() + 24);
  h.inject(from_peer() / Tins::IP(kOurIpS, kGwIpS) / err / Tins::RawPDU(shortq));
  EXPECT_EQ(h.c().drop_icmp_bad_quote, 1u);
  EXPECT_EQ(h.udp.errors.size(), 3u);
  EXPECT_TRUE(h.sent().empty());
}

// An ICMP Redirect from `src` naming `gateway`, about a datagram we sent to `dst`. Built by hand: libtins 4.0
// (Debian 12) writes ICMP::gateway() byte-swapped on little-endian hosts (RFC 792 has it in network order).
Tins::EthernetII redirect4(const std::string& src, const std::string& gateway, const std::string& dst,
                           const std::string& quoted_src = kOurIpS, std::uint8_t code = 1) {
  const Frame q = (Tins::IP(dst, quoted_src) / Tins::UDP(53, 5000) / Tins::RawPDU("query")).serialize();
  const auto gw = Ipv4Address::parse(gateway)->octets;
  Frame icmp{5, code, 0, 0, gw[0], gw[1], gw[2], gw[3]};
  icmp.insert(icmp.end(), q.begin(), q.end());
  const std::uint16_t sum = internet_checksum(bytes_of(icmp));
  icmp[2] = std::uint8_t(sum >> 8), icmp[3] = std::uint8_t(sum);
  Tins::IP ip(kOurIpS, src);
  ip.protocol(1);
  return Tins::EthernetII(kOurMacS, kGwMacS) / ip / Tins::RawPDU(icmp);
}

// The next hop a datagram to `dst` goes to: the target of the ARP request it triggers, or, once the next hop is
// resolved, the router whose MAC the frame is sent to (02:00:00:00:00:fe is .254, 02:00:00:00:00:fd is .253).
std::string next_hop_asked(Harness& h, Ipv4Address dst) {
  const SendResult r = h.send_payload(dst, pattern(8));
  EXPECT_TRUE(r == SendResult::kQueued || r == SendResult::kSent);
  const auto out = h.sent();
  if (out.size() != 1u) return "(" + std::to_string(out.size()) + " frames)";
  Tins::EthernetII eth(out[0].data(), std::uint32_t(out[0].size()));
  if (const auto* arp = eth.find_pdu<Tins::ARP>()) return arp->target_ip_addr().to_string();
  const std::string mac = eth.dst_addr().to_string();
  return mac == kGwMacS ? kGwIpS : mac == "02:00:00:00:00:fd" ? "192.0.2.253" : "(MAC " + mac + ")";
}

TEST(Interface, IcmpRedirectFromOurGatewaySetsTheDestinationsNextHop) {
  Harness h;
  const Ipv4Address remote2{{198, 51, 100, 8}};
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), kGwIpS);
  h.inject(Tins::ARP::make_arp_reply(kOurIpS, kGwIpS, kOurMacS, kGwMacS));  // the gateway resolved
  h.sent();
  // Refused: from a host that is not our gateway for it; a gateway off our network, ours, or the broadcast; about
  // a datagram someone else sent; about an on-link destination; code 4 (not a redirect code).
  h.inject(redirect4(kPeerIpS, "192.0.2.253", kRemoteIpS));
  h.inject(redirect4(kGwIpS, "198.51.100.1", kRemoteIpS));
  h.inject(redirect4(kGwIpS, kOurIpS, kRemoteIpS));
  h.inject(redirect4(kGwIpS, "192.0.2.255", kRemoteIpS));
  h.inject(redirect4(kGwIpS, "192.0.2.253", kRemoteIpS, "192.0.2.3"));
  h.inject(redirect4(kGwIpS, "192.0.2.253", kPeerIpS));
  EXPECT_EQ(h.c().drop_icmp_redirect_invalid, 6u);
  h.inject(redirect4(kGwIpS, "192.0.2.253", kRemoteIpS, kOurIpS, 4));
  EXPECT_EQ(h.c().drop_icmp_unsupported, 1u);
  EXPECT_EQ(h.c().icmp_redirects_accepted, 0u);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), kGwIpS);

  // From our gateway (a network redirect, code 0, is taken as a host redirect): kRemoteIp now goes to .253.
  h.inject(redirect4(kGwIpS, "192.0.2.253", kRemoteIpS, kOurIpS, 0));
  EXPECT_EQ(h.c().icmp_redirects_accepted, 1u);
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), "192.0.2.253");
  h.inject(Tins::ARP::make_arp_reply(kOurIpS, "192.0.2.253", kOurMacS, "02:00:00:00:00:fd"));
  h.sent();
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), "192.0.2.253");
  EXPECT_EQ(next_hop_asked(h, remote2), kGwIpS);  // other destinations: unchanged
  // Only the new first hop may redirect kRemoteIp again.
  h.inject(redirect4(kGwIpS, "192.0.2.252", kRemoteIpS));
  EXPECT_EQ(h.c().drop_icmp_redirect_invalid, 7u);
  h.inject(redirect4("192.0.2.253", "192.0.2.252", kRemoteIpS));
  EXPECT_EQ(h.c().icmp_redirects_accepted, 2u);
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), "192.0.2.252");
  // Ten minutes after the last redirect, back to the configured gateway.
  h.advance(seconds(600));
  EXPECT_EQ(h.c().redirects4_expired, 1u);
  h.sent();
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), kGwIpS);
}

TEST(Interface, IcmpRedirectsIgnoredWhenNotAccepted) {
  auto cfg = default_config();
  cfg.accept_redirects4 = false;
  Harness h{cfg};
  h.inject(redirect4(kGwIpS, "192.0.2.253", kRemoteIpS));
  EXPECT_EQ(h.c().icmp_redirects_ignored, 1u);
  EXPECT_EQ(next_hop_asked(h, kRemoteIp), kGwIpS);
}

TEST(Interface, IcmpErrorsAreRateLimitedPerDestination) {
  auto cfg = default_config();
  cfg.icmp_rate = {.global_per_sec = 1000, .global_burst = 50, .per_dest_per_sec = 10, .per_dest_burst = 5};
  Harness h{cfg};
  h.resolve_peer();
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  for (int i = 0; i < 50; ++i) h.inject(udp_frame());
  const auto sent1 = h.c().icmp_errors_sent;
  EXPECT_EQ(h.sent().size(), sent1);
  EXPECT_EQ(sent1 + h.c().icmp_rate_limited, 50u);
  EXPECT_GE(sent1, 3u);   // a burst of 5 tokens, each error costing 0, 1 or 2
  EXPECT_LE(sent1, 20u);
  // Another destination has its own bucket.
  h.inject(Tins::ARP::make_arp_request(kOurIpS, "192.0.2.9", "02:00:00:00:00:09"));
  h.sent();
  h.inject(Tins::EthernetII(kOurMacS, "02:00:00:00:00:09") / Tins::IP(kOurIpS, "192.0.2.9") / Tins::UDP(9, 1) / Tins::RawPDU("x"));
  EXPECT_EQ(h.sent().size(), 1u);
  // Tokens come back with time: 10 per second.
  h.now += seconds(1);
  const auto limited = h.c().icmp_rate_limited;
  h.inject(udp_frame());
  EXPECT_EQ(h.sent().size(), 1u);
  EXPECT_EQ(h.c().icmp_rate_limited, limited);
}

// ---------------------------------------------------------------------------------------------------
// Bad input: each dropped frame bumps the right counter and nothing reaches a transport.

TEST(Interface, EveryTruncationOfAValidFrameIsDropped) {
  Harness h;
  const Frame frame = udp_frame(std::string(32, 'p')).serialize();
  ASSERT_EQ(frame.size(), 14u + 20u + 8u + 32u);
  for (std::size_t n = 0; n < frame.size(); ++n) h.inject_raw(Frame(frame.begin(), frame.begin() + std::ptrdiff_t(n)));
  EXPECT_TRUE(h.udp.packets.empty());
  EXPECT_EQ(h.c().drop_eth_short, 14u);
  EXPECT_EQ(h.c().drop_ipv4_bad_header, frame.size() - 14u);
  EXPECT_EQ(h.c().rx_frames, frame.size());
  h.inject_raw(frame);
  EXPECT_EQ(h.udp.packets.size(), 1u);
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, EveryTruncationOfAnArpFrameIsDropped) {
  Harness h;
  const Frame frame = Tins::ARP::make_arp_request(kOurIpS, kPeerIpS, kPeerMacS).serialize();
  for (std::size_t n = 14; n < 14 + 28; ++n) h.inject_raw(Frame(frame.begin(), frame.begin() + std::ptrdiff_t(n)));
  EXPECT_EQ(h.c().drop_arp_invalid, 28u);
  EXPECT_TRUE(h.sent().empty());
  EXPECT_EQ(h.iface->arp_cache().size(), 0u);
}

TEST(Interface, BadChecksumsAreDropped) {
  Harness h;
  Frame f = udp_frame().serialize();
  f[14 + 10] ^= 0x01;  // IP header checksum
  h.inject_raw(f);
  EXPECT_EQ(h.c().drop_ipv4_bad_checksum, 1u);
  Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
  Frame g = (from_peer() / ip_from_peer() / icmp / Tins::RawPDU("data")).serialize();
  g[14 + 20 + 2] ^= 0x40;  // ICMP checksum
  h.inject_raw(g);
  EXPECT_EQ(h.c().drop_icmp_bad_checksum, 1u);
  EXPECT_TRUE(h.udp.packets.empty());
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, BadSourceAddressesAreDropped) {
  Harness h;
  h.udp.verdict = TransportHandler::Verdict::kPortUnreachable;
  const std::vector<std::string> bad{"255.255.255.255", "224.0.0.1", "127.0.0.1", "0.0.0.0", "0.1.2.3",
                                     kOurIpS, "192.0.2.255", "240.0.0.1"};
  for (const auto& src : bad) h.inject(from_peer() / Tins::IP(kOurIpS, src) / Tins::UDP(9, 1) / Tins::RawPDU("x"));
  EXPECT_EQ(h.c().drop_ipv4_bad_source, bad.size());
  EXPECT_TRUE(h.udp.packets.empty());
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, FramesNotForUsAreDropped) {
  Harness h;
  h.inject(Tins::EthernetII("02:00:00:00:00:77", kPeerMacS) / ip_from_peer() / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_not_our_mac, 1u);
  h.inject(Tins::EthernetII("01:00:5e:00:00:01", kPeerMacS) / ip_from_peer() / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_eth_multicast, 1u);
  h.inject(from_peer() / Tins::IP("192.0.2.3", kPeerIpS) / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_not_for_us, 1u);
  h.inject(from_peer() / Tins::IP("224.0.0.251", kPeerIpS) / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_ipv4_multicast, 1u);
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / ip_from_peer() / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_ipv4_l2_broadcast, 1u);
  h.inject(Tins::EthernetII(kOurMacS, "01:00:00:00:00:01") / ip_from_peer() / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_eth_bad_source, 1u);
  h.inject(from_peer() / Tins::IPv6("2001:db8::2", "2001:db8::1") / Tins::UDP(9, 1));
  EXPECT_EQ(h.c().drop_unknown_ethertype, 1u);
  EXPECT_TRUE(h.udp.packets.empty());
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, MalformedArpIsDropped) {
  Harness h;
  Frame f = Tins::ARP::make_arp_request(kOurIpS, kPeerIpS, kPeerMacS).serialize();
  Frame hlen = f;
  hlen[14 + 4] = 255;
  h.inject_raw(hlen);
  Frame plen = f;
  plen[14 + 5] = 255;
  h.inject_raw(plen);
  Frame op = f;
  op[14 + 7] = 3;
  h.inject_raw(op);
  EXPECT_EQ(h.c().drop_arp_invalid, 3u);
  EXPECT_TRUE(h.sent().empty());
  // A sender claiming a broadcast MAC or address is not learned from.
  Tins::ARP bad_mac(kOurIpS, kPeerIpS, "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff");
  bad_mac.opcode(Tins::ARP::REQUEST);
  h.inject(Tins::EthernetII("ff:ff:ff:ff:ff:ff", kPeerMacS) / bad_mac);
  h.inject(Tins::ARP::make_arp_request(kOurIpS, "192.0.2.255", kPeerMacS));
  EXPECT_EQ(h.c().drop_arp_bad_sender, 2u);
  EXPECT_EQ(h.iface->arp_cache().size(), 0u);
}

TEST(Interface, OverlappingFragmentsAreDropped) {
  Harness h;
  Tins::IP whole = ip_from_peer() / Tins::UDP(9, 40000) / Tins::RawPDU(std::string(100, 'o'));
  auto frags = fragment(whole.serialize(), 48, 5);
  ASSERT_EQ(frags.size(), 3u);
  h.inject_raw(frags[0]);
  h.inject_raw(frags[0]);  // exact duplicate: ignored
  Frame overlap = frags[1];
  overlap[14 + 7] = 5;  // offset 40 instead of 48: overlaps the first fragment (fix the checksum)
  overlap[14 + 10] = overlap[14 + 11] = 0;
  const std::uint16_t ck = internet_checksum(bytes_of(overlap).subspan(14, 20));
  overlap[14 + 10] = std::uint8_t(ck >> 8);
  overlap[14 + 11] = std::uint8_t(ck);
  h.inject_raw(overlap);
  h.inject_raw(frags[1]);
  h.inject_raw(frags[2]);
  EXPECT_TRUE(h.udp.packets.empty());
  const auto& rc = h.iface->reassembler().counters();
  EXPECT_EQ(rc.duplicates_ignored, 1u);
  EXPECT_EQ(rc.drop_overlap, 1u);
  EXPECT_EQ(rc.drop_after_abort, 2u);
}

TEST(Interface, PollAtReportsReassemblyTimeout) {
  Harness h;
  Tins::IP whole = ip_from_peer() / Tins::UDP(9, 40000) / Tins::RawPDU(std::string(100, 'o'));
  auto frags = fragment(whole.serialize(), 48, 6);
  h.inject_raw(frags[0]);
  EXPECT_EQ(h.iface->poll_at(), h.now + seconds(30));
  h.advance(seconds(30));
  EXPECT_EQ(h.iface->reassembler().counters().drop_timeout, 1u);
  EXPECT_EQ(h.iface->poll_at(), std::nullopt);
}

TEST(Interface, NoAddressDropsIpAndArp) {
  InterfaceConfig cfg;
  cfg.mac = kOurMac;
  cfg.ipv6 = false;
  Harness h{cfg};
  h.inject(udp_frame());
  h.inject(Tins::ARP::make_arp_request(kOurIpS, kPeerIpS, kPeerMacS));
  EXPECT_EQ(h.c().drop_no_address, 2u);
  EXPECT_EQ(h.send_payload(kPeerIp, pattern(4)), SendResult::kNoRoute);
  EXPECT_TRUE(h.sent().empty());
}

TEST(Interface, RegisteringIcmpIsRefused) {
  Harness h;
  FakeTransport t;
  EXPECT_THROW(h.iface->register_transport(IpProtocol::kIcmp, t), std::invalid_argument);
}

TEST(Interface, IpIdsDifferBetweenPackets) {
  Harness h;
  h.resolve_peer();
  std::vector<std::uint16_t> ids;
  for (int i = 0; i < 20; ++i) h.send_payload(kPeerIp, pattern(8));
  for (auto& f : h.sent()) ids.push_back(Tins::EthernetII(f.data(), std::uint32_t(f.size())).rfind_pdu<Tins::IP>().id());
  ASSERT_EQ(ids.size(), 20u);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}


// ---------------------------------------------------------------------------------------------------
// Batches: a link may hold what poll() emits until poll() ends (tap::TapLink merges TCP segments there), so
// poll() must bracket everything it sends, and a send from outside poll() must not be in a batch.

// Forwards to a MemoryLink and logs "begin", "tx" and "end" in call order.
class BatchLog final : public Link {
 public:
  explicit BatchLog(Link& inner) : inner_{inner} {}
  std::size_t mtu() const noexcept override { return inner_.mtu(); }
  bool transmit(Instant now, Bytes frame) noexcept override {
    log.push_back("tx");
    return inner_.transmit(now, frame);
  }
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override {
    return inner_.receive(now, buf);
  }
  void begin_batch() noexcept override { log.push_back("begin"); }
  void end_batch(Instant) noexcept override { log.push_back("end"); }
  std::vector<std::string> log;

 private:
  Link& inner_;
};

TEST(Interface, PollBracketsWhatItSendsInOneBatchAndASendOutsidePollIsNotBatched) {
  auto [link, peer] = MemoryLink::pair({.mtu = 1500});
  BatchLog log{*link};
  SeededRng rng{7};
  Interface iface{log, default_config(), rng};
  Instant now = Instant::from_millis(1000);
  // An ARP request and a ping in one poll: the ARP reply and the echo reply go out inside one batch.
  const Frame arp = Tins::EthernetII(Tins::ARP::make_arp_request(kOurIpS, kPeerIpS, kPeerMacS)).serialize();
  Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
  const Frame ping = (from_peer() / ip_from_peer() / icmp / Tins::RawPDU("batch")).serialize();
  peer->transmit(now, bytes_of(arp));
  peer->transmit(now, bytes_of(ping));
  iface.poll(now);
  EXPECT_EQ(log.log, (std::vector<std::string>{"begin", "tx", "tx", "end"}));
  // A transport's send between polls: written at once, no batch around it.
  log.log.clear();
  IpSendParams p;
  p.dst = kPeerIp;
  p.protocol = kUdp;
  ASSERT_EQ(iface.send(now, p, 4, [](MutableBytes out, const PseudoHeader&) { std::fill(out.begin(), out.end(), std::byte{1}); }),
            SendResult::kSent);
  EXPECT_EQ(log.log, (std::vector<std::string>{"tx"}));
  // A poll with nothing to do is still one (empty) batch.
  log.log.clear();
  iface.poll(now);
  EXPECT_EQ(log.log, (std::vector<std::string>{"begin", "end"}));
}


TEST(Interface, APollStopsReadingOnceItHasTakenRxBatchBytes) {
  InterfaceConfig cfg = default_config();
  cfg.rx_batch_bytes = 3000;  // 64 KiB TSO frames would otherwise let one poll take a whole receive window
  Harness h{cfg};
  const std::string data(958, 'x');  // 14 + 20 + 8 + 958 = 1000-byte frames
  for (int i = 0; i < 5; ++i) h.peer->transmit(h.now, bytes_of(udp_frame(data).serialize()));
  EXPECT_EQ(h.iface->poll(h.now), 3u) << "the third frame reaches the budget; the poll stops after it";
  EXPECT_EQ(h.udp.packets.size(), 3u);
  EXPECT_EQ(h.iface->poll(h.now), 2u);
  EXPECT_EQ(h.udp.packets.size(), 5u);
}

}  // namespace
}  // namespace tapstack::ip
