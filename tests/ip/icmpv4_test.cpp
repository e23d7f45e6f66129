// ICMPv4 wire format (RFC 792, RFC 1191): round trips of every supported type, libtins in both directions,
// bad checksums and short messages, the quoted-header reader, and a whole frame through all four formats.
#include "ip/icmpv4.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <sstream>
#include <vector>

#include "ip/ethernet.hpp"
#include "ip/ipv4.hpp"

namespace tapstack::ip {
namespace {

const Ipv4Address kSrc{{192, 0, 2, 1}};
const Ipv4Address kDst{{198, 51, 100, 7}};

const std::uint8_t* u8(const std::vector<std::byte>& v) { return reinterpret_cast<const std::uint8_t*>(v.data()); }
std::vector<std::byte> to_bytes(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}

std::vector<std::byte> emitted(const Icmpv4Repr& r) {
  std::vector<std::byte> buf(r.buffer_len());
  r.emit(buf);
  return buf;
}

std::optional<Icmpv4Error> error_of(const std::vector<std::byte>& b) {
  Icmpv4Error e{};
  auto v = Icmpv4View::parse(b, &e);
  if (!v) return e;
  if (!Icmpv4Repr::parse(*v, &e)) return e;
  return std::nullopt;
}

// An IPv4/UDP packet this host might have sent, to be quoted by an error: 20 + 8 + `extra` bytes.
std::vector<std::byte> offending_packet(std::size_t extra = 4) {
  Ipv4Repr ip;
  ip.src = kSrc;
  ip.dst = kDst;
  ip.protocol = 17;
  ip.ident = 0x1234;
  ip.payload_len = std::uint16_t(8 + extra);
  std::vector<std::byte> b(ip.buffer_len());
  ip.emit(b);
  store_be16(b, 20, 40000);  // UDP source port
  store_be16(b, 22, 53);     // UDP destination port
  store_be16(b, 24, std::uint16_t(8 + extra));
  return b;
}

TEST(Icmpv4, Echo_RoundTrips_ForEvenOddAndEmptyData) {
  for (std::string_view data : {"", "a", "abcd", "abcdefghijklmnopqrstuvwxyz012345678"}) {
    const auto req = Icmpv4Repr::echo_request(0x4242, 7, as_bytes(data));
    const auto buf = emitted(req);
    EXPECT_EQ(buf.size(), kIcmpv4HeaderLen + data.size());
    auto v = Icmpv4View::parse(buf);
    ASSERT_TRUE(v) << "data length " << data.size();
    auto r = Icmpv4Repr::parse(*v);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, req);
    EXPECT_EQ(as_chars(r->data), data);
    EXPECT_FALSE(r->is_error());

    const auto rep = Icmpv4Repr::echo_reply_to(*r);
    const auto rbuf = emitted(rep);
    v = Icmpv4View::parse(rbuf);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->type(), 0);
    EXPECT_EQ(Icmpv4Repr::parse(*v), rep);
    EXPECT_EQ(rep.ident, 0x4242);
    EXPECT_EQ(rep.seq, 7);
  }
}

TEST(Icmpv4, EchoReply_CanBeBuiltInPlaceOverTheRequest) {
  auto buf = emitted(Icmpv4Repr::echo_request(1, 2, as_bytes("ping data!")));
  auto v = Icmpv4View::parse(buf);
  ASSERT_TRUE(v);
  const auto req = *Icmpv4Repr::parse(*v);
  const auto rep = Icmpv4Repr::echo_reply_to(req);  // rep.data aliases buf[8, ...)
  rep.emit(buf);
  v = Icmpv4View::parse(buf);
  ASSERT_TRUE(v);
  auto back = Icmpv4Repr::parse(*v);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, Icmpv4Type::kEchoReply);
  EXPECT_EQ(as_chars(back->data), "ping data!");
}

