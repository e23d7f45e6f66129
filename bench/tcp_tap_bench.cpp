// TCP throughput between the stack and the Linux kernel over a real TAP device, in the shape of the usual peer
// benchmark: one process in a private network namespace, the stack loop (TapLink + ip::Interface + TcpLayer)
// on one thread, a kernel TCP socket on another, N bytes in one direction per run. Prints one line per
// direction, e.g. "linux->stack 1e9 bytes in 0.91 s: 8.79 Gbit/s". Needs root (unshare, TAP, `ip`).
//
//   bench_tcp_tap [--direction stack->linux|linux->stack|both] [--bytes N] [--timeout SECONDS]
//                 [--kernel-cc NAME] [--busy-poll] [--ipv6] [--no-gso] [--verbose] [--pcap FILE] [--nstat]
// --kernel-cc sets TCP_CONGESTION on the kernel's socket (default: the system's, net.ipv4.tcp_congestion_control);
// --busy-poll never sleeps in poll(2);
// --no-gso opens the TAP without IFF_VNET_HDR: one write(2) per segment instead of merged GSO writes;
// --verbose prints the stack's counters after each run, the connection's buffer sizes and cwnd at its end, and each
// thread's user and system CPU time and context switches (getrusage(RUSAGE_THREAD));
// --pcap FILE records every frame the stack sends and receives (both directions; use a small --bytes: it costs
// a write per frame), the file of the last direction run;
// --nstat prints the kernel's nonzero IP/IPv6/TCP/ICMP counters (`nstat -asz`, in the namespace) after each run.
//
// Kernel side 192.0.2.1/24 on tap0 (MTU 1500; the kernel sends plain <= 1514-byte frames with full checksums, and
// the stack's segments reach it merged into GSO frames unless --no-gso); the stack is 192.0.2.2/24. The clock runs
// from the first payload byte the receiver sees to the last one (stack->linux: the kernel socket's recv();
// linux->stack: the stack application's recv()).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ip/interface.hpp"
#include "ip/slaac.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tap/pcap_recorder.hpp"
#include "tap/tap_link.hpp"
#include "tcp/layer.hpp"

namespace {

using namespace tapstack;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr ip::Ipv4Address kStackAddr{{192, 0, 2, 2}};
constexpr const char* kKernelAddr = "192.0.2.1";
// --ipv6: the same run over IPv6 (RFC 3849 documentation prefix), kernel 2001:db8::1/64, stack 2001:db8::2/64.
const ip::Ipv6Address kStackAddr6 = *ip::Ipv6Address::parse("2001:db8::2");
const ip::Ipv6Address kKernelAddr6 = *ip::Ipv6Address::parse("2001:db8::1");
constexpr std::uint16_t kPort = 5201;
constexpr std::size_t kChunk = 1 << 20;

enum class Direction { kStackToLinux, kLinuxToStack };

struct Options {
  std::vector<Direction> directions{Direction::kStackToLinux, Direction::kLinuxToStack};
  std::uint64_t bytes = 1'000'000'000;
  int timeout_s = 60;
  bool verbose = false;
  bool busy_poll = false;  // never sleep in poll(2): spin on the TAP (costs a core)
  bool gso = true;         // TapLinkOptions::gso
  std::string kernel_cc;   // TCP_CONGESTION for the kernel socket; empty: the system default
  bool ipv6 = false;       // run TCP over IPv6 instead of IPv4
  std::string pcap;        // record the stack's frames here (empty: no recording)
  bool nstat = false;      // print the kernel's counters after each run
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_tcp_tap: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

// One thread's user and system CPU time and context switches (getrusage(RUSAGE_THREAD)): the sum is printed on
// each result line, the details with --verbose.
struct ThreadUsage {
  double user_s = 0, sys_s = 0;
  long voluntary = 0, involuntary = 0;
  static ThreadUsage now() {
    rusage ru{};
    ::getrusage(RUSAGE_THREAD, &ru);
    const auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return {secs(ru.ru_utime), secs(ru.ru_stime), ru.ru_nvcsw, ru.ru_nivcsw};
  }
  double cpu_s() const noexcept { return user_s + sys_s; }
  ThreadUsage operator-(const ThreadUsage& o) const {
    return {user_s - o.user_s, sys_s - o.sys_s, voluntary - o.voluntary, involuntary - o.involuntary};
  }
  void print(const char* thread) const {
    std::fprintf(stderr, "  thread.%s user %.3f s, system %.3f s, context switches: %ld voluntary, %ld involuntary\n",
                 thread, user_s, sys_s, voluntary, involuntary);
  }
};

void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) die("`" + cmd + "` failed");
}

