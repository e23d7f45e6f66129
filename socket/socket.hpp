// tapstack::socket::socket — MicroPython's socket.socket in C++, over a socket::Runtime (runtime.hpp). Same
// names, same errors (CONFORMANCE.md §1): every failure is an OSError carrying the errno MicroPython raises,
// and every call has an overload taking std::error_code& instead (asio style). Sockets are RAII handles:
// movable, not copyable, closed when the last handle to the stream (the socket or a file from makefile()) goes.
//
//   using namespace tapstack::socket;
//   socket s;                                              // the default runtime (Runtime::set_default)
//   s.connect(getaddrinfo("192.0.2.1", 80)[0].sockaddr);
//   s.sendall("GET / HTTP/1.0\r\n\r\n");
//   while (true) { Buffer b = s.recv(4096); if (b.empty()) break; ... }
//
// Blocking: blocking by default (settimeout(None)); settimeout(t) makes a call that outlasts t seconds raise
// ETIMEDOUT; settimeout(0) / setblocking(false) makes it raise EAGAIN (connect: EINPROGRESS) instead of
// waiting, and read()/write()/readinto()/readline() return std::nullopt (MicroPython's None). MSG_DONTWAIT
// makes one recv non-blocking.
//
// Threads: a socket is used by one thread at a time, like a Python object, except that one thread may send
// while another receives, and close() may come from any thread (it wakes a caller blocked in the socket with
// EBADF).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "socket/address.hpp"
#include "socket/buffer.hpp"
#include "socket/constants.hpp"
#include "socket/error.hpp"
#include "socket/runtime.hpp"
#include "stack/bytes.hpp"

namespace tapstack::socket {

namespace detail {
struct SocketImpl;
}  // namespace detail

class SocketFile;
class poll;

class socket {
 public:
  // af: AF_INET or AF_INET6; type: SOCK_STREAM or SOCK_DGRAM; proto: 0 or the type's protocol. Anything else
  // throws std::invalid_argument (MicroPython's TypeError). The first form uses Runtime::default_runtime() and
  // throws OSError(ENETDOWN) when none is set.
  explicit socket(int af = AF_INET, int type = SOCK_STREAM, int proto = 0);
  socket(Runtime& rt, int af = AF_INET, int type = SOCK_STREAM, int proto = 0);
  ~socket();
  socket(socket&&) noexcept;
  socket& operator=(socket&&) noexcept;
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;

  // Closes the stream (files from makefile() included). Idempotent; afterwards every call raises EBADF. TCP: a
  // FIN after every byte written, or a RST when received bytes were left unread (as on Linux, RFC 1122
  // 4.2.2.13), so the peer knows they were lost.
  void close() noexcept;
  void close(std::error_code& ec) noexcept;

  // The socket must not be bound yet (EINVAL). EADDRINUSE when the port is taken (see SO_REUSEADDR),
  // EADDRNOTAVAIL for an address that is not ours (and for AF_INET6: no global IPv6 address has passed DAD yet).
  void bind(const SockAddr& addr);
  void bind(const SockAddr& addr, std::error_code& ec) noexcept;
  // TCP. backlog < 0 counts as 0, and 0 still accepts one connection; no argument: RuntimeConfig::listen_backlog.
  void listen();
  void listen(int backlog);
  void listen(int backlog, std::error_code& ec) noexcept;
  // TCP, listening (else EINVAL). Non-blocking with nothing queued: EAGAIN. The new socket is blocking.
  std::pair<socket, SockAddr> accept();
  std::optional<std::pair<socket, SockAddr>> accept(std::error_code& ec);
  // TCP: blocking waits for the handshake (ECONNREFUSED, ETIMEDOUT); non-blocking raises EINPROGRESS and
  // poll() reports POLLOUT once connected; again while connecting: EALREADY; when connected: EISCONN.
  // UDP: sets the default destination and filters what is received.
  void connect(const SockAddr& addr);
  void connect(const SockAddr& addr, std::error_code& ec) noexcept;

  // Bytes accepted, possibly fewer than given (short write). ENOTCONN before connect; EAGAIN when
  // non-blocking and the send buffer is full; the connection's error (ECONNRESET, EPIPE...) once it failed.
  std::size_t send(Bytes data, int flags = 0);
  std::size_t send(std::string_view data, int flags = 0) { return send(as_bytes(data), flags); }
  std::size_t send(Bytes data, int flags, std::error_code& ec) noexcept;
  // Every byte, chunk by chunk (blocking sockets; on a non-blocking one it stops with EAGAIN when full).
  void sendall(Bytes data);
  void sendall(std::string_view data) { sendall(as_bytes(data)); }
  // Returns the bytes sent before an error.
  std::size_t sendall(Bytes data, std::error_code& ec) noexcept;

  // Up to bufsize bytes; empty at EOF. flags: MSG_PEEK (leave the data queued), MSG_DONTWAIT. TCP: ENOTCONN
  // on a fresh or listening socket. UDP: one datagram, truncated to bufsize (the rest is discarded).
  Buffer recv(std::size_t bufsize, int flags = 0);
  Buffer recv(std::size_t bufsize, int flags, std::error_code& ec);
  std::string recv_str(std::size_t bufsize, int flags = 0) { return to_string(recv(bufsize, flags)); }
  // recv into a caller's buffer (no allocation); returns the byte count.
  std::size_t recv_into(MutableBytes buf, int flags = 0);
  std::size_t recv_into(MutableBytes buf, int flags, std::error_code& ec) noexcept;

