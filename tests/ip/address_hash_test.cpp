// std::hash<ip::IpAddress> (ip/address.cpp), the key of every TCP/UDP demultiplexer map: equal addresses hash
// equal, the family is part of the hash, and every single-bit change of an address changes it.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "ip/address.hpp"

namespace tapstack::ip {
namespace {

std::size_t h(const IpAddress& a) { return std::hash<IpAddress>{}(a); }

TEST(AddressHash, EqualAddressesHashEqual) {
  EXPECT_EQ(h(*IpAddress::parse("2001:db8::1")), h(IpAddress{*Ipv6Address::parse("2001:db8:0:0::1")}));
  EXPECT_EQ(h(*IpAddress::parse("192.0.2.1")), h(IpAddress{Ipv4Address{{192, 0, 2, 1}}}));
}

TEST(AddressHash, FamilyIsPartOfTheHash) {
  // The same 16 bytes in storage (IPv4 keeps bytes 4..15 zero): the two unspecified addresses differ only by
  // family.
  EXPECT_NE(h(*IpAddress::parse("0.0.0.0")), h(*IpAddress::parse("::")));
}

TEST(AddressHash, EverySingleBitFlipGivesADistinctHash) {
  const Ipv6Address base = *Ipv6Address::parse("2001:db8::2");
  std::set<std::size_t> seen{h(IpAddress{base})};
  std::set<std::size_t> low_bits{h(IpAddress{base}) & 0xffff};
  for (unsigned i = 32; i < 128; ++i) {  // the bits after 2001:db8::/32
    Ipv6Address a = base;
    a.octets[i / 8] = std::uint8_t(a.octets[i / 8] ^ (0x80u >> (i % 8)));
    seen.insert(h(IpAddress{a}));
    low_bits.insert(h(IpAddress{a}) & 0xffff);  // unordered_map buckets use the low bits
  }
  EXPECT_EQ(seen.size(), 97u);
  EXPECT_EQ(low_bits.size(), 97u);
  std::set<std::size_t> v4{h(IpAddress{Ipv4Address{{192, 0, 2, 2}}}) & 0xffff};
  for (unsigned i = 24; i < 32; ++i) {  // the host bits of 192.0.2.0/24
    Ipv4Address a{{192, 0, 2, 2}};
    a.octets[i / 8] = std::uint8_t(a.octets[i / 8] ^ (0x80u >> (i % 8)));
    v4.insert(h(IpAddress{a}) & 0xffff);
  }
  EXPECT_EQ(v4.size(), 9u);
}

}  // namespace
}  // namespace tapstack::ip