// Shared between the two threads: the receiver's first/last byte times, completion and failure.
struct Run {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::string error;
  SteadyTime first{}, last{};
  // Each thread's CPU time and context switches from the start of the connection (after IPv6 DAD) to its end:
  // *_usage0 when its connection work began, then *_usage the span.
  ThreadUsage stack_usage0, kernel_usage0, stack_usage, kernel_usage;
  bool listening = false;  // under `m`; the kernel sender waits for it on `cv` (it used to spin on sched_yield,
                           // which charged the whole DAD wait, 1-2 s, to the kernel thread's CPU over IPv6)
  void set_listening() {
    std::lock_guard g{m};
    listening = true;
    cv.notify_all();
  }
  std::atomic<bool> stop{false};
  void finish(std::string err = {}) {
    std::lock_guard g{m};
    if (!done) {
      done = true;
      error = std::move(err);
    }
    cv.notify_all();
  }
};

// The stack loop: receive and process frames, run the application step, transmit; block in poll(2) on the
// TAP descriptor only when there was nothing to do and no timer is due.
class StackSide {
 public:
  StackSide(Link& link, const tap::TapLinkCounters& link_counters, const Options& o)
      : link_{link},
        link_counters_{link_counters},
        opts_{o},
        iface_{link, iface_config(o), rng_},
        tcp_{rng_, tcp::LayerConfig{}, &iface_} {
    iface_.register_transport(ip::IpProtocol::kTcp, tcp_);
  }

  // IPv6 only: the static address is usable only after Duplicate Address Detection (about 1-2 s). Waited for,
  // bounded, on the calling thread before the benchmark's two threads start, so that both families start them
  // alike. When the stack thread waited, the kernel socket thread slept in accept(2) all that while, and the
  // scheduler then woke it onto the stack thread's CPU, where the two stayed and took turns: 7,500 to 15,000
  // preemptions of the stack thread per IPv6 run against 15 to 5,000 over IPv4 (--verbose prints them), and
  // IPv6 stack->linux measured 6.64 Gbit/s against 6.89 now (IPv4 7.13 and 7.12), in the same interleaved rounds.
  void wait_for_dad() {
    if (!opts_.ipv6) return;
    Instant now = clock_.now();
    const Instant give_up = now + seconds{10};
    while (iface_.address_state(kStackAddr6) != ip::AddressState::kPreferred) {
      if (now >= give_up) die("IPv6 address 2001:db8::2 did not pass DAD");
      iface_.poll(now);
      const auto at = iface_.poll_at();
      pollfd p{link_.wait_fd(), POLLIN, 0};
      ::poll(&p, 1, at ? int(std::clamp<std::int64_t>((*at - now).count() / 1000, 0, 50)) : 50);
      now = clock_.now();
    }
  }

