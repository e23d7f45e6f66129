// ICMPv6 (RFC 4443): echo and error round trips, libtins in both directions, checksum over the pseudo-header,
// length checks (CVE-2020-17443), Packet Too Big below 1280 (RFC 8201), quotes, and the §2.4 (e) rule.
#include "ip/icmpv6.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <vector>

namespace tapstack::ip {
namespace {

const Ipv6Address kSrc = *Ipv6Address::parse("2001:db8::1");
const Ipv6Address kDst = *Ipv6Address::parse("2001:db8::2");
const PseudoHeader kPh{kSrc, kDst, 58, 0};

std::vector<std::byte> emitted(const Icmpv6Repr& r, const PseudoHeader& ph = kPh) {
  std::vector<std::byte> b(r.buffer_len());
  r.emit(b, ph);
  return b;
}
std::vector<std::byte> from_u8(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}

// An invoking packet: IPv6 header 2001:db8::2 -> 2001:db8::1, UDP 1000 -> 53 with `extra` payload bytes.
std::vector<std::byte> invoking_udp(std::size_t extra = 4) {
  Ipv6Repr ip;
  ip.src = kDst;
  ip.dst = kSrc;
  ip.next_header = 17;
  ip.payload_len = std::uint16_t(8 + extra);
  std::vector<std::byte> b(ip.buffer_len());
  ip.emit(b);
  store_be16(b, 40, 1000);
  store_be16(b, 42, 53);
  store_be16(b, 44, std::uint16_t(8 + extra));
  return b;
}

std::optional<Icmpv6Repr> parse(const std::vector<std::byte>& b, Icmpv6Error* why = nullptr) {
  auto v = Icmpv6View::parse(b, kPh, why);
  if (!v) return std::nullopt;
  return Icmpv6Repr::parse(*v, why);
}

TEST(Icmpv6, EchoRoundTrips) {
  const auto data = as_bytes("ping data");
  for (auto r : {Icmpv6Repr::echo_request(0x1234, 7, data), Icmpv6Repr::echo_request(1, 2, {})}) {
    const auto b = emitted(r);
    EXPECT_EQ(icmpv6_checksum(b, kSrc, kDst), 0);
    auto p = parse(b);
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, r);
    const auto reply = Icmpv6Repr::echo_reply_to(*p);
    EXPECT_EQ(reply.type, Icmpv6Type::kEchoReply);
    EXPECT_EQ(reply.ident, r.ident);
    EXPECT_EQ(reply.seq, r.seq);
    EXPECT_TRUE(std::ranges::equal(reply.data, r.data));
  }
}

TEST(Icmpv6, EchoReplyBuiltInPlaceOverTheRequest) {
  auto b = emitted(Icmpv6Repr::echo_request(9, 10, as_bytes("abcdefgh")));
  const auto req = *parse(b);
  Icmpv6Repr::echo_reply_to(req).emit(b, PseudoHeader{kDst, kSrc, 58, 0});
  auto v = Icmpv6View::parse(b, PseudoHeader{kDst, kSrc, 58, 0});
  ASSERT_TRUE(v);
  const auto rep = *Icmpv6Repr::parse(*v);
  EXPECT_EQ(rep.type, Icmpv6Type::kEchoReply);
  EXPECT_EQ(as_chars(rep.data), "abcdefgh");
}

TEST(Icmpv6, ChecksumCoversThePseudoHeader) {
  auto b = emitted(Icmpv6Repr::echo_request(1, 1, as_bytes("x")));
  Icmpv6Error e{};
  EXPECT_FALSE(Icmpv6View::parse(b, PseudoHeader{kSrc, *Ipv6Address::parse("2001:db8::3"), 58, 0}, &e));
  EXPECT_EQ(e, Icmpv6Error::kBadChecksum);
  EXPECT_TRUE(Icmpv6View::parse(b, PseudoHeader{kSrc, *Ipv6Address::parse("2001:db8::3"), 58, 0}, &e,
                                ChecksumCheck::kSkip));
  b[8] ^= std::byte{1};
  EXPECT_FALSE(Icmpv6View::parse(b, kPh, &e));
  EXPECT_EQ(e, Icmpv6Error::kBadChecksum);
  // IPv4 addresses cannot verify an ICMPv6 checksum.
  EXPECT_FALSE(Icmpv6View::parse(b, PseudoHeader{Ipv4Address{{192, 0, 2, 1}}, Ipv4Address{{192, 0, 2, 2}}, 58, 0}, &e));
}

TEST(Icmpv6, EveryTruncationBelowTheHeaderIsRefused) {
  // CVE-2020-17443: a reply length computed from a message shorter than its header underflowed.
  const auto b = emitted(Icmpv6Repr::echo_request(1, 1, {}));
  for (std::size_t n = 0; n < 8; ++n) {
    Icmpv6Error e{};
    EXPECT_FALSE(Icmpv6View::parse(Bytes{b}.first(n), kPh, &e, ChecksumCheck::kSkip)) << n;
    EXPECT_EQ(e, Icmpv6Error::kTruncated);
  }
  auto v = Icmpv6View::parse(b, kPh);
  ASSERT_TRUE(v);
  EXPECT_EQ(Icmpv6Repr::parse(*v)->data.size(), 0u);
}

TEST(Icmpv6, LibtinsParsesOurEchoAndErrors) {
  const auto b = emitted(Icmpv6Repr::echo_request(0x4242, 3, as_bytes("hello")));
  Tins::ICMPv6 t(reinterpret_cast<const std::uint8_t*>(b.data()), std::uint32_t(b.size()));
  EXPECT_EQ(t.type(), Tins::ICMPv6::ECHO_REQUEST);
  EXPECT_EQ(t.identifier(), 0x4242);
  EXPECT_EQ(t.sequence(), 3);
  // Packet Too Big with the invoking packet; libtins inside an IPv6 packet checks the checksum too.
  const auto inv = invoking_udp();
  const auto ptb = Icmpv6Repr::packet_too_big(1400, inv);
  std::vector<std::byte> pkt(40 + ptb.buffer_len());
  Ipv6Repr ip{kSrc, kDst, 58, 64, 0, 0, std::uint16_t(ptb.buffer_len())};
  ip.emit(pkt);
  ptb.emit(MutableBytes{pkt}.subspan(40), kPh);
  Tins::IPv6 tip(reinterpret_cast<const std::uint8_t*>(pkt.data()), std::uint32_t(pkt.size()));
  const auto& ti = tip.rfind_pdu<Tins::ICMPv6>();
  EXPECT_EQ(ti.type(), Tins::ICMPv6::PACKET_TOOBIG);
  // libtins has no Packet Too Big accessor: the MTU is the 32 bits its echo fields overlay.
  EXPECT_EQ((std::uint32_t(ti.identifier()) << 16) | ti.sequence(), 1400u);
  // Recompute: serializing libtins' view of it must give our checksum (libtins computes over the pseudo-header).
  auto again = tip.serialize();
  EXPECT_TRUE(std::equal(again.begin(), again.end(), reinterpret_cast<const std::uint8_t*>(pkt.data())));
}

TEST(Icmpv6, WeParseLibtinsEchoAndParamProblem) {
  Tins::IPv6 ip("2001:db8::2", "2001:db8::1");
  Tins::ICMPv6 echo(Tins::ICMPv6::ECHO_REPLY);
  echo.identifier(77);
  echo.sequence(5);
  auto pdu = ip / echo / Tins::RawPDU("payload");
  const auto raw = pdu.serialize();
  const Bytes all{reinterpret_cast<const std::byte*>(raw.data()), raw.size()};
  auto v = Icmpv6View::parse(all.subspan(40), kPh);
  ASSERT_TRUE(v);
  const auto r = *Icmpv6Repr::parse(*v);
  EXPECT_EQ(r.type, Icmpv6Type::kEchoReply);
  EXPECT_EQ(r.ident, 77);
  EXPECT_EQ(r.seq, 5);
  EXPECT_EQ(as_chars(r.data), "payload");

  const auto inv = invoking_udp();
  Tins::ICMPv6 pp(Tins::ICMPv6::PARAM_PROBLEM);
  pp.code(1);
  pp.identifier(0);  // libtins has no pointer setter: the 32-bit pointer overlays identifier + sequence
  pp.sequence(6);
  auto pdu2 = Tins::IPv6("2001:db8::2", "2001:db8::1") / pp /
              Tins::RawPDU(reinterpret_cast<const std::uint8_t*>(inv.data()), std::uint32_t(inv.size()));
  const auto raw2 = pdu2.serialize();
  const Bytes all2{reinterpret_cast<const std::byte*>(raw2.data()), raw2.size()};
  auto v2 = Icmpv6View::parse(all2.subspan(40), kPh);
  ASSERT_TRUE(v2);
  const auto r2 = *Icmpv6Repr::parse(*v2);
  EXPECT_EQ(r2, Icmpv6Repr::parameter_problem({Ipv6ParamProblemCode::kUnrecognizedNextHeader, 6}, inv));
}

TEST(Icmpv6, ErrorsRoundTripWithTheirFields) {
  const auto inv = invoking_udp(20);
  const std::vector<Icmpv6Repr> errors{
      Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, inv),
      Icmpv6Repr::packet_too_big(1280, inv),
      Icmpv6Repr::time_exceeded(Icmpv6TimeExceeded::kReassembly, inv),
      Icmpv6Repr::parameter_problem({Ipv6ParamProblemCode::kUnrecognizedOption, 0x10002}, inv),
  };
  for (const auto& r : errors) {
    const auto wire = emitted(r);
    auto p = parse(wire);
    ASSERT_TRUE(p) << r;
    EXPECT_EQ(*p, r);
    EXPECT_TRUE(p->is_error());
  }
  EXPECT_EQ(parse(emitted(errors[3]))->pointer, 0x10002u);
}

