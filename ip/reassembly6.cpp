// Reassembler6: fixed slots of datagrams, each a buffer of the fragmentable part plus the sorted list of
// fragment ranges (kept as received so an exact duplicate can be recognised), and the first fragment's
// unfragmentable part. Mirrors ip/reassembly.cpp.
#include "ip/reassembly6.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace tapstack::ip {

namespace {
constexpr std::size_t kShrinkAbove = 16 * 1024;  // a released buffer larger than this gives its memory back
constexpr std::size_t kMaxUnfragmentable = kIpv6MinMtu;
}  // namespace

Reassembler6::Reassembler6(Reassembly6Config cfg) : cfg_{cfg} {
  slots_.resize(cfg_.max_datagrams);
  for (auto& d : slots_) d.ranges.reserve(std::min<std::size_t>(cfg_.max_fragments, 16));
}

std::size_t Reassembler6::datagrams_in_flight() const noexcept {
  return std::size_t(
      std::count_if(slots_.begin(), slots_.end(), [](const Datagram& d) { return d.in_use && !d.aborted; }));
}

Reassembler6::Datagram* Reassembler6::find(const Fragment6Key& key) noexcept {
  for (auto& d : slots_)
    if (d.in_use && d.key == key) return &d;
  return nullptr;
}

std::size_t Reassembler6::bytes_of_source(const Ipv6Address& src) const noexcept {
  std::size_t n = 0;
  for (const auto& d : slots_)
    if (d.in_use && d.key.src == src) n += d.buf.size();
  return n;
}

void Reassembler6::release(Datagram& d, bool tombstone) noexcept {
  bytes_held_ -= d.buf.size();
  d.buf.clear();
  if (d.buf.capacity() > kShrinkAbove) std::vector<std::byte>{}.swap(d.buf);
  d.ranges.clear();
  d.total.reset();
  d.unfragmentable.clear();
  d.aborted = tombstone;
  d.in_use = tombstone;  // a tombstone keeps its key and expiry
}

