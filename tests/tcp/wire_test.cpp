// tcp/wire: View bounds, the options walker, Repr parse/emit round trips and the drop reasons.
// Hostile inputs follow CONFORMANCE §2-3 (option lengths 0/1/past the end, data offset, MSS 0, wscale 255).
#include "tcp/wire.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "segment_builder.hpp"

namespace tapstack::tcp {
namespace {

using testing::emit_to_vector;
using testing::SegmentBuilder;
using testing::to_bytes;
using testing::v4_pseudo;
using testing::v6_pseudo;

// A 20-byte header with `options` appended (data offset covers them, padded with EOL to a multiple of 4),
// then `payload`; the checksum is filled in for `ph`.
std::vector<std::byte> raw_segment(std::vector<std::byte> options, Control flags = Control::kSyn,
                                   std::size_t payload_len = 0, const ip::PseudoHeader& ph = v4_pseudo()) {
  while (options.size() % 4 != 0) options.push_back(std::byte{0});
  std::vector<std::byte> b(kHeaderLen + options.size() + payload_len, std::byte{0x5a});
  const MutableBytes m{b};
  store_be16(m, field::kSrcPort, 40000);
  store_be16(m, field::kDstPort, 80);
  store_be32(m, field::kSeq, 1000);
  store_be32(m, field::kAck, 0);
  store_u8(m, field::kDataOffset, std::uint8_t(((kHeaderLen + options.size()) / 4) << 4));
  store_u8(m, field::kFlags, std::uint8_t(flags));
  store_be16(m, field::kWindow, 8192);
  store_be16(m, field::kUrgent, 0);
  copy_bytes(m.subspan(kHeaderLen), options);
  MutableView::parse(m)->fill_checksum(ph);
  return b;
}

// Parses options alone into a fresh Repr.
Repr options_of(std::vector<std::byte> o, OptionsStatus* st = nullptr) {
  Repr r;
  const OptionsStatus s = parse_options(o, r);
  if (st != nullptr) *st = s;
  return r;
}

std::optional<Repr> parse_bytes(const std::vector<std::byte>& b, const ip::PseudoHeader& ph = v4_pseudo(),
                                DropReason* why = nullptr) {
  auto v = View::parse(b, why);
  if (!v) return std::nullopt;
  return Repr::parse(*v, ph, why);
}

// ---- Control

TEST(TcpControl, BitmaskOperationsAndPrinting) {
  const Control c = Control::kSyn | Control::kAck;
  EXPECT_TRUE(has(c, Control::kSyn));
  EXPECT_TRUE(has(c, Control::kSyn | Control::kAck));
  EXPECT_FALSE(has(c, Control::kSyn | Control::kFin));
  EXPECT_FALSE(has(c, Control::kNone));
  EXPECT_EQ(std::uint8_t(c), 0x12);
  std::ostringstream os;
  os << c << ' ' << Control::kNone << ' ' << (Control::kFin | Control::kPsh | Control::kEce | Control::kCwr);
  EXPECT_EQ(os.str(), "SYN|ACK none FIN|PSH|ECE|CWR");
}

TEST(TcpControl, OnlySynFinAndSynRstAreRefused) {
  for (int bits = 0; bits < 256; ++bits) {
    const Control c{std::uint8_t(bits)};
    const bool syn = (bits & 0x02) != 0, fin = (bits & 0x01) != 0, rst = (bits & 0x04) != 0;
    EXPECT_EQ(flags_acceptable(c), !(syn && (fin || rst))) << c;
    DropReason why{};
    const auto r = parse_bytes(raw_segment({}, c), v4_pseudo(), &why);
    EXPECT_EQ(r.has_value(), flags_acceptable(c)) << c;
    if (!r) {
      EXPECT_EQ(why, DropReason::kBadFlags);
    }
  }
}

// ---- View bounds

TEST(TcpView, MinimalHeaderParses) {
  const auto b = raw_segment({});
  const auto v = View::parse(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->src_port(), 40000);
  EXPECT_EQ(v->dst_port(), 80);
  EXPECT_EQ(v->seq(), SeqNum{1000});
  EXPECT_EQ(v->data_offset(), 5);
  EXPECT_EQ(v->header_len(), 20u);
  EXPECT_TRUE(v->options().empty());
  EXPECT_TRUE(v->payload().empty());
  EXPECT_EQ(v->window(), 8192);
  EXPECT_TRUE(v->verify_checksum(v4_pseudo()));
}

TEST(TcpView, DataOffsetBelowFiveIsRefused) {
  for (std::uint8_t off = 0; off < 5; ++off) {
    auto b = raw_segment({}, Control::kSyn, 40);
    store_u8(b, field::kDataOffset, std::uint8_t(off << 4));
    DropReason why{};
    EXPECT_FALSE(View::parse(Bytes{b}, &why)) << int(off);
    EXPECT_EQ(why, DropReason::kBadOffset);
  }
}

TEST(TcpView, DataOffsetBeyondTheSegmentIsRefused) {  // CVE-2020-24341
  auto b = raw_segment({});
  for (std::uint8_t off = 6; off <= 15; ++off) {
    store_u8(b, field::kDataOffset, std::uint8_t(off << 4));
    DropReason why{};
    EXPECT_FALSE(View::parse(Bytes{b}, &why)) << int(off);
    EXPECT_EQ(why, DropReason::kBadOffset);
  }
  // With room for exactly 15 words it parses, and the options are the 40 bytes after the header.
  b.resize(60, std::byte{1});
  const auto v = View::parse(Bytes{b});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->options().size(), 40u);
  EXPECT_TRUE(v->payload().empty());
}

TEST(TcpView, EveryTruncationLengthIsHandled) {
  const auto full = SegmentBuilder()
                        .ports(1, 2).seq(1).ack(2).psh().mss(1460).wscale(7).sack_permitted()
                        .timestamps(5, 6).payload("0123456789")
                        .bytes(v4_pseudo());
  const std::size_t hlen = full.size() - 10;
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const Bytes cut = Bytes{full}.first(n);
    DropReason why{};
    const auto v = View::parse(cut, &why);
    if (n < kHeaderLen) {
      EXPECT_FALSE(v);
      EXPECT_EQ(why, DropReason::kTruncated);
    } else if (n < hlen) {
      EXPECT_FALSE(v);
      EXPECT_EQ(why, DropReason::kBadOffset);
    } else {
      ASSERT_TRUE(v);
      EXPECT_EQ(v->payload().size(), n - hlen);
      // Only the full segment verifies (a cut changes the pseudo-header length and the data).
      EXPECT_EQ(Repr::parse(*v, v4_pseudo(), &why).has_value(), n == full.size()) << n;
      EXPECT_TRUE(Repr::parse_unverified(*v));
    }
  }
}

