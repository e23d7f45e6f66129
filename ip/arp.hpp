// ARP for IPv4 over Ethernet (RFC 826): the wire format only. The interface parses the payload of an
// EtherType 0x0806 frame here and hands the Repr to the ARP cache (ip/arp_cache), which answers and learns.
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

inline constexpr std::size_t kArpPacketLen = 28;       // Ethernet/IPv4 ARP: 8 fixed + 2 * (6 + 4)
inline constexpr std::uint16_t kArpHardwareEthernet = 1;
inline constexpr std::uint16_t kArpProtocolIpv4 = 0x0800;

enum class ArpOp : std::uint16_t { kRequest = 1, kReply = 2 };
std::ostream& operator<<(std::ostream& os, ArpOp op);

// Why ArpView::parse refused a packet; the interface bumps a counter named after it.
enum class ArpError : std::uint8_t {
  kTruncated,    // shorter than the fixed 8 bytes, or than 28 once the type/length fields were accepted
  kBadHardware,  // htype != 1 (Ethernet) or hlen != 6
  kBadProtocol,  // ptype != 0x0800 (IPv4) or plen != 4
  kBadOp,        // op other than 1 (request) or 2 (reply)
};
std::string_view to_string(ArpError e) noexcept;  // "truncated", "bad_hardware", "bad_protocol", "bad_op"
std::ostream& operator<<(std::ostream& os, ArpError e);

namespace arp_field {
inline constexpr std::size_t kHtype = 0;
inline constexpr std::size_t kPtype = 2;
inline constexpr std::size_t kHlen = 4;
inline constexpr std::size_t kPlen = 5;
inline constexpr std::size_t kOp = 6;
inline constexpr std::size_t kSenderMac = 8;
inline constexpr std::size_t kSenderIp = 14;
inline constexpr std::size_t kTargetMac = 18;
inline constexpr std::size_t kTargetIp = 24;
}  // namespace arp_field

// A checked view of one Ethernet/IPv4 ARP packet. Only htype 1, ptype 0x0800, hlen 6, plen 4 and op 1 or 2
// pass (CONFORMANCE §2); the address fields are read at fixed offsets only after hlen/plen were checked,
// so a packet claiming hlen=255 is refused before anything past byte 8 is read. bytes() is trimmed to 28
// (the Ethernet padding after it is dropped).
template <class Byte>
class BasicArpView {
 public:
  static std::optional<BasicArpView> parse(std::span<Byte> b, ArpError* why = nullptr) noexcept {
    auto fail = [why](ArpError e) -> std::optional<BasicArpView> {
      if (why != nullptr) *why = e;
      return std::nullopt;
    };
    if (b.size() < 8) return fail(ArpError::kTruncated);
    if (load_be16(b, arp_field::kHtype) != kArpHardwareEthernet || load_u8(b, arp_field::kHlen) != 6)
      return fail(ArpError::kBadHardware);
    if (load_be16(b, arp_field::kPtype) != kArpProtocolIpv4 || load_u8(b, arp_field::kPlen) != 4)
      return fail(ArpError::kBadProtocol);
    const std::uint16_t op = load_be16(b, arp_field::kOp);
    if (op != 1 && op != 2) return fail(ArpError::kBadOp);
    if (b.size() < kArpPacketLen) return fail(ArpError::kTruncated);
    return BasicArpView{b.first(kArpPacketLen)};
  }
  ArpOp op() const noexcept { return ArpOp{load_be16(buf_, arp_field::kOp)}; }
  MacAddress sender_mac() const noexcept { return MacAddress::from_bytes(Bytes{buf_}.subspan(arp_field::kSenderMac)); }
  Ipv4Address sender_ip() const noexcept { return Ipv4Address::from_bytes(Bytes{buf_}.subspan(arp_field::kSenderIp)); }
  MacAddress target_mac() const noexcept { return MacAddress::from_bytes(Bytes{buf_}.subspan(arp_field::kTargetMac)); }
  Ipv4Address target_ip() const noexcept { return Ipv4Address::from_bytes(Bytes{buf_}.subspan(arp_field::kTargetIp)); }
  std::span<Byte> bytes() const noexcept { return buf_; }  // exactly kArpPacketLen bytes

 private:
  explicit BasicArpView(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};
using ArpView = BasicArpView<const std::byte>;
using MutableArpView = BasicArpView<std::byte>;

struct ArpRepr {
  ArpOp op = ArpOp::kRequest;
  MacAddress sender_mac;
  Ipv4Address sender_ip;
  MacAddress target_mac;  // all zero in a request (RFC 826 leaves it unspecified; RFC 5227 §2.1.1 zeroes it)
  Ipv4Address target_ip;

  static ArpRepr parse(const ArpView& v) noexcept;  // cannot fail once the view parsed
  static constexpr std::size_t buffer_len() noexcept { return kArpPacketLen; }
  // Writes 28 bytes into out[0, 28) (htype 1, ptype 0x0800, hlen 6, plen 4); out.size() >= kArpPacketLen.
  void emit(MutableBytes out) const noexcept;

  // A who-has request for `target` (target_mac zero).
  static ArpRepr request(MacAddress our_mac, Ipv4Address our_ip, Ipv4Address target) noexcept {
    return {ArpOp::kRequest, our_mac, our_ip, MacAddress{}, target};
  }
  // The reply to `req` from the owner of req.target_ip (RFC 826 "swap sender and target").
  static ArpRepr reply_to(const ArpRepr& req, MacAddress our_mac) noexcept {
    return {ArpOp::kReply, our_mac, req.target_ip, req.sender_mac, req.sender_ip};
  }
  friend bool operator==(const ArpRepr&, const ArpRepr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const ArpRepr& r);
};

}  // namespace tapstack::ip