TEST(Icmpv6, PacketTooBigBelow1280IsFlagged) {
  const auto inv = invoking_udp();
  EXPECT_TRUE(parse(emitted(Icmpv6Repr::packet_too_big(1279, inv)))->mtu_below_minimum());
  EXPECT_TRUE(parse(emitted(Icmpv6Repr::packet_too_big(0, inv)))->mtu_below_minimum());
  EXPECT_FALSE(parse(emitted(Icmpv6Repr::packet_too_big(1280, inv)))->mtu_below_minimum());
  EXPECT_FALSE(parse(emitted(Icmpv6Repr::echo_request(0, 0, {})))->mtu_below_minimum());
}

TEST(Icmpv6, ErrorQuotingLessThanAnIpv6HeaderIsRefused) {
  const auto inv = invoking_udp();
  Icmpv6Error e{};
  EXPECT_FALSE(parse(emitted(Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, Bytes{inv}.first(39))), &e));
  EXPECT_EQ(e, Icmpv6Error::kBadQuote);
  EXPECT_TRUE(parse(emitted(Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, Bytes{inv}.first(40)))));
  // An unknown error type (RFC 4443 §2.4 b) parses as an error with its quote.
  auto unknown = emitted(Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, inv));
  unknown[0] = std::byte{99};
  store_be16(unknown, 2, 0);
  store_be16(unknown, 2, icmpv6_checksum(unknown, kSrc, kDst));
  auto p = parse(unknown);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_error());
  EXPECT_EQ(std::uint8_t(p->type), 99);
}

