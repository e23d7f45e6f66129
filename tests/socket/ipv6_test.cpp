// The facade over IPv6: two manual-mode runtimes with static 2001:db8::1/64 and 2001:db8::2/64 over a MemoryLink
// on a virtual clock. has_ipv6() turns true only after DAD; then AF_INET6 TCP and UDP sockets move data, and
// getaddrinfo(AF_INET6 / AF_UNSPEC) asks AAAA of a fake DNS server reached over IPv6.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "fake_dns_server.hpp"
#include "manual_pair.hpp"
#include "socket/resolver_driver.hpp"
#include "socket/socket.hpp"
#include "errno_of.hpp"

namespace tapstack::socket {
namespace {

using testing::FakeDnsServer;
using testing::kAddrA;
using testing::kAddrB;
using testing::ManualPair;
using testing::pair_config;

const ip::Ipv6Address kV6A = *ip::Ipv6Address::parse("2001:db8::1");
const ip::Ipv6Address kV6B = *ip::Ipv6Address::parse("2001:db8::2");
const ip::Ipv6Address kWww6 = *ip::Ipv6Address::parse("2001:db8::80");
constexpr ip::Ipv4Address kWww4{{192, 0, 2, 80}};

using testing::errno_of;

RuntimeConfig v6_config(ip::Ipv4Address v4, const ip::Ipv6Address& v6, std::uint8_t mac_last, bool dns) {
  RuntimeConfig c = pair_config(v4, mac_last, 0);
  c.interface.ipv6_addresses = {ip::Ipv6Cidr{v6, 64}};
  if (dns) c.dns.servers = {ip::Endpoint{ip::IpAddress{kV6B}, 53}};
  return c;
}

SockAddr v6_at_b(std::uint16_t port) { return SockAddr{ip::IpAddress{kV6B}, port}; }

class Ipv6FacadeTest : public ::testing::Test {
 protected:
  Ipv6FacadeTest()
      : net{11, v6_config(kAddrA, kV6A, 0x0a, true), v6_config(kAddrB, kV6B, 0x0b, false)},
        server{net.b, zone()} {
    testing::drive_with_server(net, server);
    Runtime::set_default(&net.a);
  }
  ~Ipv6FacadeTest() override { Runtime::set_default(nullptr); }

  static FakeDnsServer::Zone zone() {
    FakeDnsServer::Zone z;
    z.a["www.example.test"] = kWww4;
    z.aaaa["www.example.test"] = kWww6;
    z.aaaa["only6.example.test"] = kWww6;
    return z;
  }
  // RFC 4862 §5.4: both static addresses are TENTATIVE until DAD ends.
  void wait_for_dad() {
    ASSERT_TRUE(net.run_until([this] { return net.a.has_ipv6() && net.b.has_ipv6(); }));
  }

