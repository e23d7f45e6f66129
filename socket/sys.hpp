// The runtime's few system calls, kept behind plain functions so that no facade header includes
// <sys/socket.h> or <poll.h> (whose macros share names with socket/constants.hpp): futex sleep/wake for
// blocked application calls, an eventfd that wakes the stack loop, and the loop's sleep on descriptors.
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>

#include "stack/time.hpp"

namespace tapstack::socket::sys {

// Sleeps while `word` holds `expected`, at most `timeout` (nullopt: no limit). Returns on a wake, a timeout, a
// signal or spuriously: callers re-check their condition. Process-private futex.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::optional<Duration> timeout) noexcept;
// Wakes every thread sleeping on `word`.
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;

// A non-blocking eventfd: any thread signals, the stack loop drains.
class EventFd {
 public:
  EventFd();  // setup: throws std::system_error when the kernel refuses
  ~EventFd();
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  int fd() const noexcept { return fd_; }
  void signal() noexcept;
  void drain() noexcept;

 private:
  int fd_ = -1;
};

// Sleeps until one of `fds` (entries of -1 are ignored) is readable or `timeout` passed (nullopt: no limit),
// with microsecond resolution (ppoll).
void wait_readable(std::span<const int> fds, std::optional<Duration> timeout) noexcept;

}  // namespace tapstack::socket::sys