Reassembler6::Datagram* Reassembler6::allocate(Instant now, const Fragment6Key& key) noexcept {
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

Reassembly6Result Reassembler6::add(Instant now, const Ipv6View& packet, const Ipv6Chain& chain) noexcept {
  if (!chain.fragment) {
    ++counters_.drop_inconsistent;
    return {Reassembly6Status::kDropped, {}, {}};
  }
  const Ipv6FragmentHeader& fh = *chain.fragment;
  if (fh.is_atomic()) {  // RFC 6946 §4: processed on its own, never mixed with other fragments
    ++counters_.atomic_fragments;
    return {Reassembly6Status::kComplete, packet.bytes(), {}};
  }
  ++counters_.fragments;
  const Fragment6Key key{packet.src(), packet.dst(), fh.ident};
  Datagram* d = find(key);
  if (d != nullptr && d->aborted) {
    ++counters_.drop_after_abort;
    return {Reassembly6Status::kDropped, {}, {}};
  }
  // Drops the datagram this fragment belongs to (leaving a tombstone), counts `reason` once, and says
  // which Parameter Problem (if any) to send about this fragment.
  auto abort = [&](std::uint64_t& reason, std::optional<Ipv6ParamProblem> pp = std::nullopt) -> Reassembly6Result {
    ++reason;
    if (d != nullptr) release(*d, true);
    if (pp) return {Reassembly6Status::kParamProblem, {}, *pp};
    return {Reassembly6Status::kDropped, {}, {}};
  };

  const Bytes all = packet.bytes();
  const std::size_t data_at = fh.header_offset + kIpv6FragmentHeaderLen;
  if (data_at > all.size() || fh.header_offset < kIpv6HeaderLen || fh.next_header_field >= fh.header_offset)
    return abort(counters_.drop_inconsistent);  // not a chain walk_ipv6_chain produced for this packet
  const Bytes data = all.subspan(data_at);
  const std::size_t len = data.size();
  const std::size_t end = std::size_t(fh.offset) + len;
  // RFC 8200 §4.5: non-last fragments are a multiple of 8 bytes long (and not empty).
  if (fh.more_fragments && (len == 0 || len % 8 != 0))
    return abort(counters_.drop_bad_fragment_len,
                 Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, std::uint32_t(ipv6_field::kPayloadLen)});
  // RFC 8200 §4.5: the reassembled Payload Length (unfragmentable headers + fragmentable part) <= 65535.
  if (fh.header_offset - kIpv6HeaderLen + end > kIpv6MaxPayloadLen)
    return abort(counters_.drop_too_big,
                 Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, std::uint32_t(fh.header_offset + 2)});
  if (fh.offset == 0) {
    // RFC 7112 §5: the first fragment carries every header up to and including the upper-layer header.
    Ipv6ChainFailure why;
    Ipv6ChainOptions through;
    through.through_first_fragment = true;
    const auto full = walk_ipv6_chain(packet, &why, through);
    const Ipv6ParamProblem incomplete{Ipv6ParamProblemCode::kIncompleteChain, 0};
    if (!full) {
      if (why.error == Ipv6ChainError::kTruncated) return abort(counters_.drop_incomplete_chain, incomplete);
      return abort(counters_.drop_bad_chain, why.param_problem);
    }
    if (full->upper_layer_offset + ipv6_upper_layer_min_len(full->upper_layer) > all.size())
      return abort(counters_.drop_incomplete_chain, incomplete);
    if (fh.header_offset > kMaxUnfragmentable) return abort(counters_.drop_too_big);
  }

  if (d != nullptr) {
    if (!fh.more_fragments) {
      if (d->total && *d->total != end) return abort(counters_.drop_inconsistent);
      for (const Range& r : d->ranges)
        if (r.end > end) return abort(counters_.drop_inconsistent);
    } else if (d->total && end > *d->total) {
      return abort(counters_.drop_inconsistent);
    }
    for (const Range& r : d->ranges) {
      const bool r_is_last = d->total && r.end == *d->total;
      if (r.begin == fh.offset && r.end == end && len != 0 && fh.more_fragments == !r_is_last &&
          std::memcmp(d->buf.data() + r.begin, data.data(), len) == 0) {
        ++counters_.duplicates_ignored;  // an exact copy: same place, same bytes, same M
        return {Reassembly6Status::kHeld, {}, {}};
      }
      if (r.begin < end && fh.offset < r.end) return abort(counters_.drop_overlap);  // RFC 5722 §4
    }
    if (d->ranges.size() >= cfg_.max_fragments) return abort(counters_.drop_too_many_fragments);
  } else if (cfg_.max_fragments == 0) {
    return abort(counters_.drop_too_many_fragments);
  }

  // Memory: count the buffer growth against the source's and the global budget.
  const std::size_t old_size = d != nullptr ? d->buf.size() : 0;
  const std::size_t growth = end > old_size ? end - old_size : 0;
  if (bytes_of_source(key.src) + growth > cfg_.max_bytes_per_source) return abort(counters_.drop_memory_per_source);
  while (bytes_held_ + growth > cfg_.max_bytes) {
    Datagram* oldest = nullptr;  // evict the oldest other datagram holding data
    for (auto& o : slots_)
      if (o.in_use && !o.aborted && &o != d && !o.buf.empty() &&
          (oldest == nullptr || o.expires_at < oldest->expires_at))
        oldest = &o;
    if (oldest == nullptr) return abort(counters_.drop_memory_global);
    ++counters_.evicted;
    release(*oldest, false);
  }

  if (d == nullptr) {
    d = allocate(now, key);
    if (d == nullptr) return {Reassembly6Status::kDropped, {}, {}};
  }
  try {
    if (growth != 0) d->buf.resize(end);  // strong guarantee: unchanged on failure
  } catch (const std::bad_alloc&) {
    return abort(counters_.drop_no_memory);
  }
  bytes_held_ += growth;
  if (fh.offset == 0) {
    try {
      d->unfragmentable.assign(all.begin(), all.begin() + std::ptrdiff_t(fh.header_offset));
    } catch (const std::bad_alloc&) {
      return abort(counters_.drop_no_memory);
    }
  }
  if (len != 0) std::memcpy(d->buf.data() + fh.offset, data.data(), len);
  if (!fh.more_fragments) d->total = std::uint32_t(end);
  if (fh.offset == 0) {
    d->next_header_field = fh.next_header_field;
    d->next_header = fh.next_header;
  }
  if (len != 0) {
    const Range nr{fh.offset, std::uint32_t(end)};
    d->ranges.insert(std::upper_bound(d->ranges.begin(), d->ranges.end(), nr,
                                      [](const Range& a, const Range& b) { return a.begin < b.begin; }),
                     nr);
  }

  // Complete when the last fragment arrived, the first one too, and no hole is left below the end.
  if (!d->total || d->unfragmentable.empty()) return {Reassembly6Status::kHeld, {}, {}};
  std::uint32_t pos = 0;
  for (const Range& r : d->ranges) {
    if (r.begin > pos) return {Reassembly6Status::kHeld, {}, {}};
    pos = std::max(pos, r.end);
  }
  if (pos < *d->total) return {Reassembly6Status::kHeld, {}, {}};
  const std::size_t unfrag = d->unfragmentable.size();
  const std::size_t total = *d->total;
  if (unfrag - kIpv6HeaderLen + total > kIpv6MaxPayloadLen) return abort(counters_.drop_too_big);
  try {
    out_.resize(unfrag + total);
  } catch (const std::bad_alloc&) {
    return abort(counters_.drop_no_memory);
  }
  std::memcpy(out_.data(), d->unfragmentable.data(), unfrag);
  std::memcpy(out_.data() + unfrag, d->buf.data(), total);
  const MutableBytes o{out_.data(), unfrag + total};
  // RFC 8200 §4.5: Payload Length from the reassembled length; the Next Header field that named the
  // Fragment header now names what the Fragment header's Next Header did.
  store_be16(o, ipv6_field::kPayloadLen, std::uint16_t(unfrag - kIpv6HeaderLen + total));
  store_u8(o, d->next_header_field, d->next_header);
  release(*d, false);
  ++counters_.reassembled;
  return {Reassembly6Status::kComplete, Bytes{o}, {}};
}