TEST(TcpView, MutableViewWritesAndConverts) {
  auto b = raw_segment({});
  const auto mv = MutableView::parse(b);
  ASSERT_TRUE(mv);
  mv->set_checksum(0x1234);
  const View v = *mv;
  EXPECT_EQ(v.checksum(), 0x1234);
  EXPECT_FALSE(v.verify_checksum(v4_pseudo()));
  mv->fill_checksum(v4_pseudo());
  EXPECT_TRUE(v.verify_checksum(v4_pseudo()));
}

TEST(TcpView, ReservedBitsAreIgnoredOnReceive) {
  auto b = raw_segment({});
  store_u8(b, field::kDataOffset, 0x5f);  // all 4 reserved/AE bits set
  MutableView::parse(b)->fill_checksum(v4_pseudo());
  const auto v = View::parse(Bytes{b});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->reserved_bits(), 0x0f);
  const auto r = Repr::parse(*v, v4_pseudo());
  ASSERT_TRUE(r);
  // Emitting writes them as zero (RFC 9293 §3.1).
  EXPECT_EQ(std::uint8_t(emit_to_vector(*r, v4_pseudo())[field::kDataOffset]), 0x50);
}

// ---- Checksum

TEST(TcpChecksum, BadChecksumIsRefusedAndCounted) {
  auto b = SegmentBuilder().ports(1, 2).seq(3).ack(4).payload("abc").bytes(v4_pseudo());
  ASSERT_TRUE(parse_bytes(b));
  WireCounters counters;
  for (std::size_t i = 0; i < b.size(); ++i) {
    auto bad = b;
    bad[i] ^= std::byte{0x01};
    DropReason why{};
    if (!parse_bytes(bad, v4_pseudo(), &why)) count(counters, why);
  }
  // A flipped bit in the data offset can make the offset bad instead; every other byte is a checksum drop.
  EXPECT_EQ(counters.drop_bad_checksum + counters.drop_bad_offset, b.size());
  EXPECT_GE(counters.drop_bad_checksum, b.size() - 1);
  EXPECT_EQ(counters.total(), b.size());
}

