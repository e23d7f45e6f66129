// tapstack::socket::poll — MicroPython's select.poll over facade sockets: register / unregister / modify,
// poll(timeout_ms) and ipoll(timeout_ms, flags). Readiness follows CONFORMANCE.md §1: a fresh TCP socket is
// POLLOUT|POLLHUP (20), a connected one POLLOUT (4) until data arrives, a bound UDP socket POLLOUT only, a closed
// socket POLLNVAL (32); POLLERR, POLLHUP and POLLNVAL are reported whatever the event mask.
//
// `register` is a C++ keyword, so MicroPython's poll.register() is register_() here (PEP 8's trailing underscore
// for keywords). Registered sockets are held by address: keep them in place (not moved, not destroyed) while
// registered. A poll object is used by one thread at a time.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "socket/constants.hpp"
#include "socket/socket.hpp"

namespace tapstack::socket {

class poll {
 public:
  using Result = std::vector<std::pair<socket*, int>>;  // (socket, revents)

  // Registers `s`, or changes its mask if it already is.
  void register_(socket& s, int eventmask = POLLIN | POLLOUT);
  // Not registered: nothing happens (as MicroPython).
  void unregister(socket& s) noexcept;
  // Not registered: OSError(ENOENT).
  void modify(socket& s, int eventmask);
  void modify(socket& s, int eventmask, std::error_code& ec) noexcept;

  // The registered sockets with events, in registration order; waits up to timeout_ms (negative: forever;
  // 0: just look) for at least one. Empty on timeout. A wait with nothing registered returns at once.
  Result poll_(int timeout_ms = -1);
  Result operator()(int timeout_ms = -1) { return poll_(timeout_ms); }
  // The same; with IPOLL_ONESHOT in `flags`, each socket reported is disarmed (mask 0: not reported again,
  // POLLERR/POLLHUP included) until modify() re-arms it.
  Result ipoll(int timeout_ms = -1, int flags = 0);

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    socket* sock;
    std::shared_ptr<detail::SocketImpl> impl;  // keeps a closed stream's state readable (POLLNVAL)
    int mask;
  };
  Entry* find(const socket& s) noexcept;
  Result scan(bool oneshot);
  Result wait_for(int timeout_ms, bool oneshot);

  std::vector<Entry> entries_;
};

}  // namespace tapstack::socket
