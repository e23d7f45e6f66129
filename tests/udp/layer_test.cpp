// udp/layer: demultiplexing priority, port-unreachable verdicts (never for broadcast or multicast), drop
// counters per parse failure, ICMP errors on connected sockets, RFC 6056 ephemeral ports, and the transmit
// drain through a fake IpSender (whose output libtins and our parser both check).
#include "udp/layer.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "fake_ip_sender.hpp"
#include "udp/wire.hpp"

namespace tapstack::udp {
namespace {

using Verdict = ip::TransportHandler::Verdict;
using testing::FakeIpSender;

const ip::IpAddress kAny{};
const ip::IpAddress kLocal = ip::Ipv4Address{{192, 0, 2, 1}};
const ip::IpAddress kLocal2 = ip::Ipv4Address{{192, 0, 2, 2}};
const ip::IpAddress kBcast = ip::Ipv4Address{{192, 0, 2, 255}};
const ip::IpAddress kPeer = ip::Ipv4Address{{198, 51, 100, 7}};
const ip::IpAddress kPeer2 = ip::Ipv4Address{{198, 51, 100, 8}};
const ip::IpAddress kAny6 = ip::Ipv6Address{};
const ip::IpAddress kLocal6 = *ip::IpAddress::parse("2001:db8::1");
const ip::IpAddress kPeer6 = *ip::IpAddress::parse("2001:db8:1::7");

std::error_code err(int e) { return {e, std::generic_category()}; }

struct Harness {
  SeededRng rng{7};
  UdpLayer layer;
  FakeIpSender ip;
  explicit Harness(const LayerConfig& cfg = {}) : layer{rng, cfg} {
    ip.source_v4 = kLocal;
    ip.source_v6 = kLocal6;
  }

