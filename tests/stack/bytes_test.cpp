// Tests for stack/bytes: big-endian loads and stores and the span helpers.
#include "stack/bytes.hpp"

#include <gtest/gtest.h>

#include <array>

namespace tapstack {
namespace {

TEST(Bytes, BigEndianRoundTrip) {
  std::array<std::byte, 16> b{};
  store_u8(b, 0, 0xab);
  store_be16(b, 1, 0x1234);
  store_be32(b, 3, 0xdeadbeef);
  store_be64(b, 7, 0x0102030405060708ull);
  EXPECT_EQ(load_u8(b, 0), 0xab);
  EXPECT_EQ(load_be16(b, 1), 0x1234);
  EXPECT_EQ(load_be32(b, 3), 0xdeadbeefu);
  EXPECT_EQ(load_be64(b, 7), 0x0102030405060708ull);
  // Wire order: most significant byte first.
  EXPECT_EQ(b[1], std::byte{0x12});
  EXPECT_EQ(b[2], std::byte{0x34});
  EXPECT_EQ(b[3], std::byte{0xde});
  EXPECT_EQ(b[6], std::byte{0xef});
  EXPECT_EQ(b[7], std::byte{0x01});
  EXPECT_EQ(b[14], std::byte{0x08});
  EXPECT_EQ(b[15], std::byte{0x00});
}

TEST(Bytes, AsBytesAndCopy) {
  const Bytes hello = as_bytes("hello");
  EXPECT_EQ(hello.size(), 5u);
  EXPECT_EQ(as_chars(hello), "hello");
  std::array<std::byte, 3> small{};
  EXPECT_EQ(copy_bytes(small, hello), 3u);
  EXPECT_EQ(as_chars(small), "hel");
  std::array<std::byte, 8> big{};
  EXPECT_EQ(copy_bytes(big, hello), 5u);
  EXPECT_EQ(copy_bytes(big, {}), 0u);
  EXPECT_EQ(copy_bytes({}, hello), 0u);
}

}  // namespace
}  // namespace tapstack
