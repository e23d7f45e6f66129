// IPv4 header (RFC 791): option walking, Repr parse/emit and printing (the checked view is inline in ipv4.hpp).
#include "ip/ipv4.hpp"

namespace tapstack::ip {

std::string_view to_string(Ipv4Error e) noexcept {
  switch (e) {
    case Ipv4Error::kTruncated: return "truncated";
    case Ipv4Error::kBadVersion: return "bad_version";
    case Ipv4Error::kBadHeaderLen: return "bad_header_len";
    case Ipv4Error::kBadTotalLen: return "bad_total_len";
    case Ipv4Error::kBadChecksum: return "bad_checksum";
    case Ipv4Error::kBadOptions: return "bad_options";
    case Ipv4Error::kSourceRoute: return "source_route";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, Ipv4Error e) { return os << to_string(e); }

// RFC 791 §3.1 option formats; RFC 1122 §3.2.1.8 (unknown options ignored) and §3.2.1.8c (a host may refuse
// source routes; we always do, CONFORMANCE §2). Every step advances by at least one byte, so it terminates
// (picoTCP CVE-2020-24337 looped on length 0).
std::optional<Ipv4Error> ipv4_options_error(Bytes options) noexcept {
  std::size_t off = 0;
  while (off < options.size()) {
    const std::uint8_t type = load_u8(options, off);
    if (type == kIpv4OptEnd) return std::nullopt;  // the rest is padding
    if (type == kIpv4OptNop) {
      ++off;
      continue;
    }
    if (off + 1 >= options.size()) return Ipv4Error::kBadOptions;  // no room for the length byte
    const std::size_t len = load_u8(options, off + 1);
    if (len < 2 || len > options.size() - off) return Ipv4Error::kBadOptions;
    const std::uint8_t number = type & 0x1f;  // without the copied flag and class (RFC 791 §3.1)
    if (number == (kIpv4OptLsrr & 0x1f) || number == (kIpv4OptSsrr & 0x1f)) return Ipv4Error::kSourceRoute;
    off += len;
  }
  return std::nullopt;
}

Ipv4Repr Ipv4Repr::parse(const Ipv4View& v) noexcept {
  Ipv4Repr r;
  r.src = v.src();
  r.dst = v.dst();
  r.protocol = v.protocol();
  r.ttl = v.ttl();
  r.tos = v.tos();
  r.ident = v.ident();
  r.dont_fragment = v.dont_fragment();
  r.more_fragments = v.more_fragments();
  r.frag_offset = v.frag_offset();
  r.payload_len = std::uint16_t(v.payload().size());
  r.header_len = std::uint8_t(v.header_len());
  return r;
}

void Ipv4Repr::emit(MutableBytes out) const noexcept {
  // The ten 16-bit words of the header, summed as values: reading the just-stored bytes back for the checksum
  // would stall on store forwarding (wide loads over narrow stores).
  const std::uint16_t ver_tos = std::uint16_t(0x4500 | tos);
  const auto total_len = std::uint16_t(kIpv4MinHeaderLen + payload_len);
  std::uint16_t flags_frag = std::uint16_t((frag_offset / 8u) & ipv4_field::kFragOffsetMask);
  if (dont_fragment) flags_frag |= ipv4_field::kFlagDf;
  if (more_fragments) flags_frag |= ipv4_field::kFlagMf;
  const std::uint16_t ttl_proto = std::uint16_t((ttl << 8) | protocol);
  const std::uint32_t s = src.to_u32(), d = dst.to_u32();
  const std::uint64_t sum = std::uint64_t(ver_tos) + total_len + ident + flags_frag + ttl_proto + (s >> 16) +
                            (s & 0xffff) + (d >> 16) + (d & 0xffff);
  store_be16(out, ipv4_field::kVerIhl, ver_tos);  // version 4, IHL 5, then TOS
  store_be16(out, ipv4_field::kTotalLen, total_len);
  store_be16(out, ipv4_field::kIdent, ident);
  store_be16(out, ipv4_field::kFlagsFrag, flags_frag);
  store_be16(out, ipv4_field::kTtl, ttl_proto);  // TTL, then protocol
  store_be16(out, ipv4_field::kChecksum, std::uint16_t(~checksum_fold(sum)));
  store_be32(out, ipv4_field::kSrc, s);
  store_be32(out, ipv4_field::kDst, d);
}

std::ostream& operator<<(std::ostream& os, const Ipv4Repr& r) {
  os << "Ipv4Repr{" << r.src << " -> " << r.dst << " proto=" << unsigned(r.protocol) << " ttl=" << unsigned(r.ttl)
     << " tos=" << unsigned(r.tos) << " id=" << r.ident;
  if (r.dont_fragment) os << " DF";
  if (r.more_fragments) os << " MF";
  return os << " off=" << r.frag_offset << " payload=" << r.payload_len << " hlen=" << unsigned(r.header_len) << '}';
}

}  // namespace tapstack::ip
