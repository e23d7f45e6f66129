// Differential tests against libtins, an independent TCP implementation: we parse what libtins serializes
// (inside Tins::IP / Tins::IPv6, so libtins computes the checksum) and libtins parses what we emit.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <vector>

#include "segment_builder.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp {
namespace {

using testing::emit_to_vector;
using testing::v4_pseudo;
using testing::v6_pseudo;

constexpr const char* kSrc4 = "192.0.2.1";
constexpr const char* kDst4 = "198.51.100.2";
constexpr const char* kSrc6 = "2001:db8::1";
constexpr const char* kDst6 = "2001:db8::2";

struct Case {
  const char* name;
  std::uint16_t tins_flags;
  bool mss, ws, sack_ok, ts;
  std::size_t sack_blocks;
  std::size_t payload;
};

const Case kCases[] = {
    {"bare_syn", Tins::TCP::SYN, false, false, false, false, 0, 0},
    {"linux_syn", Tins::TCP::SYN, true, true, true, true, 0, 0},
    {"synack_mss_only", Tins::TCP::SYN | Tins::TCP::ACK, true, false, false, false, 0, 0},
    {"ack_ts_sack", Tins::TCP::ACK, false, false, false, true, 3, 0},
    {"ack_sack4", Tins::TCP::ACK, false, false, false, false, 4, 0},
    {"data", Tins::TCP::ACK | Tins::TCP::PSH, false, false, false, true, 0, 333},
    {"fin_urg_ece_cwr", Tins::TCP::FIN | Tins::TCP::ACK | Tins::TCP::URG | Tins::TCP::ECE | Tins::TCP::CWR,
     false, false, false, false, 0, 1},
    {"rst", Tins::TCP::RST, false, false, false, false, 0, 0},
    {"everything", Tins::TCP::SYN | Tins::TCP::ACK, true, true, true, true, 1, 7},
};

Tins::TCP make_tins(const Case& c) {
  Tins::TCP t(443, 49152);  // (dport, sport)
  t.seq(0xfffffff0u);
  t.ack_seq((c.tins_flags & Tins::TCP::ACK) != 0 ? 0x01020304u : 0);
  t.window(29200);
  t.flags(c.tins_flags);
  if ((c.tins_flags & Tins::TCP::URG) != 0) t.urg_ptr(0xfffe);
  if (c.mss) t.mss(1460);
  if (c.sack_ok) t.sack_permitted();
  if (c.ts) t.timestamp(4294923497u, 419445911u);
  if (c.ws) t.winscale(7);
  if (c.sack_blocks != 0) {
    Tins::TCP::sack_type edges;
    for (std::uint32_t i = 0; i < c.sack_blocks; ++i) edges.push_back(0xffffff00u + 16 * i), edges.push_back(0xffffff08u + 16 * i);
    t.sack(edges);
  }
  return t;
}

void expect_same(const Repr& r, const Case& c) {
  EXPECT_EQ(r.src_port, 49152);
  EXPECT_EQ(r.dst_port, 443);
  EXPECT_EQ(r.seq, SeqNum{0xfffffff0u});
  EXPECT_EQ(std::uint8_t(r.flags()), c.tins_flags);
  if ((c.tins_flags & Tins::TCP::ACK) != 0) {
    EXPECT_EQ(r.ack, SeqNum{0x01020304u});
  } else {
    EXPECT_FALSE(r.ack);
  }
  EXPECT_EQ(r.window, 29200);
  EXPECT_EQ(r.urgent, (c.tins_flags & Tins::TCP::URG) != 0 ? 0xfffe : 0);
  EXPECT_EQ(r.mss, c.mss ? std::optional<std::uint16_t>(1460) : std::nullopt);
  EXPECT_EQ(r.window_scale, c.ws ? std::optional<std::uint8_t>(7) : std::nullopt);
  EXPECT_EQ(r.sack_permitted, c.sack_ok);
  EXPECT_EQ(r.timestamps, c.ts ? std::optional<Timestamps>(Timestamps{4294923497u, 419445911u}) : std::nullopt);
  ASSERT_EQ(r.sacks().size(), c.sack_blocks);
  for (std::uint32_t i = 0; i < c.sack_blocks; ++i) {
    EXPECT_EQ(r.sacks()[i], (SackBlock{SeqNum{0xffffff00u + 16 * i}, SeqNum{0xffffff08u + 16 * i}}));
  }
  EXPECT_EQ(r.payload.size(), c.payload);
}

// Repr with the same content as make_tins(c).
Repr make_repr(const Case& c, Bytes payload) {
  Repr r;
  r.src_port = 49152;
  r.dst_port = 443;
  r.seq = SeqNum{0xfffffff0u};
  r.control = Control(std::uint8_t(c.tins_flags));
  if ((c.tins_flags & Tins::TCP::ACK) != 0) r.ack = SeqNum{0x01020304u};
  r.window = 29200;
  if ((c.tins_flags & Tins::TCP::URG) != 0) r.urgent = 0xfffe;
  if (c.mss) r.mss = 1460;
  if (c.ws) r.window_scale = 7;
  r.sack_permitted = c.sack_ok;
  if (c.ts) r.timestamps = Timestamps{4294923497u, 419445911u};
  for (std::uint32_t i = 0; i < c.sack_blocks; ++i) r.add_sack({SeqNum{0xffffff00u + 16 * i}, SeqNum{0xffffff08u + 16 * i}});
  r.payload = payload;
  return r;
}

template <class IpPdu>
void we_parse_tins(const char* src, const char* dst, std::size_t ip_header_len, const ip::PseudoHeader& ph) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Tins::TCP t = make_tins(c);
    std::vector<std::uint8_t> pl(c.payload, 0x42);
    IpPdu pkt = c.payload != 0 ? IpPdu(dst, src) / t / Tins::RawPDU(pl) : IpPdu(dst, src) / t;
    const std::vector<std::uint8_t> wire = pkt.serialize();
    ASSERT_GT(wire.size(), ip_header_len);
    const Bytes seg = std::as_bytes(std::span{wire}).subspan(ip_header_len);
    const auto v = View::parse(seg);
    ASSERT_TRUE(v);
    DropReason why{};
    const auto r = Repr::parse(*v, ph, &why);  // checksum computed by libtins, verified by us
    ASSERT_TRUE(r) << why;
    expect_same(*r, c);
  }
}

