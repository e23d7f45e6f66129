// Byte order and bounded byte access: the only place where wire byte order is handled.
// Every wire view in ip/, udp/, tcp/ and dns/ reads and writes through these helpers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace tapstack {

using Bytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

// Callers guarantee `off + N <= b.size()` (wire views check lengths once, in parse()).
inline std::uint8_t load_u8(Bytes b, std::size_t off) noexcept { return std::uint8_t(b[off]); }
inline std::uint16_t load_be16(Bytes b, std::size_t off) noexcept {
  return std::uint16_t((std::uint16_t(b[off]) << 8) | std::uint16_t(b[off + 1]));
}
inline std::uint32_t load_be32(Bytes b, std::size_t off) noexcept {
  return (std::uint32_t(b[off]) << 24) | (std::uint32_t(b[off + 1]) << 16) | (std::uint32_t(b[off + 2]) << 8) |
         std::uint32_t(b[off + 3]);
}
inline std::uint64_t load_be64(Bytes b, std::size_t off) noexcept {
  return (std::uint64_t(load_be32(b, off)) << 32) | load_be32(b, off + 4);
}
inline void store_u8(MutableBytes b, std::size_t off, std::uint8_t v) noexcept { b[off] = std::byte(v); }
inline void store_be16(MutableBytes b, std::size_t off, std::uint16_t v) noexcept {
  b[off] = std::byte(v >> 8);
  b[off + 1] = std::byte(v & 0xff);
}
inline void store_be32(MutableBytes b, std::size_t off, std::uint32_t v) noexcept {
  b[off] = std::byte(v >> 24);
  b[off + 1] = std::byte((v >> 16) & 0xff);
  b[off + 2] = std::byte((v >> 8) & 0xff);
  b[off + 3] = std::byte(v & 0xff);
}
inline void store_be64(MutableBytes b, std::size_t off, std::uint64_t v) noexcept {
  store_be32(b, off, std::uint32_t(v >> 32));
  store_be32(b, off + 4, std::uint32_t(v));
}

inline Bytes as_bytes(std::string_view s) noexcept { return {reinterpret_cast<const std::byte*>(s.data()), s.size()}; }
inline std::string_view as_chars(Bytes b) noexcept { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Copies min(src.size(), dst.size()) bytes and returns how many were copied.
inline std::size_t copy_bytes(MutableBytes dst, Bytes src) noexcept {
  const std::size_t n = src.size() < dst.size() ? src.size() : dst.size();
  if (n != 0) std::memcpy(dst.data(), src.data(), n);
  return n;
}

}  // namespace tapstack