  static ip::IpPacketInfo info(const ip::IpAddress& src, const ip::IpAddress& dst) {
    ip::IpPacketInfo i;
    i.src = src;
    i.dst = dst;
    i.protocol = 17;
    i.ttl = 64;
    return i;
  }
  static std::vector<std::byte> datagram(const ip::Endpoint& from, const ip::Endpoint& to, std::string_view data) {
    std::vector<std::byte> bytes(kHeaderLen + data.size());
    Repr{from.port, to.port, as_bytes(data)}.emit(bytes, ip::PseudoHeader{from.addr, to.addr, 17, 0});
    return bytes;
  }
  Verdict receive(const ip::Endpoint& from, const ip::Endpoint& to, std::string_view data, bool bcast = false) {
    auto i = info(from.addr, to.addr);
    i.dst_broadcast = bcast;
    i.dst_multicast = to.addr.is_multicast();
    return layer.on_packet(Instant{}, i, datagram(from, to, data));
  }
  UdpSocket& bound(const ip::Endpoint& local, bool reuse = false) {
    auto& s = layer.socket(layer.open());
    s.set_reuse_addr(reuse);
    EXPECT_FALSE(s.bind(local));
    return s;
  }
  static std::string read(UdpSocket& s) {
    char buf[256];
    const auto r = s.recv(as_writable_bytes(std::span{buf}));
    return r ? std::string(buf, r->size) : std::string("<none>");
  }
};

// --- receive path ------------------------------------------------------------------------------------

TEST(UdpLayer, ConnectedBeatsSpecificBeatsWildcard) {
  Harness h;
  auto& wildcard = h.bound({kAny, 5000}, true);
  auto& specific = h.bound({kLocal, 5000}, true);
  auto& connected = h.bound({kAny, 5000}, true);
  ASSERT_FALSE(connected.connect({kPeer, 4000}));

  EXPECT_EQ(h.receive({kPeer, 4000}, {kLocal, 5000}, "to-connected"), Verdict::kAccepted);
  EXPECT_EQ(h.receive({kPeer2, 4000}, {kLocal, 5000}, "to-specific"), Verdict::kAccepted);
  EXPECT_EQ(h.receive({kPeer2, 4000}, {kLocal2, 5000}, "to-wildcard"), Verdict::kAccepted);
  EXPECT_EQ(h.read(connected), "to-connected");
  EXPECT_EQ(h.read(specific), "to-specific");
  EXPECT_EQ(h.read(wildcard), "to-wildcard");
  EXPECT_FALSE(connected.can_recv() || specific.can_recv() || wildcard.can_recv());
}

TEST(UdpLayer, ConnectedToSpecificAddressBeatsConnectedWildcard) {
  Harness h;
  auto& a = h.bound({kAny, 6000}, true);
  auto& b = h.bound({kLocal, 6000}, true);
  ASSERT_FALSE(a.connect({kPeer, 1}));
  ASSERT_FALSE(b.connect({kPeer, 1}));
  h.receive({kPeer, 1}, {kLocal, 6000}, "x");
  EXPECT_TRUE(b.can_recv());
  EXPECT_FALSE(a.can_recv());
}

TEST(UdpLayer, NoSocketGivesPortUnreachable) {
  Harness h;
  h.bound({kLocal, 5000});
  EXPECT_EQ(h.receive({kPeer, 4000}, {kLocal, 5001}, "x"), Verdict::kPortUnreachable);
  EXPECT_EQ(h.receive({kPeer, 4000}, {kLocal2, 5000}, "x"), Verdict::kPortUnreachable);  // other address
  EXPECT_EQ(h.layer.counters().drop_no_socket, 2u);
  EXPECT_EQ(h.layer.counters().port_unreachable, 2u);
}

TEST(UdpLayer, BroadcastAndMulticastNeverPortUnreachable) {
  Harness h;
  EXPECT_EQ(h.receive({kPeer, 68}, {kBcast, 67}, "x", true), Verdict::kAccepted);
  EXPECT_EQ(h.receive({kPeer, 68}, {ip::Ipv4Address::broadcast(), 67}, "x", true), Verdict::kAccepted);
  // Even if the IP layer forgot to flag them, the address says broadcast / multicast.
  EXPECT_EQ(h.receive({kPeer, 68}, {ip::Ipv4Address::broadcast(), 67}, "x", false), Verdict::kAccepted);
  EXPECT_EQ(h.receive({kPeer, 5353}, {ip::Ipv4Address{{224, 0, 0, 251}}, 5353}, "x"), Verdict::kAccepted);
  EXPECT_EQ(h.receive({kPeer6, 5353}, {*ip::IpAddress::parse("ff02::fb"), 5353}, "x"), Verdict::kAccepted);
  EXPECT_EQ(h.layer.counters().drop_no_socket, 5u);
  EXPECT_EQ(h.layer.counters().port_unreachable, 0u);
}

TEST(UdpLayer, BroadcastGoesToEveryWildcardSocketNotToSpecificOnes) {
  Harness h;
  auto& a = h.bound({kAny, 67}, true);
  auto& b = h.bound({kAny, 67}, true);
  auto& specific = h.bound({kLocal, 67}, true);
  EXPECT_EQ(h.receive({kPeer, 68}, {kBcast, 67}, "offer", true), Verdict::kAccepted);
  EXPECT_EQ(h.read(a), "offer");
  EXPECT_EQ(h.read(b), "offer");
  EXPECT_FALSE(specific.can_recv());
  EXPECT_EQ(h.layer.counters().rx_datagrams, 2u);
}

TEST(UdpLayer, FamiliesAreSeparate) {
  Harness h;
  auto& v4 = h.bound({kAny, 53});
  auto& v6 = h.bound({kAny6, 53});
  h.receive({kPeer6, 1}, {kLocal6, 53}, "six");
  h.receive({kPeer, 1}, {kLocal, 53}, "four");
  EXPECT_EQ(h.read(v6), "six");
  EXPECT_EQ(h.read(v4), "four");
  auto& only4 = h.bound({kAny, 54});
  (void)only4;
  EXPECT_EQ(h.receive({kPeer6, 1}, {kLocal6, 54}, "x"), Verdict::kPortUnreachable);
}

TEST(UdpLayer, ParseFailuresCountedByReasonAndNeverAnswered) {
  Harness h;
  h.bound({kAny, 5000});
  const auto i4 = Harness::info(kPeer, kLocal);
  const auto i6 = Harness::info(kPeer6, kLocal6);
  auto good = Harness::datagram({kPeer, 1}, {kLocal, 5000}, "data");

  EXPECT_EQ(h.layer.on_packet(Instant{}, i4, Bytes{good}.first(7)), Verdict::kAccepted);
  auto bad_len = good;
  store_be16(bad_len, field::kLength, 7);
  EXPECT_EQ(h.layer.on_packet(Instant{}, i4, bad_len), Verdict::kAccepted);
  store_be16(bad_len, field::kLength, std::uint16_t(good.size() + 1));
  EXPECT_EQ(h.layer.on_packet(Instant{}, i4, bad_len), Verdict::kAccepted);
  auto bad_sum = good;
  bad_sum.back() ^= std::byte{0xff};
  EXPECT_EQ(h.layer.on_packet(Instant{}, i4, bad_sum), Verdict::kAccepted);
  // A bad checksum toward a closed port must not earn a port unreachable either.
  auto closed = Harness::datagram({kPeer, 1}, {kLocal, 5999}, "data");
  closed.back() ^= std::byte{0xff};
  EXPECT_EQ(h.layer.on_packet(Instant{}, i4, closed), Verdict::kAccepted);
  auto zero6 = Harness::datagram({kPeer6, 1}, {kLocal6, 5000}, "data");
  store_be16(zero6, field::kChecksum, 0);
  EXPECT_EQ(h.layer.on_packet(Instant{}, i6, zero6), Verdict::kAccepted);
  auto zero4 = good;
  store_be16(zero4, field::kChecksum, 0);
  EXPECT_EQ(h.layer.on_packet(Instant{}, i4, zero4), Verdict::kAccepted);  // accepted and delivered

  const auto& c = h.layer.counters();
  EXPECT_EQ(c.drop_truncated, 1u);
  EXPECT_EQ(c.drop_bad_length, 2u);
  EXPECT_EQ(c.drop_bad_checksum, 2u);
  EXPECT_EQ(c.drop_zero_checksum_v6, 1u);
  EXPECT_EQ(c.rx_datagrams, 1u);
  EXPECT_EQ(c.port_unreachable, 0u);
}

TEST(UdpLayer, DatagramFromLibtinsIsDelivered) {
  Harness h;
  auto& s = h.bound({kAny, 53});
  Tins::IP pkt(Tins::IPv4Address("192.0.2.1"), Tins::IPv4Address("198.51.100.7"));
  pkt /= Tins::UDP(53, 33333) / Tins::RawPDU(std::string("query"));
  const auto wire = pkt.serialize();
  std::vector<std::byte> udp(wire.size() - 20);
  std::transform(wire.begin() + 20, wire.end(), udp.begin(), [](std::uint8_t b) { return std::byte(b); });
  EXPECT_EQ(h.layer.on_packet(Instant{}, Harness::info(kPeer, kLocal), udp), Verdict::kAccepted);
  char buf[16];
  const auto r = s.recv(as_writable_bytes(std::span{buf}));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(buf, r->size), "query");
  EXPECT_EQ(r->from, (ip::Endpoint{kPeer, 33333}));
}

// --- ICMP errors -------------------------------------------------------------------------------------

ip::IcmpErrorInfo icmp(ip::IcmpErrorInfo::Kind kind, const ip::IpAddress& src, const ip::IpAddress& dst) {
  ip::IcmpErrorInfo e;
  e.kind = kind;
  e.hard = kind == ip::IcmpErrorInfo::Kind::kPortUnreachable;
  e.reporter = dst;
  e.orig_src = src;
  e.orig_dst = dst;
  e.protocol = 17;
  return e;
}

TEST(UdpLayer, PortUnreachableOnConnectedSocketIsReportedOnce) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.connect({kPeer, 53}));
  ASSERT_FALSE(s.send(as_bytes("query")));
  h.layer.poll(Instant{}, h.ip);
  ASSERT_EQ(h.ip.sent.size(), 1u);
  // The router quotes our datagram: its first 8 bytes are our UDP header.
  const auto& quoted = h.ip.sent[0].bytes;
  h.layer.on_icmp_error(Instant{}, icmp(ip::IcmpErrorInfo::Kind::kPortUnreachable, kLocal, kPeer),
                        Bytes{quoted}.first(8));
  EXPECT_EQ(h.layer.counters().icmp_errors_delivered, 1u);
  EXPECT_TRUE(s.has_error());
  EXPECT_EQ(s.send(as_bytes("again")), err(ECONNREFUSED));  // Linux: the next send reports it
  EXPECT_FALSE(s.send(as_bytes("again")));                  // ... once
  h.layer.on_icmp_error(Instant{}, icmp(ip::IcmpErrorInfo::Kind::kPortUnreachable, kLocal, kPeer),
                        Bytes{quoted}.first(8));
  std::error_code ec;
  EXPECT_FALSE(s.recv({}, {}, ec));
  EXPECT_EQ(ec, err(ECONNREFUSED));
  EXPECT_FALSE(s.recv({}, {}, ec));
  EXPECT_FALSE(ec);
  EXPECT_FALSE(s.take_error());
}

