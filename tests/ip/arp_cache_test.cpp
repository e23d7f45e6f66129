// ArpCache on plain values: learning rules (RFC 826 merge flag), expiry, eviction, the pending queue and
// request rate limiting (RFC 1122 §2.3.2). Time is explicit Instants; nothing here touches a link.
#include "ip/arp_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tapstack::ip {
namespace {

constexpr Ipv4Address kPeer{{192, 0, 2, 1}};
constexpr Ipv4Address kOther{{192, 0, 2, 3}};
constexpr MacAddress kPeerMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr MacAddress kPeerMac2{{0x02, 0, 0, 0, 0, 0x11}};

Instant at_ms(std::int64_t ms) { return Instant::from_millis(ms); }

struct Flushed {
  std::vector<std::pair<MacAddress, std::string>> packets;
  auto fn() {
    return [this](MacAddress m, Bytes b) { packets.emplace_back(m, std::string(as_chars(b))); };
  }
};

std::vector<Ipv4Address> poll_requests(ArpCache& c, Instant now) {
  std::vector<Ipv4Address> out;
  c.poll(now, [&](Ipv4Address ip) { out.push_back(ip); });
  return out;
}

TEST(ArpCache, LearnsWhenTargetedAndLooksUp) {
  ArpCache c;
  Flushed f;
  EXPECT_TRUE(c.learn(at_ms(0), kPeer, kPeerMac, true, f.fn()));
  EXPECT_EQ(c.lookup(at_ms(10), kPeer), kPeerMac);
  EXPECT_EQ(c.lookup(at_ms(10), kOther), std::nullopt);
  EXPECT_EQ(c.counters().learned, 1u);
}

TEST(ArpCache, DoesNotCreateFromUntargetedOrGratuitousArp) {
  ArpCache c;
  Flushed f;
  EXPECT_FALSE(c.learn(at_ms(0), kPeer, kPeerMac, false, f.fn()));
  EXPECT_EQ(c.lookup(at_ms(0), kPeer), std::nullopt);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.counters().ignored_not_targeted, 1u);
  // ...but updates an existing entry (merge flag), e.g. a gratuitous ARP announcing a new MAC.
  ASSERT_TRUE(c.learn(at_ms(0), kPeer, kPeerMac, true, f.fn()));
  EXPECT_TRUE(c.learn(at_ms(5), kPeer, kPeerMac2, false, f.fn()));
  EXPECT_EQ(c.lookup(at_ms(6), kPeer), kPeerMac2);
  EXPECT_EQ(c.counters().updated, 1u);
}

