// ARP wire format (RFC 826): round trip, libtins in both directions, and the refusals of CONFORMANCE §2/§3.
#include "ip/arp.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <vector>

#include "ip/ethernet.hpp"

namespace tapstack::ip {
namespace {

const MacAddress kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
const MacAddress kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
const Ipv4Address kIpA{{192, 0, 2, 1}};
const Ipv4Address kIpB{{192, 0, 2, 2}};

std::vector<std::byte> to_bytes(const std::vector<std::uint8_t>& v) {
  std::vector<std::byte> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::byte(v[i]);
  return out;
}
const std::uint8_t* u8(const std::vector<std::byte>& v) { return reinterpret_cast<const std::uint8_t*>(v.data()); }

std::vector<std::byte> emitted(const ArpRepr& r) {
  std::vector<std::byte> buf(kArpPacketLen);
  r.emit(buf);
  return buf;
}

std::optional<ArpError> error_of(const std::vector<std::byte>& buf) {
  ArpError e{};
  if (ArpView::parse(buf, &e)) return std::nullopt;
  return e;
}

TEST(Arp, RequestAndReply_RoundTrip) {
  const auto req = ArpRepr::request(kMacA, kIpA, kIpB);
  auto buf = emitted(req);
  auto v = ArpView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(ArpRepr::parse(*v), req);
  EXPECT_EQ(v->op(), ArpOp::kRequest);
  EXPECT_TRUE(v->target_mac().is_unspecified());

  const auto rep = ArpRepr::reply_to(req, kMacB);
  EXPECT_EQ(rep, (ArpRepr{ArpOp::kReply, kMacB, kIpB, kMacA, kIpA}));
  buf = emitted(rep);
  v = ArpView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ(ArpRepr::parse(*v), rep);
}

TEST(Arp, LibtinsParsesWhatWeEmit) {
  const ArpRepr r{ArpOp::kReply, kMacB, kIpB, kMacA, kIpA};
  const auto buf = emitted(r);
  Tins::ARP a(u8(buf), std::uint32_t(buf.size()));
  EXPECT_EQ(a.opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(a.hw_addr_format(), 1);
  EXPECT_EQ(a.prot_addr_format(), 0x0800);
  EXPECT_EQ(a.hw_addr_length(), 6);
  EXPECT_EQ(a.prot_addr_length(), 4);
  EXPECT_EQ(a.sender_hw_addr().to_string(), kMacB.to_string());
  EXPECT_EQ(a.sender_ip_addr().to_string(), kIpB.to_string());
  EXPECT_EQ(a.target_hw_addr().to_string(), kMacA.to_string());
  EXPECT_EQ(a.target_ip_addr().to_string(), kIpA.to_string());
}

TEST(Arp, WeParseWhatLibtinsSerializes_InAPaddedFrame) {
  auto frame = Tins::ARP::make_arp_request(kIpB.to_string(), kIpA.to_string(), kMacA.to_string());
  const auto wire = frame.serialize();
  std::vector<std::byte> buf(wire.size());
  for (std::size_t i = 0; i < wire.size(); ++i) buf[i] = std::byte(wire[i]);
  buf.resize(kEthernetMinFrameLen);  // as a NIC delivers it: zero padding after the 28 bytes
  auto eth = EthernetView::parse(buf);
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ethertype(), EtherType::kArp);
  EXPECT_TRUE(eth->dst().is_broadcast());
  auto v = ArpView::parse(eth->payload());
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), kArpPacketLen);
  EXPECT_EQ(ArpRepr::parse(*v), ArpRepr::request(kMacA, kIpA, kIpB));

  Tins::ARP reply(kIpA.to_string(), kIpB.to_string(), kMacA.to_string(), kMacB.to_string());
  reply.opcode(Tins::ARP::REPLY);
  const auto rw = reply.serialize();
  const std::vector<std::uint8_t> rv(rw.begin(), rw.end());
  const auto rb = to_bytes(rv);
  v = ArpView::parse(rb);
  ASSERT_TRUE(v);
  EXPECT_EQ(ArpRepr::parse(*v), (ArpRepr{ArpOp::kReply, kMacB, kIpB, kMacA, kIpA}));
}

TEST(Arp, EveryTruncation_IsRefusedAsTruncated) {
  const auto full = emitted(ArpRepr::request(kMacA, kIpA, kIpB));
  for (std::size_t n = 0; n < kArpPacketLen; ++n) {
    const std::vector<std::byte> cut(full.begin(), full.begin() + std::ptrdiff_t(n));
    EXPECT_EQ(error_of(cut), ArpError::kTruncated) << "length " << n;
  }
}

TEST(Arp, OnlyEthernetIpv4IsAccepted) {
  const auto good = emitted(ArpRepr::request(kMacA, kIpA, kIpB));
  auto b = good;
  b[1] = std::byte{6};  // htype 6 (IEEE 802)
  EXPECT_EQ(error_of(b), ArpError::kBadHardware);
  b = good;
  b[4] = std::byte{255};  // hlen 255 in a 28-byte buffer: refused before any address is read
  EXPECT_EQ(error_of(b), ArpError::kBadHardware);
  b = good;
  b[4] = std::byte{255};
  b.resize(8);  // and in an 8-byte buffer
  EXPECT_EQ(error_of(b), ArpError::kBadHardware);
  b = good;
  b[5] = std::byte{255};  // plen 255
  EXPECT_EQ(error_of(b), ArpError::kBadProtocol);
  b = good;
  b[2] = std::byte{0x86};
  b[3] = std::byte{0xdd};  // ptype IPv6
  EXPECT_EQ(error_of(b), ArpError::kBadProtocol);
  b = good;
  b[5] = std::byte{16};
  EXPECT_EQ(error_of(b), ArpError::kBadProtocol);
  for (std::uint8_t op : {0, 3, 4, 8, 9}) {  // RARP (3, 4) and InARP (8, 9) included
    b = good;
    b[7] = std::byte{op};
    EXPECT_EQ(error_of(b), ArpError::kBadOp) << "op " << int(op);
  }
  b = good;
  b[6] = std::byte{1};  // op 0x0101
  EXPECT_EQ(error_of(b), ArpError::kBadOp);
}

TEST(Arp, ErrorNames) {
  EXPECT_EQ(to_string(ArpError::kTruncated), "truncated");
  EXPECT_EQ(to_string(ArpError::kBadHardware), "bad_hardware");
  EXPECT_EQ(to_string(ArpError::kBadProtocol), "bad_protocol");
  EXPECT_EQ(to_string(ArpError::kBadOp), "bad_op");
}

}  // namespace
}  // namespace tapstack::ip
