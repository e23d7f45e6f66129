// Neighbor Discovery options (RFC 4861 §4.6, RFC 8106 §5): the checked walker over the option bytes of an
// RS/RA/NS/NA/Redirect, the typed options the host uses, and emitters for the ones it (or a test) writes.
// ip/icmpv6 runs ndp_options_error() on every NDP message before it parses anything else.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

#include "ip/address.hpp"
#include "stack/bytes.hpp"

namespace tapstack::ip {

inline constexpr std::size_t kNdpOptionUnit = 8;  // the Length field counts 8-byte units

enum class NdpOptionType : std::uint8_t {
  kSourceLinkAddr = 1,    // RFC 4861 §4.6.1
  kTargetLinkAddr = 2,    // RFC 4861 §4.6.1
  kPrefixInfo = 3,        // RFC 4861 §4.6.2
  kRedirectedHeader = 4,  // RFC 4861 §4.6.3
  kMtu = 5,               // RFC 4861 §4.6.4
  kRdnss = 25,            // RFC 8106 §5.1
  kDnssl = 31,            // RFC 8106 §5.2: walked over, not parsed (no search-list support)
};

// Why an option list was refused: the whole NDP message is discarded (RFC 4861 §6.1, §7.1).
enum class NdpOptionError : std::uint8_t {
  kTruncated,      // fewer than 2 bytes left for type and length
  kZeroLength,     // Length 0: RFC 4861 §4.6 "MUST silently discard" (else the walk would not advance)
  kOverrun,        // the option runs past the end of the message
  kBadLinkAddr,    // SLLA/TLLA with Length != 1 (6-byte MAC on Ethernet, RFC 2464 §8)
  kBadPrefixInfo,  // Prefix Information with Length != 4 or a prefix length over 128
  kBadMtu,         // MTU with Length != 1
  kBadRdnss,       // RDNSS with Length < 3 or even (RFC 8106 §5.1; CVE-2020-16898 mis-walked even lengths)
};
std::string_view to_string(NdpOptionError e) noexcept;  // "truncated", "zero_length", "overrun", ...
std::ostream& operator<<(std::ostream& os, NdpOptionError e);

// Prefix Information (RFC 4861 §4.6.2). Lifetimes in seconds; 0xffffffff is infinity.
struct PrefixInfo {
  std::uint8_t prefix_len = 0;
  bool on_link = false;     // L
  bool autonomous = false;  // A
  std::uint32_t valid_lifetime = 0;
  std::uint32_t preferred_lifetime = 0;
  Ipv6Address prefix;
  friend bool operator==(const PrefixInfo&, const PrefixInfo&) = default;
  friend std::ostream& operator<<(std::ostream& os, const PrefixInfo& p);
};

// Recursive DNS Server (RFC 8106 §5.1): a lifetime in seconds and 1.. addresses borrowed from the message.
struct RdnssInfo {
  std::uint32_t lifetime = 0;
  Bytes addresses;  // a multiple of 16 bytes
  std::size_t count() const noexcept { return addresses.size() / 16; }
  Ipv6Address address(std::size_t i) const noexcept { return Ipv6Address::from_bytes(addresses.subspan(i * 16)); }
};

// One option as walked: its type and its body (the bytes after type and length; (Length * 8) - 2 bytes).
struct NdpOption {
  std::uint8_t type = 0;
  Bytes body;
  std::uint8_t length_units() const noexcept { return std::uint8_t((body.size() + 2) / kNdpOptionUnit); }
};

// Checks a whole option list: every option has Length > 0 and lies inside `options`, and the options the host
// interprets have their required lengths. Unknown options are skipped by their length (RFC 4861 §4.6).
std::optional<NdpOptionError> ndp_options_error(Bytes options) noexcept;

// Iterates an option list that ndp_options_error() accepted (on one it did not, stops at the first bad option).
class NdpOptionIterator {
 public:
  explicit NdpOptionIterator(Bytes options) noexcept : rest_{options} {}
  std::optional<NdpOption> next() noexcept;

 private:
  Bytes rest_;
};

// Typed readers for an option of the right type and length (what ndp_options_error checks).
MacAddress ndp_link_addr(const NdpOption& o) noexcept;
PrefixInfo ndp_prefix_info(const NdpOption& o) noexcept;
std::uint32_t ndp_mtu(const NdpOption& o) noexcept;
RdnssInfo ndp_rdnss(const NdpOption& o) noexcept;

// A summary of a checked option list: the single-valued options (the first occurrence wins) and counts of the
// repeated ones, whose values for_each_* yields. `raw` borrows from the message.
struct NdpOptions {
  Bytes raw;
  std::optional<MacAddress> source_link_addr;
  std::optional<MacAddress> target_link_addr;
  std::optional<std::uint32_t> mtu;
  Bytes redirected_header;  // the IP header + data of a Redirect's Redirected Header option (RFC 4861 §4.6.3)
  std::size_t prefix_count = 0, rdnss_count = 0, dnssl_count = 0, unknown_count = 0;

  static std::optional<NdpOptions> parse(Bytes raw, NdpOptionError* why = nullptr) noexcept;
  template <class F>  // F(const PrefixInfo&)
  void for_each_prefix(F&& f) const {
    NdpOptionIterator it{raw};
    while (auto o = it.next())
      if (o->type == std::uint8_t(NdpOptionType::kPrefixInfo)) f(ndp_prefix_info(*o));
  }
  template <class F>  // F(const RdnssInfo&)
  void for_each_rdnss(F&& f) const {
    NdpOptionIterator it{raw};
    while (auto o = it.next())
      if (o->type == std::uint8_t(NdpOptionType::kRdnss)) f(ndp_rdnss(*o));
  }
};

// Emitters: each writes one option into out[0, returned length) and returns that length; out must be large
// enough (the returned size is fixed per type: 8, 32, 8, 8 + 16 * n).
std::size_t emit_ndp_link_addr(MutableBytes out, NdpOptionType type, const MacAddress& mac) noexcept;  // 8
std::size_t emit_ndp_prefix_info(MutableBytes out, const PrefixInfo& p) noexcept;                      // 32
std::size_t emit_ndp_mtu(MutableBytes out, std::uint32_t mtu) noexcept;                                // 8
// RFC 8106 §5.1: Length 1 + 2 * addresses.size().
std::size_t emit_ndp_rdnss(MutableBytes out, std::uint32_t lifetime, std::span<const Ipv6Address> addresses) noexcept;

}  // namespace tapstack::ip
