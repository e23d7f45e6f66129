// IPv4 header wire format (RFC 791): round trip, libtins in both directions, the length/checksum/option
// refusals of CONFORMANCE §2-3, and the helpers the fragmenter and reassembler use.
#include "ip/ipv4.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <vector>

#include "ip/ethernet.hpp"

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

Ipv4Repr sample_repr(std::uint16_t payload_len = 5) {
  Ipv4Repr r;
  r.src = kSrc;
  r.dst = kDst;
  r.protocol = std::uint8_t(IpProtocol::kUdp);
  r.ttl = 17;
  r.tos = 0xb8;
  r.ident = 0xbeef;
  r.dont_fragment = true;
  r.payload_len = payload_len;
  return r;
}

// Header + payload bytes 0, 1, 2, ...
std::vector<std::byte> emitted(const Ipv4Repr& r) {
  std::vector<std::byte> buf(r.buffer_len());
  r.emit(buf);
  for (std::size_t i = kIpv4MinHeaderLen; i < buf.size(); ++i) buf[i] = std::byte(i - kIpv4MinHeaderLen);
  return buf;
}

void fix_checksum(std::vector<std::byte>& b) {
  const std::size_t hlen = std::size_t(std::uint8_t(b[0]) & 0x0f) * 4;
  store_be16(b, ipv4_field::kChecksum, 0);
  store_be16(b, ipv4_field::kChecksum, internet_checksum(Bytes{b}.first(std::min(hlen, b.size()))));
}

// A packet whose header carries `options` (a multiple of 4 bytes) and 4 payload bytes, checksum fixed.
std::vector<std::byte> with_options(const std::vector<std::uint8_t>& options) {
  auto b = emitted(sample_repr(4));
  const auto opts = to_bytes(options);
  b.insert(b.begin() + kIpv4MinHeaderLen, opts.begin(), opts.end());
  b[0] = std::byte(0x40 | ((kIpv4MinHeaderLen + opts.size()) / 4));
  store_be16(b, ipv4_field::kTotalLen, std::uint16_t(b.size()));
  fix_checksum(b);
  return b;
}

std::optional<Ipv4Error> error_of(const std::vector<std::byte>& b, ChecksumCheck c = ChecksumCheck::kVerify) {
  Ipv4Error e{};
  if (Ipv4View::parse(b, &e, c)) return std::nullopt;
  return e;
}

TEST(Ipv4, EmitThenParse_RoundTrips) {
  for (std::uint16_t len : {0, 1, 5, 1480}) {
    const auto r = sample_repr(len);
    const auto buf = emitted(r);
    auto v = Ipv4View::parse(buf);
    ASSERT_TRUE(v) << r;
    EXPECT_EQ(Ipv4Repr::parse(*v), r);
    EXPECT_EQ(v->payload().size(), len);
    EXPECT_EQ(v->total_len(), buf.size());
    EXPECT_EQ(internet_checksum(Bytes{v->header()}), 0);
    if (len > 1) {
      EXPECT_EQ(v->payload()[1], std::byte{1});
    }
  }
}

TEST(Ipv4, Fragments_RoundTripAndReportOffsetsInBytes) {
  auto r = sample_repr(8);
  r.dont_fragment = false;
  r.more_fragments = true;
  r.frag_offset = 1480;
  auto buf = emitted(r);
  auto v = Ipv4View::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_fragment());
  EXPECT_TRUE(v->more_fragments());
  EXPECT_EQ(v->frag_offset(), 1480);
  EXPECT_EQ(v->fragment_end(), 1488u);
  EXPECT_EQ(Ipv4Repr::parse(*v), r);
  EXPECT_TRUE(Ipv4Repr::parse(*v).is_fragment());

  r.more_fragments = false;  // the last fragment is still a fragment
  buf = emitted(r);
  v = Ipv4View::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_fragment());
  EXPECT_FALSE(v->more_fragments());

  r.frag_offset = 65528;  // the largest offset the field holds
  buf = emitted(r);
  v = Ipv4View::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->frag_offset(), 65528);
  EXPECT_GT(v->fragment_end(), 65535u);  // the reassembler drops this one
}

