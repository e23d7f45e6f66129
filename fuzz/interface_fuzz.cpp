// libFuzzer target for ip::Interface: arbitrary bytes become a sequence of received frames at advancing
// virtual time, with a fake transport on UDP and TCP. Checks that nothing crashes, leaks or trips a sanitizer
// on the whole receive path (Ethernet, ARP + cache, IPv4, reassembly, ICMP, error generation, ARP queue) and
// its IPv6 half (extension headers, reassembly, ICMPv6 errors, NDP + neighbour cache, DAD, RA/SLAAC/RDNSS,
// Redirects, MLD queries and MLDv1 compatibility mode).
//
// Input: byte 0 = flags, then records [len_hi][len_lo][dt_ms][len bytes of frame]...
//   flags bit 0: fix up the IPv4 header checksum (and the ICMP checksum of unfragmented ICMP), and the ICMPv6
//                checksum of IPv6 packets whose ICMPv6 header follows the fixed header or one Hop-by-Hop
//                header (MLD), so that mutated frames get past checksum verification into the deeper layers
//   flags bit 1: the UDP/TCP transport answers kPortUnreachable (exercises ICMP error generation)
//   flags bit 2: send an echo request and a 3000-byte datagram to 192.0.2.1 and to 2001:db8::1 first
//                (ARP and NDP queues, fragmentation)
//   flags bit 3: run IPv6 DAD (1 probe) instead of skipping it, so frames can hit tentative addresses
// The stack is 02:00:00:00:00:02 / 192.0.2.2/24, gateway 192.0.2.254, and fe80::ff:fe00:2 + 2001:db8::2/64,
// gateway fe80::fe, SLAAC on.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ip/interface.hpp"
#include "stack/checksum.hpp"
#include "stack/memory_link.hpp"
#include "stack/random.hpp"

