// The facade's calls on the application thread: state checks and errors per CONFORMANCE.md §1, bytes into and
// out of the SPSC rings, commands to the loop, and waiting (Runtime::wait) when a blocking call has to.
#include "socket/socket.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

#include "socket/core.hpp"
#include "socket/impl.hpp"

namespace tapstack::socket {

using detail::Command;
using detail::Deadline;
using detail::Phase;
using detail::Proto;
using detail::SocketCore;
using detail::SocketImpl;

namespace {

std::error_code errc(int e) noexcept { return {e, std::generic_category()}; }

constexpr std::size_t kMaxUdpPayloadV4 = 65507;  // 65535 - 20 (IPv4) - 8 (UDP)
constexpr std::size_t kMaxUdpPayloadV6 = 65527;  // 65535 - 8 (UDP; the IPv6 header is not in the length)
constexpr std::size_t kMinBuffer = 1024;         // SO_SNDBUF / SO_RCVBUF floor (Linux's is about 4 KiB)
constexpr std::size_t kReadChunk = 4096;

ip::Family family_of(int af) noexcept { return af == AF_INET6 ? ip::Family::kIpv6 : ip::Family::kIpv4; }
int af_of(ip::Family f) noexcept { return f == ip::Family::kIpv6 ? AF_INET6 : AF_INET; }

[[noreturn]] void raise(const std::error_code& ec, const char* what) {
  if (ec == std::errc::address_not_available) {
    throw OSError(ec, std::string{what} + ": address not available (not one of this stack's addresses; an AF_INET6 "
                                          "socket also needs a global IPv6 address that has passed DAD)");
  }
  throw OSError(ec, what);
}

// The address checks every call with an address makes. RFC 4291 addresses need an IPv6 address on the stack.
std::error_code check_address(const SocketImpl& s, const SockAddr& a) noexcept {
  if (a.address().family() != s.core->family) return errc(EAFNOSUPPORT);
  if (a.address().is_v6() && !s.rt->has_ipv6()) return errc(EADDRNOTAVAIL);
  return {};
}

SocketImpl* live(const std::shared_ptr<SocketImpl>& impl, std::error_code& ec) noexcept {
  if (!impl || impl->is_closed()) {
    ec = errc(EBADF);
    return nullptr;
  }
  ec.clear();
  return impl.get();
}

// ---- TCP ----

std::error_code tcp_wait_connected(SocketImpl& s, const Deadline& d) {
  SocketCore& c = *s.core;
  if (d.nonblocking) return errc(EAGAIN);
  return s.wait(
                    [&c] {
                      return c.closed.load(std::memory_order_acquire) || c.error.load(std::memory_order_acquire) != 0 ||
                             c.phase.load(std::memory_order_acquire) != Phase::kConnecting;
                    },
                    d.at);
}

std::size_t tcp_send(SocketImpl& s, Bytes data, const Deadline& d, std::error_code& ec) {
  SocketCore& c = *s.core;
  for (;;) {
    if (c.closed.load(std::memory_order_acquire)) {
      ec = errc(EBADF);
      return 0;
    }
    const Phase ph = c.phase.load(std::memory_order_acquire);
    if (ph == Phase::kFresh || ph == Phase::kListening) {
      ec = errc(ENOTCONN);
      return 0;
    }
    if (const int err = c.error.load(std::memory_order_acquire)) {
      ec = errc(err);
      return 0;
    }
    if (ph == Phase::kConnecting) {
      if ((ec = tcp_wait_connected(s, d))) return 0;
      continue;
    }
    if (c.send_closed.load(std::memory_order_acquire)) {
      ec = errc(EPIPE);
      return 0;
    }
    if (data.empty()) return 0;
    const std::size_t n = c.tx->write(data.first(std::min(data.size(), tx_room(c))));  // straight into the connection's send buffer
    if (n != 0) {
      s.after_produce();
      return n;
    }
    if (d.nonblocking) {
      ec = errc(EAGAIN);
      return 0;
    }
    ec = s.wait(
                    [&c] {
                      return c.closed.load(std::memory_order_acquire) || c.error.load(std::memory_order_acquire) != 0 ||
                             c.send_closed.load(std::memory_order_acquire) || tx_room(c) != 0;
                    },
                    d.at);
    if (ec) return 0;
  }
}

std::size_t tcp_recv(SocketImpl& s, MutableBytes buf, bool peek, const Deadline& d, std::error_code& ec) {
  SocketCore& c = *s.core;
  for (;;) {
    if (c.closed.load(std::memory_order_acquire)) {
      ec = errc(EBADF);
      return 0;
    }
    const Phase ph = c.phase.load(std::memory_order_acquire);
    if (ph == Phase::kFresh || ph == Phase::kListening) {
      ec = errc(ENOTCONN);
      return 0;
    }
    // State first, then data: EOF and errors are published after the bytes that precede them.
    const bool fin = c.eof.load(std::memory_order_acquire);
    const int err = c.error.load(std::memory_order_acquire);
    if (ph == Phase::kConnected) {
      const std::size_t n = peek ? c.rx->peek(0, buf) : c.rx->read(buf);
      if (n != 0) {
        if (!peek) s.after_consume();
        return n;
      }
      if (buf.empty() || fin) return 0;
    }
    if (err != 0) {
      ec = errc(err);
      return 0;
    }
    if (ph == Phase::kConnecting) {
      if ((ec = tcp_wait_connected(s, d))) return 0;
      continue;
    }
    if (d.nonblocking) {
      ec = errc(EAGAIN);
      return 0;
    }
    ec = s.wait(
                    [&c] {
                      return c.closed.load(std::memory_order_acquire) || c.error.load(std::memory_order_acquire) != 0 ||
                             c.eof.load(std::memory_order_acquire) || !c.rx->empty();
                    },
                    d.at);
    if (ec) return 0;
  }
}

// ---- UDP ----

std::error_code udp_open(SocketImpl& s) {
  if (s.known_to_loop.load(std::memory_order_acquire)) return {};
  Command cmd;
  s.prepare(cmd, Command::Kind::kOpen);
  const std::error_code ec = s.call(cmd);
  if (!ec) s.known_to_loop.store(true, std::memory_order_release);
  return ec;
}

std::size_t udp_sendto(SocketImpl& s, Bytes data, const ip::Endpoint& dst, const Deadline& d, std::error_code& ec) {
  SocketCore& c = *s.core;
  if (const int e = c.async_error.exchange(0, std::memory_order_acq_rel)) {
    ec = errc(e);
    return 0;
  }
  if (data.size() > (dst.addr.is_v4() ? kMaxUdpPayloadV4 : kMaxUdpPayloadV6)) {
    ec = errc(EMSGSIZE);
    return 0;
  }
  if (dst.port == 0) {
    ec = errc(EINVAL);  // Linux udp_sendmsg
    return 0;
  }
  if ((ec = udp_open(s))) return 0;
  detail::Datagram dg;
  try {
    dg = detail::Datagram{dst, std::vector<std::byte>(data.begin(), data.end())};
  } catch (const std::bad_alloc&) {
    ec = errc(ENOBUFS);
    return 0;
  }
  for (;;) {
    if (c.closed.load(std::memory_order_acquire)) {
      ec = errc(EBADF);
      return 0;
    }
    if (c.dtx->try_push(std::move(dg))) {
      s.wake_loop();
      return data.size();
    }
    if (d.nonblocking) {
      ec = errc(EAGAIN);
      return 0;
    }
    ec = s.wait( [&c] { return c.closed.load(std::memory_order_acquire) || c.dtx->free_space() != 0; }, d.at);
    if (ec) return 0;
  }
}

std::size_t udp_recv(SocketImpl& s, MutableBytes buf, bool peek, const Deadline& d, ip::Endpoint* from,
                     std::error_code& ec) {
  SocketCore& c = *s.core;
  for (;;) {
    if (c.closed.load(std::memory_order_acquire)) {
      ec = errc(EBADF);
      return 0;
    }
    if (const int e = c.async_error.exchange(0, std::memory_order_acq_rel)) {
      ec = errc(e);  // recvfrom(2) reports a pending error (ICMP on a connected socket) before data
      return 0;
    }
    if (detail::Datagram* dg = c.drx->front()) {
      const std::size_t n = copy_bytes(buf, dg->data);
      if (from != nullptr) *from = dg->peer;
      if (!peek) {
        c.drx->pop_front();  // a longer datagram's rest is discarded (BSD)
        s.after_consume();
      }
      return n;
    }
    if (d.nonblocking) {
      ec = errc(EAGAIN);
      return 0;
    }
    ec = s.wait(
                    [&c] {
                      return c.closed.load(std::memory_order_acquire) ||
                             c.async_error.load(std::memory_order_acquire) != 0 || !c.drx->empty();
                    },
                    d.at);
    if (ec) return 0;
  }
}

std::size_t recv_impl(SocketImpl& s, MutableBytes buf, int flags, const Deadline& d, ip::Endpoint* from,
                      std::error_code& ec) {
  ec.clear();
  const bool peek = (flags & MSG_PEEK) != 0;
  if (s.core->proto == Proto::kUdp) return udp_recv(s, buf, peek, d, from, ec);
  const std::size_t n = tcp_recv(s, buf, peek, d, ec);
  if (from != nullptr && s.peer) *from = *s.peer;
  return n;
}

std::size_t send_impl(SocketImpl& s, Bytes data, const Deadline& d, std::error_code& ec) {
  ec.clear();
  if (s.core->proto == Proto::kUdp) {
    if (!s.peer) {
      ec = errc(EDESTADDRREQ);
      return 0;
    }
    return udp_sendto(s, data, *s.peer, d, ec);
  }
  return tcp_send(s, data, d, ec);
}

// read(n) / readinto: no short reads on a blocking socket; what is there on a non-blocking one (nullopt when
// nothing); a timeout after some bytes returns those bytes. Errors: `ec` set, nullopt.
std::optional<std::size_t> read_full(SocketImpl& s, MutableBytes out, std::error_code& ec) {
  const Deadline d = s.deadline(0);
  std::size_t got = 0;
  while (got < out.size()) {
    const std::size_t n = recv_impl(s, out.subspan(got), 0, d, nullptr, ec);
    if (ec) {
      const bool would_block = ec == std::errc::resource_unavailable_try_again && d.nonblocking;
      if ((would_block || ec == std::errc::timed_out) && got != 0) break;
      if (would_block) ec.clear();
      return std::nullopt;
    }
    if (n == 0) break;  // EOF
    got += n;
  }
  ec.clear();
  return got;
}

std::optional<Buffer> read_to_eof(SocketImpl& s, std::error_code& ec) {
  const Deadline d = s.deadline(0);
  Buffer out;
  for (;;) {
    const std::size_t at = out.size();
    out.resize(at + kReadChunk);
    const std::size_t n = recv_impl(s, MutableBytes{out}.subspan(at), 0, d, nullptr, ec);
    out.resize(at + n);
    if (ec) {
      const bool would_block = ec == std::errc::resource_unavailable_try_again && d.nonblocking;
      if ((would_block || ec == std::errc::timed_out) && !out.empty()) break;
      if (would_block) ec.clear();
      return std::nullopt;
    }
    if (n == 0) break;
  }
  ec.clear();
  return out;
}

std::optional<Buffer> readline_impl(SocketImpl& s, std::error_code& ec) {
  const Deadline d = s.deadline(0);
  Buffer line;
  for (;;) {
    std::array<std::byte, 256> peeked;
    const std::size_t n = recv_impl(s, peeked, MSG_PEEK, d, nullptr, ec);
    if (ec) {
      const bool would_block = ec == std::errc::resource_unavailable_try_again && d.nonblocking;
      if ((would_block || ec == std::errc::timed_out) && !line.empty()) break;
      if (would_block) ec.clear();
      return std::nullopt;
    }
    if (n == 0) break;  // EOF ends the line
    const auto end = std::find(peeked.begin(), peeked.begin() + long(n), std::byte{'\n'});
    const bool found = end != peeked.begin() + long(n);
    const std::size_t take = std::size_t(end - peeked.begin()) + (found ? 1 : 0);
    const std::size_t at = line.size();
    line.resize(at + take);
    const std::size_t got = recv_impl(s, MutableBytes{line}.subspan(at), 0, Deadline{true, {}}, nullptr, ec);
    line.resize(at + got);
    if (ec) return std::nullopt;
    if (found) break;
  }
  ec.clear();
  return line;
}

std::optional<std::size_t> write_impl(SocketImpl& s, Bytes data, std::error_code& ec) {
  const Deadline d = s.deadline(0);
  std::size_t total = 0;
  while (total < data.size()) {
    const std::size_t n = send_impl(s, data.subspan(total), d, ec);
    if (ec) {
      const bool would_block = ec == std::errc::resource_unavailable_try_again && d.nonblocking;
      if ((would_block || ec == std::errc::timed_out) && total != 0) break;
      if (would_block) ec.clear();
      return std::nullopt;
    }
    total += n;
  }
  ec.clear();
  return total;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// detail::SocketImpl

namespace detail {

void SocketImpl::close() noexcept {
  if (core->closed.exchange(true, std::memory_order_acq_rel)) return;
  rt->notify_app(*core);  // wakes a caller blocked on this socket in another thread, and pollers (POLLNVAL)
  auto* cmd = new (std::nothrow) Command;
  if (cmd == nullptr) return;  // out of memory: the loop keeps the protocol objects until it is destroyed
  cmd->kind = Command::Kind::kClose;
  cmd->core = core;
  cmd->opts = opts;
  cmd->heap = true;
  rt->post(cmd);
}

Deadline SocketImpl::deadline(int flags) const noexcept {
  if ((flags & MSG_DONTWAIT) != 0) return {true, {}};
  const std::int64_t us = timeout_us.load(std::memory_order_relaxed);
  if (us == 0) return {true, {}};
  if (us < 0) return {false, std::nullopt};
  return {false, rt->deadline_after(microseconds{us})};
}

void SocketImpl::prepare(Command& cmd, Command::Kind kind) const {
  cmd.kind = kind;
  cmd.core = core;
  cmd.opts = opts;
}

void SocketImpl::after_consume() noexcept {
  SocketCore& c = *core;
  if (c.proto == Proto::kTcp) {
    // An RMW, pairing with the loop's exchange of rx_wake_at in Runtime::arm_wakeups(): either this thread
    // sees the loop's target, or the loop, about to sleep, sees this read. Below the target no window update
    // is due, and the loop need not hear of it.
    if (c.rx->consumed() < c.rx_wake_at.fetch_add(0, std::memory_order_acq_rel)) return;
    mark_dirty(SocketCore::kRxRead);
    return;
  }
  // An RMW, pairing with the loop's exchange of rx_blocked and of its sleeping flag: either the loop sees the
  // room this thread just made, or this thread sees that it holds data back and wakes it.
  if (c.rx_blocked.fetch_add(0, std::memory_order_acq_rel) != 0) rt->wake_loop();
}

void SocketImpl::mark_dirty(std::uint32_t bit) noexcept {
  // Only the first mark since the loop last looked wakes it (wake_loop: an eventfd write only if it sleeps).
  // Either this RMW comes after the loop's clearing exchange, reads 0 and wakes it, or the loop's exchange
  // reads this mark and synchronizes with it (and with the ring write before it).
  if (core->app_dirty.fetch_or(bit, std::memory_order_acq_rel) == 0) rt->wake_loop();
}

int revents(const SocketImpl* impl, int mask) noexcept {
  if (impl == nullptr || impl->is_closed()) return POLLNVAL;
  const SocketCore& c = *impl->core;
  int ev = 0;
  if (c.proto == Proto::kTcp) {
    const int err = c.error.load(std::memory_order_acquire);
    switch (c.phase.load(std::memory_order_acquire)) {
      case Phase::kFresh: ev = POLLOUT | POLLHUP; break;  // MicroPython: a new socket is "hung up" yet writable
      case Phase::kListening:
        if (c.accept_ready.load(std::memory_order_acquire) != 0) ev |= POLLIN;
        break;
      case Phase::kConnecting:
        if (err != 0) ev |= POLLERR | POLLHUP;
        break;
      case Phase::kConnected: {
        const bool fin = c.eof.load(std::memory_order_acquire);
        const bool send_closed = c.send_closed.load(std::memory_order_acquire);
        if (fin || !c.rx->empty()) ev |= POLLIN;
        if (err == 0 && !send_closed && tx_room(c) != 0) ev |= POLLOUT;
        if (err == ECONNRESET || err == EPIPE) {
          ev |= POLLHUP | POLLIN | POLLOUT;  // reset: a read reports it, a write fails
        } else if (err != 0) {
          ev |= POLLERR | POLLIN;
        }
        break;
      }
    }
  } else {
    if (!c.drx->empty()) ev |= POLLIN;
    if (c.dtx->free_space() != 0) ev |= POLLOUT;
    if (c.async_error.load(std::memory_order_acquire) != 0) ev |= POLLERR;
  }
  return ev & (mask | POLLERR | POLLHUP | POLLNVAL);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------------------
// socket

namespace {

Runtime& default_or_throw() {
  Runtime* rt = Runtime::default_runtime();
  if (rt == nullptr) throw OSError(ENETDOWN, "socket(): no default runtime (call Runtime::set_default)");
  return *rt;
}

}  // namespace

socket::socket(int af, int type, int proto) : socket(default_or_throw(), af, type, proto) {}

socket::socket(Runtime& rt, int af, int type, int proto) {
  if (af != AF_INET && af != AF_INET6) throw std::invalid_argument("socket(): unknown address family " + std::to_string(af));
  if (type != SOCK_STREAM && type != SOCK_DGRAM) throw std::invalid_argument("socket(): unknown type " + std::to_string(type));
  const int want = type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
  if (proto != 0 && proto != want) throw std::invalid_argument("socket(): protocol " + std::to_string(proto) + " does not go with the type");
  const Proto p = type == SOCK_STREAM ? Proto::kTcp : Proto::kUdp;
  auto core = std::make_shared<SocketCore>(p, family_of(af), rt.next_fd());
  if (p == Proto::kUdp) {
    core->dtx = std::make_unique<SpscRing<detail::Datagram>>(rt.config().udp_ring_datagrams);
    core->drx = std::make_unique<SpscRing<detail::Datagram>>(rt.config().udp_ring_datagrams);
  }
  impl_ = std::make_shared<SocketImpl>(rt, std::move(core), type, want);
}

socket::socket(std::shared_ptr<detail::SocketImpl> impl) noexcept : impl_{std::move(impl)} {}
socket::~socket() = default;
socket::socket(socket&&) noexcept = default;
socket& socket::operator=(socket&&) noexcept = default;

void socket::close() noexcept {
  if (impl_) impl_->close();
}

void socket::close(std::error_code& ec) noexcept {
  ec.clear();
  close();
}

void socket::bind(const SockAddr& addr) {
  std::error_code ec;
  bind(addr, ec);
  if (ec) raise(ec, "bind");
}

void socket::bind(const SockAddr& addr, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return;
  if ((ec = check_address(*s, addr))) return;
  Command cmd;
  s->prepare(cmd, Command::Kind::kBind);
  cmd.ep = addr.endpoint();
  ec = s->call(cmd);
  if (!ec) s->known_to_loop.store(true, std::memory_order_release);
}

void socket::listen() {
  std::error_code ec;
  listen(impl_ ? impl_->rt->config().listen_backlog : 0, ec);
  if (ec) raise(ec, "listen");
}

void socket::listen(int backlog) {
  std::error_code ec;
  listen(backlog, ec);
  if (ec) raise(ec, "listen");
}

void socket::listen(int backlog, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return;
  if (s->core->proto != Proto::kTcp) {
    ec = errc(EOPNOTSUPP);
    return;
  }
  if (s->core->family == ip::Family::kIpv6 && !s->rt->has_ipv6()) {
    ec = errc(EADDRNOTAVAIL);
    return;
  }
  Command cmd;
  s->prepare(cmd, Command::Kind::kListen);
  cmd.backlog = backlog < 0 ? 0 : backlog;
  ec = s->call(cmd);
  if (!ec) s->known_to_loop.store(true, std::memory_order_release);
}

std::pair<socket, SockAddr> socket::accept() {
  std::error_code ec;
  auto r = accept(ec);
  if (ec) raise(ec, "accept");
  return std::move(*r);
}

std::optional<std::pair<socket, SockAddr>> socket::accept(std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return std::nullopt;
  SocketCore& c = *s->core;
  if (c.proto != Proto::kTcp) {
    ec = errc(EOPNOTSUPP);
    return std::nullopt;
  }
  if (c.phase.load(std::memory_order_acquire) != Phase::kListening) {
    ec = errc(EINVAL);
    return std::nullopt;
  }
  const Deadline d = s->deadline(0);
  for (;;) {
    Command cmd;
    s->prepare(cmd, Command::Kind::kAccept);
    ec = s->call(cmd);
    if (!ec) {
      auto impl = std::make_shared<SocketImpl>(*s->rt, cmd.accepted, s->type, s->proto);
      impl->peer = cmd.remote;
      impl->known_to_loop.store(true, std::memory_order_release);
      const SockAddr peer{cmd.remote.value_or(ip::Endpoint{})};
      return std::pair<socket, SockAddr>{socket{std::move(impl)}, peer};
    }
    if (ec != std::errc::resource_unavailable_try_again) return std::nullopt;
    if (d.nonblocking) return std::nullopt;  // EAGAIN
    ec = s->wait(
                     [&c] {
                       return c.closed.load(std::memory_order_acquire) ||
                              c.accept_ready.load(std::memory_order_acquire) != 0;
                     },
                     d.at);
    if (ec) return std::nullopt;
    if (c.closed.load(std::memory_order_acquire)) {
      ec = errc(EBADF);
      return std::nullopt;
    }
  }
}

void socket::connect(const SockAddr& addr) {
  std::error_code ec;
  connect(addr, ec);
  if (ec) raise(ec, "connect");
}

void socket::connect(const SockAddr& addr, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return;
  if ((ec = check_address(*s, addr))) return;
  SocketCore& c = *s->core;
  if (c.proto == Proto::kUdp) {
    Command cmd;
    s->prepare(cmd, Command::Kind::kConnect);
    cmd.ep = addr.endpoint();
    if ((ec = s->call(cmd))) return;
    s->known_to_loop.store(true, std::memory_order_release);
    s->peer = addr.endpoint();
    return;
  }
  const Deadline d = s->deadline(0);
  const Phase ph = c.phase.load(std::memory_order_acquire);
  if (ph == Phase::kConnected) {
    ec = errc(EISCONN);
    return;
  }
  if (ph == Phase::kListening) {
    ec = errc(EINVAL);
    return;
  }
  if (ph == Phase::kFresh) {
    // The loop creates the connection, whose buffers become the socket's rings (SocketCore::tx / rx).
    Command cmd;
    s->prepare(cmd, Command::Kind::kConnect);
    cmd.ep = addr.endpoint();
    if ((ec = s->call(cmd))) return;
    s->known_to_loop.store(true, std::memory_order_release);
    s->peer = addr.endpoint();
    if (d.nonblocking) {
      ec = errc(EINPROGRESS);
      return;
    }
  } else if (d.nonblocking) {  // connecting
    ec = errc(c.error.load(std::memory_order_acquire) != 0 ? c.error.load(std::memory_order_acquire) : EALREADY);
    return;
  }
  if ((ec = tcp_wait_connected(*s, d))) return;
  if (c.closed.load(std::memory_order_acquire)) {
    ec = errc(EBADF);
  } else if (const int err = c.error.load(std::memory_order_acquire)) {
    ec = errc(err);
  }
}

std::size_t socket::send(Bytes data, int flags) {
  std::error_code ec;
  const std::size_t n = send(data, flags, ec);
  if (ec) raise(ec, "send");
  return n;
}

std::size_t socket::send(Bytes data, int flags, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return 0;
  return send_impl(*s, data, s->deadline(flags), ec);
}

void socket::sendall(Bytes data) {
  std::error_code ec;
  sendall(data, ec);
  if (ec) raise(ec, "sendall");
}

std::size_t socket::sendall(Bytes data, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return 0;
  const Deadline d = s->deadline(0);  // one deadline for the whole call
  std::size_t total = 0;
  while (total < data.size()) {
    total += send_impl(*s, data.subspan(total), d, ec);
    if (ec) break;
  }
  return total;
}

Buffer socket::recv(std::size_t bufsize, int flags) {
  std::error_code ec;
  Buffer b = recv(bufsize, flags, ec);
  if (ec) raise(ec, "recv");
  return b;
}

Buffer socket::recv(std::size_t bufsize, int flags, std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return {};
  Buffer b(bufsize);
  b.resize(recv_impl(*s, b, flags, s->deadline(flags), nullptr, ec));
  return b;
}

std::size_t socket::recv_into(MutableBytes buf, int flags) {
  std::error_code ec;
  const std::size_t n = recv_into(buf, flags, ec);
  if (ec) raise(ec, "recv_into");
  return n;
}

std::size_t socket::recv_into(MutableBytes buf, int flags, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return 0;
  return recv_impl(*s, buf, flags, s->deadline(flags), nullptr, ec);
}

std::size_t socket::sendto(Bytes data, const SockAddr& addr) {
  std::error_code ec;
  const std::size_t n = sendto(data, addr, ec);
  if (ec) raise(ec, "sendto");
  return n;
}

std::size_t socket::sendto(Bytes data, const SockAddr& addr, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return 0;
  if (s->core->proto == Proto::kTcp) return send_impl(*s, data, s->deadline(0), ec);
  if ((ec = check_address(*s, addr))) return 0;
  return udp_sendto(*s, data, addr.endpoint(), s->deadline(0), ec);
}

std::pair<Buffer, SockAddr> socket::recvfrom(std::size_t bufsize, int flags) {
  std::error_code ec;
  auto r = recvfrom(bufsize, flags, ec);
  if (ec) raise(ec, "recvfrom");
  return r;
}

std::pair<Buffer, SockAddr> socket::recvfrom(std::size_t bufsize, int flags, std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return {};
  Buffer b(bufsize);
  ip::Endpoint from{};
  b.resize(recv_impl(*s, b, flags, s->deadline(flags), &from, ec));
  return {std::move(b), SockAddr{from}};
}

void socket::setsockopt(int level, int optname, int value) {
  std::error_code ec;
  setsockopt(level, optname, value, ec);
  if (ec) raise(ec, "setsockopt");
}

void socket::setsockopt(int level, int optname, Bytes value) {
  std::error_code ec;
  setsockopt(level, optname, value, ec);
  if (ec) raise(ec, "setsockopt");
}

void socket::setsockopt(int level, int optname, int value, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return;
  bool live_apply = false;
  if (level == SOL_SOCKET) {
    switch (optname) {
      case SO_REUSEADDR:
        s->opts.reuse_addr = value != 0;
        live_apply = true;
        break;
      case SO_KEEPALIVE: s->opts.keepalive = value != 0; break;
      case SO_SNDBUF:
      case SO_RCVBUF: {
        if (value <= 0) {
          ec = errc(EINVAL);
          return;
        }
        const std::size_t v = std::max<std::size_t>(std::size_t(value), kMinBuffer);
        (optname == SO_SNDBUF ? s->opts.sndbuf : s->opts.rcvbuf) = v;
        break;
      }
      case SO_LINGER: ec = errc(EINVAL); return;  // takes struct linger (8 bytes)
      default: ec = errc(ENOPROTOOPT); return;
    }
  } else if (level == IPPROTO_TCP && optname == TCP_NODELAY && s->core->proto == Proto::kTcp) {
    s->opts.nodelay = value != 0;
    live_apply = true;
  } else {
    ec = errc(ENOPROTOOPT);
    return;
  }
  if (live_apply && s->known_to_loop.load(std::memory_order_acquire)) {
    Command cmd;
    s->prepare(cmd, Command::Kind::kSetOption);
    cmd.level = level;
    cmd.name = optname;
    ec = s->call(cmd);
  }
}

void socket::setsockopt(int level, int optname, Bytes value, std::error_code& ec) noexcept {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return;
  if (level == SOL_SOCKET && optname == SO_LINGER) {
    if (value.size() != 8) {
      ec = errc(EINVAL);
      return;
    }
    std::int32_t onoff = 0, seconds = 0;  // struct linger {int l_onoff; int l_linger;}, host byte order
    std::memcpy(&onoff, value.data(), 4);
    std::memcpy(&seconds, value.data() + 4, 4);
    // {1, 0}: abortive close. {1, n > 0} would block close() up to n seconds in BSD; here close() never blocks
    // and the data is sent in the background as without SO_LINGER.
    s->opts.linger_abort = onoff != 0 && seconds == 0;
    return;
  }
  if (value.size() != 4) {
    ec = errc(EINVAL);
    return;
  }
  std::int32_t v = 0;
  std::memcpy(&v, value.data(), 4);
  setsockopt(level, optname, int(v), ec);
}

void socket::settimeout(std::optional<double> seconds) {
  if (seconds && !(*seconds >= 0.0)) throw std::invalid_argument("settimeout: the timeout must be >= 0 or None");
  if (!impl_) throw OSError(EBADF, "settimeout");
  std::int64_t us = -1;
  if (seconds) {
    const double v = std::ceil(*seconds * 1e6);
    us = v >= double(std::numeric_limits<std::int64_t>::max() / 2) ? std::numeric_limits<std::int64_t>::max() / 2
                                                                   : std::int64_t(v);
  }
  impl_->timeout_us.store(us, std::memory_order_relaxed);
}

std::optional<double> socket::gettimeout() const noexcept {
  if (!impl_) return std::nullopt;
  const std::int64_t us = impl_->timeout_us.load(std::memory_order_relaxed);
  if (us < 0) return std::nullopt;
  return double(us) / 1e6;
}

SocketFile socket::makefile(std::string_view mode, int /*buffering: unbuffered always*/) {
  if (mode.empty() || mode.find_first_not_of("rwb") != std::string_view::npos)
    throw std::invalid_argument("makefile: mode must be 'rb', 'wb' or 'rwb'");
  std::error_code ec;
  if (live(impl_, ec) == nullptr) raise(ec, "makefile");
  return SocketFile{impl_};
}

std::optional<Buffer> socket::read() {
  std::error_code ec;
  auto r = read(ec);
  if (ec) raise(ec, "read");
  return r;
}

std::optional<Buffer> socket::read(std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return std::nullopt;
  return read_to_eof(*s, ec);
}

std::optional<Buffer> socket::read(std::size_t size) {
  std::error_code ec;
  auto r = read(size, ec);
  if (ec) raise(ec, "read");
  return r;
}

std::optional<Buffer> socket::read(std::size_t size, std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return std::nullopt;
  Buffer b(size);
  const std::optional<std::size_t> n = read_full(*s, b, ec);
  if (!n) return std::nullopt;
  b.resize(*n);
  return b;
}

std::optional<std::size_t> socket::readinto(MutableBytes buf) { return readinto(buf, buf.size()); }

std::optional<std::size_t> socket::readinto(MutableBytes buf, std::size_t nbytes) {
  std::error_code ec;
  auto r = readinto(buf, nbytes, ec);
  if (ec) raise(ec, "readinto");
  return r;
}

std::optional<std::size_t> socket::readinto(MutableBytes buf, std::size_t nbytes, std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return std::nullopt;
  return read_full(*s, buf.first(std::min(nbytes, buf.size())), ec);
}

std::optional<Buffer> socket::readline() {
  std::error_code ec;
  auto r = readline(ec);
  if (ec) raise(ec, "readline");
  return r;
}

std::optional<Buffer> socket::readline(std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return std::nullopt;
  return readline_impl(*s, ec);
}

std::optional<std::size_t> socket::write(Bytes data) {
  std::error_code ec;
  auto r = write(data, ec);
  if (ec) raise(ec, "write");
  return r;
}

std::optional<std::size_t> socket::write(Bytes data, std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return std::nullopt;
  return write_impl(*s, data, ec);
}

int socket::fileno() const noexcept { return impl_ && !impl_->is_closed() ? impl_->core->fd : -1; }

SockAddr socket::getsockname() {
  std::error_code ec;
  SockAddr a = getsockname(ec);
  if (ec) raise(ec, "getsockname");
  return a;
}

SockAddr socket::getsockname(std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return {};
  Command cmd;
  s->prepare(cmd, Command::Kind::kNames);
  if (s->known_to_loop.load(std::memory_order_acquire)) {
    if ((ec = s->call(cmd))) return {};
  }
  if (cmd.local) return SockAddr{*cmd.local};
  // Not bound yet: the family's wildcard, port 0.
  return SockAddr{s->core->family == ip::Family::kIpv6 ? ip::IpAddress{ip::Ipv6Address{}}
                                                       : ip::IpAddress{ip::Ipv4Address{}},
                  0};
}

SockAddr socket::getpeername() {
  std::error_code ec;
  SockAddr a = getpeername(ec);
  if (ec) raise(ec, "getpeername");
  return a;
}

SockAddr socket::getpeername(std::error_code& ec) {
  SocketImpl* s = live(impl_, ec);
  if (s == nullptr) return {};
  if (!s->peer) {
    ec = errc(ENOTCONN);
    return {};
  }
  return SockAddr{*s->peer};
}

int socket::family() const noexcept { return impl_ ? af_of(impl_->core->family) : AF_INET; }
int socket::type() const noexcept { return impl_ ? impl_->type : SOCK_STREAM; }
int socket::proto() const noexcept { return impl_ ? impl_->proto : IPPROTO_TCP; }

int socket::poll_events(int eventmask) const noexcept { return detail::revents(impl_.get(), eventmask); }

// ---------------------------------------------------------------------------------------------------------
// SocketFile: the same calls on the shared stream, through a second handle to it (dropping a handle does not
// close the stream; close() does).

std::optional<Buffer> SocketFile::read() { return socket{impl_}.read(); }
std::optional<Buffer> SocketFile::read(std::size_t size) { return socket{impl_}.read(size); }
std::optional<std::size_t> SocketFile::readinto(MutableBytes buf) { return socket{impl_}.readinto(buf); }
std::optional<std::size_t> SocketFile::readinto(MutableBytes buf, std::size_t nbytes) {
  return socket{impl_}.readinto(buf, nbytes);
}
std::optional<Buffer> SocketFile::readline() { return socket{impl_}.readline(); }
std::optional<std::size_t> SocketFile::write(Bytes data) { return socket{impl_}.write(data); }
void SocketFile::close() noexcept {
  if (impl_) impl_->close();
}
int SocketFile::fileno() const noexcept { return impl_ && !impl_->is_closed() ? impl_->core->fd : -1; }

}  // namespace tapstack::socket
