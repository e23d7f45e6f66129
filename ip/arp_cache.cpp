// ArpCache: a bounded map from IPv4 address to MAC with per-address pending queues (RFC 826, RFC 1122 §2.3.2).
#include "ip/arp_cache.hpp"

#include <new>
#include <utility>

namespace tapstack::ip {

ArpCache::ArpCache(ArpCacheConfig cfg) : cfg_{cfg} {
  entries_.reserve(cfg_.max_entries);  // no rehash on the packet path
}

ArpCache::Map::iterator ArpCache::erase_entry(Map::iterator it) noexcept {
  memo_ = nullptr;
  return entries_.erase(it);
}

ArpCache::Entry* ArpCache::find_entry(Ipv4Address ip) noexcept {
  const std::uint32_t key = ip.to_u32();
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  memo_ = &it->second;
  memo_key_ = key;
  return memo_;
}

bool ArpCache::is_incomplete(Ipv4Address ip) const noexcept {
  auto it = entries_.find(ip.to_u32());
  return it != entries_.end() && !it->second.resolved;
}

std::size_t ArpCache::pending_packets() const noexcept {
  std::size_t n = 0;
  for (const auto& [_, e] : entries_) n += e.pending.size();
  return n;
}

void ArpCache::drop_pending(Entry& e, std::uint64_t& counter) noexcept {
  for (const auto& p : e.pending) pending_bytes_ -= p.size();
  counter += e.pending.size();
  e.pending.clear();
}

bool ArpCache::make_room(Instant now) noexcept {
  if (cfg_.max_entries == 0) return false;
  while (entries_.size() >= cfg_.max_entries) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      const Entry& e = it->second;
      if (e.resolved && e.expires_at <= now) {  // an expired mapping costs nothing to forget
        victim = it;
        break;
      }
      if (victim == entries_.end()) {
        victim = it;
        continue;
      }
      const Entry& v = victim->second;
      // Resolved entries go before incomplete ones (those hold packets), then least recently used.
      if ((e.resolved && !v.resolved) || (e.resolved == v.resolved && e.last_used < v.last_used)) victim = it;
    }
    drop_pending(victim->second, counters_.drop_evicted_pending);
    erase_entry(victim);
    ++counters_.evicted;
  }
  return true;
}

bool ArpCache::learn(Instant now, Ipv4Address ip, MacAddress mac, bool targeted,
                     FunctionRef<void(MacAddress, Bytes)> flush) noexcept {
  auto it = entries_.find(ip.to_u32());
  if (it == entries_.end()) {
    // RFC 826: "If the merge_flag is false and I am the target, add the triplet"; otherwise do nothing.
    if (!targeted) {
      ++counters_.ignored_not_targeted;
      return false;
    }
    if (!make_room(now)) return false;
    try {
      it = entries_.try_emplace(ip.to_u32()).first;
    } catch (const std::bad_alloc&) {
      ++counters_.drop_no_memory;
      return false;
    }
    ++counters_.learned;
  } else {
    ++counters_.updated;  // RFC 826 merge flag: refresh whoever asked or answered
  }
  Entry& e = it->second;
  e.mac = mac;
  e.resolved = true;
  e.expires_at = now + cfg_.reachable_time;
  e.last_used = now;
  e.requests_sent = 0;
  if (!e.pending.empty()) {
    std::vector<std::vector<std::byte>> queued = std::move(e.pending);  // flush may not re-enter, but be safe
    e.pending.clear();
    for (const auto& p : queued) {
      pending_bytes_ -= p.size();
      ++counters_.resolved_flushed;
      flush(mac, Bytes{p});
    }
  }
  return true;
}

ArpCache::Enqueue ArpCache::enqueue(Instant now, Ipv4Address next_hop, Bytes packet) noexcept {
  auto it = entries_.find(next_hop.to_u32());
  bool send_request = false;
  if (it == entries_.end()) {
    if (!make_room(now)) {
      ++counters_.drop_no_memory;
      return {false, false};
    }
    try {
      it = entries_.try_emplace(next_hop.to_u32()).first;
    } catch (const std::bad_alloc&) {
      ++counters_.drop_no_memory;
      return {false, false};
    }
    send_request = true;
  } else if (it->second.resolved) {  // expired mapping (lookup refused it): resolve again
    it->second.resolved = false;
    it->second.requests_sent = 0;
    send_request = true;
  }
  Entry& e = it->second;
  if (send_request) {
    e.requests_sent = 1;
    e.next_request_at = now + cfg_.retry_interval;
    e.last_used = now;
    ++counters_.requests_due;
  }
  if (e.pending.size() >= cfg_.max_pending_per_dest) {
    ++counters_.drop_pending_per_dest;
    return {false, send_request};
  }
  if (pending_bytes_ + packet.size() > cfg_.max_pending_bytes) {
    ++counters_.drop_pending_bytes;
    // The request still goes out so that later packets find the mapping.
    return {false, send_request};
  }
  try {
    e.pending.emplace_back(packet.begin(), packet.end());
  } catch (const std::bad_alloc&) {
    ++counters_.drop_no_memory;
    return {false, send_request};
  }
  pending_bytes_ += packet.size();
  return {true, send_request};
}

void ArpCache::poll(Instant now, FunctionRef<void(Ipv4Address)> send_request) noexcept {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (e.resolved) {
      if (e.expires_at <= now) {
        ++counters_.expired;
        it = erase_entry(it);
        continue;
      }
    } else if (e.next_request_at <= now) {
      if (e.requests_sent >= cfg_.max_requests) {
        // RFC 1122 §2.3.2.2: give up and discard what waited (ICMP host unreachable is not sent: see interface).
        drop_pending(e, counters_.drop_resolution_failed);
        it = erase_entry(it);
        continue;
      }
      ++e.requests_sent;
      e.next_request_at = now + cfg_.retry_interval;
      ++counters_.requests_due;
      send_request(Ipv4Address::from_u32(it->first));
    }
    ++it;
  }
}

std::optional<Instant> ArpCache::poll_at() const noexcept {
  std::optional<Instant> at;
  for (const auto& [_, e] : entries_) {
    if (!e.resolved && (!at || e.next_request_at < *at)) at = e.next_request_at;
  }
  return at;
}

}  // namespace tapstack::ip
