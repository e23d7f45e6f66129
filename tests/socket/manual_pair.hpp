// Two manual-mode socket::Runtimes back to back over a MemoryLink pair (192.0.2.1/24 and 192.0.2.2/24) on one
// ManualClock: deterministic (seeded, virtual time, one thread). Both runtimes get a driver that polls both
// stacks and moves the clock to the earliest timer (or the blocked call's deadline), so blocking facade calls
// work exactly as they would against a real peer, and timeouts happen at exact virtual times.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "socket/runtime.hpp"
#include "stack/memory_link.hpp"
#include "stack/time.hpp"

namespace tapstack::socket::testing {

inline constexpr ip::Ipv4Address kAddrA{{192, 0, 2, 1}};
inline constexpr ip::Ipv4Address kAddrB{{192, 0, 2, 2}};

inline RuntimeConfig pair_config(ip::Ipv4Address addr, std::uint8_t mac_last, std::uint64_t seed) {
  RuntimeConfig c;
  c.interface.mac = ip::MacAddress{{0x02, 0, 0, 0, 0, mac_last}};
  c.interface.ipv4 = ip::Ipv4Cidr{addr, 24};
  c.seed = seed;
  return c;
}

class ManualPair {
 public:
  // Virtual time after which the driver gives up (a blocked call then fails with EAGAIN rather than spin).
  static constexpr Instant kGiveUp = Instant::from_millis(3'600'000);

  explicit ManualPair(std::uint64_t seed = 1, RuntimeConfig a_cfg = pair_config(kAddrA, 0x0a, 0),
                      RuntimeConfig b_cfg = pair_config(kAddrB, 0x0b, 0))
      : links_{MemoryLink::pair()},
        a{*links_.first, with_seed(a_cfg, seed * 2 + 1), Runtime::Manual},
        b{*links_.second, with_seed(b_cfg, seed * 2 + 2), Runtime::Manual} {
    a.set_driver([this](std::optional<Instant> d) { return step(d); });
    b.set_driver([this](std::optional<Instant> d) { return step(d); });
  }

  Instant now() const noexcept { return clock.now(); }

  // Work due at the current time: frames on the wire or a runtime with something to do now.
  bool pending_now() const {
    const Instant t = clock.now();
    const auto due = [t](std::optional<Instant> at) { return at && *at <= t; };
    return links_.first->pending() != 0 || links_.second->pending() != 0 || due(a.poll_at()) || due(b.poll_at());
  }

  // One driver step: poll both at the current time if anything is due; otherwise move the clock to the earliest
  // timer (or `deadline`, if earlier) and poll there. False when nothing at all is scheduled.
  bool step(std::optional<Instant> deadline = std::nullopt) {
    if (pending_now()) {
      poll_both();
      return true;
    }
    std::optional<Instant> next = earliest(a.poll_at(), b.poll_at());
    if (deadline && (!next || *deadline < *next)) next = deadline;
    if (!next || *next > kGiveUp) return false;
    clock.set(std::max(*next, clock.now()));
    poll_both();
    return true;
  }

  // Polls at the current time until nothing is due (no time passes).
  void settle() {
    for (int i = 0; i < 100000 && pending_now(); ++i) poll_both();
  }

  // Steps (moving time) until pred() holds; false if the stacks went quiet first.
  template <class Pred>
  bool run_until(Pred pred) {
    while (!pred()) {
      if (!step()) return pred();
    }
    return true;
  }

  // Moves the clock forward by d, polling on the way (timers fire at their times).
  void advance(Duration d) {
    const Instant end = clock.now() + d;
    while (step(end) && clock.now() < end) {
    }
    settle();
  }

 private:
  static RuntimeConfig with_seed(RuntimeConfig c, std::uint64_t seed) {
    c.seed = seed;
    return c;
  }
  static std::optional<Instant> earliest(std::optional<Instant> x, std::optional<Instant> y) {
    if (!x) return y;
    if (!y) return x;
    return std::min(*x, *y);
  }
  void poll_both() {
    a.poll(clock.now());
    b.poll(clock.now());
  }

  std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> links_;

 public:
  mutable ManualClock clock;  // ManualClock::now() is not const
  Runtime a;
  Runtime b;
};

}  // namespace tapstack::socket::testing
