// IPv6 (RFC 8200): Repr parse/emit, the extension header chain walker and the address helpers (the checked
// view is inline in ipv6.hpp).
#include "ip/ipv6.hpp"

namespace tapstack::ip {

std::string_view to_string(Ipv6Error e) noexcept {
  switch (e) {
    case Ipv6Error::kTruncated:
      return "truncated";
    case Ipv6Error::kBadVersion:
      return "bad_version";
    case Ipv6Error::kBadPayloadLen:
      return "bad_payload_len";
    case Ipv6Error::kJumbogram:
      return "jumbogram";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, Ipv6Error e) { return os << to_string(e); }

std::string_view to_string(Ipv6ChainError e) noexcept {
  switch (e) {
    case Ipv6ChainError::kTruncated:
      return "truncated";
    case Ipv6ChainError::kHopByHopNotFirst:
      return "hop_by_hop_not_first";
    case Ipv6ChainError::kTooManyHeaders:
      return "too_many_headers";
    case Ipv6ChainError::kChainTooLong:
      return "chain_too_long";
    case Ipv6ChainError::kRoutingType0:
      return "routing_type0";
    case Ipv6ChainError::kRoutingHeader:
      return "routing_header";
    case Ipv6ChainError::kUnknownNextHeader:
      return "unknown_next_header";
    case Ipv6ChainError::kBadOption:
      return "bad_option";
    case Ipv6ChainError::kJumboOption:
      return "jumbo_option";
    case Ipv6ChainError::kUnknownOption:
      return "unknown_option";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, Ipv6ChainError e) { return os << to_string(e); }

std::ostream& operator<<(std::ostream& os, const Ipv6ParamProblem& p) {
  return os << "ParamProblem{code=" << unsigned(p.code) << " pointer=" << p.pointer << '}';
}

Ipv6Repr Ipv6Repr::parse(const Ipv6View& v) noexcept {
  Ipv6Repr r;
  r.src = v.src();
  r.dst = v.dst();
  r.next_header = v.next_header();
  r.hop_limit = v.hop_limit();
  r.traffic_class = v.traffic_class();
  r.flow_label = v.flow_label();
  r.payload_len = v.payload_len();
  return r;
}

void Ipv6Repr::emit(MutableBytes out) const noexcept {
  store_be32(out, ipv6_field::kVerTcFlow,
             (std::uint32_t{6} << 28) | (std::uint32_t{traffic_class} << 20) | (flow_label & 0xfffffu));
  store_be16(out, ipv6_field::kPayloadLen, payload_len);
  store_u8(out, ipv6_field::kNextHeader, next_header);
  store_u8(out, ipv6_field::kHopLimit, hop_limit);
  src.write(out.subspan(ipv6_field::kSrc, 16));
  dst.write(out.subspan(ipv6_field::kDst, 16));
}

std::ostream& operator<<(std::ostream& os, const Ipv6Repr& r) {
  return os << "Ipv6Repr{" << r.src << " -> " << r.dst << " nh=" << unsigned(r.next_header)
            << " hlim=" << unsigned(r.hop_limit) << " tc=" << unsigned(r.traffic_class) << " flow=" << r.flow_label
            << " payload=" << r.payload_len << '}';
}

namespace {

struct Fail {
  Ipv6ChainFailure* why;
  std::optional<Ipv6Chain> operator()(Ipv6ChainError e, std::optional<Ipv6ParamProblem> pp = std::nullopt) const {
    if (why != nullptr) *why = Ipv6ChainFailure{e, pp};
    return std::nullopt;
  }
};

// The options of one Hop-by-Hop or Destination Options header `h` (whole header, starting at `base` in the
// packet), RFC 8200 §4.2. Returns false after filling *why. Every step advances by at least one byte.
bool walk_options(Bytes h, std::size_t base, bool hop_by_hop, bool dst_multicast, Ipv6Chain& chain,
                  Ipv6ChainFailure* why) noexcept {
  auto refuse = [why](Ipv6ChainError e, std::optional<Ipv6ParamProblem> pp = std::nullopt) {
    if (why != nullptr) *why = Ipv6ChainFailure{e, pp};
    return false;
  };
  std::size_t i = 2;  // after Next Header and Hdr Ext Len
  while (i < h.size()) {
    const std::uint8_t type = load_u8(h, i);
    if (type == kIpv6OptPad1) {
      ++i;
      continue;
    }
    if (h.size() - i < 2) return refuse(Ipv6ChainError::kBadOption);  // no room for the length byte
    const std::size_t len = load_u8(h, i + 1);
    if (len > h.size() - i - 2) return refuse(Ipv6ChainError::kBadOption);  // runs past the header
    const Ipv6ParamProblem at_type{Ipv6ParamProblemCode::kUnrecognizedOption, std::uint32_t(base + i)};
    switch (type) {
      case kIpv6OptPadN:
        break;
      case kIpv6OptJumbo:
        // RFC 2675 §3: a Jumbo option with a non-zero Payload Length (the view refused length 0) earns
        // Parameter Problem code 0 at the option type. We take no jumbograms at all.
        return refuse(Ipv6ChainError::kJumboOption,
                      Ipv6ParamProblem{Ipv6ParamProblemCode::kErroneousHeader, at_type.pointer});
      case kIpv6OptRouterAlert:
        if (hop_by_hop) {  // RFC 2711 §2.1: Hop-by-Hop only, 2 bytes of value
          if (len != 2) return refuse(Ipv6ChainError::kBadOption);
          chain.router_alert = load_be16(h, i + 2);
          break;
        }
        [[fallthrough]];  // in Destination Options it is an unknown option (high bits 00: skipped)
      default:
        switch (ipv6_option_action(type)) {
          case Ipv6OptionAction::kSkip:
            break;
          case Ipv6OptionAction::kDiscard:
            return refuse(Ipv6ChainError::kUnknownOption);
          case Ipv6OptionAction::kDiscardIcmp:
            return refuse(Ipv6ChainError::kUnknownOption, at_type);
          case Ipv6OptionAction::kDiscardIcmpUnicast:
            return refuse(Ipv6ChainError::kUnknownOption, dst_multicast ? std::nullopt : std::optional{at_type});
        }
        break;
    }
    i += 2 + len;
  }
  return true;
}

}  // namespace

std::optional<Ipv6Chain> walk_ipv6_chain(const Ipv6View& v, Ipv6ChainFailure* why,
                                         const Ipv6ChainOptions& options) noexcept {
  const Fail fail{why};
  const Bytes p = v.bytes();
  Ipv6Chain chain;
  std::uint8_t nh = v.next_header();
  std::size_t nh_field = ipv6_field::kNextHeader;
  std::size_t off = kIpv6HeaderLen;
  for (;;) {
    const bool ext =
        nh == kIpv6NextHopByHop || nh == kIpv6NextDestOpts || nh == kIpv6NextRouting || nh == kIpv6NextFragment;
    if (!ext) {
      // RFC 8200 §4: an unrecognized Next Header earns Parameter Problem code 1 at the field naming it.
      if (!ipv6_is_upper_layer(nh))
        return fail(Ipv6ChainError::kUnknownNextHeader,
                    Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, std::uint32_t(nh_field)});
      chain.upper_layer = nh;
      chain.upper_layer_offset = off;
      chain.next_header_field = nh_field;
      return chain;
    }
    // RFC 8200 §4.1: Hop-by-Hop appears only immediately after the IPv6 header.
    if (nh == kIpv6NextHopByHop && off != kIpv6HeaderLen)
      return fail(Ipv6ChainError::kHopByHopNotFirst,
                  Ipv6ParamProblem{Ipv6ParamProblemCode::kUnrecognizedNextHeader, std::uint32_t(nh_field)});
    if (++chain.header_count > options.max_headers) return fail(Ipv6ChainError::kTooManyHeaders);
    // Bounds first, in size_t: (len + 1) * 8 is at most 2048 and is compared with what is left, never added
    // to an offset before the check (CVE-2020-17442/17444 wrapped a 16-bit sum).
    if (p.size() - off < 2) return fail(Ipv6ChainError::kTruncated);
    const std::size_t hlen =
        nh == kIpv6NextFragment ? kIpv6FragmentHeaderLen : (std::size_t(load_u8(p, off + 1)) + 1) * 8;
    if (hlen > p.size() - off) return fail(Ipv6ChainError::kTruncated);
    if (off + hlen - kIpv6HeaderLen > options.max_chain_len) return fail(Ipv6ChainError::kChainTooLong);
    const Bytes h = p.subspan(off, hlen);
    switch (nh) {
      case kIpv6NextHopByHop:
      case kIpv6NextDestOpts:
        if (!walk_options(h, off, nh == kIpv6NextHopByHop, v.dst().is_multicast(), chain, why)) return std::nullopt;
        break;
      case kIpv6NextRouting: {
        const std::uint8_t type = load_u8(h, 2);
        const std::uint8_t segments_left = load_u8(h, 3);
        const Ipv6ParamProblem at_type{Ipv6ParamProblemCode::kErroneousHeader, std::uint32_t(off + 2)};
        // RFC 5095 §3: RH0 is treated as an unrecognized type (ICMP when segments left > 0); CONFORMANCE §2
        // goes further and drops it even with segments left 0.
        if (type == 0)
          return fail(Ipv6ChainError::kRoutingType0, segments_left > 0 ? std::optional{at_type} : std::nullopt);
        // RFC 8200 §4.4: this host forwards nothing, so every type with segments left > 0 is unsupported;
        // with segments left 0 the header is ignored.
        if (segments_left > 0) return fail(Ipv6ChainError::kRoutingHeader, at_type);
        break;
      }
      case kIpv6NextFragment: {
        Ipv6FragmentHeader f;
        f.next_header = load_u8(h, 0);
        const std::uint16_t off_m = load_be16(h, 2);
        f.offset = std::uint16_t(off_m & 0xfff8u);  // 13 bits in 8-byte units: the value in bytes
        f.more_fragments = (off_m & 1u) != 0;
        f.ident = load_be32(h, 4);
        f.header_offset = off;
        f.next_header_field = nh_field;
        chain.fragment = f;
        // RFC 6946 §4: an atomic fragment is processed as a whole packet; any other goes to reassembly and
        // the headers after this one are only walked once reassembled (or, for RFC 7112, in a first fragment).
        if (!f.is_atomic() && !(options.through_first_fragment && f.offset == 0)) {
          chain.upper_layer = f.next_header;
          chain.upper_layer_offset = off + hlen;
          chain.next_header_field = off;
          return chain;
        }
        break;
      }
      default:
        break;
    }
    nh_field = off;
    nh = load_u8(h, 0);
    off += hlen;
  }
}

Ipv6Scope ipv6_scope(const Ipv6Address& a) noexcept {
  if (a.is_multicast()) return Ipv6Scope(a.octets[1] & 0x0f);
  if (a.is_link_local() || a.is_loopback()) return Ipv6Scope::kLinkLocal;
  if (a.octets[0] == 0xfe && (a.octets[1] & 0xc0) == 0xc0) return Ipv6Scope::kSiteLocal;  // deprecated fec0::/10
  return Ipv6Scope::kGlobal;
}

Ipv6Address solicited_node_multicast(const Ipv6Address& unicast) noexcept {
  Ipv6Address m{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0}};
  m.octets[13] = unicast.octets[13];
  m.octets[14] = unicast.octets[14];
  m.octets[15] = unicast.octets[15];
  return m;
}

bool is_solicited_node_multicast(const Ipv6Address& a) noexcept {
  static constexpr std::array<std::uint8_t, 13> kPrefix{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  for (std::size_t i = 0; i < kPrefix.size(); ++i)
    if (a.octets[i] != kPrefix[i]) return false;
  return true;
}

MacAddress ipv6_multicast_mac(const Ipv6Address& multicast) noexcept {
  return MacAddress{
      {0x33, 0x33, multicast.octets[12], multicast.octets[13], multicast.octets[14], multicast.octets[15]}};
}

std::array<std::uint8_t, 8> modified_eui64(const MacAddress& mac) noexcept {
  const auto& m = mac.octets;
  return {std::uint8_t(m[0] ^ 0x02), m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]};
}

Ipv6Address ipv6_with_interface_id(const Ipv6Address& prefix, const std::array<std::uint8_t, 8>& iid) noexcept {
  Ipv6Address a = prefix;
  for (std::size_t i = 0; i < 8; ++i) a.octets[8 + i] = iid[i];
  return a;
}

Ipv6Address link_local_from_mac(const MacAddress& mac) noexcept {
  return ipv6_with_interface_id(Ipv6Address{{0xfe, 0x80}}, modified_eui64(mac));
}

}  // namespace tapstack::ip
