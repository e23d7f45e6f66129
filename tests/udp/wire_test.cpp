// udp/wire: round trips over IPv4 and IPv6 pseudo-headers, libtins as an independent oracle in both
// directions, every malformed length, and the zero-checksum rules (RFC 768, RFC 8200 §8.1).
#include "udp/wire.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <sstream>
#include <string>
#include <vector>

namespace tapstack::udp {
namespace {

const ip::IpAddress kV4A = ip::Ipv4Address{{192, 0, 2, 1}};
const ip::IpAddress kV4B = ip::Ipv4Address{{198, 51, 100, 7}};
const ip::IpAddress kV6A = *ip::IpAddress::parse("2001:db8::1");
const ip::IpAddress kV6B = *ip::IpAddress::parse("2001:db8:1::7");

ip::PseudoHeader v4(ip::IpAddress src = kV4A, ip::IpAddress dst = kV4B) { return {src, dst, 17, 0}; }
ip::PseudoHeader v6(ip::IpAddress src = kV6A, ip::IpAddress dst = kV6B) { return {src, dst, 17, 0}; }

std::vector<std::byte> emit(const Repr& r, const ip::PseudoHeader& ph) {
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, ph);
  return out;
}

std::vector<std::byte> to_bytes(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}

std::vector<std::uint8_t> to_u8(Bytes b) {
  std::vector<std::uint8_t> out(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) out[i] = std::uint8_t(b[i]);
  return out;
}

std::string payload_of_len(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = char('a' + i % 26);
  return s;
}

// The checksum computed the slow, obvious way over a hand-laid pseudo-header: independent of Checksum.
std::uint16_t reference_checksum(const ip::PseudoHeader& ph, Bytes datagram) {
  std::vector<std::byte> buf;
  for (auto b : ph.src.bytes()) buf.push_back(b);
  for (auto b : ph.dst.bytes()) buf.push_back(b);
  const auto len = std::uint32_t(datagram.size());
  if (ph.src.is_v4()) {
    buf.push_back(std::byte(0));
    buf.push_back(std::byte(17));
    buf.push_back(std::byte(len >> 8));
    buf.push_back(std::byte(len));
  } else {
    for (int s = 24; s >= 0; s -= 8) buf.push_back(std::byte(len >> s));
    buf.insert(buf.end(), {std::byte(0), std::byte(0), std::byte(0), std::byte(17)});
  }
  buf.insert(buf.end(), datagram.begin(), datagram.end());
  return internet_checksum_reference(buf);
}

class WireRoundTrip : public ::testing::TestWithParam<std::size_t> {};

TEST_P(WireRoundTrip, EmitThenParseGivesSameReprV4AndV6) {
  const std::string data = payload_of_len(GetParam());
  const Repr r{40000, 53, as_bytes(data)};
  for (const auto& ph : {v4(), v6()}) {
    const auto bytes = emit(r, ph);
    ASSERT_EQ(bytes.size(), 8 + data.size());
    const auto view = View::parse(bytes);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->src_port(), 40000);
    EXPECT_EQ(view->dst_port(), 53);
    EXPECT_EQ(view->length(), bytes.size());
    EXPECT_NE(view->checksum(), 0);
    // The stored checksum is what an independent computation (with the field zeroed) gives.
    auto zeroed = bytes;
    zeroed[6] = zeroed[7] = std::byte{0};
    std::uint16_t expect = reference_checksum(ph, zeroed);
    if (expect == 0) expect = 0xffff;
    EXPECT_EQ(view->checksum(), expect);
    EXPECT_EQ(reference_checksum(ph, bytes), 0);
    const auto parsed = Repr::parse(*view, ph);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, r);
    EXPECT_EQ(parsed->payload.data(), bytes.data() + 8);  // borrowed, not copied
  }
}
INSTANTIATE_TEST_SUITE_P(PayloadLengths, WireRoundTrip, ::testing::Values(0, 1, 2, 7, 8, 63, 512, 1472, 9000));

