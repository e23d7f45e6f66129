// Tests for stack/memory_link: the in-memory cable between two Link ends.
#include "stack/memory_link.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace tapstack {
namespace {

const Instant kNow = Instant::from_millis(1);

std::string receive_string(Link& l, std::size_t buf_size = kMaxFrameSize) {
  std::vector<std::byte> buf(buf_size);
  const auto n = l.receive(kNow, buf);
  if (!n) return "<none>";
  return std::string(as_chars(Bytes{buf}.first(*n)));
}

TEST(MemoryLink, DeliversInOrderInBothDirections) {
  auto [a, b] = MemoryLink::pair();
  EXPECT_EQ(a->mtu(), 1500u);
  EXPECT_EQ(a->wait_fd(), -1);
  EXPECT_EQ(a->next_arrival(), std::nullopt);
  EXPECT_TRUE(a->transmit(kNow, as_bytes("one")));
  EXPECT_TRUE(a->transmit(kNow, as_bytes("two")));
  EXPECT_TRUE(b->transmit(kNow, as_bytes("back")));
  EXPECT_TRUE(a->transmit(kNow, as_bytes("three")));
  EXPECT_EQ(b->pending(), 3u);
  EXPECT_EQ(a->pending(), 1u);
  EXPECT_EQ(receive_string(*b), "one");
  EXPECT_EQ(receive_string(*b), "two");
  EXPECT_EQ(receive_string(*a), "back");
  EXPECT_EQ(receive_string(*a), "<none>");  // nothing loops back to the sender
  EXPECT_EQ(receive_string(*b), "three");
  EXPECT_EQ(receive_string(*b), "<none>");
  EXPECT_EQ(a->counters().tx_frames, 3u);
  EXPECT_EQ(b->counters().rx_frames, 3u);
  EXPECT_EQ(b->counters().tx_frames, 1u);
  EXPECT_EQ(a->counters().rx_frames, 1u);
}

TEST(MemoryLink, EmptyFrameIsAFrame) {
  auto [a, b] = MemoryLink::pair();
  EXPECT_TRUE(a->transmit(kNow, {}));
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(b->receive(kNow, buf), std::optional<std::size_t>{0});
}

TEST(MemoryLink, QueueFullDropsAndCounts) {
  MemoryLink::Options opts;
  opts.mtu = 9000;
  opts.queue_frames = 2;
  auto [a, b] = MemoryLink::pair(opts);
  EXPECT_EQ(a->mtu(), 9000u);
  EXPECT_TRUE(a->transmit(kNow, as_bytes("1")));
  EXPECT_TRUE(a->transmit(kNow, as_bytes("2")));
  EXPECT_FALSE(a->transmit(kNow, as_bytes("3")));
  EXPECT_EQ(a->counters().drop_queue_full, 1u);
  EXPECT_EQ(a->counters().tx_frames, 2u);
  EXPECT_TRUE(b->transmit(kNow, as_bytes("other direction has its own queue")));
  EXPECT_EQ(receive_string(*b), "1");
  EXPECT_TRUE(a->transmit(kNow, as_bytes("4")));  // room again
  EXPECT_EQ(receive_string(*b), "2");
  EXPECT_EQ(receive_string(*b), "4");
  EXPECT_EQ(receive_string(*b), "<none>");
}

TEST(MemoryLink, TooBigFrameIsDroppedNotTruncated) {
  auto [a, b] = MemoryLink::pair();
  const std::string big(100, 'x');
  EXPECT_TRUE(a->transmit(kNow, as_bytes(big)));
  EXPECT_TRUE(a->transmit(kNow, as_bytes("small")));
  // The 100-byte frame does not fit a 50-byte buffer: it is dropped and the next frame is delivered.
  EXPECT_EQ(receive_string(*b, 50), "small");
  EXPECT_EQ(b->counters().drop_too_big, 1u);
  EXPECT_EQ(b->counters().rx_frames, 1u);
  EXPECT_EQ(b->pending(), 0u);
  EXPECT_TRUE(a->transmit(kNow, as_bytes(big)));
  EXPECT_EQ(receive_string(*b, 50), "<none>");
  EXPECT_EQ(b->counters().drop_too_big, 2u);
  EXPECT_TRUE(a->transmit(kNow, as_bytes(big)));
  EXPECT_EQ(receive_string(*b, 100), big);  // exactly fits
}

TEST(MemoryLink, RecycledBuffersCarryTheRightBytes) {
  // Frames of shrinking and growing sizes through recycled buffers must not leak old bytes.
  auto [a, b] = MemoryLink::pair();
  for (int round = 0; round < 200; ++round) {
    const std::string f(std::size_t(1 + (round * 37) % 1500), char('a' + round % 26));
    ASSERT_TRUE(a->transmit(kNow, as_bytes(f)));
    if (round % 3 == 0) {
      ASSERT_TRUE(a->transmit(kNow, as_bytes("x")));
    }
    ASSERT_EQ(receive_string(*b), f);
    if (round % 3 == 0) {
      ASSERT_EQ(receive_string(*b), "x");
    }
  }
}

std::string borrow_string(Link& l, std::size_t max = kMaxFrameSize) {
  std::vector<std::byte> scratch(max);
  const auto f = l.receive_borrowed(kNow, scratch);
  if (!f) return "<none>";
  return std::string(as_chars(*f));
}

TEST(MemoryLink, BorrowedReceiveLendsTheQueuedFrameWithoutCopying) {
  auto [a, b] = MemoryLink::pair();
  ASSERT_TRUE(a->transmit(kNow, as_bytes("first")));
  ASSERT_TRUE(a->transmit(kNow, as_bytes("second")));
  std::vector<std::byte> scratch(kMaxFrameSize);
  const auto f1 = b->receive_borrowed(kNow, scratch);
  ASSERT_TRUE(f1);
  EXPECT_EQ(std::string(as_chars(*f1)), "first");
  // The view is the link's own memory, not the caller's scratch buffer.
  EXPECT_FALSE(f1->data() >= scratch.data() && f1->data() < scratch.data() + scratch.size());
  // Transmitting (the stack answers while it still looks at the frame) leaves the lent frame intact.
  ASSERT_TRUE(b->transmit(kNow, as_bytes("an answer of another length")));
  EXPECT_EQ(std::string(as_chars(*f1)), "first");
  EXPECT_EQ(borrow_string(*b), "second");
  EXPECT_EQ(borrow_string(*b), "<none>");
  EXPECT_EQ(b->counters().rx_frames, 2u);
  EXPECT_EQ(receive_string(*a), "an answer of another length");
}

TEST(MemoryLink, BorrowedAndCopiedReceiveMixAndRecycle) {
  auto [a, b] = MemoryLink::pair();
  for (int round = 0; round < 300; ++round) {
    const std::string f(std::size_t(1 + (round * 53) % 1500), char('a' + round % 26));
    ASSERT_TRUE(a->transmit(kNow, as_bytes(f)));
    ASSERT_EQ(round % 2 == 0 ? borrow_string(*b) : receive_string(*b), f);
  }
  EXPECT_EQ(b->counters().rx_frames, 300u);
}

TEST(MemoryLink, BorrowedReceiveDropsWhatTheCallerCouldNotHold) {
  auto [a, b] = MemoryLink::pair();
  const std::string big(100, 'x');
  ASSERT_TRUE(a->transmit(kNow, as_bytes(big)));
  ASSERT_TRUE(a->transmit(kNow, as_bytes("small")));
  EXPECT_EQ(borrow_string(*b, 50), "small");
  EXPECT_EQ(b->counters().drop_too_big, 1u);
  EXPECT_EQ(b->counters().rx_frames, 1u);
}

// Builds `text` in a buffer lent by `l` and sends it.
bool transmit_lent_string(Link& l, const std::string& text) {
  const MutableBytes buf = l.lend_tx(text.size());
  if (buf.size() != text.size()) return false;
  std::memcpy(buf.data(), text.data(), text.size());
  return l.transmit_lent(kNow, text.size());
}

TEST(MemoryLink, LentTransmitQueuesTheLentBufferItself) {
  auto [a, b] = MemoryLink::pair();
  EXPECT_FALSE(a->transmit_lent(kNow, 0));  // nothing lent
  const MutableBytes buf = a->lend_tx(5);
  ASSERT_EQ(buf.size(), 5u);
  std::memcpy(buf.data(), "hello", 5);
  ASSERT_TRUE(a->transmit_lent(kNow, 5));
  EXPECT_FALSE(a->transmit_lent(kNow, 5));  // sent: no longer lent
  std::vector<std::byte> scratch(kMaxFrameSize);
  const auto f = b->receive_borrowed(kNow, scratch);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->data(), buf.data());  // the frame is the memory it was built in: no copy on the way
  EXPECT_EQ(std::string(as_chars(*f)), "hello");
  EXPECT_EQ(a->counters().tx_frames, 1u);
  EXPECT_EQ(b->counters().rx_frames, 1u);
}

