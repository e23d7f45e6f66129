// ICMPv6 wire format (RFC 4443): echo and the four error messages, the rule for when an error may be sent
// (§2.4 e), Neighbor Discovery messages (RFC 4861 §4: RS, RA, NS, NA; Redirect parse-only) with their
// validation (§6.1, §7.1, §8.1), and MLDv2 reports (RFC 3810 §5.2). The interface parses the upper layer of
// protocol-58 packets here: echo is answered, errors go to the transports, NDP to the neighbour cache.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <variant>

#include "ip/address.hpp"
#include "ip/ipv6.hpp"
#include "ip/ndp_options.hpp"
#include "ip/transport.hpp"
#include "stack/bytes.hpp"
#include "stack/checksum.hpp"

namespace tapstack::ip {

inline constexpr std::size_t kIcmpv6HeaderLen = 8;  // type, code, checksum, 4 type-specific bytes
// RFC 4443 §2.4 (c): an error carries as much of the invoking packet as fits a minimum-MTU packet.
inline constexpr std::size_t kIcmpv6MaxQuoteLen = kIpv6MinMtu - kIpv6HeaderLen - kIcmpv6HeaderLen;  // 1232
inline constexpr std::uint8_t kNdpHopLimit = 255;  // RFC 4861 §6.1, §7.1: sent and required on receipt

enum class Icmpv6Type : std::uint8_t {
  kDestUnreachable = 1,
  kPacketTooBig = 2,
  kTimeExceeded = 3,
  kParameterProblem = 4,
  kEchoRequest = 128,
  kEchoReply = 129,
  kMldQuery = 130,
  kMldv1Report = 131,
  kMldv1Done = 132,
  kRouterSolicit = 133,
  kRouterAdvert = 134,
  kNeighborSolicit = 135,
  kNeighborAdvert = 136,
  kRedirect = 137,
  kMldv2Report = 143,
};
std::ostream& operator<<(std::ostream& os, Icmpv6Type t);

// RFC 4443 §3.1, RFC 6550 §20.18 (code 7).
enum class Icmpv6Unreachable : std::uint8_t {
  kNoRoute = 0,
  kAdminProhibited = 1,
  kBeyondScope = 2,
  kAddress = 3,
  kPort = 4,
  kSourcePolicy = 5,
  kRejectRoute = 6,
  kSourceRoutingHeader = 7,
};
enum class Icmpv6TimeExceeded : std::uint8_t { kHopLimit = 0, kReassembly = 1 };  // RFC 4443 §3.3
using Icmpv6ParamProblem = Ipv6ParamProblemCode;                                  // RFC 4443 §3.4, RFC 7112

// RFC 4443 §2.1: types 0..127 are errors, 128..255 informational.
constexpr bool icmpv6_is_error(std::uint8_t type) noexcept { return type < 128; }

// Why parsing refused a message; the interface bumps a counter named after it.
enum class Icmpv6Error : std::uint8_t {
  kTruncated,        // fewer than 8 bytes
  kBadChecksum,      // the checksum over pseudo-header + message does not verify
  kUnsupportedType,  // an informational type Icmpv6Repr does not carry (NDP and MLD: see parse_ndp, Mldv2Report)
  kBadQuote,         // an error quoting less than a whole IPv6 header
};
std::string_view to_string(Icmpv6Error e) noexcept;  // "truncated", "bad_checksum", "unsupported_type", "bad_quote"
std::ostream& operator<<(std::ostream& os, Icmpv6Error e);

namespace icmpv6_field {
inline constexpr std::size_t kType = 0;
inline constexpr std::size_t kCode = 1;
inline constexpr std::size_t kChecksum = 2;
inline constexpr std::size_t kRest = 4;     // type-specific 4 bytes
inline constexpr std::size_t kIdent = 4;    // echo
inline constexpr std::size_t kSeq = 6;      // echo
inline constexpr std::size_t kMtu = 4;      // packet too big
inline constexpr std::size_t kPointer = 4;  // parameter problem
inline constexpr std::size_t kData = 8;
}  // namespace icmpv6_field

// The ICMPv6 checksum (RFC 4443 §2.3) of `message` (checksum field included as it is) between src and dst:
// 0 when a received message verifies. Emitters store the value computed with the field zeroed.
std::uint16_t icmpv6_checksum(Bytes message, const Ipv6Address& src, const Ipv6Address& dst) noexcept;

// A checked view of one ICMPv6 message: at least 8 bytes, checksum verified (unless kSkip) over the IPv6
// pseudo-header (RFC 8200 §8.1) built from ph.src and ph.dst (both IPv6) with length b.size() and next header
// 58 (ph.protocol and ph.length are not used). `b` is the whole upper-layer part of the packet.
template <class Byte>
class BasicIcmpv6View {
 public:
  static std::optional<BasicIcmpv6View> parse(std::span<Byte> b, const PseudoHeader& ph, Icmpv6Error* why = nullptr,
                                              ChecksumCheck check = ChecksumCheck::kVerify) noexcept {
    auto fail = [why](Icmpv6Error e) -> std::optional<BasicIcmpv6View> {
      if (why != nullptr) *why = e;
      return std::nullopt;
    };
    if (b.size() < kIcmpv6HeaderLen) return fail(Icmpv6Error::kTruncated);
    if (check == ChecksumCheck::kVerify &&
        (!ph.src.is_v6() || !ph.dst.is_v6() || icmpv6_checksum(b, ph.src.v6(), ph.dst.v6()) != 0))
      return fail(Icmpv6Error::kBadChecksum);
    return BasicIcmpv6View{b};
  }
  std::uint8_t type() const noexcept { return load_u8(buf_, icmpv6_field::kType); }
  std::uint8_t code() const noexcept { return load_u8(buf_, icmpv6_field::kCode); }
  std::uint16_t checksum() const noexcept { return load_be16(buf_, icmpv6_field::kChecksum); }
  std::uint32_t rest_of_header() const noexcept { return load_be32(buf_, icmpv6_field::kRest); }
  std::uint16_t echo_ident() const noexcept { return load_be16(buf_, icmpv6_field::kIdent); }
  std::uint16_t echo_seq() const noexcept { return load_be16(buf_, icmpv6_field::kSeq); }
  std::uint32_t mtu() const noexcept { return load_be32(buf_, icmpv6_field::kMtu); }
  std::uint32_t pointer() const noexcept { return load_be32(buf_, icmpv6_field::kPointer); }
  std::span<Byte> data() const noexcept { return buf_.subspan(kIcmpv6HeaderLen); }  // echo data or the quote
  std::span<Byte> bytes() const noexcept { return buf_; }

