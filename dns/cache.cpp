// Cache: TTL-bounded, LRU-bounded answers for the resolver (RFC 1035 §7.4, RFC 2308 §5 for negative ones).
#include "dns/cache.hpp"

#include <utility>

namespace tapstack::dns {

void Cache::insert(Instant now, const Name& name, Type type, CacheKind kind, const Name& canonical_name,
                   std::vector<ip::IpAddress> addresses, std::uint32_t ttl) {
  if (kind == CacheKind::kAddresses) {
    // The name exists after all: a name-wide NXDOMAIN learned earlier is stale.
    if (const auto it = index_.find(Key{name, Type::kAny}); it != index_.end()) {
      lru_.erase(it->second);
      index_.erase(it);
    }
  }
  if (ttl == 0 || capacity_ == 0) return;
  put(Entry{Key{name, type}, kind, canonical_name, std::move(addresses), now + seconds{ttl}});
}

void Cache::insert_nxdomain(Instant now, const Name& name, const Name& canonical_name, std::uint32_t ttl) {
  if (ttl == 0 || capacity_ == 0) return;
  put(Entry{Key{name, Type::kAny}, CacheKind::kNxDomain, canonical_name, {}, now + seconds{ttl}});
}

void Cache::put(Entry e) {
  if (const auto it = index_.find(e.key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (lru_.size() >= capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++counters_.evictions;
  }
  lru_.push_front(std::move(e));
  index_.emplace(lru_.front().key, lru_.begin());
  ++counters_.inserts;
}

std::optional<CachedAnswer> Cache::find(Instant now, const Key& key) {
  const auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  const Entry& e = *it->second;
  if (now >= e.expires_at) {
    ++counters_.expired;
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  CachedAnswer out{e.kind, e.canonical_name, {}};
  const std::int64_t left_us = (e.expires_at - now).count();
  const auto left_s = std::uint32_t((left_us + 999'999) / 1'000'000);
  for (const auto& a : e.addresses) out.addresses.push_back({a, left_s});
  return out;
}

std::optional<CachedAnswer> Cache::lookup(Instant now, const Name& name, Type type) {
  auto hit = find(now, Key{name, type});
  if (!hit && type != Type::kAny) {
    hit = find(now, Key{name, Type::kAny});
    if (hit && hit->kind != CacheKind::kNxDomain) hit.reset();
  }
  if (hit) {
    ++counters_.hits;
  } else {
    ++counters_.misses;
  }
  return hit;
}

void Cache::clear() noexcept {
  lru_.clear();
  index_.clear();
}

}  // namespace tapstack::dns