  // UDP (on TCP: send(), the address is ignored). EMSGSIZE above 65507 bytes (IPv4); EAGAIN when non-blocking
  // and the queue to the stack is full.
  std::size_t sendto(Bytes data, const SockAddr& addr);
  std::size_t sendto(std::string_view data, const SockAddr& addr) { return sendto(as_bytes(data), addr); }
  std::size_t sendto(Bytes data, const SockAddr& addr, std::error_code& ec) noexcept;
  // (data, sender). MSG_PEEK keeps the datagram and its sender queued. TCP: the peer's address.
  std::pair<Buffer, SockAddr> recvfrom(std::size_t bufsize, int flags = 0);
  std::pair<Buffer, SockAddr> recvfrom(std::size_t bufsize, int flags, std::error_code& ec);

  // SOL_SOCKET: SO_REUSEADDR, SO_KEEPALIVE (before connect/listen), SO_SNDBUF / SO_RCVBUF (bytes, before
  // connect/listen), SO_LINGER (bytes: struct linger {int l_onoff; int l_linger;}, 8 bytes; {1, 0} makes
  // close() reset the connection). IPPROTO_TCP: TCP_NODELAY. Others: ENOPROTOOPT; a bad value: EINVAL.
  void setsockopt(int level, int optname, int value);
  void setsockopt(int level, int optname, Bytes value);
  void setsockopt(int level, int optname, int value, std::error_code& ec) noexcept;
  void setsockopt(int level, int optname, Bytes value, std::error_code& ec) noexcept;

  // Seconds; nullopt: block forever; 0: non-blocking. Negative or NaN throws std::invalid_argument
  // (MicroPython's ValueError).
  void settimeout(std::optional<double> seconds);
  void setblocking(bool flag) { settimeout(flag ? std::nullopt : std::optional<double>{0.0}); }
  std::optional<double> gettimeout() const noexcept;

  // A stream object on this socket (MicroPython: the socket itself). Closing it closes the socket.
  SocketFile makefile(std::string_view mode = "rb", int buffering = 0);

  // The stream interface MicroPython sockets have directly. No short reads/writes on a blocking socket;
  // on a non-blocking one, what is available, and std::nullopt when nothing is.
  // A timeout after some bytes returns those bytes. The error_code forms return nullopt on an error.
  std::optional<Buffer> read();                // to EOF
  std::optional<Buffer> read(std::error_code& ec);
  std::optional<Buffer> read(std::size_t size);
  std::optional<Buffer> read(std::size_t size, std::error_code& ec);
  std::optional<std::size_t> readinto(MutableBytes buf);
  std::optional<std::size_t> readinto(MutableBytes buf, std::size_t nbytes);
  std::optional<std::size_t> readinto(MutableBytes buf, std::size_t nbytes, std::error_code& ec);
  std::optional<Buffer> readline();            // up to and including "\n" (or to EOF); TCP
  std::optional<Buffer> readline(std::error_code& ec);
  std::optional<std::size_t> write(Bytes data);
  std::optional<std::size_t> write(std::string_view data) { return write(as_bytes(data)); }
  std::optional<std::size_t> write(Bytes data, std::error_code& ec);

  // A number unique within the runtime; -1 once closed.
  int fileno() const noexcept;
  bool closed() const noexcept { return fileno() < 0; }
  // Our address (the family's wildcard and port 0 before bind/connect) and the peer's (ENOTCONN without one).
  SockAddr getsockname();
  SockAddr getsockname(std::error_code& ec);
  SockAddr getpeername();
  SockAddr getpeername(std::error_code& ec);
  int family() const noexcept;
  int type() const noexcept;
  int proto() const noexcept;

  // select.poll's view: the events (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL) present now, of `eventmask`
  // plus the three that are always reported.
  int poll_events(int eventmask = POLLIN | POLLOUT) const noexcept;

 private:
  friend class SocketFile;
  friend class poll;
  friend class Runtime;  // tcp_internals()
  explicit socket(std::shared_ptr<detail::SocketImpl> impl) noexcept;
  std::shared_ptr<detail::SocketImpl> impl_;
};

// makefile()'s object: the same stream as the socket (closing it closes the socket; the stream stays open while
// either handle exists and neither closed it).
class SocketFile {
 public:
  std::optional<Buffer> read();
  std::optional<Buffer> read(std::size_t size);
  std::optional<std::size_t> readinto(MutableBytes buf);
  std::optional<std::size_t> readinto(MutableBytes buf, std::size_t nbytes);
  std::optional<Buffer> readline();
  std::optional<std::size_t> write(Bytes data);
  std::optional<std::size_t> write(std::string_view data) { return write(as_bytes(data)); }
  void flush() noexcept {}  // unbuffered
  void close() noexcept;
  int fileno() const noexcept;
  bool closed() const noexcept { return fileno() < 0; }

 private:
  friend class socket;
  explicit SocketFile(std::shared_ptr<detail::SocketImpl> impl) noexcept : impl_{std::move(impl)} {}
  std::shared_ptr<detail::SocketImpl> impl_;
};

}  // namespace tapstack::socket
