// NeighborCache: the RFC 4861 §7.3 state machine over a bounded, keyed-hash map from IPv6 address to entry,
// with per-neighbour queues of packets waiting for resolution (see the header for the policy).
#include "ip/neighbor_cache.hpp"

#include <algorithm>
#include <new>
#include <utility>

namespace tapstack::ip {

std::ostream& operator<<(std::ostream& os, NeighborState s) {
  switch (s) {
    case NeighborState::kIncomplete: return os << "INCOMPLETE";
    case NeighborState::kReachable: return os << "REACHABLE";
    case NeighborState::kStale: return os << "STALE";
    case NeighborState::kDelay: return os << "DELAY";
    case NeighborState::kProbe: return os << "PROBE";
  }
  return os << "state" << unsigned(s);
}

std::size_t NeighborCache::Hash::operator()(const Ipv6Address& a) const noexcept {
  // Keyed, so that a neighbour sending NS from chosen addresses cannot pile entries into one bucket.
  return std::size_t(siphash24(key, Bytes{reinterpret_cast<const std::byte*>(a.octets.data()), a.octets.size()}));
}

NeighborCache::NeighborCache(NeighborCacheConfig cfg, Rng& rng)
    : cfg_{cfg}, rng_{rng}, reachable_time_{cfg.base_reachable_time}, entries_(0, Hash{SipKey::random(rng)}) {
  entries_.reserve(cfg_.max_entries);  // no rehash on the packet path
  set_base_reachable_time(cfg_.base_reachable_time);
}

void NeighborCache::set_base_reachable_time(Duration base) noexcept {
  // RFC 4861 §6.3.2: ReachableTime = uniform(MIN_RANDOM_FACTOR = 0.5, MAX_RANDOM_FACTOR = 1.5) x base.
  cfg_.base_reachable_time = base;
  const std::int64_t us = std::clamp<std::int64_t>(base.count(), 0, std::int64_t{0xffffffff});
  reachable_time_ = Duration{us / 2 + (us == 0 ? 0 : std::int64_t(rng_.uniform(std::uint32_t(us))))};
}

NeighborState NeighborCache::effective(Instant now, const Entry& e) noexcept {
  if (e.state == NeighborState::kReachable && e.reachable_until <= now) return NeighborState::kStale;
  return e.state;
}

NeighborCache::Map::iterator NeighborCache::erase_entry(Map::iterator it) noexcept {
  memo_ = nullptr;
  return entries_.erase(it);
}

NeighborCache::Entry* NeighborCache::find(const Ipv6Address& ip) noexcept {
  // Every packet to the same neighbour asks again: the entry found last is checked before the keyed hash
  // (SipHash of 16 bytes). Pointers to unordered_map elements survive rehashing; every erase forgets the memo.
  if (memo_ != nullptr && memo_key_ == ip) return memo_;
  auto it = entries_.find(ip);
  if (it == entries_.end()) return nullptr;
  memo_key_ = ip;
  memo_ = &it->second;
  return memo_;
}

std::optional<NeighborState> NeighborCache::state(Instant now, const Ipv6Address& ip) const noexcept {
  auto it = entries_.find(ip);
  if (it == entries_.end()) return std::nullopt;
  return effective(now, it->second);
}

std::optional<MacAddress> NeighborCache::link_addr(const Ipv6Address& ip) const noexcept {
  auto it = entries_.find(ip);
  if (it == entries_.end() || it->second.state == NeighborState::kIncomplete) return std::nullopt;
  return it->second.mac;
}

bool NeighborCache::is_router(const Ipv6Address& ip) const noexcept {
  auto it = entries_.find(ip);
  return it != entries_.end() && it->second.is_router;
}

void NeighborCache::remove(const Ipv6Address& ip) noexcept {
  auto it = entries_.find(ip);
  if (it == entries_.end()) return;
  drop_pending(it->second, counters_.drop_evicted_pending);
  erase_entry(it);
}

std::size_t NeighborCache::pending_packets() const noexcept {
  std::size_t n = 0;
  for (const auto& [_, e] : entries_) n += e.pending.size();
  return n;
}

void NeighborCache::drop_pending(Entry& e, std::uint64_t& counter) noexcept {
  for (const auto& p : e.pending) pending_bytes_ -= p.size();
  counter += e.pending.size();
  e.pending.clear();
}

void NeighborCache::flush_pending(Entry& e, FunctionRef<void(MacAddress, Bytes)> flush) noexcept {
  if (e.pending.empty()) return;
  std::vector<std::vector<std::byte>> queued = std::move(e.pending);
  e.pending.clear();
  const MacAddress mac = e.mac;  // `e` may move if flush re-enters (it must not, but be safe)
  for (const auto& p : queued) {
    pending_bytes_ -= p.size();
    ++counters_.resolved_flushed;
    flush(mac, Bytes{p});
  }
}

void NeighborCache::set_reachable(Instant now, Entry& e) noexcept {
  e.state = NeighborState::kReachable;
  e.reachable_until = now + reachable_time_;
  e.solicits_sent = 0;
}

bool NeighborCache::make_room(Instant now) noexcept {
  if (cfg_.max_entries == 0) return false;
  while (entries_.size() >= cfg_.max_entries) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (victim == entries_.end()) {
        victim = it;
        continue;
      }
      const Entry& e = it->second;
      const Entry& v = victim->second;
      // Entries with a MAC go before INCOMPLETE ones (those hold packets), then the least recently used.
      const bool e_inc = e.state == NeighborState::kIncomplete, v_inc = v.state == NeighborState::kIncomplete;
      if ((!e_inc && v_inc) || (e_inc == v_inc && e.last_used < v.last_used)) victim = it;
    }
    drop_pending(victim->second, counters_.drop_evicted_pending);
    erase_entry(victim);
    ++counters_.evicted;
  }
  (void)now;
  return true;
}

