// The threaded runtime: two Runtimes, each with its own stack-loop thread, over a ThreadLink (192.0.2.1 and
// 192.0.2.2), used from application threads. Blocked calls wake on data, on close() from another thread, on the
// peer's FIN and on their timeout; poll() wakes on data; 64 application connections each move 4 MiB
// byte-identically (FNV-1a) in bounded time. Suites `threads` and `unit`; run it under ThreadSanitizer too:
//   meson setup build-socket-tsan -Db_sanitize=thread -Db_lundef=false && meson test -C build-socket-tsan socket_threads
// TAPSTACK_SOCKET_BYTES overrides the per-connection size (suffixes K, M).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "manual_pair.hpp"
#include "socket/poll.hpp"
#include "socket/socket.hpp"
#include "stack/time.hpp"
#include "thread_link.hpp"
#include "errno_of.hpp"

namespace tapstack::socket {
namespace {

using testing::kAddrA;
using testing::kAddrB;
using testing::pair_config;
using testing::ThreadLink;

using testing::errno_of;

SockAddr at_b(std::uint16_t port) { return SockAddr{ip::IpAddress{kAddrB}, port}; }

// Lets another thread get into its blocking call first (a thread test: real time is the point).
void pause_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds{ms}); }

Duration since(Instant t0) { return SteadyClock{}.now() - t0; }

class ThreadedPair {
 public:
  ThreadedPair()
      : links_{ThreadLink::pair(8192)},
        a{*links_.first, pair_config(kAddrA, 0x0a, 11)},
        b{*links_.second, pair_config(kAddrB, 0x0b, 12)} {
    a.start();
    b.start();
  }
  ~ThreadedPair() {
    a.stop();
    b.stop();
  }

 private:
  std::pair<std::unique_ptr<ThreadLink>, std::unique_ptr<ThreadLink>> links_;

 public:
  Runtime a, b;
};

class SocketThreads : public ::testing::Test {
 protected:
  struct Conn {
    socket listener, client, server;
  };
  Conn connected(std::uint16_t port) {
    socket l{net.b};
    l.bind(at_b(port));
    l.listen();
    socket c{net.a};
    c.connect(at_b(port));
    auto [srv, peer] = l.accept();
    return Conn{std::move(l), std::move(c), std::move(srv)};
  }
  ThreadedPair net;
};

TEST_F(SocketThreads, BlockedRecv_WakesOnData) {
  Conn k = connected(7001);
  std::string got;
  std::thread reader([&] { got = to_string(k.server.recv(100)); });
  pause_ms(20);
  k.client.sendall("wake up");
  reader.join();
  EXPECT_EQ(got, "wake up");
}

TEST_F(SocketThreads, BlockedRecv_WakesOnCloseFromAnotherThread_Ebadf) {
  Conn k = connected(7002);
  int err = 0;
  std::thread reader([&] { err = errno_of([&] { k.server.recv(100); }); });
  pause_ms(20);
  k.server.close();
  reader.join();
  EXPECT_EQ(err, EBADF);
}

TEST_F(SocketThreads, BlockedRecv_WakesOnPeerClose_Eof) {
  Conn k = connected(7003);
  std::optional<Buffer> got;
  std::thread reader([&] { got = k.server.recv(100); });
  pause_ms(20);
  k.client.close();
  reader.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->empty());
}

TEST_F(SocketThreads, BlockedRecv_Timeout100ms_Etimedout) {
  Conn k = connected(7004);
  k.server.settimeout(0.1);
  const Instant t0 = SteadyClock{}.now();
  EXPECT_EQ(errno_of([&] { k.server.recv(100); }), ETIMEDOUT);
  const Duration took = since(t0);
  EXPECT_GE(took, milliseconds{100});
  EXPECT_LT(took, milliseconds{600}) << "woke late: " << took.count() << " us";
}

TEST_F(SocketThreads, BlockedAccept_WakesOnConnection) {
  socket l{net.b};
  l.bind(at_b(7005));
  l.listen();
  std::optional<SockAddr> peer;
  std::thread acceptor([&] {
    auto r = l.accept();
    peer = r.second;
  });
  pause_ms(20);
  socket c{net.a};
  c.connect(at_b(7005));
  acceptor.join();
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(*peer, c.getsockname());
}

