// detail::SocketImpl: the application side of one facade socket, shared by the socket object and the files
// makefile() returns (socket.cpp implements the calls; poll.cpp reads readiness). Internal to socket/.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>

#include "socket/core.hpp"
#include "socket/runtime.hpp"

namespace tapstack::socket::detail {

// How long one call may wait: not at all, until a deadline on the runtime's clock, or forever.
struct Deadline {
  bool nonblocking = false;
  std::optional<Instant> at;
};

struct SocketImpl {
  SocketImpl(Runtime& r, std::shared_ptr<SocketCore> c, int type_, int proto_) noexcept
      : rt{&r}, core{std::move(c)}, type{type_}, proto{proto_} {}
  ~SocketImpl() { close(); }
  SocketImpl(const SocketImpl&) = delete;
  SocketImpl& operator=(const SocketImpl&) = delete;

  // Marks the socket closed (wakes its blocked callers and pollers) and hands the close to the loop.
  void close() noexcept;
  bool is_closed() const noexcept { return core->closed.load(std::memory_order_acquire); }
  Deadline deadline(int flags) const noexcept;
  // Fills `cmd` for this socket.
  void prepare(Command& cmd, Command::Kind kind) const;
  // After consuming from rx (TCP: wakes the loop if the read makes a window update due) or drx (UDP: lets the
  // loop move datagrams it held back for lack of room).
  void after_consume() noexcept;
  // After writing tx (TCP): the loop polls the connection, which sends what the window allows.
  void after_produce() noexcept { mark_dirty(SocketCore::kTxWritten); }
  void mark_dirty(std::uint32_t bit) noexcept;
  // The runtime's facade internals, for socket.cpp's helpers.
  std::error_code call(Command& c) noexcept { return rt->call(c); }
  std::error_code wait(FunctionRef<bool()> ready, std::optional<Instant> at) { return rt->wait(*core, ready, at); }
  void wake_loop() noexcept { rt->wake_loop(); }

  Runtime* const rt;
  const std::shared_ptr<SocketCore> core;
  const int type;   // SOCK_STREAM / SOCK_DGRAM
  const int proto;  // IPPROTO_TCP / IPPROTO_UDP

  Options opts;                                  // the owning thread's setsockopt() values
  std::atomic<std::int64_t> timeout_us{-1};      // -1: block forever; 0: non-blocking
  std::optional<ip::Endpoint> peer;              // TCP: connect()/accept(); UDP: connect()
  std::atomic<bool> known_to_loop{false};        // a command reached the loop (setsockopt applies live)
};

// select.poll's readiness of `impl` (nullptr: a moved-from socket, POLLNVAL).
int revents(const SocketImpl* impl, int eventmask) noexcept;

}  // namespace tapstack::socket::detail
