// The resolver's answer cache: positive answers (addresses) and negative ones (NXDOMAIN, NODATA) keyed by
// (name, type), each kept until its TTL runs out, bounded by an LRU. Pure data: time comes in as `now`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

#include "dns/message.hpp"
#include "dns/name.hpp"
#include "ip/address.hpp"
#include "stack/counters.hpp"
#include "stack/time.hpp"

namespace tapstack::dns {

// clang-format off
#define TAPSTACK_DNS_CACHE_COUNTERS(X)                                   \
  X(hits)       /* lookups answered */                                   \
  X(misses)     /* lookups not answered */                               \
  X(expired)    /* found past its TTL (then removed) */                  \
  X(inserts)                                                             \
  X(evictions)  /* the least recently used entry made room (LRU) */
// clang-format on
TAPSTACK_DEFINE_COUNTERS(CacheCounters, TAPSTACK_DNS_CACHE_COUNTERS)

enum class CacheKind : std::uint8_t { kAddresses, kNxDomain, kNoData };

struct CachedAnswer {
  CacheKind kind = CacheKind::kAddresses;
  Name canonical_name;
  // For kAddresses; each ttl is the entry's remaining lifetime in whole seconds, rounded up (never 0 while
  // the entry is still served).
  std::vector<AddressAnswer> addresses;
};

class Cache {
 public:
  explicit Cache(std::size_t capacity) : capacity_{capacity} {}  // 0 disables caching

  // Stores an answer for (name, type) for `ttl` seconds from `now`: it is served while now < now + ttl and
  // gone from that instant on. A ttl of 0 stores nothing (RFC 1035 §3.2.1: use only for the transaction).
  // Replaces an entry for the same key. For kAddresses, a name-wide NXDOMAIN entry of `name` is removed.
  void insert(Instant now, const Name& name, Type type, CacheKind kind, const Name& canonical_name,
              std::vector<ip::IpAddress> addresses, std::uint32_t ttl);
  // RFC 2308 §5: a name error is about the name, whatever the type; it answers lookups of every type
  // that have no entry of their own.
  void insert_nxdomain(Instant now, const Name& name, const Name& canonical_name, std::uint32_t ttl);

  // The live entry for (name, type), else a live name-wide NXDOMAIN for `name`; refreshes its LRU place.
  std::optional<CachedAnswer> lookup(Instant now, const Name& name, Type type);

  void clear() noexcept;
  std::size_t size() const noexcept { return lru_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  const CacheCounters& counters() const noexcept { return counters_; }

 private:
  struct Key {
    Name name;
    Type type = Type::kA;  // kAny: the name-wide NXDOMAIN entry
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept { return k.name.hash() * 31u + std::size_t(k.type); }
  };
  struct Entry {
    Key key;
    CacheKind kind = CacheKind::kAddresses;
    Name canonical_name;
    std::vector<ip::IpAddress> addresses;
    Instant expires_at;
  };
  using List = std::list<Entry>;

  void put(Entry e);
  std::optional<CachedAnswer> find(Instant now, const Key& key);

  std::size_t capacity_;
  List lru_;  // most recently used first
  std::unordered_map<Key, List::iterator, KeyHash> index_;
  CacheCounters counters_;
};

}  // namespace tapstack::dns