 private:
  explicit BasicIcmpv6View(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};
using Icmpv6View = BasicIcmpv6View<const std::byte>;
using MutableIcmpv6View = BasicIcmpv6View<std::byte>;

// Echo or error. Which fields matter depends on `type`; parse sets the others to zero and emit ignores them:
//   kEchoRequest / kEchoReply: ident, seq, data = the echo data (any length, 0 included)
//   kDestUnreachable:          code (Icmpv6Unreachable), data = the quote
//   kPacketTooBig:             mtu, data = the quote
//   kTimeExceeded:             code (Icmpv6TimeExceeded), data = the quote
//   kParameterProblem:         code (Icmpv6ParamProblem), pointer, data = the quote
//   any other type < 128:      an unknown error (RFC 4443 §2.4 b: passed up like the known ones), data = quote
// A quote is the invoking packet from its IPv6 header on: >= 40 bytes on parse (parse_icmpv6_quote reads it),
// at most kIcmpv6MaxQuoteLen on emit (icmpv6_error_quote). `data` borrows: don't keep it past the call.
struct Icmpv6Repr {
  Icmpv6Type type = Icmpv6Type::kEchoRequest;
  std::uint8_t code = 0;
  std::uint16_t ident = 0, seq = 0;
  std::uint32_t mtu = 0;
  std::uint32_t pointer = 0;
  Bytes data;