TEST(TcpChecksum, PseudoHeaderMatters) {
  const auto b4 = SegmentBuilder().ports(1, 2).seq(3).bytes(v4_pseudo());
  EXPECT_TRUE(parse_bytes(b4, v4_pseudo()));
  // Swapping src and dst keeps the one's-complement sum, so that still verifies; another family does not.
  EXPECT_TRUE(parse_bytes(b4, testing::reversed(v4_pseudo())));
  DropReason why{};
  EXPECT_FALSE(parse_bytes(b4, v6_pseudo(), &why));
  EXPECT_EQ(why, DropReason::kBadChecksum);
  const auto b6 = SegmentBuilder().ports(1, 2).seq(3).payload("x").bytes(v6_pseudo());
  EXPECT_TRUE(parse_bytes(b6, v6_pseudo()));
  EXPECT_FALSE(parse_bytes(b6, v4_pseudo()));
}

TEST(TcpChecksum, DropReasonNames) {
  EXPECT_EQ(to_string(DropReason::kTruncated), "drop_truncated");
  EXPECT_EQ(to_string(DropReason::kBadOffset), "drop_bad_offset");
  EXPECT_EQ(to_string(DropReason::kBadChecksum), "drop_bad_checksum");
  EXPECT_EQ(to_string(DropReason::kBadFlags), "drop_bad_flags");
  WireCounters c;
  count(c, DropReason::kBadFlags);
  count(c, DropReason::kTruncated);
  EXPECT_EQ(c.drop_bad_flags, 1u);
  EXPECT_EQ(c.drop_truncated, 1u);
}

// ---- Options walker

TEST(TcpOptions, ParsesEachKnownOption) {
  const auto r = options_of(to_bytes({2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0xff, 0xff, 0x5f, 0xe9, 0, 0,
                                      0, 0, 1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4}));
  EXPECT_EQ(r.mss, 1460);
  EXPECT_EQ(r.window_scale, 7);
  EXPECT_TRUE(r.sack_permitted);
  ASSERT_TRUE(r.timestamps);
  EXPECT_EQ(r.timestamps->tsval, 4294926313u);
  EXPECT_EQ(r.timestamps->tsecr, 0u);
  ASSERT_EQ(r.sacks().size(), 2u);
  EXPECT_EQ(r.sacks()[0], (SackBlock{SeqNum{1}, SeqNum{2}}));
  EXPECT_EQ(r.sacks()[1], (SackBlock{SeqNum{3}, SeqNum{4}}));
}

TEST(TcpOptions, AnyOrderAndAlignment) {
  // WS first at offset 0, MSS at an odd offset, TS unaligned, no padding NOPs.
  const auto r = options_of(to_bytes({3, 3, 2, 2, 4, 0x02, 0x18, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8, 4, 2}));
  EXPECT_EQ(r.window_scale, 2);
  EXPECT_EQ(r.mss, 536);
  ASSERT_TRUE(r.timestamps);
  EXPECT_EQ(r.timestamps->tsval, 9u);
  EXPECT_EQ(r.timestamps->tsecr, 8u);
  EXPECT_TRUE(r.sack_permitted);
}

