// getaddrinfo() for names, end to end on a virtual clock: runtime A (192.0.2.1) runs the dns::Resolver in its
// loop (socket/resolver_driver.hpp); runtime B (192.0.2.2) runs a fake DNS server on its own UDP and TCP layers
// (fake_dns_server.hpp). Each test asserts the exact addresses, errors, queries seen and virtual times.
#include "socket/resolver_driver.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_dns_server.hpp"
#include "manual_pair.hpp"
#include "socket/socket.hpp"
#include "errno_of.hpp"

namespace tapstack::socket {
namespace {

using testing::FakeDnsServer;
using testing::kAddrA;
using testing::kAddrB;
using testing::ManualPair;
using testing::pair_config;

constexpr ip::Ipv4Address kWww{{192, 0, 2, 80}};
constexpr ip::Ipv4Address kBig{{192, 0, 2, 81}};

using testing::errno_of;

RuntimeConfig client_config(std::string hosts = {}, bool with_server = true) {
  RuntimeConfig c = pair_config(kAddrA, 0x0a, 0);
  if (with_server) c.dns.servers = {ip::Endpoint{ip::IpAddress{kAddrB}, 53}};
  c.hosts = std::move(hosts);
  return c;
}

FakeDnsServer::Zone test_zone() {
  FakeDnsServer::Zone z;
  z.a["www.example.test"] = kWww;
  z.a["big.example.test"] = kBig;
  z.a["server.example.test"] = kAddrB;
  z.cname["alias.example.test"] = "www.example.test";
  z.cname["deep.example.test"] = "alias.example.test";
  z.truncate_over_udp = {"big.example.test"};
  z.refused = {"refused.example.test"};
  return z;
}

class ResolverDriverTest : public ::testing::Test {
 protected:
  explicit ResolverDriverTest(RuntimeConfig a_cfg = client_config())
      : net{7, std::move(a_cfg)}, server{net.b, test_zone()} {
    testing::drive_with_server(net, server);
    Runtime::set_default(&net.a);
  }
  ~ResolverDriverTest() override { Runtime::set_default(nullptr); }

  ManualPair net;
  FakeDnsServer server;
};

TEST_F(ResolverDriverTest, InstalledAsTheRuntimesNameResolver) {
  ASSERT_NE(net.a.dns(), nullptr);
  EXPECT_EQ(net.a.resolver(), net.a.dns());
  EXPECT_EQ(net.b.dns(), nullptr);  // no server, no hosts: no resolver
  EXPECT_EQ(net.b.resolver(), nullptr);
}

TEST_F(ResolverDriverTest, Name_ResolvedOverUdp_StreamThenDgram) {
  const Instant t0 = net.now();
  const std::vector<AddrInfo> ai = getaddrinfo("www.example.test", 80);
  ASSERT_EQ(ai.size(), 2u);
  EXPECT_EQ(ai[0], (AddrInfo{AF_INET, SOCK_STREAM, IPPROTO_TCP, "", SockAddr{ip::IpAddress{kWww}, 80}}));
  EXPECT_EQ(ai[1], (AddrInfo{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "", SockAddr{ip::IpAddress{kWww}, 80}}));
  // One A query, from A's address to port 53 of B, answered without any timer running.
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].question.type, dns::Type::kA);
  EXPECT_EQ(server.seen()[0].question.name.to_string(), "www.example.test");
  EXPECT_EQ(server.seen()[0].from.addr, ip::IpAddress{kAddrA});
  EXPECT_FALSE(server.seen()[0].tcp);
  EXPECT_LT(net.now() - t0, milliseconds{1000});
  EXPECT_EQ(net.a.dns()->counters().udp_sent, 1u);
  EXPECT_EQ(net.a.dns()->counters().udp_received, 1u);
  net.settle();
  EXPECT_EQ(net.a.dns()->open_udp(), 0u);  // UdpClose released the query's port

  // The second lookup comes from the cache: no new query.
  EXPECT_EQ(getaddrinfo("www.example.test", 80, AF_INET, SOCK_STREAM)[0].sockaddr.address(), ip::IpAddress{kWww});
  EXPECT_EQ(server.seen().size(), 1u);
}

