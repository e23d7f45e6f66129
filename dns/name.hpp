// Domain names (RFC 1035 §3.1, §4.1.4): a validated, uncompressed wire-form value, its text form, and the
// hardened decoder for names inside a message (compression pointers, RFC 9267). Message parsing calls here.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "stack/bytes.hpp"
#include "stack/counters.hpp"

namespace tapstack::dns {

inline constexpr std::size_t kMaxLabelLen = 63;   // RFC 1035 §2.3.4
inline constexpr std::size_t kMaxNameLen = 255;   // RFC 1035 §2.3.4: wire form, length octets and root included
inline constexpr std::size_t kHeaderLen = 12;     // RFC 1035 §4.1.1
// RFC 9267 §2 asks for a bound on pointer hops; no honest compressor needs more than a handful (each hop
// moves to an earlier, distinct suffix), and dns_compression_chain_depth.pcap needs 6.
inline constexpr std::size_t kDefaultMaxPointerHops = 16;

// Why a message (or a name in it) was refused. Shared by every dns/ wire parser; each has a counter of
// the same name (see WireCounters).
enum class DropReason : std::uint8_t {
  kTruncated,       // a header, name, question or record runs past the end (incl. counts the bytes can't hold)
  kBadName,         // label > 63, reserved label type 0x40/0x80, or name > 255 octets (CVE-2020-11901)
  kPointerLoop,     // a pointer back into bytes already read for this name, or more hops than allowed
  kForwardPointer,  // a pointer to an offset at or after itself (RFC 9267 §2, CVE-2017-12995)
  kBadPointer,      // a pointer into the 12-byte header
  kBadRdlength,     // RDLENGTH past the end of the message (CVE-2020-24336)
  kBadRdata,        // A not 4 bytes, AAAA not 16, a CNAME whose name does not fill RDLENGTH exactly
};
std::string_view to_string(DropReason r) noexcept;  // "drop_truncated", "drop_bad_name", ...
std::ostream& operator<<(std::ostream& os, DropReason r);

#define TAPSTACK_DNS_WIRE_COUNTERS(X)                                                            \
  X(drop_truncated) X(drop_bad_name) X(drop_pointer_loop) X(drop_forward_pointer) X(drop_bad_pointer) \
  X(drop_bad_rdlength) X(drop_bad_rdata)
TAPSTACK_DEFINE_COUNTERS(WireCounters, TAPSTACK_DNS_WIRE_COUNTERS)
// Bumps the counter named after `r` (the resolver embeds WireCounters in its own counters).
void count(WireCounters& c, DropReason r) noexcept;

// A domain name as its uncompressed wire form: length-prefixed labels ending in the root's zero octet.
// Every Name is valid: labels 1..63 octets, at most 255 octets in all. Labels may hold any octet (RFC 2181
// §11); comparison ignores ASCII case only (RFC 4343 §3).
class Name {
 public:
  struct Parsed;

  Name() noexcept { wire_[0] = 0; }  // the root

  // Text form: labels separated by '.', an optional trailing '.', "." alone for the root. Escapes as in
  // master files (RFC 1035 §5.1): "\." and "\\" for a literal character, "\DDD" (decimal) for any octet.
  // nullopt for "", empty labels ("a..b", ".a"), a label over 63 octets, a name over 255, a bad escape.
  static std::optional<Name> from_text(std::string_view text) noexcept;

  // Decodes the name at `offset` of the whole message `msg`, following compression pointers
  // (RFC 1035 §4.1.4) under the rules of RFC 9267 §2:
  //  - a pointer must point strictly before the start of the label run it ends (the name's own start, then
  //    each previous target), so targets strictly decrease and no byte is read twice; a target inside bytes
  //    already read is kPointerLoop (self-pointer, cycles), any other target at or after the pointer is
  //    kForwardPointer, a target inside the header is kBadPointer;
  //  - at most `max_hops` pointers are followed (kPointerLoop beyond);
  //  - labels over 63, label types 0x40 and 0x80 (RFC 6891 §5 retired 0x40) and names over 255 are kBadName;
  //  - nothing is read past msg.size() (kTruncated).
  // On success `next` is the offset just past the name where it started (past the first pointer, if any).
  static std::optional<Parsed> parse(Bytes msg, std::size_t offset, DropReason* why = nullptr,
                                     std::size_t max_hops = kDefaultMaxPointerHops) noexcept;

  // "www.example.com" (no trailing dot), "." for the root; octets other than letters, digits, '-' and '_'
  // are escaped ("\." "\\" or "\DDD") so that from_text(to_string()) gives the name back.
  std::string to_string() const;

  Bytes wire() const noexcept { return Bytes{reinterpret_cast<const std::byte*>(wire_.data()), len_}; }
  std::size_t wire_len() const noexcept { return len_; }
  std::size_t label_count() const noexcept;
  bool is_root() const noexcept { return len_ == 1; }
  // Writes wire() uncompressed; returns the octets written, or 0 if `out` is too small.
  std::size_t emit(MutableBytes out) const noexcept;

  friend bool operator==(const Name& a, const Name& b) noexcept;  // ASCII case-insensitive
  friend std::ostream& operator<<(std::ostream& os, const Name& n) { return os << n.to_string(); }
  std::size_t hash() const noexcept;  // consistent with == (case-folded)

 private:
  std::array<std::uint8_t, kMaxNameLen> wire_{};
  std::uint8_t len_ = 1;
};

struct Name::Parsed {
  Name name;
  std::size_t next = 0;  // offset just past the name in the message (where the caller's next field starts)
};

}  // namespace tapstack::dns

template <>
struct std::hash<tapstack::dns::Name> {
  std::size_t operator()(const tapstack::dns::Name& n) const noexcept { return n.hash(); }
};