  static std::optional<Icmpv6Repr> parse(const Icmpv6View& v, Icmpv6Error* why = nullptr) noexcept;
  std::size_t buffer_len() const noexcept { return kIcmpv6HeaderLen + data.size(); }
  // Writes the message with its checksum for `ph` (IPv6 src/dst) into out[0, buffer_len()). `data` may alias
  // out[8, ...) (a reply built over the request): it is moved, not assumed disjoint.
  void emit(MutableBytes out, const PseudoHeader& ph) const noexcept;
  bool is_error() const noexcept { return icmpv6_is_error(std::uint8_t(type)); }
  // RFC 8201 §4: a Packet Too Big reporting less than 1280 must not lower the path MTU; the user ignores it.
  bool mtu_below_minimum() const noexcept { return type == Icmpv6Type::kPacketTooBig && mtu < kIpv6MinMtu; }

  static Icmpv6Repr echo_request(std::uint16_t ident, std::uint16_t seq, Bytes data) noexcept {
    return {Icmpv6Type::kEchoRequest, 0, ident, seq, 0, 0, data};
  }
  // RFC 4443 §4.2: the reply returns the request's identifier, sequence number and data.
  static Icmpv6Repr echo_reply_to(const Icmpv6Repr& req) noexcept {
    return {Icmpv6Type::kEchoReply, 0, req.ident, req.seq, 0, 0, req.data};
  }
  static Icmpv6Repr dest_unreachable(Icmpv6Unreachable code, Bytes quote) noexcept {
    return {Icmpv6Type::kDestUnreachable, std::uint8_t(code), 0, 0, 0, 0, quote};
  }
  static Icmpv6Repr packet_too_big(std::uint32_t mtu, Bytes quote) noexcept {
    return {Icmpv6Type::kPacketTooBig, 0, 0, 0, mtu, 0, quote};
  }
  static Icmpv6Repr time_exceeded(Icmpv6TimeExceeded code, Bytes quote) noexcept {
    return {Icmpv6Type::kTimeExceeded, std::uint8_t(code), 0, 0, 0, 0, quote};
  }
  static Icmpv6Repr parameter_problem(const Ipv6ParamProblem& p, Bytes quote) noexcept {
    return {Icmpv6Type::kParameterProblem, std::uint8_t(p.code), 0, 0, 0, p.pointer, quote};
  }

