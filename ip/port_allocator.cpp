// RFC 6056 §3.3.4 Algorithm 4 (double-hash port selection) with the §3.3.5 random increment.
#include "ip/port_allocator.hpp"

#include <utility>

#include "stack/bytes.hpp"

namespace tapstack::ip {
namespace {

// The hash input: (local address, remote address, remote port), family-tagged (RFC 6056 §3.3.4 F()).
std::array<std::byte, 1 + 16 + 16 + 2> hash_input(const IpAddress& local, const Endpoint& remote) noexcept {
  std::array<std::byte, 1 + 16 + 16 + 2> in{};
  in[0] = std::byte(local.family());
  copy_bytes(MutableBytes{in}.subspan(1, 16), local.bytes());
  copy_bytes(MutableBytes{in}.subspan(17, 16), remote.addr.bytes());
  store_be16(in, 33, remote.port);
  return in;
}

}  // namespace

PortAllocator::PortAllocator(Rng& rng, PortRange range) noexcept
    : rng_{rng}, range_{range}, offset_key_{SipKey::random(rng)}, table_key_{SipKey::random(rng)} {
  if (range_.min > range_.max) std::swap(range_.min, range_.max);
  if (range_.min == 0) range_.min = 1;
  if (range_.max == 0) range_.max = 1;
}

std::optional<std::uint16_t> PortAllocator::allocate(const IpAddress& local, const Endpoint& remote,
                                                     FunctionRef<bool(std::uint16_t)> in_use) noexcept {
  const auto in = hash_input(local, remote);
  const std::uint64_t offset = siphash24(offset_key_, in);
  std::uint32_t& counter = table_[siphash24(table_key_, in) % kTableSize];
  const std::uint32_t num = std::uint32_t(range_.max) - range_.min + 1;
  for (std::uint32_t tries = 0; tries < num; ++tries) {
    const auto port = std::uint16_t(range_.min + (offset + counter) % num);
    ++counter;
    if (!in_use(port)) {
      counter += rng_.uniform(kMaxIncrement);
      return port;
    }
  }
  return std::nullopt;
}

}  // namespace tapstack::ip