TEST(Icmpv4, Errors_RoundTrip) {
  const auto pkt = offending_packet();
  const Bytes quote = icmpv4_error_quote(pkt);
  const Icmpv4Repr cases[] = {
      Icmpv4Repr::dest_unreachable(Icmpv4Unreachable::kPort, quote),
      Icmpv4Repr::dest_unreachable(Icmpv4Unreachable::kFragNeeded, quote, 1400),
      Icmpv4Repr::dest_unreachable(Icmpv4Unreachable::kHost, quote, 1400),  // MTU only kept for code 4
      Icmpv4Repr::time_exceeded(Icmpv4TimeExceeded::kReassembly, quote),
      Icmpv4Repr::parameter_problem(12, quote),
  };
  for (const auto& want : cases) {
    const auto buf = emitted(want);
    auto v = Icmpv4View::parse(buf);
    ASSERT_TRUE(v) << want;
    auto r = Icmpv4Repr::parse(*v);
    ASSERT_TRUE(r) << want;
    EXPECT_EQ(*r, want);
    EXPECT_TRUE(r->is_error());
  }
  EXPECT_EQ(cases[1].next_hop_mtu, 1400);
  EXPECT_EQ(cases[2].next_hop_mtu, 0);
}

// RFC 792: a Redirect carries the better gateway in network byte order in the second word, then the quote.
TEST(Icmpv4, Redirect_ParsesTheGatewayAndRoundTrips_CodesAbove3Refused) {
  const auto pkt = offending_packet();
  std::vector<std::uint8_t> m{5, 1, 0, 0, 192, 0, 2, 253};
  m.insert(m.end(), u8(pkt), u8(pkt) + pkt.size());
  auto b = to_bytes(m);
  store_be16(b, 2, internet_checksum(b));
  auto v = Icmpv4View::parse(b);
  ASSERT_TRUE(v);
  auto r = Icmpv4Repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, Icmpv4Type::kRedirect);
  EXPECT_EQ(r->code, 1);
  EXPECT_EQ(r->gateway, (Ipv4Address{{192, 0, 2, 253}}));
  EXPECT_EQ(r->data.size(), pkt.size());
  EXPECT_TRUE(r->is_error());
  EXPECT_EQ(emitted(*r), b);  // the gateway written back where it was read
  b[1] = std::byte{4};
  store_be16(b, 2, 0);
  store_be16(b, 2, internet_checksum(b));
  EXPECT_EQ(error_of(b), Icmpv4Error::kUnsupportedType);
  // A quote too short to hold an IP header and 8 bytes: refused like any error's.
  b.resize(kIcmpv4HeaderLen + kIcmpv4MinQuoteLen - 1);
  b[1] = std::byte{1};
  store_be16(b, 2, 0);
  store_be16(b, 2, internet_checksum(b));
  EXPECT_EQ(error_of(b), Icmpv4Error::kBadQuote);
}

TEST(Icmpv4, FragNeeded_CarriesTheNextHopMtuWhereLibtinsReadsIt) {
  const auto pkt = offending_packet();
  const auto buf = emitted(Icmpv4Repr::dest_unreachable(Icmpv4Unreachable::kFragNeeded, pkt, 1280));
  EXPECT_EQ(load_be16(buf, 4), 0);  // unused (RFC 1191 §4)
  EXPECT_EQ(load_be16(buf, 6), 1280);
  Tins::ICMP icmp(u8(buf), std::uint32_t(buf.size()));
  EXPECT_EQ(icmp.type(), Tins::ICMP::DEST_UNREACHABLE);
  EXPECT_EQ(icmp.code(), 4);
  EXPECT_EQ(icmp.mtu(), 1280);
}

TEST(Icmpv4, LibtinsParsesWhatWeEmit) {
  const auto buf = emitted(Icmpv4Repr::echo_request(0x1111, 0x2222, as_bytes("tapstack")));
  Tins::ICMP icmp(u8(buf), std::uint32_t(buf.size()));
  EXPECT_EQ(icmp.type(), Tins::ICMP::ECHO_REQUEST);
  EXPECT_EQ(icmp.code(), 0);
  EXPECT_EQ(icmp.id(), 0x1111);
  EXPECT_EQ(icmp.sequence(), 0x2222);
  const auto* raw = icmp.find_pdu<Tins::RawPDU>();
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(std::string(raw->payload().begin(), raw->payload().end()), "tapstack");
  // libtins recomputes the checksum when it serializes: it must agree with ours.
  const std::uint16_t ours = load_be16(buf, icmpv4_field::kChecksum);
  EXPECT_EQ(icmp.checksum(), ours);
  Tins::ICMP copy = icmp;
  const auto re = copy.serialize();
  EXPECT_EQ(std::uint16_t((re[2] << 8) | re[3]), ours);

  const auto pkt = offending_packet();
  const auto ebuf = emitted(Icmpv4Repr::parameter_problem(9, pkt));
  Tins::ICMP perr(u8(ebuf), std::uint32_t(ebuf.size()));
  EXPECT_EQ(perr.type(), Tins::ICMP::PARAM_PROBLEM);
  EXPECT_EQ(perr.pointer(), 9);
  Tins::ICMP pcopy = perr;
  const auto pre = pcopy.serialize();
  EXPECT_EQ(std::uint16_t((pre[2] << 8) | pre[3]), load_be16(ebuf, icmpv4_field::kChecksum));
}

