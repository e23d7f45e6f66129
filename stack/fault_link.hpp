// FaultLink: a Link decorator that injects seeded, reproducible faults on transmit: drop, duplicate,
// reorder (hold a frame back and send it after the next one) and corrupt (flip one random bit).
// Receive passes through untouched; wrap both ends to fault both directions.
#pragma once
#include <optional>
#include <vector>

#include "stack/counters.hpp"
#include "stack/link.hpp"
#include "stack/random.hpp"

namespace tapstack {

#define TAPSTACK_FAULT_LINK_COUNTERS(X) X(tx_frames) X(dropped) X(duplicated) X(reordered) X(corrupted)
TAPSTACK_DEFINE_COUNTERS(FaultLinkCounters, TAPSTACK_FAULT_LINK_COUNTERS)

class FaultLink final : public Link {
 public:
  struct Faults {
    double drop = 0, duplicate = 0, reorder = 0, corrupt = 0;  // probabilities per transmitted frame
  };
  FaultLink(Link& inner, Faults faults, std::uint64_t seed) : inner_{inner}, faults_{faults}, rng_{seed} {}

  std::size_t mtu() const noexcept override { return inner_.mtu(); }
  bool transmit(Instant now, Bytes frame) noexcept override;
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override {
    return inner_.receive(now, buf);
  }
  std::optional<Instant> next_arrival() const noexcept override { return inner_.next_arrival(); }
  int wait_fd() const noexcept override { return inner_.wait_fd(); }
  void begin_batch() noexcept override { inner_.begin_batch(); }
  void end_batch(Instant now) noexcept override { inner_.end_batch(now); }
  // Sends a frame held back for reordering, if any (call when the sender goes idle).
  void flush(Instant now) noexcept;
  void set_faults(Faults f) noexcept { faults_ = f; }
  const FaultLinkCounters& counters() const noexcept { return counters_; }

 private:
  Link& inner_;
  Faults faults_;
  SeededRng rng_;
  std::vector<std::byte> scratch_;
  std::vector<std::byte> held_;
  bool holding_ = false;
  FaultLinkCounters counters_;
};

}  // namespace tapstack
