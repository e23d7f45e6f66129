// The byte stream `tapstack send` writes and the hash `send`/`recv` print, so a peer can check identity:
// byte i of the stream is byte (i mod 8) of splitmix64(i / 8) in little-endian order; the hash is 64-bit FNV-1a.
#pragma once
#include <cstddef>
#include <cstdint>

#include "stack/bytes.hpp"

namespace tapstack::cli {

// SplitMix64's output function for the state (k + 1) * golden gamma: a fixed, position-addressable stream
// (a segment lost, duplicated or moved changes the hash).
constexpr std::uint64_t pattern_word(std::uint64_t k) noexcept {
  std::uint64_t z = (k + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Writes the pattern bytes [offset, offset + out.size()) of the stream into `out`.
inline void fill_pattern(std::uint64_t offset, MutableBytes out) noexcept {
  for (std::size_t i = 0; i < out.size();) {
    const std::uint64_t pos = offset + i;
    const std::uint64_t w = pattern_word(pos / 8);
    for (std::uint64_t b = pos % 8; b < 8 && i < out.size(); ++b, ++i) out[i] = std::byte(w >> (8 * b));
  }
}

// 64-bit FNV-1a (Fowler/Noll/Vo), incrementally: start from kFnvOffset and feed chunks in order.
inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
inline std::uint64_t fnv1a(std::uint64_t h, Bytes data) noexcept {
  for (std::byte b : data) h = (h ^ std::uint64_t(b)) * kFnvPrime;
  return h;
}

}  // namespace tapstack::cli