TEST(TcpOptions, WindowScaleAbove14IsClampedTo14) {  // RFC 7323 §2.3
  for (int shift : {14, 15, 100, 255}) {
    EXPECT_EQ(options_of(to_bytes({3, 3, shift})).window_scale, 14) << shift;
  }
  EXPECT_EQ(options_of(to_bytes({3, 3, 0})).window_scale, 0);
}

TEST(TcpOptions, MssZeroIsKeptAsZero) {  // the connection clamps it (smoltcp #538)
  const auto b = raw_segment(to_bytes({2, 4, 0, 0}));
  const auto r = parse_bytes(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mss, 0);
}

TEST(TcpOptions, UnknownOptionsAreSkippedByLength) {
  // kind 30 (MPTCP) len 6, kind 254 (experimental) len 4, kind 99 len 2, then MSS.
  OptionsStatus st{};
  const auto r = options_of(to_bytes({30, 6, 1, 2, 3, 4, 254, 4, 0xf9, 0x89, 99, 2, 2, 4, 0x04, 0x00}), &st);
  EXPECT_EQ(st, OptionsStatus::kOk);
  EXPECT_EQ(r.mss, 1024);
}

TEST(TcpOptions, EolStopsTheWalk) {
  OptionsStatus st{};
  const auto r = options_of(to_bytes({3, 3, 5, 0, 2, 4, 0x05, 0xb4}), &st);
  EXPECT_EQ(st, OptionsStatus::kOk);
  EXPECT_EQ(r.window_scale, 5);
  EXPECT_FALSE(r.mss);
}

TEST(TcpOptions, LengthZeroStopsAndKeepsEarlierOptions) {
  OptionsStatus st{};
  const auto r = options_of(to_bytes({2, 4, 0x05, 0xb4, 30, 0, 3, 3, 7}), &st);
  EXPECT_EQ(st, OptionsStatus::kMalformed);
  EXPECT_EQ(r.mss, 1460);
  EXPECT_FALSE(r.window_scale);
}

TEST(TcpOptions, LengthOneStops) {
  OptionsStatus st{};
  const auto r = options_of(to_bytes({2, 1, 3, 3, 7, 1}), &st);
  EXPECT_EQ(st, OptionsStatus::kMalformed);
  EXPECT_FALSE(r.mss);
  EXPECT_FALSE(r.window_scale);
}

TEST(TcpOptions, LengthPastTheEndStops) {
  OptionsStatus st{};
  const auto r = options_of(to_bytes({1, 1, 8, 10, 0, 0, 0, 1}), &st);  // TS claims 10, 6 remain
  EXPECT_EQ(st, OptionsStatus::kMalformed);
  EXPECT_FALSE(r.timestamps);
  EXPECT_EQ(options_of(to_bytes({2}), &st).mss, std::nullopt);  // no length byte at all
  EXPECT_EQ(st, OptionsStatus::kMalformed);
}

TEST(TcpOptions, MalformedOptionsDoNotDropTheSegment) {
  const auto b = raw_segment(to_bytes({2, 4, 0x05, 0xb4, 8, 0, 0, 0}), Control::kSyn, 5);
  const auto r = parse_bytes(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mss, 1460);
  EXPECT_EQ(r->payload.size(), 5u);
}

