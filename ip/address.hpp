// Link-layer and IP addresses as values: MAC, IPv4, IPv6, a prefix (CIDR), and IpAddress that holds either.
// Transports (udp/, tcp/) and the socket facade use IpAddress so that IPv6 plugs in without API changes.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

#include "stack/bytes.hpp"

namespace tapstack::ip {

struct MacAddress {
  std::array<std::uint8_t, 6> octets{};

  static constexpr MacAddress broadcast() noexcept { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  static MacAddress from_bytes(Bytes b) noexcept;  // b.size() >= 6
  // "02:00:00:00:00:01" (':' or '-'); nullopt on anything else.
  static std::optional<MacAddress> parse(std::string_view s) noexcept;
  std::string to_string() const;
  void write(MutableBytes out) const noexcept;  // out.size() >= 6
  constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  constexpr bool is_multicast() const noexcept { return (octets[0] & 1) != 0; }  // includes broadcast
  constexpr bool is_unspecified() const noexcept { return *this == MacAddress{}; }
  friend constexpr auto operator<=>(const MacAddress&, const MacAddress&) = default;
  friend std::ostream& operator<<(std::ostream& os, const MacAddress& m) { return os << m.to_string(); }
};

struct Ipv4Address {
  std::array<std::uint8_t, 4> octets{};

  static constexpr Ipv4Address from_u32(std::uint32_t v) noexcept {
    return {{std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)}};
  }
  static Ipv4Address from_bytes(Bytes b) noexcept;  // b.size() >= 4
  static constexpr Ipv4Address broadcast() noexcept { return from_u32(0xffffffffu); }
  // Dotted quad only ("192.0.2.1"); nullopt on anything else.
  static std::optional<Ipv4Address> parse(std::string_view s) noexcept;
  constexpr std::uint32_t to_u32() const noexcept {
    return (std::uint32_t(octets[0]) << 24) | (std::uint32_t(octets[1]) << 16) | (std::uint32_t(octets[2]) << 8) |
           octets[3];
  }
  std::string to_string() const;
  void write(MutableBytes out) const noexcept;  // out.size() >= 4
  constexpr bool is_unspecified() const noexcept { return to_u32() == 0; }
  constexpr bool is_broadcast() const noexcept { return to_u32() == 0xffffffffu; }
  constexpr bool is_multicast() const noexcept { return (octets[0] & 0xf0) == 0xe0; }
  constexpr bool is_loopback() const noexcept { return octets[0] == 127; }
  constexpr bool is_link_local() const noexcept { return octets[0] == 169 && octets[1] == 254; }
  friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Ipv4Address& a) { return os << a.to_string(); }
};

// An address with its prefix length: an interface address ("192.0.2.2/24") or a route.
struct Ipv4Cidr {
  Ipv4Address address;
  std::uint8_t prefix_len = 32;  // 0..32

  static std::optional<Ipv4Cidr> parse(std::string_view s) noexcept;  // "a.b.c.d/n"
  constexpr std::uint32_t netmask() const noexcept {
    return prefix_len == 0 ? 0 : ~std::uint32_t(0) << (32 - prefix_len);
  }
  constexpr bool contains(Ipv4Address a) const noexcept {
    return (a.to_u32() & netmask()) == (address.to_u32() & netmask());
  }
  // The subnet's directed broadcast address (for /31 and /32: none, returns the limited broadcast).
  constexpr Ipv4Address subnet_broadcast() const noexcept {
    return prefix_len >= 31 ? Ipv4Address::broadcast() : Ipv4Address::from_u32(address.to_u32() | ~netmask());
  }
  std::string to_string() const;
  friend constexpr bool operator==(const Ipv4Cidr&, const Ipv4Cidr&) = default;
};

// Two 8-byte compares instead of a memcmp call: the IPv6 and TCP paths compare addresses several times per packet.
inline bool equal16(const std::uint8_t* a, const std::uint8_t* b) noexcept {
  std::uint64_t x[2], y[2];
  std::memcpy(x, a, 16);
  std::memcpy(y, b, 16);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1])) == 0;
}

struct Ipv6Address {
  std::array<std::uint8_t, 16> octets{};

