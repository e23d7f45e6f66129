// UDP wire format (RFC 768): checksum, parse and emit for udp::Repr.
#include "udp/wire.hpp"

#include <algorithm>
#include <cstring>
#include <iomanip>

namespace tapstack::udp {

std::string_view to_string(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadLength:
      return "bad_length";
    case ParseError::kBadChecksum:
      return "bad_checksum";
    case ParseError::kZeroChecksumV6:
      return "zero_checksum_v6";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, ParseError e) { return os << to_string(e); }

std::uint16_t datagram_checksum(Bytes datagram, const ip::PseudoHeader& ph) noexcept {
  ip::PseudoHeader p = ph;
  p.protocol = std::uint8_t(ip::IpProtocol::kUdp);
  p.length = std::uint32_t(datagram.size());
  Checksum c;
  p.add_to(c).add(datagram);
  return c.finish();
}

std::optional<Repr> Repr::parse(View v, const ip::PseudoHeader& ph, ParseError& why) noexcept {
  if (v.checksum() == 0) {
    // RFC 8200 §8.1: IPv6 receivers MUST discard UDP packets with a zero checksum (RFC 6936 tunnels aside).
    if (ph.src.is_v6()) {
      why = ParseError::kZeroChecksumV6;
      return std::nullopt;
    }
    // RFC 768: an all-zero checksum over IPv4 means the sender did not compute one.
  } else if (!v.verify_checksum(ph)) {
    why = ParseError::kBadChecksum;
    return std::nullopt;
  }
  return Repr{v.src_port(), v.dst_port(), v.payload()};
}

void Repr::emit(MutableBytes out, const ip::PseudoHeader& ph) const noexcept {
  const std::size_t len = buffer_len();
  store_be16(out, field::kSrcPort, src_port);
  store_be16(out, field::kDstPort, dst_port);
  store_be16(out, field::kLength, std::uint16_t(len));
  store_be16(out, field::kChecksum, 0);
  std::byte* dst = out.data() + kHeaderLen;
  if (!payload.empty() && payload.data() != dst) std::memmove(dst, payload.data(), payload.size());
  std::uint16_t sum = datagram_checksum(out.first(len), ph);
  // RFC 768: a computed zero is transmitted as all ones (zero would mean "no checksum").
  if (sum == 0) sum = 0xffff;
  store_be16(out, field::kChecksum, sum);
}

bool operator==(const Repr& a, const Repr& b) noexcept {
  return a.src_port == b.src_port && a.dst_port == b.dst_port &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end());
}

std::ostream& operator<<(std::ostream& os, const Repr& r) {
  os << "UDP src=" << r.src_port << " dst=" << r.dst_port << " len=" << r.payload.size();
  if (!r.payload.empty()) {
    os << " payload=";
    const auto flags = os.flags();
    const auto fill = os.fill();
    const std::size_t shown = std::min<std::size_t>(r.payload.size(), 32);
    for (std::size_t i = 0; i < shown; ++i)
      os << std::hex << std::setw(2) << std::setfill('0') << unsigned(std::uint8_t(r.payload[i]));
    if (shown < r.payload.size()) os << "...";
    os.flags(flags);
    os.fill(fill);
  }
  return os;
}

}  // namespace tapstack::udp