TEST(Ipv4, FragmentHelper_AdjustsOffsetLengthAndMf) {
  auto whole = sample_repr(3000);
  whole.dont_fragment = false;
  const auto f0 = whole.fragment(0, 1480, true);
  EXPECT_EQ(f0.frag_offset, 0);
  EXPECT_EQ(f0.payload_len, 1480);
  EXPECT_TRUE(f0.more_fragments);
  EXPECT_EQ(f0.ident, whole.ident);
  const auto f2 = whole.fragment(2960, 40, false);
  EXPECT_EQ(f2.frag_offset, 2960);
  EXPECT_FALSE(f2.more_fragments);
  // Refragmenting a middle fragment keeps MF on its last piece (RFC 791 §3.2).
  auto middle = whole.fragment(1480, 1480, true);
  const auto last_piece = middle.fragment(800, 680, false);
  EXPECT_EQ(last_piece.frag_offset, 2280);
  EXPECT_TRUE(last_piece.more_fragments);

  std::vector<std::byte> buf(f2.buffer_len());
  f2.emit(buf);
  Tins::IP ip(u8(buf), std::uint32_t(buf.size()));
  EXPECT_EQ(ip.fragment_offset() * 8u, 2960u);
  EXPECT_EQ(ip.flags(), 0);
  EXPECT_EQ(ip.id(), whole.ident);

  EXPECT_EQ(Ipv4Repr::max_fragment_payload(1500), 1480);
  EXPECT_EQ(Ipv4Repr::max_fragment_payload(1006), 984);
  EXPECT_EQ(Ipv4Repr::max_fragment_payload(576), 552);
  EXPECT_EQ(Ipv4Repr::max_fragment_payload(28), 8);
  EXPECT_EQ(Ipv4Repr::max_fragment_payload(27), 0);
  EXPECT_EQ(Ipv4Repr::max_fragment_payload(100000), 65512);
}

TEST(Ipv4, PseudoHeader_CarriesAddressesProtocolAndLength) {
  const auto ph = sample_repr(12).pseudo_header();
  EXPECT_EQ(ph.src, IpAddress{kSrc});
  EXPECT_EQ(ph.dst, IpAddress{kDst});
  EXPECT_EQ(ph.protocol, 17);
  EXPECT_EQ(ph.length, 12u);
}

TEST(Ipv4, LibtinsParsesWhatWeEmit) {
  auto r = sample_repr(6);
  r.more_fragments = true;
  r.dont_fragment = false;
  r.frag_offset = 64;
  const auto buf = emitted(r);
  Tins::IP ip(u8(buf), std::uint32_t(buf.size()));
  EXPECT_EQ(ip.src_addr().to_string(), kSrc.to_string());
  EXPECT_EQ(ip.dst_addr().to_string(), kDst.to_string());
  EXPECT_EQ(ip.protocol(), 17);
  EXPECT_EQ(ip.ttl(), 17);
  EXPECT_EQ(ip.tos(), 0xb8);
  EXPECT_EQ(ip.id(), 0xbeef);
  EXPECT_EQ(ip.flags(), Tins::IP::MORE_FRAGMENTS);
  EXPECT_EQ(ip.fragment_offset() * 8u, 64u);
  EXPECT_EQ(ip.head_len(), 5);
  EXPECT_EQ(ip.tot_len(), 26);
  // libtins recomputes the checksum when it serializes: it must agree with ours.
  const std::uint16_t ours = load_be16(buf, ipv4_field::kChecksum);
  EXPECT_EQ(ip.checksum(), ours);
  Tins::IP copy = ip;
  const auto re = copy.serialize();
  ASSERT_GE(re.size(), 12u);
  EXPECT_EQ(std::uint16_t((re[10] << 8) | re[11]), ours);
}