TEST(UdpWire, ParseUsesLengthFieldNotPseudoHeaderLength) {
  const std::string data = "abc";
  const Repr r{1, 2, as_bytes(data)};
  auto ph = v4();
  ph.length = 9999;  // ignored on both sides
  const auto bytes = emit(r, ph);
  EXPECT_TRUE(Repr::parse(*View::parse(bytes), ph));
}

TEST(UdpWire, EmitInPlacePayloadIsNotCopied) {
  std::vector<std::byte> buf(8 + 5);
  const std::string data = "hello";
  copy_bytes(MutableBytes{buf}.subspan(8), as_bytes(data));
  const Repr r{7, 9, Bytes{buf}.subspan(8)};
  r.emit(buf, v4());
  const auto parsed = Repr::parse(*View::parse(buf), v4());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(as_chars(parsed->payload), "hello");
}

TEST(UdpWire, ComputedZeroChecksumIsSentAsAllOnes) {
  // Choose the last payload word so that the checksum comes out 0: then it must be sent as 0xFFFF.
  for (const auto& ph : {v4(), v6()}) {
    std::vector<std::byte> payload(6, std::byte{0x11});
    payload[4] = payload[5] = std::byte{0};
    auto first = emit(Repr{1000, 2000, payload}, ph);
    std::uint16_t c = View::parse(first)->checksum();
    if (c == 0xffff) c = 0;  // the emitted value already replaced a zero
    payload[4] = std::byte(c >> 8);
    payload[5] = std::byte(c & 0xff);
    const Repr r{1000, 2000, payload};
    const auto bytes = emit(r, ph);
    const auto view = View::parse(bytes);
    ASSERT_TRUE(view);
    EXPECT_EQ(view->checksum(), 0xffff);
    EXPECT_EQ(Repr::parse(*view, ph), r);
  }
}

TEST(UdpWire, ZeroChecksumAcceptedOverIpv4) {
  const std::string data = "no checksum";
  auto bytes = emit(Repr{5353, 5353, as_bytes(data)}, v4());
  bytes[6] = bytes[7] = std::byte{0};
  ParseError why{};
  const auto r = Repr::parse(*View::parse(bytes), v4(), why);
  ASSERT_TRUE(r);
  EXPECT_EQ(as_chars(r->payload), data);
}

TEST(UdpWire, ZeroChecksumRejectedOverIpv6) {
  const std::string data = "no checksum";
  auto bytes = emit(Repr{5353, 5353, as_bytes(data)}, v6());
  bytes[6] = bytes[7] = std::byte{0};
  ParseError why{};
  EXPECT_FALSE(Repr::parse(*View::parse(bytes), v6(), why));
  EXPECT_EQ(why, ParseError::kZeroChecksumV6);
}

TEST(UdpWire, BadChecksumRejectedBothFamilies) {
  const std::string data = "payload";
  for (const auto& ph : {v4(), v6()}) {
    auto bytes = emit(Repr{1, 2, as_bytes(data)}, ph);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i == 4 || i == 5) continue;  // length: caught by View::parse instead
      auto bad = bytes;
      bad[i] ^= std::byte{0x01};
      ParseError why{};
      const auto view = View::parse(bad);
      ASSERT_TRUE(view);
      EXPECT_FALSE(Repr::parse(*view, ph, why)) << "flipped byte " << i;
      EXPECT_EQ(why, ParseError::kBadChecksum);
    }
  }
}

TEST(UdpWire, ChecksumCoversPseudoHeader) {
  const std::string data = "x";
  const auto bytes = emit(Repr{1, 2, as_bytes(data)}, v4());
  EXPECT_FALSE(Repr::parse(*View::parse(bytes), v4(kV4A, ip::Ipv4Address{{192, 0, 2, 2}})));
  const auto bytes6 = emit(Repr{1, 2, as_bytes(data)}, v6());
  EXPECT_FALSE(Repr::parse(*View::parse(bytes6), v6(kV6A, *ip::IpAddress::parse("2001:db8::99"))));
}

