// TCP end to end over a real TAP device with the Linux kernel as the peer, driving the `tapstack` command
// (serve --tcp-echo/--http, send, recv) the way a user does. The test process moves into a private network
// namespace first; kernel side 192.0.2.1/24 on tap0, stack 192.0.2.2/24 (RFC 5737 documentation addresses).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "child.hpp"
#include "netns.hpp"
#include "stream_pattern.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tapstack::test::run;

constexpr std::uint64_t k256MiB = 256ull << 20;

using tapstack::test::tapstack_bin;

using tapstack::test::Child;
using tapstack::test::pattern_hash;
using tapstack::test::read_all;
using tapstack::test::ReadResult;
using tapstack::test::seconds_since;
using tapstack::test::write_pattern;

sockaddr_in addr4(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}
using tapstack::test::set_io_timeouts;
int tcp_socket() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  set_io_timeouts(fd, 20s);
  return fd;
}
// A kernel listener on 192.0.2.1:port.
int kernel_listener(std::uint16_t port) {
  const int fd = tcp_socket();
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const auto a = addr4("192.0.2.1", port);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}
int accept_within(int listener, std::chrono::milliseconds timeout) {
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, int(timeout.count())) != 1) return -1;
  const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) set_io_timeouts(fd, 20s);
  return fd;
}
class TcpKernel : public tapstack::test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    TAPSTACK_REQUIRE_NET_ADMIN();
    ASSERT_TRUE(
        run("ip tuntap add dev tap0 mode tap && ip link set tap0 up && ip addr add 192.0.2.1/24 dev tap0").ok());
  }
  void TearDown() override { run("ip link del tap0"); }

  // The tapstack command line; with env TAPSTACK_E2E_PCAP_DIR set, each run records a pcap there for debugging.
  std::vector<std::string> cmd(std::vector<std::string> args) {
    args.insert(args.begin(), tapstack_bin());
    for (const char* a : {"--tap", "tap0", "--ip4", "192.0.2.2/24"}) args.emplace_back(a);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const char* dir = std::getenv("TAPSTACK_E2E_PCAP_DIR");
    if (dir != nullptr && std::string_view{info->name()}.find("256MiB") == std::string_view::npos) {  // too big
      args.emplace_back("--pcap");
      args.emplace_back(std::string(dir) + "/" + info->name() + "-" + args[1] + "-" + std::to_string(++runs_) +
                        ".pcap");
    }
    return args;
  }
  int runs_ = 0;
  std::unique_ptr<Child> start_serve(std::vector<std::string> services) {
    services.insert(services.begin(), "serve");
    auto c = std::make_unique<Child>(cmd(services));
    EXPECT_TRUE(c->started());
    EXPECT_TRUE(c->wait_for_output("tapstack serve:", 5000ms)) << c->output();
    return c;
  }
};

// 1. 256 MiB from a kernel client through the stack's echo server, read back concurrently, byte-identical.
TEST_F(TcpKernel, EchoServerReturns256MiBFromAKernelClientByteIdentical) {
  auto server = start_serve({"--tcp-echo", "7"});
  const int fd = tcp_socket();
  const auto dst = addr4("192.0.2.2", 7);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 0) << std::strerror(errno);
  const auto t0 = Clock::now();
  std::uint64_t written = 0;
  std::thread writer{[&] { written = write_pattern(fd, k256MiB); }};
  const ReadResult back = read_all(fd);  // until the server's FIN, sent after it echoed everything
  writer.join();
  const double s = seconds_since(t0);
  close(fd);
  std::printf("[ info ] echo: 256 MiB each way in %.2f s (%.2f Gbit/s per direction)\n", s, k256MiB * 8 / s / 1e9);
  EXPECT_EQ(written, k256MiB);
  EXPECT_EQ(back.last, 0) << std::strerror(back.err);
  EXPECT_EQ(back.bytes, k256MiB);
  EXPECT_EQ(back.hash, pattern_hash(k256MiB));
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("echo:7.bytes_out 268435456\n"), std::string::npos) << server->output();
}

