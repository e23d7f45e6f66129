// ip::NeighborCache (RFC 4861 §7.3): the state machine at exact times with a SeededRng, its queue of packets
// waiting for resolution (the first packet kept, bounded), the NA override rules and eviction.
#include "ip/neighbor_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace tapstack::ip {
namespace {

const Ipv6Address kA = *Ipv6Address::parse("2001:db8::a");
const Ipv6Address kB = *Ipv6Address::parse("2001:db8::b");
const Ipv6Address kC = *Ipv6Address::parse("fe80::c");
constexpr MacAddress kMacA{{0x02, 0, 0, 0, 0, 0x0a}};
constexpr MacAddress kMacA2{{0x02, 0, 0, 0, 0, 0xaa}};

struct Solicit {
  Ipv6Address target;
  std::optional<MacAddress> unicast;
  friend bool operator==(const Solicit&, const Solicit&) = default;
};

struct H {
  SeededRng rng{3};
  NeighborCache nc;
  Instant t0 = Instant::from_millis(5000);
  std::vector<std::pair<MacAddress, std::string>> flushed;
  explicit H(NeighborCacheConfig cfg = {}) : nc{cfg, rng} {}
  std::vector<Solicit> poll(Instant now) {
    std::vector<Solicit> out;
    nc.poll(now, [&](const Ipv6Address& ip, std::optional<MacAddress> m) { out.push_back({ip, m}); });
    return out;
  }
  auto flush() {
    return [this](MacAddress m, Bytes p) { flushed.emplace_back(m, std::string(as_chars(p))); };
  }
  NeighborCache::AdvertResult na(Instant now, const Ipv6Address& t, std::optional<MacAddress> tlla, bool s, bool o,
                                 bool r = false) {
    return nc.on_advert(now, t, tlla, s, o, r, flush());
  }
};

TEST(NeighborCache, Incomplete_MulticastSolicitEveryRetransTimer_ThenDropsQueue) {
  H h;
  const auto e = h.nc.enqueue(h.t0, kA, as_bytes("p1"));
  EXPECT_TRUE(e.queued);
  EXPECT_TRUE(e.send_solicit);
  EXPECT_EQ(h.nc.state(h.t0, kA), NeighborState::kIncomplete);
  EXPECT_EQ(h.nc.lookup(h.t0, kA), std::nullopt);
  const auto again = h.nc.enqueue(h.t0, kA, as_bytes("p2"));
  EXPECT_TRUE(again.queued);
  EXPECT_FALSE(again.send_solicit);
  EXPECT_EQ(h.nc.poll_at(), h.t0 + seconds(1));
  EXPECT_TRUE(h.poll(h.t0 + milliseconds(999)).empty());
  EXPECT_EQ(h.poll(h.t0 + seconds(1)), (std::vector<Solicit>{{kA, std::nullopt}}));
  EXPECT_EQ(h.poll(h.t0 + seconds(2)), (std::vector<Solicit>{{kA, std::nullopt}}));
  EXPECT_TRUE(h.poll(h.t0 + seconds(3)).empty());  // 3 sent: MAX_MULTICAST_SOLICIT
  EXPECT_EQ(h.nc.state(h.t0 + seconds(3), kA), std::nullopt);
  EXPECT_EQ(h.nc.counters().drop_resolution_failed, 2u);
  EXPECT_EQ(h.nc.pending_bytes(), 0u);
  EXPECT_EQ(h.nc.poll_at(), std::nullopt);
}

TEST(NeighborCache, Incomplete_SolicitedNaFlushesInOrder_Reachable) {
  H h;
  h.nc.enqueue(h.t0, kA, as_bytes("first"));
  h.nc.enqueue(h.t0, kA, as_bytes("second"));
  h.na(h.t0 + milliseconds(10), kA, std::nullopt, true, true);  // no TLLA: ignored while INCOMPLETE
  EXPECT_EQ(h.nc.counters().na_no_tlla_incomplete, 1u);
  EXPECT_TRUE(h.flushed.empty());
  h.na(h.t0 + milliseconds(20), kA, kMacA, true, false);
  ASSERT_EQ(h.flushed.size(), 2u);
  EXPECT_EQ(h.flushed[0], std::make_pair(kMacA, std::string("first")));
  EXPECT_EQ(h.flushed[1], std::make_pair(kMacA, std::string("second")));
  EXPECT_EQ(h.nc.state(h.t0 + milliseconds(20), kA), NeighborState::kReachable);
  EXPECT_EQ(h.nc.pending_packets(), 0u);
}

TEST(NeighborCache, UnsolicitedNaForIncompleteIsStale) {
  H h;
  h.nc.enqueue(h.t0, kA, as_bytes("x"));
  h.na(h.t0, kA, kMacA, false, true);
  EXPECT_EQ(h.nc.state(h.t0, kA), NeighborState::kStale);
  EXPECT_EQ(h.flushed.size(), 1u);
}

// lookup() remembers the entry it found last; removing that entry, or learning another address, must never
// answer from the stale memo.
TEST(NeighborCache, LookupAfterRemoveAndOtherAddressesIsExact) {
  H h;
  h.nc.on_link_addr(h.t0, kA, kMacA, h.flush());
  ASSERT_EQ(h.nc.lookup(h.t0, kA), std::optional<MacAddress>{kMacA});
  ASSERT_EQ(h.nc.lookup(h.t0, kA), std::optional<MacAddress>{kMacA});  // from the memo
  EXPECT_EQ(h.nc.lookup(h.t0, kB), std::nullopt);
  h.nc.remove(kA);
  EXPECT_EQ(h.nc.lookup(h.t0, kA), std::nullopt);
  h.nc.on_link_addr(h.t0, kB, kMacA2, h.flush());
  EXPECT_EQ(h.nc.lookup(h.t0, kB), std::optional<MacAddress>{kMacA2});
  EXPECT_EQ(h.nc.lookup(h.t0, kA), std::nullopt);
  h.nc.on_link_addr(h.t0, kA, kMacA2, h.flush());  // learned again, with a new MAC
  EXPECT_EQ(h.nc.lookup(h.t0, kA), std::optional<MacAddress>{kMacA2});
}

TEST(NeighborCache, ReachableTimeIsRandomizedAroundBase) {
  SeededRng rng{9};
  for (int i = 0; i < 50; ++i) {
    NeighborCache nc{{}, rng};
    EXPECT_GE(nc.reachable_time(), seconds(15));
    EXPECT_LT(nc.reachable_time(), seconds(45));
  }
  NeighborCache nc{{}, rng};
  nc.set_base_reachable_time(seconds(10));
  EXPECT_GE(nc.reachable_time(), seconds(5));
  EXPECT_LT(nc.reachable_time(), seconds(15));
}

TEST(NeighborCache, Reachable_Stale_Delay_Probe_AtExactTimes_ThenDeleted) {
  H h;
  h.nc.enqueue(h.t0, kA, as_bytes("x"));
  h.na(h.t0, kA, kMacA, true, true);
  const Duration rt = h.nc.reachable_time();
  EXPECT_EQ(h.nc.state(h.t0 + rt - microseconds(1), kA), NeighborState::kReachable);
  EXPECT_EQ(h.nc.state(h.t0 + rt, kA), NeighborState::kStale);
  EXPECT_EQ(h.nc.poll_at(), std::nullopt);  // REACHABLE -> STALE wakes nobody
  const Instant t1 = h.t0 + rt + seconds(3);
  EXPECT_EQ(h.nc.lookup(t1, kA), kMacA);  // used while STALE: DELAY
  EXPECT_EQ(h.nc.state(t1, kA), NeighborState::kDelay);
  EXPECT_EQ(h.nc.poll_at(), t1 + seconds(5));
  EXPECT_TRUE(h.poll(t1 + seconds(5) - microseconds(1)).empty());
  EXPECT_EQ(h.poll(t1 + seconds(5)), (std::vector<Solicit>{{kA, kMacA}}));
  EXPECT_EQ(h.nc.state(t1 + seconds(5), kA), NeighborState::kProbe);
  EXPECT_EQ(h.nc.lookup(t1 + seconds(5), kA), kMacA);  // still usable while probing
  EXPECT_EQ(h.poll(t1 + seconds(6)), (std::vector<Solicit>{{kA, kMacA}}));
  EXPECT_EQ(h.poll(t1 + seconds(7)), (std::vector<Solicit>{{kA, kMacA}}));
  EXPECT_TRUE(h.poll(t1 + seconds(8)).empty());  // MAX_UNICAST_SOLICIT = 3: gone
  EXPECT_EQ(h.nc.state(t1 + seconds(8), kA), std::nullopt);
  EXPECT_EQ(h.nc.counters().deleted_unreachable, 1u);
}

TEST(NeighborCache, Probe_SolicitedNaMakesReachable) {
  H h;
  h.nc.on_link_addr(h.t0, kA, kMacA, h.flush());
  EXPECT_EQ(h.nc.state(h.t0, kA), NeighborState::kStale);
  h.nc.lookup(h.t0, kA);
  h.poll(h.t0 + seconds(5));
  EXPECT_EQ(h.nc.state(h.t0 + seconds(5), kA), NeighborState::kProbe);
  h.na(h.t0 + seconds(5) + milliseconds(100), kA, std::nullopt, true, false);
  EXPECT_EQ(h.nc.state(h.t0 + seconds(6), kA), NeighborState::kReachable);
  EXPECT_EQ(h.nc.poll_at(), std::nullopt);
}

TEST(NeighborCache, NaWithoutOverrideKeepsMac_ReachableBecomesStale) {
  H h;
  h.nc.enqueue(h.t0, kA, as_bytes("x"));
  h.na(h.t0, kA, kMacA, true, true);
  h.na(h.t0 + seconds(1), kA, kMacA2, true, false);
  EXPECT_EQ(h.nc.link_addr(kA), kMacA);
  EXPECT_EQ(h.nc.state(h.t0 + seconds(1), kA), NeighborState::kStale);
  EXPECT_EQ(h.nc.counters().na_override_refused, 1u);
  // With override, the new address is taken; unsolicited -> STALE.
  h.na(h.t0 + seconds(2), kA, kMacA2, false, true);
  EXPECT_EQ(h.nc.link_addr(kA), kMacA2);
  EXPECT_EQ(h.nc.state(h.t0 + seconds(2), kA), NeighborState::kStale);
}

TEST(NeighborCache, NaForUnknownNeighbourCreatesNothing) {
  H h;
  h.na(h.t0, kA, kMacA, true, true);
  EXPECT_EQ(h.nc.size(), 0u);
  EXPECT_EQ(h.nc.counters().na_no_entry, 1u);
}

TEST(NeighborCache, LinkAddrChangeMakesStale_RouterFlagLostIsReported) {
  H h;
  h.nc.on_link_addr(h.t0, kC, kMacA, h.flush(), true);
  EXPECT_TRUE(h.nc.is_router(kC));
  h.na(h.t0, kC, kMacA, true, true, true);
  EXPECT_EQ(h.nc.state(h.t0, kC), NeighborState::kReachable);
  h.nc.on_link_addr(h.t0 + seconds(1), kC, kMacA2, h.flush());
  EXPECT_EQ(h.nc.state(h.t0 + seconds(1), kC), NeighborState::kStale);
  EXPECT_EQ(h.nc.link_addr(kC), kMacA2);
  EXPECT_TRUE(h.na(h.t0 + seconds(2), kC, kMacA2, true, true, false).router_lost);
  EXPECT_FALSE(h.nc.is_router(kC));
}

TEST(NeighborCache, PendingQueueKeepsFirstPacketsUpToBound) {
  H h;
  EXPECT_EQ(h.nc.config().max_pending_per_dest, 64u);
  for (int i = 0; i < 64; ++i) EXPECT_TRUE(h.nc.enqueue(h.t0, kA, as_bytes("p" + std::to_string(i))).queued);
  EXPECT_FALSE(h.nc.enqueue(h.t0, kA, as_bytes("late")).queued);
  EXPECT_EQ(h.nc.counters().drop_pending_per_dest, 1u);
  h.na(h.t0, kA, kMacA, true, true);
  ASSERT_EQ(h.flushed.size(), 64u);
  EXPECT_EQ(h.flushed.front().second, "p0");
  EXPECT_EQ(h.flushed.back().second, "p63");
}

TEST(NeighborCache, BoundedEntriesEvictLeastRecentlyUsedResolvedFirst) {
  H h{NeighborCacheConfig{.max_entries = 2}};
  h.nc.enqueue(h.t0, kA, as_bytes("waiting"));                      // INCOMPLETE, oldest
  h.nc.on_link_addr(h.t0 + seconds(1), kB, kMacA, h.flush());        // STALE
  h.nc.on_link_addr(h.t0 + seconds(2), kC, kMacA2, h.flush());       // evicts kB, not the INCOMPLETE kA
  EXPECT_EQ(h.nc.size(), 2u);
  EXPECT_EQ(h.nc.state(h.t0 + seconds(2), kA), NeighborState::kIncomplete);
  EXPECT_EQ(h.nc.state(h.t0 + seconds(2), kB), std::nullopt);
  EXPECT_EQ(h.nc.counters().evicted, 1u);
}

}  // namespace
}  // namespace tapstack::ip
