// A sans-I/O UDP socket (smoltcp's udp::Socket shape): bounded receive and transmit queues, bind/connect
// state and a pending error. The application calls send/recv; UdpLayer fills the receive queue from
// on_packet and drains the transmit queue in poll. It never touches a device or a clock.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <system_error>

#include "ip/address.hpp"
#include "stack/bytes.hpp"
#include "udp/packet_queue.hpp"

namespace tapstack::udp {

class UdpLayer;

struct SocketConfig {
  std::size_t rx_max_datagrams = 64;
  std::size_t rx_max_bytes = 256 * 1024;  // SO_RCVBUF-like: payload bytes
  std::size_t tx_max_datagrams = 64;
  std::size_t tx_max_bytes = 256 * 1024;  // SO_SNDBUF-like
};

struct RecvOptions {
  bool peek = false;  // MSG_PEEK: return the datagram but leave it queued
};

struct RecvInfo {
  std::size_t size = 0;          // bytes copied into the caller's buffer
  std::size_t datagram_len = 0;  // the datagram's full payload length
  bool truncated = false;        // MSG_TRUNC: datagram_len > buffer; the rest was discarded (unless peek)
  ip::Endpoint from;             // the sender
  ip::IpAddress local;           // the address it was sent to (IP_PKTINFO-like)
};

// Handles are generational: a handle of a closed and reclaimed socket never names a newer one.
struct SocketHandle {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  friend constexpr bool operator==(SocketHandle, SocketHandle) = default;
};

class UdpSocket {
 public:
  explicit UdpSocket(const SocketConfig& config = {});
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // --- application side ---------------------------------------------------------------------------
  // Port 0 picks an ephemeral port (RFC 6056, done by the layer); an unspecified address is the wildcard
  // of its family. EINVAL when already bound, EADDRINUSE when the address is taken (unless both sockets
  // set reuse_addr), EBADF after close. A socket not owned by a UdpLayer accepts only explicit ports.
  std::error_code bind(const ip::Endpoint& local) noexcept;
  // Sets the default destination and accepts datagrams only from `remote` (BSD connect(2) on a datagram
  // socket). Binds an ephemeral port first if unbound. EINVAL for port 0 or an unspecified address,
  // EAFNOSUPPORT for a family other than the bound one.
  std::error_code connect(const ip::Endpoint& remote) noexcept;
  void disconnect() noexcept;  // connect(AF_UNSPEC): back to unconnected, binding kept
  // Queues one datagram. Returns (and clears) a pending error first, as Linux does. EMSGSIZE above 65507
  // bytes over IPv4 (65527 over IPv6) or above the transmit buffer; ENOBUFS when the transmit queue is
  // full now; EINVAL for port 0; EAFNOSUPPORT for the wrong family. Binds an ephemeral port if unbound.
  std::error_code send_to(Bytes data, const ip::Endpoint& dst) noexcept;
  // send_to the connected peer; EDESTADDRREQ when not connected.
  std::error_code send(Bytes data) noexcept;
  // Copies the oldest datagram into `buf`. A longer datagram is truncated and its rest discarded (BSD);
  // RecvInfo reports it. nullopt when nothing is queued (the facade maps that to EAGAIN).
  std::optional<RecvInfo> recv(MutableBytes buf, RecvOptions opts = {}) noexcept;
  // Same, but reports a pending error (once, clearing it) before any datagram, like recvfrom(2).
  std::optional<RecvInfo> recv(MutableBytes buf, RecvOptions opts, std::error_code& ec) noexcept;
  // SO_ERROR: the pending asynchronous error (ICMP on a connected socket, no route), cleared by reading.
  std::error_code take_error() noexcept;
  bool has_error() const noexcept { return bool(pending_error_); }
  bool can_recv() const noexcept { return open_ && !rx_.empty(); }
  // Writable while the transmit queue has room for at least a small datagram.
  bool can_send() const noexcept { return open_ && tx_.can_enqueue(0) && tx_.bytes_used() < tx_.max_bytes(); }
  // Releases the port and drops unread datagrams; already-sent datagrams still leave in the next poll.
  // Every later call fails with EBADF.
  void close() noexcept;

  void set_reuse_addr(bool on) noexcept { reuse_addr_ = on; }  // SO_REUSEADDR; set before bind
  bool reuse_addr() const noexcept { return reuse_addr_; }
  void set_ttl(std::uint8_t ttl) noexcept { ttl_ = ttl; }  // IP_TTL / IPV6_UNICAST_HOPS
  std::uint8_t ttl() const noexcept { return ttl_; }

  bool is_open() const noexcept { return open_; }
  bool is_bound() const noexcept { return local_.has_value(); }
  const std::optional<ip::Endpoint>& local_endpoint() const noexcept { return local_; }
  const std::optional<ip::Endpoint>& remote_endpoint() const noexcept { return remote_; }
  std::size_t rx_queued() const noexcept { return rx_.size(); }
  std::size_t tx_queued() const noexcept { return tx_.size(); }
  std::uint64_t rx_dropped() const noexcept { return rx_dropped_; }  // SO_RXQ_OVFL-like

  // --- layer side -------------------------------------------------------------------------------------
  // True when a datagram from `from` to `to` may be delivered here (bound address and connected peer).
  bool matches(const ip::Endpoint& from, const ip::IpAddress& to) const noexcept;
  // Queues a received datagram; false (and counted) when the receive queue is full.
  bool deliver(const ip::Endpoint& from, const ip::IpAddress& to, Bytes payload) noexcept;
  void set_error(std::error_code ec) noexcept { pending_error_ = ec; }
  PacketQueue& tx_queue() noexcept { return tx_; }

 private:
  friend class UdpLayer;
  std::error_code check_family(const ip::IpAddress& peer) const noexcept;

  UdpLayer* layer_ = nullptr;  // set by the owning layer
  SocketHandle handle_{};
  PacketQueue rx_, tx_;
  std::optional<ip::Endpoint> local_, remote_;
  std::error_code pending_error_;
  std::uint64_t rx_dropped_ = 0;
  std::uint8_t ttl_ = 64;
  bool reuse_addr_ = false;
  bool open_ = true;
};

}  // namespace tapstack::udp
