// Reassembler: fixed slots of datagrams, each a payload buffer plus the sorted list of fragment ranges.
// A fragment's range is kept as received (never merged) so that an exact duplicate can be recognised.
#include "ip/reassembly.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "ip/transport.hpp"

namespace tapstack::ip {

namespace {
constexpr std::size_t kMaxIpv4Datagram = 65535;
constexpr std::size_t kMinTransportHeader = 8;  // UDP and ICMP headers; RFC 791 §3.2 "eight octets"
constexpr std::size_t kMinTcpHeader = 20;       // RFC 1858 §3.2
constexpr std::size_t kShrinkAbove = 16 * 1024;  // a released buffer larger than this gives its memory back
}  // namespace

Reassembler::Reassembler(ReassemblyConfig cfg) : cfg_{cfg} {
  slots_.resize(cfg_.max_datagrams);
  for (auto& d : slots_) d.ranges.reserve(std::min<std::size_t>(cfg_.max_fragments, 16));
}

std::size_t Reassembler::datagrams_in_flight() const noexcept {
  return std::size_t(std::count_if(slots_.begin(), slots_.end(), [](const Datagram& d) { return d.in_use && !d.aborted; }));
}

Reassembler::Datagram* Reassembler::find(const FragmentKey& key) noexcept {
  for (auto& d : slots_)
    if (d.in_use && d.key == key) return &d;
  return nullptr;
}

std::size_t Reassembler::bytes_of_source(Ipv4Address src) const noexcept {
  std::size_t n = 0;
  for (const auto& d : slots_)
    if (d.in_use && d.key.src == src) n += d.buf.size();
  return n;
}

void Reassembler::release(Datagram& d, bool tombstone) noexcept {
  bytes_held_ -= d.buf.size();
  d.buf.clear();
  if (d.buf.capacity() > kShrinkAbove) std::vector<std::byte>{}.swap(d.buf);
  d.ranges.clear();
  d.total.reset();
  d.header_len = 0;
  d.aborted = tombstone;
  d.in_use = tombstone;  // a tombstone keeps its key and expiry
}

Reassembler::Datagram* Reassembler::allocate(Instant now, const FragmentKey& key) noexcept {
  Datagram* slot = nullptr;
  for (auto& d : slots_) {
    if (!d.in_use) {
      slot = &d;
      break;
    }
  }
  if (slot == nullptr) {
    // Table full: forget a tombstone first (it holds no data), else evict the oldest datagram.
    for (auto& d : slots_) {
      if (!d.aborted) continue;
      if (slot == nullptr || d.expires_at < slot->expires_at) slot = &d;
    }
    if (slot == nullptr) {
      for (auto& d : slots_)
        if (slot == nullptr || d.expires_at < slot->expires_at) slot = &d;
      if (slot == nullptr) {  // max_datagrams == 0
        ++counters_.drop_table_full;
        return nullptr;
      }
      ++counters_.evicted;
    }
    release(*slot, false);
  }
  slot->in_use = true;
  slot->aborted = false;
  slot->key = key;
  slot->expires_at = now + cfg_.timeout;
  return slot;
}

std::optional<Reassembled> Reassembler::add(Instant now, const Fragment& f) noexcept {
  ++counters_.fragments;
  Datagram* d = find(f.key);
  if (d != nullptr && d->aborted) {
    ++counters_.drop_after_abort;
    return std::nullopt;
  }
  // Drops the datagram this fragment belongs to (leaving a tombstone) and counts `reason` once.
  auto abort = [&](std::uint64_t& reason) -> std::optional<Reassembled> {
    ++reason;
    if (d != nullptr) release(*d, true);
    return std::nullopt;
  };

  const std::size_t len = f.payload.size();
  const std::size_t end = std::size_t(f.offset) + len;
  if (f.more_fragments && (len == 0 || len % 8 != 0)) return abort(counters_.drop_bad_fragment_len);
  if (end + std::max<std::size_t>(f.header.size(), 20) > kMaxIpv4Datagram) return abort(counters_.drop_too_big);
  const bool tcp = f.key.protocol == std::uint8_t(IpProtocol::kTcp);
  if (f.offset == 0 && f.more_fragments && len < (tcp ? kMinTcpHeader : kMinTransportHeader))
    return abort(counters_.drop_tiny_fragment);
  if (tcp && f.offset == 8) return abort(counters_.drop_tiny_fragment);  // RFC 1858 §3.2: rewrites TCP flags
  if (f.offset == 0 && (f.header.size() < 20 || f.header.size() > 60)) return abort(counters_.drop_inconsistent);

  if (d != nullptr) {
    if (!f.more_fragments) {
      if (d->total && *d->total != end) return abort(counters_.drop_inconsistent);
      for (const Range& r : d->ranges)
        if (r.end > end) return abort(counters_.drop_inconsistent);
    } else if (d->total && end > *d->total) {
      return abort(counters_.drop_inconsistent);
    }
    for (const Range& r : d->ranges) {
      const bool r_is_last = d->total && r.end == *d->total;
      if (r.begin == f.offset && r.end == end && len != 0 && f.more_fragments == !r_is_last &&
          std::memcmp(d->buf.data() + r.begin, f.payload.data(), len) == 0) {
        ++counters_.duplicates_ignored;  // an exact copy: same place, same bytes, same MF
        return std::nullopt;
      }
      if (r.begin < end && f.offset < r.end) return abort(counters_.drop_overlap);
    }
    if (d->ranges.size() >= cfg_.max_fragments) return abort(counters_.drop_too_many_fragments);
  } else {
    if (cfg_.max_fragments == 0) return abort(counters_.drop_too_many_fragments);
  }

  // Memory: count the buffer growth against the source's and the global budget.
  const std::size_t old_size = d != nullptr ? d->buf.size() : 0;
  const std::size_t growth = end > old_size ? end - old_size : 0;
  if (bytes_of_source(f.key.src) + growth > cfg_.max_bytes_per_source) return abort(counters_.drop_memory_per_source);
  while (bytes_held_ + growth > cfg_.max_bytes) {
    Datagram* oldest = nullptr;  // evict the oldest other datagram holding data
    for (auto& o : slots_)
      if (o.in_use && !o.aborted && &o != d && !o.buf.empty() && (oldest == nullptr || o.expires_at < oldest->expires_at))
        oldest = &o;
    if (oldest == nullptr) return abort(counters_.drop_memory_global);
    ++counters_.evicted;
    release(*oldest, false);
  }

  if (d == nullptr) {
    d = allocate(now, f.key);
    if (d == nullptr) return std::nullopt;
  }
  if (growth != 0) {
    try {
      d->buf.resize(end);
    } catch (const std::bad_alloc&) {
      return abort(counters_.drop_no_memory);
    }
    bytes_held_ += growth;
  }
  if (len != 0) std::memcpy(d->buf.data() + f.offset, f.payload.data(), len);
  if (!f.more_fragments) d->total = std::uint32_t(end);
  if (f.offset == 0) {
    d->header_len = f.header.size();
    std::memcpy(d->header.data(), f.header.data(), f.header.size());
    d->ttl = f.ttl;
    d->tos = f.tos;
  }
  if (len != 0) {
    const Range nr{f.offset, std::uint32_t(end)};
    d->ranges.insert(std::upper_bound(d->ranges.begin(), d->ranges.end(), nr,
                                      [](const Range& a, const Range& b) { return a.begin < b.begin; }),
                     nr);
  }

  // RFC 815: complete when the last fragment arrived and no hole is left below it.
  if (!d->total || d->header_len == 0) return std::nullopt;
  std::uint32_t pos = 0;
  for (const Range& r : d->ranges) {
    if (r.begin > pos) return std::nullopt;
    pos = std::max(pos, r.end);
  }
  if (pos < *d->total) return std::nullopt;
  if (d->header_len + *d->total > kMaxIpv4Datagram) return abort(counters_.drop_too_big);

  // Hand the buffer out and take the previous output buffer back into the slot for reuse.
  const std::uint32_t total = *d->total;
  Reassembled r;
  r.key = d->key;
  r.ttl = d->ttl;
  r.tos = d->tos;
  std::memcpy(out_header_.data(), d->header.data(), d->header_len);
  r.header = Bytes{out_header_.data(), d->header_len};
  bytes_held_ -= d->buf.size();
  out_.swap(d->buf);
  d->buf.clear();
  release(*d, false);
  r.payload = Bytes{out_.data(), total};
  ++counters_.reassembled;
  return r;
}

void Reassembler::poll(Instant now) noexcept {
  for (auto& d : slots_) {
    if (!d.in_use || d.expires_at > now) continue;
    if (!d.aborted) ++counters_.drop_timeout;
    release(d, false);
  }
}

std::optional<Instant> Reassembler::poll_at() const noexcept {
  std::optional<Instant> at;
  for (const auto& d : slots_)
    if (d.in_use && (!at || d.expires_at < *at)) at = d.expires_at;
  return at;
}

}  // namespace tapstack::ip
