// Named counters: every dropped packet bumps a counter named after the reason, so bad input is visible.
// A layer declares its counters once with an X-macro list:
//   #define TAPSTACK_ARP_COUNTERS(X) X(rx_packets) X(drop_bad_hlen) X(drop_not_for_us)
//   TAPSTACK_DEFINE_COUNTERS(ArpCounters, TAPSTACK_ARP_COUNTERS)
// which gives a struct of std::uint64_t fields (tests read `counters.drop_bad_hlen`) and a `visit(f)` that
// calls f(name, value) for each field in order (the CLI prints them).
#pragma once
#include <cstdint>
#include <string_view>

#define TAPSTACK_COUNTER_FIELD_(name) std::uint64_t name = 0;
#define TAPSTACK_COUNTER_VISIT_(name) f(std::string_view{#name}, name);
#define TAPSTACK_COUNTER_SUM_(name) +name

#define TAPSTACK_DEFINE_COUNTERS(Type, LIST)                      \
  struct Type {                                                   \
    LIST(TAPSTACK_COUNTER_FIELD_)                                 \
    template <class F>                                            \
    void visit(F&& f) const {                                     \
      LIST(TAPSTACK_COUNTER_VISIT_)                               \
    }                                                             \
    std::uint64_t total() const noexcept { return 0 LIST(TAPSTACK_COUNTER_SUM_); } \
  };