TEST(TcpTins, WeParseWhatLibtinsSerializesV4) { we_parse_tins<Tins::IP>(kSrc4, kDst4, 20, v4_pseudo()); }
TEST(TcpTins, WeParseWhatLibtinsSerializesV6) { we_parse_tins<Tins::IPv6>(kSrc6, kDst6, 40, v6_pseudo()); }

template <class IpPdu>
void tins_parses_ours(const char* src, const char* dst, std::size_t ip_header_len, const ip::PseudoHeader& ph) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const std::vector<std::byte> pl(c.payload, std::byte{0x42});
    const Repr r = make_repr(c, pl);
    const auto ours = emit_to_vector(r, ph);
    const auto* p = reinterpret_cast<const std::uint8_t*>(ours.data());

    // libtins' parser reads our bytes.
    const Tins::TCP t(p, std::uint32_t(ours.size()));
    EXPECT_EQ(t.sport(), 49152);
    EXPECT_EQ(t.dport(), 443);
    EXPECT_EQ(t.seq(), 0xfffffff0u);
    EXPECT_EQ(t.ack_seq(), (c.tins_flags & Tins::TCP::ACK) != 0 ? 0x01020304u : 0u);
    EXPECT_EQ(t.flags(), c.tins_flags);
    EXPECT_EQ(t.window(), 29200);
    EXPECT_EQ(t.data_offset() * 4u, r.header_len());
    if (c.mss) {
      EXPECT_EQ(t.mss(), 1460);
    }
    if (c.ws) {
      EXPECT_EQ(t.winscale(), 7);
    }
    EXPECT_EQ(t.has_sack_permitted(), c.sack_ok);
    if (c.ts) {
      EXPECT_EQ(t.timestamp(), std::make_pair(4294923497u, 419445911u));
    }
    if (c.sack_blocks != 0) {
      const auto edges = t.sack();
      ASSERT_EQ(edges.size(), 2 * c.sack_blocks);
      EXPECT_EQ(edges[0], 0xffffff00u);
      EXPECT_EQ(edges.back(), 0xffffff08u + 16 * std::uint32_t(c.sack_blocks - 1));
    }
    const auto* raw = t.find_pdu<Tins::RawPDU>();
    EXPECT_EQ(raw != nullptr ? raw->payload().size() : 0u, c.payload);

    // Checksum oracle: libtins re-serializes the segment it parsed inside an IP header, which makes it
    // compute the checksum itself; the TCP bytes must come out identical, checksum included.
    IpPdu pkt = IpPdu(dst, src) / t;
    const std::vector<std::uint8_t> wire = pkt.serialize();
    ASSERT_EQ(wire.size(), ip_header_len + ours.size());
    EXPECT_TRUE(std::equal(wire.begin() + std::ptrdiff_t(ip_header_len), wire.end(), p, p + ours.size()));
  }
}

TEST(TcpTins, LibtinsParsesWhatWeEmitV4) { tins_parses_ours<Tins::IP>(kSrc4, kDst4, 20, v4_pseudo()); }
TEST(TcpTins, LibtinsParsesWhatWeEmitV6) { tins_parses_ours<Tins::IPv6>(kSrc6, kDst6, 40, v6_pseudo()); }

}  // namespace
}  // namespace tapstack::tcp
