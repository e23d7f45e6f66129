// Internet checksum: 8 bytes per step into a 64-bit accumulator, with end-around carry.
#include "stack/checksum.hpp"

#include <bit>
#include <cstring>

namespace tapstack {
namespace {

// Sums `data` as big-endian 16-bit words into a 64-bit accumulator (not folded).
std::uint64_t sum_be(Bytes data) noexcept {
  std::uint64_t acc = 0;
  const std::byte* p = data.data();
  std::size_t n = data.size();
  // Sum native-endian 32-bit halves of 64-bit loads; byte-swap the folded result once at the end
  // (the one's-complement sum is byte-order independent, RFC 1071 §2(B)).
  std::uint64_t native = 0;
  while (n >= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, 32);
    native += (w[0] & 0xffffffffu) + (w[0] >> 32) + (w[1] & 0xffffffffu) + (w[1] >> 32) + (w[2] & 0xffffffffu) +
              (w[2] >> 32) + (w[3] & 0xffffffffu) + (w[3] >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    native += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    std::uint16_t w;
    std::memcpy(&w, p, 2);
    native += w;
    p += 2;
    n -= 2;
  }
  std::uint16_t folded = checksum_fold(native);
  if constexpr (std::endian::native == std::endian::little) folded = std::uint16_t((folded >> 8) | (folded << 8));
  acc += folded;
  if (n == 1) acc += std::uint16_t(std::uint16_t(*p) << 8);
  return acc;
}

}  // namespace

std::uint32_t checksum_add(Bytes data, std::uint32_t acc) noexcept {
  return checksum_fold(std::uint64_t(acc) + sum_be(data));
}

std::uint16_t internet_checksum_reference(Bytes data) noexcept {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    sum += (std::uint32_t(data[i]) << 8) | std::uint32_t(data[i + 1]);
    sum = (sum & 0xffff) + (sum >> 16);
  }
  if (i < data.size()) sum += std::uint32_t(data[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return std::uint16_t(~sum);
}

Checksum& Checksum::add(Bytes data) noexcept {
  if (data.empty()) return *this;
  if (odd_) {
    acc_ += std::uint16_t(data[0]);
    data = data.subspan(1);
    odd_ = false;
  }
  acc_ += sum_be(data);
  if (data.size() % 2 == 1) odd_ = true;
  acc_ = checksum_fold(acc_);
  return *this;
}

Checksum& Checksum::add_u16(std::uint16_t v) noexcept {
  if (odd_) {
    // Split across the byte phase: high byte completes the pending word, low byte starts a new one.
    acc_ += std::uint16_t(v >> 8);
    acc_ += std::uint16_t((v & 0xff) << 8);
  } else {
    acc_ += v;
  }
  return *this;
}

}  // namespace tapstack