NeighborCache::Entry* NeighborCache::create(Instant now, const Ipv6Address& ip) noexcept {
  if (!make_room(now)) {
    ++counters_.drop_no_memory;
    return nullptr;
  }
  try {
    Entry& e = entries_.try_emplace(ip).first->second;
    e.last_used = now;
    ++counters_.created;
    return &e;
  } catch (const std::bad_alloc&) {
    ++counters_.drop_no_memory;
    return nullptr;
  }
}

const MacAddress* NeighborCache::resolved(Instant now, const Ipv6Address& ip) noexcept {
  Entry* e = find(ip);
  if (e == nullptr || e->state == NeighborState::kIncomplete) return nullptr;
  e->last_used = now;
  if (effective(now, *e) == NeighborState::kStale) {
    // RFC 4861 §7.3.3: the first time a STALE entry is used to send, it goes to DELAY.
    e->state = NeighborState::kDelay;
    e->timer_at = now + cfg_.delay_first_probe;
  }
  return &e->mac;
}

NeighborCache::Enqueue NeighborCache::enqueue(Instant now, const Ipv6Address& ip, Bytes packet) noexcept {
  Entry* e = find(ip);
  bool send_solicit = false;
  if (e == nullptr) {
    e = create(now, ip);
    if (e == nullptr) return {false, false};
    // RFC 4861 §7.2.2: create INCOMPLETE, queue the packet, send a multicast NS; retransmit every RetransTimer.
    e->state = NeighborState::kIncomplete;
    e->solicits_sent = 1;
    e->timer_at = now + cfg_.retrans_timer;
    ++counters_.solicits_due;
    send_solicit = true;
  } else if (e->state != NeighborState::kIncomplete) {
    return {false, false};  // has a MAC: the caller should have used lookup()
  }
  e->last_used = now;
  if (e->pending.size() >= cfg_.max_pending_per_dest) {
    ++counters_.drop_pending_per_dest;
    return {false, send_solicit};
  }
  if (pending_bytes_ + packet.size() > cfg_.max_pending_bytes) {
    ++counters_.drop_pending_bytes;
    return {false, send_solicit};
  }
  try {
    e->pending.emplace_back(packet.begin(), packet.end());
  } catch (const std::bad_alloc&) {
    ++counters_.drop_no_memory;
    return {false, send_solicit};
  }
  pending_bytes_ += packet.size();
  return {true, send_solicit};
}

