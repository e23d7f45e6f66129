// Internet checksum: 32 bytes per step with AVX2 where the CPU has it (checked once at run time), else 8 bytes
// per step into a 64-bit accumulator, with end-around carry. checksum_copy() sums while it copies (one pass).
#include "stack/checksum.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TAPSTACK_CHECKSUM_AVX2 1
#endif

namespace tapstack {
namespace {

#ifdef TAPSTACK_CHECKSUM_AVX2
bool have_avx2() noexcept {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

// Sum of the native-endian 16-bit words of `blocks` 32-byte blocks (and a copy of them to `dst` when kCopy).
// Each 32-bit lane takes one zero-extended word per block, so lanes are widened to 64 bits every 65536 blocks
// at the latest, before they could overflow.
template <bool kCopy>
__attribute__((target("avx2"))) std::uint64_t sum_blocks_avx2(const std::byte* p, std::size_t blocks,
                                                              std::byte* dst) noexcept {
  const __m256i zero = _mm256_setzero_si256();
  __m256i wide = zero;
  while (blocks != 0) {
    std::size_t chunk = std::min<std::size_t>(blocks, 65536);
    blocks -= chunk;
    __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    for (; chunk >= 2; chunk -= 2) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
      if constexpr (kCopy) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32), v1);
        dst += 64;
      }
      a0 = _mm256_add_epi32(a0, _mm256_unpacklo_epi16(v0, zero));
      a1 = _mm256_add_epi32(a1, _mm256_unpackhi_epi16(v0, zero));
      a2 = _mm256_add_epi32(a2, _mm256_unpacklo_epi16(v1, zero));
      a3 = _mm256_add_epi32(a3, _mm256_unpackhi_epi16(v1, zero));
      p += 64;
    }
    if (chunk != 0) {
      const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      if constexpr (kCopy) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v0);
        dst += 32;
      }
      a0 = _mm256_add_epi32(a0, _mm256_unpacklo_epi16(v0, zero));
      a1 = _mm256_add_epi32(a1, _mm256_unpackhi_epi16(v0, zero));
      p += 32;
    }
    for (const __m256i a : {a0, a1, a2, a3}) {
      wide = _mm256_add_epi64(wide, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(a)));
      wide = _mm256_add_epi64(wide, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(a, 1)));
    }
  }
  alignas(32) std::uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), wide);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}
#endif

// Sums `data` as big-endian 16-bit words into a 64-bit accumulator (not folded); copies it to `dst` first
// when `dst` is not null (dst has room for data.size() bytes).
std::uint64_t sum_be(Bytes data, std::byte* dst = nullptr) noexcept {
  const std::byte* p = data.data();
  std::size_t n = data.size();
  // Sum native-endian 32-bit halves of 64-bit loads; byte-swap the folded result once at the end
  // (the one's-complement sum is byte-order independent, RFC 1071 §2(B)).
  std::uint64_t native = 0;
#ifdef TAPSTACK_CHECKSUM_AVX2
  if (n >= checksum_detail::kShortSpan && have_avx2()) {
    const std::size_t blocks = n / 32;
    native += dst != nullptr ? sum_blocks_avx2<true>(p, blocks, dst) : sum_blocks_avx2<false>(p, blocks, nullptr);
    p += blocks * 32;
    n -= blocks * 32;
    if (dst != nullptr) dst += blocks * 32;
  }
#endif
  if (dst != nullptr && n != 0) std::memcpy(dst, p, n);  // the scalar tail below sums the source
  while (n >= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, 32);
    native += (w[0] & 0xffffffffu) + (w[0] >> 32) + (w[1] & 0xffffffffu) + (w[1] >> 32) + (w[2] & 0xffffffffu) +
              (w[2] >> 32) + (w[3] & 0xffffffffu) + (w[3] >> 32);
    p += 32;
    n -= 32;
  }
  native += checksum_detail::sum_native_short(p, n);  // the last < 32 bytes, an odd one included
  return checksum_detail::fold_native(native);
}

}  // namespace

std::uint32_t checksum_detail::checksum_add_long(Bytes data, std::uint32_t acc) noexcept {
  return checksum_fold(std::uint64_t(acc) + sum_be(data));
}

std::uint32_t checksum_copy(MutableBytes dst, Bytes src, std::uint32_t acc) noexcept {
  if (src.empty()) return checksum_fold(acc);
  return checksum_fold(std::uint64_t(acc) + sum_be(src, dst.data()));
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

Checksum& Checksum::add_long(Bytes data) noexcept {
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

Checksum& Checksum::add_copy(MutableBytes dst, Bytes src) noexcept {
  if (src.empty()) return *this;
  std::byte* out = dst.data();
  if (odd_) {
    acc_ += std::uint16_t(src[0]);
    *out++ = src[0];
    src = src.subspan(1);
    odd_ = false;
  }
  acc_ += sum_be(src, out);
  if (src.size() % 2 == 1) odd_ = true;
  acc_ = checksum_fold(acc_);
  return *this;
}

}  // namespace tapstack
