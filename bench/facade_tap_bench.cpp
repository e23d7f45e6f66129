// The socket facade (socket::Runtime + tapstack::socket::socket) against the Linux kernel over a real TAP: bulk
// throughput per direction (compare with bench_tcp_tap, the same setup without the facade) and 1-byte
// request/response round trips (p50 / p99 / p99.9 / max in microseconds). Needs root (unshare, TAP, `ip`).
//
//   bench_facade_tap [--mode bulk|pingpong|all] [--direction stack->linux|linux->stack|both] [--bytes N]
//                    [--count N] [--buffer BYTES] [--timeout SECONDS] [--kernel-cc NAME] [--no-gso]
//
// Setup as bench_tcp_tap: a private network namespace, tap0 (MTU 1500; the stack's TCP segments merged into GSO
// writes unless --no-gso), the kernel 192.0.2.1/24, the stack 192.0.2.2/24 — here a threaded socket::Runtime on a tap::TapLink (its loop
// thread), an application thread using tapstack::socket::socket, and a kernel socket on a third thread.
// Bulk: the clock runs from the first payload byte the receiver sees to the last. --buffer sets the runtime's
// tcp_send_buffer / tcp_recv_buffer (default 4 MiB, the raw benchmark's ConnectionConfig default; the facade's
// own default is 256 KiB). Ping-pong: --count round trips (default 20000, after 1000 unmeasured), TCP_NODELAY on
// both ends, each timed with the steady clock on the client: facade client -> kernel echo server, then kernel
// client -> facade echo server.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "socket/runtime.hpp"
#include "socket/socket.hpp"
#include "tap/tap_link.hpp"

namespace {

using namespace tapstack;
using SteadyTime = std::chrono::steady_clock::time_point;
namespace ts = tapstack::socket;

constexpr const char* kKernelAddr = "192.0.2.1";
constexpr const char* kStackAddr = "192.0.2.2";
constexpr std::uint16_t kPort = 5201;
constexpr std::size_t kChunk = 1 << 20;
constexpr int kWarmup = 1000;

enum class Direction { kStackToLinux, kLinuxToStack };

struct Options {
  bool bulk = true, pingpong = true;
  std::vector<Direction> directions{Direction::kStackToLinux, Direction::kLinuxToStack};
  std::uint64_t bytes = 1'000'000'000;
  int count = 20000;
  std::size_t buffer = 4 << 20;
  int timeout_s = 60;
  std::string kernel_cc = "cubic";  // "system": keep net.ipv4.tcp_congestion_control
  bool gso = true;                   // tap::TapLinkOptions::gso
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_facade_tap: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) die("`" + cmd + "` failed");
}

double process_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

// Aborts the process when a run outlasts the timeout (a hung facade call would otherwise hang the benchmark).
class Watchdog {
 public:
  Watchdog(int seconds, std::string what) : thread_{[this, seconds, what = std::move(what)] {
    std::unique_lock g{m_};
    if (!cv_.wait_for(g, std::chrono::seconds{seconds}, [&] { return done_; }))
      die(what + ": no completion within " + std::to_string(seconds) + " s");
  }} {}
  ~Watchdog() {
    {
      std::lock_guard g{m_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

sockaddr_in kernel_sockaddr(const char* addr) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kPort);
  ::inet_pton(AF_INET, addr, &sa.sin_addr);
  return sa;
}

void kernel_opts(int fd, const Options& o, bool nodelay) {
  if (o.kernel_cc != "system" &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o.kernel_cc.data(), socklen_t(o.kernel_cc.size())) != 0)
    die("TCP_CONGESTION " + o.kernel_cc + ": " + std::strerror(errno));
  const int one = 1;
  if (nodelay) ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int kernel_listen(const Options& o) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  kernel_opts(fd, o, true);
  const sockaddr_in sa = kernel_sockaddr(kKernelAddr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4) != 0)
    die(std::string{"kernel listen: "} + std::strerror(errno));
  return fd;
}

int kernel_connect(const Options& o, bool nodelay) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string{"socket: "} + std::strerror(errno));
  kernel_opts(fd, o, nodelay);
  const sockaddr_in sa = kernel_sockaddr(kStackAddr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
    die(std::string{"kernel connect: "} + std::strerror(errno));
  return fd;
}


ts::RuntimeConfig runtime_config(const Options& o) {
  ts::RuntimeConfig cfg;
  cfg.interface.mac = ip::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
  cfg.interface.ipv4 = ip::Ipv4Cidr{ip::Ipv4Address{{192, 0, 2, 2}}, 24};
  cfg.tcp_send_buffer = o.buffer;
  cfg.tcp_recv_buffer = o.buffer;
  return cfg;
}

const char* name(Direction d) { return d == Direction::kStackToLinux ? "stack->linux" : "linux->stack"; }

std::string human_bytes(std::uint64_t b) {
  if (b % 1'000'000'000 == 0) return std::to_string(b / 1'000'000'000) + "e9";
  return std::to_string(b);
}

