// SockAddr tuple forms, getaddrinfo() over literals (filters, negative errors, the resolver hook), inet_ntop /
// inet_pton, OSError's errno and categories.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "socket/address.hpp"
#include "socket/error.hpp"
#include "errno_of.hpp"

namespace tapstack::socket {
namespace {

using testing::errno_of;

TEST(SockAddr, TupleForms) {
  const SockAddr v4{"192.0.2.1", 80};
  EXPECT_EQ(v4.family(), AF_INET);
  EXPECT_EQ(v4.host(), "192.0.2.1");
  EXPECT_EQ(v4.port(), 80);
  EXPECT_EQ(v4.to_string(), "192.0.2.1:80");
  const SockAddr v6{"2001:db8::1", 443, 0, 7};
  EXPECT_EQ(v6.family(), AF_INET6);
  EXPECT_EQ(v6.host(), "2001:db8::1");
  EXPECT_EQ(v6.scope_id(), 7u);
  EXPECT_EQ(v6.to_string(), "[2001:db8::1]:443");
  EXPECT_EQ(v4, (SockAddr{ip::IpAddress{ip::Ipv4Address{{192, 0, 2, 1}}}, 80}));
  EXPECT_EQ(SockAddr("198.51.100.7", 0).endpoint().port, 0);
}

TEST(SockAddr, NamesAndBadPortsAreErrors) {
  EXPECT_EQ(errno_of([] { SockAddr("www.example.com", 80); }), EAI_NONAME);
  EXPECT_EQ(errno_of([] { SockAddr("192.0.2.1", 65536); }), EINVAL);
  EXPECT_EQ(errno_of([] { SockAddr("192.0.2.1", -1); }), EINVAL);
  EXPECT_EQ(errno_of([] { SockAddr("192.0.2.1", 80, 0, 0); }), EAFNOSUPPORT);  // the 4-tuple is IPv6 only
  EXPECT_EQ(errno_of([] { SockAddr("2001:db8::1", 80, 0x100000, 0); }), EINVAL);  // flowinfo is 20 bits
  std::error_code ec;
  SockAddr::from_tuple("not an address", 1, ec);
  EXPECT_EQ(ec.value(), EAI_NONAME);
  EXPECT_EQ(&ec.category(), &gai_category());
}

TEST(Getaddrinfo, NumericIpv4_StreamThenDgram) {
  const std::vector<AddrInfo> r = getaddrinfo("192.0.2.10", 8080);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (AddrInfo{AF_INET, SOCK_STREAM, IPPROTO_TCP, "", SockAddr{"192.0.2.10", 8080}}));
  EXPECT_EQ(r[1], (AddrInfo{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "", SockAddr{"192.0.2.10", 8080}}));
}

TEST(Getaddrinfo, NumericIpv6AndFilters) {
  std::vector<AddrInfo> r = getaddrinfo("2001:db8::5", 53, AF_INET6, SOCK_DGRAM);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].family, AF_INET6);
  EXPECT_EQ(r[0].type, SOCK_DGRAM);
  EXPECT_EQ(r[0].proto, IPPROTO_UDP);
  EXPECT_EQ(r[0].sockaddr, (SockAddr{"2001:db8::5", 53, 0, 0}));
  r = getaddrinfo("198.51.100.1", 1, 0, 0, IPPROTO_TCP);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].type, SOCK_STREAM);
  // A family that does not match the literal: no address (EAI_NONAME).
  EXPECT_EQ(errno_of([] { getaddrinfo("198.51.100.1", 1, AF_INET6); }), EAI_NONAME);
}

TEST(Getaddrinfo, Localhost_BothFamiliesWithoutDns) {
  const std::vector<AddrInfo> r = getaddrinfo("localhost", 80, 0, SOCK_STREAM);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].sockaddr.host(), "127.0.0.1");
  EXPECT_EQ(r[1].sockaddr.host(), "::1");
  EXPECT_EQ(getaddrinfo("localhost", 80, AF_INET6, SOCK_STREAM).size(), 1u);
}

TEST(Getaddrinfo, NamesWithoutResolver_NegativeErrorInItsOwnCategory) {
  try {
    getaddrinfo("www.example.com", 80);
    FAIL() << "a name without a resolver must fail";
  } catch (const OSError& e) {
    EXPECT_EQ(e.errno_value(), -2);
    EXPECT_EQ(&e.code().category(), &gai_category());
    EXPECT_NE(std::string{e.what()}.find("www.example.com"), std::string::npos);
  }
  std::error_code ec;
  EXPECT_TRUE(getaddrinfo("", 80, 0, 0, 0, 0, ec).empty());
  EXPECT_EQ(ec.value(), EAI_NONAME);
}

