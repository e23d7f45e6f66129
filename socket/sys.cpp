// futex(2), eventfd(2) and ppoll(2) for the socket runtime (see sys.hpp).
#include "socket/sys.hpp"

#include <linux/futex.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <system_error>

namespace tapstack::socket::sys {
namespace {

timespec to_timespec(Duration d) noexcept {
  const std::int64_t us = d.count() < 0 ? 0 : d.count();
  return timespec{time_t(us / 1'000'000), long((us % 1'000'000) * 1000)};
}

std::uint32_t* futex_addr(std::atomic<std::uint32_t>& word) noexcept {
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  return reinterpret_cast<std::uint32_t*>(&word);
}

}  // namespace

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::optional<Duration> timeout) noexcept {
  timespec ts{};
  if (timeout) ts = to_timespec(*timeout);
  ::syscall(SYS_futex, futex_addr(word), FUTEX_WAIT_PRIVATE, expected, timeout ? &ts : nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept {
  ::syscall(SYS_futex, futex_addr(word), FUTEX_WAKE_PRIVATE, 0x7fffffff, nullptr, nullptr, 0);
}

EventFd::EventFd() : fd_{::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)} {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

EventFd::~EventFd() {
  if (fd_ >= 0) ::close(fd_);
}

void EventFd::signal() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(fd_, &one, sizeof one);  // EAGAIN: the counter is already set
}

void EventFd::drain() noexcept {
  std::uint64_t v = 0;
  [[maybe_unused]] const ssize_t n = ::read(fd_, &v, sizeof v);
}

void wait_readable(std::span<const int> fds, std::optional<Duration> timeout) noexcept {
  std::array<pollfd, 4> p{};
  std::size_t n = 0;
  for (const int fd : fds) {
    if (fd >= 0 && n < p.size()) p[n++] = pollfd{fd, POLLIN, 0};
  }
  timespec ts{};
  if (timeout) ts = to_timespec(*timeout);
  ::ppoll(p.data(), nfds_t(n), timeout ? &ts : nullptr, nullptr);
}

}  // namespace tapstack::socket::sys
