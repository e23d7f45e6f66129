// detail::SocketCore: what one facade socket shares between the application threads and the stack loop —
// its byte rings (TCP) or datagram rings (UDP), the state the loop publishes (phase, error, EOF, pending
// accepts), and the futex word a blocked caller sleeps on — plus detail::Command, one request to the loop.
// Internal to socket/ (socket.cpp, poll.cpp, runtime.cpp); not part of the facade's API.
//
// Threads: the application side writes `tx`/`dtx` and reads `rx`/`drx` (one SPSC ring per direction, the
// loop on the other end); everything else shared is atomic. `loop` is touched by the stack loop only (in
// manual mode, by the thread that polls). The loop publishes data before state (release), and application
// code reads state before data (acquire), so "EOF" or "error" is never seen before the bytes that preceded it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
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

  // Set before the loop first sees the core (it sees it through a command) and never replaced afterwards.
  std::unique_ptr<SpscByteRing> tx, rx;             // TCP: application -> loop, loop -> application
  std::unique_ptr<SpscRing<Datagram>> dtx, drx;     // UDP: datagrams to send, datagrams received

  // Published by the loop.
  std::atomic<Phase> phase{Phase::kFresh};
  std::atomic<int> error{0};              // TCP: sticky errno once every byte before it reached rx
  std::atomic<int> async_error{0};        // UDP: an asynchronous error, reported once by the next call
  std::atomic<bool> eof{false};           // TCP: the peer's FIN arrived and every byte before it is in rx
  std::atomic<bool> send_closed{false};   // TCP: the connection takes no more data (closed, reset)
  std::atomic<std::uint32_t> accept_ready{0};  // listener: established connections waiting for accept()
  std::atomic<std::uint32_t> rx_blocked{0};  // 1: the loop holds received data that did not fit rx / drx

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
    bool closing = false;  // close() arrived; the loop finishes sending tx first
    // Last published values, so that a change (and only a change) notifies.
    Phase phase = Phase::kFresh;
    int error = 0;
    bool eof = false;
    bool send_closed = false;
    bool rx_blocked = false;
    std::uint32_t accept_ready = 0;
  } loop;
};

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