TEST(UdpLayer, IcmpErrorKindsMapToErrno) {
  using K = ip::IcmpErrorInfo::Kind;
  Harness h;
  auto& s = h.bound({kLocal, 40000});
  ASSERT_FALSE(s.connect({kPeer, 53}));
  const auto hdr = Harness::datagram({kLocal, 40000}, {kPeer, 53}, "");
  const std::pair<K, int> cases[] = {{K::kHostUnreachable, EHOSTUNREACH},
                                     {K::kNetUnreachable, ENETUNREACH},
                                     {K::kProtocolUnreachable, ENOPROTOOPT},
                                     {K::kPortUnreachable, ECONNREFUSED},
                                     {K::kAdminProhibited, EHOSTUNREACH},
                                     {K::kParameterProblem, EPROTO},
                                     {K::kTimeExceeded, 0},
                                     {K::kFragNeeded, 0}};
  for (const auto& [kind, e] : cases) {
    h.layer.on_icmp_error(Instant{}, icmp(kind, kLocal, kPeer), hdr);
    EXPECT_EQ(s.take_error(), e ? err(e) : std::error_code{}) << int(kind);
  }
}

TEST(UdpLayer, IcmpErrorIgnoredForUnconnectedOrMismatchedSockets) {
  using K = ip::IcmpErrorInfo::Kind;
  Harness h;
  auto& unconnected = h.bound({kAny, 40000});
  auto& connected = h.bound({kLocal, 40001});
  ASSERT_FALSE(connected.connect({kPeer, 53}));
  // Unconnected: BSD/Linux do not report (no IP_RECVERR).
  h.layer.on_icmp_error(Instant{}, icmp(K::kPortUnreachable, kLocal, kPeer),
                        Harness::datagram({kLocal, 40000}, {kPeer, 53}, ""));
  // Wrong peer port, wrong peer address, wrong source address (RFC 5927 checks), short quote.
  h.layer.on_icmp_error(Instant{}, icmp(K::kPortUnreachable, kLocal, kPeer),
                        Harness::datagram({kLocal, 40001}, {kPeer, 54}, ""));
  h.layer.on_icmp_error(Instant{}, icmp(K::kPortUnreachable, kLocal, kPeer2),
                        Harness::datagram({kLocal, 40001}, {kPeer2, 53}, ""));
  h.layer.on_icmp_error(Instant{}, icmp(K::kPortUnreachable, kLocal2, kPeer),
                        Harness::datagram({kLocal2, 40001}, {kPeer, 53}, ""));
  h.layer.on_icmp_error(Instant{}, icmp(K::kPortUnreachable, kLocal, kPeer), Bytes{});
  EXPECT_FALSE(unconnected.has_error());
  EXPECT_FALSE(connected.has_error());
  EXPECT_EQ(h.layer.counters().icmp_errors, 5u);
  EXPECT_EQ(h.layer.counters().icmp_errors_delivered, 0u);
}

