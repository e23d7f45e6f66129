// IPv4 header wire format (RFC 791, RFC 1122 §3.2.1): checked view + Repr. The interface parses every
// EtherType 0x0800 payload here before reassembly (ip/reassembly) and transport demux; the sender and the
// fragmenter write headers with Ipv4Repr::emit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "stack/bytes.hpp"
#include "stack/checksum.hpp"

namespace tapstack::ip {

inline constexpr std::size_t kIpv4MinHeaderLen = 20;
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;
inline constexpr std::size_t kIpv4MaxPacketLen = 65535;
inline constexpr std::size_t kIpv4MaxPayloadLen = kIpv4MaxPacketLen - kIpv4MinHeaderLen;  // with a 20-byte header
// RFC 791 §3.1: the host must accept 576-byte datagrams; RFC 1812 §4.3.2.3 caps ICMP errors to it.
inline constexpr std::size_t kIpv4MinReassemblyLen = 576;

// Whether parse verifies a checksum. kSkip exists for fuzzing deeper paths and for quoted headers;
// the receive path always verifies (RFC 1122 §3.2.1.2 MUST).
enum class ChecksumCheck : std::uint8_t { kVerify, kSkip };

// Why Ipv4View::parse refused a packet; the interface bumps a counter named after it (e.g. drop_bad_version).
enum class Ipv4Error : std::uint8_t {
  kTruncated,     // fewer than 20 bytes
  kBadVersion,    // version != 4
  kBadHeaderLen,  // IHL < 5, or IHL*4 > total length
  kBadTotalLen,   // total length > the bytes received (the frame was cut)
  kBadChecksum,   // header checksum does not verify
  kBadOptions,    // option length 0 or 1, or past the header (CONFORMANCE §3: walkers must advance)
  kSourceRoute,   // LSRR or SSRR present: never honoured, the packet is dropped (RFC 1122 §3.2.1.8 allows
                  // a host to refuse them; CONFORMANCE §2 requires it)
};
std::string_view to_string(Ipv4Error e) noexcept;  // "truncated", "bad_version", ..., "source_route"
std::ostream& operator<<(std::ostream& os, Ipv4Error e);

namespace ipv4_field {
inline constexpr std::size_t kVerIhl = 0;
inline constexpr std::size_t kTos = 1;
inline constexpr std::size_t kTotalLen = 2;
inline constexpr std::size_t kIdent = 4;
inline constexpr std::size_t kFlagsFrag = 6;
inline constexpr std::size_t kTtl = 8;
inline constexpr std::size_t kProtocol = 9;
inline constexpr std::size_t kChecksum = 10;
inline constexpr std::size_t kSrc = 12;
inline constexpr std::size_t kDst = 16;
inline constexpr std::size_t kOptions = 20;
inline constexpr std::uint16_t kFlagDf = 0x4000;
inline constexpr std::uint16_t kFlagMf = 0x2000;
inline constexpr std::uint16_t kFragOffsetMask = 0x1fff;  // in 8-byte units
}  // namespace ipv4_field

// Option type octets (RFC 791 §3.1) that the walker knows by name.
inline constexpr std::uint8_t kIpv4OptEnd = 0;
inline constexpr std::uint8_t kIpv4OptNop = 1;
inline constexpr std::uint8_t kIpv4OptLsrr = 0x83;
inline constexpr std::uint8_t kIpv4OptSsrr = 0x89;

// Walks an option list (the bytes between offset 20 and IHL*4). Returns nullopt when it is well-formed:
// EOL ends the list (the rest is padding), NOP is one byte, every other option has a length byte >= 2 that
// keeps it inside the list. Otherwise kBadOptions, or kSourceRoute for option number 3 or 9 (LSRR/SSRR,
// with or without the copied flag). Unknown options are skipped by their length (RFC 1122 §3.2.1.8).
std::optional<Ipv4Error> ipv4_options_error(Bytes options) noexcept;

// A checked view of one IPv4 packet. After parse(): version is 4, 20 <= header_len() <= total_len(), the
// header checksum verified (unless kSkip), the options are well-formed without source routing, and bytes()
// is trimmed to total_len() (Ethernet padding dropped), so payload() is exactly the IP payload.
// Not checked here (policy or reassembly, which need more context): source/destination address classes,
// TTL, and fragment offset + payload length <= 65535 (see fragment_end()).
template <class Byte>
class BasicIpv4View {
 public:
  static std::optional<BasicIpv4View> parse(std::span<Byte> b, Ipv4Error* why = nullptr,
                                            ChecksumCheck check = ChecksumCheck::kVerify) noexcept {
    auto fail = [why](Ipv4Error e) -> std::optional<BasicIpv4View> {
      if (why != nullptr) *why = e;
      return std::nullopt;
    };
    if (b.size() < kIpv4MinHeaderLen) return fail(Ipv4Error::kTruncated);
    const std::uint8_t ver_ihl = load_u8(b, ipv4_field::kVerIhl);
    if ((ver_ihl >> 4) != 4) return fail(Ipv4Error::kBadVersion);
    const std::size_t hlen = std::size_t(ver_ihl & 0x0f) * 4;
    const std::size_t total = load_be16(b, ipv4_field::kTotalLen);
    if (hlen < kIpv4MinHeaderLen || hlen > total) return fail(Ipv4Error::kBadHeaderLen);
    if (total > b.size()) return fail(Ipv4Error::kBadTotalLen);
    const Bytes header = Bytes{b}.first(hlen);
    if (check == ChecksumCheck::kVerify && internet_checksum(header) != 0) return fail(Ipv4Error::kBadChecksum);
    if (auto e = ipv4_options_error(header.subspan(kIpv4MinHeaderLen))) return fail(*e);
    return BasicIpv4View{b.first(total)};
  }

