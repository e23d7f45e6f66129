// detail::SocketCore: what one facade socket shares between the application threads and the stack loop —
// its byte rings (TCP) or datagram rings (UDP), the state the loop publishes (phase, error, EOF, pending
// accepts), and the futex word a blocked caller sleeps on — plus detail::Command, one request to the loop.
// Internal to socket/ (socket.cpp, poll.cpp, runtime.cpp); not part of the facade's API.
//
// Threads: the application side writes `tx`/`dtx` and reads `rx`/`drx` (one SPSC ring per direction, the
// loop on the other end; for TCP, `tx` and `rx` are the connection's own send and receive buffers, so payload
// is copied once between the application and the wire); everything else shared is atomic. `loop` is touched by the
// stack loop only (in manual mode, by the thread that polls). The loop publishes data before state (release), and
// application code reads state before data (acquire), so "EOF" or "error" is never seen before the bytes that preceded
// it.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "ip/address.hpp"
#include "stack/function_ref.hpp"
#include "stack/mpsc_queue.hpp"
#include "stack/spsc_byte_ring.hpp"
#include "stack/spsc_ring.hpp"
#include "stack/time.hpp"
#include "tcp/listener.hpp"
#include "udp/socket.hpp"

namespace tapstack::socket::detail {

enum class Proto : std::uint8_t { kTcp, kUdp };

// What the loop last published about a socket.
enum class Phase : std::uint8_t {
  kFresh,       // TCP: neither connecting nor listening (bound or not). UDP: not connected.
  kConnecting,  // TCP: SYN sent / received, not yet synchronized
  kConnected,   // TCP: the handshake completed (it may since have ended: see eof / error). UDP: connect()ed.
  kListening,
};

// setsockopt() values. The application keeps its copy; each command carries a snapshot to the loop.
struct Options {
  bool reuse_addr = false;    // SO_REUSEADDR
  bool keepalive = false;     // SO_KEEPALIVE
  bool nodelay = false;       // TCP_NODELAY
  bool linger_abort = false;  // SO_LINGER {1, 0}: close() resets (RFC 9293 §3.10.5 ABORT)
  std::size_t sndbuf = 0;     // SO_SNDBUF; 0: the runtime's default
  std::size_t rcvbuf = 0;     // SO_RCVBUF; 0: the runtime's default
};

struct Datagram {
  ip::Endpoint peer;  // source (received) or destination (to send)
  std::vector<std::byte> data;
};

struct SocketCore {
  SocketCore(Proto p, ip::Family f, int fd_number) noexcept : proto{p}, family{f}, fd{fd_number} {}
  SocketCore(const SocketCore&) = delete;
  SocketCore& operator=(const SocketCore&) = delete;

  const Proto proto;
  const ip::Family family;
  const int fd;  // fileno(): unique per runtime

  // TCP: the connection's send and receive buffers (tcp::Connection::send_buffer / recv_buffer), shared with
  // it: the application produces into tx and consumes from rx, the connection (the loop) does the rest. Set by
  // the loop once, when connect() or accept() creates the connection, before it publishes any phase past
  // kFresh; application code touches them only after it saw such a phase (acquire) or got the command back.
  // Shared ownership: the connection may drain tx after close() (FIN, TIME-WAIT) and the application may read
  // rx after the connection was reaped.
  std::shared_ptr<SpscByteRing> tx, rx;
  // UDP: datagrams to send, datagrams received. Set before the loop first sees the core, never replaced.
  std::unique_ptr<SpscRing<Datagram>> dtx, drx;

  // Published by the loop.
  std::atomic<Phase> phase{Phase::kFresh};
  std::atomic<int> error{0};                   // TCP: sticky errno once every byte before it reached rx
  std::atomic<int> async_error{0};             // UDP: an asynchronous error, reported once by the next call
  std::atomic<bool> eof{false};                // TCP: the peer's FIN arrived and every byte before it is in rx
  std::atomic<bool> send_closed{false};        // TCP: the connection takes no more data (closed, reset)
  std::atomic<std::uint32_t> accept_ready{0};  // listener: established connections waiting for accept()
  std::atomic<std::uint32_t> rx_blocked{0};    // UDP, 1: the loop holds received datagrams that did not fit drx