TEST(Icmpv4, WeParseWhatLibtinsSerializes) {
  Tins::ICMP echo(Tins::ICMP::ECHO_REPLY);
  echo.id(77);
  echo.sequence(78);
  echo /= Tins::RawPDU("odd");
  auto wire = echo.serialize();
  auto buf = to_bytes(std::vector<std::uint8_t>(wire.begin(), wire.end()));
  auto v = Icmpv4View::parse(buf);
  ASSERT_TRUE(v);
  auto r = Icmpv4Repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (Icmpv4Repr{Icmpv4Type::kEchoReply, 0, 77, 78, 0, 0, as_bytes("odd")}));

  const auto pkt = offending_packet();
  Tins::ICMP unreach(Tins::ICMP::DEST_UNREACHABLE);
  unreach.code(3);
  unreach /= Tins::RawPDU(u8(pkt), std::uint32_t(pkt.size()));
  wire = unreach.serialize();
  buf = to_bytes(std::vector<std::uint8_t>(wire.begin(), wire.end()));
  v = Icmpv4View::parse(buf);
  ASSERT_TRUE(v);
  r = Icmpv4Repr::parse(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Icmpv4Repr::dest_unreachable(Icmpv4Unreachable::kPort, pkt));
  auto q = parse_icmpv4_quote(r->data);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->src, kSrc);
  EXPECT_EQ(q->dst, kDst);
  EXPECT_EQ(q->protocol, 17);
  EXPECT_EQ(q->ident, 0x1234);
  EXPECT_EQ(load_be16(q->transport, 0), 40000);
  EXPECT_EQ(load_be16(q->transport, 2), 53);
}

TEST(Icmpv4, WholeFrameFromLibtins_ParsesThroughEveryLayer) {
  Tins::EthernetII frame("02:00:00:00:00:02", "02:00:00:00:00:01");
  Tins::ICMP icmp(Tins::ICMP::ECHO_REQUEST);
  icmp.id(5);
  icmp.sequence(6);
  frame /= Tins::IP(kDst.to_string(), kSrc.to_string()) / icmp / Tins::RawPDU("0123456789");
  const auto wire = frame.serialize();
  const auto buf = to_bytes(std::vector<std::uint8_t>(wire.begin(), wire.end()));
  auto eth = EthernetView::parse(buf);
  ASSERT_TRUE(eth);
  ASSERT_EQ(eth->ethertype(), EtherType::kIpv4);
  auto ip = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->protocol(), std::uint8_t(IpProtocol::kIcmp));
  auto iv = Icmpv4View::parse(ip->payload());
  ASSERT_TRUE(iv);
  auto r = Icmpv4Repr::parse(*iv);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Icmpv4Repr::echo_request(5, 6, as_bytes("0123456789")));
}

TEST(Icmpv4, ShortMessages_AreRefused) {
  const auto full = emitted(Icmpv4Repr::echo_request(1, 2, as_bytes("abcdef")));
  for (std::size_t n = 0; n < kIcmpv4HeaderLen; ++n) {
    const std::vector<std::byte> cut(full.begin(), full.begin() + std::ptrdiff_t(n));
    EXPECT_EQ(error_of(cut), Icmpv4Error::kTruncated) << "length " << n;
  }
  // An echo cut inside its data no longer verifies (the checksum covers the whole message).
  for (std::size_t n = kIcmpv4HeaderLen; n < full.size(); ++n) {
    const std::vector<std::byte> cut(full.begin(), full.begin() + std::ptrdiff_t(n));
    EXPECT_EQ(error_of(cut), Icmpv4Error::kBadChecksum) << "length " << n;
  }
  // An error whose quote is shorter than an IP header + 8 bytes (RFC 1122 §3.2.2).
  const auto pkt = offending_packet();
  for (std::size_t n = 0; n < kIcmpv4MinQuoteLen; ++n) {
    const auto buf = emitted(Icmpv4Repr::time_exceeded(Icmpv4TimeExceeded::kTtl, Bytes{pkt}.first(n)));
    EXPECT_EQ(error_of(buf), Icmpv4Error::kBadQuote) << "quote " << n;
  }
  EXPECT_EQ(error_of(emitted(Icmpv4Repr::time_exceeded(Icmpv4TimeExceeded::kTtl, Bytes{pkt}.first(28)))),
            std::nullopt);
}