  friend bool operator==(const Icmpv6Repr& a, const Icmpv6Repr& b) noexcept;  // data by content
  friend std::ostream& operator<<(std::ostream& os, const Icmpv6Repr& r);
};

// The prefix of an invoking packet that an error about it carries (RFC 4443 §2.4 c): up to 1232 bytes, so
// the error fits 1280.
inline Bytes icmpv6_error_quote(Bytes invoking_packet) noexcept {
  return invoking_packet.first(std::min(invoking_packet.size(), kIcmpv6MaxQuoteLen));
}

// The packet an error would be about, as far as RFC 4443 §2.4 (e) cares.
struct Icmpv6ErrorSubject {
  Ipv6Address src, dst;
  bool link_multicast = false;  // it arrived in a link-layer multicast or broadcast frame
  bool icmpv6_error = false;    // it is an ICMPv6 error or Redirect, or ICMPv6 whose type could not be read
};
// Reads the subject from an invoking packet (at least its 40-byte header; fewer gives a subject that allows
// nothing). Extension headers are skipped leniently (bounds-checked, at most 16) to find an ICMPv6 type.
Icmpv6ErrorSubject icmpv6_error_subject(Bytes invoking_packet, bool link_multicast) noexcept;
// RFC 4443 §2.4 (e): no error about an ICMPv6 error or Redirect (e.1, e.2); none about a packet sent to an
// IPv6 multicast address or as link-layer multicast/broadcast (e.3-e.5) except Packet Too Big and Parameter
// Problem code 2 (unrecognized option); none about a packet whose source is unspecified, multicast (e.6) or
// loopback (never a real sender on a link, RFC 4291 §2.5.3). Rate limiting (§2.4 f) is the caller's.
bool may_send_error_about(Icmpv6Type type, std::uint8_t code, const Icmpv6ErrorSubject& subject) noexcept;

// The invoking packet an error quotes, read leniently: it is cut, so the payload length is not checked
// against the bytes present. Requires version 6 and the 40-byte header; skips extension headers (bounds
// checked) to the upper layer; a quote of a non-first fragment has no upper-layer header (frag_offset != 0).
struct Icmpv6Quote {
  Ipv6Address src, dst;           // of the packet this host sent (src normally ours)
  std::uint8_t upper_layer = 0;   // protocol after the extension headers found in the quote
  std::uint16_t frag_offset = 0;  // bytes, from a Fragment header in the quote (0 without one)
  Bytes transport;                // the quoted bytes of the upper layer (may be short: check before reading)
  friend bool operator==(const Icmpv6Quote& a, const Icmpv6Quote& b) noexcept;
  friend std::ostream& operator<<(std::ostream& os, const Icmpv6Quote& q);
};
std::optional<Icmpv6Quote> parse_icmpv6_quote(Bytes quote) noexcept;

// ---- Neighbor Discovery (RFC 4861) ----

// Why parse_ndp refused a message: RFC 4861 says "silently discard"; the interface counts it.
enum class NdpError : std::uint8_t {
  kNotNdp,                // the type is not 133..137
  kFragmented,            // RFC 6980 §5: NDP messages in fragmented packets are dropped
  kBadHopLimit,           // IP hop limit != 255 (the sender may be off-link)
  kBadCode,               // ICMP code != 0
  kTruncated,             // shorter than the message's fixed part
  kBadOptions,            // ndp_options_error() refused the options (its reason goes to *option_why)
  kMulticastTarget,       // NS/NA target (or Redirect destination) is multicast
  kDadBadDestination,     // NS from :: not sent to a solicited-node multicast address (§7.1.1)
  kUnspecifiedWithSlla,   // NS or RS from :: carrying a Source Link-Layer Address option (§6.1.1, §7.1.1)
  kSolicitedToMulticast,  // NA with S = 1 sent to a multicast address (§7.1.2)
  kSourceNotLinkLocal,    // RA or Redirect whose IP source is not link-local (§6.1.2, §8.1)
  kBadRedirectTarget,     // Redirect target neither link-local nor the destination (§8.1)
};
std::string_view to_string(NdpError e) noexcept;  // "not_ndp", "fragmented", "bad_hop_limit", ...
std::ostream& operator<<(std::ostream& os, NdpError e);

// What the IP layer knows about the packet an NDP message came in.
struct NdpContext {
  Ipv6Address src, dst;
  std::uint8_t hop_limit = 0;
  bool fragmented = false;  // it had a (non-atomic) Fragment header / was reassembled
};

// RFC 4861 §4.1. Options other than SLLA are ignored (§6.1.1).
struct RouterSolicitRepr {
  std::optional<MacAddress> source_link_addr;  // must be absent when sent from :: (§4.1)
  std::size_t buffer_len() const noexcept { return kIcmpv6HeaderLen + (source_link_addr ? 8 : 0); }
  void emit(MutableBytes out, const PseudoHeader& ph) const noexcept;
  friend bool operator==(const RouterSolicitRepr&, const RouterSolicitRepr&) = default;
};

// RFC 4861 §4.2. `options` is the checked list (PIO, MTU, RDNSS, SLLA... see NdpOptions).
struct RouterAdvertRepr {
  std::uint8_t cur_hop_limit = 0;     // 0: unspecified
  bool managed = false;               // M: addresses via DHCPv6
  bool other = false;                 // O: other configuration via DHCPv6
  std::uint8_t flags = 0;             // the whole flags byte as received (H, Prf of RFC 4191, ...); emit ORs M/O in
  std::uint16_t router_lifetime = 0;  // seconds; 0: not a default router
  std::uint32_t reachable_time = 0;   // ms; 0: unspecified
  std::uint32_t retrans_timer = 0;    // ms; 0: unspecified
  NdpOptions options;                 // emit copies options.raw after the fixed part
  std::size_t buffer_len() const noexcept { return 16 + options.raw.size(); }
  void emit(MutableBytes out, const PseudoHeader& ph) const noexcept;
  friend bool operator==(const RouterAdvertRepr& a, const RouterAdvertRepr& b) noexcept;  // options by bytes
};

// RFC 4861 §4.3. Options other than SLLA are ignored (§7.1.1).
struct NeighborSolicitRepr {
  Ipv6Address target;
  std::optional<MacAddress> source_link_addr;  // absent in DAD (from ::, RFC 4862 §5.4.2)
  std::size_t buffer_len() const noexcept { return 24 + (source_link_addr ? 8 : 0); }
  void emit(MutableBytes out, const PseudoHeader& ph) const noexcept;
  // RFC 4862 §5.4.2: the DAD probe for `tentative`, sent from :: to solicited_node_multicast(tentative).
  static NeighborSolicitRepr dad(const Ipv6Address& tentative) noexcept { return {tentative, std::nullopt}; }
  friend bool operator==(const NeighborSolicitRepr&, const NeighborSolicitRepr&) = default;
};

// RFC 4861 §4.4. Options other than TLLA are ignored (§7.1.2).
struct NeighborAdvertRepr {
  bool router = false;         // R
  bool solicited = false;      // S
  bool override_flag = false;  // O
  Ipv6Address target;
  std::optional<MacAddress> target_link_addr;
  std::size_t buffer_len() const noexcept { return 24 + (target_link_addr ? 8 : 0); }
  void emit(MutableBytes out, const PseudoHeader& ph) const noexcept;
  friend bool operator==(const NeighborAdvertRepr&, const NeighborAdvertRepr&) = default;
};

// RFC 4861 §4.5, parse only (a host that keeps no learned routes may ignore it; the interface decides).
struct RedirectRepr {
  Ipv6Address target, destination;
  std::optional<MacAddress> target_link_addr;
  Bytes redirected_header;  // the Redirected Header option's data (a cut IP packet), empty without one
  friend bool operator==(const RedirectRepr& a, const RedirectRepr& b) noexcept;
};

using NdpRepr =
    std::variant<RouterSolicitRepr, RouterAdvertRepr, NeighborSolicitRepr, NeighborAdvertRepr, RedirectRepr>;
std::ostream& operator<<(std::ostream& os, const NdpRepr& r);

// Validates (RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2, §8.1) and parses an NDP message whose checksum the view
// verified. Returns nullopt with *why (and *option_why for kBadOptions) when any check fails.
std::optional<NdpRepr> parse_ndp(const Icmpv6View& v, const NdpContext& ctx, NdpError* why = nullptr,
                                 NdpOptionError* option_why = nullptr) noexcept;

// ---- Multicast Listener Queries (RFC 3810 §5.1; MLDv1: RFC 2710 §3.6) ----

inline constexpr std::size_t kMldv1QueryLen = 24;     // header, Maximum Response Delay, reserved, address
inline constexpr std::size_t kMldv2QueryMinLen = 28;  // ... then S/QRV, QQIC, Number of Sources
// RFC 3810 §5.1.3: the Maximum Response Code in milliseconds (exponential above 32767).
std::uint32_t mld_max_response_ms(std::uint16_t code) noexcept;
// A checked query whose checksum the view verified. RFC 3810 §8.1: a 24-byte query is MLDv1, one of 28 bytes
// or more (every source it names inside the message) MLDv2; any other length is not a valid query.
struct MldQuery {
  bool v2 = true;
  std::uint16_t max_response_code = 0;  // the field as sent; MLDv1 reads it in milliseconds, linearly
  std::uint32_t max_response_ms() const noexcept {
    return v2 ? mld_max_response_ms(max_response_code) : max_response_code;
  }
  Ipv6Address group;               // :: in a General Query
  std::uint16_t source_count = 0;  // MLDv2: a Multicast Address and Source Specific Query names sources
  bool is_general() const noexcept { return group.is_unspecified(); }
  static std::optional<MldQuery> parse(const Icmpv6View& v) noexcept;
};

// ---- MLDv2 reports (RFC 3810 §5.2) ----

enum class MldRecordType : std::uint8_t {
  kModeIsInclude = 1,
  kModeIsExclude = 2,
  kChangeToInclude = 3,
  kChangeToExclude = 4,
  kAllowNew = 5,
  kBlockOld = 6,
};
// A Multicast Address Record without sources: what an any-source host sends. Joining is
// CHANGE_TO_EXCLUDE({}) and leaving CHANGE_TO_INCLUDE({}) (RFC 3810 §6.1).
struct MldRecord {
  MldRecordType type = MldRecordType::kChangeToExclude;
  Ipv6Address group;
  static MldRecord join(const Ipv6Address& g) noexcept { return {MldRecordType::kChangeToExclude, g}; }
  static MldRecord leave(const Ipv6Address& g) noexcept { return {MldRecordType::kChangeToInclude, g}; }
  friend bool operator==(const MldRecord&, const MldRecord&) = default;
};
inline constexpr std::size_t kMldRecordLen = 20;   // a record without sources or aux data
inline constexpr std::size_t kMldHopByHopLen = 8;  // Next Header, 0, Router Alert (4 bytes), PadN (2 bytes)

// A received report's records, as read from the message.
struct MldRecordView {
  MldRecordType type = MldRecordType::kModeIsInclude;
  Ipv6Address group;
  std::uint16_t source_count = 0;
  Bytes sources;  // source_count * 16 bytes
};
// A checked MLDv2 report: every record (with its sources and aux data) lies inside the message.
struct Mldv2Report {
  std::uint16_t record_count = 0;
  Bytes records;  // the bytes after the 8-byte header
  static std::optional<Mldv2Report> parse(const Icmpv6View& v) noexcept;
  template <class F>  // F(const MldRecordView&)
  void for_each_record(F&& f) const {
    std::size_t off = 0;
    for (std::uint16_t i = 0; i < record_count; ++i) {
      MldRecordView r;
      r.type = MldRecordType{load_u8(records, off)};
      const std::size_t aux = std::size_t(load_u8(records, off + 1)) * 4;
      r.source_count = load_be16(records, off + 2);
      r.group = Ipv6Address::from_bytes(records.subspan(off + 4));
      r.sources = records.subspan(off + kMldRecordLen, std::size_t(r.source_count) * 16);
      f(r);
      off += kMldRecordLen + std::size_t(r.source_count) * 16 + aux;
    }
  }
};

// The report message itself (type 143) carrying `records`: 8 + 20 * records.size() bytes.
struct Mldv2ReportRepr {
  std::span<const MldRecord> records;
  std::size_t buffer_len() const noexcept { return kIcmpv6HeaderLen + kMldRecordLen * records.size(); }
  void emit(MutableBytes out, const PseudoHeader& ph) const noexcept;
};
// The whole packet of a report: 40 + 8 + 8 + 20 * records bytes.
constexpr std::size_t mldv2_report_packet_len(std::size_t records) noexcept {
  return kIpv6HeaderLen + kMldHopByHopLen + kIcmpv6HeaderLen + kMldRecordLen * records;
}
// Writes the whole IPv6 packet of an MLDv2 report into out[0, mldv2_report_packet_len(n)) and returns its
// length: RFC 3810 §5.2.13-14 and §7.4: hop limit 1, destination ff02::16, a Hop-by-Hop header with Router
// Alert (value 0, RFC 2711) and PadN, source link-local (or :: before one is usable, RFC 3810 §5.2.13).
// Returns 0 (writing nothing) when out is too small or there are more than 65535 records' worth.
std::size_t emit_mldv2_report_packet(MutableBytes out, const Ipv6Address& src, std::span<const MldRecord> records,
                                     std::uint8_t traffic_class = 0) noexcept;

// ---- MLDv1 Reports and Dones (RFC 2710 §3), for MLDv1 compatibility mode (RFC 3810 §8.2.1) ----

inline constexpr std::size_t kMldv1MessageLen = 24;  // header, Maximum Response Delay, reserved, address
// A received MLDv1 Report or Done whose checksum the view verified. RFC 2710 §3.7: at least 24 bytes, and
// anything after them is ignored.
struct Mldv1Message {
  Icmpv6Type type = Icmpv6Type::kMldv1Report;
  Ipv6Address group;
  static std::optional<Mldv1Message> parse(const Icmpv6View& v) noexcept;
};
inline constexpr std::size_t kMldv1PacketLen = kIpv6HeaderLen + kMldHopByHopLen + kMldv1MessageLen;
// Writes the whole IPv6 packet of an MLDv1 Report (sent to the group itself, RFC 2710 §5) or Done (sent to
// ff02::2) into out[0, kMldv1PacketLen) and returns its length: hop limit 1 and the Hop-by-Hop Router Alert, as
// for MLDv2 reports. Returns 0 (writing nothing) when out is too small or `type` is neither.
std::size_t emit_mldv1_packet(MutableBytes out, const Ipv6Address& src, Icmpv6Type type,
                              const Ipv6Address& group) noexcept;

}  // namespace tapstack::ip