  // TCP, copy-once signals. The application sets a bit of `app_dirty` after it wrote tx (kTxWritten) or after
  // its read of rx reached `rx_wake_at` (kRxRead), and wakes the loop only when the word goes from 0 to
  // something (a write per loop iteration at most, a syscall only if the loop sleeps); the loop clears it when
  // it looks at the socket. `rx_wake_at`: the rx consumer position (SpscByteRing::consumed) from which reading
  // makes a window update due (Connection::window_update_after), set by the loop before it sleeps; reading
  // below it wakes nobody. Both sides access rx_wake_at by read-modify-writes (as `waiters` and `rx_blocked`),
  // so that either the application sees the loop's new target or the loop sees the application's read.
  static constexpr std::uint32_t kTxWritten = 1, kRxRead = 2;
  std::atomic<std::uint32_t> app_dirty{0};
  std::atomic<std::size_t> rx_wake_at{0};
  // TCP: the most the application may have in tx (written, not yet acknowledged), set by the loop to what
  // autotuning would size a send buffer that it owned (tcp::Connection::send_buffer_target: twice the congestion
  // window); the whole ring with SO_SNDBUF set, as Linux locks the size then. The shared ring is allocated at
  // full size and cannot grow, so without this an application runs up to the ring's size ahead of the loop,
  // and the loop reads those bytes back from memory instead of from the cache they were written to.
  std::atomic<std::size_t> tx_limit{std::numeric_limits<std::size_t>::max()};

  // Set by the application (any thread): close() happened.
  std::atomic<bool> closed{false};

  // A blocked caller sleeps on `seq` (futex) while `waiters` counts it; every published change bumps `seq`.
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> waiters{0};

  // Stack-loop state.
  struct Loop {
    bool registered = false;
    std::size_t index = 0;  // in the runtime's socket list
    std::optional<tcp::ConnHandle> conn;
    std::optional<tcp::ListenerHandle> listener;
    std::optional<udp::SocketHandle> udp;
    std::optional<ip::Endpoint> bound;  // TCP bind() address, used by listen() / connect()
    bool in_bind_table = false;
    Options opts;
    bool closing = false;  // close() arrived
    // TCP ring positions the loop last acted on: what the application wrote (tx produced: poll the connection)
    // and read (rx consumed: maybe a window update), what the connection received (rx produced: wake readers)
    // and had acknowledged (tx consumed: wake writers), and the rx_wake_at it last published.
    std::size_t tx_produced = 0, tx_consumed = 0, rx_produced = 0, rx_consumed = 0;
    std::size_t rx_wake_at = 0;
    std::size_t tx_limit = std::numeric_limits<std::size_t>::max();  // the tx_limit it last published
    // Reader wake-ups in batches (Runtime::sync_tcp): the connection's short-segment count when readers were
    // last woken, and whether bytes received since then still owe them a wake-up.
    std::uint64_t rx_short_segments = 0;
    bool rx_wake_owed = false;
    // Last published values, so that a change (and only a change) notifies.
    Phase phase = Phase::kFresh;
    int error = 0;
    bool eof = false;
    bool send_closed = false;
    bool rx_blocked = false;
    std::uint32_t accept_ready = 0;
  } loop;
};

// How many bytes the application may write to `c.tx` now: the ring's free space, within tx_limit. Application
// side (it reads its own produced position and the loop's consumed one).
inline std::size_t tx_room(const SocketCore& c) noexcept {
  const std::size_t held = c.tx->produced() - c.tx->consumed();
  const std::size_t limit = std::min(c.tx_limit.load(std::memory_order_relaxed), c.tx->capacity());
  return held < limit ? std::min(limit - held, c.tx->free_space()) : 0;
}

// One request from an application thread to the stack loop. Synchronous commands live on the caller's stack
// and the caller sleeps on `done`; a close() is posted on the heap and the loop deletes it.
struct Command : MpscNode {
  // kRun: no socket (`core` is empty); the loop calls `run(now)` (Runtime::run_in_loop).
  enum class Kind : std::uint8_t { kOpen, kBind, kConnect, kListen, kAccept, kClose, kSetOption, kNames, kRun };
  Kind kind = Kind::kOpen;
  std::shared_ptr<SocketCore> core;
  Options opts;
  ip::Endpoint ep;
  int backlog = 0;
  int level = 0, name = 0;
  bool heap = false;
  std::optional<FunctionRef<void(Instant)>> run;  // kRun
  // Results.
  std::error_code ec;
  std::shared_ptr<SocketCore> accepted;
  std::optional<ip::Endpoint> local, remote;
  std::atomic<std::uint32_t> done{0};
};

}  // namespace tapstack::socket::detail