// 2a. The stack's client sends 256 MiB to a kernel server.
TEST_F(TcpKernel, SendDelivers256MiBToAKernelServer) {
  const int lfd = kernel_listener(5001);
  ASSERT_GE(lfd, 0) << std::strerror(errno);
  Child send{cmd({"send", "192.0.2.1", "5001", "--bytes", std::to_string(k256MiB), "--timeout", "60", "-v"})};
  const int fd = accept_within(lfd, 10000ms);
  ASSERT_GE(fd, 0) << send.output();
  const auto t0 = Clock::now();
  const ReadResult got = read_all(fd);
  const double s = seconds_since(t0);
  close(fd);
  close(lfd);
  std::printf("[ info ] send: 256 MiB in %.2f s (%.2f Gbit/s)\n", s, k256MiB * 8 / s / 1e9);
  EXPECT_EQ(got.last, 0) << std::strerror(got.err);
  EXPECT_EQ(got.bytes, k256MiB);
  const std::string expect = pattern_hash(k256MiB);
  EXPECT_EQ(got.hash, expect);
  EXPECT_EQ(send.wait_exit(20000ms), 0) << send.output();
  EXPECT_NE(send.output().find("sent 268435456 bytes in "), std::string::npos) << send.output();
  EXPECT_NE(send.output().find("Gbit/s, fnv1a64 " + expect), std::string::npos) << send.output();
  // The segments reached the kernel merged into GSO writes (the default), most of them in full ones.
  const auto writes = tapstack::test::printed_counter(send.output(), "tap.tx_gso_writes");
  const auto segments = tapstack::test::printed_counter(send.output(), "tap.tx_gso_segments");
  ASSERT_TRUE(writes && segments) << send.output();
  EXPECT_GT(*segments, 8 * *writes) << send.output();
  EXPECT_GT(*segments, (k256MiB / 1448) / 2) << send.output();
}

// 1b. The same bytes with --no-gso: one write per segment, no merged frame.
TEST_F(TcpKernel, SendWithoutGsoWritesEachSegmentAlone) {
  constexpr std::uint64_t k16MiB = 16ull << 20;
  const int lfd = kernel_listener(5001);
  ASSERT_GE(lfd, 0) << std::strerror(errno);
  Child send{cmd({"send", "192.0.2.1", "5001", "--bytes", std::to_string(k16MiB), "--timeout", "60", "--no-gso", "-v"})};
  const int fd = accept_within(lfd, 10000ms);
  ASSERT_GE(fd, 0) << send.output();
  const ReadResult got = read_all(fd);
  close(fd);
  close(lfd);
  EXPECT_EQ(got.last, 0) << std::strerror(got.err);
  EXPECT_EQ(got.bytes, k16MiB);
  EXPECT_EQ(got.hash, pattern_hash(k16MiB));
  EXPECT_EQ(send.wait_exit(20000ms), 0) << send.output();
  EXPECT_FALSE(tapstack::test::printed_counter(send.output(), "tap.tx_gso_writes")) << send.output();
  const auto frames = tapstack::test::printed_counter(send.output(), "tap.tx_frames");
  ASSERT_TRUE(frames) << send.output();
  EXPECT_EQ(tapstack::test::printed_counter(send.output(), "tap.tx_writes"), frames) << send.output();
  EXPECT_GT(*frames, k16MiB / 1448) << send.output();
}

// 2b. The stack's receiver takes 256 MiB from a kernel client.
TEST_F(TcpKernel, RecvTakes256MiBFromAKernelClient) {
  Child recv_cmd{cmd({"recv", "5002", "--bytes", std::to_string(k256MiB), "--timeout", "60", "-v"})};
  ASSERT_TRUE(recv_cmd.wait_for_output("tapstack recv: listening on 192.0.2.2:5002", 5000ms)) << recv_cmd.output();
  const int fd = tcp_socket();
  const auto dst = addr4("192.0.2.2", 5002);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 0) << std::strerror(errno);
  const auto t0 = Clock::now();
  EXPECT_EQ(write_pattern(fd, k256MiB), k256MiB);
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0) << std::strerror(errno);  // the stack's FIN after it read everything
  const double s = seconds_since(t0);
  close(fd);
  std::printf("[ info ] recv: 256 MiB in %.2f s (%.2f Gbit/s)\n", s, k256MiB * 8 / s / 1e9);
  EXPECT_EQ(recv_cmd.wait_exit(20000ms), 0) << recv_cmd.output();
  EXPECT_NE(recv_cmd.output().find("received 268435456 bytes in "), std::string::npos) << recv_cmd.output();
  EXPECT_NE(recv_cmd.output().find("Gbit/s, fnv1a64 " + pattern_hash(k256MiB)), std::string::npos) << recv_cmd.output();
  // The kernel handed the stack TSO frames (TCP segments of up to 64 KiB) with partial checksums, which the link
  // completed: the hash above shows the stack took them intact.
  const auto tso = tapstack::test::printed_counter(recv_cmd.output(), "tap.rx_gso_frames");
  ASSERT_TRUE(tso) << recv_cmd.output();
  EXPECT_GT(*tso, 256u) << recv_cmd.output();
  EXPECT_GE(tapstack::test::printed_counter(recv_cmd.output(), "tap.rx_checksum_completed").value_or(0), *tso);
  EXPECT_FALSE(tapstack::test::printed_counter(recv_cmd.output(), "tap.drop_rx_offload")) << recv_cmd.output();
}

