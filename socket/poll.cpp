// select.poll over facade sockets: readiness from detail::revents(), sleeping on the runtime's event counter.
#include "socket/poll.hpp"

#include <algorithm>
#include <cerrno>

#include "socket/impl.hpp"

namespace tapstack::socket {

poll::Entry* poll::find(const socket& s) noexcept {
  for (Entry& e : entries_) {
    if (e.sock == &s) return &e;
  }
  return nullptr;
}

void poll::register_(socket& s, int eventmask) {
  if (Entry* e = find(s)) {
    e->mask = eventmask;
    e->impl = s.impl_;
    return;
  }
  entries_.push_back(Entry{&s, s.impl_, eventmask});
}

void poll::unregister(socket& s) noexcept {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&s](const Entry& e) { return e.sock == &s; }),
                 entries_.end());
}

void poll::modify(socket& s, int eventmask, std::error_code& ec) noexcept {
  Entry* e = find(s);
  if (e == nullptr) {
    ec = {ENOENT, std::generic_category()};
    return;
  }
  ec.clear();
  e->mask = eventmask;
}

void poll::modify(socket& s, int eventmask) {
  std::error_code ec;
  modify(s, eventmask, ec);
  if (ec) throw OSError(ec, "poll.modify");
}

poll::Result poll::scan(bool oneshot) {
  Result out;
  for (Entry& e : entries_) {
    if (e.mask == 0) continue;  // disarmed (IPOLL_ONESHOT fired, or registered with mask 0)
    const int ev = detail::revents(e.impl.get(), e.mask);
    if (ev == 0) continue;
    out.emplace_back(e.sock, ev);
    if (oneshot) e.mask = 0;
  }
  return out;
}

poll::Result poll::wait_for(int timeout_ms, bool oneshot) {
  Result r = scan(oneshot);
  if (!r.empty() || timeout_ms == 0 || entries_.empty()) return r;
  // The runtime to sleep on: the first live socket's. Sockets of several runtimes share the wait in 1 ms slices.
  Runtime* rt = nullptr;
  bool mixed = false;
  for (const Entry& e : entries_) {
    if (!e.impl) continue;
    if (rt == nullptr) rt = e.impl->rt;
    if (e.impl->rt != rt) mixed = true;
  }
  if (rt == nullptr) return r;
  const std::optional<Instant> deadline =
      timeout_ms < 0 ? std::nullopt : rt->deadline_after(milliseconds{timeout_ms});
  for (;;) {
    std::optional<Instant> slice = deadline;
    if (mixed) {
      const Instant soon = rt->now() + milliseconds{1};
      if (!slice || soon < *slice) slice = soon;
    }
    const std::error_code ec = rt->wait_events(
        [&] {
          r = scan(oneshot);
          return !r.empty();
        },
        slice);
    if (!ec || !mixed || ec != std::errc::timed_out) return r;
    if (deadline && rt->now() >= *deadline) return r;
  }
}

poll::Result poll::poll_(int timeout_ms) { return wait_for(timeout_ms, false); }

poll::Result poll::ipoll(int timeout_ms, int flags) { return wait_for(timeout_ms, (flags & IPOLL_ONESHOT) != 0); }

}  // namespace tapstack::socket
