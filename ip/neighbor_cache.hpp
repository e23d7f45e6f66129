// The IPv6 neighbour cache (RFC 4861 §7.3) with its queue of packets waiting for resolution. Sans-I/O:
// ip::Ipv6Engine feeds it what NS/NA/RA teach, asks it for next-hop MACs, and lets it say which solicitations
// are due; the cache never sends anything itself (mirrors ip/arp_cache.hpp).
//
// States and timers (RFC 4861 §7.3.2, §10): INCOMPLETE (multicast NS every RetransTimer, at most
// MAX_MULTICAST_SOLICIT, then the queued packets are dropped and counted), REACHABLE (for ReachableTime, a
// random 0.5..1.5 x BaseReachableTime, §6.3.2), STALE (after that, or when learned unsolicited), DELAY (a STALE
// entry was used to send: wait DELAY_FIRST_PROBE_TIME for an upper-layer hint), PROBE (unicast NS every
// RetransTimer, at most MAX_UNICAST_SOLICIT, then the entry is deleted). Upper-layer reachability hints
// (§7.3.1, e.g. TCP ACKs) are not taken: DELAY always goes on to PROBE, which a solicited NA answers.
// REACHABLE -> STALE is lazy (computed from the entry's deadline), so it never wakes the stack.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <unordered_map>
#include <vector>

#include "ip/address.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/function_ref.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

enum class NeighborState : std::uint8_t { kIncomplete, kReachable, kStale, kDelay, kProbe };
std::ostream& operator<<(std::ostream& os, NeighborState s);

struct NeighborCacheConfig {
  std::size_t max_entries = 256;                    // the least recently used goes first (INCOMPLETE last)
  Duration base_reachable_time = seconds(30);       // REACHABLE_TIME (RFC 4861 §10), until an RA says otherwise
  Duration retrans_timer = seconds(1);              // RETRANS_TIMER (§10)
  Duration delay_first_probe = seconds(5);          // DELAY_FIRST_PROBE_TIME (§10)
  unsigned max_multicast_solicit = 3;               // MAX_MULTICAST_SOLICIT (§10)
  unsigned max_unicast_solicit = 3;                 // MAX_UNICAST_SOLICIT (§10)
  std::size_t max_pending_per_dest = 64;            // packets queued per unresolved neighbour (Linux: ~100)
  std::size_t max_pending_bytes = 256 * 1024;       // packets queued for all neighbours together
};

#define TAPSTACK_NEIGHBOR_CACHE_COUNTERS(X)                                                               \
  X(created) X(updated) X(evicted) X(solicits_due) X(probes_due) X(resolved_flushed) X(deleted_unreachable) \
  X(na_no_entry) X(na_no_tlla_incomplete) X(na_override_refused)                                         \
  X(drop_pending_per_dest) X(drop_pending_bytes) X(drop_resolution_failed) X(drop_evicted_pending)       \
  X(drop_no_memory)
TAPSTACK_DEFINE_COUNTERS(NeighborCacheCounters, TAPSTACK_NEIGHBOR_CACHE_COUNTERS)

class NeighborCache {
 public:
  // Not copyable: find() remembers a pointer into its own map.
  NeighborCache(const NeighborCache&) = delete;
  NeighborCache& operator=(const NeighborCache&) = delete;
  // `rng` (which must outlive the cache) randomizes ReachableTime and keys the table's hash.
  NeighborCache(NeighborCacheConfig cfg, Rng& rng);

  // Next-hop resolution for a packet about to be sent (RFC 4861 §7.2.2, §7.3.3): the MAC when the entry has
  // one. Using a STALE entry (or a REACHABLE one past its ReachableTime) moves it to DELAY.
  std::optional<MacAddress> lookup(Instant now, const Ipv6Address& ip) noexcept {
    const MacAddress* mac = resolved(now, ip);
    return mac != nullptr ? std::optional<MacAddress>{*mac} : std::nullopt;
  }
  // lookup() for the send path: a pointer to the cached MAC (nullptr: none), valid until the cache next changes.
  // (As ArpCache::resolved: a returned std::optional<MacAddress> is built in memory with narrow stores and read
  // back with wider loads that cannot be forwarded from them, a stall on every packet.)
  const MacAddress* resolved(Instant now, const Ipv6Address& ip) noexcept;

  struct Enqueue {
    bool queued = false;        // false: a queue bound was reached (counted)
    bool send_solicit = false;  // the caller sends the first multicast NS for `ip` now
  };
  // Keeps a copy of the IP packet until `ip` resolves (the first packet is kept). Creates an INCOMPLETE entry
  // when there is none. Only for neighbours lookup() returned nothing for.
  Enqueue enqueue(Instant now, const Ipv6Address& ip, Bytes packet) noexcept;

