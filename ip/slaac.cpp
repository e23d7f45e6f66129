// Ipv6Cidr and the RFC 4862 §5.5.3 lifetime rules used by the IPv6 engine's SLAAC.
#include "ip/slaac.hpp"

#include <algorithm>
#include <charconv>

namespace tapstack::ip {

std::optional<Ipv6Cidr> Ipv6Cidr::parse(std::string_view s) noexcept {
  const auto slash = s.find('/');
  const auto addr = Ipv6Address::parse(s.substr(0, slash));
  if (!addr) return std::nullopt;
  if (slash == std::string_view::npos) return Ipv6Cidr{*addr, 128};
  const std::string_view len = s.substr(slash + 1);
  unsigned n = 0;
  const auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
  if (ec != std::errc{} || p != len.data() + len.size() || len.empty() || n > 128) return std::nullopt;
  return Ipv6Cidr{*addr, std::uint8_t(n)};
}

bool ipv6_prefix_match(const Ipv6Address& a, const Ipv6Address& b, std::uint8_t prefix_len) noexcept {
  // Two 64-bit compares (the on-link check runs for every packet sent): the addresses as big-endian words.
  const Bytes x{reinterpret_cast<const std::byte*>(a.octets.data()), 16};
  const Bytes y{reinterpret_cast<const std::byte*>(b.octets.data()), 16};
  const std::uint64_t hi = load_be64(x, 0) ^ load_be64(y, 0), lo = load_be64(x, 8) ^ load_be64(y, 8);
  const unsigned len = std::min<unsigned>(prefix_len, 128);
  if (len == 0) return true;
  if (len <= 64) return (hi >> (64 - len)) == 0;
  return hi == 0 && (lo >> (128 - len)) == 0;
}

unsigned ipv6_common_prefix_len(const Ipv6Address& a, const Ipv6Address& b) noexcept {
  for (std::size_t i = 0; i < 16; ++i) {
    const std::uint8_t x = a.octets[i] ^ b.octets[i];
    if (x != 0) return unsigned(i * 8) + unsigned(__builtin_clz(x) - 24);
  }
  return 128;
}

bool Ipv6Cidr::contains(const Ipv6Address& a) const noexcept { return ipv6_prefix_match(address, a, prefix_len); }

std::string Ipv6Cidr::to_string() const { return address.to_string() + '/' + std::to_string(prefix_len); }

std::ostream& operator<<(std::ostream& os, AddressState s) {
  switch (s) {
    case AddressState::kTentative: return os << "tentative";
    case AddressState::kPreferred: return os << "preferred";
    case AddressState::kDeprecated: return os << "deprecated";
    case AddressState::kDuplicate: return os << "duplicate";
  }
  return os << "state" << unsigned(s);
}

Instant lifetime_deadline(Instant now, std::uint32_t seconds_field) noexcept {
  if (seconds_field == 0xffffffffu) return Instant::max();
  return now + seconds(std::int64_t(seconds_field));
}

Instant slaac_valid_deadline(Instant now, Instant current, std::uint32_t advertised) noexcept {
  constexpr std::uint32_t kTwoHours = 2 * 60 * 60;
  const Instant advertised_end = lifetime_deadline(now, advertised);
  if (advertised > kTwoHours || advertised_end > current) return advertised_end;  // (e) 1
  if (current - now <= seconds(kTwoHours)) return current;                        // (e) 2: ignore
  return now + seconds(kTwoHours);                                                // (e) 3
}

bool slaac_prefix_usable(const PrefixInfo& p) noexcept {
  if (!p.autonomous) return false;                                   // (a)
  if (p.prefix.is_link_local()) return false;                        // (b)
  if (p.preferred_lifetime > p.valid_lifetime) return false;         // (c)
  if (p.prefix_len != 64) return false;                              // §5.5.3 (d): prefix + 64-bit IID != 128
  return !p.prefix.is_multicast();
}

}  // namespace tapstack::ip