TEST(Ipv4, LibtinsParsesWhatWeEmit_InAFrame) {
  const auto r = sample_repr(8);
  std::vector<std::byte> frame(kEthernetHeaderLen + r.buffer_len());
  emit_ethernet_header(frame, MacAddress{{2, 0, 0, 0, 0, 2}}, MacAddress{{2, 0, 0, 0, 0, 1}}, EtherType::kIpv4);
  r.emit(std::span{frame}.subspan(kEthernetHeaderLen));
  Tins::EthernetII e(u8(frame), std::uint32_t(frame.size()));
  const auto* ip = e.find_pdu<Tins::IP>();
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->dst_addr().to_string(), kDst.to_string());
  EXPECT_EQ(ip->flags(), Tins::IP::DONT_FRAGMENT);
}

TEST(Ipv4, WeParseWhatLibtinsSerializes) {
  Tins::IP ip(kDst.to_string(), kSrc.to_string());
  ip.ttl(3);
  ip.tos(0x10);
  ip.id(4242);
  ip.flags(Tins::IP::DONT_FRAGMENT);
  ip /= Tins::UDP(53, 40000) / Tins::RawPDU("hello");
  const auto wire = ip.serialize();
  const std::vector<std::uint8_t> w(wire.begin(), wire.end());
  const auto buf = to_bytes(w);
  auto v = Ipv4View::parse(buf);
  ASSERT_TRUE(v);
  Ipv4Repr want;
  want.src = kSrc;
  want.dst = kDst;
  want.protocol = 17;
  want.ttl = 3;
  want.tos = 0x10;
  want.ident = 4242;
  want.dont_fragment = true;
  want.payload_len = 8 + 5;
  EXPECT_EQ(Ipv4Repr::parse(*v), want);
  EXPECT_EQ(as_chars(Bytes{v->payload()}.subspan(8)), "hello");
}

TEST(Ipv4, WeParseLibtinsOptions_AndRefuseItsSourceRoutes) {
  Tins::IP ip(kDst.to_string(), kSrc.to_string());
  ip.record_route(Tins::IP::record_route_type(4, {Tins::IPv4Address("192.0.2.9")}));
  ip /= Tins::RawPDU("x");
  auto wire = ip.serialize();
  auto buf = to_bytes(std::vector<std::uint8_t>(wire.begin(), wire.end()));
  auto v = Ipv4View::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header_len(), std::size_t(Tins::IP(wire.data(), std::uint32_t(wire.size())).head_len()) * 4);
  EXPECT_GT(v->header_len(), kIpv4MinHeaderLen);
  EXPECT_EQ(Ipv4Repr::parse(*v).header_len, v->header_len());
  EXPECT_EQ(v->payload().size(), 1u);  // (libtins 4.0 writes a 0 over the payload byte after padded options)

  for (bool strict : {false, true}) {
    Tins::IP sr(kDst.to_string(), kSrc.to_string());
    const Tins::IP::lsrr_type route(4, {Tins::IPv4Address("198.51.100.1")});
    if (strict) {
      sr.ssrr(route);
    } else {
      sr.lsrr(route);
    }
    sr /= Tins::RawPDU("x");  // (libtins 4.0 fails to serialize options with no payload)
    wire = sr.serialize();
    buf = to_bytes(std::vector<std::uint8_t>(wire.begin(), wire.end()));
    EXPECT_EQ(error_of(buf), Ipv4Error::kSourceRoute) << (strict ? "SSRR" : "LSRR");
  }
}

