// socket::Runtime: one network stack (ip::Interface + udp::UdpLayer + tcp::TcpLayer over a Link the program
// passes: a TapLink in the CLI, an in-memory link in tests) and the loop that runs it. The facade's sockets
// (socket.hpp, poll.hpp) talk to it; nothing else in an application needs to.
//
// Threaded mode (Runtime(link, cfg); start()): one stack-loop thread owns every protocol object. It sleeps in
// ppoll(2) on the link's wait_fd() and an eventfd until the earliest poll_at(); application threads never touch
// protocol state. A socket's bytes cross through lock-free SPSC rings (for TCP the connection's own send and
// receive buffers, SpscByteRing, which the application writes and reads directly: payload is copied once
// between the application and the wire; a ring of datagrams per direction for UDP); commands (bind, connect, listen, accept, close, setsockopt) through
// a lock-free MPSC queue, each with a completion the caller sleeps on. A blocked caller sleeps on a futex and
// wakes on data, space, a state change, close() or its deadline (steady clock, microsecond resolution). The loop
// wakes a caller only when one is waiting (a counter it reads) and, for send space, only once a quarter of the
// ring is free; the application wakes the loop (an eventfd write) only when the loop is asleep, and then only
// for what the loop needs: bytes written (once per loop iteration, a per-socket flag) and, for reads, only
// once they open the receive window enough for a window update (a target the loop arms before it sleeps).
//
// Manual mode (Runtime(link, cfg, Runtime::Manual)): no thread. The caller drives poll(now) itself (tests on a
// virtual clock, single-threaded programs, as MicroPython on a microcontroller), and socket calls run their
// commands inline on the caller's thread. A blocking call that has to wait calls the driver set with
// set_driver() — which should advance time and poll (this runtime and, in tests, its peer) — until the call
// can complete or its deadline (on the virtual clock: the last `now` passed to poll()) has passed; without a
// driver, or when the driver reports that nothing more can happen, the call fails with EAGAIN ("would block")
// instead of hanging.
//
// Defaults: Runtime::set_default() names the runtime that `socket()` without a runtime argument uses (as
// MicroPython's socket.socket() uses the board's one stack); RuntimeConfig::from_env() reads TAPSTACK_IP4 etc.
// Sockets must be closed or destroyed before their runtime.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "dns/resolver.hpp"
#include "ip/interface.hpp"
#include "socket/address.hpp"
#include "stack/function_ref.hpp"
#include "stack/link.hpp"
#include "stack/mpsc_queue.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/layer.hpp"
#include "udp/layer.hpp"

namespace tapstack::socket {

namespace detail {
struct SocketCore;
struct Command;
struct Options;
struct SocketImpl;
class EventFdHolder;
}  // namespace detail

class ResolverDriver;
class socket;

struct RuntimeConfig {
  ip::InterfaceConfig interface;            // MAC, IPv4 address/prefix, gateway, ARP and reassembly bounds
  udp::LayerConfig udp{};
  tcp::LayerConfig tcp{};
  std::optional<std::uint64_t> seed;        // SeededRng (reproducible tests); unset: SecureRng (getrandom)
  // SO_SNDBUF / SO_RCVBUF defaults for TCP sockets: the size of the connection's send and receive buffers,
  // which the application reads and writes directly (copy-once; a power of two, rounded up).
  std::size_t tcp_send_buffer = 256 * 1024;
  std::size_t tcp_recv_buffer = 256 * 1024;
  std::size_t udp_ring_datagrams = 64;      // datagrams each way between the application and the loop
  int listen_backlog = 8;                   // listen() without an argument
  Duration idle_poll = milliseconds{1};     // the loop's longest sleep when the link has no wait_fd()
  // getaddrinfo() for names: with a server in dns.servers (port 53) or a hosts entry, the runtime runs a
  // dns::Resolver in its loop and installs it as its NameResolver (socket/resolver_driver.hpp).
  dns::ResolverConfig dns{};
  std::string hosts;                        // hosts(5) text, served before DNS (never sent to a server)

