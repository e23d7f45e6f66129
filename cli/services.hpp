// TCP services for `tapstack serve`: each is a small per-connection state machine over tcp::TcpLayer, driven by
// the Node's single stack loop through step(now) (sans-I/O style: no threads, no blocking sockets).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/time.hpp"
#include "tcp/layer.hpp"

namespace tapstack::cli {

// One listening service. step() accepts every pending connection, then drives the connections that have
// something to do; it returns the earliest time it wants to run again even if no frame arrives (an idle
// timeout), or nullopt.
class TcpService {
 public:
  virtual ~TcpService() = default;
  virtual std::optional<Instant> step(Instant now) noexcept = 0;
  virtual std::size_t active_connections() const noexcept = 0;
};

// Listens on the wildcard `any` (0.0.0.0 or ::; the layers keep the families apart, like IPV6_V6ONLY sockets) at
// `port` with a backlog fit for thousands of concurrent clients; accepted connections use `cfg` (buffer sizes).
// Throws std::runtime_error naming `what` (the option) when the port is 0 or taken.
tcp::ListenerHandle listen_or_throw(tcp::TcpLayer& tcp, const ip::IpAddress& any, std::uint16_t port,
                                    const std::string& what, const tcp::ConnectionConfig& cfg);

#define TAPSTACK_STREAM_SERVICE_COUNTERS(X) X(accepted) X(closed) X(reset_by_peer) X(bytes_in) X(bytes_out)
TAPSTACK_DEFINE_COUNTERS(StreamServiceCounters, TAPSTACK_STREAM_SERVICE_COUNTERS)

// Echo (RFC 862) and discard (RFC 863) over TCP. Echo writes back everything it reads, reading only as much
// as the send buffer can take (send_free), so no byte is dropped and a slow reader throttles the writer
// through the receive window; both close once the peer closed and (echo) every byte was queued back.
class StreamService final : public TcpService {
 public:
  enum class Mode : std::uint8_t { kEcho, kDiscard };
  StreamService(tcp::TcpLayer& tcp, tcp::ListenerHandle listener, Mode mode);

  std::optional<Instant> step(Instant now) noexcept override;
  std::size_t active_connections() const noexcept override { return conns_.size(); }
  const StreamServiceCounters& counters() const noexcept { return counters_; }

 private:
  bool drive(Instant now, tcp::ConnHandle h) noexcept;  // false: the connection is finished

  tcp::TcpLayer& tcp_;
  tcp::ListenerHandle listener_;
  Mode mode_;
  std::vector<tcp::ConnHandle> conns_;
  std::vector<std::byte> buf_;
  StreamServiceCounters counters_;
};

}  // namespace tapstack::cli
