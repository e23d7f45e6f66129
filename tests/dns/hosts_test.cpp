// Unit tests for dns/hosts: adding and finding entries per family, case-insensitive names, /etc/hosts text.
#include "dns/hosts.hpp"

#include <gtest/gtest.h>

namespace tapstack::dns {
namespace {

Name name(std::string_view s) { return *Name::from_text(s); }
ip::IpAddress addr(const char* s) { return *ip::IpAddress::parse(s); }

TEST(HostsTable, LookupByFamily) {
  HostsTable h;
  EXPECT_TRUE(h.add("printer.example", addr("192.0.2.77")));
  EXPECT_TRUE(h.add("printer.example", addr("2001:db8::77")));
  EXPECT_TRUE(h.add("printer.example", addr("198.51.100.77")));
  EXPECT_TRUE(h.add("printer.example", addr("192.0.2.77")));  // a duplicate is kept once
  EXPECT_EQ(h.size(), 1u);

  const auto a = h.lookup(name("PRINTER.Example."), Type::kA);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->canonical_name.to_string(), "printer.example");
  EXPECT_EQ(a->addresses, (std::vector<ip::IpAddress>{addr("192.0.2.77"), addr("198.51.100.77")}));
  const auto aaaa = h.lookup(name("printer.example"), Type::kAaaa);
  ASSERT_TRUE(aaaa);
  EXPECT_EQ(aaaa->addresses, (std::vector<ip::IpAddress>{addr("2001:db8::77")}));
  const auto mx = h.lookup(name("printer.example"), Type::kMx);
  ASSERT_TRUE(mx);
  EXPECT_TRUE(mx->addresses.empty());
  EXPECT_FALSE(h.lookup(name("other.example"), Type::kA));
}

TEST(HostsTable, KnownNameWithOtherFamilyOnlyIsEmptyNotAbsent) {
  HostsTable h;
  h.add(name("v4only.example"), addr("192.0.2.5"));
  const auto e = h.lookup(name("v4only.example"), Type::kAaaa);
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->addresses.empty());
}

TEST(HostsTable, RejectsBadNames) {
  HostsTable h;
  EXPECT_FALSE(h.add("", addr("192.0.2.1")));
  EXPECT_FALSE(h.add(".", addr("192.0.2.1")));
  EXPECT_FALSE(h.add("a..b", addr("192.0.2.1")));
  EXPECT_FALSE(h.add(std::string(64, 'x'), addr("192.0.2.1")));
  EXPECT_EQ(h.size(), 0u);
}

TEST(HostsTable, RemoveAndClear) {
  HostsTable h;
  h.add("a.example", addr("192.0.2.1"));
  h.add("b.example", addr("192.0.2.2"));
  EXPECT_TRUE(h.remove(name("A.example")));
  EXPECT_FALSE(h.remove(name("a.example")));
  EXPECT_FALSE(h.lookup(name("a.example"), Type::kA));
  EXPECT_EQ(h.size(), 1u);
  h.clear();
  EXPECT_EQ(h.size(), 0u);
}

TEST(HostsTable, LoadsEtcHostsText) {
  HostsTable h;
  const std::size_t n = h.load(
      "# static table\n"
      "192.0.2.10\tgw.example gw   # the gateway\n"
      "\n"
      "   2001:db8::10 gw.example\r\n"
      "fe80::1%eth0 linklocal.example\n"  // a zone suffix: not an address we parse, skipped
      "not-an-address foo.example\n"
      "198.51.100.1\n"  // no name
      "198.51.100.2 ok.example bad..name\n");
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.lookup(name("gw"), Type::kA)->addresses, (std::vector<ip::IpAddress>{addr("192.0.2.10")}));
  EXPECT_EQ(h.lookup(name("gw.example"), Type::kAaaa)->addresses, (std::vector<ip::IpAddress>{addr("2001:db8::10")}));
  EXPECT_EQ(h.lookup(name("ok.example"), Type::kA)->addresses, (std::vector<ip::IpAddress>{addr("198.51.100.2")}));
  EXPECT_FALSE(h.lookup(name("linklocal.example"), Type::kAaaa));
  EXPECT_FALSE(h.lookup(name("foo.example"), Type::kA));
}

}  // namespace
}  // namespace tapstack::dns
