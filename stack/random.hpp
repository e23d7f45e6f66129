// Randomness behind one interface: a seeded generator for tests and simulations, and a cryptographically
// strong source (getrandom) for ISNs, ephemeral ports, IP IDs and DNS transaction IDs (RFC 6528, 6056, 5452).
#pragma once
#include <array>
#include <cstdint>
#include <span>

#include "stack/bytes.hpp"

namespace tapstack {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual std::uint64_t next_u64() noexcept = 0;
  std::uint32_t next_u32() noexcept { return std::uint32_t(next_u64() >> 32); }
  // Uniform in [0, bound) without modulo bias (Lemire); bound 0 returns 0.
  std::uint32_t uniform(std::uint32_t bound) noexcept;
  // True with probability p (clamped to [0, 1]).
  bool chance(double p) noexcept;
  void fill(MutableBytes out) noexcept;
};

// xoshiro256** seeded through splitmix64: fast, reproducible from one 64-bit seed.
class SeededRng final : public Rng {
 public:
  explicit SeededRng(std::uint64_t seed) noexcept;
  std::uint64_t next_u64() noexcept override;

 private:
  std::array<std::uint64_t, 4> s_{};
};

// The kernel's CSPRNG (getrandom(2)), buffered.
class SecureRng final : public Rng {
 public:
  std::uint64_t next_u64() noexcept override;

 private:
  std::array<std::uint64_t, 32> buf_{};
  std::size_t pos_ = buf_.size();
};

// SipHash-2-4: the keyed hash behind RFC 6528 ISNs, RFC 6056 port offsets and SYN cookies.
struct SipKey {
  std::uint64_t k0 = 0, k1 = 0;
  static SipKey random(Rng& rng) noexcept { return {rng.next_u64(), rng.next_u64()}; }
};
std::uint64_t siphash24(const SipKey& key, Bytes data) noexcept;

}  // namespace tapstack