TEST(MemoryLink, LentTransmitMixesWithCopiedTransmitInOrder) {
  auto [a, b] = MemoryLink::pair();
  for (int round = 0; round < 300; ++round) {
    const std::string f(std::size_t(1 + (round * 53) % 1500), char('a' + round % 26));
    if (round % 3 == 0) {
      ASSERT_TRUE(transmit_lent_string(*a, f));
    } else if (round % 3 == 1) {
      // A lent buffer that is not sent is forgotten; a copied transmit meanwhile leaves it alone.
      const MutableBytes unused = a->lend_tx(f.size());
      ASSERT_EQ(unused.size(), f.size());
      std::memset(unused.data(), 'Z', unused.size());
      ASSERT_TRUE(a->transmit(kNow, as_bytes(f)));
    } else {
      ASSERT_TRUE(transmit_lent_string(*a, f));
    }
    ASSERT_EQ(round % 2 == 0 ? borrow_string(*b) : receive_string(*b), f);
  }
  EXPECT_EQ(b->counters().rx_frames, 300u);
  EXPECT_EQ(a->counters().tx_frames, 300u);
}

TEST(MemoryLink, LentTransmitQueueFullDropsAndKeepsTheBuffer) {
  MemoryLink::Options opts;
  opts.queue_frames = 1;
  auto [a, b] = MemoryLink::pair(opts);
  ASSERT_TRUE(transmit_lent_string(*a, "1"));
  EXPECT_FALSE(transmit_lent_string(*a, "2"));
  EXPECT_EQ(a->counters().drop_queue_full, 1u);
  EXPECT_EQ(receive_string(*b), "1");
  EXPECT_TRUE(a->transmit_lent(kNow, 1));  // the buffer "2" was built in is still lent: send it now
  EXPECT_EQ(receive_string(*b), "2");
}

