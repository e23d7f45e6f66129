// IPv6 header wire format (RFC 8200 §3) with the extension header chain walker (§4) and the address helpers
// NDP/MLD need (RFC 4291, RFC 2464). The interface parses every EtherType 0x86dd payload here, walks the chain
// to the upper-layer header, and hands fragments to ip/reassembly6; errors come back as data (Parameter Problem).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>

#include "ip/address.hpp"
#include "ip/ipv4.hpp"  // ChecksumCheck
#include "ip/transport.hpp"
#include "stack/bytes.hpp"

namespace tapstack::ip {

inline constexpr std::size_t kIpv6HeaderLen = 40;
inline constexpr std::size_t kIpv6MaxPayloadLen = 65535;  // without jumbograms (RFC 2675 is not supported)
inline constexpr std::size_t kIpv6MinMtu = 1280;          // RFC 8200 §5
inline constexpr std::size_t kIpv6FragmentHeaderLen = 8;

// Next Header values the walker knows (IANA "Assigned Internet Protocol Numbers").
inline constexpr std::uint8_t kIpv6NextHopByHop = 0;
inline constexpr std::uint8_t kIpv6NextRouting = 43;
inline constexpr std::uint8_t kIpv6NextFragment = 44;
inline constexpr std::uint8_t kIpv6NextNone = 59;
inline constexpr std::uint8_t kIpv6NextDestOpts = 60;

// Option types of Hop-by-Hop / Destination Options headers (RFC 8200 §4.2, RFC 2711, RFC 2675).
inline constexpr std::uint8_t kIpv6OptPad1 = 0;
inline constexpr std::uint8_t kIpv6OptPadN = 1;
inline constexpr std::uint8_t kIpv6OptRouterAlert = 5;
inline constexpr std::uint8_t kIpv6OptJumbo = 0xc2;
inline constexpr std::uint16_t kRouterAlertMld = 0;  // RFC 2711 §2.1: value 0 = Multicast Listener Discovery

namespace ipv6_field {
inline constexpr std::size_t kVerTcFlow = 0;  // version(4) | traffic class(8) | flow label(20)
inline constexpr std::size_t kPayloadLen = 4;
inline constexpr std::size_t kNextHeader = 6;
inline constexpr std::size_t kHopLimit = 7;
inline constexpr std::size_t kSrc = 8;
inline constexpr std::size_t kDst = 24;
}  // namespace ipv6_field

// Why Ipv6View::parse refused a packet; the interface bumps a counter named after it.
enum class Ipv6Error : std::uint8_t {
  kTruncated,      // fewer than 40 bytes
  kBadVersion,     // version != 6
  kBadPayloadLen,  // payload length > the bytes after the header (the frame was cut)
  kJumbogram,      // payload length 0 with a Hop-by-Hop header: a jumbogram (RFC 2675), not supported
};
std::string_view to_string(Ipv6Error e) noexcept;  // "truncated", "bad_version", "bad_payload_len", "jumbogram"
std::ostream& operator<<(std::ostream& os, Ipv6Error e);

// A checked view of one IPv6 packet. After parse(): version 6, 40 + payload length <= the buffer, and bytes()
// is trimmed to 40 + payload length (Ethernet padding dropped). The extension headers are not looked at:
// walk_ipv6_chain() does that.
template <class Byte>
class BasicIpv6View {
 public:
  static std::optional<BasicIpv6View> parse(std::span<Byte> b, Ipv6Error* why = nullptr) noexcept {
    auto fail = [why](Ipv6Error e) -> std::optional<BasicIpv6View> {
      if (why != nullptr) *why = e;
      return std::nullopt;
    };
    if (b.size() < kIpv6HeaderLen) return fail(Ipv6Error::kTruncated);
    if ((load_u8(b, ipv6_field::kVerTcFlow) >> 4) != 6) return fail(Ipv6Error::kBadVersion);
    const std::size_t plen = load_be16(b, ipv6_field::kPayloadLen);
    if (plen > b.size() - kIpv6HeaderLen) return fail(Ipv6Error::kBadPayloadLen);
    // RFC 2675 §3: payload length 0 with a Hop-by-Hop header announces a jumbogram; we take none.
    if (plen == 0 && load_u8(b, ipv6_field::kNextHeader) == kIpv6NextHopByHop) return fail(Ipv6Error::kJumbogram);
    return BasicIpv6View{b.first(kIpv6HeaderLen + plen)};
  }

