// Reassembler on plain fragments: ordering, holes, the overlap/duplicate policy, size and memory caps,
// tiny fragments (RFC 1858) and the timeout. Time is explicit Instants.
#include "ip/reassembly.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "stack/random.hpp"

namespace tapstack::ip {
namespace {

constexpr Ipv4Address kSrc{{198, 51, 100, 7}};
constexpr Ipv4Address kSrc2{{198, 51, 100, 8}};
constexpr Ipv4Address kDst{{192, 0, 2, 2}};
constexpr std::uint8_t kUdp = 17, kTcp = 6;

Instant at_ms(std::int64_t ms) { return Instant::from_millis(ms); }

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed = 0) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::byte(std::uint8_t(i * 7 + seed));
  return v;
}

struct Harness {
  Reassembler r;
  std::vector<std::byte> header = std::vector<std::byte>(20, std::byte{0x45});
  explicit Harness(ReassemblyConfig cfg = {}) : r{cfg} {}

  Fragment frag(const std::vector<std::byte>& data, std::uint32_t off, std::size_t len, bool mf,
                Ipv4Address src = kSrc, std::uint16_t ident = 1, std::uint8_t proto = kUdp) const {
    Fragment f;
    f.key = {src, kDst, proto, ident};
    f.offset = off;
    f.more_fragments = mf;
    f.ttl = 64;
    f.header = Bytes{header};
    f.payload = Bytes{data}.subspan(off, len);
    return f;
  }
  // Fragments `data` into pieces of `piece` bytes (a multiple of 8).
  std::vector<Fragment> split(const std::vector<std::byte>& data, std::size_t piece, Ipv4Address src = kSrc,
                              std::uint16_t ident = 1, std::uint8_t proto = kUdp) const {
    std::vector<Fragment> out;
    for (std::size_t off = 0; off < data.size(); off += piece) {
      const std::size_t len = std::min(piece, data.size() - off);
      out.push_back(frag(data, std::uint32_t(off), len, off + len < data.size(), src, ident, proto));
    }
    return out;
  }
};

