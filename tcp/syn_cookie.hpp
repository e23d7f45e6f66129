// SYN cookies (RFC 4987 §3.6): when a listener's SYN queue is full, the TCP layer answers a SYN statelessly
// with a SYN-ACK whose ISN encodes what it must remember, and rebuilds the connection from the final ACK.
#pragma once
#include <array>
#include <cstdint>
#include <optional>

#include "ip/address.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/seq.hpp"

namespace tapstack::tcp {

// Cookie layout (the ISN of our SYN-ACK), after Bernstein's original and RFC 4987 §3.6:
//   bits 31..27  t mod 32: a coarse time counter (kSlot per tick)
//   bits 26..24  index into kMssTable of the largest entry <= the peer's MSS
//   bits 23..0   SipHash-2-4(secret, local, remote, peer ISN, t, mss index) truncated to 24 bits
// A cookie validates during the slot it was made in and the next one (RFC 4987 §3.6: "a cookie is valid
// for a limited time"), so it lives between one and two slots.
//
// When the SYN carried timestamps, the SYN-ACK's TSval carries the rest, as Linux does: its low kTsBits bits
// hold the peer's window scale (0..14, kNoWscale for none) and SACK-permitted, and the peer echoes them in the
// TSecr of its final ACK. Without timestamps a cookie connection runs without window scaling or SACK (the
// deviation RFC 4987 §3.6 describes). The TSval itself is the connection's clock, offset by a keyed hash of the
// two endpoints (RFC 7323 §5.4), so the connection built from the cookie goes on from it.
class SynCookies {
 public:
  static constexpr Duration kSlot = seconds(64);
  // Common MSS values (Linux msstab has 4; 8 fit in 3 bits). Ascending; the first is the IPv4 default.
  static constexpr std::array<std::uint16_t, 8> kMssTable{536, 1200, 1220, 1300, 1380, 1440, 1460, 8960};

  explicit SynCookies(Rng& rng) noexcept : key_{SipKey::random(rng)} {}
  explicit SynCookies(const SipKey& key) noexcept : key_{key} {}

  // The ISN for the SYN-ACK answering a SYN with SEG.SEQ = `irs` and MSS option `peer_mss` (no option:
  // pass the family default, 536 or 1220).
  SeqNum make(Instant now, const ip::Endpoint& local, const ip::Endpoint& remote, SeqNum irs,
              std::uint16_t peer_mss) const noexcept;
  // Validates the final ACK of the handshake: `cookie` = SEG.ACK - 1, `irs` = SEG.SEQ - 1. Returns the MSS
  // the cookie encodes, or nullopt for a forged, altered or stale (older than two slots) cookie.
  std::optional<std::uint16_t> check(Instant now, const ip::Endpoint& local, const ip::Endpoint& remote, SeqNum irs,
                                     SeqNum cookie) const noexcept;
  // The MSS a cookie carries for a peer MSS: the largest table entry <= peer_mss (at least kMssTable[0]).
  static std::uint16_t encodable_mss(std::uint16_t peer_mss) noexcept;

  // The options a cookie's TSval carries.
  struct TsOptions {
    std::optional<std::uint8_t> peer_wscale;  // 0..14; nullopt: no window scaling
    bool sack = false;
    friend bool operator==(const TsOptions&, const TsOptions&) = default;
  };
  static constexpr int kTsBits = 6;
  static constexpr std::uint32_t kNoWscale = 0xf;
  // The timestamp offset of a cookie connection between these endpoints (a keyed hash, RFC 7323 §5.4).
  std::uint32_t ts_offset(const ip::Endpoint& local, const ip::Endpoint& remote) const noexcept;
  // The TSval of a cookie SYN-ACK: `ts_now` (the connection's clock now) with its low kTsBits bits replaced by
  // `o`, stepped back one unit of 2^kTsBits if that went past ts_now, so that later TSvals do not go backwards.
  static std::uint32_t encode_tsval(std::uint32_t ts_now, const TsOptions& o) noexcept;
  // The options an echoed TSval (the final ACK's TSecr) carries; nullopt for values no cookie holds (a reserved
  // bit set).
  static std::optional<TsOptions> decode_tsecr(std::uint32_t tsecr) noexcept;

 private:
  static std::uint64_t slot(Instant now) noexcept;
  std::uint32_t hash(const ip::Endpoint& local, const ip::Endpoint& remote, SeqNum irs, std::uint64_t t,
                     std::uint32_t mss_index) const noexcept;
  SipKey key_;
};

}  // namespace tapstack::tcp