  std::uint8_t version() const noexcept { return load_u8(buf_, ipv6_field::kVerTcFlow) >> 4; }
  std::uint8_t traffic_class() const noexcept {  // DSCP << 2 | ECN
    return std::uint8_t(load_be16(buf_, ipv6_field::kVerTcFlow) >> 4);
  }
  std::uint32_t flow_label() const noexcept { return load_be32(buf_, ipv6_field::kVerTcFlow) & 0xfffffu; }
  std::uint16_t payload_len() const noexcept { return load_be16(buf_, ipv6_field::kPayloadLen); }
  std::uint8_t next_header() const noexcept { return load_u8(buf_, ipv6_field::kNextHeader); }
  std::uint8_t hop_limit() const noexcept { return load_u8(buf_, ipv6_field::kHopLimit); }
  Ipv6Address src() const noexcept { return Ipv6Address::from_bytes(Bytes{buf_}.subspan(ipv6_field::kSrc)); }
  Ipv6Address dst() const noexcept { return Ipv6Address::from_bytes(Bytes{buf_}.subspan(ipv6_field::kDst)); }
  std::span<Byte> header() const noexcept { return buf_.first(kIpv6HeaderLen); }
  std::span<Byte> payload() const noexcept { return buf_.subspan(kIpv6HeaderLen); }  // extension headers included
  std::span<Byte> bytes() const noexcept { return buf_; }

 private:
  explicit BasicIpv6View(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};
using Ipv6View = BasicIpv6View<const std::byte>;
using MutableIpv6View = BasicIpv6View<std::byte>;

// The fixed header's fields. Extension headers are not kept (walk_ipv6_chain reads them; emit writes none:
// callers that need one, like emit_mldv2_report_packet, write it after the header and set next_header).
struct Ipv6Repr {
  Ipv6Address src, dst;
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 64;
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;   // 20 bits; emit masks it
  std::uint16_t payload_len = 0;  // bytes after the fixed header, extension headers included