// A listening facade socket, ready before the kernel connects.
ts::socket facade_listen(ts::Runtime& rt) {
  ts::socket l{rt};
  l.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  l.bind(ts::SockAddr{kStackAddr, kPort});
  l.listen(1);
  return l;
}

void bulk(ts::Runtime& rt, Direction d, const Options& o) {
  Watchdog dog{o.timeout_s, std::string{"bulk "} + name(d)};
  SteadyTime first{}, last{};
  double app_cpu = 0, kernel_cpu = 0;
  const double cpu0 = process_cpu_seconds();
  if (d == Direction::kStackToLinux) {
    const int lfd = kernel_listen(o);
    std::uint64_t got = 0;
    std::thread kernel{[&] {
      const int fd = ::accept(lfd, nullptr, nullptr);
      if (fd < 0) die(std::string{"accept: "} + std::strerror(errno));
      std::vector<char> buf(kChunk);
      for (;;) {
        const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die(std::string{"recv: "} + std::strerror(errno));
        if (n == 0) break;
        if (got == 0) first = std::chrono::steady_clock::now();
        got += std::uint64_t(n);
        if (got >= o.bytes) last = std::chrono::steady_clock::now();
      }
      ::close(fd);
      kernel_cpu = thread_cpu_seconds();
    }};
    std::thread app{[&] {
      std::vector<std::byte> pattern(kChunk);
      for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::byte(i * 131 + 7);
      ts::socket s{rt};
      s.connect(ts::SockAddr{kKernelAddr, kPort});
      for (std::uint64_t sent = 0; sent < o.bytes;) {
        const std::size_t n = std::size_t(std::min<std::uint64_t>(kChunk, o.bytes - sent));
        s.sendall(Bytes{pattern}.first(n));
        sent += n;
      }
      s.close();
      app_cpu = thread_cpu_seconds();
    }};
    app.join();
    kernel.join();
    ::close(lfd);
    if (got != o.bytes) die("kernel received " + std::to_string(got) + " bytes");
  } else {
    ts::socket l = facade_listen(rt);
    std::uint64_t got = 0;
    std::thread kernel{[&] {
      const int fd = kernel_connect(o, false);
      std::vector<char> buf(kChunk, 'x');
      for (std::uint64_t sent = 0; sent < o.bytes;) {
        const ssize_t n = ::send(fd, buf.data(), std::min<std::uint64_t>(buf.size(), o.bytes - sent), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die(std::string{"send: "} + std::strerror(errno));
        sent += std::uint64_t(n);
      }
      // Wait for the application's close (recv returns 0) so the kernel thread's CPU covers the whole run.
      char c;
      while (::recv(fd, &c, 1, 0) > 0) {
      }
      ::close(fd);
      kernel_cpu = thread_cpu_seconds();
    }};
    std::thread app{[&] {
      auto [s, peer] = l.accept();
      std::vector<std::byte> buf(kChunk);
      while (got < o.bytes) {
        const std::size_t n = s.recv_into(buf);
        if (n == 0) die("facade: EOF after " + std::to_string(got) + " bytes");
        if (got == 0) first = std::chrono::steady_clock::now();
        got += n;
      }
      last = std::chrono::steady_clock::now();
      s.close();
      app_cpu = thread_cpu_seconds();
    }};
    app.join();
    kernel.join();
  }
  // The stack loop's CPU: the process's over the run minus the two measured threads (the watchdog sleeps).
  const double loop_cpu = process_cpu_seconds() - cpu0 - app_cpu - kernel_cpu;
  const double secs = std::chrono::duration<double>(last - first).count();
  std::printf("facade %s %s bytes in %.3f s: %.2f Gbit/s (cpu: stack loop %.2f s, app thread %.2f s, kernel socket "
              "thread %.2f s)\n",
              name(d), human_bytes(o.bytes).c_str(), secs, double(o.bytes) * 8 / secs / 1e9, loop_cpu, app_cpu,
              kernel_cpu);
  std::fflush(stdout);
}

void report_rtt(const char* what, std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, std::size_t(p * double(us.size())))]; };
  const auto slow = std::count_if(us.begin(), us.end(), [](double v) { return v > 500; });
  std::printf("pingpong %s %zu round trips: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us (%td over 500 us)\n",
              what, us.size(), pct(0.50), pct(0.99), pct(0.999), us.back(), slow);
  std::fflush(stdout);
}

