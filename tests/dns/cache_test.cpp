// Unit tests for dns/cache: TTL expiry at exact instants, remaining TTLs, negative entries (name-wide
// NXDOMAIN, RFC 2308 §5), TTL 0, replacement and LRU eviction.
#include "dns/cache.hpp"

#include <gtest/gtest.h>

namespace tapstack::dns {
namespace {

Name name(std::string_view s) { return *Name::from_text(s); }
ip::IpAddress addr(const char* s) { return *ip::IpAddress::parse(s); }
Instant at_ms(std::int64_t ms) { return Instant::from_millis(ms); }

TEST(DnsCache, ServedUntilTtlThenGoneAtExactInstant) {
  Cache c(8);
  c.insert(at_ms(1000), name("www.example.com"), Type::kA, CacheKind::kAddresses, name("web.example.net"),
           {addr("192.0.2.10"), addr("192.0.2.11")}, 300);
  auto hit = c.lookup(at_ms(1000), name("WWW.example.com."), Type::kA);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, CacheKind::kAddresses);
  EXPECT_EQ(hit->canonical_name, name("web.example.net"));
  EXPECT_EQ(hit->addresses, (std::vector<AddressAnswer>{{addr("192.0.2.10"), 300}, {addr("192.0.2.11"), 300}}));
  hit = c.lookup(at_ms(1000 + 299'500), name("www.example.com"), Type::kA);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->addresses[0].ttl, 1u);  // 0.5 s left rounds up
  EXPECT_TRUE(c.lookup(Instant::from_micros(300'999'999), name("www.example.com"), Type::kA));
  EXPECT_FALSE(c.lookup(at_ms(301'000), name("www.example.com"), Type::kA));
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.counters().hits, 3u);
  EXPECT_EQ(c.counters().expired, 1u);
  EXPECT_EQ(c.counters().misses, 1u);
}

TEST(DnsCache, KeyedByType) {
  Cache c(8);
  c.insert(at_ms(0), name("a.example"), Type::kA, CacheKind::kAddresses, name("a.example"), {addr("192.0.2.1")}, 60);
  EXPECT_FALSE(c.lookup(at_ms(0), name("a.example"), Type::kAaaa));
  c.insert(at_ms(0), name("a.example"), Type::kAaaa, CacheKind::kNoData, name("a.example"), {}, 30);
  const auto nodata = c.lookup(at_ms(0), name("a.example"), Type::kAaaa);
  ASSERT_TRUE(nodata);
  EXPECT_EQ(nodata->kind, CacheKind::kNoData);
  EXPECT_TRUE(nodata->addresses.empty());
  EXPECT_EQ(c.lookup(at_ms(0), name("a.example"), Type::kA)->kind, CacheKind::kAddresses);
}

TEST(DnsCache, NxDomainCoversEveryTypeOfTheName) {
  Cache c(8);
  c.insert_nxdomain(at_ms(0), name("gone.example"), name("gone.example"), 120);
  for (Type t : {Type::kA, Type::kAaaa}) {
    const auto hit = c.lookup(at_ms(119'999), name("gone.example"), t);
    ASSERT_TRUE(hit) << t;
    EXPECT_EQ(hit->kind, CacheKind::kNxDomain);
  }
  EXPECT_FALSE(c.lookup(at_ms(0), name("sub.gone.example"), Type::kA));
  EXPECT_FALSE(c.lookup(at_ms(120'000), name("gone.example"), Type::kA));
}

TEST(DnsCache, PositiveAnswerClearsNameWideNxDomain) {
  Cache c(8);
  c.insert_nxdomain(at_ms(0), name("x.example"), name("x.example"), 600);
  c.insert(at_ms(10), name("x.example"), Type::kA, CacheKind::kAddresses, name("x.example"), {addr("192.0.2.9")}, 60);
  EXPECT_EQ(c.lookup(at_ms(20), name("x.example"), Type::kA)->kind, CacheKind::kAddresses);
  EXPECT_FALSE(c.lookup(at_ms(20), name("x.example"), Type::kAaaa));
  EXPECT_EQ(c.size(), 1u);
}

TEST(DnsCache, TtlZeroAndCapacityZeroStoreNothing) {
  Cache c(8);
  c.insert(at_ms(0), name("z.example"), Type::kA, CacheKind::kAddresses, name("z.example"), {addr("192.0.2.1")}, 0);
  c.insert_nxdomain(at_ms(0), name("y.example"), name("y.example"), 0);
  EXPECT_EQ(c.size(), 0u);
  Cache off(0);
  off.insert(at_ms(0), name("z.example"), Type::kA, CacheKind::kAddresses, name("z.example"), {addr("192.0.2.1")}, 60);
  EXPECT_EQ(off.size(), 0u);
  EXPECT_FALSE(off.lookup(at_ms(0), name("z.example"), Type::kA));
}

TEST(DnsCache, ReplaceKeepsOneEntry) {
  Cache c(8);
  c.insert(at_ms(0), name("r.example"), Type::kA, CacheKind::kAddresses, name("r.example"), {addr("192.0.2.1")}, 60);
  c.insert(at_ms(0), name("R.EXAMPLE"), Type::kA, CacheKind::kAddresses, name("r.example"), {addr("192.0.2.2")}, 10);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.lookup(at_ms(0), name("r.example"), Type::kA)->addresses,
            (std::vector<AddressAnswer>{{addr("192.0.2.2"), 10}}));
}

TEST(DnsCache, EvictsLeastRecentlyUsed) {
  Cache c(2);
  const auto put = [&](const char* n, const char* a) {
    c.insert(at_ms(0), name(n), Type::kA, CacheKind::kAddresses, name(n), {addr(a)}, 60);
  };
  put("one.example", "192.0.2.1");
  put("two.example", "192.0.2.2");
  EXPECT_TRUE(c.lookup(at_ms(1), name("one.example"), Type::kA));  // "two" is now least recently used
  put("three.example", "192.0.2.3");
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.counters().evictions, 1u);
  EXPECT_TRUE(c.lookup(at_ms(2), name("one.example"), Type::kA));
  EXPECT_FALSE(c.lookup(at_ms(2), name("two.example"), Type::kA));
  EXPECT_TRUE(c.lookup(at_ms(2), name("three.example"), Type::kA));
}

}  // namespace
}  // namespace tapstack::dns
