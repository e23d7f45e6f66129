// ResolverDriver: runs the sans-I/O dns::Resolver inside a Runtime's stack loop and is the Runtime's
// NameResolver, so getaddrinfo("name", port) blocks (like any facade call) until the resolver has an answer.
// The loop executes what the resolver asks for (UdpSend over a udp::UdpLayer socket bound to the given port,
// TcpExchange over a tcp::TcpLayer connection to the server, UdpClose / TcpClose), feeds what arrives back to
// it and wakes at its poll_at(). Application threads reach it through Runtime::run_in_loop.
//
// The Runtime builds one when its RuntimeConfig names a DNS server (cfg.dns.servers, TAPSTACK_DNS) or hosts
// (cfg.hosts, TAPSTACK_HOSTS), or, with no server configured, once IPv6 Router Advertisements name RDNSS
// servers (RFC 8106; kept current with dns::Resolver::set_servers); see Runtime::dns().
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "dns/resolver.hpp"
#include "socket/address.hpp"
#include "stack/counters.hpp"
#include "stack/time.hpp"
#include "tcp/listener.hpp"
#include "udp/socket.hpp"

namespace tapstack::socket {

class Runtime;

// clang-format off
#define TAPSTACK_RESOLVER_DRIVER_COUNTERS(X)                                                  \
  X(lookups)           /* getaddrinfo() calls that reached the resolver */                   \
  X(udp_sent)          /* UdpSend executed */                                                 \
  X(udp_received)      /* datagrams fed to on_udp */                                          \
  X(udp_bind_failed)   /* UdpSend whose port was taken or open failed: the attempt times out */ \
  X(tcp_opened)        /* TcpExchange connections */                                          \
  X(tcp_failed)        /* exchanges reported with on_tcp_failed (refused, reset, early EOF) */ \
  X(tcp_bytes)         /* bytes fed to on_tcp_data */                                         \
  X(abandoned)         /* lookups whose caller gave up (manual mode with nothing left to do) */
// clang-format on
TAPSTACK_DEFINE_COUNTERS(ResolverDriverCounters, TAPSTACK_RESOLVER_DRIVER_COUNTERS)

class ResolverDriver final : public NameResolver {
 public:
  // Uses rt.config().dns and .hosts and the runtime's RNG (TXIDs and ports: SecureRng unless seeded).
  explicit ResolverDriver(Runtime& rt);
  ~ResolverDriver() override;
  ResolverDriver(const ResolverDriver&) = delete;
  ResolverDriver& operator=(const ResolverDriver&) = delete;

  // NameResolver (any application thread). af: AF_INET asks A, AF_INET6 AAAA, AF_UNSPEC A (and AAAA when the
  // interface has IPv6: AI_ADDRCONFIG behaviour). Errors, MicroPython's negative numbers (gai_error()).
  std::vector<ip::IpAddress> resolve(std::string_view name, int af, std::error_code& ec) override;
  Resolution resolve_canonical(std::string_view name, int af, std::error_code& ec) override;

  // MicroPython / glibc getaddrinfo() error for a failed lookup: kNxDomain, kNoData, kBadName, kUnsupported
  // -> EAI_NONAME (-2); kTimeout, kServFail, kOverloaded -> EAI_AGAIN (-3, "try again later");
  // kNoServers, kRefused -> EAI_FAIL (-4). 0 for kDone.
  static int gai_error(dns::QueryStatus s) noexcept;

  // ---- stack loop (Runtime::iterate / poll_at) ----
  void poll(Instant now) noexcept;
  std::optional<Instant> poll_at() const noexcept;

  // Diagnostics: on the loop thread, in manual mode, or while the runtime is stopped.
  dns::Resolver& resolver() noexcept { return resolver_; }
  const ResolverDriverCounters& counters() const noexcept { return counters_; }
  std::size_t open_udp() const noexcept { return udp_.size(); }
  std::size_t open_tcp() const noexcept { return tcp_.size(); }

 private:
  // One getaddrinfo() call: lives on the caller's stack; the loop fills it and then sets `done`.
  struct Request {
    std::string name;
    int af = 0;
    std::vector<dns::QueryHandle> handles;
    std::vector<std::optional<dns::Result>> results;
    std::atomic<std::uint32_t> done{0};
  };
  struct UdpQuery {
    std::uint16_t port = 0;
    std::optional<udp::SocketHandle> socket;  // unset: the bind failed (the attempt times out)
  };
  struct TcpQuery {
    std::uint32_t id = 0;
    std::optional<tcp::ConnHandle> conn;  // unset: connect() failed at once
    std::vector<std::byte> out;           // the framed query
    std::size_t sent = 0;
    bool reported = false;  // on_tcp_failed was called
  };

  void start(Request& r, Instant now);
  void finish_ready(Instant now) noexcept;
  void drain_transmits(Instant now) noexcept;
  void feed_arrivals(Instant now) noexcept;
  void check_tcp_failures(Instant now) noexcept;
  void execute(dns::Resolver::Transmit& t, Instant now) noexcept;
  bool io_pending() const noexcept;
  Resolution wait_result(Request& r, std::error_code& ec);

  Runtime& rt_;
  dns::Resolver resolver_;
  ResolverDriverCounters counters_;
  std::vector<Request*> active_;  // loop-owned
  std::vector<UdpQuery> udp_;
  std::vector<TcpQuery> tcp_;
  std::vector<std::byte> scratch_;
};

}  // namespace tapstack::socket