  void run(Direction d, Run& run) {
    std::vector<std::byte> pattern(kChunk), rx(kChunk);
    for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::byte(i * 131 + 7);
    Instant now = clock_.now();
    run.stack_usage0 = ThreadUsage::now();
    const ip::IpAddress stack_addr = opts_.ipv6 ? ip::IpAddress{kStackAddr6} : ip::IpAddress{kStackAddr};
    const ip::IpAddress kernel_addr = opts_.ipv6 ? ip::IpAddress{kKernelAddr6} : ip::IpAddress{ip::Ipv4Address{{192, 0, 2, 1}}};
    std::optional<tcp::ListenerHandle> l;
    std::optional<tcp::ConnHandle> conn;
    if (d == Direction::kLinuxToStack) {
      const auto r = tcp_.listen({stack_addr, kPort}, 4);
      if (!r) return run.finish("listen: " + r.error().message());
      l = *r;
      run.set_listening();
    } else {
      const auto r = tcp_.connect(now, {kernel_addr, kPort});
      if (!r) return run.finish("connect: " + r.error().message());
      conn = *r;
    }
    std::uint64_t moved = 0;
    bool closed = false;
    while (!run.stop.load(std::memory_order_relaxed)) {
      now = clock_.now();
      std::size_t frames = iface_.poll(now);
      bool work = frames != 0;
      if (d == Direction::kLinuxToStack) {
        if (!conn) conn = tcp_.accept(*l);
        if (conn) {
          const tcp::Connection* c = tcp_.find(*conn);
          if (c == nullptr) return run.finish("stack connection vanished");
          if (c->can_recv()) {
            tcp::Connection* r = tcp_.connection(*conn);
            while (const std::size_t n = r->recv(rx)) {
              if (moved == 0) run.first = std::chrono::steady_clock::now();
              moved += n;
              work = true;
            }
            if (moved >= opts_.bytes) {
              run.last = std::chrono::steady_clock::now();
              if (moved != opts_.bytes) return run.finish("stack received too much: " + std::to_string(moved));
              if (opts_.verbose) print_sizes(*r);
              tcp_.close(now, *conn);  // answers the kernel's FIN (or sends ours)
              for (int i = 0; i < 100; ++i) iface_.poll(clock_.now());
              return run.finish();
            }
          }
          if (c->is_closed() || (c->recv_finished() && moved < opts_.bytes))
            return run.finish("stack connection ended after " + std::to_string(moved) + " bytes: " +
                              c->error().message());
        }
      } else if (!closed) {
        const tcp::Connection* c = tcp_.find(*conn);
        if (c == nullptr || c->is_closed()) return run.finish("stack connection closed early");
        if (tcp::is_synchronized(c->state()) && c->send_free() > 0) {
          tcp::Connection* w = tcp_.connection(*conn);
          while (moved < opts_.bytes) {
            const std::size_t off = moved % pattern.size();
            const std::size_t n =
                w->send(Bytes{pattern}.subspan(off, std::min<std::uint64_t>(pattern.size() - off, opts_.bytes - moved)));
            if (n == 0) break;
            moved += n;
            work = true;
          }
          if (moved == opts_.bytes) {
            if (opts_.verbose) print_sizes(*w);
            tcp_.close(now, *conn);
            closed = true;
          }
        }
      }
      if (work) continue;
      // Idle: sleep until a frame arrives or the next timer, at most 10 ms (so `stop` is seen).
      const std::optional<Instant> at = iface_.poll_at();
      now = clock_.now();
      int timeout_ms = 10;
      if (at) {
        const auto us = (*at - now).count();
        if (us <= 0) continue;
        timeout_ms = int(std::min<std::int64_t>((us + 999) / 1000, 10));
      }
      if (opts_.busy_poll) continue;
      pollfd p{link_.wait_fd(), POLLIN, 0};
      ++sleeps_;
      ::poll(&p, 1, timeout_ms);
    }
  }

  // The connection's buffers as autotuning left them, and its congestion window, when the last byte moved.
  static void print_sizes(const tcp::Connection& c) {
    const tcp::Connection::Stats st = c.stats();
    std::fprintf(stderr, "  conn.send_buffer %zu\n  conn.recv_buffer %zu\n  conn.cwnd %u\n", st.send_buffer,
                 st.recv_buffer, st.cwnd);
  }

  void print_counters() const {
    auto dump = [](std::string_view layer, const auto& counters) {
      counters.visit([&](std::string_view name, std::uint64_t v) {
        if (v != 0) std::fprintf(stderr, "  %.*s.%.*s %llu\n", int(layer.size()), layer.data(), int(name.size()),
                                 name.data(), static_cast<unsigned long long>(v));
      });
    };
    dump("tap", link_counters_);
    dump("ip", iface_.counters());
    dump("tcp", tcp_.counters());
    std::fprintf(stderr, "  loop.sleeps %llu\n", static_cast<unsigned long long>(sleeps_));
  }

 private:
  static ip::InterfaceConfig iface_config(const Options& o) {
    ip::InterfaceConfig c;
    c.mac = ip::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
    c.ipv4 = ip::Ipv4Cidr{kStackAddr, 24};
    c.ipv6 = o.ipv6;  // IPv4 runs stay IPv4-only, as before IPv6 existed
    if (o.ipv6) c.ipv6_addresses = {ip::Ipv6Cidr{kStackAddr6, 64}};
    return c;
  }
  Link& link_;
  const tap::TapLinkCounters& link_counters_;
  const Options& opts_;
  SteadyClock clock_;
  SecureRng rng_;
  ip::Interface iface_;
  tcp::TcpLayer tcp_;
  std::uint64_t sleeps_ = 0;
};

// TCP_CONGESTION on the kernel socket (before connect/listen), when one was asked for.
void set_kernel_cc(int fd, const Options& o) {
  if (o.kernel_cc.empty()) return;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o.kernel_cc.data(), socklen_t(o.kernel_cc.size())) != 0)
    die("TCP_CONGESTION " + o.kernel_cc + ": " + std::strerror(errno));
}

