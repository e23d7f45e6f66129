// A lock-free single-producer single-consumer byte ring: TCP's send and receive buffers, and the buffer an
// application thread shares with the stack loop so that payload is copied once, into it (STYLE.md: threads).
// Exactly one thread produces (write, write_at, commit, writable, free_space) and exactly one consumes (read,
// peek, readable, consume, size); single-threaded use is the same code with no contention.
#pragma once
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>

#include "stack/bytes.hpp"
#include "stack/spsc_ring.hpp"  // kCacheLine

namespace tapstack {

// Positions are byte counts since construction (head: published by the producer; tail: consumed by the
// consumer), std::size_t and monotonically increasing: at one byte per nanosecond a 64-bit count lasts
// centuries, so index wrap is not handled. A byte at position p lives at buf_[p & mask_].
//
// Memory ordering: the producer copies bytes, then release-stores head; the consumer acquire-loads head before
// reading them. The consumer finishes reading, then release-stores tail; the producer acquire-loads tail before
// overwriting that space. Each side keeps a cached copy of the other's index and refreshes it only when the
// cached view says there is not enough room (producer) or data (consumer).
class SpscByteRing {
 public:
  // `capacity` is rounded up to a power of two (at least 1). Setup code: throws std::length_error on an absurd
  // capacity and std::bad_alloc when memory is short. The storage is not zero-filled, so a large receive
  // buffer costs pages only as data reaches them; no byte is ever readable before it was written.
  explicit SpscByteRing(std::size_t capacity) : mask_{round_up(capacity) - 1}, buf_{new std::byte[mask_ + 1]} {}
  SpscByteRing(const SpscByteRing&) = delete;
  SpscByteRing& operator=(const SpscByteRing&) = delete;

  std::size_t capacity() const noexcept { return mask_ + 1; }

  // ---- Either thread, or a third one watching the ring ----

  // Positions: bytes published and bytes consumed since construction (acquire loads, so a watcher that sees a
  // position also sees the bytes behind it). The socket facade's loop compares them with what it last saw to
  // learn that the application, at the other end of a shared TCP buffer, wrote or read.
  std::size_t produced() const noexcept { return prod_.head.load(std::memory_order_acquire); }
  std::size_t consumed() const noexcept { return cons_.tail.load(std::memory_order_acquire); }

  // Moves the bytes to larger storage (`capacity` rounded up to a power of two), each byte keeping its
  // position: the readable ones and whatever write_at() placed beyond head. TCP autotuning starts a buffer small
  // (cache-resident) and grows it as the connection needs. ONLY for a ring whose producer and consumer are the
  // calling thread (a ring shared with another thread must never grow). False, with the ring unchanged, when
  // `capacity` is not larger or memory is short.
  bool grow(std::size_t capacity) noexcept {
    if (capacity <= this->capacity() || capacity > kMaxCapacity) return false;
    const std::size_t new_cap = std::bit_ceil(capacity);
    std::unique_ptr<std::byte[]> nb{new (std::nothrow) std::byte[new_cap]};
    if (!nb) return false;
    const std::size_t old_cap = this->capacity(), new_mask = new_cap - 1;
    std::size_t pos = cons_.tail.load(std::memory_order_relaxed), left = old_cap;
    while (left != 0) {  // [tail, tail + old capacity): every byte the old storage can hold
      const std::size_t from = pos & mask_, to = pos & new_mask;
      std::size_t n = left < old_cap - from ? left : old_cap - from;
      if (n > new_cap - to) n = new_cap - to;
      std::memcpy(nb.get() + to, buf_.get() + from, n);
      pos += n;
      left -= n;
    }
    buf_ = std::move(nb);
    mask_ = new_mask;
    return true;
  }

  // ---- Producer side ----

  // capacity - readable. Exact on the producer's thread (the consumer can only make it grow meanwhile).
  std::size_t free_space() const noexcept {
    const std::size_t head = prod_.head.load(std::memory_order_relaxed);
    return capacity() - used(head, cons_.tail.load(std::memory_order_acquire));
  }

  // Appends as much of `data` as fits and publishes it; returns the number of bytes written (short when full).
  std::size_t write(Bytes data) noexcept {
    const std::size_t head = prod_.head.load(std::memory_order_relaxed);
    const std::size_t n = copy_in(head, 0, data);
    if (n != 0) prod_.head.store(head + n, std::memory_order_release);
    return n;
  }

  // Copies `data` at position head + offset WITHOUT publishing it: out-of-order TCP data lands in its final
  // place and becomes readable when commit() covers it. Clipped to the free space; returns the bytes copied
  // (0 when offset is at or past the free space).
  std::size_t write_at(std::size_t offset, Bytes data) noexcept {
    return copy_in(prod_.head.load(std::memory_order_relaxed), offset, data);
  }

  // Publishes n bytes from head (written by write_at or through writable()). n <= free_space(); a larger n is
  // clipped to the free space rather than publishing bytes the consumer has not released.
  void commit(std::size_t n) noexcept {
    const std::size_t head = prod_.head.load(std::memory_order_relaxed);
    if (n > free_from(head)) {
      refresh_tail();
      const std::size_t free = free_from(head);
      if (n > free) n = free;
    }
    if (n != 0) prod_.head.store(head + n, std::memory_order_release);
  }