TEST(Link, DefaultLendsNothing) {
  struct Plain final : Link {
    std::size_t mtu() const noexcept override { return 1500; }
    bool transmit(Instant, Bytes) noexcept override { return true; }
    std::optional<std::size_t> receive(Instant, MutableBytes) noexcept override { return std::nullopt; }
  } link;
  EXPECT_TRUE(link.lend_tx(100).empty());
  EXPECT_FALSE(link.transmit_lent(kNow, 0));
}

TEST(Link, DefaultBorrowedReceiveCopiesIntoScratch) {
  // A link that only implements receive(): the default receive_borrowed() hands out the caller's scratch.
  struct OneFrame final : Link {
    std::size_t mtu() const noexcept override { return 1500; }
    bool transmit(Instant, Bytes) noexcept override { return true; }
    std::optional<std::size_t> receive(Instant, MutableBytes buf) noexcept override {
      if (done) return std::nullopt;
      done = true;
      buf[0] = std::byte{'z'};
      return 1;
    }
    bool done = false;
  } link;
  std::array<std::byte, 8> scratch{};
  const auto f = link.receive_borrowed(kNow, scratch);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->data(), scratch.data());
  EXPECT_EQ(f->size(), 1u);
  EXPECT_EQ(std::string(as_chars(*f)), "z");
  EXPECT_FALSE(link.receive_borrowed(kNow, scratch));
}

}  // namespace
}  // namespace tapstack
