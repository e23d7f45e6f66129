// IPv6 interface addresses and stateless autoconfiguration (RFC 4862): the address record the IPv6 engine keeps
// per address (state, origin, lifetimes, DAD progress), the Ipv6Cidr used for static configuration, and the
// lifetime rules of RFC 4862 §5.5.3 that turn a Prefix Information option into an address update.
#pragma once
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "ip/address.hpp"
#include "ip/ndp_options.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

// An IPv6 address with its prefix length: a statically configured interface address ("2001:db8::2/64").
struct Ipv6Cidr {
  Ipv6Address address;
  std::uint8_t prefix_len = 64;  // 0..128

  static std::optional<Ipv6Cidr> parse(std::string_view s) noexcept;  // "addr/n"; a bare address is /128
  bool contains(const Ipv6Address& a) const noexcept;
  std::string to_string() const;
  friend constexpr bool operator==(const Ipv6Cidr&, const Ipv6Cidr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const Ipv6Cidr& c) { return os << c.to_string(); }
};
// True when the first `prefix_len` bits of a and b are equal.
bool ipv6_prefix_match(const Ipv6Address& a, const Ipv6Address& b, std::uint8_t prefix_len) noexcept;
// The number of leading bits a and b share (0..128), for RFC 6724 rule 8.
unsigned ipv6_common_prefix_len(const Ipv6Address& a, const Ipv6Address& b) noexcept;

// RFC 4862 §5.4 / §5.5.4: an address is TENTATIVE until DAD ends, then PREFERRED, DEPRECATED once its preferred
// lifetime ends (still usable for existing communication, avoided for new), and removed when its valid
// lifetime ends. DUPLICATE: DAD found another node using it; never used (RFC 4862 §5.4.5).
enum class AddressState : std::uint8_t { kTentative, kPreferred, kDeprecated, kDuplicate };
enum class AddressOrigin : std::uint8_t { kLinkLocal, kStatic, kSlaac };
std::ostream& operator<<(std::ostream& os, AddressState s);

struct Ipv6InterfaceAddress {
  Ipv6Address address;
  std::uint8_t prefix_len = 64;
  AddressState state = AddressState::kTentative;
  AddressOrigin origin = AddressOrigin::kStatic;
  Instant preferred_until = Instant::max();
  Instant valid_until = Instant::max();
  // Duplicate Address Detection progress (RFC 4862 §5.4).
  bool dad_started = false;  // the solicited-node group was joined (MLD report sent)
  unsigned dad_sent = 0;     // DAD NS sent so far
  Instant dad_next_at;       // next NS, or (after the last) when the address becomes PREFERRED

  bool usable() const noexcept { return state == AddressState::kPreferred || state == AddressState::kDeprecated; }
};

// A lifetime field in seconds as a deadline: 0xffffffff is infinity (RFC 4861 §4.6.2).
Instant lifetime_deadline(Instant now, std::uint32_t seconds_field) noexcept;

// RFC 4862 §5.5.3 (e), the "two hours rule": the valid deadline to keep for an existing SLAAC address whose
// valid lifetime ends at `current`, after a PIO advertised `advertised` seconds. An advertised lifetime over
// two hours, or longer than what remains, is taken; otherwise the remaining lifetime is kept when it is two
// hours or less, and cut to two hours when it is more (so a forged RA cannot expire an address quickly).
Instant slaac_valid_deadline(Instant now, Instant current, std::uint32_t advertised) noexcept;

// RFC 4862 §5.5.3 (a)-(d): whether a Prefix Information option may form an address: A flag set, not the
// link-local prefix, preferred <= valid, and a /64 (the interface identifier is 64 bits, RFC 4291 §2.5.1).
bool slaac_prefix_usable(const PrefixInfo& p) noexcept;

}  // namespace tapstack::ip