TEST(Ipv4, EthernetPadding_IsTrimmedByTotalLength) {
  const auto pkt = emitted(sample_repr(6));  // 26 bytes
  std::vector<std::byte> frame(kEthernetMinFrameLen, std::byte{0xee});
  emit_ethernet_header(frame, MacAddress::broadcast(), MacAddress{{2, 0, 0, 0, 0, 1}}, EtherType::kIpv4);
  std::copy(pkt.begin(), pkt.end(), frame.begin() + kEthernetHeaderLen);
  auto eth = EthernetView::parse(frame);
  ASSERT_TRUE(eth);
  auto v = Ipv4View::parse(eth->payload());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), 26u);
  EXPECT_EQ(v->payload().size(), 6u);
  EXPECT_EQ(Ipv4Repr::parse(*v).payload_len, 6);
}

TEST(Ipv4, EveryTruncation_IsRefused) {
  const auto full = emitted(sample_repr(12));
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::vector<std::byte> cut(full.begin(), full.begin() + std::ptrdiff_t(n));
    EXPECT_EQ(error_of(cut), n < kIpv4MinHeaderLen ? Ipv4Error::kTruncated : Ipv4Error::kBadTotalLen)
        << "length " << n;
  }
  const auto opts = with_options({1, 1, 1, 0});
  for (std::size_t n = 0; n < opts.size(); ++n) {
    const std::vector<std::byte> cut(opts.begin(), opts.begin() + std::ptrdiff_t(n));
    EXPECT_TRUE(error_of(cut)) << "length " << n;
  }
}

TEST(Ipv4, BadVersionAndHeaderLength_AreRefused) {
  auto b = emitted(sample_repr());
  b[0] = std::byte{0x65};
  EXPECT_EQ(error_of(b), Ipv4Error::kBadVersion);
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    b = emitted(sample_repr());
    b[0] = std::byte(0x40 | ihl);
    fix_checksum(b);
    EXPECT_EQ(error_of(b), Ipv4Error::kBadHeaderLen) << "IHL " << int(ihl);
  }
  // IHL*4 > total length (IHL 15 = 60 bytes, total 25) in a buffer that has 60 bytes.
  b = emitted(sample_repr());
  b.resize(60);
  b[0] = std::byte{0x4f};
  EXPECT_EQ(error_of(b, ChecksumCheck::kSkip), Ipv4Error::kBadHeaderLen);
  // total length below 20 with IHL 5.
  b = emitted(sample_repr());
  store_be16(b, ipv4_field::kTotalLen, 19);
  fix_checksum(b);
  EXPECT_EQ(error_of(b), Ipv4Error::kBadHeaderLen);
  store_be16(b, ipv4_field::kTotalLen, 0);
  fix_checksum(b);
  EXPECT_EQ(error_of(b), Ipv4Error::kBadHeaderLen);
}

TEST(Ipv4, TotalLengthBeyondTheBuffer_IsRefused) {
  auto b = emitted(sample_repr(5));
  store_be16(b, ipv4_field::kTotalLen, std::uint16_t(b.size() + 1));
  fix_checksum(b);
  EXPECT_EQ(error_of(b), Ipv4Error::kBadTotalLen);
  store_be16(b, ipv4_field::kTotalLen, 0xffff);
  fix_checksum(b);
  EXPECT_EQ(error_of(b), Ipv4Error::kBadTotalLen);
}

TEST(Ipv4, BadHeaderChecksum_IsRefusedUnlessSkipped) {
  auto b = emitted(sample_repr());
  b[ipv4_field::kChecksum] ^= std::byte{0x01};
  EXPECT_EQ(error_of(b), Ipv4Error::kBadChecksum);
  EXPECT_EQ(error_of(b, ChecksumCheck::kSkip), std::nullopt);
  b = emitted(sample_repr());
  b[ipv4_field::kTtl] = std::byte{1};  // a field changed without updating the checksum
  EXPECT_EQ(error_of(b), Ipv4Error::kBadChecksum);
  b = emitted(sample_repr(4));
  b.back() ^= std::byte{0xff};  // the header checksum does not cover the payload
  EXPECT_EQ(error_of(b), std::nullopt);
}

