// NDP option walker and typed readers/emitters (RFC 4861 §4.6, RFC 8106 §5). The walk advances by
// Length * 8 >= 8 bytes per option, so it terminates; lengths are compared with what is left, never summed.
#include "ip/ndp_options.hpp"

namespace tapstack::ip {

std::string_view to_string(NdpOptionError e) noexcept {
  switch (e) {
    case NdpOptionError::kTruncated:
      return "truncated";
    case NdpOptionError::kZeroLength:
      return "zero_length";
    case NdpOptionError::kOverrun:
      return "overrun";
    case NdpOptionError::kBadLinkAddr:
      return "bad_link_addr";
    case NdpOptionError::kBadPrefixInfo:
      return "bad_prefix_info";
    case NdpOptionError::kBadMtu:
      return "bad_mtu";
    case NdpOptionError::kBadRdnss:
      return "bad_rdnss";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, NdpOptionError e) { return os << to_string(e); }

std::ostream& operator<<(std::ostream& os, const PrefixInfo& p) {
  return os << "PrefixInfo{" << p.prefix << '/' << unsigned(p.prefix_len) << (p.on_link ? " L" : "")
            << (p.autonomous ? " A" : "") << " valid=" << p.valid_lifetime << " preferred=" << p.preferred_lifetime
            << '}';
}

namespace {
// One step of the walk: the next option or why there is none. `rest` is non-empty.
std::optional<NdpOption> take_option(Bytes& rest, NdpOptionError* why) noexcept {
  auto fail = [why](NdpOptionError e) -> std::optional<NdpOption> {
    if (why != nullptr) *why = e;
    return std::nullopt;
  };
  if (rest.size() < 2) return fail(NdpOptionError::kTruncated);
  const std::size_t units = load_u8(rest, 1);
  if (units == 0) return fail(NdpOptionError::kZeroLength);
  if (units > rest.size() / kNdpOptionUnit) return fail(NdpOptionError::kOverrun);
  const std::size_t len = units * kNdpOptionUnit;
  NdpOption o{load_u8(rest, 0), rest.subspan(2, len - 2)};
  rest = rest.subspan(len);
  return o;
}
}  // namespace

std::optional<NdpOption> NdpOptionIterator::next() noexcept {
  if (rest_.empty()) return std::nullopt;
  auto o = take_option(rest_, nullptr);
  if (!o) rest_ = {};
  return o;
}

std::optional<NdpOptionError> ndp_options_error(Bytes options) noexcept {
  Bytes rest = options;
  while (!rest.empty()) {
    NdpOptionError why{};
    const auto o = take_option(rest, &why);
    if (!o) return why;
    const std::uint8_t units = o->length_units();
    switch (NdpOptionType{o->type}) {
      case NdpOptionType::kSourceLinkAddr:
      case NdpOptionType::kTargetLinkAddr:
        if (units != 1) return NdpOptionError::kBadLinkAddr;
        break;
      case NdpOptionType::kPrefixInfo:
        if (units != 4 || load_u8(o->body, 0) > 128) return NdpOptionError::kBadPrefixInfo;
        break;
      case NdpOptionType::kMtu:
        if (units != 1) return NdpOptionError::kBadMtu;
        break;
      case NdpOptionType::kRdnss:
        // RFC 8106 §5.1: Length = 1 + 2 * addresses, at least one address. An even Length leaves 8 bytes
        // that are not an address; reading them as one is the Windows CVE-2020-16898 mistake.
        if (units < 3 || units % 2 == 0) return NdpOptionError::kBadRdnss;
        break;
      default:
        break;  // Redirected Header, DNSSL and unknown options: any length > 0 (RFC 4861 §4.6)
    }
  }
  return std::nullopt;
}

MacAddress ndp_link_addr(const NdpOption& o) noexcept { return MacAddress::from_bytes(o.body); }

PrefixInfo ndp_prefix_info(const NdpOption& o) noexcept {
  // Body offsets (RFC 4861 §4.6.2, minus the 2 bytes of type and length).
  PrefixInfo p;
  p.prefix_len = load_u8(o.body, 0);
  const std::uint8_t flags = load_u8(o.body, 1);
  p.on_link = (flags & 0x80) != 0;
  p.autonomous = (flags & 0x40) != 0;
  p.valid_lifetime = load_be32(o.body, 2);
  p.preferred_lifetime = load_be32(o.body, 6);
  p.prefix = Ipv6Address::from_bytes(o.body.subspan(14));  // after 4 reserved bytes
  return p;
}

std::uint32_t ndp_mtu(const NdpOption& o) noexcept { return load_be32(o.body, 2); }

RdnssInfo ndp_rdnss(const NdpOption& o) noexcept {
  RdnssInfo r;
  r.lifetime = load_be32(o.body, 2);
  const Bytes addrs = o.body.subspan(6);
  r.addresses = addrs.first(addrs.size() - addrs.size() % 16);
  return r;
}

std::optional<NdpOptions> NdpOptions::parse(Bytes raw, NdpOptionError* why) noexcept {
  if (auto e = ndp_options_error(raw)) {
    if (why != nullptr) *why = *e;
    return std::nullopt;
  }
  NdpOptions s;
  s.raw = raw;
  NdpOptionIterator it{raw};
  while (auto o = it.next()) {
    switch (NdpOptionType{o->type}) {
      case NdpOptionType::kSourceLinkAddr:
        if (!s.source_link_addr) s.source_link_addr = ndp_link_addr(*o);
        break;
      case NdpOptionType::kTargetLinkAddr:
        if (!s.target_link_addr) s.target_link_addr = ndp_link_addr(*o);
        break;
      case NdpOptionType::kPrefixInfo:
        ++s.prefix_count;
        break;
      case NdpOptionType::kRedirectedHeader:
        if (s.redirected_header.empty()) s.redirected_header = o->body.subspan(6);  // after 6 reserved bytes
        break;
      case NdpOptionType::kMtu:
        if (!s.mtu) s.mtu = ndp_mtu(*o);
        break;
      case NdpOptionType::kRdnss:
        ++s.rdnss_count;
        break;
      case NdpOptionType::kDnssl:
        ++s.dnssl_count;
        break;
      default:
        ++s.unknown_count;
        break;
    }
  }
  return s;
}

std::size_t emit_ndp_link_addr(MutableBytes out, NdpOptionType type, const MacAddress& mac) noexcept {
  store_u8(out, 0, std::uint8_t(type));
  store_u8(out, 1, 1);
  mac.write(out.subspan(2, 6));
  return 8;
}

std::size_t emit_ndp_prefix_info(MutableBytes out, const PrefixInfo& p) noexcept {
  store_u8(out, 0, std::uint8_t(NdpOptionType::kPrefixInfo));
  store_u8(out, 1, 4);
  store_u8(out, 2, p.prefix_len);
  store_u8(out, 3, std::uint8_t((p.on_link ? 0x80 : 0) | (p.autonomous ? 0x40 : 0)));
  store_be32(out, 4, p.valid_lifetime);
  store_be32(out, 8, p.preferred_lifetime);
  store_be32(out, 12, 0);
  p.prefix.write(out.subspan(16, 16));
  return 32;
}

std::size_t emit_ndp_mtu(MutableBytes out, std::uint32_t mtu) noexcept {
  store_u8(out, 0, std::uint8_t(NdpOptionType::kMtu));
  store_u8(out, 1, 1);
  store_be16(out, 2, 0);
  store_be32(out, 4, mtu);
  return 8;
}

std::size_t emit_ndp_rdnss(MutableBytes out, std::uint32_t lifetime, std::span<const Ipv6Address> addresses) noexcept {
  const std::size_t len = 8 + 16 * addresses.size();
  store_u8(out, 0, std::uint8_t(NdpOptionType::kRdnss));
  store_u8(out, 1, std::uint8_t(1 + 2 * addresses.size()));
  store_be16(out, 2, 0);
  store_be32(out, 4, lifetime);
  for (std::size_t i = 0; i < addresses.size(); ++i) addresses[i].write(out.subspan(8 + 16 * i, 16));
  return len;
}

}  // namespace tapstack::ip
