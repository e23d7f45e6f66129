// ICMPv6 (RFC 4443), NDP (RFC 4861) and MLDv2 report (RFC 3810) parse/emit; the checked view is inline.
#include "ip/icmpv6.hpp"

#include <cstring>

namespace tapstack::ip {

std::ostream& operator<<(std::ostream& os, Icmpv6Type t) {
  switch (t) {
    case Icmpv6Type::kDestUnreachable:
      return os << "dest-unreachable";
    case Icmpv6Type::kPacketTooBig:
      return os << "packet-too-big";
    case Icmpv6Type::kTimeExceeded:
      return os << "time-exceeded";
    case Icmpv6Type::kParameterProblem:
      return os << "parameter-problem";
    case Icmpv6Type::kEchoRequest:
      return os << "echo-request";
    case Icmpv6Type::kEchoReply:
      return os << "echo-reply";
    case Icmpv6Type::kMldQuery:
      return os << "mld-query";
    case Icmpv6Type::kMldv1Report:
      return os << "mldv1-report";
    case Icmpv6Type::kMldv1Done:
      return os << "mldv1-done";
    case Icmpv6Type::kRouterSolicit:
      return os << "router-solicit";
    case Icmpv6Type::kRouterAdvert:
      return os << "router-advert";
    case Icmpv6Type::kNeighborSolicit:
      return os << "neighbor-solicit";
    case Icmpv6Type::kNeighborAdvert:
      return os << "neighbor-advert";
    case Icmpv6Type::kRedirect:
      return os << "redirect";
    case Icmpv6Type::kMldv2Report:
      return os << "mldv2-report";
  }
  return os << "type" << unsigned(t);
}

std::string_view to_string(Icmpv6Error e) noexcept {
  switch (e) {
    case Icmpv6Error::kTruncated:
      return "truncated";
    case Icmpv6Error::kBadChecksum:
      return "bad_checksum";
    case Icmpv6Error::kUnsupportedType:
      return "unsupported_type";
    case Icmpv6Error::kBadQuote:
      return "bad_quote";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, Icmpv6Error e) { return os << to_string(e); }

std::string_view to_string(NdpError e) noexcept {
  switch (e) {
    case NdpError::kNotNdp:
      return "not_ndp";
    case NdpError::kFragmented:
      return "fragmented";
    case NdpError::kBadHopLimit:
      return "bad_hop_limit";
    case NdpError::kBadCode:
      return "bad_code";
    case NdpError::kTruncated:
      return "truncated";
    case NdpError::kBadOptions:
      return "bad_options";
    case NdpError::kMulticastTarget:
      return "multicast_target";
    case NdpError::kDadBadDestination:
      return "dad_bad_destination";
    case NdpError::kUnspecifiedWithSlla:
      return "unspecified_with_slla";
    case NdpError::kSolicitedToMulticast:
      return "solicited_to_multicast";
    case NdpError::kSourceNotLinkLocal:
      return "source_not_link_local";
    case NdpError::kBadRedirectTarget:
      return "bad_redirect_target";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, NdpError e) { return os << to_string(e); }

std::uint16_t icmpv6_checksum(Bytes message, const Ipv6Address& src, const Ipv6Address& dst) noexcept {
  Checksum c;
  PseudoHeader{src, dst, std::uint8_t(IpProtocol::kIcmpv6), std::uint32_t(message.size())}.add_to(c);
  c.add(message);
  return c.finish();
}

namespace {

// Writes the checksum of out[0, len) (field zeroed first) for the pseudo-header's addresses.
void finish_checksum(MutableBytes out, std::size_t len, const PseudoHeader& ph) noexcept {
  store_be16(out, icmpv6_field::kChecksum, 0);
  store_be16(out, icmpv6_field::kChecksum, icmpv6_checksum(Bytes{out}.first(len), ph.src.v6(), ph.dst.v6()));
}

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

void print_mac(std::ostream& os, const char* name, const std::optional<MacAddress>& m) {
  if (m) os << ' ' << name << '=' << *m;
}

}  // namespace

std::optional<Icmpv6Repr> Icmpv6Repr::parse(const Icmpv6View& v, Icmpv6Error* why) noexcept {
  auto fail = [why](Icmpv6Error e) -> std::optional<Icmpv6Repr> {
    if (why != nullptr) *why = e;
    return std::nullopt;
  };
  Icmpv6Repr r;
  r.type = Icmpv6Type{v.type()};
  r.code = v.code();
  r.data = v.data();
  switch (r.type) {
    case Icmpv6Type::kEchoRequest:
    case Icmpv6Type::kEchoReply:
      // The view guarantees the 8-byte header, so data is size - 8 without underflow (CVE-2020-17443).
      r.ident = v.echo_ident();
      r.seq = v.echo_seq();
      return r;
    case Icmpv6Type::kPacketTooBig:
      r.mtu = v.mtu();
      break;
    case Icmpv6Type::kParameterProblem:
      r.pointer = v.pointer();
      break;
    default:
      if (!icmpv6_is_error(v.type())) return fail(Icmpv6Error::kUnsupportedType);
      break;  // destination unreachable, time exceeded, unknown errors: code + quote
  }
  if (r.data.size() < kIpv6HeaderLen) return fail(Icmpv6Error::kBadQuote);
  return r;
}

void Icmpv6Repr::emit(MutableBytes out, const PseudoHeader& ph) const noexcept {
  if (!data.empty() && data.data() != out.data() + kIcmpv6HeaderLen)
    std::memmove(out.data() + kIcmpv6HeaderLen, data.data(), data.size());
  store_u8(out, icmpv6_field::kType, std::uint8_t(type));
  store_u8(out, icmpv6_field::kCode, code);
  store_be32(out, icmpv6_field::kRest, 0);
  switch (type) {
    case Icmpv6Type::kEchoRequest:
    case Icmpv6Type::kEchoReply:
      store_be16(out, icmpv6_field::kIdent, ident);
      store_be16(out, icmpv6_field::kSeq, seq);
      break;
    case Icmpv6Type::kPacketTooBig:
      store_be32(out, icmpv6_field::kMtu, mtu);
      break;
    case Icmpv6Type::kParameterProblem:
      store_be32(out, icmpv6_field::kPointer, pointer);
      break;
    default:
      break;
  }
  finish_checksum(out, buffer_len(), ph);
}

bool operator==(const Icmpv6Repr& a, const Icmpv6Repr& b) noexcept {
  return a.type == b.type && a.code == b.code && a.ident == b.ident && a.seq == b.seq && a.mtu == b.mtu &&
         a.pointer == b.pointer && std::ranges::equal(a.data, b.data);
}

std::ostream& operator<<(std::ostream& os, const Icmpv6Repr& r) {
  os << "Icmpv6Repr{" << r.type << " code=" << unsigned(r.code);
  switch (r.type) {
    case Icmpv6Type::kEchoRequest:
    case Icmpv6Type::kEchoReply:
      os << " ident=" << r.ident << " seq=" << r.seq;
      break;
    case Icmpv6Type::kPacketTooBig:
      os << " mtu=" << r.mtu;
      break;
    case Icmpv6Type::kParameterProblem:
      os << " pointer=" << r.pointer;
      break;
    default:
      break;
  }
  os << " data=";
  print_bytes(os, r.data);
  return os << '}';
}

namespace {

// Skips extension headers of a (possibly cut) packet from `off` with next header `nh`, bounds-checked and
// at most 16 steps. Stops at the first header that is not Hop-by-Hop, Routing, Destination Options or a
// first/atomic Fragment; returns its type and offset, and the fragment offset seen (if any).
struct Skipped {
  std::uint8_t nh = 0;
  std::size_t off = 0;
  std::uint16_t frag_offset = 0;
  bool complete = true;  // false: a header ran past the bytes present, `nh` is the one that did not fit
};
Skipped skip_ext_headers(Bytes p, std::uint8_t nh, std::size_t off) noexcept {
  Skipped s{nh, off, 0, true};
  for (int step = 0; step < 16; ++step) {
    if (s.nh != kIpv6NextHopByHop && s.nh != kIpv6NextRouting && s.nh != kIpv6NextDestOpts && s.nh != kIpv6NextFragment)
      return s;
    if (p.size() - s.off < 2) break;
    const std::size_t hlen =
        s.nh == kIpv6NextFragment ? kIpv6FragmentHeaderLen : (std::size_t(load_u8(p, s.off + 1)) + 1) * 8;
    if (hlen > p.size() - s.off) break;
    if (s.nh == kIpv6NextFragment) {
      s.frag_offset = std::uint16_t(load_be16(p, s.off + 2) & 0xfff8u);
      if (s.frag_offset != 0) {  // a later fragment: what follows is data, not headers
        s.nh = load_u8(p, s.off);
        s.off += hlen;
        return s;
      }
    }
    s.nh = load_u8(p, s.off);
    s.off += hlen;
  }
  s.complete = false;
  return s;
}

}  // namespace

Icmpv6ErrorSubject icmpv6_error_subject(Bytes invoking_packet, bool link_multicast) noexcept {
  Icmpv6ErrorSubject s;
  s.link_multicast = link_multicast;
  if (invoking_packet.size() < kIpv6HeaderLen) {
    s.icmpv6_error = true;  // nothing can be said about it: allow nothing
    return s;
  }
  s.src = Ipv6Address::from_bytes(invoking_packet.subspan(ipv6_field::kSrc));
  s.dst = Ipv6Address::from_bytes(invoking_packet.subspan(ipv6_field::kDst));
  const Skipped k =
      skip_ext_headers(invoking_packet, load_u8(invoking_packet, ipv6_field::kNextHeader), kIpv6HeaderLen);
  if (k.nh == std::uint8_t(IpProtocol::kIcmpv6)) {
    // RFC 4443 §2.4 (e.1, e.2); an ICMPv6 packet whose type is not readable is treated as an error.
    if (!k.complete || k.frag_offset != 0 || k.off >= invoking_packet.size()) {
      s.icmpv6_error = true;
    } else {
      const std::uint8_t type = load_u8(invoking_packet, k.off);
      s.icmpv6_error = icmpv6_is_error(type) || type == std::uint8_t(Icmpv6Type::kRedirect);
    }
  }
  return s;
}

bool may_send_error_about(Icmpv6Type type, std::uint8_t code, const Icmpv6ErrorSubject& subject) noexcept {
  if (!icmpv6_is_error(std::uint8_t(type))) return true;  // not an error message: the rule does not apply
  if (subject.icmpv6_error) return false;                 // (e.1), (e.2)
  if (subject.src.is_unspecified() || subject.src.is_multicast() || subject.src.is_loopback()) return false;  // (e.6)
  const bool multicast_ok =
      type == Icmpv6Type::kPacketTooBig ||
      (type == Icmpv6Type::kParameterProblem && code == std::uint8_t(Icmpv6ParamProblem::kUnrecognizedOption));
  if ((subject.dst.is_multicast() || subject.link_multicast) && !multicast_ok) return false;  // (e.3)-(e.5)
  return true;
}

std::optional<Icmpv6Quote> parse_icmpv6_quote(Bytes quote) noexcept {
  if (quote.size() < kIpv6HeaderLen || (load_u8(quote, ipv6_field::kVerTcFlow) >> 4) != 6) return std::nullopt;
  Icmpv6Quote q;
  q.src = Ipv6Address::from_bytes(quote.subspan(ipv6_field::kSrc));
  q.dst = Ipv6Address::from_bytes(quote.subspan(ipv6_field::kDst));
  const Skipped k = skip_ext_headers(quote, load_u8(quote, ipv6_field::kNextHeader), kIpv6HeaderLen);
  if (!k.complete) return std::nullopt;
  q.upper_layer = k.nh;
  q.frag_offset = k.frag_offset;
  q.transport = quote.subspan(k.off);
  return q;
}

bool operator==(const Icmpv6Quote& a, const Icmpv6Quote& b) noexcept {
  return a.src == b.src && a.dst == b.dst && a.upper_layer == b.upper_layer && a.frag_offset == b.frag_offset &&
         std::ranges::equal(a.transport, b.transport);
}

std::ostream& operator<<(std::ostream& os, const Icmpv6Quote& q) {
  os << "Icmpv6Quote{" << q.src << " -> " << q.dst << " upper=" << unsigned(q.upper_layer) << " off=" << q.frag_offset
     << " transport=";
  print_bytes(os, q.transport);
  return os << '}';
}

// ---- NDP ----

namespace {
constexpr std::size_t kRsLen = 8, kRaLen = 16, kNsLen = 24, kNaLen = 24, kRedirectLen = 40;
constexpr std::uint8_t kNaRouter = 0x80, kNaSolicited = 0x40, kNaOverride = 0x20;
constexpr std::uint8_t kRaManaged = 0x80, kRaOther = 0x40;

std::size_t emit_optional_lla(MutableBytes out, std::size_t off, NdpOptionType t, const std::optional<MacAddress>& m) {
  if (!m) return off;
  return off + emit_ndp_link_addr(out.subspan(off), t, *m);
}
}  // namespace

void RouterSolicitRepr::emit(MutableBytes out, const PseudoHeader& ph) const noexcept {
  store_u8(out, icmpv6_field::kType, std::uint8_t(Icmpv6Type::kRouterSolicit));
  store_u8(out, icmpv6_field::kCode, 0);
  store_be32(out, icmpv6_field::kRest, 0);
  emit_optional_lla(out, kRsLen, NdpOptionType::kSourceLinkAddr, source_link_addr);
  finish_checksum(out, buffer_len(), ph);
}

void RouterAdvertRepr::emit(MutableBytes out, const PseudoHeader& ph) const noexcept {
  store_u8(out, icmpv6_field::kType, std::uint8_t(Icmpv6Type::kRouterAdvert));
  store_u8(out, icmpv6_field::kCode, 0);
  store_u8(out, 4, cur_hop_limit);
  store_u8(out, 5,
           std::uint8_t((flags & ~(kRaManaged | kRaOther)) | (managed ? kRaManaged : 0) | (other ? kRaOther : 0)));
  store_be16(out, 6, router_lifetime);
  store_be32(out, 8, reachable_time);
  store_be32(out, 12, retrans_timer);
  copy_bytes(out.subspan(kRaLen), options.raw);
  finish_checksum(out, buffer_len(), ph);
}

bool operator==(const RouterAdvertRepr& a, const RouterAdvertRepr& b) noexcept {
  return a.cur_hop_limit == b.cur_hop_limit && a.managed == b.managed && a.other == b.other && a.flags == b.flags &&
         a.router_lifetime == b.router_lifetime && a.reachable_time == b.reachable_time &&
         a.retrans_timer == b.retrans_timer && std::ranges::equal(a.options.raw, b.options.raw);
}

void NeighborSolicitRepr::emit(MutableBytes out, const PseudoHeader& ph) const noexcept {
  store_u8(out, icmpv6_field::kType, std::uint8_t(Icmpv6Type::kNeighborSolicit));
  store_u8(out, icmpv6_field::kCode, 0);
  store_be32(out, icmpv6_field::kRest, 0);
  target.write(out.subspan(8, 16));
  emit_optional_lla(out, kNsLen, NdpOptionType::kSourceLinkAddr, source_link_addr);
  finish_checksum(out, buffer_len(), ph);
}

void NeighborAdvertRepr::emit(MutableBytes out, const PseudoHeader& ph) const noexcept {
  store_u8(out, icmpv6_field::kType, std::uint8_t(Icmpv6Type::kNeighborAdvert));
  store_u8(out, icmpv6_field::kCode, 0);
  store_be32(out, icmpv6_field::kRest, 0);
  store_u8(out, 4,
           std::uint8_t((router ? kNaRouter : 0) | (solicited ? kNaSolicited : 0) | (override_flag ? kNaOverride : 0)));
  target.write(out.subspan(8, 16));
  emit_optional_lla(out, kNaLen, NdpOptionType::kTargetLinkAddr, target_link_addr);
  finish_checksum(out, buffer_len(), ph);
}

bool operator==(const RedirectRepr& a, const RedirectRepr& b) noexcept {
  return a.target == b.target && a.destination == b.destination && a.target_link_addr == b.target_link_addr &&
         std::ranges::equal(a.redirected_header, b.redirected_header);
}

std::ostream& operator<<(std::ostream& os, const NdpRepr& r) {
  std::visit(
      [&os](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, RouterSolicitRepr>) {
          os << "RouterSolicit{";
          print_mac(os, "slla", m.source_link_addr);
        } else if constexpr (std::is_same_v<T, RouterAdvertRepr>) {
          os << "RouterAdvert{hop=" << unsigned(m.cur_hop_limit) << (m.managed ? " M" : "") << (m.other ? " O" : "")
             << " lifetime=" << m.router_lifetime << " reachable=" << m.reachable_time << " retrans=" << m.retrans_timer
             << " options=" << m.options.raw.size() << 'B';
        } else if constexpr (std::is_same_v<T, NeighborSolicitRepr>) {
          os << "NeighborSolicit{target=" << m.target;
          print_mac(os, "slla", m.source_link_addr);
        } else if constexpr (std::is_same_v<T, NeighborAdvertRepr>) {
          os << "NeighborAdvert{target=" << m.target << (m.router ? " R" : "") << (m.solicited ? " S" : "")
             << (m.override_flag ? " O" : "");
          print_mac(os, "tlla", m.target_link_addr);
        } else {
          os << "Redirect{target=" << m.target << " destination=" << m.destination;
          print_mac(os, "tlla", m.target_link_addr);
        }
      },
      r);
  return os << '}';
}

std::optional<NdpRepr> parse_ndp(const Icmpv6View& v, const NdpContext& ctx, NdpError* why,
                                 NdpOptionError* option_why) noexcept {
  auto fail = [why](NdpError e) -> std::optional<NdpRepr> {
    if (why != nullptr) *why = e;
    return std::nullopt;
  };
  const auto type = Icmpv6Type{v.type()};
  std::size_t fixed = 0;
  switch (type) {
    case Icmpv6Type::kRouterSolicit:
      fixed = kRsLen;
      break;
    case Icmpv6Type::kRouterAdvert:
      fixed = kRaLen;
      break;
    case Icmpv6Type::kNeighborSolicit:
      fixed = kNsLen;
      break;
    case Icmpv6Type::kNeighborAdvert:
      fixed = kNaLen;
      break;
    case Icmpv6Type::kRedirect:
      fixed = kRedirectLen;
      break;
    default:
      return fail(NdpError::kNotNdp);
  }
  // The checks every NDP message shares (RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1; RFC 6980 §5).
  if (ctx.fragmented) return fail(NdpError::kFragmented);
  if (ctx.hop_limit != kNdpHopLimit) return fail(NdpError::kBadHopLimit);
  if (v.code() != 0) return fail(NdpError::kBadCode);
  const Bytes msg = v.bytes();
  if (msg.size() < fixed) return fail(NdpError::kTruncated);
  NdpOptionError oe{};
  const auto opts = NdpOptions::parse(msg.subspan(fixed), &oe);
  if (!opts) {
    if (option_why != nullptr) *option_why = oe;
    return fail(NdpError::kBadOptions);
  }
  const bool from_unspecified = ctx.src.is_unspecified();
  switch (type) {
    case Icmpv6Type::kRouterSolicit:
      if (from_unspecified && opts->source_link_addr) return fail(NdpError::kUnspecifiedWithSlla);
      return RouterSolicitRepr{opts->source_link_addr};
    case Icmpv6Type::kRouterAdvert: {
      if (!ctx.src.is_link_local()) return fail(NdpError::kSourceNotLinkLocal);
      RouterAdvertRepr r;
      r.cur_hop_limit = load_u8(msg, 4);
      r.flags = load_u8(msg, 5);
      r.managed = (r.flags & kRaManaged) != 0;
      r.other = (r.flags & kRaOther) != 0;
      r.router_lifetime = load_be16(msg, 6);
      r.reachable_time = load_be32(msg, 8);
      r.retrans_timer = load_be32(msg, 12);
      r.options = *opts;
      return r;
    }
    case Icmpv6Type::kNeighborSolicit: {
      const Ipv6Address target = Ipv6Address::from_bytes(msg.subspan(8));
      if (target.is_multicast()) return fail(NdpError::kMulticastTarget);
      if (from_unspecified) {  // DAD (RFC 4862 §5.4.2)
        if (!is_solicited_node_multicast(ctx.dst)) return fail(NdpError::kDadBadDestination);
        if (opts->source_link_addr) return fail(NdpError::kUnspecifiedWithSlla);
      }
      return NeighborSolicitRepr{target, opts->source_link_addr};
    }
    case Icmpv6Type::kNeighborAdvert: {
      NeighborAdvertRepr r;
      const std::uint8_t flags = load_u8(msg, 4);
      r.router = (flags & kNaRouter) != 0;
      r.solicited = (flags & kNaSolicited) != 0;
      r.override_flag = (flags & kNaOverride) != 0;
      r.target = Ipv6Address::from_bytes(msg.subspan(8));
      if (r.target.is_multicast()) return fail(NdpError::kMulticastTarget);
      if (r.solicited && ctx.dst.is_multicast()) return fail(NdpError::kSolicitedToMulticast);
      r.target_link_addr = opts->target_link_addr;
      return r;
    }
    default: {  // Redirect
      if (!ctx.src.is_link_local()) return fail(NdpError::kSourceNotLinkLocal);
      RedirectRepr r;
      r.target = Ipv6Address::from_bytes(msg.subspan(8));
      r.destination = Ipv6Address::from_bytes(msg.subspan(24));
      if (r.destination.is_multicast()) return fail(NdpError::kMulticastTarget);
      if (!r.target.is_link_local() && r.target != r.destination) return fail(NdpError::kBadRedirectTarget);
      r.target_link_addr = opts->target_link_addr;
      r.redirected_header = opts->redirected_header;
      return r;
    }
  }
}

// ---- MLDv2 ----

std::uint32_t mld_max_response_ms(std::uint16_t code) noexcept {
  if (code < 0x8000) return code;
  const std::uint32_t mant = code & 0x0fffu, exp = (code >> 12) & 0x7u;
  return (mant | 0x1000u) << (exp + 3);  // at most 0x1fff << 10
}

std::optional<MldQuery> MldQuery::parse(const Icmpv6View& v) noexcept {
  if (v.type() != std::uint8_t(Icmpv6Type::kMldQuery)) return std::nullopt;
  const Bytes m = v.bytes();
  MldQuery q;
  if (m.size() == kMldv1QueryLen) {
    q.v2 = false;
  } else if (m.size() >= kMldv2QueryMinLen) {
    q.source_count = load_be16(m, 26);
    if ((m.size() - kMldv2QueryMinLen) / 16 < q.source_count) return std::nullopt;  // sources past the end
  } else {
    return std::nullopt;
  }
  q.max_response_code = load_be16(m, 4);
  q.group = Ipv6Address::from_bytes(m.subspan(8, 16));
  return q;
}

std::optional<Mldv2Report> Mldv2Report::parse(const Icmpv6View& v) noexcept {
  if (v.type() != std::uint8_t(Icmpv6Type::kMldv2Report)) return std::nullopt;
  Mldv2Report r;
  r.record_count = load_be16(v.bytes(), 6);
  r.records = v.data();
  // Every record, with its sources and aux data, inside the message (sizes compared with what is left).
  std::size_t off = 0;
  for (std::uint16_t i = 0; i < r.record_count; ++i) {
    if (r.records.size() - off < kMldRecordLen) return std::nullopt;
    const std::size_t len =
        kMldRecordLen + std::size_t(load_be16(r.records, off + 2)) * 16 + std::size_t(load_u8(r.records, off + 1)) * 4;
    if (len > r.records.size() - off) return std::nullopt;
    off += len;
  }
  return r;
}

void Mldv2ReportRepr::emit(MutableBytes out, const PseudoHeader& ph) const noexcept {
  store_u8(out, icmpv6_field::kType, std::uint8_t(Icmpv6Type::kMldv2Report));
  store_u8(out, icmpv6_field::kCode, 0);
  store_be16(out, 4, 0);
  store_be16(out, 6, std::uint16_t(records.size()));
  std::size_t off = kIcmpv6HeaderLen;
  for (const MldRecord& rec : records) {
    store_u8(out, off, std::uint8_t(rec.type));
    store_u8(out, off + 1, 0);    // aux data len
    store_be16(out, off + 2, 0);  // number of sources
    rec.group.write(out.subspan(off + 4, 16));
    off += kMldRecordLen;
  }
  finish_checksum(out, buffer_len(), ph);
}

namespace {

// The IPv6 header and Hop-by-Hop header of every MLD message a host sends (RFC 3810 §5 and §7.4, RFC 2710 §3):
// hop limit 1 (link-local scope) and a Router Alert. out holds at least the two headers.
void emit_mld_headers(MutableBytes out, const Ipv6Address& src, const Ipv6Address& dst, std::size_t len,
                      std::uint8_t traffic_class) noexcept {
  Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = kIpv6NextHopByHop;
  ip.hop_limit = 1;
  ip.traffic_class = traffic_class;
  ip.payload_len = std::uint16_t(len - kIpv6HeaderLen);
  ip.emit(out);
  // Hop-by-Hop: Next Header 58, Hdr Ext Len 0, Router Alert (type 5, len 2, value 0 = MLD), PadN (type 1, len 0).
  const MutableBytes hbh = out.subspan(kIpv6HeaderLen, kMldHopByHopLen);
  store_u8(hbh, 0, std::uint8_t(IpProtocol::kIcmpv6));
  store_u8(hbh, 1, 0);
  store_u8(hbh, 2, kIpv6OptRouterAlert);
  store_u8(hbh, 3, 2);
  store_be16(hbh, 4, kRouterAlertMld);
  store_u8(hbh, 6, kIpv6OptPadN);
  store_u8(hbh, 7, 0);
}

}  // namespace

std::size_t emit_mldv2_report_packet(MutableBytes out, const Ipv6Address& src, std::span<const MldRecord> records,
                                     std::uint8_t traffic_class) noexcept {
  const std::size_t len = mldv2_report_packet_len(records.size());
  if (out.size() < len || len - kIpv6HeaderLen > kIpv6MaxPayloadLen || records.size() > 0xffff) return 0;
  emit_mld_headers(out, src, kIpv6AllMldv2Routers, len, traffic_class);  // RFC 3810 §5.2.14: to ff02::16
  const Mldv2ReportRepr report{records};
  report.emit(
      out.subspan(kIpv6HeaderLen + kMldHopByHopLen),
      PseudoHeader{src, kIpv6AllMldv2Routers, std::uint8_t(IpProtocol::kIcmpv6), std::uint32_t(report.buffer_len())});
  return len;
}

std::optional<Mldv1Message> Mldv1Message::parse(const Icmpv6View& v) noexcept {
  const std::uint8_t type = v.type();
  if (type != std::uint8_t(Icmpv6Type::kMldv1Report) && type != std::uint8_t(Icmpv6Type::kMldv1Done))
    return std::nullopt;
  const Bytes m = v.bytes();
  if (m.size() < kMldv1MessageLen) return std::nullopt;
  return Mldv1Message{Icmpv6Type{type}, Ipv6Address::from_bytes(m.subspan(8, 16))};
}

std::size_t emit_mldv1_packet(MutableBytes out, const Ipv6Address& src, Icmpv6Type type,
                              const Ipv6Address& group) noexcept {
  if (out.size() < kMldv1PacketLen) return 0;
  if (type != Icmpv6Type::kMldv1Report && type != Icmpv6Type::kMldv1Done) return 0;
  // RFC 2710 §5: a Report goes to the address it reports, a Done to the link-scope all-routers address.
  const Ipv6Address& dst = type == Icmpv6Type::kMldv1Report ? group : kIpv6AllRouters;
  emit_mld_headers(out, src, dst, kMldv1PacketLen, 0);
  const MutableBytes m = out.subspan(kIpv6HeaderLen + kMldHopByHopLen, kMldv1MessageLen);
  store_u8(m, icmpv6_field::kType, std::uint8_t(type));
  store_u8(m, icmpv6_field::kCode, 0);
  store_be16(m, 4, 0);  // Maximum Response Delay: 0 in Reports and Dones
  store_be16(m, 6, 0);  // reserved
  group.write(m.subspan(8, 16));
  finish_checksum(m, kMldv1MessageLen, PseudoHeader{src, dst, std::uint8_t(IpProtocol::kIcmpv6),
                                                    std::uint32_t(kMldv1MessageLen)});
  return kMldv1PacketLen;
}

}  // namespace tapstack::ip