void NeighborCache::on_link_addr(Instant now, const Ipv6Address& ip, const MacAddress& mac,
                                 FunctionRef<void(MacAddress, Bytes)> flush, std::optional<bool> is_router) noexcept {
  Entry* e = find(ip);
  if (e == nullptr) {
    e = create(now, ip);
    if (e == nullptr) return;
    e->state = NeighborState::kStale;  // RFC 4861 §7.2.3: a new entry learned this way is STALE
    e->mac = mac;
  } else if (e->state == NeighborState::kIncomplete) {
    e->mac = mac;
    e->state = NeighborState::kStale;
    e->solicits_sent = 0;
    ++counters_.updated;
    if (is_router) e->is_router = *is_router;
    flush_pending(*e, flush);
    return;
  } else if (e->mac != mac) {
    e->mac = mac;
    e->state = NeighborState::kStale;
    e->solicits_sent = 0;
    ++counters_.updated;
  }
  if (is_router) e->is_router = *is_router;
}

NeighborCache::AdvertResult NeighborCache::on_advert(Instant now, const Ipv6Address& target,
                                                     const std::optional<MacAddress>& tlla, bool solicited,
                                                     bool override_flag, bool router,
                                                     FunctionRef<void(MacAddress, Bytes)> flush) noexcept {
  AdvertResult r;
  Entry* e = find(target);
  if (e == nullptr) {  // RFC 4861 §7.2.5: "the advertisement SHOULD be silently discarded"
    ++counters_.na_no_entry;
    return r;
  }
  const bool was_router = e->is_router;
  if (e->state == NeighborState::kIncomplete) {
    if (!tlla) {
      ++counters_.na_no_tlla_incomplete;
      return r;
    }
    e->mac = *tlla;
    if (solicited) set_reachable(now, *e);
    else e->state = NeighborState::kStale;
    e->is_router = router;
    ++counters_.updated;
    flush_pending(*e, flush);
    return r;
  }
  const bool differs = tlla && *tlla != e->mac;
  if (!override_flag && differs) {
    // The cached address stands; a REACHABLE entry becomes STALE so that it is probed before long.
    if (effective(now, *e) == NeighborState::kReachable) e->state = NeighborState::kStale;
    ++counters_.na_override_refused;
    return r;
  }
  if (differs) e->mac = *tlla;
  if (solicited) set_reachable(now, *e);
  else if (differs) e->state = NeighborState::kStale;
  e->is_router = router;
  ++counters_.updated;
  r.router_lost = was_router && !router;
  return r;
}

void NeighborCache::poll(Instant now,
                         FunctionRef<void(const Ipv6Address&, std::optional<MacAddress>)> solicit) noexcept {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    switch (e.state) {
      case NeighborState::kIncomplete:
        if (e.timer_at <= now) {
          if (e.solicits_sent >= cfg_.max_multicast_solicit) {
            // RFC 4861 §7.2.2: resolution failed; the queued packets are dropped (ICMPv6 address unreachable
            // is not sent back to ourselves: the transports see no answer and time out).
            drop_pending(e, counters_.drop_resolution_failed);
            it = erase_entry(it);
            continue;
          }
          ++e.solicits_sent;
          e.timer_at = now + cfg_.retrans_timer;
          ++counters_.solicits_due;
          solicit(it->first, std::nullopt);
        }
        break;
      case NeighborState::kDelay:
        if (e.timer_at <= now) {  // RFC 4861 §7.3.3: no confirmation within DELAY_FIRST_PROBE_TIME
          e.state = NeighborState::kProbe;
          e.solicits_sent = 1;
          e.timer_at = now + cfg_.retrans_timer;
          ++counters_.probes_due;
          solicit(it->first, e.mac);
        }
        break;
      case NeighborState::kProbe:
        if (e.timer_at <= now) {
          if (e.solicits_sent >= cfg_.max_unicast_solicit) {
            ++counters_.deleted_unreachable;
            it = erase_entry(it);
            continue;
          }
          ++e.solicits_sent;
          e.timer_at = now + cfg_.retrans_timer;
          ++counters_.probes_due;
          solicit(it->first, e.mac);
        }
        break;
      case NeighborState::kReachable:
      case NeighborState::kStale:
        break;
    }
    ++it;
  }
}

std::optional<Instant> NeighborCache::poll_at() const noexcept {
  std::optional<Instant> at;
  for (const auto& [_, e] : entries_) {
    const bool timed = e.state == NeighborState::kIncomplete || e.state == NeighborState::kDelay ||
                       e.state == NeighborState::kProbe;
    if (timed && (!at || e.timer_at < *at)) at = e.timer_at;
  }
  return at;
}

}  // namespace tapstack::ip
