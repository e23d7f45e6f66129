// UDP wire format (RFC 768): a checked byte view over a received datagram and a `Repr` to parse and emit.
// Called by UdpLayer::on_packet (parse) and UdpLayer::poll (emit, inside IpSender::send's fill callback).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <type_traits>

#include "ip/transport.hpp"
#include "stack/bytes.hpp"

namespace tapstack::udp {

inline constexpr std::size_t kHeaderLen = 8;
// The largest datagram the 16-bit length field can describe (no IPv6 jumbograms, RFC 2675: not supported).
inline constexpr std::size_t kMaxDatagramLen = 0xffff;
// RFC 768 over IPv4: the IPv4 total length (65535) minus a 20-byte IPv4 header and the UDP header.
inline constexpr std::size_t kMaxPayloadV4 = kMaxDatagramLen - 20 - kHeaderLen;  // 65507
// Over IPv6 the UDP length field is the limit (the IPv6 payload length excludes the fixed header).
inline constexpr std::size_t kMaxPayloadV6 = kMaxDatagramLen - kHeaderLen;  // 65527

namespace field {
inline constexpr std::size_t kSrcPort = 0;
inline constexpr std::size_t kDstPort = 2;
inline constexpr std::size_t kLength = 4;
inline constexpr std::size_t kChecksum = 6;
}  // namespace field

// Why a datagram was rejected; UdpCounters has one drop counter per value.
enum class ParseError : std::uint8_t {
  kTruncated,       // fewer than 8 bytes: no room for the header
  kBadLength,       // length field < 8 or > the bytes the IP layer delivered (RFC 768, CONFORMANCE.md §2)
  kBadChecksum,     // the checksum does not verify
  kZeroChecksumV6,  // checksum field 0 over IPv6: RFC 8200 §8.1 makes the checksum mandatory
};
std::string_view to_string(ParseError e) noexcept;
std::ostream& operator<<(std::ostream& os, ParseError e);

template <class Byte>  // std::byte (writable) or const std::byte
class BasicView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  // The only door for untrusted bytes: checks 8 <= length field <= b.size() and trims the view to the
  // length field (bytes past it are IP-level padding and are ignored, as Linux does).
  static std::optional<BasicView> parse(std::span<Byte> b) noexcept {
    ParseError ignored{};
    return parse(b, ignored);
  }
  static std::optional<BasicView> parse(std::span<Byte> b, ParseError& why) noexcept {
    if (b.size() < kHeaderLen) {
      why = ParseError::kTruncated;
      return std::nullopt;
    }
    const std::uint16_t len = load_be16(b, field::kLength);
    // RFC 768: length counts the header, so anything below 8 is malformed. A 0 length would mean an IPv6
    // jumbogram (RFC 2675 §4), which this stack does not support, so it is rejected here too.
    if (len < kHeaderLen || len > b.size()) {
      why = ParseError::kBadLength;
      return std::nullopt;
    }
    return BasicView{b.first(len)};
  }

  std::uint16_t src_port() const noexcept { return load_be16(buf_, field::kSrcPort); }
  std::uint16_t dst_port() const noexcept { return load_be16(buf_, field::kDstPort); }
  std::uint16_t length() const noexcept { return load_be16(buf_, field::kLength); }
  std::uint16_t checksum() const noexcept { return load_be16(buf_, field::kChecksum); }
  std::span<Byte> payload() const noexcept { return buf_.subspan(kHeaderLen); }
  // The whole datagram (header + payload), trimmed to the length field.
  std::span<Byte> bytes() const noexcept { return buf_; }
  // True when the checksum over `ph` (its length is taken from the length field) and the datagram verifies.
  // A zero checksum field is not special here; Repr::parse applies the per-family rule.
  bool verify_checksum(const ip::PseudoHeader& ph) const noexcept;

  void set_src_port(std::uint16_t v) noexcept requires(!std::is_const_v<Byte>) { store_be16(buf_, field::kSrcPort, v); }
  void set_dst_port(std::uint16_t v) noexcept requires(!std::is_const_v<Byte>) { store_be16(buf_, field::kDstPort, v); }
  void set_checksum(std::uint16_t v) noexcept requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::kChecksum, v);
  }

  operator BasicView<const std::byte>() const noexcept  // NOLINT(google-explicit-constructor): view -> const view
      requires(!std::is_const_v<Byte>) {
    return BasicView<const std::byte>{buf_};
  }

 private:
  template <class>
  friend class BasicView;
  explicit BasicView(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};

using View = BasicView<const std::byte>;
using MutableView = BasicView<std::byte>;

// One datagram's meaning. `payload` is borrowed from the frame (parse) or the caller (emit).
struct Repr {
  std::uint16_t src_port = 0, dst_port = 0;
  Bytes payload;

  // Verifies the checksum against `ph` (ph.length is ignored: the UDP length field is the pseudo-header
  // length, RFC 768 and RFC 8200 §8.1). Over IPv4 a zero checksum field means "not computed" and is
  // accepted (RFC 768); over IPv6 it is invalid (RFC 8200 §8.1).
  static std::optional<Repr> parse(View v, const ip::PseudoHeader& ph) noexcept {
    ParseError ignored{};
    return parse(v, ph, ignored);
  }
  static std::optional<Repr> parse(View v, const ip::PseudoHeader& ph, ParseError& why) noexcept;

  std::size_t buffer_len() const noexcept { return kHeaderLen + payload.size(); }
  // Writes header, payload and checksum into out[0, buffer_len()). Preconditions: out.size() >= buffer_len()
  // and buffer_len() <= kMaxDatagramLen (the socket rejects larger sends with EMSGSIZE). `payload` may
  // already sit at out[8...] (it is then not copied). ph.length is ignored (buffer_len() is used).
  // A computed checksum of 0 is sent as 0xFFFF (RFC 768; RFC 8200 §8.1).
  void emit(MutableBytes out, const ip::PseudoHeader& ph) const noexcept;

  friend bool operator==(const Repr& a, const Repr& b) noexcept;  // compares payload bytes, not addresses
  friend std::ostream& operator<<(std::ostream& os, const Repr& r);
};

// The checksum of `datagram` (header with its checksum field taken as is, payload) under `ph` with the
// length field's value; 0 when a datagram carrying a checksum verifies.
std::uint16_t datagram_checksum(Bytes datagram, const ip::PseudoHeader& ph) noexcept;

template <class Byte>
bool BasicView<Byte>::verify_checksum(const ip::PseudoHeader& ph) const noexcept {
  return datagram_checksum(buf_, ph) == 0;
}

}  // namespace tapstack::udp
