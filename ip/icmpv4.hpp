// ICMPv4 wire format (RFC 792, RFC 1122 §3.2.2, RFC 1191): echo, destination unreachable, time exceeded,
// parameter problem and redirect. The interface parses the payload of protocol-1 packets here, answers echoes,
// turns errors into IcmpErrorInfo for the transports (parse_icmpv4_quote), takes redirects from its gateway and
// builds the errors it sends.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>

#include "ip/address.hpp"
#include "ip/ipv4.hpp"
#include "stack/bytes.hpp"
#include "stack/checksum.hpp"

namespace tapstack::ip {

inline constexpr std::size_t kIcmpv4HeaderLen = 8;  // type, code, checksum, 4 type-specific bytes
// RFC 792 / RFC 1122 §3.2.2: an error quotes the IP header and at least 8 bytes of what followed it.
inline constexpr std::size_t kIcmpv4MinQuoteLen = kIpv4MinHeaderLen + 8;
// RFC 1812 §4.3.2.3: an error (IP header + ICMP header + quote) stays within 576 bytes.
inline constexpr std::size_t kIcmpv4MaxQuoteLen = kIpv4MinReassemblyLen - kIpv4MinHeaderLen - kIcmpv4HeaderLen;

enum class Icmpv4Type : std::uint8_t {
  kEchoReply = 0,
  kDestUnreachable = 3,
  kSourceQuench = 4,  // deprecated (RFC 6633): not parsed into a Repr
  kRedirect = 5,      // parsed (gateway, quote); acted on by ip::Interface (RFC 1122 §3.2.2.2)
  kEchoRequest = 8,
  kTimeExceeded = 11,
  kParameterProblem = 12,
  kTimestamp = 13,
  kTimestampReply = 14,
};
std::ostream& operator<<(std::ostream& os, Icmpv4Type t);

// Codes of Destination Unreachable (RFC 792, RFC 1122 §3.2.2.1, RFC 1812 §5.2.7.1).
enum class Icmpv4Unreachable : std::uint8_t {
  kNet = 0, kHost = 1, kProtocol = 2, kPort = 3, kFragNeeded = 4, kSourceRouteFailed = 5,
  kNetUnknown = 6, kHostUnknown = 7, kSourceHostIsolated = 8, kNetProhibited = 9, kHostProhibited = 10,
  kNetTos = 11, kHostTos = 12, kAdminProhibited = 13, kHostPrecedence = 14, kPrecedenceCutoff = 15,
};
// Codes of Time Exceeded and Parameter Problem (RFC 792, RFC 1108 for code 1 of the latter).
enum class Icmpv4TimeExceeded : std::uint8_t { kTtl = 0, kReassembly = 1 };
enum class Icmpv4ParamProblem : std::uint8_t { kPointer = 0, kMissingOption = 1, kBadLength = 2 };

// True for types that are (or must be treated as) error messages: never answer one with an error
// (RFC 1122 §3.2.2). Only the known query types (echo, timestamp, info, address mask, router adv/sol)
// count as non-errors; an unknown type is treated as an error, so it is never answered.
constexpr bool icmpv4_is_error(std::uint8_t type) noexcept {
  switch (type) {
    case 0: case 8: case 9: case 10: case 13: case 14: case 15: case 16: case 17: case 18:
      return false;
    default:
      return true;
  }
}

// Why parsing refused a message; the interface bumps a counter named after it.
enum class Icmpv4Error : std::uint8_t {
  kTruncated,        // fewer than 8 bytes
  kBadChecksum,      // the checksum over the whole message does not verify
  kUnsupportedType,  // a type Icmpv4Repr does not represent (timestamp, unknown...) or a bad Redirect code: RFC 1122
                     // §3.2.2 says to silently discard unknown types
  kBadQuote,         // an error message quoting fewer than kIcmpv4MinQuoteLen bytes
};
std::string_view to_string(Icmpv4Error e) noexcept;  // "truncated", "bad_checksum", "unsupported_type", "bad_quote"
std::ostream& operator<<(std::ostream& os, Icmpv4Error e);

namespace icmpv4_field {
inline constexpr std::size_t kType = 0;
inline constexpr std::size_t kCode = 1;
inline constexpr std::size_t kChecksum = 2;
inline constexpr std::size_t kRest = 4;      // type-specific 4 bytes
inline constexpr std::size_t kIdent = 4;     // echo
inline constexpr std::size_t kSeq = 6;       // echo
inline constexpr std::size_t kNextHopMtu = 6;  // dest unreachable, code 4 (RFC 1191 §4)
inline constexpr std::size_t kPointer = 4;   // parameter problem
inline constexpr std::size_t kData = 8;
}  // namespace icmpv4_field

// A checked view of one ICMPv4 message: at least 8 bytes, checksum over all of them verified (unless kSkip).
// The view spans the whole IP payload: pass Ipv4View::payload() (already trimmed to the IP total length).
template <class Byte>
class BasicIcmpv4View {
 public:
  static std::optional<BasicIcmpv4View> parse(std::span<Byte> b, Icmpv4Error* why = nullptr,
                                               ChecksumCheck check = ChecksumCheck::kVerify) noexcept {
    auto fail = [why](Icmpv4Error e) -> std::optional<BasicIcmpv4View> {
      if (why != nullptr) *why = e;
      return std::nullopt;
    };
    if (b.size() < kIcmpv4HeaderLen) return fail(Icmpv4Error::kTruncated);
    if (check == ChecksumCheck::kVerify && internet_checksum(b) != 0) return fail(Icmpv4Error::kBadChecksum);
    return BasicIcmpv4View{b};
  }
  std::uint8_t type() const noexcept { return load_u8(buf_, icmpv4_field::kType); }
  std::uint8_t code() const noexcept { return load_u8(buf_, icmpv4_field::kCode); }
  std::uint16_t checksum() const noexcept { return load_be16(buf_, icmpv4_field::kChecksum); }
  std::uint32_t rest_of_header() const noexcept { return load_be32(buf_, icmpv4_field::kRest); }
  std::uint16_t echo_ident() const noexcept { return load_be16(buf_, icmpv4_field::kIdent); }
  std::uint16_t echo_seq() const noexcept { return load_be16(buf_, icmpv4_field::kSeq); }
  std::uint16_t next_hop_mtu() const noexcept { return load_be16(buf_, icmpv4_field::kNextHopMtu); }
  Ipv4Address gateway() const noexcept { return Ipv4Address::from_u32(rest_of_header()); }  // Redirect
  std::uint8_t pointer() const noexcept { return load_u8(buf_, icmpv4_field::kPointer); }
  std::span<Byte> data() const noexcept { return buf_.subspan(kIcmpv4HeaderLen); }  // echo data or the quote
  std::span<Byte> bytes() const noexcept { return buf_; }

