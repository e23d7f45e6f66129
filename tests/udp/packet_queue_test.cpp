// udp/packet_queue: FIFO order, both bounds, wrap-around with padding, zero-length datagrams.
#include "udp/packet_queue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tapstack::udp {
namespace {

const DatagramMeta kMeta{ip::Endpoint{ip::Ipv4Address{{198, 51, 100, 7}}, 4000},
                         ip::Endpoint{ip::Ipv4Address{{192, 0, 2, 1}}, 5000}};

std::string front_str(const PacketQueue& q) { return std::string(as_chars(q.front()->payload)); }

TEST(PacketQueue, FifoOrder) {
  PacketQueue q(4, 100);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.front());
  EXPECT_TRUE(q.push(as_bytes("one"), kMeta));
  EXPECT_TRUE(q.push(as_bytes("two"), kMeta));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(front_str(q), "one");
  EXPECT_EQ(q.front()->meta.remote, kMeta.remote);
  q.pop();
  EXPECT_EQ(front_str(q), "two");
  q.pop();
  EXPECT_TRUE(q.empty());
  q.pop();  // harmless when empty
  EXPECT_TRUE(q.empty());
}

TEST(PacketQueue, BoundedByCount) {
  PacketQueue q(2, 100);
  EXPECT_TRUE(q.push(as_bytes("a"), kMeta));
  EXPECT_TRUE(q.push(as_bytes("b"), kMeta));
  EXPECT_FALSE(q.push(as_bytes("c"), kMeta));
  EXPECT_FALSE(q.push({}, kMeta));
  q.pop();
  EXPECT_TRUE(q.push(as_bytes("c"), kMeta));
}

TEST(PacketQueue, BoundedByBytes) {
  PacketQueue q(10, 10);
  EXPECT_TRUE(q.push(as_bytes("12345"), kMeta));
  EXPECT_TRUE(q.push(as_bytes("1234"), kMeta));
  EXPECT_FALSE(q.push(as_bytes("12"), kMeta));
  EXPECT_TRUE(q.push(as_bytes("1"), kMeta));
  EXPECT_FALSE(q.push(as_bytes("1"), kMeta));
  EXPECT_FALSE(PacketQueue(10, 10).push(as_bytes("12345678901"), kMeta));  // never fits
}

TEST(PacketQueue, WrapsWithPaddingAndKeepsContentsIntact) {
  PacketQueue q(8, 10);
  ASSERT_TRUE(q.push(as_bytes("AAAA"), kMeta));  // [0,4)
  ASSERT_TRUE(q.push(as_bytes("BBBB"), kMeta));  // [4,8)
  q.pop();                                       // frees [0,4)
  ASSERT_TRUE(q.push(as_bytes("CCCC"), kMeta));  // does not fit [8,10): padding 2, placed at [0,4)
  EXPECT_EQ(q.bytes_used(), 10u);
  EXPECT_FALSE(q.push(as_bytes("D"), kMeta));
  EXPECT_EQ(front_str(q), "BBBB");
  q.pop();
  EXPECT_EQ(front_str(q), "CCCC");
  EXPECT_TRUE(q.push(as_bytes("DDDD"), kMeta));  // [4,8)
  EXPECT_FALSE(q.push(as_bytes("EEE"), kMeta));  // [8,10) too small, [0..0) none
  q.pop();
  EXPECT_EQ(front_str(q), "DDDD");
  q.pop();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes_used(), 0u);
  EXPECT_TRUE(q.push(as_bytes("0123456789"), kMeta));  // an empty ring starts over at 0
}

TEST(PacketQueue, ManyCyclesNeverCorrupt) {
  PacketQueue q(5, 37);
  std::size_t produced = 0, consumed = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t n = std::size_t(round * 7 % 13);
    std::string s(n, char('a' + produced % 26));
    if (q.push(as_bytes(s), kMeta)) ++produced;
    if (round % 3 != 0 && !q.empty()) {
      const auto f = q.front();
      for (auto b : f->payload) ASSERT_EQ(char(b), char('a' + consumed % 26));
      q.pop();
      ++consumed;
    }
    ASSERT_LE(q.bytes_used(), q.max_bytes());
    ASSERT_LE(q.size(), q.max_datagrams());
  }
  EXPECT_GT(consumed, 100u);
}

TEST(PacketQueue, ZeroLengthDatagramsAndZeroCapacity) {
  PacketQueue q(2, 0);
  EXPECT_TRUE(q.push({}, kMeta));
  EXPECT_FALSE(q.push(as_bytes("x"), kMeta));
  EXPECT_TRUE(q.front()->payload.empty());
  PacketQueue none(0, 0);
  EXPECT_FALSE(none.push({}, kMeta));
}

}  // namespace
}  // namespace tapstack::udp