TEST(Icmpv4, BadChecksum_IsRefusedUnlessSkipped) {
  auto buf = emitted(Icmpv4Repr::echo_request(1, 2, as_bytes("abc")));
  buf.back() ^= std::byte{0x20};
  EXPECT_EQ(error_of(buf), Icmpv4Error::kBadChecksum);
  EXPECT_TRUE(Icmpv4View::parse(buf, nullptr, ChecksumCheck::kSkip));
  buf = emitted(Icmpv4Repr::echo_request(1, 2, as_bytes("abc")));
  buf[icmpv4_field::kChecksum] ^= std::byte{0x80};
  EXPECT_EQ(error_of(buf), Icmpv4Error::kBadChecksum);
}

TEST(Icmpv4, UnsupportedTypes_AreRefused) {
  for (std::uint8_t type : {4, 13, 14, 17, 42, 255}) {  // (5, Redirect, is parsed: see above)
    std::vector<std::byte> buf(kIcmpv4HeaderLen + kIcmpv4MinQuoteLen);
    buf[0] = std::byte{type};
    store_be16(buf, icmpv4_field::kChecksum, internet_checksum(buf));
    EXPECT_EQ(error_of(buf), Icmpv4Error::kUnsupportedType) << "type " << int(type);
  }
}

TEST(Icmpv4, Quote_IsReadLenientlyButWithinBounds) {
  const auto pkt = offending_packet(100);  // total length 128, quoted in full
  auto q = parse_icmpv4_quote(Bytes{pkt}.first(28));  // cut: total length says more, that is fine
  ASSERT_TRUE(q);
  EXPECT_EQ(q->transport.size(), 8u);
  EXPECT_EQ(q->frag_offset, 0);
  for (std::size_t n = 0; n < 28; ++n) EXPECT_FALSE(parse_icmpv4_quote(Bytes{pkt}.first(n))) << "length " << n;
  auto b = pkt;
  b[0] = std::byte{0x46};  // IHL 6: needs 24 + 8 bytes
  EXPECT_FALSE(parse_icmpv4_quote(Bytes{b}.first(31)));
  EXPECT_TRUE(parse_icmpv4_quote(Bytes{b}.first(32)));
  b[0] = std::byte{0x44};  // IHL 4
  EXPECT_FALSE(parse_icmpv4_quote(b));
  b[0] = std::byte{0x65};  // version 6
  EXPECT_FALSE(parse_icmpv4_quote(b));
}

TEST(Icmpv4, ErrorQuote_StaysWithin576Bytes) {
  const auto big = offending_packet(1400);
  EXPECT_EQ(icmpv4_error_quote(big).size(), 548u);
  EXPECT_EQ(20 + emitted(Icmpv4Repr::dest_unreachable(Icmpv4Unreachable::kPort, icmpv4_error_quote(big))).size(),
            576u);
  const auto small = offending_packet(2);
  EXPECT_EQ(icmpv4_error_quote(small).size(), small.size());
}

TEST(Icmpv4, ErrorClassification) {
  EXPECT_FALSE(icmpv4_is_error(0));
  EXPECT_FALSE(icmpv4_is_error(8));
  EXPECT_FALSE(icmpv4_is_error(13));
  EXPECT_TRUE(icmpv4_is_error(3));
  EXPECT_TRUE(icmpv4_is_error(5));
  EXPECT_TRUE(icmpv4_is_error(11));
  EXPECT_TRUE(icmpv4_is_error(12));
  EXPECT_TRUE(icmpv4_is_error(200));  // unknown: never answered
}

TEST(Icmpv4, Printing) {
  std::ostringstream os;
  os << Icmpv4Repr::echo_request(1, 2, as_bytes("hi")) << ' ' << Icmpv4Error::kBadQuote;
  EXPECT_EQ(os.str(), "Icmpv4Repr{echo-request code=0 ident=1 seq=2 data=2 bytes 6869} bad_quote");
}

}  // namespace
}  // namespace tapstack::ip