  std::uint8_t version() const noexcept { return load_u8(buf_, ipv4_field::kVerIhl) >> 4; }
  std::size_t header_len() const noexcept { return std::size_t(load_u8(buf_, ipv4_field::kVerIhl) & 0x0f) * 4; }
  std::uint8_t tos() const noexcept { return load_u8(buf_, ipv4_field::kTos); }  // DSCP << 2 | ECN
  std::uint16_t total_len() const noexcept { return load_be16(buf_, ipv4_field::kTotalLen); }
  std::uint16_t ident() const noexcept { return load_be16(buf_, ipv4_field::kIdent); }
  bool dont_fragment() const noexcept { return (flags_frag() & ipv4_field::kFlagDf) != 0; }
  bool more_fragments() const noexcept { return (flags_frag() & ipv4_field::kFlagMf) != 0; }
  // Fragment offset in bytes (the field is in 8-byte units): 0 ..= 65528.
  std::uint16_t frag_offset() const noexcept {
    return std::uint16_t((flags_frag() & ipv4_field::kFragOffsetMask) * 8u);
  }
  // Part of a fragmented datagram: MF set or a non-zero offset (RFC 791 §3.2).
  bool is_fragment() const noexcept { return (flags_frag() & (ipv4_field::kFlagMf | ipv4_field::kFragOffsetMask)) != 0; }
  // One past the last payload byte's offset in the reassembled datagram; > 65535 - header is invalid and
  // the reassembler drops it (CVE-2018-5391 class).
  std::uint32_t fragment_end() const noexcept { return std::uint32_t(frag_offset()) + payload().size(); }
  std::uint8_t ttl() const noexcept { return load_u8(buf_, ipv4_field::kTtl); }
  std::uint8_t protocol() const noexcept { return load_u8(buf_, ipv4_field::kProtocol); }
  std::uint16_t header_checksum() const noexcept { return load_be16(buf_, ipv4_field::kChecksum); }
  Ipv4Address src() const noexcept { return Ipv4Address::from_bytes(Bytes{buf_}.subspan(ipv4_field::kSrc)); }
  Ipv4Address dst() const noexcept { return Ipv4Address::from_bytes(Bytes{buf_}.subspan(ipv4_field::kDst)); }
  std::span<Byte> header() const noexcept { return buf_.first(header_len()); }
  std::span<Byte> options() const noexcept { return header().subspan(kIpv4MinHeaderLen); }
  std::span<Byte> payload() const noexcept { return buf_.subspan(header_len()); }
  std::span<Byte> bytes() const noexcept { return buf_; }  // header + payload, total_len() bytes

 private:
  explicit BasicIpv4View(std::span<Byte> b) noexcept : buf_{b} {}
  std::uint16_t flags_frag() const noexcept { return load_be16(buf_, ipv4_field::kFlagsFrag); }
  std::span<Byte> buf_;
};
using Ipv4View = BasicIpv4View<const std::byte>;
using MutableIpv4View = BasicIpv4View<std::byte>;

// The header fields the stack uses. Options are not kept (parse checked them; emit writes none).
struct Ipv4Repr {
  Ipv4Address src, dst;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t ident = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t frag_offset = 0;  // bytes; a multiple of 8 on emit (the low 3 bits are dropped)
  std::uint16_t payload_len = 0;  // bytes after the header; <= kIpv4MaxPayloadLen on emit
  std::uint8_t header_len = kIpv4MinHeaderLen;  // from parse: IHL*4 incl. options; emit ignores it (writes 20)

  static Ipv4Repr parse(const Ipv4View& v) noexcept;  // cannot fail once the view parsed
  // What emit writes: 20 + payload_len (header plus payload the caller writes after it).
  std::size_t buffer_len() const noexcept { return kIpv4MinHeaderLen + payload_len; }
  // Writes the 20-byte header (IHL 5, no options, total length 20 + payload_len, checksum) into out[0, 20);
  // out.size() >= kIpv4MinHeaderLen. The payload is the caller's, at out[20, 20 + payload_len).
  // Fragments use the same call: set ident, frag_offset, more_fragments and payload_len (see fragment()).
  void emit(MutableBytes out) const noexcept;

  bool is_fragment() const noexcept { return more_fragments || frag_offset != 0; }
  // This header adjusted for one fragment of its payload: [offset_in_payload, +len) of the original
  // datagram's payload, with MF set when `more` or the original had MF (fragmenting a fragment, RFC 791 §3.2).
  Ipv4Repr fragment(std::uint16_t offset_in_payload, std::uint16_t len, bool more) const noexcept {
    Ipv4Repr r = *this;
    r.frag_offset = std::uint16_t(frag_offset + offset_in_payload);
    r.payload_len = len;
    r.more_fragments = more || more_fragments;
    r.header_len = kIpv4MinHeaderLen;
    return r;
  }
  // The largest fragment payload (a multiple of 8) that fits `mtu` with a 20-byte header; 0 if none does.
  static constexpr std::uint16_t max_fragment_payload(std::size_t mtu) noexcept {
    if (mtu < kIpv4MinHeaderLen + 8) return 0;
    const std::size_t n = mtu > kIpv4MaxPacketLen ? kIpv4MaxPayloadLen : mtu - kIpv4MinHeaderLen;
    return std::uint16_t(n & ~std::size_t(7));
  }
  // The transport pseudo-header for this packet (length = payload_len).
  PseudoHeader pseudo_header() const noexcept { return PseudoHeader{src, dst, protocol, payload_len}; }

  friend bool operator==(const Ipv4Repr&, const Ipv4Repr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Ipv4Repr& r);
};

}  // namespace tapstack::ip
