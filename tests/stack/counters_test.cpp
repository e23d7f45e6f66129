// Tests for stack/counters: the X-macro counter struct.
#include "stack/counters.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#define TEST_COUNTERS(X) X(rx_packets) X(drop_bad_hlen) X(drop_not_for_us)
TAPSTACK_DEFINE_COUNTERS(TestCounters, TEST_COUNTERS)

namespace tapstack {
namespace {

TEST(Counters, StartAtZero) {
  TestCounters c;
  EXPECT_EQ(c.rx_packets, 0u);
  EXPECT_EQ(c.total(), 0u);
}

TEST(Counters, VisitsNamesInDeclarationOrder) {
  TestCounters c;
  c.rx_packets = 5;
  c.drop_bad_hlen = 2;
  ++c.drop_not_for_us;
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  c.visit([&](std::string_view name, std::uint64_t v) { seen.emplace_back(std::string(name), v); });
  const std::vector<std::pair<std::string, std::uint64_t>> want{
      {"rx_packets", 5}, {"drop_bad_hlen", 2}, {"drop_not_for_us", 1}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(c.total(), 8u);
}

}  // namespace
}  // namespace tapstack
