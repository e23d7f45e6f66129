// IPv4 fragment reassembly (RFC 791 §3.2, RFC 815 hole tracking) with the hardening of CONFORMANCE §2:
// ip::Interface hands every fragment of a validated IPv4 packet addressed to us to Reassembler::add(),
// which returns the whole datagram once its last hole fills.
//
// Policy (each choice counted by a named drop counter):
//  * Any overlap drops the whole datagram (RFC 5722 spirit for IPv4, RFC 1858 §4 overlap attacks) and
//    leaves a tombstone for the key until the datagram's timeout, so its stragglers cannot start a new
//    bogus datagram. Exception: an exact duplicate (same offset, length, MF flag and bytes) is ignored —
//    networks duplicate packets and the copy is unambiguous.
//  * Tiny fragments (RFC 1858 §3, RFC 3128): a first fragment shorter than 8 bytes (20 for TCP) and, for
//    TCP, any fragment at offset 8 drop the datagram. A first fragment that holds the fixed TCP header but
//    not all its options is accepted: nothing is delivered before the whole datagram is present, so no
//    partial header is ever parsed.
//  * A non-last fragment whose length is not a multiple of 8, or is 0, is malformed (RFC 791).
//  * Fragments whose end passes a known total length, or a second different last fragment: inconsistent.
//  * A datagram over 65535 bytes including the header is refused (ping of death).
//  * Memory: buffer bytes are capped globally (the oldest datagrams are evicted to make room) and per
//    source (the source's new fragment is refused); datagrams in flight and fragments per datagram are capped.
//  * Timeout: 30 s from the first fragment (RFC 1122 §3.3.2 suggests 60-120 s; RFC 791 15 s; Linux 30 s).
//    No ICMP time exceeded is sent on timeout (RFC 1122 §3.3.2 says MAY).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

struct ReassemblyConfig {
  Duration timeout = seconds(30);
  std::size_t max_datagrams = 64;                 // datagrams in flight (tombstones included)
  std::size_t max_fragments = 64;                 // fragments per datagram
  std::size_t max_bytes = 1024 * 1024;            // buffer bytes held for all datagrams
  std::size_t max_bytes_per_source = 256 * 1024;  // buffer bytes held for one source address
};

// RFC 791: fragments of one datagram share source, destination, protocol and identification.
struct FragmentKey {
  Ipv4Address src, dst;
  std::uint8_t protocol = 0;
  std::uint16_t ident = 0;
  friend constexpr bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

// One received fragment, borrowed from the frame for the call.
struct Fragment {
  FragmentKey key;
  std::uint32_t offset = 0;    // in bytes (fragment offset field * 8)
  bool more_fragments = false;
  std::uint8_t ttl = 0, tos = 0;
  Bytes header;                // this fragment's IPv4 header (20..60 bytes); kept from the first fragment
  Bytes payload;               // the bytes after the header, trimmed to the total length
};

// A complete datagram. `payload` and `header` stay valid until the next call into the Reassembler.
struct Reassembled {
  FragmentKey key;
  std::uint8_t ttl = 0, tos = 0;  // from the first fragment
  Bytes header;                   // the first fragment's header as received (MF set, its own total length)
  Bytes payload;
};

#define TAPSTACK_REASSEMBLY_COUNTERS(X)                                                                    \
  X(fragments) X(reassembled) X(duplicates_ignored) X(drop_overlap) X(drop_inconsistent) X(drop_too_big) \
  X(drop_tiny_fragment) X(drop_bad_fragment_len) X(drop_too_many_fragments) X(drop_timeout)              \
  X(drop_memory_global) X(drop_memory_per_source) X(drop_table_full) X(drop_after_abort) X(evicted) X(drop_no_memory)
TAPSTACK_DEFINE_COUNTERS(ReassemblyCounters, TAPSTACK_REASSEMBLY_COUNTERS)

class Reassembler {
 public:
  explicit Reassembler(ReassemblyConfig cfg = {});

  // Adds one fragment (offset > 0 or MF set). Returns the datagram when this fragment completed it.
  std::optional<Reassembled> add(Instant now, const Fragment& f) noexcept;
  // Drops datagrams (and tombstones) older than the timeout.
  void poll(Instant now) noexcept;
  std::optional<Instant> poll_at() const noexcept;

  std::size_t datagrams_in_flight() const noexcept;  // live datagrams, tombstones excluded
  std::size_t bytes_held() const noexcept { return bytes_held_; }
  const ReassemblyCounters& counters() const noexcept { return counters_; }
  const ReassemblyConfig& config() const noexcept { return cfg_; }

 private:
  struct Range {
    std::uint32_t begin = 0, end = 0;  // [begin, end) bytes of payload
  };
  struct Datagram {
    bool in_use = false;
    bool aborted = false;        // tombstone: later fragments with this key are discarded
    FragmentKey key;
    Instant expires_at;
    std::optional<std::uint32_t> total;  // payload length, known once the last fragment arrived
    std::vector<Range> ranges;           // sorted, disjoint
    std::vector<std::byte> buf;          // payload bytes; size() is what the memory caps count
    std::array<std::byte, 60> header{};  // the first fragment's header
    std::size_t header_len = 0;
    std::uint8_t ttl = 0, tos = 0;
  };
  Datagram* find(const FragmentKey& key) noexcept;
  Datagram* allocate(Instant now, const FragmentKey& key) noexcept;
  // Frees the buffer (tombstone = keep the key until expiry) and counts nothing.
  void release(Datagram& d, bool tombstone) noexcept;
  std::size_t bytes_of_source(Ipv4Address src) const noexcept;

  ReassemblyConfig cfg_;
  std::vector<Datagram> slots_;  // max_datagrams slots, reused
  std::vector<std::byte> out_;   // the last completed datagram's payload (handed out by add)
  std::array<std::byte, 60> out_header_{};
  std::size_t bytes_held_ = 0;
  ReassemblyCounters counters_;
};

}  // namespace tapstack::ip