// --- ephemeral ports (RFC 6056) ----------------------------------------------------------------------

TEST(UdpLayer, EphemeralPortsInRangeUniqueAndNotSequential) {
  Harness h;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 200; ++i) {
    auto& s = h.layer.socket(h.layer.open(SocketConfig{1, 16, 1, 16}));
    ASSERT_FALSE(s.bind({kAny, 0}));
    ports.push_back(s.local_endpoint()->port);
  }
  for (auto p : ports) {
    EXPECT_GE(p, 49152);
    EXPECT_LE(p, 65535);
  }
  EXPECT_EQ(std::set<std::uint16_t>(ports.begin(), ports.end()).size(), ports.size());
  int plus_one = 0;
  for (std::size_t i = 1; i < ports.size(); ++i) plus_one += ports[i] == std::uint16_t(ports[i - 1] + 1);
  EXPECT_LT(plus_one, 5) << "ports advance in +1 steps";
}

TEST(UdpLayer, EphemeralPortsTowardOnePeerAreNotSequential) {
  Harness h;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 50; ++i) {
    auto& s = h.layer.socket(h.layer.open(SocketConfig{1, 16, 1, 16}));
    ASSERT_FALSE(s.connect({kPeer, 53}));
    ports.push_back(s.local_endpoint()->port);
  }
  int plus_one = 0;
  for (std::size_t i = 1; i < ports.size(); ++i) plus_one += ports[i] == std::uint16_t(ports[i - 1] + 1);
  EXPECT_LT(plus_one, 3);
}