TEST(Ipv4, WellFormedOptions_AreWalked) {
  EXPECT_EQ(error_of(with_options({1, 1, 1, 1})), std::nullopt);            // NOPs
  EXPECT_EQ(error_of(with_options({0, 0xff, 0xff, 0xff})), std::nullopt);   // EOL, then padding of any value
  EXPECT_EQ(error_of(with_options({7, 7, 4, 0, 0, 0, 0, 0})), std::nullopt); // record route, 7 bytes + EOL
  EXPECT_EQ(error_of(with_options({0x9e, 4, 0xaa, 0xbb})), std::nullopt);   // unknown, skipped by length
  EXPECT_EQ(error_of(with_options({1, 0x94, 4, 0, 0, 0, 0, 0})), std::nullopt);  // router alert
  std::vector<std::uint8_t> forty(40, 1);
  forty[0] = 0x9e;
  forty[1] = 40;  // one option filling the whole 40-byte option space
  const auto b = with_options(forty);
  auto v = Ipv4View::parse(b);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header_len(), kIpv4MaxHeaderLen);
  EXPECT_EQ(v->options().size(), 40u);
  EXPECT_EQ(v->payload().size(), 4u);
}

TEST(Ipv4, MalformedOptions_AreRefused) {
  EXPECT_EQ(error_of(with_options({0x9e, 0, 0, 0})), Ipv4Error::kBadOptions);  // length 0: would not advance
  EXPECT_EQ(error_of(with_options({0x9e, 1, 0, 0})), Ipv4Error::kBadOptions);  // length 1: covers no length byte
  EXPECT_EQ(error_of(with_options({0x9e, 5, 0, 0})), Ipv4Error::kBadOptions);  // past the header
  EXPECT_EQ(error_of(with_options({1, 1, 7, 3})), Ipv4Error::kBadOptions);     // past the header, after NOPs
  EXPECT_EQ(error_of(with_options({1, 1, 1, 7})), Ipv4Error::kBadOptions);     // no room for the length byte
  EXPECT_EQ(error_of(with_options({0x44, 255, 0, 0})), Ipv4Error::kBadOptions);
  EXPECT_EQ(ipv4_options_error(Bytes{}), std::nullopt);
}

TEST(Ipv4, SourceRouteOptions_AreNeverHonoured) {
  EXPECT_EQ(error_of(with_options({0x83, 7, 4, 192, 0, 2, 9, 0})), Ipv4Error::kSourceRoute);  // LSRR
  EXPECT_EQ(error_of(with_options({0x89, 7, 4, 192, 0, 2, 9, 0})), Ipv4Error::kSourceRoute);  // SSRR
  EXPECT_EQ(error_of(with_options({1, 0x03, 3, 4})), Ipv4Error::kSourceRoute);  // without the copied flag
  // A malformed source route is still malformed (length checked first).
  EXPECT_EQ(error_of(with_options({1, 1, 0x83, 7})), Ipv4Error::kBadOptions);
}

TEST(Ipv4, ErrorNamesAndPrinting) {
  EXPECT_EQ(to_string(Ipv4Error::kBadTotalLen), "bad_total_len");
  EXPECT_EQ(to_string(Ipv4Error::kSourceRoute), "source_route");
  std::ostringstream os;
  os << sample_repr(3);
  EXPECT_EQ(os.str(), "Ipv4Repr{192.0.2.1 -> 198.51.100.7 proto=17 ttl=17 tos=184 id=48879 DF off=0 payload=3 hlen=20}");
}

TEST(Ipv4, MutableView_Parses) {
  auto b = emitted(sample_repr(2));
  auto v = MutableIpv4View::parse(b);
  ASSERT_TRUE(v);
  v->payload()[0] = std::byte{0x77};
  EXPECT_EQ(b[kIpv4MinHeaderLen], std::byte{0x77});
}

}  // namespace
}  // namespace tapstack::ip