// The kernel socket's address for either family (the stack's address to connect to, or the kernel's to bind).
struct KernelAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};
KernelAddr kernel_sockaddr(bool ipv6, bool stack_side) {
  KernelAddr k;
  if (ipv6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&k.ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(kPort);
    ::inet_pton(AF_INET6, stack_side ? "2001:db8::2" : "2001:db8::1", &sa->sin6_addr);
    k.len = sizeof(sockaddr_in6);
    k.family = AF_INET6;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&k.ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(kPort);
    ::inet_pton(AF_INET, stack_side ? "192.0.2.2" : kKernelAddr, &sa->sin_addr);
    k.len = sizeof(sockaddr_in);
  }
  return k;
}

// The kernel side of stack->linux: accept one connection and read until EOF.
void kernel_receiver(int listen_fd, std::uint64_t bytes, Run& run) {
  const int fd = ::accept(listen_fd, nullptr, nullptr);
  if (fd < 0) return run.finish(std::string{"accept: "} + std::strerror(errno));
  std::vector<char> buf(kChunk);
  std::uint64_t got = 0;
  while (!run.stop.load(std::memory_order_relaxed)) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return run.finish(std::string{"recv: "} + std::strerror(errno)), void(::close(fd));
    if (n == 0) break;
    if (got == 0) run.first = std::chrono::steady_clock::now();
    got += std::uint64_t(n);
    if (got >= bytes) run.last = std::chrono::steady_clock::now();
  }
  ::close(fd);
  if (got != bytes) return run.finish("kernel received " + std::to_string(got) + " bytes, expected " + std::to_string(bytes));
  run.finish();
}