TEST(UdpLayer, EphemeralPortsDependOnTheSecretKey) {
  auto first_ports = [](std::uint64_t seed) {
    SeededRng rng{seed};
    UdpLayer layer{rng};
    std::vector<std::uint16_t> out;
    for (int i = 0; i < 8; ++i) {
      auto& s = layer.socket(layer.open(SocketConfig{1, 16, 1, 16}));
      EXPECT_FALSE(s.connect({kPeer, 53}));
      out.push_back(s.local_endpoint()->port);
    }
    return out;
  };
  EXPECT_EQ(first_ports(1), first_ports(1));  // deterministic under a seeded Rng
  EXPECT_NE(first_ports(1), first_ports(2));
}

TEST(UdpLayer, EphemeralRangeIsConfigurableAndExhaustionIsEaddrinuse) {
  Harness h{LayerConfig{.ephemeral_min = 50000, .ephemeral_max = 50009}};
  std::set<std::uint16_t> ports;
  std::vector<SocketHandle> handles;
  for (int i = 0; i < 10; ++i) {
    handles.push_back(h.layer.open());
    auto& s = h.layer.socket(handles.back());
    ASSERT_FALSE(s.bind({kAny, 0}));
    ports.insert(s.local_endpoint()->port);
  }
  EXPECT_EQ(ports.size(), 10u);
  EXPECT_EQ(*ports.begin(), 50000);
  EXPECT_EQ(*ports.rbegin(), 50009);
  auto& extra = h.layer.socket(h.layer.open());
  EXPECT_EQ(extra.bind({kAny, 0}), err(EADDRINUSE));
  EXPECT_EQ(extra.send_to(as_bytes("x"), {kPeer, 53}), err(EADDRINUSE));
  const std::uint16_t freed = h.layer.socket(handles[3]).local_endpoint()->port;
  h.layer.close(handles[3]);
  EXPECT_FALSE(extra.bind({kAny, 0}));
  EXPECT_EQ(extra.local_endpoint()->port, freed);
}

TEST(UdpLayer, EphemeralPicksSkipExplicitlyBoundPorts) {
  Harness h{LayerConfig{.ephemeral_min = 50000, .ephemeral_max = 50003}};
  h.bound({kLocal, 50000});
  h.bound({kAny6, 50002});
  for (int i = 0; i < 2; ++i) {
    auto& s = h.layer.socket(h.layer.open());
    ASSERT_FALSE(s.bind({kAny, 0}));
    EXPECT_TRUE(s.local_endpoint()->port == 50001 || s.local_endpoint()->port == 50003);
  }
}