  // TAPSTACK_IP4 ("192.0.2.2/24", required), TAPSTACK_GW4 ("192.0.2.1"), TAPSTACK_MAC ("02:00:00:00:00:01";
  // default 02:00:00:00:00:01), TAPSTACK_DNS ("192.0.2.1" or "192.0.2.1:5353,198.51.100.53": DNS servers),
  // TAPSTACK_HOSTS (the path of a hosts(5) file), TAPSTACK_IP6 ("2001:db8::2/64", comma-separated: static
  // IPv6 addresses, DAD runs for each), TAPSTACK_GW6 ("2001:db8::1": default router when no RA gives one).
  // Setup: throws std::invalid_argument naming the variable on a bad value.
  static RuntimeConfig from_env();
  // Parses TAPSTACK_DNS's syntax (also the CLI's --dns): addresses, optionally ADDR:PORT or [V6]:PORT,
  // separated by commas or spaces. nullopt if one does not parse.
  static std::optional<std::vector<ip::Endpoint>> parse_dns_servers(std::string_view text);
};


class Runtime {
 public:
  struct ManualTag {
    explicit ManualTag() = default;
  };
  static inline const ManualTag Manual{};
  // Manual mode: called by a blocking socket call that must wait; it should move time forward (at most to
  // `deadline` when one is given, so the call can time out) and poll. Returns false when nothing more can
  // happen (the call then fails with EAGAIN, or ETIMEDOUT if its deadline has passed).
  using Driver = std::function<bool(std::optional<Instant> deadline)>;

  // Threaded; call start(). `link` must outlive the runtime. Setup: throws on a bad config.
  Runtime(Link& link, const RuntimeConfig& cfg);
  Runtime(Link& link, const RuntimeConfig& cfg, ManualTag);
  ~Runtime();  // stop()s; sockets must be gone by then
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Threaded mode. Calls on sockets of a runtime that is not running fail with ENETDOWN.
  void start();
  void stop();
  bool running() const noexcept { return running_.load(std::memory_order_acquire); }
  bool manual() const noexcept { return manual_; }

  // Manual mode: one loop iteration at `now` (run the commands' effects, move bytes between the rings and the
  // protocol objects, let the interface receive, run timers and transmit). Call it again at poll_at().
  void poll(Instant now);
  // When poll() has work: Instant{} (now) when bytes are waiting to move, else the stack's earliest timer.
  std::optional<Instant> poll_at() const noexcept;
  void set_driver(Driver driver) { driver_ = std::move(driver); }
  // The runtime's clock: manual mode, the last poll()'s `now`; threaded, the steady clock.
  Instant now() const noexcept;

  // The DNS hook: getaddrinfo() passes names that are not literals to the default runtime's resolver.
  void set_resolver(NameResolver* r) noexcept { resolver_.store(r, std::memory_order_release); }
  NameResolver* resolver() const noexcept { return resolver_.load(std::memory_order_acquire); }
  // The resolver the runtime runs when its config names a DNS server or hosts (else nullptr).
  ResolverDriver* dns() noexcept { return dns_.get(); }

  // The runtime `socket()` uses when given none. Not owned; clear it (nullptr) before destroying that runtime.
  static void set_default(Runtime* rt) noexcept;
  static Runtime* default_runtime() noexcept;
  // Configure-once convenience for programs: builds a threaded runtime over `link` from RuntimeConfig::from_env(),
  // starts it and makes it the default. stop_default() stops and destroys it (after the last socket is gone).
  // Setup: throws std::invalid_argument on a bad environment, std::logic_error if one is already running.
  static Runtime& start_default(Link& link);
  static void stop_default() noexcept;

  // True once the interface has a usable global IPv6 address (PREFERRED after DAD, RFC 4862 §5.5.4; the
  // link-local address alone does not count). Any thread; the loop refreshes it every iteration.
  bool has_ipv6() const noexcept { return has_ipv6_.load(std::memory_order_acquire); }

  // The protocol objects, for diagnostics and tests: manual mode on the polling thread, threaded mode only
  // while stopped.
  ip::Interface& interface() noexcept { return *iface_; }
  tcp::TcpLayer& tcp() noexcept { return *tcp_; }
  udp::UdpLayer& udp() noexcept { return *udp_; }
  const RuntimeConfig& config() const noexcept { return cfg_; }
  std::size_t socket_count() const noexcept { return sockets_.size(); }  // sockets the loop tracks
  // A TCP socket's rings and the connection behind it (nullptr where there is none; a closed socket has no
  // connection). Copy-once: tx and rx are the connection's send_buffer() and recv_buffer().
  struct TcpInternals {
    const SpscByteRing* tx = nullptr;
    const SpscByteRing* rx = nullptr;
    const tcp::Connection* conn = nullptr;
  };
  TcpInternals tcp_internals(const socket& s) const noexcept;

 private:
  friend class socket;
  friend class poll;
  friend class SocketFile;
  friend struct detail::SocketImpl;
  friend class ResolverDriver;

  Runtime(Link& link, const RuntimeConfig& cfg, bool manual);

