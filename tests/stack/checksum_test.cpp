// Tests for stack/checksum: the fast Internet checksum against the two-bytes-at-a-time oracle, the RFC 1071
// worked example, span-splitting with Checksum, and RFC 1624 incremental updates.
#include "stack/checksum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "stack/bytes.hpp"
#include "stack/random.hpp"

namespace tapstack {
namespace {

std::vector<std::byte> random_bytes(SeededRng& rng, std::size_t n) {
  std::vector<std::byte> v(n);
  rng.fill(v);
  return v;
}

std::vector<std::byte> bytes_of(std::initializer_list<unsigned> list) {
  std::vector<std::byte> v;
  for (unsigned b : list) v.push_back(std::byte(b));
  return v;
}

TEST(Checksum, Rfc1071WorkedExample) {
  // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum (one's complement, 16-bit) to 0xddf2.
  const auto data = bytes_of({0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7});
  EXPECT_EQ(checksum_fold(checksum_add(data)), 0xddf2);
  EXPECT_EQ(internet_checksum(data), 0x220d);
  EXPECT_EQ(internet_checksum_reference(data), 0x220d);
  EXPECT_EQ(Checksum{}.add(data).finish(), 0x220d);
}

TEST(Checksum, EmptyAndTinyInputs) {
  EXPECT_EQ(internet_checksum({}), 0xffff);
  EXPECT_EQ(internet_checksum_reference({}), 0xffff);
  EXPECT_EQ(Checksum{}.finish(), 0xffff);
  const auto one = bytes_of({0xab});  // padded with a zero byte: word 0xab00
  EXPECT_EQ(internet_checksum(one), std::uint16_t(~0xab00));
  EXPECT_EQ(internet_checksum_reference(one), std::uint16_t(~0xab00));
  const auto ones = bytes_of({0xff, 0xff, 0xff, 0xff});
  EXPECT_EQ(internet_checksum(ones), internet_checksum_reference(ones));
}

TEST(Checksum, FoldHandlesLargeAccumulators) {
  EXPECT_EQ(checksum_fold(0), 0);
  EXPECT_EQ(checksum_fold(0xffff), 0xffff);
  EXPECT_EQ(checksum_fold(0x10000), 1);
  EXPECT_EQ(checksum_fold(0x1fffe), 0xffff);
  EXPECT_EQ(checksum_fold(0xffffffffffffffffull), 0xffff);
  EXPECT_EQ(checksum_fold(0x0001000000000000ull), 1);
}

TEST(Checksum, FastMatchesReferenceOnRandomBuffersLengthsAndAlignments) {
  SeededRng rng{0xc0ffee};
  std::vector<std::byte> backing(2000 + 64);
  for (int iter = 0; iter < 12000; ++iter) {
    rng.fill(backing);
    const std::size_t off = rng.uniform(64);
    const std::size_t len = rng.uniform(2001);
    const Bytes data{backing.data() + off, len};
    ASSERT_EQ(internet_checksum(data), internet_checksum_reference(data)) << "off=" << off << " len=" << len;
  }
}

TEST(Checksum, FastMatchesReferenceOnAdversarialPatterns) {
  // All-0xff words stress the end-around carry; long buffers stress accumulator width.
  for (std::size_t len : {1u, 2u, 3u, 7u, 8u, 31u, 32u, 33u, 63u, 64u, 65u, 1500u, 9000u, 65535u, 65536u, 131071u}) {
    for (unsigned fill : {0x00u, 0x01u, 0x7fu, 0x80u, 0xfeu, 0xffu}) {
      std::vector<std::byte> buf(len + 1, std::byte(fill));
      const Bytes aligned{buf.data(), len};
      const Bytes shifted{buf.data() + 1, len};
      ASSERT_EQ(internet_checksum(aligned), internet_checksum_reference(aligned)) << len << " " << fill;
      ASSERT_EQ(internet_checksum(shifted), internet_checksum_reference(shifted)) << len << " " << fill;
    }
  }
}

TEST(Checksum, ChecksumAddContinuesFromAccumulator) {
  SeededRng rng{7};
  for (int iter = 0; iter < 1000; ++iter) {
    auto a = random_bytes(rng, 2 * rng.uniform(100));  // even, so the pieces join on a word boundary
    auto b = random_bytes(rng, rng.uniform(200));
    std::vector<std::byte> ab = a;
    ab.insert(ab.end(), b.begin(), b.end());
    const std::uint16_t chained = std::uint16_t(~checksum_fold(checksum_add(b, checksum_add(a))));
    ASSERT_EQ(chained, internet_checksum_reference(ab));
  }
}

TEST(Checksum, BufferContainingItsChecksumVerifiesToZero) {
  SeededRng rng{99};
  for (int iter = 0; iter < 2000; ++iter) {
    const std::size_t len = 12 + rng.uniform(1500);
    auto buf = random_bytes(rng, len);
    const std::size_t field = 2 * rng.uniform(std::uint32_t(len / 2));  // a 16-bit field at an even offset
    store_be16(buf, field, 0);
    const std::uint16_t c = Checksum{}.add(buf).finish();
    EXPECT_EQ(c, internet_checksum(buf));
    store_be16(buf, field, c);
    ASSERT_EQ(Checksum{}.add(buf).finish(), 0) << "len=" << len << " field=" << field;
    ASSERT_EQ(internet_checksum(buf), 0);
    ASSERT_EQ(internet_checksum_reference(buf), 0);
  }
}

TEST(Checksum, RandomSplitsIncludingOddPiecesEqualOneShot) {
  SeededRng rng{1234};
  for (int iter = 0; iter < 3000; ++iter) {
    const auto buf = random_bytes(rng, rng.uniform(3000));
    Checksum c;
    std::size_t pos = 0;
    while (pos < buf.size()) {
      // Mostly short pieces (many odd ones, some empty), sometimes long ones.
      const std::uint32_t max_piece = rng.chance(0.2) ? 600 : 8;
      std::size_t piece = rng.uniform(max_piece + 1);
      if (piece > buf.size() - pos) piece = buf.size() - pos;
      c.add(Bytes{buf}.subspan(pos, piece));
      pos += piece;
    }
    ASSERT_EQ(c.finish(), internet_checksum_reference(buf)) << "len=" << buf.size();
  }
}

TEST(Checksum, AddU16AndU32AfterOddLengths) {
  SeededRng rng{555};
  for (int iter = 0; iter < 3000; ++iter) {
    const auto head = random_bytes(rng, rng.uniform(40));  // odd about half the time
    const auto tail = random_bytes(rng, rng.uniform(40));
    const auto v16 = std::uint16_t(rng.next_u32());
    const std::uint32_t v32 = rng.next_u32();

    std::vector<std::byte> flat = head;
    flat.resize(head.size() + 6);
    store_be16(flat, head.size(), v16);
    store_be32(flat, head.size() + 2, v32);
    flat.insert(flat.end(), tail.begin(), tail.end());

    Checksum c;
    c.add(head).add_u16(v16).add_u32(v32).add(tail);
    ASSERT_EQ(c.finish(), internet_checksum_reference(flat)) << "head=" << head.size();
  }
}

TEST(Checksum, PseudoHeaderStyleAccumulationMatchesFlatBuffer) {
  // The way UDP/TCP use it: words for the pseudo-header, then the header and payload spans.
  const std::uint32_t src = 0xc0a80001, dst = 0x0a000002;
  const auto segment = bytes_of({0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0x00, 0x00, 'a', 'b', 'c'});
  Checksum c;
  c.add_u32(src).add_u32(dst).add_u16(17).add_u16(std::uint16_t(segment.size())).add(segment);
  std::vector<std::byte> flat(12);
  store_be32(flat, 0, src);
  store_be32(flat, 4, dst);
  store_be16(flat, 8, 17);
  store_be16(flat, 10, std::uint16_t(segment.size()));
  flat.insert(flat.end(), segment.begin(), segment.end());
  EXPECT_EQ(c.finish(), internet_checksum_reference(flat));
}

TEST(ChecksumUpdate, Rfc1624Example) {
  // RFC 1624 §4: header checksum 0xdd2f, a field changes 0x5555 -> 0x3285; the right answer is 0x0000
  // (eqn. 2 of RFC 1624 would give 0xffff).
  EXPECT_EQ(checksum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

TEST(ChecksumUpdate, SumBecomingNegativeZeroMatchesRecomputation) {
  // Words 0x1234, 0x0001 -> 0x1234, 0xedcb: the new sum is 0xffff and the recomputed checksum 0x0000.
  auto buf = bytes_of({0x12, 0x34, 0x00, 0x01});
  const std::uint16_t hc = internet_checksum_reference(buf);
  store_be16(buf, 2, 0xedcb);
  EXPECT_EQ(internet_checksum_reference(buf), 0x0000);
  EXPECT_EQ(checksum_update16(hc, 0x0001, 0xedcb), 0x0000);
  // And back again.
  EXPECT_EQ(checksum_update16(0x0000, 0xedcb, 0x0001), hc);
}

TEST(ChecksumUpdate, NoChangeKeepsChecksum) {
  for (std::uint32_t hc : {0x0000u, 0x1234u, 0xfffeu, 0xffffu}) {
    for (std::uint32_t m : {0x0000u, 0x0001u, 0x8000u, 0xffffu}) {
      const std::uint16_t got = checksum_update16(std::uint16_t(hc), std::uint16_t(m), std::uint16_t(m));
      // An unchanged field may only flip between the two representations of zero, never change value.
      EXPECT_EQ(checksum_fold(got) % 0xffff, hc % 0xffff) << hc << " " << m;
    }
  }
}

TEST(ChecksumUpdate, IncrementalEqualsRecomputationOnRandomEdits) {
  SeededRng rng{2024};
  for (int iter = 0; iter < 20000; ++iter) {
    const std::size_t len = 4 * (2 + rng.uniform(16));  // 8..68 bytes, like IP/TCP headers
    auto buf = random_bytes(rng, len);
    // Sometimes use edge values that push the sum toward 0x0000 / 0xffff.
    const std::uint16_t hc = internet_checksum_reference(buf);
    if (rng.chance(0.5)) {
      const std::size_t off = 2 * rng.uniform(std::uint32_t(len / 2));
      const std::uint16_t old_v = load_be16(buf, off);
      std::uint16_t new_v = std::uint16_t(rng.next_u32());
      if (rng.chance(0.2)) {
        // The value that makes the new sum exactly 0xffff (checksum 0x0000).
        const std::uint16_t rest = checksum_fold(std::uint32_t(std::uint16_t(~hc)) + std::uint16_t(~old_v));
        new_v = std::uint16_t(~rest);
      } else if (rng.chance(0.2)) {
        new_v = rng.chance(0.5) ? 0x0000 : 0xffff;
      }
      store_be16(buf, off, new_v);
      const std::uint16_t want = internet_checksum_reference(buf);
      ASSERT_EQ(checksum_update16(hc, old_v, new_v), want) << "off=" << off << " old=" << old_v << " new=" << new_v;
    } else {
      const std::size_t off = 2 * rng.uniform(std::uint32_t(len / 2 - 1));  // even, maybe not 4-aligned
      const std::uint32_t old_v = load_be32(buf, off);
      const std::uint32_t new_v = rng.chance(0.1) ? 0u : rng.next_u32();
      store_be32(buf, off, new_v);
      ASSERT_EQ(checksum_update32(hc, old_v, new_v), internet_checksum_reference(buf)) << "off=" << off;
    }
  }
}

TEST(ChecksumUpdate, UpdatedHeaderStillVerifies) {
  // An IPv4-like header: decrement TTL (a byte of a 16-bit word) and rewrite the destination address.
  SeededRng rng{8};
  for (int iter = 0; iter < 2000; ++iter) {
    auto hdr = random_bytes(rng, 20);
    store_be16(hdr, 10, 0);
    store_be16(hdr, 10, internet_checksum(hdr));
    ASSERT_EQ(internet_checksum(hdr), 0);
    const std::uint16_t ttl_proto = load_be16(hdr, 8);
    const auto new_ttl_proto = std::uint16_t(ttl_proto - 0x0100);
    store_be16(hdr, 8, new_ttl_proto);
    store_be16(hdr, 10, checksum_update16(load_be16(hdr, 10), ttl_proto, new_ttl_proto));
    const std::uint32_t dst = load_be32(hdr, 16), new_dst = rng.next_u32();
    store_be32(hdr, 16, new_dst);
    store_be16(hdr, 10, checksum_update32(load_be16(hdr, 10), dst, new_dst));
    ASSERT_EQ(Checksum{}.add(hdr).finish(), 0);
  }
}

}  // namespace
}  // namespace tapstack

namespace tapstack {
namespace {

// checksum_copy / Checksum::add_copy: one pass that copies and sums must equal a plain copy plus the reference
// checksum, for every length class the vector paths split on, misaligned sources and destinations, and odd
// splits across a running Checksum.
TEST(ChecksumCopy, CopiesAndSumsLikeTheReferenceOnRandomLengthsAndAlignments) {
  SeededRng rng{0xc0c0a};
  std::vector<std::size_t> lengths = {0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1499, 1500,
                                      9000, 65535, 65536, 1u << 20, 3u << 20};
  for (int i = 0; i < 2000; ++i) lengths.push_back(rng.uniform(4096));
  for (std::size_t n : lengths) {
    const std::size_t src_off = rng.uniform(64), dst_off = rng.uniform(64);
    const auto src_buf = random_bytes(rng, n + src_off);
    const Bytes src = Bytes{src_buf}.subspan(src_off, n);
    std::vector<std::byte> dst_buf(n + dst_off + 8, std::byte{0xee});
    const MutableBytes dst = MutableBytes{dst_buf}.subspan(dst_off, n + 8);
    const std::uint32_t acc = rng.uniform(0x10000);
    const std::uint32_t got = checksum_copy(dst, src, acc);
    ASSERT_TRUE(std::equal(src.begin(), src.end(), dst.begin())) << "length " << n;
    ASSERT_EQ(dst[n], std::byte{0xee}) << "wrote past the copy, length " << n;  // only src.size() bytes copied
    ASSERT_EQ(checksum_fold(got), checksum_fold(checksum_add(src, acc))) << "length " << n;
    // And against the independent reference (acc 0, complemented).
    ASSERT_EQ(std::uint16_t(~checksum_fold(checksum_copy(dst, src))), internet_checksum_reference(src)) << n;
  }
}

TEST(ChecksumCopy, AddCopyOverOddSplitsEqualsOneShot) {
  SeededRng rng{77};
  for (int round = 0; round < 300; ++round) {
    const std::size_t n = rng.uniform(9000);
    const auto src = random_bytes(rng, n);
    std::vector<std::byte> dst(n);
    Checksum c;
    std::size_t pos = 0;
    while (pos < n) {
      const std::size_t piece = std::min<std::size_t>(n - pos, 1 + rng.uniform(200));
      c.add_copy(MutableBytes{dst}.subspan(pos), Bytes{src}.subspan(pos, piece));
      pos += piece;
    }
    ASSERT_EQ(dst, src);
    ASSERT_EQ(c.finish(), internet_checksum_reference(src)) << "length " << n;
  }
}

}  // namespace
}  // namespace tapstack
