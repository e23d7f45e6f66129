// RFC 6528 ISN generation: a 4-microsecond clock plus a keyed hash (SipHash-2-4) of the connection id.
#include "tcp/isn.hpp"

#include <array>

#include "stack/bytes.hpp"

namespace tapstack::tcp {
namespace {

// family | local addr (16) | local port | remote addr (16) | remote port
using TupleBytes = std::array<std::byte, 1 + 16 + 2 + 16 + 2>;
TupleBytes tuple_bytes(const ip::Endpoint& local, const ip::Endpoint& remote) noexcept {
  TupleBytes b{};
  b[0] = std::byte(local.addr.family());
  copy_bytes(MutableBytes{b}.subspan(1, 16), local.addr.bytes());
  store_be16(b, 17, local.port);
  copy_bytes(MutableBytes{b}.subspan(19, 16), remote.addr.bytes());
  store_be16(b, 35, remote.port);
  return b;
}

}  // namespace

std::uint32_t IsnGenerator::offset(const ip::Endpoint& local, const ip::Endpoint& remote) const noexcept {
  const auto in = tuple_bytes(local, remote);
  return std::uint32_t(siphash24(key_, in));
}

SeqNum IsnGenerator::isn(Instant now, const ip::Endpoint& local, const ip::Endpoint& remote) const noexcept {
  // RFC 6528 §3: M "is a timer that is incremented every 4 microseconds"; it wraps every ~4.77 hours.
  const auto m = std::uint32_t(std::uint64_t(now.micros()) / 4);
  return SeqNum{m} + offset(local, remote);
}

}  // namespace tapstack::tcp