  static Ipv6Address from_bytes(Bytes b) noexcept;  // b.size() >= 16
  // RFC 4291 §2.2 text forms, including "::" compression and an embedded dotted quad; no zone suffix.
  static std::optional<Ipv6Address> parse(std::string_view s) noexcept;
  std::string to_string() const;  // RFC 5952 canonical form
  void write(MutableBytes out) const noexcept;
  constexpr bool is_unspecified() const noexcept { return *this == Ipv6Address{}; }
  constexpr bool is_multicast() const noexcept { return octets[0] == 0xff; }
  constexpr bool is_link_local() const noexcept { return octets[0] == 0xfe && (octets[1] & 0xc0) == 0x80; }
  bool is_loopback() const noexcept;
  friend constexpr auto operator<=>(const Ipv6Address&, const Ipv6Address&) = default;
  friend constexpr bool operator==(const Ipv6Address& a, const Ipv6Address& b) noexcept {
    if (std::is_constant_evaluated()) return a.octets == b.octets;
    return equal16(a.octets.data(), b.octets.data());
  }
  friend std::ostream& operator<<(std::ostream& os, const Ipv6Address& a) { return os << a.to_string(); }
};

enum class Family : std::uint8_t { kIpv4 = 4, kIpv6 = 6 };

// Either family, as a value. Transports and sockets key on it; the IP layers convert.
class IpAddress {
 public:
  constexpr IpAddress() = default;
  constexpr IpAddress(Ipv4Address a) noexcept : family_{Family::kIpv4} {  // NOLINT: implicit by design
    for (int i = 0; i < 4; ++i) bytes_[std::size_t(i)] = a.octets[std::size_t(i)];
  }
  constexpr IpAddress(Ipv6Address a) noexcept : bytes_{a.octets}, family_{Family::kIpv6} {}  // NOLINT
  // Either text form; nullopt on anything else (names are resolved by dns/, not here).
  static std::optional<IpAddress> parse(std::string_view s) noexcept;

  constexpr Family family() const noexcept { return family_; }
  constexpr bool is_v4() const noexcept { return family_ == Family::kIpv4; }
  constexpr bool is_v6() const noexcept { return family_ == Family::kIpv6; }
  constexpr Ipv4Address v4() const noexcept { return {{bytes_[0], bytes_[1], bytes_[2], bytes_[3]}}; }
  constexpr Ipv6Address v6() const noexcept { return {bytes_}; }
  bool is_unspecified() const noexcept { return is_v4() ? v4().is_unspecified() : v6().is_unspecified(); }
  bool is_multicast() const noexcept { return is_v4() ? v4().is_multicast() : v6().is_multicast(); }
  std::string to_string() const { return is_v4() ? v4().to_string() : v6().to_string(); }
  // The address bytes in network order: 4 for IPv4, 16 for IPv6.
  Bytes bytes() const noexcept { return Bytes{reinterpret_cast<const std::byte*>(bytes_.data()), is_v4() ? 4u : 16u}; }
  // Family first, then the bytes (the order the members had before bytes_ moved to the front).
  friend constexpr std::strong_ordering operator<=>(const IpAddress& a, const IpAddress& b) noexcept {
    if (const auto c = a.family_ <=> b.family_; c != 0) return c;
    return a.bytes_ <=> b.bytes_;
  }
  friend constexpr bool operator==(const IpAddress& a, const IpAddress& b) noexcept {
    if (a.family_ != b.family_) return false;
    if (std::is_constant_evaluated()) return a.bytes_ == b.bytes_;
    return equal16(a.bytes_.data(), b.bytes_.data());  // every TCP segment compares its 4-tuple
  }
  friend std::ostream& operator<<(std::ostream& os, const IpAddress& a) { return os << a.to_string(); }

 private:
  // bytes_ first: a copied address is then one 16-byte store plus the family byte, and equal16's two 8-byte
  // loads of it (the TCP demultiplexer compares a freshly built 4-tuple) are each inside that store and forward
  // from it; with the family byte first they straddled two stores and waited for both to retire.
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4; the rest stay zero
  Family family_ = Family::kIpv4;
};

// An IP address and a port: one end of a UDP or TCP flow.
struct Endpoint {
  IpAddress addr;
  std::uint16_t port = 0;
  friend constexpr auto operator<=>(const Endpoint&, const Endpoint&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Endpoint& e) {
    return e.addr.is_v6() ? os << '[' << e.addr << "]:" << e.port : os << e.addr << ':' << e.port;
  }
};

}  // namespace tapstack::ip

template <>
struct std::hash<tapstack::ip::IpAddress> {
  std::size_t operator()(const tapstack::ip::IpAddress& a) const noexcept;
};
template <>
struct std::hash<tapstack::ip::Endpoint> {
  std::size_t operator()(const tapstack::ip::Endpoint& e) const noexcept {
    return std::hash<tapstack::ip::IpAddress>{}(e.addr) * 31 + e.port;
  }
};