// --- transmit path -----------------------------------------------------------------------------------

TEST(UdpLayer, PollDrainsQueueWithChosenSourceAndValidChecksum) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  EXPECT_FALSE(h.layer.poll_at());
  ASSERT_FALSE(s.send_to(as_bytes("hello"), {kPeer, 53}));
  ASSERT_FALSE(s.send_to(as_bytes("world!"), {kPeer2, 54}));
  EXPECT_EQ(h.layer.poll_at(), Instant{});
  h.layer.poll(Instant::from_millis(5), h.ip);
  EXPECT_FALSE(h.layer.poll_at());
  ASSERT_EQ(h.ip.sent.size(), 2u);
  const std::uint16_t port = s.local_endpoint()->port;
  const char* payloads[] = {"hello", "world!"};
  const ip::Endpoint dsts[] = {{kPeer, 53}, {kPeer2, 54}};
  for (int i = 0; i < 2; ++i) {
    const auto& sent = h.ip.sent[std::size_t(i)];
    EXPECT_EQ(sent.at, Instant::from_millis(5));
    EXPECT_EQ(sent.params.dst, dsts[i].addr);
    EXPECT_EQ(sent.params.src, kLocal);  // wildcard socket: source_for chose it
    EXPECT_EQ(sent.params.protocol, 17);
    EXPECT_EQ(sent.params.ttl, 64);
    const auto r = Repr::parse(*View::parse(sent.bytes), ip::PseudoHeader{kLocal, dsts[i].addr, 17, 0});
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, (Repr{port, dsts[i].port, as_bytes(payloads[i])}));
  }
  EXPECT_EQ(h.layer.counters().tx_datagrams, 2u);
}

TEST(UdpLayer, EmittedDatagramVerifiesUnderLibtins) {
  Harness h;
  auto& s = h.bound({kLocal, 4444});
  ASSERT_FALSE(s.send_to(as_bytes("libtins checks this"), {kPeer, 7}));
  h.layer.poll(Instant{}, h.ip);
  ASSERT_EQ(h.ip.sent.size(), 1u);
  std::vector<std::uint8_t> raw(h.ip.sent[0].bytes.size());
  std::transform(h.ip.sent[0].bytes.begin(), h.ip.sent[0].bytes.end(), raw.begin(),
                 [](std::byte b) { return std::uint8_t(b); });
  Tins::IP pkt(Tins::IPv4Address("198.51.100.7"), Tins::IPv4Address("192.0.2.1"));
  pkt /= Tins::RawPDU(raw.data(), std::uint32_t(raw.size()));
  pkt.protocol(17);
  const auto wire = pkt.serialize();
  Tins::IP parsed(wire.data(), std::uint32_t(wire.size()));
  const auto& udp = parsed.rfind_pdu<Tins::UDP>();
  EXPECT_EQ(udp.sport(), 4444);
  EXPECT_EQ(udp.dport(), 7);
  const std::uint16_t ours = udp.checksum();
  const auto again = parsed.serialize();
  EXPECT_EQ(Tins::IP(again.data(), std::uint32_t(again.size())).rfind_pdu<Tins::UDP>().checksum(), ours);
}

TEST(UdpLayer, Ipv6SendUsesV6SourceAndTtl) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  s.set_ttl(7);
  ASSERT_FALSE(s.send_to(as_bytes("six"), {kPeer6, 53}));
  h.layer.poll(Instant{}, h.ip);
  ASSERT_EQ(h.ip.sent.size(), 1u);
  EXPECT_EQ(h.ip.sent[0].params.src, kLocal6);
  EXPECT_EQ(h.ip.sent[0].params.ttl, 7);
  EXPECT_TRUE(Repr::parse(*View::parse(h.ip.sent[0].bytes), ip::PseudoHeader{kLocal6, kPeer6, 17, 0}));
}