TEST(Icmpv6, InformationalTypesOtherThanEchoAreUnsupportedHere) {
  auto b = emitted(Icmpv6Repr::echo_request(0, 0, as_bytes("12345678")));
  for (std::uint8_t t : {130, 133, 135, 143, 200}) {
    b[0] = std::byte{t};
    store_be16(b, 2, 0);
    store_be16(b, 2, icmpv6_checksum(b, kSrc, kDst));
    Icmpv6Error e{};
    EXPECT_FALSE(parse(b, &e)) << unsigned(t);
    EXPECT_EQ(e, Icmpv6Error::kUnsupportedType);
  }
}

TEST(Icmpv6, ErrorQuoteIsCappedSoTheErrorFits1280) {
  std::vector<std::byte> big(3000, std::byte{0xab});
  EXPECT_EQ(icmpv6_error_quote(big).size(), 1232u);
  EXPECT_EQ(kIpv6HeaderLen + Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, icmpv6_error_quote(big)).buffer_len(),
            1280u);
  EXPECT_EQ(icmpv6_error_quote(Bytes{big}.first(100)).size(), 100u);
}

TEST(Icmpv6, QuoteParsesTheInvokingHeaderAndSkipsExtensionHeaders) {
  auto inv = invoking_udp();
  auto q = parse_icmpv6_quote(inv);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->src, kDst);
  EXPECT_EQ(q->dst, kSrc);
  EXPECT_EQ(q->upper_layer, 17);
  EXPECT_EQ(q->frag_offset, 0);
  EXPECT_EQ(q->transport.size(), 12u);
  EXPECT_EQ(load_be16(q->transport, 0), 1000);
  // With a Destination Options header and a first Fragment header in front of the UDP header.
  std::vector<std::byte> ext(inv.begin(), inv.begin() + 40);
  ext[6] = std::byte{60};
  const auto hdrs = from_u8({44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0, 1, 0, 0, 0, 9});
  ext.insert(ext.end(), hdrs.begin(), hdrs.end());
  ext.insert(ext.end(), inv.begin() + 40, inv.end());
  q = parse_icmpv6_quote(ext);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->upper_layer, 17);
  EXPECT_EQ(load_be16(q->transport, 2), 53);
  // A non-first fragment: the offset is reported, the bytes after it are data.
  store_be16(ext, 40 + 8 + 2, std::uint16_t((10 << 3) | 1));
  q = parse_icmpv6_quote(ext);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->frag_offset, 80);
  // Cut inside an extension header, a wrong version, or under 40 bytes: refused.
  EXPECT_FALSE(parse_icmpv6_quote(Bytes{ext}.first(44)));
  EXPECT_FALSE(parse_icmpv6_quote(Bytes{inv}.first(39)));
  inv[0] = std::byte{0x40};
  EXPECT_FALSE(parse_icmpv6_quote(inv));
}