  static Ipv6Repr parse(const Ipv6View& v) noexcept;  // cannot fail once the view parsed
  std::size_t buffer_len() const noexcept { return kIpv6HeaderLen + payload_len; }
  // Writes the 40-byte header into out[0, 40); out.size() >= 40. The payload is the caller's.
  void emit(MutableBytes out) const noexcept;
  // The upper-layer pseudo-header (RFC 8200 §8.1) for `protocol` carried in `upper_len` bytes.
  PseudoHeader pseudo_header(std::uint8_t protocol, std::uint32_t upper_len) const noexcept {
    return PseudoHeader{src, dst, protocol, upper_len};
  }
  friend bool operator==(const Ipv6Repr&, const Ipv6Repr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Ipv6Repr& r);
};

// ---- Extension header chain (RFC 8200 §4) ----

// Parameter Problem codes (RFC 4443 §3.4, RFC 7112 §5). Defined here so the walker and the reassembler can
// return the error to send as data; icmpv6.hpp emits it.
enum class Ipv6ParamProblemCode : std::uint8_t {
  kErroneousHeader = 0,         // pointer: the offending field
  kUnrecognizedNextHeader = 1,  // pointer: the Next Header field that named it
  kUnrecognizedOption = 2,      // pointer: the option's type byte
  kIncompleteChain = 3,         // RFC 7112: first fragment without the whole header chain; pointer 0
};
// An ICMPv6 Parameter Problem the interface should send about the packet just refused (subject to
// may_send_error_about and rate limiting). `pointer` counts from the start of the IPv6 header (RFC 4443 §3.4).
struct Ipv6ParamProblem {
  Ipv6ParamProblemCode code = Ipv6ParamProblemCode::kErroneousHeader;
  std::uint32_t pointer = 0;
  friend constexpr bool operator==(const Ipv6ParamProblem&, const Ipv6ParamProblem&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Ipv6ParamProblem& p);
};

// What an unrecognized option asks for, from the two high-order bits of its type (RFC 8200 §4.2).
enum class Ipv6OptionAction : std::uint8_t {
  kSkip = 0,                // 00: skip over it
  kDiscard = 1,             // 01: discard the packet silently
  kDiscardIcmp = 2,         // 10: discard, Parameter Problem code 2 even to multicast
  kDiscardIcmpUnicast = 3,  // 11: discard, Parameter Problem code 2 only when the destination is not multicast
};
constexpr Ipv6OptionAction ipv6_option_action(std::uint8_t type) noexcept { return Ipv6OptionAction(type >> 6); }

// The Fragment header (RFC 8200 §4.5) as found by the walker.
struct Ipv6FragmentHeader {
  std::uint8_t next_header = 0;  // of the fragmentable part
  std::uint16_t offset = 0;      // bytes (the field is in 8-byte units): 0 ..= 65528
  bool more_fragments = false;   // M flag
  std::uint32_t ident = 0;
  std::size_t header_offset = 0;      // where the Fragment header starts, from the IPv6 header: the
                                      // unfragmentable part is [0, header_offset)
  std::size_t next_header_field = 0;  // offset of the Next Header field that names the Fragment header
  // RFC 6946 §4: offset 0 and M = 0 is an atomic fragment, processed standalone (not reassembled).
  bool is_atomic() const noexcept { return offset == 0 && !more_fragments; }
  friend bool operator==(const Ipv6FragmentHeader&, const Ipv6FragmentHeader&) = default;
};

// The result of a successful walk: where the upper layer starts and what the headers on the way said.
struct Ipv6Chain {
  std::uint8_t upper_layer = 0;        // protocol after the last extension header (kIpv6NextNone: no payload)
  std::size_t upper_layer_offset = 0;  // from the start of the IPv6 header
  std::size_t next_header_field = ipv6_field::kNextHeader;  // the Next Header field naming upper_layer
  std::size_t header_count = 0;                             // extension headers walked
  std::optional<Ipv6FragmentHeader> fragment;               // the last Fragment header seen (atomic ones included)
  std::optional<std::uint16_t> router_alert;                // Hop-by-Hop Router Alert value (RFC 2711), for MLD
  // A non-atomic fragment: the walk stopped at its Fragment header and the packet goes to Reassembler6.
  bool needs_reassembly() const noexcept { return fragment && !fragment->is_atomic(); }
  // The Parameter Problem to send when no handler takes `upper_layer` (RFC 8200 §4, RFC 4443 §3.4 code 1).
  Ipv6ParamProblem unrecognized_next_header() const noexcept {
    return {Ipv6ParamProblemCode::kUnrecognizedNextHeader, std::uint32_t(next_header_field)};
  }
};

// Why the walk refused a packet; the interface bumps a counter named after it.
enum class Ipv6ChainError : std::uint8_t {
  kTruncated,          // a header (or its length) runs past the payload: CVE-2020-17442/17444 class
  kHopByHopNotFirst,   // RFC 8200 §4.1: Hop-by-Hop only right after the IPv6 header (ICMP code 1)
  kTooManyHeaders,     // more than max_headers extension headers (RFC 8504 §5.3 allows a limit)
  kChainTooLong,       // the chain passes max_chain_len bytes
  kRoutingType0,       // RFC 5095 §3: RH0 is never processed; dropped (ICMP code 0 if segments left > 0)
  kRoutingHeader,      // unsupported routing type with segments left > 0 (RFC 8200 §4.4: ICMP code 0)
  kUnknownNextHeader,  // not an extension header we walk and not TCP/UDP/ICMPv6/No Next Header (code 1)
  kBadOption,          // an option runs past its header, or a known option has the wrong length
  kJumboOption,        // RFC 2675 Jumbo Payload option: not supported
  kUnknownOption,      // an unrecognized option whose high-order bits say discard (§4.2; code 2 maybe)
};
std::string_view to_string(Ipv6ChainError e) noexcept;  // "truncated", "hop_by_hop_not_first", ...
std::ostream& operator<<(std::ostream& os, Ipv6ChainError e);

struct Ipv6ChainFailure {
  Ipv6ChainError error = Ipv6ChainError::kTruncated;
  std::optional<Ipv6ParamProblem> param_problem;  // set when RFC 8200/4443 ask for an ICMPv6 error
};

struct Ipv6ChainOptions {
  std::size_t max_headers = 8;  // extension headers per packet
  // Bytes of extension headers: the chain must fit a minimum-MTU packet (RFC 7112 §5 for fragments,
  // RFC 8504 §5.3 for everything else).
  std::size_t max_chain_len = kIpv6MinMtu - kIpv6HeaderLen;
  // Walk on past the Fragment header of a first fragment (offset 0, M = 1) to check that the whole chain
  // up to the upper-layer header is present (RFC 7112 §5). Reassembler6 uses this; the receive path stops
  // at the Fragment header of any non-atomic fragment.
  bool through_first_fragment = false;
};

// Upper-layer protocols the walker accepts at the end of a chain: TCP, UDP, ICMPv6 and No Next Header.
// Anything else that is not a walked extension header (including ESP/AH/Mobility) is unrecognized.
constexpr bool ipv6_is_upper_layer(std::uint8_t next_header) noexcept {
  return next_header == std::uint8_t(IpProtocol::kTcp) || next_header == std::uint8_t(IpProtocol::kUdp) ||
         next_header == std::uint8_t(IpProtocol::kIcmpv6) || next_header == kIpv6NextNone;
}
// The bytes of upper-layer header a first fragment must hold (RFC 7112 §5; Linux ipv6_frag_thdr_truncated):
// TCP 20, UDP 8, ICMPv6 8, No Next Header 0, anything else 1.
constexpr std::size_t ipv6_upper_layer_min_len(std::uint8_t next_header) noexcept {
  switch (next_header) {
    case std::uint8_t(IpProtocol::kTcp):
      return 20;
    case std::uint8_t(IpProtocol::kUdp):
      return 8;
    case std::uint8_t(IpProtocol::kIcmpv6):
      return 8;
    case kIpv6NextNone:
      return 0;
    default:
      return 1;
  }
}

// Walks the extension headers of `v` (RFC 8200 §4): Hop-by-Hop (first only), Destination Options (options
// walked: Pad1, PadN, Router Alert, Jumbo refused, unknown ones by their high-order bits), Routing (RH0
// refused; other types skipped when segments left is 0), Fragment (an atomic fragment is walked through,
// RFC 6946; any other stops the walk unless options.through_first_fragment). Every header advances by
// (len + 1) * 8 bytes (8 for Fragment), bounds-checked against the payload. Returns the chain, or nullopt with
// *why saying what was wrong and which Parameter Problem (if any) to send. Never reads past v.bytes().
std::optional<Ipv6Chain> walk_ipv6_chain(const Ipv6View& v, Ipv6ChainFailure* why = nullptr,
                                         const Ipv6ChainOptions& options = {}) noexcept;

// ---- Address helpers (RFC 4291, RFC 2464) ----

inline constexpr Ipv6Address kIpv6AllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};
inline constexpr Ipv6Address kIpv6AllRouters{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02}};
inline constexpr Ipv6Address kIpv6AllMldv2Routers{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16}};