TEST(TcpOptions, LoopingSequencesTerminate) {  // picoTCP CVE-2020-24337
  // A full 40-byte area of zero-length options; of length-1 options; of NOPs; of 2-byte unknowns.
  for (int fill : {0x0200, 0x0201, 0x0101, 0x1e02}) {
    std::vector<std::byte> o;
    for (int i = 0; i < 20; ++i) o.push_back(std::byte(fill >> 8)), o.push_back(std::byte(fill & 0xff));
    Repr r;
    (void)parse_options(o, r);
    EXPECT_FALSE(r.mss);
  }
  // Every (kind, len) pair at the head of a 40-byte area, followed by junk: the walk always ends.
  std::size_t malformed = 0;
  for (int kind = 0; kind < 256; ++kind) {
    for (int len = 0; len < 256; ++len) {
      std::vector<std::byte> o(kMaxOptionsLen, std::byte{0xee});
      o[0] = std::byte(kind), o[1] = std::byte(len);
      Repr r;
      if (parse_options(o, r) == OptionsStatus::kMalformed) ++malformed;
    }
  }
  EXPECT_GT(malformed, 0u);
}

// parse_options (fast path for NOP, NOP, TS) and walk_options (the general walk) give the same status and the
// same Repr, starting from a Repr that already holds options of an earlier area (which must stay untouched).
void expect_fast_path_matches_walk(const std::vector<std::byte>& o) {
  Repr seed;
  seed.mss = 1234;
  seed.window_scale = 3;
  seed.timestamps = Timestamps{7, 8};
  Repr fast = seed, walked = seed;
  const OptionsStatus sf = parse_options(o, fast);
  const OptionsStatus sw = walk_options(o, walked);
  EXPECT_EQ(sf, sw) << ::testing::PrintToString(o);
  EXPECT_EQ(fast, walked) << ::testing::PrintToString(o);
  EXPECT_EQ(fast.sack_count, walked.sack_count);
}

TEST(TcpOptions, TimestampFastPathTakesNopNopTs) {
  OptionsStatus st{};
  const auto r = options_of(to_bytes({1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}), &st);
  EXPECT_EQ(st, OptionsStatus::kOk);
  ASSERT_TRUE(r.timestamps);
  EXPECT_EQ(r.timestamps->tsval, 0x11223344u);
  EXPECT_EQ(r.timestamps->tsecr, 0x55667788u);
  EXPECT_FALSE(r.mss);
  EXPECT_FALSE(r.window_scale);
  EXPECT_FALSE(r.sack_permitted);
  EXPECT_EQ(r.sack_count, 0u);
  expect_fast_path_matches_walk(to_bytes({1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}));
}

TEST(TcpOptions, TimestampFastPathNearMissesWalkAsBefore) {
  const std::vector<std::byte> fast = to_bytes({1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88});
  // Every value of each of the four bytes the fast path keys on (kind, kind, kind, length), one at a time.
  for (std::size_t i = 0; i < 4; ++i) {
    for (int v = 0; v < 256; ++v) {
      std::vector<std::byte> o = fast;
      o[i] = std::byte(v);
      expect_fast_path_matches_walk(o);
    }
  }
  // The same layout in a shorter or longer area: cut short, padded with EOL or NOP, followed by other options.
  for (std::size_t n = 0; n <= kMaxOptionsLen; ++n) {
    for (const std::byte pad : {std::byte{0}, std::byte{1}, std::byte{0xee}}) {
      std::vector<std::byte> o(n, pad);
      std::copy_n(fast.begin(), std::min(n, fast.size()), o.begin());
      expect_fast_path_matches_walk(o);
    }
  }
  // Timestamps in other positions and layouts that the walk must handle: SACK-permitted + TS (a SYN), TS with
  // SACK blocks after it, TS first and the NOPs after, two TS options (the later one wins).
  expect_fast_path_matches_walk(to_bytes({4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}));
  expect_fast_path_matches_walk(
      to_bytes({1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9}));
  expect_fast_path_matches_walk(to_bytes({8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1}));
  expect_fast_path_matches_walk(to_bytes({8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 8, 10, 0, 0, 0, 3, 0, 0, 0, 4}));
}

