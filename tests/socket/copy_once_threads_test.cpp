// Copy-once with real threads (suite `threads`, run under TSan): application threads write and read the
// connections' own buffers while the stack loops run them, with small rings that wrap and fill, random chunk
// sizes, MSG_PEEK, close while the connection still drains, and resets while a reader holds the ring; and the
// loops sleep (no spinning) while connected sockets are idle.
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "manual_pair.hpp"
#include "socket/socket.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "thread_link.hpp"

namespace tapstack::socket {
namespace {

using testing::kAddrA;
using testing::kAddrB;
using testing::pair_config;
using testing::ThreadLink;

SockAddr at_b(std::uint16_t port) { return SockAddr{ip::IpAddress{kAddrB}, port}; }

std::vector<std::byte> make_data(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> d(n);
  SeededRng rng{seed};
  for (std::size_t i = 0; i < n; i += 4) {
    const std::uint32_t v = rng.next_u32();
    for (std::size_t j = 0; j < 4 && i + j < n; ++j) d[i + j] = std::byte((v >> (8 * j)) & 0xff);
  }
  return d;
}

Duration process_cpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return microseconds{std::int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000};
}

class CopyOnceThreads : public ::testing::Test {
 protected:
  CopyOnceThreads()
      : links_{ThreadLink::pair(8192)},
        a{*links_.first, pair_config(kAddrA, 0x0a, 21)},
        b{*links_.second, pair_config(kAddrB, 0x0b, 22)} {
    a.start();
    b.start();
  }
  ~CopyOnceThreads() override {
    a.stop();
    b.stop();
  }

  std::pair<std::unique_ptr<ThreadLink>, std::unique_ptr<ThreadLink>> links_;
  Runtime a, b;
};

// The sender writes random-sized chunks into a 4 KiB send buffer and closes (and drops) its socket the moment
// the last byte is queued; the receiver reads random sizes out of a 4 KiB receive buffer, peeking now and then.
// Every byte arrives, in order, then EOF; the sender's connection drained a ring its socket no longer holds.
TEST_F(CopyOnceThreads, RandomChunksThroughSmallRings_CloseWhileDraining_ByteIdentical) {
  constexpr std::size_t kBytes = 3u << 20;
  const std::vector<std::byte> data = make_data(kBytes, 7);
  socket l{b};
  l.bind(at_b(7101));
  l.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096);
  l.listen();
  auto c = std::make_unique<socket>(a);
  c->setsockopt(SOL_SOCKET, SO_SNDBUF, 4096);
  c->connect(at_b(7101));
  auto [srv, peer] = l.accept();

  std::thread writer([&] {
    SeededRng rng{1};
    std::size_t off = 0;
    while (off < data.size()) {
      const std::size_t want = std::min<std::size_t>(1 + rng.uniform(9000), data.size() - off);
      off += c->send(Bytes{data}.subspan(off, want));
    }
    c->close();
    c.reset();  // the SocketImpl and, once the loop let go of it, the SocketCore are freed now
  });
  std::vector<std::byte> got;
  got.reserve(kBytes);
  SeededRng rng{2};
  std::vector<std::byte> buf(10000);
  std::size_t peeks_checked = 0;
  for (;;) {
    const std::size_t want = 1 + rng.uniform(std::uint32_t(buf.size()));
    if (rng.uniform(8) == 0) {
      const std::size_t n = srv.recv_into(MutableBytes{buf}.first(want), MSG_PEEK);
      if (n == 0) break;
      ASSERT_LE(got.size() + n, data.size());
      ASSERT_TRUE(std::equal(buf.begin(), buf.begin() + long(n), data.begin() + long(got.size())));
      ++peeks_checked;
      continue;
    }
    const std::size_t n = srv.recv_into(MutableBytes{buf}.first(want));
    if (n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + long(n));
  }
  writer.join();
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  EXPECT_GT(peeks_checked, 0u);
}

