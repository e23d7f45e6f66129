// ICMPv4 (RFC 792): Repr parse/emit, the quoted-header reader and printing (the checked view is inline).
#include "ip/icmpv4.hpp"

#include <algorithm>
#include <cstring>

namespace tapstack::ip {

std::ostream& operator<<(std::ostream& os, Icmpv4Type t) {
  switch (t) {
    case Icmpv4Type::kEchoReply: return os << "echo-reply";
    case Icmpv4Type::kDestUnreachable: return os << "dest-unreachable";
    case Icmpv4Type::kSourceQuench: return os << "source-quench";
    case Icmpv4Type::kRedirect: return os << "redirect";
    case Icmpv4Type::kEchoRequest: return os << "echo-request";
    case Icmpv4Type::kTimeExceeded: return os << "time-exceeded";
    case Icmpv4Type::kParameterProblem: return os << "parameter-problem";
    case Icmpv4Type::kTimestamp: return os << "timestamp";
    case Icmpv4Type::kTimestampReply: return os << "timestamp-reply";
  }
  return os << "type" << unsigned(t);
}

std::string_view to_string(Icmpv4Error e) noexcept {
  switch (e) {
    case Icmpv4Error::kTruncated: return "truncated";
    case Icmpv4Error::kBadChecksum: return "bad_checksum";
    case Icmpv4Error::kUnsupportedType: return "unsupported_type";
    case Icmpv4Error::kBadQuote: return "bad_quote";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, Icmpv4Error e) { return os << to_string(e); }

std::optional<Icmpv4Repr> Icmpv4Repr::parse(const Icmpv4View& v, Icmpv4Error* why) noexcept {
  auto fail = [why](Icmpv4Error e) -> std::optional<Icmpv4Repr> {
    if (why != nullptr) *why = e;
    return std::nullopt;
  };
  Icmpv4Repr r;
  r.type = Icmpv4Type{v.type()};
  r.code = v.code();
  r.data = v.data();
  switch (r.type) {
    case Icmpv4Type::kEchoRequest:
    case Icmpv4Type::kEchoReply:
      r.ident = v.echo_ident();
      r.seq = v.echo_seq();
      return r;
    case Icmpv4Type::kDestUnreachable:
      // RFC 1191 §4: the MTU sits in the low 16 bits of the unused field, only for code 4.
      if (r.code == std::uint8_t(Icmpv4Unreachable::kFragNeeded)) r.next_hop_mtu = v.next_hop_mtu();
      break;
    case Icmpv4Type::kTimeExceeded:
      break;
    case Icmpv4Type::kParameterProblem:
      r.pointer = v.pointer();
      break;
    case Icmpv4Type::kRedirect:
      if (r.code > 3) return fail(Icmpv4Error::kUnsupportedType);  // RFC 792: codes 0 to 3
      r.gateway = v.gateway();
      break;
    default:
      return fail(Icmpv4Error::kUnsupportedType);
  }
  if (r.data.size() < kIcmpv4MinQuoteLen) return fail(Icmpv4Error::kBadQuote);
  return r;
}

void Icmpv4Repr::emit(MutableBytes out) const noexcept {
  // The data first: it may alias out[8, ...) when a reply is built over the request.
  if (!data.empty() && data.data() != out.data() + kIcmpv4HeaderLen)
    std::memmove(out.data() + kIcmpv4HeaderLen, data.data(), data.size());
  store_u8(out, icmpv4_field::kType, std::uint8_t(type));
  store_u8(out, icmpv4_field::kCode, code);
  store_be16(out, icmpv4_field::kChecksum, 0);
  store_be32(out, icmpv4_field::kRest, 0);
  switch (type) {
    case Icmpv4Type::kEchoRequest:
    case Icmpv4Type::kEchoReply:
      store_be16(out, icmpv4_field::kIdent, ident);
      store_be16(out, icmpv4_field::kSeq, seq);
      break;
    case Icmpv4Type::kDestUnreachable:
      if (code == std::uint8_t(Icmpv4Unreachable::kFragNeeded)) store_be16(out, icmpv4_field::kNextHopMtu, next_hop_mtu);
      break;
    case Icmpv4Type::kParameterProblem:
      store_u8(out, icmpv4_field::kPointer, pointer);
      break;
    case Icmpv4Type::kRedirect:
      store_be32(out, icmpv4_field::kRest, gateway.to_u32());
      break;
    default:
      break;
  }
  store_be16(out, icmpv4_field::kChecksum, internet_checksum(Bytes{out}.first(buffer_len())));
}

bool operator==(const Icmpv4Repr& a, const Icmpv4Repr& b) noexcept {
  return a.type == b.type && a.code == b.code && a.ident == b.ident && a.seq == b.seq &&
         a.next_hop_mtu == b.next_hop_mtu && a.pointer == b.pointer && a.gateway == b.gateway &&
         std::ranges::equal(a.data, b.data);
}

namespace {
void print_bytes(std::ostream& os, Bytes b) {
  static constexpr char kHex[] = "0123456789abcdef";
  os << b.size() << " bytes";
  if (b.empty()) return;
  os << ' ';
  const std::size_t n = std::min<std::size_t>(b.size(), 16);
  for (std::size_t i = 0; i < n; ++i) {
    const auto v = std::uint8_t(b[i]);
    os << kHex[v >> 4] << kHex[v & 0xf];
  }
  if (n < b.size()) os << "...";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Icmpv4Repr& r) {
  os << "Icmpv4Repr{" << r.type << " code=" << unsigned(r.code);
  switch (r.type) {
    case Icmpv4Type::kEchoRequest:
    case Icmpv4Type::kEchoReply:
      os << " ident=" << r.ident << " seq=" << r.seq;
      break;
    case Icmpv4Type::kDestUnreachable:
      if (r.code == std::uint8_t(Icmpv4Unreachable::kFragNeeded)) os << " mtu=" << r.next_hop_mtu;
      break;
    case Icmpv4Type::kParameterProblem:
      os << " pointer=" << unsigned(r.pointer);
      break;
    default:
      break;
  }
  os << " data=";
  print_bytes(os, r.data);
  return os << '}';
}

std::optional<Icmpv4Quote> parse_icmpv4_quote(Bytes quote) noexcept {
  if (quote.size() < kIpv4MinHeaderLen) return std::nullopt;
  const std::uint8_t ver_ihl = load_u8(quote, ipv4_field::kVerIhl);
  if ((ver_ihl >> 4) != 4) return std::nullopt;
  const std::size_t hlen = std::size_t(ver_ihl & 0x0f) * 4;
  if (hlen < kIpv4MinHeaderLen || quote.size() < hlen + 8) return std::nullopt;
  Icmpv4Quote q;
  q.src = Ipv4Address::from_bytes(quote.subspan(ipv4_field::kSrc));
  q.dst = Ipv4Address::from_bytes(quote.subspan(ipv4_field::kDst));
  q.protocol = load_u8(quote, ipv4_field::kProtocol);
  q.ident = load_be16(quote, ipv4_field::kIdent);
  q.frag_offset = std::uint16_t((load_be16(quote, ipv4_field::kFlagsFrag) & ipv4_field::kFragOffsetMask) * 8u);
  q.transport = quote.subspan(hlen);
  return q;
}

bool operator==(const Icmpv4Quote& a, const Icmpv4Quote& b) noexcept {
  return a.src == b.src && a.dst == b.dst && a.protocol == b.protocol && a.ident == b.ident &&
         a.frag_offset == b.frag_offset && std::ranges::equal(a.transport, b.transport);
}

std::ostream& operator<<(std::ostream& os, const Icmpv4Quote& q) {
  os << "Icmpv4Quote{" << q.src << " -> " << q.dst << " proto=" << unsigned(q.protocol) << " id=" << q.ident
     << " off=" << q.frag_offset << " transport=";
  print_bytes(os, q.transport);
  return os << '}';
}

}  // namespace tapstack::ip