TEST(TcpOptions, WrongFixedLengthsAreIgnored) {
  OptionsStatus st{};
  const auto r = options_of(to_bytes({2, 3, 0x05, 3, 4, 7, 1, 4, 3, 1, 8, 9, 1, 2, 3, 4, 5, 6, 7, 5, 12,
                                      0, 0, 0, 1, 0, 0, 0, 2, 9, 9, 3, 3, 4}),
                            &st);
  EXPECT_EQ(st, OptionsStatus::kOk);
  EXPECT_FALSE(r.mss);             // len 3
  EXPECT_FALSE(r.sack_permitted);  // len 3
  EXPECT_FALSE(r.timestamps);      // len 9
  EXPECT_TRUE(r.sacks().empty());  // len 12 is not 2 + 8n
  EXPECT_EQ(r.window_scale, 4);    // the one well-formed option at the end still parses
  EXPECT_TRUE(options_of(to_bytes({3, 4, 1, 1})).window_scale == std::nullopt);
  EXPECT_TRUE(options_of(to_bytes({5, 2})).sacks().empty());
}

TEST(TcpOptions, SackBlockCounts) {
  for (std::size_t n = 1; n <= 4; ++n) {
    std::vector<std::byte> o = to_bytes({5, int(2 + 8 * n)});
    for (std::size_t i = 0; i < 2 * n; ++i) {
      for (int b : {0, 0, 0, int(i)}) o.push_back(std::byte(b));
    }
    const auto r = options_of(o);
    ASSERT_EQ(r.sacks().size(), n);
    EXPECT_EQ(r.sacks()[n - 1], (SackBlock{SeqNum{std::uint32_t(2 * n - 2)}, SeqNum{std::uint32_t(2 * n - 1)}}));
  }
}

TEST(TcpOptions, LaterDuplicateWins) {
  const auto r = options_of(to_bytes({2, 4, 0, 100, 2, 4, 0, 200}));
  EXPECT_EQ(r.mss, 200);
}

// ---- Repr round trips

struct OptionSet {
  const char* name;
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> ws;
  bool sack_ok;
  std::optional<Timestamps> ts;
  std::size_t sack_blocks;
};

const OptionSet kOptionSets[] = {
    {"none", {}, {}, false, {}, 0},
    {"mss", 1460, {}, false, {}, 0},
    {"mss0", 0, {}, false, {}, 0},
    {"ws", {}, 7, false, {}, 0},
    {"sackok", {}, {}, true, {}, 0},
    {"ts", {}, {}, false, Timestamps{4294923497u, 0}, 0},
    {"linux_syn", 1460, 7, true, Timestamps{1, 0}, 0},
    {"syn_no_sack", 1380, 14, false, Timestamps{0xffffffffu, 0x12345678}, 0},
    {"sack4", {}, {}, false, {}, 4},
    {"ts_sack3", {}, {}, false, Timestamps{7, 8}, 3},
    {"all_sack2", 536, 0, true, Timestamps{9, 10}, 2},
};

const Control kFlagSets[] = {
    Control::kNone,
    Control::kSyn,
    Control::kFin,
    Control::kRst,
    Control::kPsh,
    Control::kSyn | Control::kEce | Control::kCwr,
    Control::kFin | Control::kPsh | Control::kUrg,
    Control::kPsh | Control::kCwr,
};

Repr make_repr(const OptionSet& o, Control flags, bool with_ack, Bytes payload) {
  Repr r;
  r.src_port = 49152;
  r.dst_port = 443;
  r.control = flags;
  r.seq = SeqNum{0xfffffff0u};
  if (with_ack) r.ack = SeqNum{0x01020304};
  r.window = 65535;
  r.urgent = has(flags, Control::kUrg) ? 0xffff : 0;
  r.mss = o.mss;
  r.window_scale = o.ws;
  r.sack_permitted = o.sack_ok;
  r.timestamps = o.ts;
  for (std::size_t i = 0; i < o.sack_blocks; ++i) {
    r.add_sack({SeqNum{std::uint32_t(0xfffffff0u + 100 * i)}, SeqNum{std::uint32_t(0xfffffff0u + 100 * i + 50)}});
  }
  r.payload = payload;
  return r;
}

