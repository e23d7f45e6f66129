// ThreadedTapLink: the I/O thread reads the TAP into a ring of frame slots; the stack loop copies them out.
#include "tap/threaded_tap_link.hpp"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <system_error>

namespace tapstack::tap {

ThreadedTapLink::ThreadedTapLink(TapDevice device, std::size_t ring_frames)
    : device_{std::move(device)},
      slot_size_{(device_.mtu() + 18 + 63) / 64 * 64},  // Ethernet header + VLAN tag, cache-line multiple
      ring_{ring_frames},
      slots_{new std::byte[ring_.capacity() * slot_size_]} {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    ::close(wake_fd_);
    throw;
  }
}

ThreadedTapLink::~ThreadedTapLink() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool ThreadedTapLink::transmit(Instant, Bytes frame) noexcept {
  if (device_.write(frame)) {
    ++counters_.tx_frames;
    return true;
  }
  const int err = device_.last_write_errno();
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
    ++counters_.drop_tx_queue_full;
  } else {
    ++counters_.drop_tx_error;
  }
  return false;
}

std::optional<std::size_t> ThreadedTapLink::receive(Instant, MutableBytes buf) noexcept {
  for (int attempt = 0; attempt < 2; ++attempt) {
    while (const std::uint32_t* len = ring_.front()) {
      const std::byte* frame = slots_.get() + (cons_seq_ & (ring_.capacity() - 1)) * slot_size_;
      const std::size_t n = *len;
      const bool fits = n <= slot_size_ && n <= buf.size();  // slot_size_ + 1: the frame overflowed its slot
      if (fits) std::memcpy(buf.data(), frame, n);
      ring_.pop_front();  // the slot is the I/O thread's again
      ++cons_seq_;
      if (!fits) {
        ++counters_.drop_rx_too_big;
        continue;
      }
      ++counters_.rx_frames;
      return n;
    }
    if (attempt == 1) break;
    // Empty: consume any old wakeup, tell the I/O thread to signal the next frame, and look once more (a
    // frame pushed before the flag was visible would otherwise wait for the next one).
    if (armed_) {
      std::uint64_t v;
      [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &v, sizeof v);
    }
    armed_ = true;
    consumer_waiting_.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the flag, then the ring (pairs with wake())
  }
  return std::nullopt;
}

void ThreadedTapLink::wake() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the ring, then the flag (pairs with receive())
  if (consumer_waiting_.exchange(false, std::memory_order_seq_cst)) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t r = ::write(wake_fd_, &one, sizeof one);
  }
}

void ThreadedTapLink::run() noexcept {
  const std::size_t mask = ring_.capacity() - 1;
  while (!stop_.load(std::memory_order_acquire)) {
    bool pushed = false;
    bool again = false;
    // Read every waiting frame the ring has room for; signal the stack loop once per batch.
    for (int i = 0; i < 64; ++i) {
      if (ring_.free_space() == 0) {
        again = true;
        break;
      }
      std::byte* slot = slots_.get() + (prod_seq_ & mask) * slot_size_;
      const auto n = device_.read(MutableBytes{slot, slot_size_});
      if (!n) break;
      std::uint32_t len = std::uint32_t(std::min<std::size_t>(*n, 0xffffffffu));
      if (*n > slot_size_) len = std::uint32_t(slot_size_ + 1);  // too big: receive() drops and counts it
      ring_.try_push(std::move(len));  // room checked above
      ++prod_seq_;
      pushed = true;
      if (i == 63) again = true;
    }
    if (pushed) wake();
    if (again) {
      if (ring_.free_space() == 0) std::this_thread::yield();  // the stack loop is behind: let it catch up
      continue;
    }
    pollfd p{device_.fd(), POLLIN, 0};
    ::poll(&p, 1, 50);  // bounded so stop_ is noticed
  }
}

}  // namespace tapstack::tap