TEST_F(ResolverDriverTest, Cname_FollowedAndReportedAsCanonname) {
  const auto ai = getaddrinfo("deep.example.test", 443, AF_INET, SOCK_STREAM, 0, AI_CANONNAME);
  ASSERT_EQ(ai.size(), 1u);
  EXPECT_EQ(ai[0].sockaddr, (SockAddr{ip::IpAddress{kWww}, 443}));
  EXPECT_EQ(ai[0].canonname, "www.example.test");
  EXPECT_EQ(server.seen().size(), 1u);  // the whole chain came in one answer
  // Without AI_CANONNAME the field stays empty, as CPython's.
  EXPECT_EQ(getaddrinfo("alias.example.test", 443, AF_INET, SOCK_STREAM)[0].canonname, "");
}

TEST_F(ResolverDriverTest, NxDomain_OSErrorMinus2) {
  EXPECT_EQ(errno_of([] { getaddrinfo("nope.example.test", 80); }), -2);
  std::error_code ec;
  EXPECT_TRUE(getaddrinfo("nope.example.test", 80, 0, 0, 0, 0, ec).empty());
  EXPECT_EQ(ec, make_error(EAI_NONAME));
  EXPECT_EQ(&ec.category(), &gai_category());
  // RFC 2308 §5: a negative answer without an SOA is not cached, so the second lookup asked again.
  EXPECT_EQ(server.seen().size(), 2u);
}

TEST_F(ResolverDriverTest, Refused_OSErrorMinus4) {
  EXPECT_EQ(errno_of([] { getaddrinfo("refused.example.test", 80); }), EAI_FAIL);
}

TEST_F(ResolverDriverTest, BadName_OSErrorMinus2_WithoutTraffic) {
  EXPECT_EQ(errno_of([] { getaddrinfo("bad..name", 80); }), EAI_NONAME);
  EXPECT_EQ(errno_of([] { getaddrinfo("192.0.2.999", 80); }), EAI_NONAME);  // RFC 1123 §2.1: not a name
  EXPECT_TRUE(server.seen().empty());
}

TEST_F(ResolverDriverTest, Timeout_OSErrorMinus3_AfterThreeAttempts) {
  server.silent = true;
  const Instant t0 = net.now();
  EXPECT_EQ(errno_of([] { getaddrinfo("www.example.test", 80); }), EAI_AGAIN);
  // ResolverConfig defaults: attempts at 0, 1 s and 3 s; the lookup fails at 7 s.
  EXPECT_EQ(net.now() - t0, seconds{7});
  ASSERT_EQ(server.udp_queries(), 3u);
  EXPECT_NE(server.seen()[0].from.port, server.seen()[1].from.port);  // RFC 5452: a fresh port per attempt
}

TEST_F(ResolverDriverTest, Truncated_RetriesOverTcp_SplitLengthPrefix) {
  const auto ai = getaddrinfo("big.example.test", 53, AF_INET, SOCK_DGRAM);
  ASSERT_EQ(ai.size(), 1u);
  EXPECT_EQ(ai[0].sockaddr, (SockAddr{ip::IpAddress{kBig}, 53}));
  EXPECT_EQ(server.udp_queries(), 1u);
  EXPECT_EQ(server.tcp_queries(), 1u);
  EXPECT_EQ(net.a.dns()->counters().tcp_opened, 1u);
  EXPECT_EQ(net.a.dns()->counters().tcp_failed, 0u);
  EXPECT_EQ(net.a.dns()->resolver().counters().tc_fallbacks, 1u);
  net.advance(seconds{1});
  EXPECT_EQ(net.a.dns()->open_tcp(), 0u);  // TcpClose closed the connection
  // We closed first (RFC 7766 §6.2.3), the server answered our FIN: our side waits in TIME-WAIT.
  EXPECT_EQ(net.a.tcp().connection_count(), 1u);
  EXPECT_EQ(net.a.tcp().time_wait_count(), 1u);
}