void Reassembler6::expire(Instant now, FunctionRef<void(Bytes)>* time_exceeded) noexcept {
  for (auto& d : slots_) {
    if (!d.in_use || d.expires_at > now) continue;
    if (!d.aborted) {
      ++counters_.drop_timeout;
      // RFC 8200 §4.5: Time Exceeded code 1 only when the first fragment had arrived; rebuild it.
      if (time_exceeded != nullptr && !d.unfragmentable.empty() && !d.ranges.empty() && d.ranges.front().begin == 0) {
        const std::size_t unfrag = d.unfragmentable.size();
        const std::size_t first_len = d.ranges.front().end;
        try {
          out_.resize(unfrag + kIpv6FragmentHeaderLen + first_len);
          const MutableBytes o{out_};
          std::memcpy(o.data(), d.unfragmentable.data(), unfrag);
          store_be16(o, ipv6_field::kPayloadLen, std::uint16_t(o.size() - kIpv6HeaderLen));
          store_u8(o, unfrag, d.next_header);
          store_u8(o, unfrag + 1, 0);
          store_be16(o, unfrag + 2, 1);  // offset 0, M = 1
          store_be32(o, unfrag + 4, d.key.ident);
          std::memcpy(o.data() + unfrag + kIpv6FragmentHeaderLen, d.buf.data(), first_len);
          (*time_exceeded)(Bytes{o});
        } catch (const std::bad_alloc&) {
          // no report: the datagram is dropped either way
        }
      }
    }
    release(d, false);
  }
}

void Reassembler6::poll(Instant now) noexcept { expire(now, nullptr); }
void Reassembler6::poll(Instant now, FunctionRef<void(Bytes)> time_exceeded) noexcept { expire(now, &time_exceeded); }

std::optional<Instant> Reassembler6::poll_at() const noexcept {
  std::optional<Instant> at;
  for (const auto& d : slots_)
    if (d.in_use && (!at || d.expires_at < *at)) at = d.expires_at;
  return at;
}

}  // namespace tapstack::ip
