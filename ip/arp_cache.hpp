// The ARP neighbour cache with its queue of packets waiting for resolution (RFC 826, RFC 1122 §2.3.2).
// Sans-I/O: ip::Interface feeds it what ARP packets teach, asks it for next-hop MACs, and lets it say when
// a request is due; the cache never sends anything itself.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ip/address.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/function_ref.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

struct ArpCacheConfig {
  std::size_t max_entries = 256;               // resolved + incomplete; the least recently used goes first
  Duration reachable_time = seconds(60);       // a learned mapping is trusted this long (RFC 1122 §2.3.2.1)
  Duration retry_interval = seconds(1);        // at most one request per address per second (RFC 1122 §2.3.2.1)
  unsigned max_requests = 3;                   // give up after this many unanswered requests
  std::size_t max_pending_per_dest = 64;       // packets queued per unresolved address (Linux keeps ~100)
  std::size_t max_pending_bytes = 256 * 1024;  // packets queued for all addresses together
};

#define TAPSTACK_ARP_CACHE_COUNTERS(X) \
  X(learned) X(updated) X(ignored_not_targeted) X(evicted) X(expired) X(requests_due) X(resolved_flushed) \
  X(drop_pending_per_dest) X(drop_pending_bytes) X(drop_resolution_failed) X(drop_evicted_pending) X(drop_no_memory)
TAPSTACK_DEFINE_COUNTERS(ArpCacheCounters, TAPSTACK_ARP_CACHE_COUNTERS)

class ArpCache {
 public:
  // Not copyable: lookup() remembers a pointer into its own map.
  ArpCache(const ArpCache&) = delete;
  ArpCache& operator=(const ArpCache&) = delete;
  explicit ArpCache(ArpCacheConfig cfg = {});

  // The MAC for `ip` if a mapping is known and younger than reachable_time; marks it recently used.
  std::optional<MacAddress> lookup(Instant now, Ipv4Address ip) noexcept {
    const MacAddress* mac = resolved(now, ip);
    return mac != nullptr ? std::optional<MacAddress>{*mac} : std::nullopt;
  }
  // lookup() for the send path: a pointer to the cached MAC (nullptr: none), valid until the cache next changes.
  // Every packet to the same next hop asks, so the entry found last is checked first, inline. (GCC builds a
  // std::optional<MacAddress> in memory with 4- and 2-byte stores and reads it back with overlapping loads that
  // cannot be forwarded from those stores: that stall cost more than the rest of the lookup.)
  const MacAddress* resolved(Instant now, Ipv4Address ip) noexcept {
    Entry* e = memo_ != nullptr && memo_key_ == ip.to_u32() ? memo_ : find_entry(ip);
    if (e == nullptr || !e->resolved || e->expires_at <= now) return nullptr;
    e->last_used = now;
    return &e->mac;
  }

  // What a valid ARP packet teaches (RFC 826 "Packet Reception"): the sender's mapping updates an existing
  // entry (merge flag); a new entry is created only when `targeted` (the packet's target IP is ours), so
  // gratuitous ARP and requests between other hosts never grow the cache. When the entry was waiting,
  // each queued packet is passed to `flush(mac, packet)` in the order it was queued, then freed.
  // Returns true when the mapping is now in the cache.
  bool learn(Instant now, Ipv4Address ip, MacAddress mac, bool targeted,
             FunctionRef<void(MacAddress, Bytes)> flush) noexcept;

  struct Enqueue {
    bool queued = false;        // false: a queue bound was reached (counted)
    bool send_request = false;  // the caller sends a request for `next_hop` now (first miss or expired)
  };
  // Keeps a copy of the IP packet `packet` until `next_hop` resolves (the first packet is kept, unlike
  // smoltcp). Creates an incomplete entry when none exists.
  Enqueue enqueue(Instant now, Ipv4Address next_hop, Bytes packet) noexcept;

  // Runs timers: calls `send_request(ip)` for each incomplete entry whose retry is due, and gives up on
  // entries that had max_requests unanswered requests, dropping (and counting) their queued packets.
  // Resolved entries past reachable_time are removed.
  void poll(Instant now, FunctionRef<void(Ipv4Address)> send_request) noexcept;
  // The earliest time poll() has work: a retry or a give-up. Expiry of resolved entries is lazy (lookup
  // treats them as missing), so it does not wake the stack.
  std::optional<Instant> poll_at() const noexcept;

  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t pending_packets() const noexcept;
  std::size_t pending_bytes() const noexcept { return pending_bytes_; }
  bool is_incomplete(Ipv4Address ip) const noexcept;
  const ArpCacheCounters& counters() const noexcept { return counters_; }
  const ArpCacheConfig& config() const noexcept { return cfg_; }

 private:
  struct Entry {
    MacAddress mac;
    bool resolved = false;
    Instant expires_at;       // resolved: mapping valid until then
    Instant last_used;        // for LRU eviction
    Instant next_request_at;  // incomplete: when the next request (or the give-up) is due
    unsigned requests_sent = 0;
    std::vector<std::vector<std::byte>> pending;  // FIFO, at most max_pending_per_dest
  };
  using Map = std::unordered_map<std::uint32_t, Entry>;
  Entry* memo_ = nullptr;  // the entry resolved() found last (see resolved)
  std::uint32_t memo_key_ = 0;
  // The entry for `ip` from the map (nullptr: none), remembered in the memo. Pointers to unordered_map elements
  // survive rehashing; every erase forgets the memo.
  Entry* find_entry(Ipv4Address ip) noexcept;
  // Every erase goes through here, which forgets the memo (it may point at the erased entry).
  Map::iterator erase_entry(Map::iterator it) noexcept;
  // Makes room for one more entry (evicts expired first, then the least recently used, resolved before
  // incomplete). False when max_entries is 0.
  bool make_room(Instant now) noexcept;
  void drop_pending(Entry& e, std::uint64_t& counter) noexcept;

  ArpCacheConfig cfg_;
  Map entries_;
  std::size_t pending_bytes_ = 0;
  ArpCacheCounters counters_;
};

}  // namespace tapstack::ip