TEST(UdpWire, BufferShorterThanHeaderIsTruncated) {
  const std::vector<std::byte> full(8, std::byte{0});
  for (std::size_t n = 0; n < 8; ++n) {
    ParseError why{};
    EXPECT_FALSE(View::parse(Bytes{full}.first(n), why)) << n;
    EXPECT_EQ(why, ParseError::kTruncated);
  }
}

TEST(UdpWire, EveryLengthFieldBelowEightIsBadLength) {
  auto bytes = emit(Repr{1, 2, as_bytes("0123456789")}, v4());
  for (std::uint16_t len = 0; len < 8; ++len) {
    store_be16(bytes, field::kLength, len);
    ParseError why{};
    EXPECT_FALSE(View::parse(Bytes{bytes}, why)) << len;
    EXPECT_EQ(why, ParseError::kBadLength);
  }
}

TEST(UdpWire, LengthFieldBeyondBufferIsBadLength) {
  auto bytes = emit(Repr{1, 2, as_bytes("0123456789")}, v4());
  for (std::uint32_t len : {19u, 100u, 0xffffu}) {
    store_be16(bytes, field::kLength, std::uint16_t(len));
    ParseError why{};
    EXPECT_FALSE(View::parse(Bytes{bytes}, why)) << len;
    EXPECT_EQ(why, ParseError::kBadLength);
  }
}

TEST(UdpWire, ShorterLengthFieldTrimsTrailingBytes) {
  const std::string data = "abcd";
  auto bytes = emit(Repr{1, 2, as_bytes(data)}, v4());
  bytes.insert(bytes.end(), {std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}});  // IP-level padding
  const auto view = View::parse(bytes);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->bytes().size(), 12u);
  const auto r = Repr::parse(*view, v4());
  ASSERT_TRUE(r);
  EXPECT_EQ(as_chars(r->payload), "abcd");
}

TEST(UdpWire, HeaderOnlyDatagramIsValid) {
  const auto bytes = emit(Repr{9, 9, {}}, v6());
  const auto r = Repr::parse(*View::parse(bytes), v6());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->payload.empty());
}

TEST(UdpWire, MutableViewSettersAndConversion) {
  auto bytes = emit(Repr{1, 2, as_bytes("zz")}, v4());
  auto mv = MutableView::parse(std::span<std::byte>{bytes});
  ASSERT_TRUE(mv);
  mv->set_src_port(4242);
  mv->set_dst_port(53);
  mv->set_checksum(0);
  const View cv = *mv;
  EXPECT_EQ(cv.src_port(), 4242);
  EXPECT_EQ(cv.dst_port(), 53);
  EXPECT_TRUE(Repr::parse(cv, v4()));  // zero checksum over IPv4
}

TEST(UdpWire, PrintsReprAndReason) {
  std::ostringstream os;
  os << Repr{1, 2, as_bytes("AB")} << ' ' << ParseError::kZeroChecksumV6;
  EXPECT_EQ(os.str(), "UDP src=1 dst=2 len=2 payload=4142 zero_checksum_v6");
}

// --- libtins as the oracle -------------------------------------------------------------------------

TEST(UdpWireTins, WeParseWhatLibtinsSerializesOverIpv4) {
  for (std::size_t n : {0u, 1u, 5u, 64u, 1000u}) {
    const std::string data = payload_of_len(n);
    Tins::IP pkt(Tins::IPv4Address("198.51.100.7"), Tins::IPv4Address("192.0.2.1"));
    pkt /= Tins::UDP(53, 40001) / Tins::RawPDU(data);
    const auto wire = to_bytes(pkt.serialize());
    const Bytes udp = Bytes{wire}.subspan(20);
    ParseError why{};
    const auto view = View::parse(udp, why);
    ASSERT_TRUE(view) << why;
    const auto r = Repr::parse(*view, v4(kV4A, kV4B), why);
    ASSERT_TRUE(r) << why;
    EXPECT_EQ(r->src_port, 40001);
    EXPECT_EQ(r->dst_port, 53);
    EXPECT_EQ(as_chars(r->payload), data);
    EXPECT_NE(view->checksum(), 0);  // libtins computed one and we verified it
  }
}