TEST(UdpLayer, QueuedForResolutionCountsAsSent) {
  Harness h;
  h.ip.result = ip::SendResult::kQueued;
  auto& s = h.bound({kLocal, 4444});
  ASSERT_FALSE(s.send_to(as_bytes("x"), {kPeer, 7}));
  h.layer.poll(Instant{}, h.ip);
  EXPECT_EQ(s.tx_queued(), 0u);
  EXPECT_EQ(h.layer.counters().tx_datagrams, 1u);
  EXPECT_FALSE(s.has_error());
}

TEST(UdpLayer, NoRouteSetsEhostunreachAndDrops) {
  Harness h;
  h.ip.result = ip::SendResult::kNoRoute;
  auto& s = h.bound({kLocal, 4444});
  ASSERT_FALSE(s.send_to(as_bytes("x"), {kPeer, 7}));
  h.layer.poll(Instant{}, h.ip);
  EXPECT_EQ(s.tx_queued(), 0u);
  EXPECT_EQ(h.layer.counters().drop_tx_no_route, 1u);
  EXPECT_EQ(s.take_error(), err(EHOSTUNREACH));

  // A wildcard socket with no source toward the destination: same outcome, IpSender never called.
  Harness g;
  g.ip.source_v4.reset();
  auto& w = g.layer.socket(g.layer.open());
  ASSERT_FALSE(w.send_to(as_bytes("x"), {kPeer, 7}));
  g.layer.poll(Instant{}, g.ip);
  EXPECT_EQ(g.ip.calls, 0);
  EXPECT_EQ(w.take_error(), err(EHOSTUNREACH));
}

TEST(UdpLayer, TooBigAndLinkDropsAreCounted) {
  Harness h;
  auto& s = h.bound({kLocal, 4444});
  h.ip.result = ip::SendResult::kTooBig;
  ASSERT_FALSE(s.send_to(as_bytes("x"), {kPeer, 7}));
  h.layer.poll(Instant{}, h.ip);
  EXPECT_EQ(s.take_error(), err(EMSGSIZE));
  h.ip.result = ip::SendResult::kDropped;
  ASSERT_FALSE(s.send_to(as_bytes("x"), {kPeer, 7}));
  h.layer.poll(Instant{}, h.ip);
  EXPECT_FALSE(s.has_error());
  EXPECT_EQ(h.layer.counters().drop_tx_too_big, 1u);
  EXPECT_EQ(h.layer.counters().drop_tx_link, 1u);
}

TEST(UdpLayer, CloseWithQueuedTxStillSendsThenReclaims) {
  Harness h;
  const auto hs = h.layer.open();
  auto& s = h.layer.socket(hs);
  ASSERT_FALSE(s.bind({kLocal, 4444}));
  ASSERT_FALSE(s.send_to(as_bytes("last words"), {kPeer, 7}));
  h.layer.close(hs);
  EXPECT_EQ(h.layer.socket_count(), 1u);  // still draining
  EXPECT_EQ(h.layer.socket(hs).send_to(as_bytes("x"), {kPeer, 7}), err(EBADF));
  h.bound({kLocal, 4444});  // the port is free again at once
  h.layer.poll(Instant{}, h.ip);
  ASSERT_EQ(h.ip.sent.size(), 1u);
  EXPECT_EQ(View::parse(h.ip.sent[0].bytes)->src_port(), 4444);
  EXPECT_EQ(h.layer.socket_count(), 1u);  // the new socket only
  EXPECT_EQ(h.layer.find(hs), nullptr);
}

TEST(UdpLayer, CountersVisitNamesEveryField) {
  Harness h;
  std::vector<std::string> names;
  h.layer.counters().visit([&](std::string_view n, std::uint64_t) { names.emplace_back(n); });
  EXPECT_NE(std::find(names.begin(), names.end(), "drop_bad_length"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "drop_zero_checksum_v6"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "drop_rx_queue_full"), names.end());
}

}  // namespace
}  // namespace tapstack::udp