// RFC 4291 §2.7: the multicast scope field values; unicast addresses map onto the same scale (RFC 6724 §3.1:
// loopback and link-local unicast are link-local, everything else global; site-local fec0::/10 is site).
enum class Ipv6Scope : std::uint8_t {
  kInterfaceLocal = 0x1,
  kLinkLocal = 0x2,
  kAdminLocal = 0x4,
  kSiteLocal = 0x5,
  kOrganizationLocal = 0x8,
  kGlobal = 0xe,
};
Ipv6Scope ipv6_scope(const Ipv6Address& a) noexcept;

// RFC 4291 §2.7.1: ff02::1:ffXX:XXXX with the low 24 bits of `unicast`.
Ipv6Address solicited_node_multicast(const Ipv6Address& unicast) noexcept;
bool is_solicited_node_multicast(const Ipv6Address& a) noexcept;
// RFC 2464 §7: 33:33 followed by the low 32 bits of the multicast address.
MacAddress ipv6_multicast_mac(const Ipv6Address& multicast) noexcept;
// RFC 4291 App. A: the modified EUI-64 interface identifier of a 48-bit MAC (ff:fe inserted, U/L bit flipped).
std::array<std::uint8_t, 8> modified_eui64(const MacAddress& mac) noexcept;
// The upper 64 bits of `prefix` followed by `iid` (SLAAC, RFC 4862 §5.5.3).
Ipv6Address ipv6_with_interface_id(const Ipv6Address& prefix, const std::array<std::uint8_t, 8>& iid) noexcept;
// fe80::/64 + modified EUI-64 of `mac` (RFC 4862 §5.3, RFC 2464 §5).
Ipv6Address link_local_from_mac(const MacAddress& mac) noexcept;

}  // namespace tapstack::ip