TEST(Getaddrinfo, BadArguments) {
  EXPECT_EQ(errno_of([] { getaddrinfo("192.0.2.1", 80, 99); }), EAI_FAMILY);
  EXPECT_EQ(errno_of([] { getaddrinfo("192.0.2.1", 80, 0, 99); }), EAI_SOCKTYPE);
  EXPECT_EQ(errno_of([] { getaddrinfo("192.0.2.1", 80, 0, SOCK_STREAM, IPPROTO_UDP); }), EAI_SOCKTYPE);
  EXPECT_EQ(errno_of([] { getaddrinfo("192.0.2.1", 70000); }), EAI_SERVICE);
}

class FakeResolver final : public NameResolver {
 public:
  std::vector<ip::IpAddress> resolve(std::string_view name, int af, std::error_code& ec) override {
    asked = std::string{name};
    asked_af = af;
    if (name == "nxdomain.example") {
      ec = make_error(EAI_NONAME);
      return {};
    }
    return {ip::Ipv4Address{{192, 0, 2, 80}}, *ip::Ipv6Address::parse("2001:db8::80")};
  }
  std::string asked;
  int asked_af = -1;
};

TEST(Getaddrinfo, NamesGoToTheResolverHook) {
  FakeResolver dns;
  std::error_code ec;
  std::vector<AddrInfo> r = getaddrinfo("www.example.com", 80, AF_INET, SOCK_STREAM, 0, 0, &dns, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(dns.asked, "www.example.com");
  EXPECT_EQ(dns.asked_af, AF_INET);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].sockaddr, (SockAddr{"192.0.2.80", 80}));
  r = getaddrinfo("nxdomain.example", 80, 0, 0, 0, 0, &dns, ec);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(ec.value(), EAI_NONAME);
  // Literals never reach it.
  dns.asked.clear();
  r = getaddrinfo("192.0.2.1", 80, 0, 0, 0, 0, &dns, ec);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_TRUE(dns.asked.empty());
}

TEST(Inet, NtopAndPton) {
  const Buffer b4 = inet_pton(AF_INET, "1.2.3.4");
  EXPECT_EQ(b4, (Buffer{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}}));
  EXPECT_EQ(inet_ntop(AF_INET, b4), "1.2.3.4");
  const Buffer b6 = inet_pton(AF_INET6, "2001:db8::1");
  ASSERT_EQ(b6.size(), 16u);
  EXPECT_EQ(b6[0], std::byte{0x20});
  EXPECT_EQ(b6[15], std::byte{0x01});
  EXPECT_EQ(inet_ntop(AF_INET6, b6), "2001:db8::1");
  EXPECT_EQ(errno_of([] { inet_pton(AF_INET, "1.2.3"); }), EINVAL);
  EXPECT_EQ(errno_of([] { inet_pton(AF_INET6, "1.2.3.4"); }), EINVAL);
  EXPECT_EQ(errno_of([&] { inet_ntop(AF_INET, Bytes{b6}); }), EINVAL);
  EXPECT_EQ(errno_of([&] { inet_ntop(99, Bytes{b4}); }), EAFNOSUPPORT);
}

TEST(OSErrorTest, CarriesErrnoAndCategory) {
  const OSError e{ETIMEDOUT};
  EXPECT_EQ(e.errno_value(), 110);
  EXPECT_EQ(&e.code().category(), &std::generic_category());
  const OSError g{EAI_NONAME, "lookup"};
  EXPECT_EQ(g.errno_value(), -2);
  EXPECT_EQ(g.code().message(), "Name or service not known");
  EXPECT_EQ(gai_category().name(), std::string{"getaddrinfo"});
  // Linux values, as MicroPython raises them.
  EXPECT_EQ(EAGAIN, 11);
  EXPECT_EQ(EINPROGRESS, 115);
  EXPECT_EQ(ENOTCONN, 107);
  EXPECT_EQ(EBADF, 9);
  EXPECT_EQ(EADDRINUSE, 98);
  EXPECT_EQ(ECONNRESET, 104);
  EXPECT_EQ(ECONNREFUSED, 111);
}

TEST(Constants, LinuxValues) {
  EXPECT_EQ(AF_INET, 2);
  EXPECT_EQ(AF_INET6, 10);
  EXPECT_EQ(SOCK_STREAM, 1);
  EXPECT_EQ(SOCK_DGRAM, 2);
  EXPECT_EQ(SOL_SOCKET, 1);
  EXPECT_EQ(SO_REUSEADDR, 2);
  EXPECT_EQ(SO_LINGER, 13);
  EXPECT_EQ(MSG_PEEK, 2);
  EXPECT_EQ(MSG_DONTWAIT, 64);
  EXPECT_EQ(POLLIN | POLLOUT | POLLERR | POLLHUP | POLLNVAL, 1 | 4 | 8 | 16 | 32);
}

}  // namespace
}  // namespace tapstack::socket
