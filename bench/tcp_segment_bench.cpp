// TCP per-segment costs in ns: the wire format alone (Repr parse with checksum, Repr emit with checksum), and
// whole-stack paths on an established connection between two stacks over a MemoryLink pair: receiving one data
// segment (Ethernet -> IPv4 -> TcpLayer demux -> Connection -> receive ring -> application read, ACKs included)
// and sending one (application write -> Connection::poll_transmit -> TcpLayer -> IPv4 -> Ethernet -> link).
#include <benchmark/benchmark.h>

#include <memory>
#include <optional>
#include <vector>

#include "ip/interface.hpp"
#include "stack/memory_link.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/layer.hpp"
#include "tcp/wire.hpp"

namespace {

using namespace tapstack;

constexpr ip::Ipv4Address kAddrA{{192, 0, 2, 1}};
constexpr ip::Ipv4Address kAddrB{{192, 0, 2, 2}};

ip::PseudoHeader pseudo() { return ip::PseudoHeader{kAddrA, kAddrB, 6, 0}; }

// A full-sized data segment as Linux sends it on an established connection: ACK, PSH, timestamps.
tcp::Repr data_segment(Bytes payload) {
  tcp::Repr r;
  r.src_port = 40000;
  r.dst_port = 5001;
  r.control = tcp::Control::kPsh;
  r.seq = tcp::SeqNum{0x12345678};
  r.ack = tcp::SeqNum{0x9abcdef0};
  r.window = 0x2000;
  r.timestamps = tcp::Timestamps{123456, 654321};
  r.payload = payload;
  return r;
}

void BM_TcpParse(benchmark::State& state) {
  std::vector<std::byte> payload(std::size_t(state.range(0)), std::byte{0x5a});
  const tcp::Repr r = data_segment(payload);
  std::vector<std::byte> seg(r.buffer_len());
  r.emit(seg, pseudo());
  for (auto _ : state) {
    const auto v = tcp::View::parse(Bytes{seg});
    const auto p = tcp::Repr::parse(*v, pseudo());
    if (!p) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(p->payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(std::int64_t(state.iterations() * seg.size()));
}
BENCHMARK(BM_TcpParse)->Arg(0)->Arg(1448);

void BM_TcpBuild(benchmark::State& state) {
  std::vector<std::byte> payload(std::size_t(state.range(0)), std::byte{0x5a});
  tcp::Repr r = data_segment(payload);
  std::vector<std::byte> seg(r.buffer_len());
  std::uint32_t seq = 0;
  for (auto _ : state) {
    r.seq = tcp::SeqNum{seq++};
    r.emit(seg, pseudo());
    benchmark::DoNotOptimize(seg.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(std::int64_t(state.iterations() * seg.size()));
}
BENCHMARK(BM_TcpBuild)->Arg(0)->Arg(1448);

ip::InterfaceConfig iface_config(ip::Ipv4Address addr, std::uint8_t mac_last) {
  ip::InterfaceConfig c;
  c.mac = ip::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, mac_last}};
  c.ipv4 = ip::Ipv4Cidr{addr, 24};
  return c;
}

// Two stacks with one established connection A -> B; the clock stays still (no timers fire).
struct Established {
  Established()
      : links{MemoryLink::pair(MemoryLink::Options{1500, 1 << 16})},
        rng_a{1},
        rng_b{2},
        iface_a{*links.first, iface_config(kAddrA, 0x0a), rng_a},
        iface_b{*links.second, iface_config(kAddrB, 0x0b), rng_b},
        tcp_a{rng_a, {}, &iface_a},
        tcp_b{rng_b, {}, &iface_b},
        pattern(1 << 20),
        rx(1 << 20) {
    iface_a.register_transport(ip::IpProtocol::kTcp, tcp_a);
    iface_b.register_transport(ip::IpProtocol::kTcp, tcp_b);
    const auto l = tcp_b.listen({kAddrB, 5001}, 1);
    client = *tcp_a.connect(now, {kAddrB, 5001});
    for (int i = 0; i < 16 && !server; ++i) {
      iface_a.poll(now);
      iface_b.poll(now);
      server = tcp_b.accept(*l);
    }
    iface_a.poll(now);  // the final ACK
    iface_b.poll(now);
  }
  bool ok() const { return server.has_value(); }
  // Queues up to `n` bytes at A (as much as its send buffer takes).
  void app_send(std::size_t n) {
    tcp::Connection* c = tcp_a.connection(client);
    while (n > 0) {
      const std::size_t off = sent % pattern.size();
      const std::size_t k = c->send(Bytes{pattern}.subspan(off, std::min(pattern.size() - off, n)));
      if (k == 0) break;
      sent += k;
      n -= k;
    }
  }
  void app_recv() {
    tcp::Connection* c = tcp_b.connection(*server);
    while (c->recv(rx) != 0) {
    }
  }

  Instant now = Instant::from_millis(1000);
  std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> links;
  SeededRng rng_a, rng_b;
  ip::Interface iface_a, iface_b;
  tcp::TcpLayer tcp_a, tcp_b;
  tcp::ConnHandle client{};
  std::optional<tcp::ConnHandle> server;
  std::vector<std::byte> pattern, rx;
  std::size_t sent = 0;
};

// Receiver: B takes a batch of 64 full-sized segments from its link (one poll: parse, demux, ring copy, one
// stretch ACK) and the application reads them. A produced the batch with the clock paused.
void BM_TcpReceivePath(benchmark::State& state) {
  Established e;
  if (!e.ok()) {
    state.SkipWithError("handshake failed");
    return;
  }
  std::uint64_t segments = 0;
  for (auto _ : state) {
    state.PauseTiming();
    e.iface_a.poll(e.now);  // ACKs from B
    e.app_send(64 * 1448);
    e.iface_a.poll(e.now);
    const std::size_t batch = e.links.second->pending();
    state.ResumeTiming();
    while (e.links.second->pending() != 0) e.iface_b.poll(e.now);
    e.app_recv();
    segments += batch;
  }
  state.SetItemsProcessed(std::int64_t(segments));
  state.SetBytesProcessed(std::int64_t(segments * 1448));
  // The Time column is per iteration (a batch); this is per segment.
  state.counters["time_per_segment"] =
      benchmark::Counter(double(segments), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TcpReceivePath);

// Sender: A refills its send buffer and emits what the windows allow (segments_per_poll per poll), after
// processing B's ACKs; B's receive work runs with the clock paused.
void BM_TcpSendPath(benchmark::State& state) {
  Established e;
  if (!e.ok()) {
    state.SkipWithError("handshake failed");
    return;
  }
  std::uint64_t segments = 0;
  for (auto _ : state) {
    state.PauseTiming();
    while (e.links.second->pending() != 0) e.iface_b.poll(e.now);
    e.app_recv();
    e.iface_b.poll(e.now);  // the window update
    const std::uint64_t before = e.links.first->counters().tx_frames;
    state.ResumeTiming();
    e.app_send(1 << 20);
    e.iface_a.poll(e.now);
    state.PauseTiming();
    segments += e.links.first->counters().tx_frames - before;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(std::int64_t(segments));
  state.SetBytesProcessed(std::int64_t(segments * 1448));
  // The Time column is per iteration (a batch); this is per segment.
  state.counters["time_per_segment"] =
      benchmark::Counter(double(segments), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_TcpSendPath);

}  // namespace

BENCHMARK_MAIN();