  ManualPair net;
  FakeDnsServer server;
};

TEST_F(Ipv6FacadeTest, HasIpv6_FalseWhileTentative_TrueOncePreferred) {
  EXPECT_FALSE(net.a.has_ipv6());
  EXPECT_EQ(net.a.interface().address_state(kV6A), ip::AddressState::kTentative);
  socket early{net.a, AF_INET6, SOCK_STREAM};
  EXPECT_EQ(errno_of([&] { early.bind(SockAddr{ip::IpAddress{kV6A}, 7000}); }), EADDRNOTAVAIL);
  wait_for_dad();
  EXPECT_EQ(net.a.interface().address_state(kV6A), ip::AddressState::kPreferred);
  EXPECT_EQ(net.b.interface().address_state(kV6B), ip::AddressState::kPreferred);
  // A link-local-only runtime (IPv6 on, no global address) stays without IPv6 for the facade.
  ManualPair plain{3};
  plain.advance(seconds(5));
  EXPECT_FALSE(plain.a.has_ipv6());
}

TEST_F(Ipv6FacadeTest, Tcp_Inet6ClientToInet6Listener_MovesDataBothWays) {
  wait_for_dad();
  socket l{net.b, AF_INET6, SOCK_STREAM};
  l.bind(SockAddr{ip::IpAddress{ip::Ipv6Address{}}, 8080});
  l.listen();
  socket c{net.a, AF_INET6, SOCK_STREAM};
  c.connect(v6_at_b(8080));
  auto [srv, peer] = l.accept();
  EXPECT_EQ(peer.address(), ip::IpAddress{kV6A});
  EXPECT_EQ(peer.family(), AF_INET6);
  EXPECT_EQ(c.getpeername(), v6_at_b(8080));
  EXPECT_EQ(c.getsockname().address(), ip::IpAddress{kV6A});

  std::string big(100'000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = char('a' + i % 26);
  c.sendall(big);
  std::string got;
  while (got.size() < big.size()) got += to_string(srv.recv(65536));
  EXPECT_EQ(got, big);
  srv.sendall("pong over IPv6");
  EXPECT_EQ(to_string(c.recv(100)), "pong over IPv6");
  c.close();
  EXPECT_EQ(to_string(srv.recv(100)), "");  // FIN: end of stream
}

TEST_F(Ipv6FacadeTest, Udp_Inet6SendtoAndReplyCarryIpv6Addresses) {
  wait_for_dad();
  socket u{net.b, AF_INET6, SOCK_DGRAM};
  u.bind(v6_at_b(9000));
  socket s{net.a, AF_INET6, SOCK_DGRAM};
  EXPECT_EQ(s.sendto("hello6", v6_at_b(9000)), 6u);
  auto [d, from] = u.recvfrom(100);
  EXPECT_EQ(to_string(d), "hello6");
  EXPECT_EQ(from.address(), ip::IpAddress{kV6A});
  EXPECT_EQ(from.port(), s.getsockname().port());
  u.sendto("reply6", from);
  auto [r, rfrom] = s.recvfrom(100);
  EXPECT_EQ(to_string(r), "reply6");
  EXPECT_EQ(rfrom, v6_at_b(9000));
}

TEST_F(Ipv6FacadeTest, Getaddrinfo_Inet6_AsksAaaaOverIpv6) {
  wait_for_dad();
  const std::vector<AddrInfo> ai = getaddrinfo("www.example.test", 80, AF_INET6, SOCK_STREAM);
  ASSERT_EQ(ai.size(), 1u);
  EXPECT_EQ(ai[0], (AddrInfo{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "", SockAddr{ip::IpAddress{kWww6}, 80}}));
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].question.type, dns::Type::kAaaa);
  EXPECT_EQ(server.seen()[0].from.addr, ip::IpAddress{kV6A});  // the query went over IPv6
  EXPECT_FALSE(server.seen()[0].tcp);
}

TEST_F(Ipv6FacadeTest, Getaddrinfo_Unspec_WithIpv6AsksAAndAaaa) {
  wait_for_dad();
  const std::vector<AddrInfo> ai = getaddrinfo("www.example.test", 443, 0, SOCK_STREAM);
  ASSERT_EQ(ai.size(), 2u);
  EXPECT_EQ(ai[0].sockaddr, (SockAddr{ip::IpAddress{kWww4}, 443}));
  EXPECT_EQ(ai[1].sockaddr, (SockAddr{ip::IpAddress{kWww6}, 443}));
  ASSERT_EQ(server.seen().size(), 2u);
  EXPECT_EQ(server.seen()[0].question.type, dns::Type::kA);
  EXPECT_EQ(server.seen()[1].question.type, dns::Type::kAaaa);
  // A name with only an AAAA: AF_INET fails with EAI_NONAME (NODATA), AF_INET6 finds it.
  EXPECT_EQ(errno_of([] { getaddrinfo("only6.example.test", 80, AF_INET); }), EAI_NONAME);
  EXPECT_EQ(getaddrinfo("only6.example.test", 80, AF_INET6, SOCK_DGRAM)[0].sockaddr.address(),
            ip::IpAddress{kWww6});
}

TEST(Ipv6ResolverServers, SetServers_EmptyFinishesPendingWithNoServers) {
  SeededRng rng{5};
  dns::ResolverConfig cfg;
  cfg.servers = {ip::Endpoint{ip::IpAddress{kV6B}, 53}};
  dns::Resolver r{cfg, rng};
  const Instant t0 = Instant::from_millis(1000);
  const dns::QueryHandle h = r.resolve(t0, "www.example.test", dns::Type::kAaaa);
  ASSERT_TRUE(r.poll_transmit(t0).has_value());  // the UDP query to 2001:db8::2
  EXPECT_EQ(r.pending_lookups(), 1u);
  r.set_servers({});
  EXPECT_EQ(r.pending_lookups(), 0u);
  const auto res = r.result(h);
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->status, dns::QueryStatus::kNoServers);
  r.set_servers({ip::Endpoint{ip::IpAddress{kV6A}, 5353}});
  ASSERT_EQ(r.config().servers.size(), 1u);
  EXPECT_EQ(r.config().servers[0].port, 5353);
}

}  // namespace
}  // namespace tapstack::socket
