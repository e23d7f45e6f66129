// A small static-file HTTP/1.0 and HTTP/1.1 server for `tapstack serve --http PORT --root DIR`: GET and HEAD,
// keep-alive, Content-Length, files streamed in chunks as send space opens. A TcpService: one state machine per
// connection, driven by the Node's stack loop. The request parser and the path resolver are pure functions in
// cli/http_parse.hpp.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "cli/http_parse.hpp"
#include "cli/services.hpp"
#include "stack/counters.hpp"
#include "stack/time.hpp"
#include "tcp/layer.hpp"

namespace tapstack::cli {

struct HttpConfig {
  std::filesystem::path root;             // made canonical by the server's constructor
  std::size_t max_head = 8192;            // request line + header fields; beyond it: 431 (RFC 6585 §5)
  std::size_t max_target = 2048;          // request-target length; beyond it: 414 (RFC 9110 §15.5.15)
  Duration idle_timeout = seconds{30};    // no progress either way for this long: close
  Duration linger = seconds{2};           // after our FIN, how long we drain the peer's late bytes
  std::size_t max_requests_per_step = 8;  // per connection, so pipelined requests cannot starve others
};

#define TAPSTACK_HTTP_COUNTERS(X)                                                                               \
  X(accepted)                                                                                                   \
  X(requests) X(status_200) X(status_400) X(status_404) X(status_405) X(status_414) X(status_431) X(status_501) \
      X(status_505) X(body_bytes_sent) X(idle_timeouts) X(reset_by_peer) X(aborted_file_error) X(closed)
TAPSTACK_DEFINE_COUNTERS(HttpCounters, TAPSTACK_HTTP_COUNTERS)

class HttpServer final : public TcpService {
 public:
  // Throws std::runtime_error when `cfg.root` is not a directory.
  HttpServer(tcp::TcpLayer& tcp, tcp::ListenerHandle listener, HttpConfig cfg);
  ~HttpServer() override;

  std::optional<Instant> step(Instant now) noexcept override;
  std::size_t active_connections() const noexcept override { return conns_.size(); }
  const HttpCounters& counters() const noexcept { return counters_; }
  const HttpConfig& config() const noexcept { return cfg_; }

 private:
  struct Conn;
  bool drive(Instant now, Conn& c) noexcept;           // false: finished, remove it
  bool write_response(Instant now, Conn& c) noexcept;  // false: aborted
  void respond(Conn& c, std::string_view head) noexcept;
  void start_response(Instant now, Conn& c, const HttpRequest& req) noexcept;
  void error_response(Conn& c, int status, bool head_only, bool keep_alive) noexcept;
  void start_closing(Instant now, Conn& c) noexcept;
  void count_status(int status) noexcept;

  tcp::TcpLayer& tcp_;
  tcp::ListenerHandle listener_;
  HttpConfig cfg_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::byte> scratch_;  // one file chunk on its way into a send buffer
  HttpCounters counters_;
};

}  // namespace tapstack::cli
