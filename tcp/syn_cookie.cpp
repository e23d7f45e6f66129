// SYN cookie encoding and validation (RFC 4987 §3.6); see syn_cookie.hpp for the layout.
#include "tcp/syn_cookie.hpp"

#include <algorithm>

#include "stack/bytes.hpp"

namespace tapstack::tcp {
namespace {

constexpr std::uint32_t kHashMask = 0x00ffffffu;
constexpr int kTimeShift = 27;
constexpr int kMssShift = 24;
constexpr std::uint32_t kTimeMask = 0x1f;

std::uint32_t mss_index_for(std::uint16_t peer_mss) noexcept {
  std::uint32_t idx = 0;
  for (std::uint32_t i = 0; i < SynCookies::kMssTable.size(); ++i)
    if (SynCookies::kMssTable[i] <= peer_mss) idx = i;
  return idx;
}

}  // namespace

std::uint64_t SynCookies::slot(Instant now) noexcept {
  const std::int64_t us = now.micros() < 0 ? 0 : now.micros();
  return std::uint64_t(us) / std::uint64_t(kSlot.count());
}

std::uint16_t SynCookies::encodable_mss(std::uint16_t peer_mss) noexcept { return kMssTable[mss_index_for(peer_mss)]; }

std::uint32_t SynCookies::hash(const ip::Endpoint& local, const ip::Endpoint& remote, SeqNum irs, std::uint64_t t,
                               std::uint32_t mss_index) const noexcept {
  // family | local addr | local port | remote addr | remote port | irs | t | mss index
  std::array<std::byte, 1 + 16 + 2 + 16 + 2 + 4 + 8 + 1> in{};
  in[0] = std::byte(local.addr.family());
  copy_bytes(MutableBytes{in}.subspan(1, 16), local.addr.bytes());
  store_be16(in, 17, local.port);
  copy_bytes(MutableBytes{in}.subspan(19, 16), remote.addr.bytes());
  store_be16(in, 35, remote.port);
  store_be32(in, 37, irs.value());
  store_be64(in, 41, t);
  store_u8(in, 49, std::uint8_t(mss_index));
  return std::uint32_t(siphash24(key_, in)) & kHashMask;
}

std::uint32_t SynCookies::ts_offset(const ip::Endpoint& local, const ip::Endpoint& remote) const noexcept {
  // A different input layout from hash() (a leading tag), so the two never collide on one input.
  std::array<std::byte, 1 + 1 + 16 + 2 + 16 + 2> in{};
  in[0] = std::byte{0x54};  // 'T'
  in[1] = std::byte(local.addr.family());
  copy_bytes(MutableBytes{in}.subspan(2, 16), local.addr.bytes());
  store_be16(in, 18, local.port);
  copy_bytes(MutableBytes{in}.subspan(20, 16), remote.addr.bytes());
  store_be16(in, 36, remote.port);
  return std::uint32_t(siphash24(key_, in));
}

std::uint32_t SynCookies::encode_tsval(std::uint32_t ts_now, const TsOptions& o) noexcept {
  constexpr std::uint32_t mask = (1u << kTsBits) - 1;
  const std::uint32_t bits = (o.peer_wscale ? std::min<std::uint32_t>(*o.peer_wscale, 14) : kNoWscale) |
                             (o.sack ? 0x10u : 0u);
  std::uint32_t ts = (ts_now & ~mask) | bits;
  if (std::int32_t(ts - ts_now) > 0) ts -= mask + 1;  // not ahead of the clock (modular, as timestamps are)
  return ts;
}

std::optional<SynCookies::TsOptions> SynCookies::decode_tsecr(std::uint32_t tsecr) noexcept {
  if ((tsecr & 0x20u) != 0) return std::nullopt;  // the reserved bit: never set by encode_tsval
  TsOptions o;
  const std::uint32_t ws = tsecr & 0xfu;  // 0..14, or kNoWscale
  if (ws != kNoWscale) o.peer_wscale = std::uint8_t(ws);
  o.sack = (tsecr & 0x10u) != 0;
  return o;
}

SeqNum SynCookies::make(Instant now, const ip::Endpoint& local, const ip::Endpoint& remote, SeqNum irs,
                        std::uint16_t peer_mss) const noexcept {
  const std::uint64_t t = slot(now);
  const std::uint32_t idx = mss_index_for(peer_mss);
  const std::uint32_t v = (std::uint32_t(t & kTimeMask) << kTimeShift) | (idx << kMssShift) |
                          hash(local, remote, irs, t, idx);
  return SeqNum{v};
}

std::optional<std::uint16_t> SynCookies::check(Instant now, const ip::Endpoint& local, const ip::Endpoint& remote,
                                               SeqNum irs, SeqNum cookie) const noexcept {
  const std::uint32_t v = cookie.value();
  const std::uint32_t t5 = v >> kTimeShift;
  const std::uint32_t idx = (v >> kMssShift) & 0x7;
  const std::uint64_t current = slot(now);
  // RFC 4987 §3.6: accept the current slot and the one before it.
  for (std::uint64_t age = 0; age < 2 && age <= current; ++age) {
    const std::uint64_t t = current - age;
    if (std::uint32_t(t & kTimeMask) != t5) continue;
    if (hash(local, remote, irs, t, idx) == (v & kHashMask)) return kMssTable[idx];
  }
  return std::nullopt;
}

}  // namespace tapstack::tcp
