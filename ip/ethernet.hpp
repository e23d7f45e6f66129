// Ethernet II framing (IEEE 802.3 / RFC 894): the outermost wire format, parsed first by the interface
// on every frame the link delivers, and written last on every frame it sends.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>

#include "ip/address.hpp"
#include "stack/bytes.hpp"

namespace tapstack::ip {

inline constexpr std::size_t kEthernetHeaderLen = 14;
// Shortest frame on the wire without the FCS (RFC 894): receivers see padding after short payloads, which
// IPv4 trims by its total length and ARP by its fixed size. We do not pad on send (a TAP needs none).
inline constexpr std::size_t kEthernetMinFrameLen = 60;

// The EtherType field. Any 16-bit value can be held: values other than the named ones (including 802.3
// length fields below 0x0600) survive parse unchanged and the caller drops them as unknown.
enum class EtherType : std::uint16_t {
  kIpv4 = 0x0800,
  kArp = 0x0806,
  kVlan = 0x8100,  // 802.1Q tag: not decapsulated; parse returns kVlan and the interface drops the frame
  kIpv6 = 0x86DD,
};
std::ostream& operator<<(std::ostream& os, EtherType t);

namespace ethernet_field {
inline constexpr std::size_t kDst = 0;
inline constexpr std::size_t kSrc = 6;
inline constexpr std::size_t kEtherType = 12;
}  // namespace ethernet_field

// A checked view of one frame. After parse() the 14 header bytes are in bounds; payload() is the rest of
// the frame (including any padding: the next layer trims it).
template <class Byte>  // std::byte (writable) or const std::byte
class BasicEthernetView {
 public:
  // nullopt only when the frame is shorter than kEthernetHeaderLen (the single reason: count it as
  // `drop_truncated` or similar).
  static std::optional<BasicEthernetView> parse(std::span<Byte> b) noexcept {
    if (b.size() < kEthernetHeaderLen) return std::nullopt;
    return BasicEthernetView{b};
  }
  MacAddress dst() const noexcept { return MacAddress::from_bytes(Bytes{buf_}.subspan(ethernet_field::kDst, 6)); }
  MacAddress src() const noexcept { return MacAddress::from_bytes(Bytes{buf_}.subspan(ethernet_field::kSrc, 6)); }
  EtherType ethertype() const noexcept { return EtherType{load_be16(buf_, ethernet_field::kEtherType)}; }
  std::span<Byte> header() const noexcept { return buf_.first(kEthernetHeaderLen); }
  std::span<Byte> payload() const noexcept { return buf_.subspan(kEthernetHeaderLen); }
  std::span<Byte> bytes() const noexcept { return buf_; }  // the whole frame

 private:
  explicit BasicEthernetView(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};
using EthernetView = BasicEthernetView<const std::byte>;
using MutableEthernetView = BasicEthernetView<std::byte>;

struct EthernetRepr {
  MacAddress dst, src;
  EtherType ethertype = EtherType::kIpv4;

  static EthernetRepr parse(const EthernetView& v) noexcept;  // cannot fail once the view parsed
  static constexpr std::size_t buffer_len() noexcept { return kEthernetHeaderLen; }  // header only
  // Writes the 14-byte header into out[0, 14); out.size() >= kEthernetHeaderLen. The payload follows it.
  void emit(MutableBytes out) const noexcept;
  friend bool operator==(const EthernetRepr&, const EthernetRepr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const EthernetRepr& r);
};

// Same as EthernetRepr{dst, src, type}.emit(out): writes the 14-byte header; out.size() >= 14.
void emit_ethernet_header(MutableBytes out, MacAddress dst, MacAddress src, EtherType type) noexcept;

}  // namespace tapstack::ip
