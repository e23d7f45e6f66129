// The UDP layer: owns the sockets, demultiplexes received datagrams to them, routes ICMP errors back,
// picks ephemeral ports (RFC 6056) and drains transmit queues. It is the ip::TransportHandler the
// interface registers for protocol 17, and sends through the interface's ip::IpSender in poll().
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "ip/transport.hpp"
#include "stack/counters.hpp"
#include "stack/random.hpp"
#include "udp/socket.hpp"
#include "udp/wire.hpp"

namespace tapstack::udp {

#define TAPSTACK_UDP_COUNTERS(X)                                                                 \
  X(rx_datagrams)    /* delivered to a socket's receive queue (once per socket for broadcast) */ \
  X(tx_datagrams)    /* handed to the IP layer (sent or queued for address resolution) */        \
  X(drop_truncated)  /* fewer than 8 bytes */                                                    \
  X(drop_bad_length) /* length field < 8 or > IP payload */                                      \
  X(drop_bad_checksum)                                                                           \
  X(drop_zero_checksum_v6) /* RFC 8200 §8.1 */                                                  \
  X(drop_no_socket)        /* nothing bound to the destination port */                           \
  X(drop_rx_queue_full)                                                                          \
  X(drop_tx_no_route)                                                                            \
  X(drop_tx_too_big)                                                                             \
  X(drop_tx_link)          /* IpSender returned kDropped */                                      \
  X(port_unreachable)      /* kPortUnreachable verdicts returned */                              \
  X(icmp_errors)           /* ICMP errors quoting UDP */                                         \
  X(icmp_errors_delivered) /* ... that set a connected socket's pending error */
TAPSTACK_DEFINE_COUNTERS(UdpCounters, TAPSTACK_UDP_COUNTERS)

struct LayerConfig {
  // RFC 6056 §3.2: the IANA dynamic range by default.
  std::uint16_t ephemeral_min = 49152;
  std::uint16_t ephemeral_max = 65535;
  SocketConfig socket;  // queue bounds for open() without arguments
};

class UdpLayer final : public ip::TransportHandler {
 public:
  // `rng` (SecureRng in production, SeededRng in tests) keys the port hashes and must outlive the layer.
  explicit UdpLayer(Rng& rng, const LayerConfig& config = {});
  UdpLayer(const UdpLayer&) = delete;
  UdpLayer& operator=(const UdpLayer&) = delete;

  // Setup path (allocates).
  SocketHandle open();
  SocketHandle open(const SocketConfig& config);
  // The socket behind `h`; a closed-and-reclaimed or never-issued handle yields a closed socket on which
  // every call fails with EBADF.
  UdpSocket& socket(SocketHandle h) noexcept;
  UdpSocket* find(SocketHandle h) noexcept;  // nullptr for a stale handle
  // Closes the socket and reclaims its slot once its transmit queue has drained (at once if empty).
  void close(SocketHandle h) noexcept;
  std::size_t socket_count() const noexcept;  // slots in use, including closed ones still draining

  const UdpCounters& counters() const noexcept { return counters_; }
  const LayerConfig& config() const noexcept { return config_; }

  // ip::TransportHandler
  Verdict on_packet(Instant now, const ip::IpPacketInfo& ip, Bytes payload) noexcept override;
  void on_icmp_error(Instant now, const ip::IcmpErrorInfo& info, Bytes quoted) noexcept override;
  void poll(Instant now, ip::IpSender& out) noexcept override;
  std::optional<Instant> poll_at() const noexcept override;

 private:
  friend class UdpSocket;
  struct Slot {
    std::unique_ptr<UdpSocket> socket;
    std::uint32_t generation = 0;
  };

  // Binds `s` to `local`; port 0 picks an ephemeral port hashed with `remote` (RFC 6056).
  std::error_code bind_socket(UdpSocket& s, const ip::Endpoint& local, const ip::Endpoint& remote) noexcept;
  void unbind_socket(UdpSocket& s) noexcept;
  bool conflicts(const ip::Endpoint& local, bool reuse_addr) const noexcept;
  std::optional<std::uint16_t> ephemeral_port(const ip::IpAddress& local, const ip::Endpoint& remote) noexcept;
  UdpSocket* demux_unicast(const ip::Endpoint& from, const ip::IpAddress& to, std::uint16_t port) noexcept;
  void reclaim(std::uint32_t index) noexcept;
  void count(ParseError e) noexcept;

  Rng& rng_;
  LayerConfig config_;
  UdpCounters counters_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  // Local port -> slot indices of the sockets bound to it (usually one; several with distinct addresses,
  // SO_REUSEADDR or connected peers).
  std::unordered_map<std::uint16_t, std::vector<std::uint32_t>> ports_;
  // RFC 6056 §3.3.4 (double-hash): offset key, table index key, and the per-bucket counters.
  static constexpr std::size_t kPortTableSize = 1024;
  // RFC 6056 §3.3.5: each successful pick advances its counter by a random 1..N, so consecutive ports
  // toward one peer are not consecutive numbers (Linux does the same since 5.18).
  static constexpr std::uint32_t kMaxPortIncrement = 500;
  SipKey offset_key_, table_key_;
  std::array<std::uint32_t, kPortTableSize> port_table_{};
  UdpSocket closed_;  // what socket() returns for a stale handle
};

}  // namespace tapstack::udp