TEST(TcpRepr, RoundTripsEveryFlagAndOptionCombination) {
  const std::string data(1000, 'q');
  for (const auto& ph : {v4_pseudo(), v6_pseudo()}) {
    for (const OptionSet& o : kOptionSets) {
      for (Control flags : kFlagSets) {
        for (bool with_ack : {false, true}) {
          for (std::size_t plen : {std::size_t(0), std::size_t(1), std::size_t(1000)}) {
            const Repr r = make_repr(o, flags, with_ack, as_bytes(data).first(plen));
            SCOPED_TRACE(::testing::Message() << o.name << ' ' << r);
            EXPECT_EQ(r.sacks_emitted(), o.sack_blocks);
            const auto b = emit_to_vector(r, ph);
            ASSERT_EQ(b.size(), r.buffer_len());
            EXPECT_EQ(r.header_len() % 4, 0u);
            EXPECT_LE(r.header_len(), kMaxHeaderLen);
            const auto v = View::parse(Bytes{b});
            ASSERT_TRUE(v);
            EXPECT_EQ(v->header_len(), r.header_len());
            const auto back = Repr::parse(*v, ph);
            ASSERT_TRUE(back);
            EXPECT_EQ(*back, r);
            EXPECT_EQ(back->ack.has_value(), has(back->control, Control::kAck));
          }
        }
      }
    }
  }
}

TEST(TcpRepr, EmitsLinuxLayout) {
  const auto syn = SegmentBuilder().ports(1, 2).syn().mss(1460).sack_permitted().timestamps(1, 0).wscale(7);
  const auto b = syn.bytes(v4_pseudo());
  ASSERT_EQ(b.size(), 40u);
  const auto opts = Bytes{b}.subspan(20);
  EXPECT_EQ(std::vector<std::byte>(opts.begin(), opts.end()),
            to_bytes({2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}));
  const auto ack = SegmentBuilder().ports(1, 2).ack(1).timestamps(2, 3).sack(10, 20).bytes(v4_pseudo());
  const auto o2 = Bytes{ack}.subspan(20);
  EXPECT_EQ(std::vector<std::byte>(o2.begin(), o2.end()),
            to_bytes({1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 3, 1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20}));
  const auto sackok = SegmentBuilder().ports(1, 2).syn().sack_permitted().bytes(v4_pseudo());
  EXPECT_EQ(std::vector<std::byte>(sackok.begin() + 20, sackok.end()), to_bytes({1, 1, 4, 2}));
}

TEST(TcpRepr, SackBlocksThatDoNotFitAreDropped) {
  Repr r = make_repr(kOptionSets[0], Control::kNone, true, {});
  for (int i = 0; i < 4; ++i) r.add_sack({SeqNum{std::uint32_t(i)}, SeqNum{std::uint32_t(i + 1)}});
  EXPECT_FALSE(r.add_sack({}));
  EXPECT_EQ(r.sacks_emitted(), 4u);
  r.timestamps = Timestamps{1, 2};
  EXPECT_EQ(r.sacks_emitted(), 3u);  // RFC 2018 §3: 3 blocks next to timestamps
  r.mss = 1000;
  r.window_scale = 3;
  EXPECT_EQ(r.sacks_emitted(), 2u);
  r.sack_permitted = true;
  EXPECT_EQ(r.sacks_emitted(), 2u);
  EXPECT_EQ(r.header_len(), 60u);
  const auto b = emit_to_vector(r, v4_pseudo());
  const auto back = Repr::parse(*View::parse(Bytes{b}), v4_pseudo());
  ASSERT_TRUE(back);
  ASSERT_EQ(back->sacks().size(), 2u);
  EXPECT_EQ(back->sacks()[1], r.sacks()[1]);
  r.sack_count = 200;  // a corrupt count is bounded
  EXPECT_EQ(r.sacks().size(), kMaxSackBlocks);
}