// The discard service reads everything and closes once the client has; all services run in one stack loop.
TEST_F(TcpKernel, DiscardServerReadsEverythingAndClosesAfterThePeer) {
  auto server = start_serve({"--discard", "9", "--tcp-echo", "7", "--udp-echo", "7"});
  const int fd = tcp_socket();
  const auto dst = addr4("192.0.2.2", 9);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 0) << std::strerror(errno);
  EXPECT_EQ(write_pattern(fd, 1u << 20), 1u << 20);
  const ReadResult got = read_all(fd);  // nothing comes back but the server's FIN
  close(fd);
  EXPECT_EQ(got.last, 0) << std::strerror(got.err);
  EXPECT_EQ(got.bytes, 0u);
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("discard:9.bytes_in 1048576\n"), std::string::npos) << server->output();
  EXPECT_NE(server->output().find("discard:9.closed 1\n"), std::string::npos) << server->output();
}

// 3. curl against the static HTTP server.
class HttpKernel : public TcpKernel {
 protected:
  void SetUp() override {
    TcpKernel::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    root_ = std::filesystem::temp_directory_path() / ("tapstack-http-" + std::to_string(getpid()));
    std::filesystem::create_directories(root_ / "sub");
    std::mt19937_64 rng{20240607};
    std::string big(5u << 20, '\0');
    for (auto& ch : big) ch = char(rng());
    std::ofstream(root_ / "big.bin", std::ios::binary) << big;
    std::ofstream(root_ / "hello.txt") << "hello from tapstack\n";
    std::ofstream(root_ / "sub" / "index.html") << "<p>index</p>\n";
    // A symlink inside the root that points out of it must not be followed.
    std::filesystem::create_symlink("/etc/passwd", root_ / "escape");
    out_ = root_.string() + ".out";
  }
  void TearDown() override {
    std::filesystem::remove_all(root_);
    std::filesystem::remove(out_);
    TcpKernel::TearDown();
  }
  // curl's status code for `args`, the body going to out_.
  std::string curl(const std::string& args) {
    const auto r = run("curl -s --max-time 20 -o " + out_ + " -w '%{http_code}' " + args);
    return r.output;
  }
  std::string out_body() {
    std::ifstream f(out_, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  std::string file(const std::string& name) {
    std::ifstream f(root_ / name, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  std::filesystem::path root_;
  std::string out_;
};

TEST_F(HttpKernel, CurlFetchesFilesByteIdentical) {
  auto server = start_serve({"--http", "8080", "--root", root_.string()});
  EXPECT_EQ(curl("http://192.0.2.2:8080/big.bin"), "200");
  EXPECT_TRUE(out_body() == file("big.bin")) << "5 MiB body differs (" << out_body().size() << " bytes)";
  EXPECT_EQ(curl("http://192.0.2.2:8080/hello.txt"), "200");
  EXPECT_EQ(out_body(), "hello from tapstack\n");
  EXPECT_EQ(curl("http://192.0.2.2:8080/sub/"), "200");  // a directory serves its index.html
  EXPECT_EQ(out_body(), "<p>index</p>\n");
  const auto head = run("curl -s --max-time 20 -I http://192.0.2.2:8080/hello.txt");
  EXPECT_NE(head.output.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << head.output;
  EXPECT_NE(head.output.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << head.output;
  EXPECT_NE(head.output.find("Content-Length: 20\r\n"), std::string::npos) << head.output;
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("http:8080.status_200 4\n"), std::string::npos) << server->output();
}

TEST_F(HttpKernel, MissingFilesTraversalAndBadRequestsAreRefused) {
  auto server = start_serve({"--http", "8080", "--root", root_.string()});
  EXPECT_EQ(curl("http://192.0.2.2:8080/missing.txt"), "404");
  EXPECT_EQ(out_body(), "404 Not Found\n");
  EXPECT_EQ(curl("--path-as-is http://192.0.2.2:8080/../../etc/passwd"), "400");
  EXPECT_EQ(out_body().find("root:"), std::string::npos);
  EXPECT_EQ(curl("--path-as-is http://192.0.2.2:8080/sub/%2e%2e/%2e%2e/etc/passwd"), "400");
  EXPECT_EQ(curl("http://192.0.2.2:8080/escape"), "404");  // symlink out of the root
  EXPECT_EQ(out_body().find("root:"), std::string::npos);
  EXPECT_EQ(curl("-X POST -d x=1 http://192.0.2.2:8080/hello.txt"), "405");
  EXPECT_EQ(curl("http://192.0.2.2:8080/" + std::string(3000, 'a')), "414");
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("http:8080.status_400 2\n"), std::string::npos) << server->output();
  EXPECT_NE(server->output().find("http:8080.status_404 2\n"), std::string::npos) << server->output();
}

TEST_F(HttpKernel, Http11KeepsTheConnectionAndHttp10ClosesIt) {
  auto server = start_serve({"--http", "8080", "--root", root_.string()});
  // Two URLs in one curl run share one HTTP/1.1 connection; with --http1.0 each takes its own.
  auto r =
      run("curl -s --max-time 20 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\\n' "
          "http://192.0.2.2:8080/hello.txt http://192.0.2.2:8080/big.bin");
  EXPECT_EQ(r.output, "200 1\n200 0\n");
  r =
      run("curl -s --max-time 20 --http1.0 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\\n' "
          "http://192.0.2.2:8080/hello.txt http://192.0.2.2:8080/big.bin");
  EXPECT_EQ(r.output, "200 1\n200 1\n");
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("http:8080.accepted 3\n"), std::string::npos) << server->output();
  EXPECT_NE(server->output().find("http:8080.requests 4\n"), std::string::npos) << server->output();
}

TEST_F(HttpKernel, AnIdleConnectionIsClosedAfterTheIdleTimeout) {
  auto server = start_serve({"--http", "8080", "--root", root_.string(), "--http-idle-timeout", "0.3"});
  const int fd = tcp_socket();
  const auto dst = addr4("192.0.2.2", 8080);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 0) << std::strerror(errno);
  const auto t0 = Clock::now();
  char c;
  EXPECT_EQ(recv(fd, &c, 1, 0), 0) << std::strerror(errno);  // the server's FIN, nothing else
  const double s = seconds_since(t0);
  EXPECT_GE(s, 0.25);
  EXPECT_LT(s, 5.0);
  close(fd);
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("http:8080.idle_timeouts 1\n"), std::string::npos) << server->output();
}

// 4. A SYN to a port nobody listens on is answered with a RST: ECONNREFUSED, in both directions.
TEST_F(TcpKernel, ConnectToAClosedPortIsRefusedBothWays) {
  auto server = start_serve({"--tcp-echo", "7"});
  const int fd = tcp_socket();
  const auto dst = addr4("192.0.2.2", 9);
  errno = 0;
  EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), -1);
  EXPECT_EQ(errno, ECONNREFUSED) << std::strerror(errno);
  close(fd);
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("tcp.rst_sent 1\n"), std::string::npos) << server->output();

  Child send{cmd({"send", "192.0.2.1", "5003", "--bytes", "1000", "--timeout", "10"})};
  EXPECT_EQ(send.wait_exit(15000ms), 1) << send.output();
  EXPECT_NE(send.output().find("tapstack send: connect to 192.0.2.1:5003: Connection refused"), std::string::npos)
      << send.output();
}