namespace {

using namespace tapstack;

class FuzzTransport final : public ip::TransportHandler {
 public:
  Verdict verdict = Verdict::kAccepted;
  std::size_t bytes = 0;
  Verdict on_packet(Instant, const ip::IpPacketInfo&, Bytes payload) noexcept override {
    for (std::byte b : payload) bytes += std::size_t(b);  // touch every byte: ASan checks the span's bounds
    return verdict;
  }
  void on_icmp_error(Instant, const ip::IcmpErrorInfo&, Bytes quoted) noexcept override {
    for (std::byte b : quoted) bytes += std::size_t(b);
  }
  void poll(Instant, ip::IpSender&) noexcept override {}
  std::optional<Instant> poll_at() const noexcept override { return std::nullopt; }
};

void fix_icmpv6_checksum(std::vector<std::byte>& f) {
  if (f.size() < 14 + 40 + 8 || f[12] != std::byte{0x86} || f[13] != std::byte{0xdd}) return;
  MutableBytes ip = MutableBytes{f}.subspan(14);
  const std::size_t plen = load_be16(ip, 4);
  if (plen < 8 || plen > ip.size() - 40) return;
  // ICMPv6 right after the fixed header, or after one Hop-by-Hop header (as every MLD message comes).
  std::size_t off = 40;
  if (load_u8(ip, 6) == 0) {
    if (load_u8(ip, 40) != 58) return;
    off += (std::size_t(load_u8(ip, 41)) + 1) * 8;
    if (off + 8 > 40 + plen) return;
  } else if (load_u8(ip, 6) != 58) {
    return;
  }
  const std::size_t len = 40 + plen - off;
  MutableBytes icmp = ip.subspan(off, len);
  store_be16(icmp, 2, 0);
  Checksum c;
  c.add(Bytes{ip}.subspan(8, 32)).add_u32(std::uint32_t(len)).add_u32(58).add(Bytes{icmp});
  store_be16(icmp, 2, c.finish());
}

void fix_checksums(std::vector<std::byte>& f) {
  fix_icmpv6_checksum(f);
  if (f.size() < 14 + 20 || f[12] != std::byte{0x08} || f[13] != std::byte{0x00}) return;
  MutableBytes ipb = MutableBytes{f}.subspan(14);
  const std::size_t ihl = std::size_t(std::uint8_t(ipb[0]) & 0x0f) * 4;
  if (ihl < 20 || ihl > ipb.size()) return;
  store_be16(ipb, 10, 0);
  store_be16(ipb, 10, internet_checksum(Bytes{ipb}.first(ihl)));
  const std::size_t total = load_be16(ipb, 2);
  const bool fragment = (load_be16(ipb, 6) & 0x3fff) != 0;
  if (load_u8(ipb, 9) == 1 && !fragment && total >= ihl + 8 && total <= ipb.size()) {
    MutableBytes icmp = ipb.subspan(ihl, total - ihl);
    store_be16(icmp, 2, 0);
    store_be16(icmp, 2, internet_checksum(Bytes{icmp}));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  auto [link, peer] = MemoryLink::pair();
  SeededRng rng{1};
  ip::InterfaceConfig cfg;
  cfg.mac = ip::MacAddress{{0x02, 0, 0, 0, 0, 0x02}};
  cfg.ipv4 = ip::Ipv4Cidr{ip::Ipv4Address{{192, 0, 2, 2}}, 24};
  cfg.gateway4 = ip::Ipv4Address{{192, 0, 2, 254}};
  cfg.reassembly.max_datagrams = 8;  // small caps so that eviction paths are reachable
  cfg.reassembly.max_fragments = 16;
  cfg.reassembly.max_bytes = 64 * 1024;
  cfg.reassembly.max_bytes_per_source = 32 * 1024;
  cfg.arp.max_entries = 4;
  cfg.ipv6 = true;
  cfg.ipv6_addresses = {ip::Ipv6Cidr{*ip::Ipv6Address::parse("2001:db8::2"), 64}};
  cfg.gateway6 = *ip::Ipv6Address::parse("fe80::fe");
  cfg.dad_transmits = (flags & 8) ? 1 : 0;
  cfg.max_dad_delay = Duration{0};
  cfg.ndp.max_entries = 4;
  cfg.ndp.max_pending_per_dest = 8;
  cfg.reassembly6.max_datagrams = 8;
  cfg.reassembly6.max_fragments = 16;
  cfg.reassembly6.max_bytes = 64 * 1024;
  cfg.reassembly6.max_bytes_per_source = 32 * 1024;
  ip::Interface iface{*link, cfg, rng};
  FuzzTransport t;
  if (flags & 2) t.verdict = ip::TransportHandler::Verdict::kPortUnreachable;
  iface.register_transport(ip::IpProtocol::kUdp, t);
  iface.register_transport(ip::IpProtocol::kTcp, t);

  Instant now = Instant::from_millis(1);
  iface.poll(now);  // IPv6 addresses come up at once unless flags bit 3 asks for DAD
  const ip::Ipv4Address peer_ip{{192, 0, 2, 1}};
  if (flags & 4) {
    const std::uint8_t ping[4] = {1, 2, 3, 4};
    iface.send_echo_request(now, peer_ip, 1, 1, Bytes{reinterpret_cast<const std::byte*>(ping), 4});
    ip::IpSendParams p;
    p.dst = peer_ip;
    p.protocol = 17;
    iface.send(now, p, 3000, [](MutableBytes out, const ip::PseudoHeader&) { std::memset(out.data(), 0x5a, out.size()); });
    const auto peer6 = *ip::Ipv6Address::parse("2001:db8::1");
    iface.send_echo_request6(now, peer6, 1, 1, Bytes{reinterpret_cast<const std::byte*>(ping), 4});
    p.dst = peer6;
    iface.send(now, p, 3000, [](MutableBytes out, const ip::PseudoHeader&) { std::memset(out.data(), 0xa5, out.size()); });
  }

  std::vector<std::byte> frame;
  std::vector<std::byte> sink(kMaxFrameSize);
  std::size_t pos = 1;
  while (pos + 3 <= size) {
    const std::size_t len = std::min<std::size_t>((std::size_t(data[pos]) << 8) | data[pos + 1], size - pos - 3);
    now += milliseconds(std::int64_t(data[pos + 2]) * 50);  // up to 12.75 s per frame: timers fire
    const auto* p = reinterpret_cast<const std::byte*>(data + pos + 3);
    frame.assign(p, p + len);
    pos += 3 + len;
    if (flags & 1) fix_checksums(frame);
    peer->transmit(now, Bytes{frame});
    iface.poll(now);
    while (peer->receive(now, MutableBytes{sink})) {
    }
  }
  // Let every timer run out.
  for (int i = 0; i < 4; ++i) {
    now += seconds(31);
    iface.poll(now);
  }
  while (iface.pop_echo_reply()) {
  }
  (void)iface.dns_servers6();
  (void)iface.address_state(*ip::Ipv6Address::parse("2001:db8::2"));
  return 0;
}
