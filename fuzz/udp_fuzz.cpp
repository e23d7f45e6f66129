// libFuzzer target for udp/wire: arbitrary bytes as a UDP datagram under fixed IPv4 and IPv6 pseudo-headers.
// Whatever parses must emit and re-parse to the same Repr with a verifying checksum; nothing may crash.
// The same bytes then go through UdpLayer::on_packet (demux, receive queues) and on_icmp_error.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "stack/random.hpp"
#include "udp/layer.hpp"
#include "udp/wire.hpp"

namespace {

using tapstack::udp::ParseError;
using tapstack::udp::Repr;
using tapstack::udp::View;

const tapstack::ip::PseudoHeader kV4{tapstack::ip::Ipv4Address{{198, 51, 100, 7}},
                                     tapstack::ip::Ipv4Address{{192, 0, 2, 1}}, 17, 0};
const tapstack::ip::PseudoHeader kV6{*tapstack::ip::IpAddress::parse("2001:db8:1::7"),
                                     *tapstack::ip::IpAddress::parse("2001:db8::1"), 17, 0};

void check(tapstack::Bytes input, const tapstack::ip::PseudoHeader& ph) {
  ParseError why{};
  const auto view = View::parse(input, why);
  if (!view) return;
  if (view->length() < tapstack::udp::kHeaderLen || view->bytes().size() != view->length()) std::abort();
  const auto repr = Repr::parse(*view, ph, why);
  if (!repr) return;
  std::vector<std::byte> out(repr->buffer_len());
  repr->emit(out, ph);
  const auto view2 = View::parse(std::span<const std::byte>{out});
  if (!view2 || view2->checksum() == 0) std::abort();  // we always send a checksum
  const auto repr2 = Repr::parse(*view2, ph);
  if (!repr2 || !(*repr2 == *repr)) std::abort();
}

// One layer for the whole run: sockets on port 53 (wildcard, specific, connected) with small queues.
struct LayerFixture {
  tapstack::SeededRng rng{1};
  tapstack::udp::UdpLayer layer{rng};
  tapstack::udp::SocketHandle a, b, c;
  LayerFixture() {
    const tapstack::udp::SocketConfig small{4, 512, 1, 64};
    a = layer.open(small);
    b = layer.open(small);
    c = layer.open(small);
    for (auto h : {a, b, c}) layer.socket(h).set_reuse_addr(true);
    (void)layer.socket(a).bind({tapstack::ip::IpAddress{}, 53});
    (void)layer.socket(b).bind({kV4.dst, 53});
    (void)layer.socket(c).bind({tapstack::ip::IpAddress{}, 53});
    (void)layer.socket(c).connect({kV4.src, 53});
  }
};

void feed_layer(tapstack::Bytes input) {
  static LayerFixture f;
  tapstack::ip::IpPacketInfo info;
  info.src = kV4.src;
  info.dst = kV4.dst;
  info.protocol = 17;
  info.dst_broadcast = !input.empty() && (std::uint8_t(input[0]) & 1) != 0;
  (void)f.layer.on_packet(tapstack::Instant{}, info, input);
  tapstack::ip::IcmpErrorInfo err;
  err.kind = tapstack::ip::IcmpErrorInfo::Kind::kPortUnreachable;
  err.orig_src = kV4.dst;
  err.orig_dst = kV4.src;
  f.layer.on_icmp_error(tapstack::Instant{}, err, input);
  std::byte buf[64];
  for (auto h : {f.a, f.b, f.c}) {
    auto& s = f.layer.socket(h);
    (void)s.recv(buf, {.peek = input.size() % 2 == 0});
    (void)s.take_error();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tapstack::Bytes input{reinterpret_cast<const std::byte*>(data), size};
  check(input, kV4);
  check(input, kV6);
  feed_layer(input);
  return 0;
}
