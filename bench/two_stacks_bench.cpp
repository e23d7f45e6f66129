// Two complete stacks (ip::Interface + tcp::TcpLayer each) back to back over a MemoryLink pair, one thread, a
// virtual clock: the payload throughput of one bulk TCP transfer with no kernel and no TAP (bytes/s of wall time).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ip/interface.hpp"
#include "stack/memory_link.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/layer.hpp"

namespace {

using namespace tapstack;

constexpr ip::Ipv4Address kAddrA{{192, 0, 2, 1}};
constexpr ip::Ipv4Address kAddrB{{192, 0, 2, 2}};
constexpr ip::Ipv6Address kAddr6A{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
constexpr ip::Ipv6Address kAddr6B{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

// Both families configured (2001:db8::/64 static, without DAD, which a cable to a twin cannot need); the
// transfer runs over `v6` or IPv4.
ip::InterfaceConfig iface_config(ip::Ipv4Address addr, const ip::Ipv6Address& addr6, std::uint8_t mac_last) {
  ip::InterfaceConfig c;
  c.mac = ip::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, mac_last}};
  c.ipv4 = ip::Ipv4Cidr{addr, 24};
  c.ipv6_addresses = {ip::Ipv6Cidr{addr6, 64}};
  c.dad_transmits = 0;
  return c;
}

// A -> B: A connects to B's listener, writes `size` bytes from a fixed pattern, closes; B reads everything.
struct Pair {
  static tcp::LayerConfig layer_config(std::size_t buffer) {
    tcp::LayerConfig c;
    c.connection.send_buffer = c.connection.recv_buffer = buffer;
    return c;
  }
  Pair(std::size_t mtu, std::size_t buffer)
      : links{MemoryLink::pair(MemoryLink::Options{mtu, 8192})},
        rng_a{11},
        rng_b{12},
        iface_a{*links.first, iface_config(kAddrA, kAddr6A, 0x0a), rng_a},
        iface_b{*links.second, iface_config(kAddrB, kAddr6B, 0x0b), rng_b},
        tcp_a{rng_a, layer_config(buffer), &iface_a},
        tcp_b{rng_b, layer_config(buffer), &iface_b} {
    iface_a.register_transport(ip::IpProtocol::kTcp, tcp_a);
    iface_b.register_transport(ip::IpProtocol::kTcp, tcp_b);
  }
  std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> links;
  SeededRng rng_a, rng_b;
  ip::Interface iface_a, iface_b;
  tcp::TcpLayer tcp_a, tcp_b;
};

// Returns an error text, or nullopt when all `size` bytes arrived and the stream ended.
std::optional<std::string> transfer(Pair& p, std::size_t size, bool v6, std::uint64_t& segments) {
  ManualClock clock{Instant::from_millis(1000)};
  const ip::IpAddress server_addr = v6 ? ip::IpAddress{kAddr6B} : ip::IpAddress{kAddrB};
  const auto l = p.tcp_b.listen({server_addr, 5001}, 4);
  if (!l) return "listen: " + l.error().message();
  if (v6) {  // the static addresses become usable once the interfaces started (no DAD): a few idle polls
    for (int i = 0; i < 100 && !p.iface_a.ipv6().is_local(kAddr6A); ++i) {
      p.iface_a.poll(clock.now());
      p.iface_b.poll(clock.now());
      clock.advance(milliseconds{100});
    }
  }
  const auto client = p.tcp_a.connect(clock.now(), {server_addr, 5001});
  if (!client) return "connect: " + client.error().message();
  std::optional<tcp::ConnHandle> server;
  std::vector<std::byte> pattern(1 << 20), rx(1 << 20);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = std::byte(i * 131 + 7);
  std::size_t sent = 0, received = 0;
  bool closed = false;
  for (std::uint64_t round = 0; round < 100'000'000; ++round) {
    const Instant now = clock.now();
    const std::size_t frames = p.iface_a.poll(now) + p.iface_b.poll(now);
    if (!closed) {
      const tcp::Connection* c = p.tcp_a.find(*client);
      if (c == nullptr || c->is_closed()) return "sender closed early";
      if (c->send_free() > 0 && tcp::is_synchronized(c->state())) {
        tcp::Connection* w = p.tcp_a.connection(*client);
        while (sent < size) {
          const std::size_t off = sent % pattern.size();
          const std::size_t n = w->send(Bytes{pattern}.subspan(off, std::min(pattern.size() - off, size - sent)));
          if (n == 0) break;
          sent += n;
        }
        if (sent == size) {
          p.tcp_a.close(now, *client);
          closed = true;
        }
      }
    }
    if (!server) server = p.tcp_b.accept(*l);
    if (server) {
      const tcp::Connection* c = p.tcp_b.find(*server);
      if (c == nullptr) return "receiver vanished";
      if (c->can_recv()) {
        tcp::Connection* r = p.tcp_b.connection(*server);
        while (const std::size_t n = r->recv(rx)) received += n;
      }
      if (c->recv_finished()) {
        segments = c->stats().segs_in;
        if (received != size) return "stream ended after " + std::to_string(received) + " bytes";
        return std::nullopt;
      }
    }
    // Idle at this instant: jump the virtual clock to the next timer (delayed ACK, RTO, TIME-WAIT...).
    if (frames == 0 && p.links.first->pending() == 0 && p.links.second->pending() == 0) {
      std::optional<Instant> next = p.iface_a.poll_at();
      const std::optional<Instant> nb = p.iface_b.poll_at();
      if (!next || (nb && *nb < *next)) next = nb;
      if (!next) return "quiescent after " + std::to_string(received) + " bytes";
      if (*next > now) clock.set(*next);
    }
  }
  return "round limit";
}

// Arg 0: bytes per transfer; arg 1: link MTU (1500, or 9000 for jumbo frames); arg 2: send and receive buffer
// in KiB (4096 is the ConnectionConfig default). BM_TwoStacksBulk runs over IPv4, BM_TwoStacksBulk6 over IPv6.
void two_stacks_bulk(benchmark::State& state, bool v6) {
  const std::size_t size = std::size_t(state.range(0));
  const std::size_t mtu = std::size_t(state.range(1));
  const std::size_t buffer = std::size_t(state.range(2)) << 10;
  std::uint64_t segments = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto p = std::make_unique<Pair>(mtu, buffer);
    state.ResumeTiming();
    if (const auto err = transfer(*p, size, v6, segments)) {
      state.SkipWithError(err->c_str());
      return;
    }
    state.PauseTiming();
    p.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(std::int64_t(state.iterations() * size));
  state.counters["Gbit/s"] =
      benchmark::Counter(double(size) * 8 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["segments"] = double(segments);
}
void BM_TwoStacksBulk(benchmark::State& state) { two_stacks_bulk(state, false); }
void BM_TwoStacksBulk6(benchmark::State& state) { two_stacks_bulk(state, true); }
BENCHMARK(BM_TwoStacksBulk)
    ->Args({std::int64_t{64} << 20, 1500, 4096})  // a quick one, for profilers
    ->Args({std::int64_t{1} << 30, 1500, 4096})   // the headline: default buffers, MTU 1500
    ->Args({std::int64_t{1} << 30, 1500, 512})    // buffers that stay in L2
    ->Args({std::int64_t{1} << 30, 9000, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);
BENCHMARK(BM_TwoStacksBulk6)
    ->Args({std::int64_t{64} << 20, 1500, 4096})
    ->Args({std::int64_t{1} << 30, 1500, 4096})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