  // Zero-copy producer view of all the free space: two spans, the second non-empty only when the free space
  // wraps past the end of the storage. Fill a prefix, then commit(n). Valid until the next producer call.
  std::array<MutableBytes, 2> writable() noexcept {
    const std::size_t head = prod_.head.load(std::memory_order_relaxed);
    refresh_tail();
    const std::size_t free = free_from(head);
    const std::size_t start = head & mask_;
    const std::size_t first = free < capacity() - start ? free : capacity() - start;
    return {MutableBytes{buf_.get() + start, first}, MutableBytes{buf_.get(), free - first}};
  }

  // ---- Consumer side ----

  // Readable bytes. Exact on the consumer's thread (the producer can only make it grow meanwhile).
  std::size_t size() const noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    return used(prod_.head.load(std::memory_order_acquire), tail);
  }
  bool empty() const noexcept { return size() == 0; }

  // Copies up to out.size() readable bytes starting at tail + offset, without consuming; returns the count
  // (0 when offset >= size()). MSG_PEEK, and TCP's retransmission of unacknowledged data from the send buffer.
  std::size_t peek(std::size_t offset, MutableBytes out) const noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    const std::size_t avail = used(prod_.head.load(std::memory_order_acquire), tail);
    if (offset >= avail) return 0;
    const std::size_t n = out.size() < avail - offset ? out.size() : avail - offset;
    copy_out(tail + offset, out.first(n));
    return n;
  }

  // Zero-copy views of readable bytes [tail + offset, tail + offset + len), clipped to size(): two spans, the
  // second non-empty only across the wrap. Valid until the consumer consumes them.
  std::array<Bytes, 2> readable(std::size_t offset, std::size_t len) const noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    const std::size_t avail = used(prod_.head.load(std::memory_order_acquire), tail);
    if (offset >= avail) return {};
    if (len > avail - offset) len = avail - offset;
    const std::size_t start = (tail + offset) & mask_;
    const std::size_t first = len < capacity() - start ? len : capacity() - start;
    return {Bytes{buf_.get() + start, first}, Bytes{buf_.get(), len - first}};
  }

  // Copies up to out.size() bytes out and consumes them; returns the count.
  std::size_t read(MutableBytes out) noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    std::size_t avail = cons_.head_cache - tail;
    if (avail < out.size()) {
      cons_.head_cache = prod_.head.load(std::memory_order_acquire);
      avail = cons_.head_cache - tail;
    }
    const std::size_t n = out.size() < avail ? out.size() : avail;
    if (n == 0) return 0;
    copy_out(tail, out.first(n));
    cons_.tail.store(tail + n, std::memory_order_release);
    return n;
  }

  // Drops n bytes from the front (TCP: bytes the peer acknowledged, or the application read in place through
  // readable()). n <= size(); a larger n is clipped to size() rather than releasing unwritten space.
  void consume(std::size_t n) noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    if (n > cons_.head_cache - tail) {
      cons_.head_cache = prod_.head.load(std::memory_order_acquire);
      if (n > cons_.head_cache - tail) n = cons_.head_cache - tail;
    }
    if (n != 0) cons_.tail.store(tail + n, std::memory_order_release);
  }

 private:
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << (std::numeric_limits<std::size_t>::digits - 2);
  static std::size_t round_up(std::size_t capacity) {
    if (capacity > kMaxCapacity) throw std::length_error("SpscByteRing: capacity too large");
    return std::bit_ceil(capacity == 0 ? std::size_t{1} : capacity);
  }
  // head - tail for indices loaded separately: a tail loaded after head (by a thread that is neither side)
  // may be past it, which reads as empty rather than as a huge count.
  static std::size_t used(std::size_t head, std::size_t tail) noexcept { return head > tail ? head - tail : 0; }

  // Producer only.
  std::size_t free_from(std::size_t head) const noexcept { return capacity() - (head - prod_.tail_cache); }
  void refresh_tail() noexcept { prod_.tail_cache = cons_.tail.load(std::memory_order_acquire); }
  std::size_t copy_in(std::size_t head, std::size_t offset, Bytes data) noexcept {
    std::size_t free = free_from(head);
    if (free < offset || free - offset < data.size()) {
      refresh_tail();
      free = free_from(head);
      if (offset >= free) return 0;
    }
    const std::size_t n = data.size() < free - offset ? data.size() : free - offset;
    if (n == 0) return 0;
    const std::size_t start = (head + offset) & mask_;
    const std::size_t first = n < capacity() - start ? n : capacity() - start;
    std::memcpy(buf_.get() + start, data.data(), first);
    if (n > first) std::memcpy(buf_.get(), data.data() + first, n - first);
    return n;
  }

  // Consumer only; [pos, pos + out.size()) must be readable.
  void copy_out(std::size_t pos, MutableBytes out) const noexcept {
    const std::size_t start = pos & mask_;
    const std::size_t first = out.size() < capacity() - start ? out.size() : capacity() - start;
    if (first != 0) std::memcpy(out.data(), buf_.get() + start, first);
    if (out.size() > first) std::memcpy(out.data() + first, buf_.get(), out.size() - first);
  }

  struct alignas(kCacheLine) Producer {
    std::atomic<std::size_t> head{0};  // bytes published; written by the producer only
    std::size_t tail_cache = 0;        // the producer's last view of cons_.tail
  };
  struct alignas(kCacheLine) Consumer {
    std::atomic<std::size_t> tail{0};  // bytes consumed; written by the consumer only
    std::size_t head_cache = 0;        // the consumer's last view of prod_.head
  };
  std::size_t mask_;  // changes only in grow(), which no other thread may overlap
  std::unique_ptr<std::byte[]> buf_;
  Producer prod_;
  Consumer cons_;
};

}  // namespace tapstack
