// Seeded and secure random sources, and SipHash-2-4 (Aumasson and Bernstein, reference algorithm).
#include "stack/random.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tapstack {

std::uint32_t Rng::uniform(std::uint32_t bound) noexcept {
  if (bound == 0) return 0;
  std::uint64_t m = std::uint64_t(next_u32()) * bound;
  auto low = std::uint32_t(m);
  if (low < bound) {
    const std::uint32_t threshold = std::uint32_t(-bound) % bound;
    while (low < threshold) {
      m = std::uint64_t(next_u32()) * bound;
      low = std::uint32_t(m);
    }
  }
  return std::uint32_t(m >> 32);
}

bool Rng::chance(double p) noexcept {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return double(next_u64() >> 11) * 0x1.0p-53 < p;
}

void Rng::fill(MutableBytes out) noexcept {
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t v = next_u64();
    const std::size_t n = std::min<std::size_t>(8, out.size() - i);
    std::memcpy(out.data() + i, &v, n);
    i += n;
  }
}

namespace {
constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

SeededRng::SeededRng(std::uint64_t seed) noexcept {
  for (auto& w : s_) w = splitmix64(seed);
}

std::uint64_t SeededRng::next_u64() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

namespace {
// Fills `p` from getrandom(2), falling back to /dev/urandom where the syscall is missing or filtered
// (kernels before 3.17, seccomp profiles that answer ENOSYS/EPERM). Returns false if neither works.
bool fill_secure(unsigned char* p, std::size_t n) noexcept {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(p + got, n - got, 0);
    if (r > 0) got += std::size_t(r);
    else if (r < 0 && errno != EINTR) break;
  }
  if (got == n) return true;
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r > 0) got += std::size_t(r);
    else if (r == 0 || errno != EINTR) break;
  }
  ::close(fd);
  return got == n;
}
}  // namespace

std::uint64_t SecureRng::next_u64() noexcept {
  if (pos_ == buf_.size()) {
    // Fail closed: handing out stale or zero bytes would make ISNs, ports and DNS IDs predictable
    // (RFC 6528 §3, RFC 5452 §9), which is worse than stopping.
    if (!fill_secure(reinterpret_cast<unsigned char*>(buf_.data()), sizeof(buf_))) std::abort();
    pos_ = 0;
  }
  return buf_[pos_++];
}

std::uint64_t siphash24(const SipKey& key, Bytes data) noexcept {
  std::uint64_t v0 = 0x736f6d6570736575ull ^ key.k0, v1 = 0x646f72616e646f6dull ^ key.k1;
  std::uint64_t v2 = 0x6c7967656e657261ull ^ key.k0, v3 = 0x7465646279746573ull ^ key.k1;
  auto round = [&] {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  };
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t m = 0;
    for (int b = 7; b >= 0; --b) m = (m << 8) | std::uint64_t(data[i + std::size_t(b)]);  // little-endian word
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t last = std::uint64_t(n & 0xff) << 56;
  for (std::size_t b = 0; i + b < n; ++b) last |= std::uint64_t(data[i + b]) << (8 * b);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

}  // namespace tapstack