TEST_F(ResolverDriverTest, ThenConnect_TheMicroPythonPattern) {
  socket l{net.b};
  l.bind(SockAddr{ip::IpAddress{kAddrB}, 8080});
  l.listen();
  socket c;  // the default runtime: A
  c.connect(getaddrinfo("server.example.test", 8080)[0].sockaddr);
  auto [srv, peer] = l.accept();
  EXPECT_EQ(peer.address(), ip::IpAddress{kAddrA});
  c.sendall("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(srv.readline().value(), to_buffer("GET / HTTP/1.0\r\n"));
}

TEST_F(ResolverDriverTest, Unspec_AsksOnlyA_OnAnIpv4OnlyInterface) {
  getaddrinfo("www.example.test", 80, AF_UNSPEC);
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].question.type, dns::Type::kA);
  // AF_INET6 asks AAAA; the name has none: -2.
  EXPECT_EQ(errno_of([] { getaddrinfo("www.example.test", 80, AF_INET6); }), EAI_NONAME);
  ASSERT_EQ(server.seen().size(), 2u);
  EXPECT_EQ(server.seen()[1].question.type, dns::Type::kAaaa);
}

TEST_F(ResolverDriverTest, NoDriver_CallCannotWait_EaiAgain) {
  net.a.set_driver(nullptr);
  EXPECT_EQ(errno_of([] { getaddrinfo("www.example.test", 80); }), EAI_AGAIN);
  EXPECT_EQ(net.a.dns()->counters().abandoned, 1u);
  EXPECT_EQ(net.a.dns()->resolver().open_handles(), 0u);
}

TEST(GaiError, StatusMapping) {
  using S = dns::QueryStatus;
  EXPECT_EQ(ResolverDriver::gai_error(S::kDone), 0);
  EXPECT_EQ(ResolverDriver::gai_error(S::kNxDomain), -2);
  EXPECT_EQ(ResolverDriver::gai_error(S::kNoData), -2);
  EXPECT_EQ(ResolverDriver::gai_error(S::kBadName), -2);
  EXPECT_EQ(ResolverDriver::gai_error(S::kTimeout), -3);
  EXPECT_EQ(ResolverDriver::gai_error(S::kServFail), -3);
  EXPECT_EQ(ResolverDriver::gai_error(S::kOverloaded), -3);
  EXPECT_EQ(ResolverDriver::gai_error(S::kRefused), -4);
  EXPECT_EQ(ResolverDriver::gai_error(S::kNoServers), -4);
}

class HostsOnly : public ResolverDriverTest {
 protected:
  HostsOnly() : ResolverDriverTest(client_config("# static\n192.0.2.99 printer.test printer\n", false)) {}
};

TEST_F(HostsOnly, HostsTable_ServedWithoutDns_OthersFailWithoutServers) {
  ASSERT_NE(net.a.dns(), nullptr);
  const auto ai = getaddrinfo("printer", 631, AF_INET, SOCK_STREAM, 0, AI_CANONNAME);
  ASSERT_EQ(ai.size(), 1u);
  EXPECT_EQ(ai[0].sockaddr, (SockAddr{ip::IpAddress{ip::Ipv4Address{{192, 0, 2, 99}}}, 631}));
  EXPECT_EQ(ai[0].canonname, "printer");
  EXPECT_EQ(errno_of([] { getaddrinfo("www.example.test", 80); }), EAI_FAIL);  // kNoServers
  EXPECT_TRUE(server.seen().empty());
}

TEST(RuntimeConfigDns, ParseServers) {
  const auto s = RuntimeConfig::parse_dns_servers("192.0.2.1, 198.51.100.53:5353 [2001:db8::53]:53,2001:db8::1");
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 4u);
  EXPECT_EQ((*s)[0], (ip::Endpoint{*ip::IpAddress::parse("192.0.2.1"), 53}));
  EXPECT_EQ((*s)[1], (ip::Endpoint{*ip::IpAddress::parse("198.51.100.53"), 5353}));
  EXPECT_EQ((*s)[2], (ip::Endpoint{*ip::IpAddress::parse("2001:db8::53"), 53}));
  EXPECT_EQ((*s)[3], (ip::Endpoint{*ip::IpAddress::parse("2001:db8::1"), 53}));
  EXPECT_FALSE(RuntimeConfig::parse_dns_servers("192.0.2.1:0"));
  EXPECT_FALSE(RuntimeConfig::parse_dns_servers("dns.example.test"));
  EXPECT_FALSE(RuntimeConfig::parse_dns_servers("[2001:db8::1"));
  EXPECT_TRUE(RuntimeConfig::parse_dns_servers("")->empty());
}

}  // namespace
}  // namespace tapstack::socket