// 5. An abortive close by the stack (RST) reaches a kernel reader as ECONNRESET, after the data.
TEST_F(TcpKernel, AbortAfterReachesTheKernelAsEconnreset) {
  const int lfd = kernel_listener(5004);
  ASSERT_GE(lfd, 0) << std::strerror(errno);
  Child send{cmd({"send", "192.0.2.1", "5004", "--bytes", "1000000", "--abort-after", "100000", "--timeout", "10"})};
  const int fd = accept_within(lfd, 10000ms);
  ASSERT_GE(fd, 0) << send.output();
  const ReadResult got = read_all(fd);  // reading meanwhile: the stack resets only once its data is acknowledged
  EXPECT_EQ(send.wait_exit(15000ms), 0) << send.output();
  close(fd);
  close(lfd);
  EXPECT_EQ(got.bytes, 100000u);
  EXPECT_EQ(got.hash, pattern_hash(100000));
  EXPECT_EQ(got.last, -1);
  EXPECT_EQ(got.err, ECONNRESET) << std::strerror(got.err);
  EXPECT_NE(send.output().find("aborted after 100000 bytes: RST sent"), std::string::npos) << send.output();
}

// 6. 1000 concurrent kernel connections to the echo server all complete.
TEST_F(TcpKernel, ThousandConcurrentEchoConnectionsAllComplete) {
  constexpr int kConns = 1000;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 4096) {
    rl.rlim_cur = std::max<rlim_t>(4096, rl.rlim_cur);
    rl.rlim_max = std::max(rl.rlim_max, rl.rlim_cur);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0) << std::strerror(errno);
  }
  auto server = start_serve({"--tcp-echo", "7"});
  enum class St { kConnecting, kReading, kDone, kFailed };
  struct Conn {
    int fd = -1;
    St st = St::kConnecting;
    std::string msg, got;
  };
  std::vector<Conn> conns(kConns);
  const auto dst = addr4("192.0.2.2", 7);
  const auto t0 = Clock::now();
  for (int i = 0; i < kConns; ++i) {
    Conn& c = conns[std::size_t(i)];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(c.fd, 0) << std::strerror(errno);
    c.msg = "message " + std::to_string(i) + " from the kernel\n";
    const int r = connect(c.fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
    ASSERT_TRUE(r == 0 || errno == EINPROGRESS) << std::strerror(errno);
  }
  const auto deadline = t0 + 40s;
  int done = 0, failed = 0;
  std::vector<pollfd> pfds;
  std::vector<std::size_t> idx;
  while (done + failed < kConns && Clock::now() < deadline) {
    pfds.clear();
    idx.clear();
    for (std::size_t i = 0; i < conns.size(); ++i) {
      if (conns[i].st == St::kConnecting)
        pfds.push_back({conns[i].fd, POLLOUT, 0});
      else if (conns[i].st == St::kReading)
        pfds.push_back({conns[i].fd, POLLIN, 0});
      else
        continue;
      idx.push_back(i);
    }
    if (poll(pfds.data(), pfds.size(), 200) < 0) break;
    for (std::size_t k = 0; k < pfds.size(); ++k) {
      if (pfds[k].revents == 0) continue;
      Conn& c = conns[idx[k]];
      if (c.st == St::kConnecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || send(c.fd, c.msg.data(), c.msg.size(), MSG_NOSIGNAL) != ssize_t(c.msg.size())) {
          c.st = St::kFailed;
          ++failed;
          continue;
        }
        c.st = St::kReading;
      } else {
        char buf[256];
        const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) c.got.append(buf, std::size_t(n));
        if (n <= 0 && errno != EAGAIN) {
          c.st = St::kFailed;
          ++failed;
        } else if (c.got.size() >= c.msg.size()) {
          c.st = c.got == c.msg ? St::kDone : St::kFailed;
          (c.st == St::kDone ? done : failed)++;
          close(c.fd);  // the client closes first; the server answers with its FIN
          c.fd = -1;
        }
      }
    }
  }
  const double s = seconds_since(t0);
  std::printf("[ info ] %d connections echoed in %.2f s\n", done, s);
  for (auto& c : conns)
    if (c.fd >= 0) close(c.fd);
  EXPECT_EQ(done, kConns);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("echo:7.accepted 1000\n"), std::string::npos) << server->output();
}

}  // namespace
