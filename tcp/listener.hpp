// A passive-open endpoint's queues (RFC 9293 §3.10.7.2, RFC 4987): how many half-open connections it has
// (the SYN queue), the established ones waiting for accept() (the accept queue, bounded by the backlog), and
// when it last answered with a SYN cookie. Pure bookkeeping: the TCP layer (tcp/layer) owns the connections
// and calls in here to decide what a SYN gets and where a connection goes once its handshake completes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "ip/address.hpp"
#include "stack/time.hpp"

namespace tapstack::tcp {

// A connection in the TCP layer's slab: index plus generation, so a stale handle never reaches a reused slot.
struct ConnHandle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(ConnHandle, ConnHandle) = default;
};

// A listener in the TCP layer's listener table.
struct ListenerHandle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(ListenerHandle, ListenerHandle) = default;
};

class Listener {
 public:
  enum class SynVerdict : std::uint8_t {
    kQueue,                 // create a half-open connection (SYN-RECEIVED)
    kCookie,                // SYN queue full: answer statelessly with a SYN cookie (RFC 4987 §3.6)
    kDropAcceptQueueFull,   // the application is not accepting: drop (the peer retransmits), never RST
    kDropSynQueueFull,      // SYN queue full and cookies disabled
  };

  // `backlog` bounds the accept queue; 0 still admits one connection (MicroPython/POSIX listen(0)).
  // `syn_queue` bounds the half-open connections (at least 1).
  Listener(const ip::Endpoint& local, std::size_t backlog, std::size_t syn_queue) noexcept
      : local_{local}, backlog_{backlog == 0 ? 1 : backlog}, syn_queue_max_{syn_queue == 0 ? 1 : syn_queue} {}

  const ip::Endpoint& local() const noexcept { return local_; }
  std::size_t backlog() const noexcept { return backlog_; }
  std::size_t syn_queue_max() const noexcept { return syn_queue_max_; }

  // What a new SYN gets. The accept queue is checked first: like Linux (tcp_conn_request), a listener whose
  // application has fallen behind drops SYNs rather than spend cookies on connections it cannot hand over.
  SynVerdict on_syn(bool cookies_enabled) const noexcept;
  // True while established connections wait for accept() beyond the backlog's room.
  bool accept_queue_full() const noexcept { return accept_.size() + waiting_.size() >= backlog_; }

  // A half-open connection was created (SynVerdict::kQueue).
  void add_half_open() noexcept { ++half_open_; }
  // A half-open connection went away before completing (RST in SYN-RECEIVED, RFC 9293 §3.10.7.4: the
  // listener stays in LISTEN; or the SYN-ACK retransmissions timed out).
  void remove_half_open() noexcept {
    if (half_open_ > 0) --half_open_;
  }
  // A half-open connection completed its handshake: it leaves the SYN queue for the accept queue, or, if
  // that is full, waits (still counted against the SYN queue) until accept() makes room. Returns false
  // (and changes nothing) if the queue could not grow.
  bool on_established(ConnHandle h) noexcept;
  // A connection rebuilt from a valid cookie goes straight to the accept queue; false when it is full.
  bool add_established(ConnHandle h) noexcept;

  // The oldest connection waiting for accept(), FIFO (RFC 9293 leaves the order open; POSIX is FIFO).
  std::optional<ConnHandle> pop_accept() noexcept;
  // Removes every queued connection (listener close), calling f(h) for each, oldest first.
  template <class F>
  void drain(F&& f) {
    for (const ConnHandle h : accept_) f(h);
    for (const ConnHandle h : waiting_) f(h);
    accept_.clear();
    waiting_.clear();
  }

  std::size_t half_open() const noexcept { return half_open_; }
  std::size_t accept_queue_len() const noexcept { return accept_.size(); }
  std::size_t waiting_len() const noexcept { return waiting_.size(); }

  // Cookie bookkeeping: cookies are checked on an ACK only when this listener sent one within the last two
  // cookie slots (as Linux's tcp_synq_no_recent_overflow), so a forged ACK costs nothing the rest of the time.
  void note_cookie_sent(Instant now) noexcept { last_cookie_at_ = now; }
  bool cookies_recent(Instant now, Duration validity) const noexcept {
    return last_cookie_at_ && now - *last_cookie_at_ <= validity;
  }

 private:
  ip::Endpoint local_;
  std::size_t backlog_;
  std::size_t syn_queue_max_;
  std::size_t half_open_ = 0;
  std::deque<ConnHandle> accept_;   // established, ready for accept(); at most backlog_
  std::deque<ConnHandle> waiting_;  // established while accept_ was full; counted in the SYN queue
  std::optional<Instant> last_cookie_at_;
};

}  // namespace tapstack::tcp