// A reader that read every byte and sleeps on the empty ring while the peer resets: it wakes with ECONNRESET.
TEST_F(CopyOnceThreads, ResetWhileTheReaderWaits_DataThenEconnreset) {
  socket l{b};
  l.bind(at_b(7102));
  l.listen();
  socket c{a};
  c.connect(at_b(7102));
  auto [srv, peer] = l.accept();
  std::vector<std::byte> got;
  std::atomic<std::size_t> received{0};
  int err = 0;
  std::thread reader([&] {
    std::vector<std::byte> buf(4096);
    for (;;) {
      std::error_code ec;
      const std::size_t n = srv.recv_into(buf, 0, ec);
      if (ec) {
        err = ec.value();
        return;
      }
      if (n == 0) return;
      got.insert(got.end(), buf.begin(), buf.begin() + long(n));
      received.store(got.size());
    }
  });
  const std::vector<std::byte> data = make_data(100000, 9);
  c.sendall(data);
  Buffer linger(8);
  const std::int32_t on = 1, secs = 0;
  std::memcpy(linger.data(), &on, 4);
  std::memcpy(linger.data() + 4, &secs, 4);
  // Wait (bounded) until the reader has every byte and sleeps on the empty ring again; then the RST.
  for (int i = 0; i < 5000 && received.load() < data.size(); ++i) std::this_thread::sleep_for(milliseconds{1});
  ASSERT_EQ(received.load(), data.size());
  std::this_thread::sleep_for(milliseconds{20});
  c.setsockopt(SOL_SOCKET, SO_LINGER, linger);
  c.close();
  reader.join();
  EXPECT_EQ(err, ECONNRESET);
  EXPECT_TRUE(got == data);
}

// Readers of full-sized segments are woken in batches (Runtime::sync_tcp): at once only for a short segment, the
// end of a peer's write, or an eighth of the ring. A write of exactly four full segments, far below an eighth,
// still wakes the blocked reader, on the loop iteration after the burst, not when its 10 s timeout expires
// (a timed-out wait looks at the ring once more, so the bytes would arrive either way: the time tells); and no
// short segment carried it.
TEST_F(CopyOnceThreads, FullSegmentsBelowTheBatch_WakeTheReaderWhenTheBurstEnds) {
  socket l{b};
  l.bind(at_b(7104));
  l.setsockopt(SOL_SOCKET, SO_RCVBUF, 1 << 20);
  l.listen();
  socket c{a};
  c.connect(at_b(7104));
  auto [srv, peer] = l.accept();
  constexpr std::size_t kMss = 1500 - 20 - 20 - 12;  // MTU 1500, IPv4, timestamps (checked below)
  const std::vector<std::byte> data = make_data(4 * kMss, 11);
  ASSERT_LT(data.size(), b.tcp_internals(srv).rx->capacity() / 8);
  std::vector<std::byte> got;
  std::error_code err;
  std::atomic<bool> reading{false};
  std::thread reader([&] {
    srv.settimeout(10.0);
    std::vector<std::byte> buf(data.size());
    reading.store(true);
    while (got.size() < data.size()) {
      const std::size_t n = srv.recv_into(buf, 0, err);
      if (err || n == 0) return;
      got.insert(got.end(), buf.begin(), buf.begin() + long(n));
    }
  });
  while (!reading.load()) std::this_thread::yield();
  std::this_thread::sleep_for(milliseconds{50});  // the reader is asleep on the empty ring
  const auto t0 = std::chrono::steady_clock::now();
  c.sendall(data);
  reader.join();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_FALSE(err) << err.message();
  EXPECT_TRUE(got == data);
  EXPECT_LT(waited, std::chrono::seconds{3});
  // The loops are stopped (joined) before their connections are looked at from this thread.
  a.stop();
  b.stop();
  EXPECT_EQ(a.tcp_internals(c).conn->send_mss(), kMss);
  EXPECT_EQ(b.tcp_internals(srv).conn->short_segments_received(), 0u);
}

// Connected and idle, with a reader blocked in recv (timeout 1 s): the two loops sleep in ppoll on their link's
// and their wake-up eventfds instead of spinning over the shared rings.
TEST_F(CopyOnceThreads, IdleConnection_LoopsSleep) {
  socket l{b};
  l.bind(at_b(7103));
  l.listen();
  socket c{a};
  c.connect(at_b(7103));
  auto [srv, peer] = l.accept();
  c.sendall(as_bytes("warm up"));
  EXPECT_EQ(to_string(srv.recv(100)), "warm up");
  std::atomic<bool> done{false};
  std::thread reader([&] {
    srv.settimeout(1.0);
    std::error_code ec;
    srv.recv(100, 0, ec);  // times out: nothing is sent
    done.store(true);
  });
  std::this_thread::sleep_for(milliseconds{100});  // delayed ACKs and the like settle
  const Duration cpu0 = process_cpu();
  std::this_thread::sleep_for(milliseconds{500});
  const Duration used = process_cpu() - cpu0;
  reader.join();
  EXPECT_TRUE(done.load());
  EXPECT_LT(used, milliseconds{100}) << "CPU over 500 ms of idle: " << used.count() << " us";
}

}  // namespace
}  // namespace tapstack::socket