  // ---- application side (any thread) ----
  int next_fd() noexcept { return next_fd_.fetch_add(1, std::memory_order_relaxed); }
  // Runs `c` on the loop and waits for it (manual: inline). ENETDOWN when the loop is not running.
  std::error_code call(detail::Command& c) noexcept;
  // Hands a heap command to the loop, which deletes it (close()). Deleted at once when the loop is not running.
  void post(detail::Command* c) noexcept;
  // After writing a tx ring or draining an rx ring: wakes the loop if it sleeps.
  void wake_loop() noexcept;
  // Sleeps until ready() (checked after registering as a waiter), the deadline (ETIMEDOUT) or, in manual mode,
  // until the driver can do nothing more (EAGAIN). ENETDOWN when the loop stopped.
  std::error_code wait(detail::SocketCore& c, FunctionRef<bool()> ready, std::optional<Instant> deadline);
  // The same for select.poll: wakes on any socket's change.
  std::error_code wait_events(FunctionRef<bool()> ready, std::optional<Instant> deadline);
  std::optional<Instant> deadline_after(std::optional<Duration> timeout) const noexcept;
  // Publishes an application-side change (close()) to waiters on `c` and to pollers.
  void notify_app(detail::SocketCore& c) noexcept;

  // ---- stack loop ----
  void run_loop();
  void iterate(Instant now) noexcept;
  void execute(detail::Command& c, Instant now) noexcept;
  void drain_commands(Instant now) noexcept;
  void fail_commands() noexcept;
  bool has_work() const noexcept;
  bool tcp_has_work(const detail::SocketCore& c) const noexcept;
  bool udp_has_work(const detail::SocketCore& c) const noexcept;
  void publish_events() noexcept;
  void sync(detail::SocketCore& c, Instant now) noexcept;
  void sync_tcp(detail::SocketCore& c, Instant now) noexcept;
  void sync_udp(detail::SocketCore& c) noexcept;
  void notify(detail::SocketCore& c) noexcept;
  void adopt_buffers(detail::SocketCore& c, tcp::Connection& conn) noexcept;
  static bool tx_room_to_report(const detail::SocketCore& c) noexcept;
  bool arm_wakeups() noexcept;
  std::error_code register_core(const std::shared_ptr<detail::SocketCore>& c) noexcept;
  void unregister_core(detail::SocketCore& c) noexcept;
  std::error_code ensure_udp(const std::shared_ptr<detail::SocketCore>& c) noexcept;
  tcp::ConnectionConfig connection_config(const detail::Options& o) const noexcept;
  std::error_code tcp_bind(detail::SocketCore& c, const ip::Endpoint& ep) noexcept;
  void finish_close(detail::SocketCore& c, Instant now) noexcept;
  // Runs fn(now) on the loop and waits for it (manual: inline). ENETDOWN when the loop is not running.
  std::error_code run_in_loop(FunctionRef<void(Instant)> fn) noexcept;
  // The interface's timers and the resolver's.
  std::optional<Instant> stack_poll_at() const noexcept;
  // After the interface's poll: has_ipv6_, and the RDNSS servers (RFC 8106) for the resolver when the config
  // names none (builds the ResolverDriver the first time one is learnt).
  void refresh_ipv6(Instant now) noexcept;

  Link& link_;
  RuntimeConfig cfg_;
  const bool manual_;
  std::unique_ptr<Rng> rng_;
  std::unique_ptr<ip::Interface> iface_;
  std::unique_ptr<udp::UdpLayer> udp_;
  std::unique_ptr<tcp::TcpLayer> tcp_;
  std::unique_ptr<ResolverDriver> dns_;  // after the layers: destroyed before them

  // Loop-owned.
  std::vector<std::shared_ptr<detail::SocketCore>> sockets_;
  std::vector<detail::SocketCore*> tcp_binds_;  // TCP sockets holding a bind() address
  std::vector<std::byte> scratch_;              // one UDP datagram
  Instant now_{};                               // the current iteration's time (manual: the last poll)
  Driver driver_;

  // Shared with application threads.
  MpscQueue<detail::Command> commands_;
  std::unique_ptr<detail::EventFdHolder> wake_;
  std::atomic<std::uint32_t> sleeping_{0};     // 1 while the loop sleeps (or is about to)
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_{false};
  std::atomic<std::uint32_t> callers_{0};       // application threads inside call()
  std::atomic<std::uint32_t> events_seq_{0};    // bumped on every published change (select.poll sleeps on it)
  std::atomic<std::uint32_t> poll_waiters_{0};
  std::atomic<int> next_fd_{3};
  std::atomic<NameResolver*> resolver_{nullptr};
  std::thread thread_;
  bool events_changed_ = false;                 // loop: something changed this iteration
  std::atomic<bool> has_ipv6_{false};           // written by the loop (refresh_ipv6)
  std::uint64_t rdnss_updates_seen_ = 0;        // loop: the Ipv6Engine counter at the last RDNSS check
  Instant next_rdnss_check_{};                  // loop: RDNSS entries also expire without an update
  std::vector<ip::Ipv6Address> rdnss_;          // loop: the servers last given to the resolver
};

}  // namespace tapstack::socket