 private:
  explicit BasicIcmpv4View(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};
using Icmpv4View = BasicIcmpv4View<const std::byte>;
using MutableIcmpv4View = BasicIcmpv4View<std::byte>;

// One message of a supported type. Which fields matter depends on `type`; parse sets the others to zero
// and emit ignores them:
//   kEchoRequest / kEchoReply: ident, seq, data = the echo data (any length, including 0)
//   kDestUnreachable:          code (Icmpv4Unreachable), next_hop_mtu (code 4 only, RFC 1191; 0 from old
//                              routers), data = the quote
//   kTimeExceeded:             code (Icmpv4TimeExceeded), data = the quote
//   kParameterProblem:         code, pointer (the offending byte in the quoted header), data = the quote
//   kRedirect:                 code (0 to 3: net, host, and the same for a TOS), gateway, data = the quote
// The quote is the offending packet's IP header and the first bytes after it (>= kIcmpv4MinQuoteLen on
// parse; on emit the caller bounds it, see icmpv4_error_quote). `data` borrows from the packet being parsed
// or the caller's buffer: don't keep it past the call.
struct Icmpv4Repr {
  Icmpv4Type type = Icmpv4Type::kEchoRequest;
  std::uint8_t code = 0;
  std::uint16_t ident = 0, seq = 0;
  std::uint16_t next_hop_mtu = 0;
  std::uint8_t pointer = 0;
  Bytes data;
  Ipv4Address gateway{};  // kRedirect: the better first hop (RFC 792)

