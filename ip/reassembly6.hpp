// IPv6 fragment reassembly (RFC 8200 §4.5) with the hardening of RFC 5722, RFC 7112 and CONFORMANCE §2:
// the interface walks a packet's chain (walk_ipv6_chain) and hands every packet with a Fragment header to
// Reassembler6::add(), which returns the whole packet once its last hole fills, or the Parameter Problem to
// send about a malformed fragment. Same policies and memory model as ip/reassembly.hpp (IPv4), with:
//  * Key: (source, destination, Fragment Identification) (RFC 8200 §4.5).
//  * Atomic fragments (offset 0, M = 0) are returned unchanged at once and never touch reassembly state
//    (RFC 6946 §4).
//  * Any overlap drops the whole datagram and leaves a tombstone until its timeout (RFC 5722 §4); an exact
//    duplicate (same offset, length, M and bytes) is ignored (RFC 8200 §4.5 allows this).
//  * A fragment with M = 1 whose length is not a multiple of 8 (or is 0): dropped, Parameter Problem code 0
//    pointing at the Payload Length field (RFC 8200 §4.5).
//  * A fragment that would make the reassembled Payload Length exceed 65535: dropped, Parameter Problem
//    code 0 pointing at the Fragment Offset field (RFC 8200 §4.5).
//  * A first fragment that does not hold the whole header chain up to and including the upper-layer header
//    (TCP 20, UDP 8, ICMPv6 8 bytes): dropped, Parameter Problem code 3, pointer 0 (RFC 7112 §5). Other chain
//    errors found in it drop the datagram with the walker's Parameter Problem, if any.
//  * Memory: buffer bytes capped globally (oldest evicted) and per source (refused); datagrams in flight and
//    fragments per datagram capped. The unfragmentable part kept from the first fragment is at most 1280 bytes.
//  * Timeout: 60 s from the first fragment to arrive (RFC 8200 §4.5). poll() can report each timed-out datagram
//    whose first fragment had arrived, so the interface may send Time Exceeded code 1 (RFC 8200 §4.5 "should").
// The reassembled packet is the first fragment's unfragmentable part (its last Next Header set to the Fragment
// header's, Payload Length recomputed) followed by the fragmentable data: walk it again like any packet.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "ip/ipv6.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/function_ref.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

struct Reassembly6Config {
  Duration timeout = seconds(60);                 // RFC 8200 §4.5
  std::size_t max_datagrams = 64;                 // datagrams in flight (tombstones included)
  std::size_t max_fragments = 64;                 // fragments per datagram
  std::size_t max_bytes = 1024 * 1024;            // buffer bytes held for all datagrams
  std::size_t max_bytes_per_source = 256 * 1024;  // buffer bytes held for one source address
};

struct Fragment6Key {
  Ipv6Address src, dst;
  std::uint32_t ident = 0;
  friend constexpr bool operator==(const Fragment6Key&, const Fragment6Key&) = default;
};

enum class Reassembly6Status : std::uint8_t {
  kHeld,          // stored (or an exact duplicate ignored); nothing to do
  kComplete,      // `packet` is a whole packet (reassembled, or the atomic fragment as it came)
  kDropped,       // refused; a drop counter says why
  kParamProblem,  // refused; send `param_problem` about the fragment just added (if may_send_error_about)
};

struct Reassembly6Result {
  Reassembly6Status status = Reassembly6Status::kHeld;
  Bytes packet;                    // kComplete: valid until the next call into the Reassembler6
  Ipv6ParamProblem param_problem;  // kParamProblem: pointer into the fragment passed to add()
};

#define TAPSTACK_REASSEMBLY6_COUNTERS(X)                                                                             \
  X(fragments)                                                                                                       \
  X(atomic_fragments) X(reassembled) X(duplicates_ignored) X(drop_overlap) X(drop_inconsistent) X(drop_too_big)      \
      X(drop_incomplete_chain) X(drop_bad_chain) X(drop_bad_fragment_len) X(drop_too_many_fragments) X(drop_timeout) \
          X(drop_memory_global) X(drop_memory_per_source) X(drop_table_full) X(drop_after_abort) X(evicted)          \
              X(drop_no_memory)
TAPSTACK_DEFINE_COUNTERS(Reassembly6Counters, TAPSTACK_REASSEMBLY6_COUNTERS)

class Reassembler6 {
 public:
  explicit Reassembler6(Reassembly6Config cfg = {});

  // Adds one packet whose walked chain has a Fragment header (chain.fragment set; a chain without one is
  // counted as drop_inconsistent). `packet` and `chain` come from Ipv6View::parse and walk_ipv6_chain.
  Reassembly6Result add(Instant now, const Ipv6View& packet, const Ipv6Chain& chain) noexcept;
  // Drops datagrams (and tombstones) older than the timeout.
  void poll(Instant now) noexcept;
  // The same, calling `time_exceeded(first_fragment)` for each timed-out datagram whose first fragment had
  // arrived, with that fragment rebuilt (valid for the call) for an ICMPv6 Time Exceeded code 1 quote.
  void poll(Instant now, FunctionRef<void(Bytes)> time_exceeded) noexcept;
  std::optional<Instant> poll_at() const noexcept;

  std::size_t datagrams_in_flight() const noexcept;  // live datagrams, tombstones excluded
  std::size_t bytes_held() const noexcept { return bytes_held_; }
  const Reassembly6Counters& counters() const noexcept { return counters_; }
  const Reassembly6Config& config() const noexcept { return cfg_; }

 private:
  struct Range {
    std::uint32_t begin = 0, end = 0;  // [begin, end) bytes of the fragmentable part
  };
  struct Datagram {
    bool in_use = false;
    bool aborted = false;  // tombstone: later fragments with this key are discarded
    Fragment6Key key;
    Instant expires_at;
    std::optional<std::uint32_t> total;     // fragmentable length, known once the last fragment arrived
    std::vector<Range> ranges;              // sorted by begin, disjoint
    std::vector<std::byte> buf;             // fragmentable bytes; size() is what the memory caps count
    std::vector<std::byte> unfragmentable;  // the first fragment's [0, Fragment header); empty until it came
    std::size_t next_header_field = 0;      // in `unfragmentable`: the field that named the Fragment header
    std::uint8_t next_header = 0;           // the first fragment's Fragment header Next Header
  };
  Datagram* find(const Fragment6Key& key) noexcept;
  Datagram* allocate(Instant now, const Fragment6Key& key) noexcept;
  void release(Datagram& d, bool tombstone) noexcept;
  std::size_t bytes_of_source(const Ipv6Address& src) const noexcept;
  void expire(Instant now, FunctionRef<void(Bytes)>* time_exceeded) noexcept;

  Reassembly6Config cfg_;
  std::vector<Datagram> slots_;
  std::vector<std::byte> out_;  // the last completed packet (or rebuilt first fragment)
  std::size_t bytes_held_ = 0;
  Reassembly6Counters counters_;
};

}  // namespace tapstack::ip
