// MpscQueue (stack/mpsc_queue.hpp): FIFO order, empty(), reuse of popped nodes; and (suite `threads`) four
// producers against one consumer, every item delivered once and each producer's items in order.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "stack/mpsc_queue.hpp"

namespace tapstack {
namespace {

struct Item : MpscNode {
  int producer = 0;
  int value = 0;
};

TEST(MpscQueue, FifoAndEmpty) {
  MpscQueue<Item> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.try_pop(), nullptr);
  std::vector<Item> items(5);
  for (int i = 0; i < 5; ++i) {
    items[std::size_t(i)].value = i;
    q.push(&items[std::size_t(i)]);
  }
  EXPECT_FALSE(q.empty());
  for (int i = 0; i < 5; ++i) {
    Item* it = q.try_pop();
    ASSERT_NE(it, nullptr);
    EXPECT_EQ(it->value, i);
  }
  EXPECT_EQ(q.try_pop(), nullptr);
  EXPECT_TRUE(q.empty());
  // Popped nodes may be pushed again, interleaved with new ones.
  q.push(&items[3]);
  q.push(&items[0]);
  EXPECT_EQ(q.try_pop(), &items[3]);
  q.push(&items[4]);
  EXPECT_EQ(q.try_pop(), &items[0]);
  EXPECT_EQ(q.try_pop(), &items[4]);
  EXPECT_TRUE(q.empty());
}

TEST(MpscQueueThreads, FourProducersOneConsumer_EachItemOnceInProducerOrder) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 50000;
  MpscQueue<Item> q;
  std::vector<std::unique_ptr<Item[]>> items;
  for (int p = 0; p < kProducers; ++p) items.push_back(std::make_unique<Item[]>(kPerProducer));
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        Item& it = items[std::size_t(p)][std::size_t(i)];
        it.producer = p;
        it.value = i;
        q.push(&it);
      }
    });
  }
  std::vector<int> next(kProducers, 0);
  int received = 0;
  while (received < kProducers * kPerProducer) {
    Item* it = q.try_pop();
    if (it == nullptr) {
      std::this_thread::yield();
      continue;
    }
    ASSERT_EQ(it->value, next[std::size_t(it->producer)]) << "producer " << it->producer;
    ++next[std::size_t(it->producer)];
    ++received;
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(q.try_pop(), nullptr);
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[std::size_t(p)], kPerProducer);
}

}  // namespace
}  // namespace tapstack