bool same(Bytes a, const std::vector<std::byte>& b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

TEST(Reassembly, InOrder) {
  Harness h;
  const auto data = pattern(100);
  auto frags = h.split(data, 32);
  ASSERT_EQ(frags.size(), 4u);
  for (std::size_t i = 0; i + 1 < frags.size(); ++i) EXPECT_FALSE(h.r.add(at_ms(0), frags[i]));
  auto out = h.r.add(at_ms(0), frags.back());
  ASSERT_TRUE(out);
  EXPECT_TRUE(same(out->payload, data));
  EXPECT_EQ(out->key.ident, 1);
  EXPECT_EQ(out->ttl, 64);
  EXPECT_EQ(out->header.size(), 20u);
  EXPECT_EQ(h.r.counters().reassembled, 1u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
}

TEST(Reassembly, EveryPermutationOfFourFragments) {
  const auto data = pattern(60);
  Harness h;
  auto frags = h.split(data, 16);
  std::vector<int> order{0, 1, 2, 3};
  int n = 0;
  do {
    std::optional<Reassembled> out;
    for (std::size_t i = 0; i < 4; ++i) {
      out = h.r.add(at_ms(n), frags[std::size_t(order[i])]);
      if (i < 3) {
        EXPECT_FALSE(out) << "completed early";
      }
    }
    ASSERT_TRUE(out);
    EXPECT_TRUE(same(out->payload, data));
    ++n;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(h.r.counters().reassembled, 24u);
}

TEST(Reassembly, RandomOrderManyFragmentsWithInterleavedDatagrams) {
  Harness h;
  SeededRng rng{42};
  const auto a = pattern(4000, 1), b = pattern(2400, 2);
  auto fa = h.split(a, 200, kSrc, 10), fb = h.split(b, 160, kSrc, 11);
  std::vector<Fragment> all = fa;
  all.insert(all.end(), fb.begin(), fb.end());
  for (std::size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[rng.uniform(std::uint32_t(i))]);
  int done = 0;
  for (const auto& f : all) {
    if (auto out = h.r.add(at_ms(1), f)) {
      ++done;
      EXPECT_TRUE(same(out->payload, out->key.ident == 10 ? a : b));
    }
  }
  EXPECT_EQ(done, 2);
}

TEST(Reassembly, OverlapDropsWholeDatagramAndLaterFragments) {
  Harness h;
  const auto data = pattern(64);
  EXPECT_FALSE(h.r.add(at_ms(0), h.frag(data, 0, 32, true)));
  EXPECT_FALSE(h.r.add(at_ms(0), h.frag(data, 24, 16, true)));  // overlaps [24, 32)
  EXPECT_EQ(h.r.counters().drop_overlap, 1u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
  // The rest can no longer complete it: the key is a tombstone until the timeout.
  EXPECT_FALSE(h.r.add(at_ms(1), h.frag(data, 32, 32, false)));
  EXPECT_FALSE(h.r.add(at_ms(1), h.frag(data, 0, 32, true)));
  EXPECT_EQ(h.r.counters().drop_after_abort, 2u);
  EXPECT_EQ(h.r.counters().reassembled, 0u);
  // After the timeout the key is free again.
  h.r.poll(at_ms(30'000));
  EXPECT_EQ(h.r.counters().drop_timeout, 0u);  // a tombstone is not counted twice
  EXPECT_FALSE(h.r.add(at_ms(30'001), h.frag(data, 0, 32, true)));
  EXPECT_TRUE(h.r.add(at_ms(30'002), h.frag(data, 32, 32, false)));
}

TEST(Reassembly, SameRangeDifferentBytesIsAnOverlap) {
  Harness h;
  const auto data = pattern(64), other = pattern(64, 9);
  h.r.add(at_ms(0), h.frag(data, 0, 32, true));
  h.r.add(at_ms(0), h.frag(other, 0, 32, true));
  EXPECT_EQ(h.r.counters().drop_overlap, 1u);
}

TEST(Reassembly, ExactDuplicateIsIgnored) {
  Harness h;
  const auto data = pattern(64);
  h.r.add(at_ms(0), h.frag(data, 0, 32, true));
  EXPECT_FALSE(h.r.add(at_ms(0), h.frag(data, 0, 32, true)));
  EXPECT_EQ(h.r.counters().duplicates_ignored, 1u);
  auto out = h.r.add(at_ms(0), h.frag(data, 32, 32, false));
  ASSERT_TRUE(out);
  EXPECT_TRUE(same(out->payload, data));
  EXPECT_EQ(h.r.counters().drop_overlap, 0u);
}

TEST(Reassembly, DuplicateLastFragmentWithMfIsInconsistent) {
  Harness h;
  const auto data = pattern(48);
  h.r.add(at_ms(0), h.frag(data, 16, 32, false));
  h.r.add(at_ms(0), h.frag(data, 16, 32, true));  // same bytes, but claims more follow
  EXPECT_EQ(h.r.counters().duplicates_ignored, 0u);
  EXPECT_EQ(h.r.counters().drop_overlap + h.r.counters().drop_inconsistent, 1u);
}

TEST(Reassembly, FragmentPastTheKnownEndIsInconsistent) {
  Harness h;
  const auto data = pattern(400);
  h.r.add(at_ms(0), h.frag(data, 0, 16, true));
  h.r.add(at_ms(0), h.frag(data, 48, 16, false));   // total = 64
  h.r.add(at_ms(0), h.frag(data, 64, 304, true));   // past the end
  EXPECT_EQ(h.r.counters().drop_inconsistent, 1u);
  EXPECT_EQ(h.r.counters().reassembled, 0u);
}

TEST(Reassembly, TwoDifferentLastFragmentsAreInconsistent) {
  Harness h;
  const auto data = pattern(100);
  h.r.add(at_ms(0), h.frag(data, 16, 16, false));
  h.r.add(at_ms(0), h.frag(data, 48, 16, false));
  EXPECT_EQ(h.r.counters().drop_inconsistent, 1u);
}

TEST(Reassembly, TooBigIsRefused) {
  Harness h;
  const auto data = pattern(65535 + 100);
  // Offset 65528 (the largest the 13-bit field gives) with 16 bytes: 65544 + header > 65535.
  EXPECT_FALSE(h.r.add(at_ms(0), h.frag(data, 65528, 16, false)));
  EXPECT_EQ(h.r.counters().drop_too_big, 1u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
  // Exactly 65535 with a 20-byte header is fine.
  Harness ok{{.max_bytes_per_source = 1 << 20}};
  const auto big = pattern(65515);
  auto frags = ok.split(big, 8192);
  std::optional<Reassembled> out;
  for (const auto& f : frags) out = ok.r.add(at_ms(0), f);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->payload.size(), 65515u);
}

TEST(Reassembly, TimesOut) {
  Harness h;
  const auto data = pattern(64);
  h.r.add(at_ms(0), h.frag(data, 0, 32, true));
  EXPECT_EQ(h.r.poll_at(), at_ms(30'000));
  h.r.poll(at_ms(29'999));
  EXPECT_EQ(h.r.datagrams_in_flight(), 1u);
  h.r.poll(at_ms(30'000));
  EXPECT_EQ(h.r.datagrams_in_flight(), 0u);
  EXPECT_EQ(h.r.counters().drop_timeout, 1u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
  EXPECT_EQ(h.r.poll_at(), std::nullopt);
  // The late second half starts a new datagram that never completes.
  EXPECT_FALSE(h.r.add(at_ms(30'001), h.frag(data, 32, 32, false)));
}

TEST(Reassembly, GlobalMemoryCapEvictsOldest) {
  Harness h{{.max_bytes = 10'000, .max_bytes_per_source = 10'000}};
  const auto data = pattern(8000);
  h.r.add(at_ms(0), h.frag(data, 0, 6000, true, kSrc, 1));
  EXPECT_EQ(h.r.bytes_held(), 6000u);
  h.r.add(at_ms(1), h.frag(data, 0, 6000, true, kSrc2, 2));  // needs room: the older datagram goes
  EXPECT_EQ(h.r.counters().evicted, 1u);
  EXPECT_EQ(h.r.bytes_held(), 6000u);
  EXPECT_EQ(h.r.datagrams_in_flight(), 1u);
  EXPECT_TRUE(h.r.add(at_ms(2), h.frag(data, 6000, 2000, false, kSrc2, 2)));
}

TEST(Reassembly, GlobalMemoryCapRefusesWhatCannotFit) {
  Harness h{{.max_bytes = 4000, .max_bytes_per_source = 100'000}};
  const auto data = pattern(8000);
  h.r.add(at_ms(0), h.frag(data, 0, 8000, true));
  EXPECT_EQ(h.r.counters().drop_memory_global, 1u);
  EXPECT_EQ(h.r.bytes_held(), 0u);
}

TEST(Reassembly, PerSourceCap) {
  Harness h{{.max_bytes = 100'000, .max_bytes_per_source = 5000}};
  const auto data = pattern(8000);
  h.r.add(at_ms(0), h.frag(data, 0, 4000, true, kSrc, 1));
  h.r.add(at_ms(0), h.frag(data, 0, 4000, true, kSrc, 2));  // same source, over 5000
  EXPECT_EQ(h.r.counters().drop_memory_per_source, 1u);
  h.r.add(at_ms(0), h.frag(data, 0, 4000, true, kSrc2, 3));  // another source still fits
  EXPECT_EQ(h.r.datagrams_in_flight(), 2u);
  EXPECT_EQ(h.r.bytes_held(), 8000u);
  // A fragment far out (offset 60000) is charged for the buffer it needs, not its own length.
  h.r.add(at_ms(0), h.frag(pattern(65000), 60000, 8, true, kSrc2, 4));
  EXPECT_EQ(h.r.counters().drop_memory_per_source, 2u);
}

TEST(Reassembly, TooManyFragments) {
  Harness h{{.max_fragments = 8}};
  const auto data = pattern(80);
  auto frags = h.split(data, 8);  // 10 fragments
  for (const auto& f : frags) EXPECT_FALSE(h.r.add(at_ms(0), f));
  EXPECT_EQ(h.r.counters().drop_too_many_fragments, 1u);
  EXPECT_EQ(h.r.counters().drop_after_abort, 1u);
  EXPECT_EQ(h.r.counters().reassembled, 0u);
}

TEST(Reassembly, TableFullEvictsOldest) {
  Harness h{{.max_datagrams = 4}};
  const auto data = pattern(64);
  for (std::uint16_t id = 0; id < 6; ++id) h.r.add(at_ms(id), h.frag(data, 0, 32, true, kSrc, id));
  EXPECT_EQ(h.r.datagrams_in_flight(), 4u);
  EXPECT_EQ(h.r.counters().evicted, 2u);
  EXPECT_FALSE(h.r.add(at_ms(10), h.frag(data, 32, 32, false, kSrc, 0)));  // id 0 was evicted
  EXPECT_TRUE(h.r.add(at_ms(10), h.frag(data, 32, 32, false, kSrc, 5)));
}

TEST(Reassembly, TinyFirstFragments) {
  Harness h;
  const auto data = pattern(64);
  // UDP: a first fragment shorter than the 8-byte header. (Not a multiple of 8 either; use 0 < len < 8.)
  Fragment f = h.frag(data, 0, 0, true);
  h.r.add(at_ms(0), f);
  EXPECT_EQ(h.r.counters().drop_bad_fragment_len, 1u);  // zero-length non-last fragment
  // TCP: first fragment of 16 bytes cannot hold the 20-byte header (RFC 1858 §3.2).
  h.r.add(at_ms(0), h.frag(data, 0, 16, true, kSrc, 7, kTcp));
  EXPECT_EQ(h.r.counters().drop_tiny_fragment, 1u);
  // TCP fragment at offset 8 (fragment offset field 1) could rewrite the flags: refused.
  h.r.add(at_ms(0), h.frag(data, 0, 24, true, kSrc, 8, kTcp));
  h.r.add(at_ms(0), h.frag(data, 8, 16, true, kSrc, 8, kTcp));
  EXPECT_EQ(h.r.counters().drop_tiny_fragment, 2u);
  // TCP first fragment of 24 bytes (fixed header present, options not): kept, delivered only when whole.
  h.r.add(at_ms(0), h.frag(data, 0, 24, true, kSrc, 9, kTcp));
  auto out = h.r.add(at_ms(0), h.frag(data, 24, 16, false, kSrc, 9, kTcp));
  ASSERT_TRUE(out);
  EXPECT_EQ(out->payload.size(), 40u);
}

TEST(Reassembly, NonLastFragmentNotMultipleOfEight) {
  Harness h;
  const auto data = pattern(64);
  h.r.add(at_ms(0), h.frag(data, 0, 20, true));
  EXPECT_EQ(h.r.counters().drop_bad_fragment_len, 1u);
}

TEST(Reassembly, OutputStaysValidUntilNextCall) {
  Harness h;
  const auto a = pattern(48, 1), b = pattern(48, 2);
  h.r.add(at_ms(0), h.frag(a, 0, 24, true, kSrc, 1));
  h.r.add(at_ms(0), h.frag(b, 0, 24, true, kSrc, 2));
  auto oa = h.r.add(at_ms(0), h.frag(a, 24, 24, false, kSrc, 1));
  ASSERT_TRUE(oa);
  EXPECT_TRUE(same(oa->payload, a));
  auto ob = h.r.add(at_ms(0), h.frag(b, 24, 24, false, kSrc, 2));
  ASSERT_TRUE(ob);
  EXPECT_TRUE(same(ob->payload, b));
}

}  // namespace
}  // namespace tapstack::ip