TEST(TcpRepr, WindowScaleIsClampedOnEmit) {
  const auto b = SegmentBuilder().ports(1, 2).syn().wscale(200).bytes(v4_pseudo());
  const auto r = Repr::parse(*View::parse(Bytes{b}), v4_pseudo());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->window_scale, 14);
}

TEST(TcpRepr, AckFieldFollowsTheAckBit) {
  // ACK off: a nonzero acknowledgment field is not an ack.
  auto b = raw_segment({}, Control::kSyn);
  store_be32(b, field::kAck, 77);
  MutableView::parse(b)->fill_checksum(v4_pseudo());
  auto r = parse_bytes(b);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ack);
  // ACK on with ack 0: ack is 0, present.
  b = raw_segment({}, Control::kAck);
  r = parse_bytes(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ack, SeqNum{0});
  // emit: the ACK bit follows `ack`, not `control`.
  Repr x;
  x.control = Control::kAck | Control::kFin;
  EXPECT_EQ(x.flags(), Control::kFin);
  EXPECT_EQ(std::uint8_t(emit_to_vector(x, v4_pseudo())[field::kFlags]), 0x01);
  x.control = Control::kFin;
  x.ack = SeqNum{5};
  EXPECT_EQ(std::uint8_t(emit_to_vector(x, v4_pseudo())[field::kFlags]), 0x11);
  Repr y = x;
  y.control = Control::kFin | Control::kAck;
  EXPECT_EQ(x, y);  // == compares the wire flags
}

TEST(TcpRepr, UrgentPointerIsKeptRaw) {
  // URG with a pointer far past the payload: kept as is, nothing is computed from it (URGENT/11).
  const auto b = SegmentBuilder().ports(1, 2).seq(1).ack(1).urgent(0xffff).payload("x").bytes(v4_pseudo());
  const auto r = parse_bytes(b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->urgent, 0xffff);
  EXPECT_TRUE(r->has_flags(Control::kUrg));
}

TEST(TcpRepr, SegmentLenCountsSynAndFin) {
  const std::string p = "hello";
  EXPECT_EQ(SegmentBuilder().payload(p).build().segment_len(), 5u);
  EXPECT_EQ(SegmentBuilder().syn().build().segment_len(), 1u);
  EXPECT_EQ(SegmentBuilder().fin().payload(p).build().segment_len(), 6u);
}

TEST(TcpRepr, ResetFor) {  // RFC 9293 §3.10.7.1
  const auto syn_b = SegmentBuilder().ports(40000, 80).seq(0xffffffffu).syn().payload("ab");
  const Repr rst1 = Repr::reset_for(syn_b.build());
  EXPECT_EQ(rst1.src_port, 80);
  EXPECT_EQ(rst1.dst_port, 40000);
  EXPECT_EQ(rst1.flags(), Control::kRst | Control::kAck);
  EXPECT_EQ(rst1.seq, SeqNum{0});
  EXPECT_EQ(rst1.ack, SeqNum{2});  // 0xffffffff + 3 wraps
  const Repr rst2 = Repr::reset_for(SegmentBuilder().ports(1, 2).seq(5).ack(99).build());
  EXPECT_EQ(rst2.flags(), Control::kRst);
  EXPECT_EQ(rst2.seq, SeqNum{99});
  EXPECT_FALSE(rst2.ack);
}

TEST(TcpRepr, PrintsLikeTcpdump) {
  const auto b = SegmentBuilder().ports(1, 2).seq(3).ack(4).syn().mss(1460).sack_permitted().timestamps(5, 6)
                     .wscale(7).sack(8, 9);
  std::ostringstream os;
  os << b.build();
  EXPECT_EQ(os.str(),
            "TCP 1 > 2 [SYN|ACK] seq 3 ack 4 win 0 opts [mss 1460,sackOK,TS val 5 ecr 6,wscale 7,sack {8-9}] len 0");
}

}  // namespace
}  // namespace tapstack::tcp
