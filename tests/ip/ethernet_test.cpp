// Ethernet II wire format: round trip, libtins as the oracle in both directions, and every short frame.
#include "ip/ethernet.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <sstream>
#include <vector>

namespace tapstack::ip {
namespace {

const MacAddress kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddress kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};

std::vector<std::byte> to_bytes(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}
const std::uint8_t* u8(const std::vector<std::byte>& v) { return reinterpret_cast<const std::uint8_t*>(v.data()); }

TEST(Ethernet, EmitThenParse_RoundTrips) {
  const EthernetRepr r{kMacB, kMacA, EtherType::kArp};
  std::vector<std::byte> buf(kEthernetHeaderLen + 3, std::byte{0x5a});
  r.emit(buf);
  auto v = EthernetView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(EthernetRepr::parse(*v), r);
  EXPECT_EQ(v->payload().size(), 3u);
  EXPECT_EQ(v->payload()[0], std::byte{0x5a});
  EXPECT_EQ(v->header().size(), kEthernetHeaderLen);
}

TEST(Ethernet, EmitHelper_MatchesRepr) {
  std::vector<std::byte> a(kEthernetHeaderLen), b(kEthernetHeaderLen);
  emit_ethernet_header(a, MacAddress::broadcast(), kMacA, EtherType::kIpv6);
  EthernetRepr{MacAddress::broadcast(), kMacA, EtherType::kIpv6}.emit(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::uint8_t(a[12]), 0x86);
  EXPECT_EQ(std::uint8_t(a[13]), 0xdd);
}

TEST(Ethernet, EveryTruncation_IsRefused) {
  std::vector<std::byte> buf(kEthernetHeaderLen);
  EthernetRepr{kMacB, kMacA, EtherType::kIpv4}.emit(buf);
  for (std::size_t n = 0; n < kEthernetHeaderLen; ++n)
    EXPECT_FALSE(EthernetView::parse(std::span{buf}.first(n))) << "length " << n;
  auto v = EthernetView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->payload().empty());
}

TEST(Ethernet, LibtinsParsesWhatWeEmit) {
  std::vector<std::byte> buf(kEthernetHeaderLen + 4, std::byte{0x11});
  EthernetRepr{kMacB, kMacA, EtherType{0x88b5}}.emit(buf);  // IEEE local experimental: libtins keeps it raw
  Tins::EthernetII e(u8(buf), std::uint32_t(buf.size()));
  EXPECT_EQ(e.dst_addr().to_string(), kMacB.to_string());
  EXPECT_EQ(e.src_addr().to_string(), kMacA.to_string());
  EXPECT_EQ(e.payload_type(), 0x88b5);
  ASSERT_NE(e.find_pdu<Tins::RawPDU>(), nullptr);
  EXPECT_EQ(e.find_pdu<Tins::RawPDU>()->payload_size(), 4u);
}

TEST(Ethernet, WeParseWhatLibtinsSerializes) {
  Tins::EthernetII e(kMacB.to_string(), kMacA.to_string());
  e.payload_type(0x0806);
  e /= Tins::RawPDU("payload");
  const auto wire = e.serialize();
  const auto buf = to_bytes(wire);
  auto v = EthernetView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(EthernetRepr::parse(*v), (EthernetRepr{kMacB, kMacA, EtherType::kArp}));
  ASSERT_GE(v->payload().size(), 7u);  // libtins may pad to the 60-byte minimum
  EXPECT_EQ(as_chars(Bytes{v->payload()}.first(7)), "payload");
}

TEST(Ethernet, VlanTagAndLengthField_SurviveParseForTheCallerToDrop) {
  auto buf = to_bytes({2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00});
  auto v = EthernetView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->ethertype(), EtherType::kVlan);
  buf[12] = std::byte{0x00};
  buf[13] = std::byte{0x2e};  // an 802.3 length field
  v = EthernetView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(std::uint16_t(v->ethertype()), 0x002e);
  std::ostringstream os;
  os << EthernetRepr::parse(*v);
  EXPECT_EQ(os.str(), "EthernetRepr{dst=02:00:00:00:00:02 src=02:00:00:00:00:01 type=0x2e}");
}

TEST(Ethernet, MutableView_WritesThrough) {
  std::vector<std::byte> buf(kEthernetHeaderLen + 2);
  auto v = MutableEthernetView::parse(buf);
  ASSERT_TRUE(v);
  v->payload()[0] = std::byte{0x42};
  EXPECT_EQ(buf[kEthernetHeaderLen], std::byte{0x42});
}

}  // namespace
}  // namespace tapstack::ip