void pingpong(ts::Runtime& rt, const Options& o) {
  const int total = kWarmup + o.count;
  {  // Facade client -> kernel echo server.
    Watchdog dog{o.timeout_s, "pingpong facade->kernel"};
    const int lfd = kernel_listen(o);
    std::thread kernel{[&] {
      const int fd = ::accept(lfd, nullptr, nullptr);
      if (fd < 0) die(std::string{"accept: "} + std::strerror(errno));
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      char c;
      while (::recv(fd, &c, 1, 0) == 1) {
        if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) die("kernel echo send failed");
      }
      ::close(fd);
    }};
    std::vector<double> us;
    us.reserve(std::size_t(o.count));
    {
      ts::socket s{rt};
      s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      s.connect(ts::SockAddr{kKernelAddr, kPort});
      std::byte b{0x5a}, r{};
      for (int i = 0; i < total; ++i) {
        const SteadyTime t0 = std::chrono::steady_clock::now();
        s.sendall(Bytes{&b, 1});
        if (s.recv_into(MutableBytes{&r, 1}) != 1 || r != b) die("facade client: bad echo");
        const SteadyTime t1 = std::chrono::steady_clock::now();
        if (i >= kWarmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
      s.close();
    }
    kernel.join();
    ::close(lfd);
    report_rtt("facade-client->kernel-echo", us);
  }
  {  // Kernel client -> facade echo server.
    Watchdog dog{o.timeout_s, "pingpong kernel->facade"};
    ts::socket l = facade_listen(rt);
    std::thread app{[&] {
      auto [s, peer] = l.accept();
      s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      std::byte c{};
      while (s.recv_into(MutableBytes{&c, 1}) == 1) s.sendall(Bytes{&c, 1});
      s.close();
    }};
    const int fd = kernel_connect(o, true);
    std::vector<double> us;
    us.reserve(std::size_t(o.count));
    char b = 'z', r = 0;
    for (int i = 0; i < total; ++i) {
      const SteadyTime t0 = std::chrono::steady_clock::now();
      if (::send(fd, &b, 1, MSG_NOSIGNAL) != 1) die("kernel client send failed");
      if (::recv(fd, &r, 1, 0) != 1 || r != b) die("kernel client: bad echo");
      const SteadyTime t1 = std::chrono::steady_clock::now();
      if (i >= kWarmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    ::close(fd);
    app.join();
    l.close();
    report_rtt("kernel-client->facade-echo", us);
  }
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value after " + std::string{a});
      return argv[++i];
    };
    if (a == "--mode") {
      const std::string v = value();
      o.bulk = v == "bulk" || v == "all";
      o.pingpong = v == "pingpong" || v == "all";
      if (!o.bulk && !o.pingpong) die("--mode: bulk, pingpong or all");
    } else if (a == "--direction") {
      const std::string v = value();
      if (v == "stack->linux") o.directions = {Direction::kStackToLinux};
      else if (v == "linux->stack") o.directions = {Direction::kLinuxToStack};
      else if (v == "both") o.directions = {Direction::kStackToLinux, Direction::kLinuxToStack};
      else die("--direction: stack->linux, linux->stack or both");
    } else if (a == "--bytes") {
      o.bytes = std::strtoull(value().c_str(), nullptr, 10);
      if (o.bytes == 0) die("--bytes: a positive number");
    } else if (a == "--count") {
      o.count = std::atoi(value().c_str());
      if (o.count <= 0) die("--count: a positive number");
    } else if (a == "--buffer") {
      o.buffer = std::strtoull(value().c_str(), nullptr, 10);
      if (o.buffer < 4096) die("--buffer: at least 4096");
    } else if (a == "--timeout") {
      o.timeout_s = std::atoi(value().c_str());
      if (o.timeout_s <= 0) die("--timeout: seconds > 0");
    } else if (a == "--kernel-cc") {
      o.kernel_cc = value();
    } else if (a == "--no-gso") {
      o.gso = false;
    } else {
      die("usage: bench_facade_tap [--mode bulk|pingpong|all] [--direction stack->linux|linux->stack|both] "
          "[--bytes N] [--count N] [--buffer BYTES] [--timeout S] [--kernel-cc NAME|system] [--no-gso]");
    }
  }
  return o;
}

// One fresh TAP and runtime per run, as bench_tcp_tap does per direction.
template <class F>
void with_runtime(const Options& o, F&& f) {
  tap::TapLink link{"tap0", tap::TapLinkOptions{.gso = o.gso}};
  sh("ip addr add 192.0.2.1/24 dev tap0");
  sh("ip link set tap0 mtu 1500 up");
  ts::Runtime rt{link, runtime_config(o)};
  rt.start();
  f(rt);
  rt.stop();
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_args(argc, argv);
  if (::geteuid() != 0) die("needs root: it enters a private network namespace and creates a TAP device");
  if (::unshare(CLONE_NEWNET) != 0) die(std::string{"unshare(CLONE_NEWNET): "} + std::strerror(errno));
  sh("ip link set lo up");
  try {
    if (o.bulk)
      for (const Direction d : o.directions) with_runtime(o, [&](ts::Runtime& rt) { bulk(rt, d, o); });
    if (o.pingpong) with_runtime(o, [&](ts::Runtime& rt) { pingpong(rt, o); });
  } catch (const std::exception& e) {
    die(e.what());
  }
  return 0;
}