TEST(Icmpv6, MaySendErrorAbout_Rfc4443Section2_4e) {
  const auto inv = invoking_udp();
  const auto subject = icmpv6_error_subject(inv, false);
  EXPECT_EQ(subject.src, kDst);
  EXPECT_EQ(subject.dst, kSrc);
  EXPECT_FALSE(subject.icmpv6_error);
  const auto port = Icmpv6Type::kDestUnreachable;
  EXPECT_TRUE(may_send_error_about(port, 4, subject));

  // (e.1) about an ICMPv6 error; (e.2) about a Redirect; an informational message is fine.
  const auto err = emitted(Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, inv));
  auto icmp_pkt = [&](Bytes icmp) {
    Ipv6Repr ip{kDst, kSrc, 58, 64, 0, 0, std::uint16_t(icmp.size())};
    std::vector<std::byte> b(ip.buffer_len());
    ip.emit(b);
    copy_bytes(MutableBytes{b}.subspan(40), icmp);
    return b;
  };
  EXPECT_FALSE(may_send_error_about(port, 4, icmpv6_error_subject(icmp_pkt(err), false)));
  auto redirect = err;
  redirect[0] = std::byte{137};
  EXPECT_FALSE(may_send_error_about(port, 4, icmpv6_error_subject(icmp_pkt(redirect), false)));
  const auto echo = emitted(Icmpv6Repr::echo_request(1, 1, {}));
  EXPECT_TRUE(may_send_error_about(port, 4, icmpv6_error_subject(icmp_pkt(echo), false)));
  // ICMPv6 whose type byte is missing counts as an error.
  EXPECT_FALSE(may_send_error_about(port, 4, icmpv6_error_subject(icmp_pkt({}), false)));

  // (e.3) multicast destination, (e.4/5) link-layer multicast: only Packet Too Big and code 2.
  Icmpv6ErrorSubject mc = subject;
  mc.dst = *Ipv6Address::parse("ff02::1");
  for (const auto& s : {mc, icmpv6_error_subject(inv, true)}) {
    EXPECT_FALSE(may_send_error_about(port, 4, s));
    EXPECT_FALSE(may_send_error_about(Icmpv6Type::kParameterProblem, 0, s));
    EXPECT_FALSE(may_send_error_about(Icmpv6Type::kParameterProblem, 1, s));
    EXPECT_TRUE(may_send_error_about(Icmpv6Type::kParameterProblem, 2, s));
    EXPECT_TRUE(may_send_error_about(Icmpv6Type::kPacketTooBig, 0, s));
  }
  // (e.6) source unspecified or multicast (and loopback).
  for (const char* src : {"::", "ff02::1", "::1"}) {
    Icmpv6ErrorSubject s = subject;
    s.src = *Ipv6Address::parse(src);
    EXPECT_FALSE(may_send_error_about(Icmpv6Type::kPacketTooBig, 0, s)) << src;
    EXPECT_FALSE(may_send_error_about(Icmpv6Type::kParameterProblem, 2, s)) << src;
  }
  // Informational messages are not restricted by the rule; a packet under 40 bytes allows no error.
  EXPECT_TRUE(may_send_error_about(Icmpv6Type::kEchoReply, 0, mc));
  EXPECT_FALSE(may_send_error_about(port, 4, icmpv6_error_subject(Bytes{inv}.first(39), false)));
}

TEST(Icmpv6, IsErrorIsTypesBelow128) {
  EXPECT_TRUE(icmpv6_is_error(0));
  EXPECT_TRUE(icmpv6_is_error(4));
  EXPECT_TRUE(icmpv6_is_error(127));
  EXPECT_FALSE(icmpv6_is_error(128));
  EXPECT_FALSE(icmpv6_is_error(137));
}

}  // namespace
}  // namespace tapstack::ip
