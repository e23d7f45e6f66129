// ThreadedTapLink: a TAP Link whose frames are read by a dedicated I/O thread into a lock-free SPSC ring of
// frame slots, so the stack loop spends its time on protocol work instead of one read(2) per frame.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "stack/link.hpp"
#include "stack/spsc_ring.hpp"
#include "tap/tap_device.hpp"
#include "tap/tap_link.hpp"

namespace tapstack::tap {

// The stack loop (one thread) calls transmit/receive/wait_fd as with TapLink; transmit writes the TAP
// descriptor directly. The I/O thread blocks in poll(2) on the TAP and reads every waiting frame into the ring;
// when the ring is full it stops reading (the kernel queues, then drops, as it would for a slow reader).
// wait_fd() is an eventfd the I/O thread signals only when the stack loop said it was about to sleep (it found
// the ring empty), so a busy stack loop costs no extra system calls.
class ThreadedTapLink final : public Link {
 public:
  // `ring_frames` is rounded up to a power of two. Starts the I/O thread; throws std::system_error when the
  // eventfd or the thread cannot be created (setup code).
  explicit ThreadedTapLink(TapDevice device, std::size_t ring_frames = 1024);
  ~ThreadedTapLink() override;  // stops and joins the I/O thread
  ThreadedTapLink(const ThreadedTapLink&) = delete;
  ThreadedTapLink& operator=(const ThreadedTapLink&) = delete;

  std::size_t mtu() const noexcept override { return device_.mtu(); }
  bool transmit(Instant now, Bytes frame) noexcept override;
  // Copies the oldest queued frame into `buf` (dropped, counted drop_rx_too_big, when it does not fit).
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override;
  int wait_fd() const noexcept override { return wake_fd_; }

  // tx_* are counted by the stack thread, rx_frames / drop_rx_too_big by receive(); frames the ring had no
  // room for stay in the kernel's queue and are not counted here.
  const TapLinkCounters& counters() const noexcept { return counters_; }

 private:
  void run() noexcept;  // the I/O thread
  void wake() noexcept;

  TapDevice device_;
  std::size_t slot_size_;
  SpscRing<std::uint32_t> ring_;  // frame lengths; frame i lives in slots_[i & (capacity - 1)]
  std::unique_ptr<std::byte[]> slots_;
  std::size_t prod_seq_ = 0;  // I/O thread only
  std::size_t cons_seq_ = 0;  // stack thread only
  int wake_fd_ = -1;
  // Starts true: a loop that polls wait_fd() before its first receive() must be woken by the first frame.
  alignas(kCacheLine) std::atomic<bool> consumer_waiting_{true};
  std::atomic<bool> stop_{false};
  bool armed_ = true;  // stack thread: it set consumer_waiting_ and may have been signalled
  TapLinkCounters counters_;
  std::thread thread_;
};

}  // namespace tapstack::tap