TEST(UdpWireTins, WeParseWhatLibtinsSerializesOverIpv6) {
  for (std::size_t n : {0u, 3u, 64u, 1400u}) {
    const std::string data = payload_of_len(n);
    Tins::IPv6 pkt(Tins::IPv6Address("2001:db8:1::7"), Tins::IPv6Address("2001:db8::1"));
    pkt /= Tins::UDP(5353, 50000) / Tins::RawPDU(data);
    const auto wire = to_bytes(pkt.serialize());
    const Bytes udp = Bytes{wire}.subspan(40);
    ParseError why{};
    const auto view = View::parse(udp, why);
    ASSERT_TRUE(view) << why;
    const auto r = Repr::parse(*view, v6(kV6A, kV6B), why);
    ASSERT_TRUE(r) << why;
    EXPECT_EQ(r->src_port, 50000);
    EXPECT_EQ(r->dst_port, 5353);
    EXPECT_EQ(as_chars(r->payload), data);
  }
}

TEST(UdpWireTins, LibtinsParsesWhatWeEmitAndAgreesOnTheChecksumIpv4) {
  for (std::size_t n : {0u, 1u, 2u, 33u, 1200u}) {
    const std::string data = payload_of_len(n);
    const auto ours = emit(Repr{40002, 7, as_bytes(data)}, v4());
    const auto raw = to_u8(ours);
    Tins::IP pkt(Tins::IPv4Address("198.51.100.7"), Tins::IPv4Address("192.0.2.1"));
    pkt /= Tins::RawPDU(raw.data(), std::uint32_t(raw.size()));
    pkt.protocol(17);
    const auto wire = pkt.serialize();
    Tins::IP parsed(wire.data(), std::uint32_t(wire.size()));
    const auto* udp = parsed.find_pdu<Tins::UDP>();
    ASSERT_NE(udp, nullptr);
    EXPECT_EQ(udp->sport(), 40002);
    EXPECT_EQ(udp->dport(), 7);
    EXPECT_EQ(udp->length(), 8 + n);
    const auto* inner = udp->find_pdu<Tins::RawPDU>();
    if (n == 0) {
      EXPECT_EQ(inner, nullptr);
    } else {
      ASSERT_NE(inner, nullptr);
      EXPECT_EQ(std::string(inner->payload().begin(), inner->payload().end()), data);
    }
    const std::uint16_t our_sum = udp->checksum();
    // libtins recomputes the checksum when it serializes again: it must arrive at ours.
    const auto again = parsed.serialize();
    Tins::IP reparsed(again.data(), std::uint32_t(again.size()));
    EXPECT_EQ(reparsed.rfind_pdu<Tins::UDP>().checksum(), our_sum) << "payload " << n;
  }
}

TEST(UdpWireTins, LibtinsParsesWhatWeEmitAndAgreesOnTheChecksumIpv6) {
  for (std::size_t n : {0u, 1u, 77u, 1300u}) {
    const std::string data = payload_of_len(n);
    const auto ours = emit(Repr{40003, 53, as_bytes(data)}, v6());
    const auto raw = to_u8(ours);
    Tins::IPv6 pkt(Tins::IPv6Address("2001:db8:1::7"), Tins::IPv6Address("2001:db8::1"));
    pkt /= Tins::RawPDU(raw.data(), std::uint32_t(raw.size()));
    pkt.next_header(17);
    const auto wire = pkt.serialize();
    Tins::IPv6 parsed(wire.data(), std::uint32_t(wire.size()));
    const auto* udp = parsed.find_pdu<Tins::UDP>();
    ASSERT_NE(udp, nullptr);
    EXPECT_EQ(udp->sport(), 40003);
    EXPECT_EQ(udp->dport(), 53);
    EXPECT_EQ(udp->length(), 8 + n);
    const std::uint16_t our_sum = udp->checksum();
    const auto again = parsed.serialize();
    Tins::IPv6 reparsed(again.data(), std::uint32_t(again.size()));
    EXPECT_EQ(reparsed.rfind_pdu<Tins::UDP>().checksum(), our_sum) << "payload " << n;
  }
}

}  // namespace
}  // namespace tapstack::udp
