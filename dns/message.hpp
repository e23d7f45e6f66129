// DNS messages (RFC 1035 §4): header, questions and resource records as values, the hardened parser every
// received UDP datagram or TCP-framed message goes through, the query builder, and answers_for(), which
// picks the addresses a question asked for out of a response. The sans-I/O resolver sits on top.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <variant>
#include <vector>

#include "dns/name.hpp"
#include "ip/address.hpp"
#include "stack/bytes.hpp"

namespace tapstack::dns {

// RR TYPEs (IANA "Resource Record (RR) TYPEs"); any 16-bit value is representable.
enum class Type : std::uint16_t {
  kA = 1, kNs = 2, kCname = 5, kSoa = 6, kPtr = 12, kMx = 15, kTxt = 16, kAaaa = 28, kSrv = 33, kOpt = 41,
  kDs = 43, kRrsig = 46, kDnskey = 48, kAny = 255,
};
// CLASSes (RFC 1035 §3.2.4); for OPT the field is the UDP payload size instead (RFC 6891 §6.1.2).
enum class Class : std::uint16_t { kIn = 1, kCh = 3, kHs = 4, kAny = 255 };
enum class Opcode : std::uint8_t { kQuery = 0, kIquery = 1, kStatus = 2, kNotify = 4, kUpdate = 5 };
// RCODE (RFC 1035 §4.1.1; the low 4 bits, EDNS extends it through the OPT TTL).
enum class Rcode : std::uint8_t { kNoError = 0, kFormErr = 1, kServFail = 2, kNxDomain = 3, kNotImp = 4, kRefused = 5 };

std::ostream& operator<<(std::ostream& os, Type t);    // "A", "AAAA", ..., "TYPE99"
std::ostream& operator<<(std::ostream& os, Rcode r);   // "NOERROR", ..., "RCODE11"

// RFC 2181 §8: a TTL with the top bit set is treated as 0. The default cap is one week, as common resolvers
// use (BIND max-cache-ttl, Unbound cache-max-ttl is one day): a poisoned record cannot pin the cache forever.
inline constexpr std::uint32_t kDefaultMaxTtl = 604800;
inline constexpr std::size_t kDefaultMaxRecordsPerSection = 64;
inline constexpr std::uint16_t kEdnsDefaultUdpSize = 1232;  // DNS Flag Day 2020 recommendation
inline constexpr std::size_t kMaxUdpMessage = 512;           // RFC 1035 §2.3.4 without EDNS
inline constexpr std::size_t kMaxMessage = 65535;            // RFC 1035 §4.2.2: the TCP length prefix

// The 12-byte header (RFC 1035 §4.1.1, AD/CD from RFC 4035 §3.2). The counts are as received; a parsed
// Message's sections may hold fewer (see ParseOptions::max_records_per_section).
struct Header {
  std::uint16_t id = 0;
  bool qr = false;  // response
  Opcode opcode = Opcode::kQuery;
  bool aa = false, tc = false, rd = false, ra = false, z = false, ad = false, cd = false;
  Rcode rcode = Rcode::kNoError;
  std::uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;

  std::uint16_t flags() const noexcept;  // the second 16-bit word
  static Header from_flags(std::uint16_t id, std::uint16_t flags) noexcept;  // counts left at 0
  // Just the header: enough to see TC or the ID without a full parse. nullopt under 12 bytes.
  static std::optional<Header> parse(Bytes msg) noexcept;
  void emit(MutableBytes out) const noexcept;  // out.size() >= 12
  friend bool operator==(const Header&, const Header&) = default;
};
std::ostream& operator<<(std::ostream& os, const Header& h);

struct Question {
  Name name;
  Type type = Type::kA;
  Class qclass = Class::kIn;
  friend bool operator==(const Question&, const Question&) = default;
};
std::ostream& operator<<(std::ostream& os, const Question& q);

// RDATA: typed for A, AAAA and CNAME; the octets as received for every other type (NS, SOA, PTR, MX
// hold names that may be compressed against the message: they are not decoded, only carried).
using RawRdata = std::vector<std::byte>;
using Rdata = std::variant<RawRdata, ip::Ipv4Address, ip::Ipv6Address, Name>;

struct Record {
  Name name;
  Type type = Type::kA;
  Class rclass = Class::kIn;  // OPT: the requestor's UDP payload size
  // Seconds, after RFC 2181 §8 (top bit set -> 0) and the cap. OPT keeps the raw field (extended RCODE,
  // version, DO: RFC 6891 §6.1.3), since it is not a TTL.
  std::uint32_t ttl = 0;
  Rdata data;

