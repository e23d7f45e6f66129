// Ethernet + IPv4 + UDP: the cost of parsing a received frame (views, header checksum, UDP checksum) and of
// emitting one (headers and both checksums), in ns per packet; and the whole receive path of the stack
// (ip::Interface -> udp::UdpLayer -> a socket's queue -> the application's buffer) per datagram.
#include <benchmark/benchmark.h>

#include <vector>

#include "ip/ethernet.hpp"
#include "ip/interface.hpp"
#include "ip/ipv4.hpp"
#include "stack/memory_link.hpp"
#include "stack/random.hpp"
#include "udp/layer.hpp"
#include "udp/wire.hpp"

namespace {

using namespace tapstack;

const ip::MacAddress kOurMac{{0x02, 0, 0, 0, 0, 2}}, kPeerMac{{0x02, 0, 0, 0, 0, 1}};
const ip::Ipv4Address kOurIp{{192, 0, 2, 2}}, kPeerIp{{192, 0, 2, 1}};

// Writes a complete frame from the peer to us carrying `payload_len` UDP bytes to port 7.
std::vector<std::byte> make_frame(std::size_t payload_len) {
  std::vector<std::byte> payload(payload_len);
  for (std::size_t i = 0; i < payload_len; ++i) payload[i] = std::byte(i * 7);
  udp::Repr u{40000, 7, payload};
  ip::Ipv4Repr h;
  h.src = kPeerIp;
  h.dst = kOurIp;
  h.protocol = std::uint8_t(ip::IpProtocol::kUdp);
  h.ident = 1;
  h.payload_len = u.buffer_len();
  std::vector<std::byte> f(ip::kEthernetHeaderLen + h.buffer_len());
  ip::emit_ethernet_header(f, kOurMac, kPeerMac, ip::EtherType::kIpv4);
  auto ipb = std::span{f}.subspan(ip::kEthernetHeaderLen);
  h.emit(ipb);
  u.emit(ipb.subspan(ip::kIpv4MinHeaderLen), h.pseudo_header());
  return f;
}

void BM_ParseEthIpv4Udp(benchmark::State& state) {
  const auto frame = make_frame(std::size_t(state.range(0)));
  for (auto _ : state) {
    auto eth = ip::EthernetView::parse(Bytes{frame});
    auto ipv = ip::Ipv4View::parse(eth->payload());
    auto iprepr = ip::Ipv4Repr::parse(*ipv);
    auto uv = udp::View::parse(ipv->payload());
    auto ur = udp::Repr::parse(*uv, iprepr.pseudo_header());
    if (!ur) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(ur->payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(std::int64_t(state.iterations() * frame.size()));
}
BENCHMARK(BM_ParseEthIpv4Udp)->Arg(64)->Arg(1472);

void BM_EmitEthIpv4Udp(benchmark::State& state) {
  std::vector<std::byte> payload(std::size_t(state.range(0)), std::byte{0x5a});
  std::vector<std::byte> out(ip::kEthernetHeaderLen + ip::kIpv4MinHeaderLen + udp::kHeaderLen + payload.size());
  std::uint16_t ident = 0;
  for (auto _ : state) {
    udp::Repr u{40000, 7, payload};
    ip::Ipv4Repr h;
    h.src = kOurIp;
    h.dst = kPeerIp;
    h.protocol = std::uint8_t(ip::IpProtocol::kUdp);
    h.ident = ++ident;
    h.payload_len = u.buffer_len();
    ip::emit_ethernet_header(out, kPeerMac, kOurMac, ip::EtherType::kIpv4);
    auto ipb = std::span{out}.subspan(ip::kEthernetHeaderLen);
    h.emit(ipb);
    u.emit(ipb.subspan(ip::kIpv4MinHeaderLen), h.pseudo_header());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(std::int64_t(state.iterations() * out.size()));
}
BENCHMARK(BM_EmitEthIpv4Udp)->Arg(64)->Arg(1472);

// The stack's receive path per datagram: Interface::on_frame (Ethernet, IPv4 checks) -> UdpLayer (checksum,
// demux, copy into the socket's queue) -> UdpSocket::recv into the application's buffer.
void BM_StackReceiveUdp(benchmark::State& state) {
  const auto frame = make_frame(std::size_t(state.range(0)));
  auto [ours, peer] = MemoryLink::pair();
  SeededRng rng{1};
  ip::Interface iface{*ours, {.mac = kOurMac, .ipv4 = ip::Ipv4Cidr{kOurIp, 24}}, rng};
  udp::UdpLayer udpl{rng};
  iface.register_transport(ip::IpProtocol::kUdp, udpl);
  const auto h = udpl.open();
  auto& sock = udpl.socket(h);
  if (sock.bind({ip::Ipv4Address{}, 7})) state.SkipWithError("bind failed");
  std::vector<std::byte> buf(65536);
  Instant now;
  for (auto _ : state) {
    iface.on_frame(now, frame);
    auto r = sock.recv(buf);
    if (!r) state.SkipWithError("no datagram");
    benchmark::DoNotOptimize(r->size);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(std::int64_t(state.iterations() * frame.size()));
}
BENCHMARK(BM_StackReceiveUdp)->Arg(64)->Arg(1472);

}  // namespace

BENCHMARK_MAIN();
