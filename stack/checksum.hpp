// The Internet checksum (RFC 1071) with incremental update (RFC 1624), used by IPv4, ICMP, UDP and TCP.
// `Checksum` accumulates several spans (pseudo-header, header, payload) of any length and alignment.
#pragma once
#include <cstdint>

#include "stack/bytes.hpp"

namespace tapstack {

// One's-complement sum of `data` read as big-endian 16-bit words, added to `acc` and folded to 16 bits.
// Several bytes per step; odd-length input is padded with a zero byte (callers combining spans of odd
// length use `Checksum`, which keeps track of the byte phase).
std::uint32_t checksum_add(Bytes data, std::uint32_t acc = 0) noexcept;
// Copies `src` to the start of `dst` (dst.size() >= src.size()) and returns checksum_add(src, acc): one pass over
// the bytes instead of two, for a payload that is copied into a frame anyway.
std::uint32_t checksum_copy(MutableBytes dst, Bytes src, std::uint32_t acc = 0) noexcept;
// Folds a 32-bit accumulator to 16 bits, not complemented.
constexpr std::uint16_t checksum_fold(std::uint64_t acc) noexcept {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return std::uint16_t(acc);
}
// The complemented checksum of one span: what goes into a header's checksum field.
inline std::uint16_t internet_checksum(Bytes data) noexcept {
  return std::uint16_t(~checksum_fold(checksum_add(data)));
}
// The obvious two-bytes-at-a-time definition, kept as the oracle for tests and the benchmark baseline.
std::uint16_t internet_checksum_reference(Bytes data) noexcept;

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') when a 16-bit field changes from m to m'.
constexpr std::uint16_t checksum_update16(std::uint16_t hc, std::uint16_t old_v, std::uint16_t new_v) noexcept {
  return std::uint16_t(~checksum_fold(std::uint32_t(std::uint16_t(~hc)) + std::uint16_t(~old_v) + new_v));
}
constexpr std::uint16_t checksum_update32(std::uint16_t hc, std::uint32_t old_v, std::uint32_t new_v) noexcept {
  return checksum_update16(checksum_update16(hc, std::uint16_t(old_v >> 16), std::uint16_t(new_v >> 16)),
                           std::uint16_t(old_v), std::uint16_t(new_v));
}

// Accumulates spans of any length in order, as if they were one contiguous buffer.
class Checksum {
 public:
  Checksum& add(Bytes data) noexcept;
  // add(src) that also copies src to the start of dst (dst.size() >= src.size()), in the same pass.
  Checksum& add_copy(MutableBytes dst, Bytes src) noexcept;
  Checksum& add_u16(std::uint16_t v) noexcept;
  Checksum& add_u32(std::uint32_t v) noexcept { return add_u16(std::uint16_t(v >> 16)).add_u16(std::uint16_t(v)); }
  // The complemented value to store in a header; 0 when `data` including its checksum field verifies.
  std::uint16_t finish() const noexcept { return std::uint16_t(~checksum_fold(acc_)); }

 private:
  std::uint64_t acc_ = 0;
  bool odd_ = false;  // an odd number of bytes so far: the next byte is a low byte
};

}  // namespace tapstack