TEST_F(SocketThreads, ConnectRefused_Econnrefused) {
  socket c{net.a};
  EXPECT_EQ(errno_of([&] { c.connect(at_b(7006)); }), ECONNREFUSED);
}

TEST_F(SocketThreads, Poll_WakesOnDataFromAnotherThread) {
  Conn k = connected(7007);
  poll p;
  p.register_(k.server, POLLIN);
  std::thread writer([&] {
    pause_ms(20);
    k.client.sendall("ping");
  });
  const poll::Result r = p.poll_(5000);
  writer.join();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].second, POLLIN);
  EXPECT_EQ(to_string(k.server.recv(10)), "ping");
  const Instant t0 = SteadyClock{}.now();
  EXPECT_TRUE(p.poll_(50).empty());
  EXPECT_GE(since(t0), milliseconds{50});
}

TEST_F(SocketThreads, StoppedRuntime_Enetdown) {
  Conn k = connected(7008);
  int err = 0;
  std::thread reader([&] { err = errno_of([&] { k.server.recv(100); }); });
  pause_ms(20);
  net.b.stop();  // a caller blocked in the stopped runtime's socket is released
  reader.join();
  EXPECT_EQ(err, ENETDOWN);
  EXPECT_EQ(errno_of([&] { socket s{net.b}; s.bind(at_b(7009)); }), ENETDOWN);
}

TEST_F(SocketThreads, Sendall_FourMiBThroughA4KiBSndbuf_WhileThePeerReads) {
  socket l{net.b};
  l.bind(at_b(7010));
  l.listen();
  socket c{net.a};
  c.setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  c.connect(at_b(7010));
  auto [srv, peer] = l.accept();
  std::vector<std::byte> data(4u << 20);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte((i * 131) ^ (i >> 12));
  std::vector<std::byte> got;
  std::thread reader([&] {
    std::vector<std::byte> buf(65536);
    for (;;) {
      const std::size_t n = srv.recv_into(buf);
      if (n == 0) break;
      got.insert(got.end(), buf.begin(), buf.begin() + long(n));
    }
  });
  c.sendall(data);
  c.close();
  reader.join();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

// ---- 64 connections x 4 MiB --------------------------------------------------------------------------------

std::size_t transfer_bytes() {
  const char* env = std::getenv("TAPSTACK_SOCKET_BYTES");
  std::size_t v = 4u << 20;
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    v = std::strtoull(env, &end, 10);
    if (end != nullptr && (*end == 'K' || *end == 'k')) v <<= 10;
    if (end != nullptr && (*end == 'M' || *end == 'm')) v <<= 20;
  }
  return v;
}

// A reproducible byte stream per connection (xorshift64) and FNV-1a over it.
class Stream {
 public:
  explicit Stream(std::uint64_t seed) : s_{seed * 0x9e3779b97f4a7c15ull | 1} {}
  void fill(MutableBytes out) noexcept {
    for (std::byte& b : out) {
      if (left_ == 0) {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        word_ = s_;
        left_ = 8;
      }
      b = std::byte(word_ & 0xff);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  std::uint64_t s_, word_ = 0;
  int left_ = 0;
};

struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(Bytes b) noexcept {
    for (const std::byte x : b) {
      h ^= std::uint64_t(x);
      h *= 0x100000001b3ull;
    }
  }
};

std::uint64_t expected_hash(std::uint32_t index, std::size_t bytes) {
  Stream s{index + 1};
  Fnv1a f;
  std::vector<std::byte> chunk(64 * 1024);
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = std::min(chunk.size(), bytes - done);
    s.fill(MutableBytes{chunk}.first(n));
    f.add(Bytes{chunk}.first(n));
    done += n;
  }
  return f.h;
}

