// SYN cookie encoding (tcp/syn_cookie): round trip, MSS table, the two-slot validity window, and rejection
// of altered, forged and stale cookies (RFC 4987 §3.6). Also the RFC 6528 ISN generator (tcp/isn).
#include "tcp/syn_cookie.hpp"

#include <gtest/gtest.h>

#include <set>

#include "tcp/isn.hpp"

namespace tapstack::tcp {
namespace {

const ip::Endpoint kLocal{ip::Ipv4Address{{192, 0, 2, 1}}, 80};
const ip::Endpoint kRemote{ip::Ipv4Address{{198, 51, 100, 2}}, 40000};
const SeqNum kIrs{0x12345678};
constexpr Instant kT0 = Instant::from_millis(1'000'000);

TEST(SynCookie, RoundTripGivesTheEncodedMss) {
  SeededRng rng{1};
  SynCookies c{rng};
  const SeqNum cookie = c.make(kT0, kLocal, kRemote, kIrs, 1460);
  EXPECT_EQ(c.check(kT0, kLocal, kRemote, kIrs, cookie), std::optional<std::uint16_t>{1460});
}

TEST(SynCookie, MssRoundsDownToTheTable) {
  EXPECT_EQ(SynCookies::encodable_mss(1459), 1440);
  EXPECT_EQ(SynCookies::encodable_mss(1460), 1460);
  EXPECT_EQ(SynCookies::encodable_mss(9000), 8960);
  EXPECT_EQ(SynCookies::encodable_mss(0), 536);  // below the table: the floor
  EXPECT_EQ(SynCookies::encodable_mss(1220), 1220);
  SeededRng rng{2};
  SynCookies c{rng};
  for (const std::uint16_t mss : {536, 1000, 1220, 1300, 1400, 1460, 1500, 9000}) {
    const SeqNum cookie = c.make(kT0, kLocal, kRemote, kIrs, mss);
    EXPECT_EQ(c.check(kT0, kLocal, kRemote, kIrs, cookie), SynCookies::encodable_mss(mss)) << mss;
  }
}

TEST(SynCookie, ValidInTheNextSlotButNotTheOneAfter) {
  SeededRng rng{3};
  SynCookies c{rng};
  // Made at the very start of a slot: valid for two full slots, then stale.
  const Instant start = Instant::from_micros(SynCookies::kSlot.count() * 100);
  const SeqNum cookie = c.make(start, kLocal, kRemote, kIrs, 1460);
  EXPECT_TRUE(c.check(start + SynCookies::kSlot - microseconds{1}, kLocal, kRemote, kIrs, cookie));
  EXPECT_TRUE(c.check(start + SynCookies::kSlot, kLocal, kRemote, kIrs, cookie));
  EXPECT_TRUE(c.check(start + 2 * SynCookies::kSlot - microseconds{1}, kLocal, kRemote, kIrs, cookie));
  EXPECT_FALSE(c.check(start + 2 * SynCookies::kSlot, kLocal, kRemote, kIrs, cookie));
  // 32 slots later the 5-bit counter matches again, but the hash covers the full counter.
  EXPECT_FALSE(c.check(start + 32 * SynCookies::kSlot, kLocal, kRemote, kIrs, cookie));
  // A cookie from the future (clock skew / forged counter) is not accepted either.
  EXPECT_FALSE(c.check(start - SynCookies::kSlot, kLocal, kRemote, kIrs, cookie));
}

TEST(SynCookie, RejectsAlteredCookiesAndOtherTuples) {
  SeededRng rng{4};
  SynCookies c{rng};
  const SeqNum cookie = c.make(kT0, kLocal, kRemote, kIrs, 1460);
  // Every single-bit change is caught: hash bits directly, MSS and time bits because the hash covers them.
  for (int bit = 0; bit < 32; ++bit) {
    const SeqNum bad{cookie.value() ^ (1u << bit)};
    EXPECT_FALSE(c.check(kT0, kLocal, kRemote, kIrs, bad)) << "bit " << bit;
  }
  EXPECT_FALSE(c.check(kT0, kLocal, kRemote, kIrs + 1, cookie));  // other peer ISN
  EXPECT_FALSE(c.check(kT0, kLocal, ip::Endpoint{kRemote.addr, 40001}, kIrs, cookie));
  EXPECT_FALSE(c.check(kT0, ip::Endpoint{kLocal.addr, 81}, kRemote, kIrs, cookie));
  EXPECT_FALSE(c.check(kT0, kLocal, ip::Endpoint{ip::Ipv4Address{{198, 51, 100, 3}}, 40000}, kIrs, cookie));
  // Another secret (another host, or after a restart) does not validate it.
  SeededRng rng2{5};
  SynCookies other{rng2};
  EXPECT_FALSE(other.check(kT0, kLocal, kRemote, kIrs, cookie));
}

TEST(SynCookie, ForgedCookiesAlmostNeverPass) {
  SeededRng rng{6};
  SynCookies c{rng};
  SeededRng guesses{7};
  int accepted = 0;
  for (int i = 0; i < 20000; ++i)
    if (c.check(kT0, kLocal, kRemote, kIrs, SeqNum{guesses.next_u32()})) ++accepted;
  // 24 hash bits and 2 of 32 time values: the chance per guess is 2^-28; 20000 guesses should all fail.
  EXPECT_EQ(accepted, 0);
}

TEST(SynCookie, WorksForIpv6) {
  SeededRng rng{8};
  SynCookies c{rng};
  const ip::Endpoint l6{*ip::Ipv6Address::parse("2001:db8::1"), 443};
  const ip::Endpoint r6{*ip::Ipv6Address::parse("2001:db8::2"), 50000};
  const SeqNum cookie = c.make(kT0, l6, r6, kIrs, 1220);
  EXPECT_EQ(c.check(kT0, l6, r6, kIrs, cookie), std::optional<std::uint16_t>{1220});
  EXPECT_FALSE(c.check(kT0, kLocal, kRemote, kIrs, cookie));
}

// RFC 6528 §3: ISN = M + F(4-tuple, secret), M ticking every 4 microseconds.
TEST(Isn, DiffersPerTupleAndAdvancesWithTime) {
  SeededRng rng{9};
  IsnGenerator g{rng};
  const SeqNum a = g.isn(kT0, kLocal, kRemote);
  const SeqNum b = g.isn(kT0, kLocal, ip::Endpoint{kRemote.addr, 40001});
  const SeqNum c = g.isn(kT0, ip::Endpoint{kLocal.addr, 81}, kRemote);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(b, c);
  // Same tuple: exactly one tick per 4 us.
  EXPECT_EQ(g.isn(kT0 + microseconds{4}, kLocal, kRemote), a + 1);
  EXPECT_EQ(g.isn(kT0 + milliseconds{1}, kLocal, kRemote), a + 250);
  EXPECT_EQ(g.isn(kT0 + seconds{1}, kLocal, kRemote) - a, 250000);
  EXPECT_GT(g.isn(kT0 + seconds{1}, kLocal, kRemote), a);
  // Deterministic for one key, different for another (the secret matters).
  EXPECT_EQ(g.isn(kT0, kLocal, kRemote), a);
  SeededRng rng2{10};
  IsnGenerator g2{rng2};
  EXPECT_NE(g2.isn(kT0, kLocal, kRemote), a);
}

// The options a cookie SYN-ACK carries in its TSval's low 6 bits: every window scale and SACK combination
// decodes back; the TSval never runs ahead of the clock it was taken from, by less than 64 units.
TEST(SynCookies, TsvalCarriesWindowScaleAndSack_NeverAheadOfTheClock) {
  for (const std::uint32_t ts_now : {0u, 1u, 63u, 64u, 1000u, 0xffffffc0u, 0xffffffffu}) {
    for (int ws = -1; ws <= 14; ++ws) {
      for (const bool sack : {false, true}) {
        SynCookies::TsOptions o;
        if (ws >= 0) o.peer_wscale = std::uint8_t(ws);
        o.sack = sack;
        const std::uint32_t v = SynCookies::encode_tsval(ts_now, o);
        EXPECT_EQ(SynCookies::decode_tsecr(v), std::optional<SynCookies::TsOptions>{o}) << ts_now << " " << ws;
        const std::int32_t behind = std::int32_t(ts_now - v);
        EXPECT_GE(behind, 0) << ts_now;
        EXPECT_LT(behind, 64) << ts_now;
      }
    }
  }
  // A peer window scale above 14 is taken as 14 (RFC 7323 §2.3).
  EXPECT_EQ(SynCookies::decode_tsecr(SynCookies::encode_tsval(5000, {std::uint8_t{20}, false}))->peer_wscale, 14);
  // The reserved bit is never set by us: such a TSecr is refused.
  EXPECT_EQ(SynCookies::decode_tsecr(0x20), std::nullopt);
  EXPECT_EQ(SynCookies::decode_tsecr(0x3f), std::nullopt);
  // Any TSecr a peer may send (it is wire input): the 64 patterns of the low bits, under any high bits, either are
  // refused (reserved bit) or decode to options that encode back to the same bits.
  for (std::uint32_t low = 0; low < 64; ++low) {
    for (const std::uint32_t high : {0u, 0x40u, 0xffffffc0u}) {
      const auto o = SynCookies::decode_tsecr(high | low);
      EXPECT_EQ(o.has_value(), (low & 0x20u) == 0) << low;
      if (o) {
        EXPECT_EQ(SynCookies::encode_tsval(high | 0x3f, *o) & 0x3f, low) << low;
      }
    }
  }
  // The offset is a keyed hash of the endpoints.
  SeededRng rng{12};
  const SynCookies c{rng};
  EXPECT_EQ(c.ts_offset(kLocal, kRemote), c.ts_offset(kLocal, kRemote));
  EXPECT_NE(c.ts_offset(kLocal, kRemote), c.ts_offset(kLocal, ip::Endpoint{kRemote.addr, 40001}));
  SeededRng rng2{13};
  EXPECT_NE(SynCookies{rng2}.ts_offset(kLocal, kRemote), c.ts_offset(kLocal, kRemote));
}

TEST(Isn, OffsetsAreSpreadAcrossTuples) {
  SeededRng rng{11};
  IsnGenerator g{rng};
  std::set<std::uint32_t> seen;
  for (std::uint16_t p = 1; p <= 1000; ++p) seen.insert(g.offset(kLocal, ip::Endpoint{kRemote.addr, p}));
  EXPECT_EQ(seen.size(), 1000u);  // 32-bit hashes of 1000 inputs: a collision would be a 1e-4 event
}

}  // namespace
}  // namespace tapstack::tcp