  const ip::Ipv4Address* a() const noexcept { return std::get_if<ip::Ipv4Address>(&data); }
  const ip::Ipv6Address* aaaa() const noexcept { return std::get_if<ip::Ipv6Address>(&data); }
  const Name* cname() const noexcept { return std::get_if<Name>(&data); }
  const RawRdata* raw() const noexcept { return std::get_if<RawRdata>(&data); }
  friend bool operator==(const Record&, const Record&) = default;
};
std::ostream& operator<<(std::ostream& os, const Record& r);

// What the OPT pseudo-record of the additional section says (RFC 6891 §6.1.3).
struct Edns {
  std::uint16_t udp_payload_size = 0;
  std::uint8_t extended_rcode = 0;  // upper 8 bits of the 12-bit RCODE
  std::uint8_t version = 0;
  bool dnssec_ok = false;
  friend bool operator==(const Edns&, const Edns&) = default;
};

struct ParseOptions {
  std::size_t max_pointer_hops = kDefaultMaxPointerHops;  // per name, RFC 9267 §2
  // Records past this many in a section are still checked (a bad one still rejects the message) but not
  // kept; Message::records_dropped counts them. Also bounds the questions kept.
  std::size_t max_records_per_section = kDefaultMaxRecordsPerSection;
  std::uint32_t max_ttl = kDefaultMaxTtl;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answers, authorities, additionals;
  std::optional<Edns> edns;      // from the first OPT record in the additional section
  std::size_t records_dropped = 0;  // checked but not kept (over the per-section cap)

  // The only door for untrusted bytes: `msg` is one whole message (a UDP payload, or what TcpFramer
  // delivers). Walks exactly the counts in the header, but every step is bounded by msg.size(), so a
  // count the bytes cannot hold is kTruncated at the first record that does not fit (CVE-2020-24340),
  // never a read past the buffer. Octets after the last record are ignored. Allocates (vectors).
  static std::optional<Message> parse(Bytes msg, DropReason* why = nullptr, const ParseOptions& opt = {}) noexcept;

  // Uncompressed emit (tests and a fake server use it; a resolver sends Query). The counts written are the
  // section sizes, not header.*count.
  std::size_t buffer_len() const noexcept;
  std::size_t emit(MutableBytes out) const noexcept;  // returns buffer_len(), or 0 if `out` is too small
  friend bool operator==(const Message&, const Message&) = default;
};
std::ostream& operator<<(std::ostream& os, const Message& m);

// One question with RD set (RFC 1035 §4.1), optionally with an EDNS0 OPT record advertising a UDP payload
// size (RFC 6891 §6.1.2: root owner, CLASS = size, TTL 0, no options). The name is valid by construction
// (Name: labels 1..63, <= 255 octets).
struct Query {
  std::uint16_t id = 0;  // random per query (RFC 5452 §4.3): the resolver draws it from SecureRng
  Name name;
  Type type = Type::kA;
  Class qclass = Class::kIn;
  bool rd = true;
  bool cd = false;
  std::optional<std::uint16_t> edns_udp_size;

  std::size_t buffer_len() const noexcept;
  std::size_t emit(MutableBytes out) const noexcept;  // returns buffer_len(), or 0 if `out` is too small
};

// One address out of a response, with the TTL it may be cached for: the lowest of its own TTL and the TTLs
// of the CNAMEs that led to it.
struct AddressAnswer {
  ip::IpAddress address;
  std::uint32_t ttl = 0;
  friend bool operator==(const AddressAnswer&, const AddressAnswer&) = default;
};

struct Answers {
  enum class End : std::uint8_t {
    kAddresses,  // records of the asked type for the canonical name
    kNoData,     // the chain ended with nothing of the asked type (the resolver may ask again for canonical_name)
    kHopLimit,   // more CNAMEs than allowed (a loop, or a chain too long to trust)
  };
  End end = End::kNoData;
  Name canonical_name;  // where the CNAME chain led (the question name if there was none)
  std::size_t cname_hops = 0;
  std::vector<AddressAnswer> addresses;
};

inline constexpr std::size_t kDefaultMaxCnameHops = 8;

// RFC 1034 §4.3.2 step 3.a / §5.2.2: starting from `qname` only, take the answer-section records of class IN
// whose owner is the current name: records of type `type` (A or AAAA give addresses) end the walk; otherwise
// a CNAME moves the current name to its target, at most `max_hops` times. Records about other names, other
// types or in other sections are ignored (CONFORMANCE §2: they are how cache poisoning gets in).
Answers answers_for(const Message& m, const Name& qname, Type type,
                    std::size_t max_hops = kDefaultMaxCnameHops) noexcept;

}  // namespace tapstack::dns