TEST(ArpCache, EntryExpiresAfterReachableTime) {
  ArpCache c{{.reachable_time = seconds(60)}};
  Flushed f;
  c.learn(at_ms(0), kPeer, kPeerMac, true, f.fn());
  EXPECT_EQ(c.lookup(at_ms(59'999), kPeer), kPeerMac);
  EXPECT_EQ(c.lookup(at_ms(60'000), kPeer), std::nullopt);
  EXPECT_TRUE(poll_requests(c, at_ms(60'000)).empty());
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.counters().expired, 1u);
}

TEST(ArpCache, RefreshExtendsLifetime) {
  ArpCache c{{.reachable_time = seconds(60)}};
  Flushed f;
  c.learn(at_ms(0), kPeer, kPeerMac, true, f.fn());
  c.learn(at_ms(30'000), kPeer, kPeerMac, false, f.fn());
  EXPECT_EQ(c.lookup(at_ms(89'000), kPeer), kPeerMac);
}

TEST(ArpCache, EvictionKeepsTheBoundAndDropsLeastRecentlyUsed) {
  ArpCache c{{.max_entries = 4}};
  Flushed f;
  for (std::uint8_t i = 0; i < 4; ++i) c.learn(at_ms(i), Ipv4Address{{192, 0, 2, std::uint8_t(10 + i)}}, kPeerMac, true, f.fn());
  EXPECT_EQ(c.lookup(at_ms(100), Ipv4Address{{192, 0, 2, 10}}), kPeerMac);  // 10 is now the most recent
  c.learn(at_ms(200), Ipv4Address{{192, 0, 2, 99}}, kPeerMac, true, f.fn());
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.counters().evicted, 1u);
  EXPECT_EQ(c.lookup(at_ms(201), Ipv4Address{{192, 0, 2, 11}}), std::nullopt);  // the LRU one went
  EXPECT_EQ(c.lookup(at_ms(201), Ipv4Address{{192, 0, 2, 10}}), kPeerMac);
  EXPECT_EQ(c.lookup(at_ms(201), Ipv4Address{{192, 0, 2, 99}}), kPeerMac);
  for (int i = 0; i < 1000; ++i)
    c.learn(at_ms(300 + i), Ipv4Address::from_u32(0xc6336400u + std::uint32_t(i % 250)), kPeerMac, true, f.fn());
  EXPECT_EQ(c.size(), 4u);
}

TEST(ArpCache, PendingQueueKeepsFirstPacketAndFlushesInOrder) {
  ArpCache c;
  Flushed f;
  auto e1 = c.enqueue(at_ms(0), kPeer, as_bytes("first"));
  EXPECT_TRUE(e1.queued);
  EXPECT_TRUE(e1.send_request);
  auto e2 = c.enqueue(at_ms(1), kPeer, as_bytes("second"));
  EXPECT_TRUE(e2.queued);
  EXPECT_FALSE(e2.send_request);  // a request is outstanding
  c.enqueue(at_ms(2), kPeer, as_bytes("third"));
  EXPECT_TRUE(c.is_incomplete(kPeer));
  EXPECT_EQ(c.lookup(at_ms(3), kPeer), std::nullopt);
  EXPECT_EQ(c.pending_packets(), 3u);
  // The reply (target IP is ours) resolves the entry and flushes the queue in order.
  EXPECT_TRUE(c.learn(at_ms(4), kPeer, kPeerMac, true, f.fn()));
  ASSERT_EQ(f.packets.size(), 3u);
  EXPECT_EQ(f.packets[0], std::make_pair(kPeerMac, std::string("first")));
  EXPECT_EQ(f.packets[1].second, "second");
  EXPECT_EQ(f.packets[2].second, "third");
  EXPECT_EQ(c.pending_packets(), 0u);
  EXPECT_EQ(c.pending_bytes(), 0u);
  EXPECT_EQ(c.lookup(at_ms(5), kPeer), kPeerMac);
}

TEST(ArpCache, UntargetedArpFromAWaitedForAddressStillResolves) {
  ArpCache c;
  Flushed f;
  c.enqueue(at_ms(0), kPeer, as_bytes("x"));
  // The incomplete entry exists, so RFC 826's merge step updates it even if the packet was not for us.
  EXPECT_TRUE(c.learn(at_ms(1), kPeer, kPeerMac, false, f.fn()));
  EXPECT_EQ(f.packets.size(), 1u);
}

TEST(ArpCache, PendingQueueIsBoundedPerDestination) {
  ArpCache c{{.max_pending_per_dest = 8}};
  Flushed f;
  for (int i = 0; i < 10; ++i) c.enqueue(at_ms(i), kPeer, as_bytes(std::to_string(i)));
  EXPECT_EQ(c.pending_packets(), 8u);
  EXPECT_EQ(c.counters().drop_pending_per_dest, 2u);
  c.learn(at_ms(20), kPeer, kPeerMac, true, f.fn());
  ASSERT_EQ(f.packets.size(), 8u);
  EXPECT_EQ(f.packets.front().second, "0");  // the oldest are kept: the first packet is never lost
  EXPECT_EQ(f.packets.back().second, "7");
}

TEST(ArpCache, PendingQueueIsBoundedInBytes) {
  ArpCache c{{.max_pending_bytes = 100}};
  const std::string p60(60, 'a');
  EXPECT_TRUE(c.enqueue(at_ms(0), kPeer, as_bytes(p60)).queued);
  auto e = c.enqueue(at_ms(0), kOther, as_bytes(p60));
  EXPECT_FALSE(e.queued);
  EXPECT_TRUE(e.send_request);  // the request still goes out
  EXPECT_EQ(c.pending_bytes(), 60u);
  EXPECT_EQ(c.counters().drop_pending_bytes, 1u);
}

TEST(ArpCache, RequestsAreRateLimitedAndGiveUpDropsQueuedPackets) {
  ArpCache c{{.retry_interval = seconds(1), .max_requests = 3}};
  auto e = c.enqueue(at_ms(0), kPeer, as_bytes("a"));
  ASSERT_TRUE(e.send_request);  // request 1 at t=0, sent by the caller
  c.enqueue(at_ms(10), kPeer, as_bytes("b"));
  EXPECT_EQ(c.poll_at(), at_ms(1000));
  EXPECT_TRUE(poll_requests(c, at_ms(999)).empty());  // not within the second
  EXPECT_EQ(poll_requests(c, at_ms(1000)), std::vector<Ipv4Address>{kPeer});  // request 2
  EXPECT_TRUE(poll_requests(c, at_ms(1500)).empty());
  EXPECT_EQ(poll_requests(c, at_ms(2000)), std::vector<Ipv4Address>{kPeer});  // request 3
  EXPECT_EQ(c.poll_at(), at_ms(3000));
  EXPECT_TRUE(poll_requests(c, at_ms(3000)).empty());  // gives up: no 4th request
  EXPECT_EQ(c.counters().drop_resolution_failed, 2u);
  EXPECT_EQ(c.counters().requests_due, 3u);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_EQ(c.pending_bytes(), 0u);
  EXPECT_EQ(c.poll_at(), std::nullopt);
  // A new packet starts over, a full second after the last request.
  EXPECT_TRUE(c.enqueue(at_ms(3000), kPeer, as_bytes("c")).send_request);
}

TEST(ArpCache, ExpiredEntryResolvesAgainWhenUsed) {
  ArpCache c{{.reachable_time = seconds(60)}};
  Flushed f;
  c.learn(at_ms(0), kPeer, kPeerMac, true, f.fn());
  ASSERT_EQ(c.lookup(at_ms(61'000), kPeer), std::nullopt);
  auto e = c.enqueue(at_ms(61'000), kPeer, as_bytes("again"));
  EXPECT_TRUE(e.queued);
  EXPECT_TRUE(e.send_request);
  c.learn(at_ms(61'010), kPeer, kPeerMac2, true, f.fn());
  ASSERT_EQ(f.packets.size(), 1u);
  EXPECT_EQ(f.packets[0].first, kPeerMac2);
}

TEST(ArpCache, EvictingAnIncompleteEntryCountsItsPackets) {
  ArpCache c{{.max_entries = 1}};
  c.enqueue(at_ms(0), kPeer, as_bytes("a"));
  c.enqueue(at_ms(1), kPeer, as_bytes("b"));
  c.enqueue(at_ms(2), kOther, as_bytes("c"));
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.counters().drop_evicted_pending, 2u);
  EXPECT_EQ(c.pending_bytes(), 1u);
}

}  // namespace
}  // namespace tapstack::ip
