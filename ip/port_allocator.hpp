// PortAllocator: transport-agnostic ephemeral port selection (RFC 6056 §3.3.4, Algorithm 4 "double-hash").
// A transport (tcp::TcpLayer; later udp::UdpLayer) asks it for a local port toward one remote endpoint and
// says through `in_use` which candidates it cannot take; the allocator never stores bindings itself.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "ip/address.hpp"
#include "stack/function_ref.hpp"
#include "stack/random.hpp"

namespace tapstack::ip {

struct PortRange {
  // RFC 6056 §3.2: the IANA dynamic/private range by default.
  std::uint16_t min = 49152;
  std::uint16_t max = 65535;
};

class PortAllocator {
 public:
  // Keys both hashes from `rng` (SecureRng in production) once, at construction; `rng` is used again for the
  // RFC 6056 §3.3.5 random increment after each pick, so it must outlive the allocator. A reversed range is
  // swapped; a minimum of 0 becomes 1 (0 means "pick one" to callers, never a result).
  explicit PortAllocator(Rng& rng, PortRange range = {}) noexcept;

  // Algorithm 4: offset = F(local, remote, secret1); the bucket table[G(local, remote, secret2)] is the
  // per-destination counter; candidates are min + (offset + counter++) % num until `in_use` says no.
  // `in_use(port)` is the caller's uniqueness rule (for TCP: the 4-tuple exists, or a listener owns the port),
  // so a port may be reused toward different remotes. nullopt when every port in the range is in use.
  std::optional<std::uint16_t> allocate(const IpAddress& local, const Endpoint& remote,
                                        FunctionRef<bool(std::uint16_t)> in_use) noexcept;

  const PortRange& range() const noexcept { return range_; }

 private:
  static constexpr std::size_t kTableSize = 1024;  // RFC 6056 §3.3.4 suggests a few hundred to a few thousand
  // RFC 6056 §3.3.5: advance the bucket by a random 1..N after a pick, so successive ports toward one peer
  // are not consecutive numbers (Linux does the same since 5.18).
  static constexpr std::uint32_t kMaxIncrement = 500;

  Rng& rng_;
  PortRange range_;
  SipKey offset_key_, table_key_;
  std::array<std::uint32_t, kTableSize> table_{};
};

}  // namespace tapstack::ip