TEST_F(SocketThreads, SixtyFourConnections_FourMiBEach_ByteIdentical) {
  constexpr std::uint32_t kConns = 64;
  constexpr std::uint16_t kPort = 7100;
  const std::size_t bytes = transfer_bytes();
  const Instant t0 = SteadyClock{}.now();

  struct Result {
    std::uint32_t index = ~0u;
    std::size_t bytes = 0;
    std::uint64_t hash = 0;
    int error = 0;
  };
  std::vector<Result> results(kConns);
  std::atomic<int> client_errors{0};

  socket l{net.b};
  l.bind(at_b(kPort));
  l.listen(int(kConns));

  // Server: one acceptor, then one receiver thread per connection (reads to EOF, hashing).
  std::vector<std::thread> receivers;
  std::mutex receivers_mu;
  std::thread acceptor([&] {
    for (std::uint32_t i = 0; i < kConns; ++i) {
      std::error_code ec;
      auto r = l.accept(ec);
      if (!r) {
        results[i].error = ec.value();
        continue;
      }
      auto conn = std::make_shared<socket>(std::move(r->first));
      std::lock_guard lock{receivers_mu};
      receivers.emplace_back([&results, i, conn] {
        Result& out = results[i];
        std::array<std::byte, 4> head{};
        std::size_t got = 0;
        std::error_code ec;
        while (got < head.size()) {
          const std::size_t n = conn->recv_into(MutableBytes{head}.subspan(got), 0, ec);
          if (ec || n == 0) {
            out.error = ec ? ec.value() : -1;
            return;
          }
          got += n;
        }
        out.index = std::uint32_t(head[0]) | std::uint32_t(head[1]) << 8 | std::uint32_t(head[2]) << 16 |
                    std::uint32_t(head[3]) << 24;
        Fnv1a f;
        std::vector<std::byte> buf(64 * 1024);
        for (;;) {
          const std::size_t n = conn->recv_into(buf, 0, ec);
          if (ec) {
            out.error = ec.value();
            return;
          }
          if (n == 0) break;
          f.add(Bytes{buf}.first(n));
          out.bytes += n;
        }
        out.hash = f.h;
      });
    }
  });

  // Clients: one application thread per connection on the other runtime.
  std::vector<std::thread> clients;
  for (std::uint32_t i = 0; i < kConns; ++i) {
    clients.emplace_back([&, i] {
      try {
        socket c{net.a};
        c.connect(at_b(kPort));
        const std::array<std::byte, 4> head{std::byte(i), std::byte(i >> 8), std::byte(i >> 16), std::byte(i >> 24)};
        c.sendall(head);
        Stream s{i + 1};
        std::vector<std::byte> chunk(64 * 1024);
        for (std::size_t done = 0; done < bytes;) {
          const std::size_t n = std::min(chunk.size(), bytes - done);
          s.fill(MutableBytes{chunk}.first(n));
          c.sendall(Bytes{chunk}.first(n));
          done += n;
        }
        c.close();
      } catch (const OSError& e) {
        ADD_FAILURE() << "client " << i << ": " << e.what();
        ++client_errors;
      }
    });
  }
  for (auto& t : clients) t.join();
  acceptor.join();
  {
    std::lock_guard lock{receivers_mu};
    for (auto& t : receivers) t.join();
  }
  const Duration took = since(t0);

  EXPECT_EQ(client_errors.load(), 0);
  std::vector<bool> seen(kConns, false);
  for (std::uint32_t i = 0; i < kConns; ++i) {
    const Result& r = results[i];
    ASSERT_EQ(r.error, 0) << "connection " << i;
    ASSERT_LT(r.index, kConns);
    EXPECT_FALSE(seen[r.index]) << "index " << r.index << " twice";
    seen[r.index] = true;
    EXPECT_EQ(r.bytes, bytes) << "connection " << r.index;
    EXPECT_EQ(r.hash, expected_hash(r.index, bytes)) << "connection " << r.index;
  }
  // Bounded: far above the time it takes (a few seconds; more under ThreadSanitizer).
  EXPECT_LT(took, seconds{300});
  std::printf("64 x %zu bytes in %.3f s\n", bytes, double(took.count()) / 1e6);
}

}  // namespace
}  // namespace tapstack::socket