  static std::optional<Icmpv4Repr> parse(const Icmpv4View& v, Icmpv4Error* why = nullptr) noexcept;
  std::size_t buffer_len() const noexcept { return kIcmpv4HeaderLen + data.size(); }
  // Writes the whole message (header, data, checksum) into out[0, buffer_len()); out.size() >= buffer_len().
  // `data` may alias out[8, ...) (a reply built in place): it is moved, not assumed disjoint.
  void emit(MutableBytes out) const noexcept;
  bool is_error() const noexcept { return icmpv4_is_error(std::uint8_t(type)); }

  static Icmpv4Repr echo_request(std::uint16_t ident, std::uint16_t seq, Bytes data) noexcept {
    return {Icmpv4Type::kEchoRequest, 0, ident, seq, 0, 0, data};
  }
  // RFC 1122 §3.2.2.6: the reply returns the request's identifier, sequence number and data.
  static Icmpv4Repr echo_reply_to(const Icmpv4Repr& req) noexcept {
    return {Icmpv4Type::kEchoReply, 0, req.ident, req.seq, 0, 0, req.data};
  }
  static Icmpv4Repr dest_unreachable(Icmpv4Unreachable code, Bytes quote, std::uint16_t next_hop_mtu = 0) noexcept {
    return {Icmpv4Type::kDestUnreachable, std::uint8_t(code), 0, 0,
            code == Icmpv4Unreachable::kFragNeeded ? next_hop_mtu : std::uint16_t(0), 0, quote};
  }
  static Icmpv4Repr time_exceeded(Icmpv4TimeExceeded code, Bytes quote) noexcept {
    return {Icmpv4Type::kTimeExceeded, std::uint8_t(code), 0, 0, 0, 0, quote};
  }
  static Icmpv4Repr parameter_problem(std::uint8_t pointer, Bytes quote) noexcept {
    return {Icmpv4Type::kParameterProblem, std::uint8_t(Icmpv4ParamProblem::kPointer), 0, 0, 0, pointer, quote};
  }

  // Compares `data` by content, not by address.
  friend bool operator==(const Icmpv4Repr& a, const Icmpv4Repr& b) noexcept;
  friend std::ostream& operator<<(std::ostream& os, const Icmpv4Repr& r);
};

// The prefix of an offending IP packet that an error about it quotes: up to kIcmpv4MaxQuoteLen bytes
// (RFC 1812 §4.3.2.3; RFC 1122 §3.2.2 needs the header + 8, which any real packet provides).
inline Bytes icmpv4_error_quote(Bytes offending_ip_packet) noexcept {
  return offending_ip_packet.first(std::min(offending_ip_packet.size(), kIcmpv4MaxQuoteLen));
}

// The quoted header of an ICMP error, read leniently: the quoted packet is cut, so its total length is not
// checked against the bytes present and its checksum is not verified. Requires version 4, IHL >= 5, the
// whole quoted header present and at least 8 bytes after it (the transport ports / ICMP ident).
struct Icmpv4Quote {
  Ipv4Address src, dst;  // of the packet this host sent (src is normally ours)
  std::uint8_t protocol = 0;
  std::uint16_t ident = 0;
  std::uint16_t frag_offset = 0;  // bytes: a non-initial fragment's quote holds no transport header
  Bytes transport;                // the quoted bytes after the IP header (>= 8)
  friend bool operator==(const Icmpv4Quote& a, const Icmpv4Quote& b) noexcept;
  friend std::ostream& operator<<(std::ostream& os, const Icmpv4Quote& q);
};
std::optional<Icmpv4Quote> parse_icmpv4_quote(Bytes quote) noexcept;

}  // namespace tapstack::ip
