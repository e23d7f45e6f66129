// The Internet checksum (RFC 1071) with incremental update (RFC 1624), used by IPv4, ICMP, UDP and TCP.
// `Checksum` accumulates several spans (pseudo-header, header, payload) of any length and alignment.
#pragma once
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

#include "stack/bytes.hpp"

namespace tapstack {

namespace checksum_detail {
// Spans shorter than this (headers, pseudo-header fields) are summed inline by the scalar loop; longer ones go to
// the vector path, whose setup and final reduction cost more than they save on a 64-byte header (measured with
// bench_checksum, see docs/benchmarks.md).
inline constexpr std::size_t kShortSpan = 128;
// The one's-complement sum of a short span as native-endian 32-bit words, not folded. RFC 1071 §2(B): the sum
// is byte-order independent, so the folded result is byte-swapped once (to_be16) instead of every word.
inline std::uint64_t sum_native_short(const std::byte* p, std::size_t n) noexcept {
  std::uint64_t s = 0;
  for (; n >= 4; n -= 4, p += 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    s += w;
  }
  if (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {  // an odd last byte is the high byte of a word padded with zero: [b, 0] in memory order
    const std::array<std::byte, 2> pad{*p, std::byte{0}};
    std::uint16_t w;
    std::memcpy(&w, pad.data(), 2);
    s += w;
  }
  return s;
}
// Folds a native-order sum to 16 bits and returns it as a big-endian-word sum.
inline std::uint16_t fold_native(std::uint64_t s) noexcept {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  const auto v = std::uint16_t(s);
  if constexpr (std::endian::native == std::endian::little) return std::uint16_t((v >> 8) | (v << 8));
  return v;
}
std::uint32_t checksum_add_long(Bytes data, std::uint32_t acc) noexcept;
}  // namespace checksum_detail

// One's-complement sum of `data` read as big-endian 16-bit words, added to `acc` and folded to 16 bits.
// Several bytes per step; odd-length input is padded with a zero byte (callers combining spans of odd
// length use `Checksum`, which keeps track of the byte phase).
inline std::uint32_t checksum_add(Bytes data, std::uint32_t acc = 0) noexcept {
  if (data.size() >= checksum_detail::kShortSpan) return checksum_detail::checksum_add_long(data, acc);
  std::uint64_t s = std::uint64_t(acc) + checksum_detail::fold_native(checksum_detail::sum_native_short(data.data(), data.size()));
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return std::uint32_t(s);
}
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
  Checksum& add(Bytes data) noexcept {
    if (odd_ || data.size() >= checksum_detail::kShortSpan) return add_long(data);
    acc_ += checksum_detail::fold_native(checksum_detail::sum_native_short(data.data(), data.size()));
    odd_ = data.size() % 2 == 1;
    return *this;
  }
  // add(src) that also copies src to the start of dst (dst.size() >= src.size()), in the same pass.
  Checksum& add_copy(MutableBytes dst, Bytes src) noexcept;
  Checksum& add_u16(std::uint16_t v) noexcept {
    if (odd_) {
      // Split across the byte phase: the high byte completes the pending word, the low byte starts a new one.
      acc_ += std::uint16_t(v >> 8);
      acc_ += std::uint16_t((v & 0xff) << 8);
    } else {
      acc_ += v;
    }
    return *this;
  }
  Checksum& add_u32(std::uint32_t v) noexcept { return add_u16(std::uint16_t(v >> 16)).add_u16(std::uint16_t(v)); }
  // The complemented value to store in a header; 0 when `data` including its checksum field verifies.
  std::uint16_t finish() const noexcept { return std::uint16_t(~checksum_fold(acc_)); }

 private:
  Checksum& add_long(Bytes data) noexcept;
  std::uint64_t acc_ = 0;
  bool odd_ = false;  // an odd number of bytes so far: the next byte is a low byte
};

}  // namespace tapstack
