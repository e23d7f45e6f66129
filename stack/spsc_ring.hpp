// A lock-free single-producer single-consumer ring of T with power-of-two capacity.
// Carries frames between the TAP I/O thread and the stack loop, and a socket's bytes and segments between
// the stack loop and an application thread. Exactly one thread may push and exactly one thread may pop.
// The producer and consumer indices live on separate cache lines; each side caches the other's index so an
// uncontended push or pop touches one shared line at most once per batch.
#pragma once
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace tapstack {

inline constexpr std::size_t kCacheLine = 64;

template <class T>
class SpscRing {
  static_assert(std::is_nothrow_move_assignable_v<T> && std::is_default_constructible_v<T>);

 public:
  // `capacity` is rounded up to a power of two (at least 2).
  explicit SpscRing(std::size_t capacity)
      : mask_{std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1}, slots_{new T[mask_ + 1]} {}
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const noexcept { return mask_ + 1; }

  // Producer side.
  bool try_push(T&& v) noexcept {
    const std::size_t head = prod_.head.load(std::memory_order_relaxed);
    if (head - prod_.tail_cache == capacity()) {
      prod_.tail_cache = cons_.tail.load(std::memory_order_acquire);
      if (head - prod_.tail_cache == capacity()) return false;
    }
    slots_[head & mask_] = std::move(v);
    prod_.head.store(head + 1, std::memory_order_release);
    return true;
  }
  bool try_push(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    T copy = v;
    return try_push(std::move(copy));
  }
  // Moves as many of `items` as fit, in order, and returns how many.
  std::size_t push_batch(std::span<T> items) noexcept {
    const std::size_t head = prod_.head.load(std::memory_order_relaxed);
    std::size_t free = capacity() - (head - prod_.tail_cache);
    if (free < items.size()) {
      prod_.tail_cache = cons_.tail.load(std::memory_order_acquire);
      free = capacity() - (head - prod_.tail_cache);
    }
    const std::size_t n = items.size() < free ? items.size() : free;
    if (n == 0) return 0;
    // At most two contiguous runs (before and after the end of the slot array), moved as blocks.
    const std::size_t start = head & mask_;
    const std::size_t first = n < capacity() - start ? n : capacity() - start;
    std::move(items.begin(), items.begin() + first, slots_.get() + start);
    std::move(items.begin() + first, items.begin() + n, slots_.get());
    prod_.head.store(head + n, std::memory_order_release);
    return n;
  }
  // Free slots as the producer sees them (exact for the producer; a lower bound otherwise).
  std::size_t free_space() const noexcept {
    return capacity() - (prod_.head.load(std::memory_order_relaxed) - cons_.tail.load(std::memory_order_acquire));
  }

  // Consumer side.
  bool try_pop(T& out) noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    if (tail == cons_.head_cache) {
      cons_.head_cache = prod_.head.load(std::memory_order_acquire);
      if (tail == cons_.head_cache) return false;
    }
    out = std::move(slots_[tail & mask_]);
    cons_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }
  // Moves up to out.size() items into `out`, in order, and returns how many.
  std::size_t pop_batch(std::span<T> out) noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    std::size_t avail = cons_.head_cache - tail;
    if (avail < out.size()) {
      cons_.head_cache = prod_.head.load(std::memory_order_acquire);
      avail = cons_.head_cache - tail;
    }
    const std::size_t n = out.size() < avail ? out.size() : avail;
    if (n == 0) return 0;
    const std::size_t start = tail & mask_;
    const std::size_t first = n < capacity() - start ? n : capacity() - start;
    std::move(slots_.get() + start, slots_.get() + start + first, out.begin());
    std::move(slots_.get(), slots_.get() + (n - first), out.begin() + first);
    cons_.tail.store(tail + n, std::memory_order_release);
    return n;
  }
  // The consumer's view of the front item, or nullptr when empty. Valid until the next pop.
  T* front() noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    if (tail == cons_.head_cache) {
      cons_.head_cache = prod_.head.load(std::memory_order_acquire);
      if (tail == cons_.head_cache) return nullptr;
    }
    return &slots_[tail & mask_];
  }
  // Drops the front item; only after front() returned non-null. The slot is reset first so that what it owned
  // (a frame buffer, a unique_ptr) is released now rather than when the producer next overwrites the slot.
  void pop_front() noexcept {
    const std::size_t tail = cons_.tail.load(std::memory_order_relaxed);
    if constexpr (!std::is_trivially_destructible_v<T>) slots_[tail & mask_] = T{};
    cons_.tail.store(tail + 1, std::memory_order_release);
  }

  // Items as the consumer sees them (exact for the consumer; approximate from other threads).
  std::size_t size() const noexcept {
    return prod_.head.load(std::memory_order_acquire) - cons_.tail.load(std::memory_order_acquire);
  }
  bool empty() const noexcept { return size() == 0; }

 private:
  struct alignas(kCacheLine) Producer {
    std::atomic<std::size_t> head{0};  // next slot to write; written by the producer only
    std::size_t tail_cache = 0;        // producer's last view of cons_.tail
  };
  struct alignas(kCacheLine) Consumer {
    std::atomic<std::size_t> tail{0};  // next slot to read; written by the consumer only
    std::size_t head_cache = 0;        // consumer's last view of prod_.head
  };
  const std::size_t mask_;
  std::unique_ptr<T[]> slots_;
  Producer prod_;
  Consumer cons_;
};

}  // namespace tapstack