  // A link-layer address learned from an NS, RS, RA or Redirect source option (RFC 4861 §7.2.3, §6.3.4,
  // §6.2.6): creates a STALE entry, or fills an INCOMPLETE one (STALE, queued packets flushed through
  // `flush(mac, packet)` in order), or marks a changed address STALE. `is_router` (from an RA) is recorded.
  void on_link_addr(Instant now, const Ipv6Address& ip, const MacAddress& mac,
                    FunctionRef<void(MacAddress, Bytes)> flush, std::optional<bool> is_router = std::nullopt) noexcept;

  struct AdvertResult {
    bool router_lost = false;  // IsRouter went from true to false: the caller drops it as default router (§7.2.5)
  };
  // A Neighbor Advertisement for `target` (RFC 4861 §7.2.5): no entry -> ignored; INCOMPLETE -> needs a TLLA,
  // then REACHABLE (solicited) or STALE, flushing the queue; otherwise the override / solicited rules.
  AdvertResult on_advert(Instant now, const Ipv6Address& target, const std::optional<MacAddress>& tlla,
                         bool solicited, bool override_flag, bool router,
                         FunctionRef<void(MacAddress, Bytes)> flush) noexcept;

  // Runs the INCOMPLETE / DELAY / PROBE timers: `solicit(ip, unicast_mac)` for each NS due (multicast when
  // unicast_mac is empty). INCOMPLETE entries out of retries drop their packets; PROBE entries out of retries
  // are deleted.
  void poll(Instant now, FunctionRef<void(const Ipv6Address&, std::optional<MacAddress>)> solicit) noexcept;
  std::optional<Instant> poll_at() const noexcept;

  // RFC 4861 §6.3.4: an RA's Reachable Time becomes the base; ReachableTime is re-drawn (0.5..1.5 x base).
  void set_base_reachable_time(Duration base) noexcept;
  void set_retrans_timer(Duration d) noexcept { cfg_.retrans_timer = d; }
  Duration reachable_time() const noexcept { return reachable_time_; }
  Duration retrans_timer() const noexcept { return cfg_.retrans_timer; }

  // The entry's state at `now` (REACHABLE past its deadline reads STALE); nullopt without an entry.
  std::optional<NeighborState> state(Instant now, const Ipv6Address& ip) const noexcept;
  std::optional<MacAddress> link_addr(const Ipv6Address& ip) const noexcept;
  bool is_router(const Ipv6Address& ip) const noexcept;
  void remove(const Ipv6Address& ip) noexcept;
  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t pending_packets() const noexcept;
  std::size_t pending_bytes() const noexcept { return pending_bytes_; }
  const NeighborCacheCounters& counters() const noexcept { return counters_; }
  const NeighborCacheConfig& config() const noexcept { return cfg_; }

 private:
  struct Hash {
    SipKey key;
    std::size_t operator()(const Ipv6Address& a) const noexcept;
  };
  struct Entry {
    NeighborState state = NeighborState::kIncomplete;
    MacAddress mac;
    bool is_router = false;
    Instant reachable_until;  // REACHABLE: then it reads STALE
    Instant timer_at;         // INCOMPLETE / PROBE: next NS or give-up; DELAY: when PROBE starts
    unsigned solicits_sent = 0;
    Instant last_used;
    std::vector<std::vector<std::byte>> pending;  // FIFO, INCOMPLETE only
  };
  using Map = std::unordered_map<Ipv6Address, Entry, Hash>;

  Entry* find(const Ipv6Address& ip) noexcept;
  // Every erase goes through here, which forgets the memo (it may point at the erased entry).
  Map::iterator erase_entry(Map::iterator it) noexcept;
  Entry* create(Instant now, const Ipv6Address& ip) noexcept;  // nullptr when no room or memory
  bool make_room(Instant now) noexcept;
  void drop_pending(Entry& e, std::uint64_t& counter) noexcept;
  void flush_pending(Entry& e, FunctionRef<void(MacAddress, Bytes)> flush) noexcept;
  void set_reachable(Instant now, Entry& e) noexcept;
  static NeighborState effective(Instant now, const Entry& e) noexcept;

  NeighborCacheConfig cfg_;
  Rng& rng_;
  Duration reachable_time_;
  Map entries_;
  Entry* memo_ = nullptr;  // the entry find() found last (see find)
  Ipv6Address memo_key_{};
  std::size_t pending_bytes_ = 0;
  NeighborCacheCounters counters_;
};

}  // namespace tapstack::ip
