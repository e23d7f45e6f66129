// Initial sequence numbers (RFC 6528 §3): ISN = M + F(localip, localport, remoteip, remoteport, secretkey).
// The TCP layer asks for one per new connection (active and passive opens); the Connection just uses it.
#pragma once
#include <cstdint>

#include "ip/address.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/seq.hpp"

namespace tapstack::tcp {

class IsnGenerator {
 public:
  // The secret key is drawn from `rng` once (RFC 6528 §3: "secretkey ... SHOULD be ... generated at boot").
  explicit IsnGenerator(Rng& rng) noexcept : key_{SipKey::random(rng)} {}
  explicit IsnGenerator(const SipKey& key) noexcept : key_{key} {}

  // M is a 4-microsecond timer taken from `now` (RFC 6528 §3, after RFC 793's clock), truncated to 32 bits;
  // F is SipHash-2-4 (stack/random.hpp) of the 4-tuple, low 32 bits.
  SeqNum isn(Instant now, const ip::Endpoint& local, const ip::Endpoint& remote) const noexcept;
  // F alone: the per-tuple offset, for tests.
  std::uint32_t offset(const ip::Endpoint& local, const ip::Endpoint& remote) const noexcept;

 private:
  SipKey key_;
};

}  // namespace tapstack::tcp