// The kernel side of linux->stack: connect and send `bytes`, then close.
void kernel_sender(std::uint64_t bytes, const Options& o, Run& run) {
  {
    std::unique_lock g{run.m};
    run.cv.wait(g, [&] { return run.listening || run.done; });
    if (run.done) return;  // the stack side failed before it listened
  }
  run.kernel_usage0 = ThreadUsage::now();
  const KernelAddr sa = kernel_sockaddr(o.ipv6, /*stack_side=*/true);
  const int fd = ::socket(sa.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return run.finish(std::string{"socket: "} + std::strerror(errno));
  set_kernel_cc(fd, o);
  if (::connect(fd, sa.get(), sa.len) != 0) {
    ::close(fd);
    return run.finish(std::string{"connect: "} + std::strerror(errno));
  }
  std::vector<char> buf(kChunk, 'x');
  std::uint64_t sent = 0;
  while (sent < bytes && !run.stop.load(std::memory_order_relaxed)) {
    const ssize_t n = ::send(fd, buf.data(), std::min<std::uint64_t>(buf.size(), bytes - sent), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return run.finish(std::string{"send: "} + std::strerror(errno));
    }
    sent += std::uint64_t(n);
  }
  ::close(fd);  // the stack thread reports completion when it has read everything
}

const char* name(Direction d) { return d == Direction::kStackToLinux ? "stack->linux" : "linux->stack"; }

std::string human_bytes(std::uint64_t b) {
  char s[32];
  if (b % 1'000'000'000 == 0) {
    std::snprintf(s, sizeof s, "%llue9", static_cast<unsigned long long>(b / 1'000'000'000));
  } else {
    std::snprintf(s, sizeof s, "%llu", static_cast<unsigned long long>(b));
  }
  return s;
}

void run_direction(Link& link, const tap::TapLinkCounters& link_counters, Direction d, const Options& o) {
  Run run;
  StackSide stack{link, link_counters, o};
  stack.wait_for_dad();
  int listen_fd = -1;
  if (d == Direction::kStackToLinux) {
    const KernelAddr sa = kernel_sockaddr(o.ipv6, /*stack_side=*/false);
    listen_fd = ::socket(sa.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    set_kernel_cc(listen_fd, o);
    if (listen_fd < 0 || ::bind(listen_fd, sa.get(), sa.len) != 0 ||
        ::listen(listen_fd, 4) != 0)
      die(std::string{"kernel listen: "} + std::strerror(errno));
  }
  std::thread stack_thread{[&] {
    stack.run(d, run);
    run.stack_usage = ThreadUsage::now() - run.stack_usage0;
  }};
  std::thread kernel_thread{[&] {
    if (d == Direction::kStackToLinux) kernel_receiver(listen_fd, o.bytes, run);
    else kernel_sender(o.bytes, o, run);
    run.kernel_usage = ThreadUsage::now() - run.kernel_usage0;
  }};
  {
    std::unique_lock g{run.m};
    if (!run.cv.wait_for(g, std::chrono::seconds{o.timeout_s}, [&] { return run.done; })) {
      g.unlock();
      if (o.verbose) stack.print_counters();
      die(std::string{name(d)} + ": no completion within " + std::to_string(o.timeout_s) + " s");
    }
  }
  if (!run.error.empty()) {
    if (o.verbose) stack.print_counters();
    die(std::string{name(d)} + ": " + run.error);
  }
  // The receiver finished; the other side may still be closing. Give it a moment, then stop it.
  kernel_thread.join();
  run.stop = true;
  stack_thread.join();
  if (listen_fd >= 0) ::close(listen_fd);
  const double secs = std::chrono::duration<double>(run.last - run.first).count();
  std::printf("%s%s %s bytes in %.3f s: %.2f Gbit/s (cpu: stack thread %.2f s, kernel socket thread %.2f s)\n",
              name(d), o.ipv6 ? " (IPv6)" : "", human_bytes(o.bytes).c_str(), secs, double(o.bytes) * 8 / secs / 1e9, run.stack_usage.cpu_s(),
              run.kernel_usage.cpu_s());
  std::fflush(stdout);
  if (o.verbose) {
    run.stack_usage.print("stack");
    run.kernel_usage.print("kernel_socket");
    stack.print_counters();
  }
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) die("missing value after " + std::string{a});
      return argv[++i];
    };
    if (a == "--direction") {
      const std::string_view v = value();
      if (v == "stack->linux") o.directions = {Direction::kStackToLinux};
      else if (v == "linux->stack") o.directions = {Direction::kLinuxToStack};
      else if (v == "both") o.directions = {Direction::kStackToLinux, Direction::kLinuxToStack};
      else die("--direction: stack->linux, linux->stack or both");
    } else if (a == "--bytes") {
      o.bytes = std::strtoull(std::string{value()}.c_str(), nullptr, 10);
      if (o.bytes == 0) die("--bytes: a positive number");
    } else if (a == "--timeout") {
      o.timeout_s = std::atoi(std::string{value()}.c_str());
      if (o.timeout_s <= 0) die("--timeout: seconds > 0");
    } else if (a == "--kernel-cc") {
      o.kernel_cc = std::string{value()};
    } else if (a == "--busy-poll") {
      o.busy_poll = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--ipv6") {
      o.ipv6 = true;
    } else if (a == "--no-gso") {
      o.gso = false;
    } else if (a == "--pcap") {
      o.pcap = std::string{value()};
    } else if (a == "--nstat") {
      o.nstat = true;
    } else {
      die("usage: bench_tcp_tap [--direction stack->linux|linux->stack|both] [--bytes N] [--timeout S] [--kernel-cc NAME] [--busy-poll] [--ipv6] [--no-gso] [--verbose] [--pcap FILE] [--nstat]");
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  if (::geteuid() != 0) die("needs root: it enters a private network namespace and creates a TAP device (try sudo)");
  if (::unshare(CLONE_NEWNET) != 0) die(std::string{"unshare(CLONE_NEWNET): "} + std::strerror(errno));
  sh("ip link set lo up");
  for (const Direction d : o.directions) {
    {
      // A fresh TAP per direction: created (and brought up) by TapDevice, addressed here, deleted afterwards.
      tap::TapLink link{"tap0", tap::TapLinkOptions{.gso = o.gso}};
      sh("ip addr add 192.0.2.1/24 dev tap0");
      if (o.ipv6) sh("ip -6 addr add 2001:db8::1/64 dev tap0 nodad");
      sh("ip link set tap0 mtu 1500 up");
      // nstat keeps its baseline in a history file; a private one, so no other nstat user shares it.
      const std::string nstat = "NSTAT_HISTORY=/tmp/bench_tcp_tap." + std::to_string(::getpid()) + ".nstat nstat";
      if (o.nstat) sh(nstat + " -n");  // the baseline: the next call prints this run's deltas
      if (o.pcap.empty()) {
        run_direction(link, link.counters(), d, o);
      } else {
        const auto rec = tap::PcapRecorder::with_wall_clock(link, o.pcap);
        run_direction(*rec, link.counters(), d, o);
      }
      if (o.nstat) {
        std::fflush(stdout);
        sh(nstat + " -s | grep -E '^(Ip|Ip6|Tcp|TcpExt|Icmp6|Icmp)[A-Za-z0-9]+ +[1-9]' | sed 's/^/  kernel./' >&2 || true");
      }
    }
  }
  if (o.nstat) std::remove(("/tmp/bench_tcp_tap." + std::to_string(::getpid()) + ".nstat").c_str());
  return 0;
}
