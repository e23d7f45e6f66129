// MemoryLink: an in-memory Ethernet cable for tests and benchmarks. `MemoryLink::pair()` gives two ends;
// what one end transmits the other receives, in order. Single-threaded (the stack loop owns both ends).
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "stack/counters.hpp"
#include "stack/link.hpp"

namespace tapstack {

#define TAPSTACK_MEMORY_LINK_COUNTERS(X) X(tx_frames) X(rx_frames) X(drop_queue_full) X(drop_too_big)
TAPSTACK_DEFINE_COUNTERS(MemoryLinkCounters, TAPSTACK_MEMORY_LINK_COUNTERS)

class MemoryLink final : public Link {
 public:
  struct Options {
    std::size_t mtu = 1500;
    std::size_t queue_frames = 4096;  // frames in flight per direction before transmit drops
  };
  static std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> pair(Options opts);
  static std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> pair() { return pair(Options{}); }

  std::size_t mtu() const noexcept override { return opts_.mtu; }
  bool transmit(Instant now, Bytes frame) noexcept override;
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override;
  // Lends the queued frame itself (no copy); it is recycled at the next receive.
  std::optional<Bytes> receive_borrowed(Instant now, MutableBytes scratch) noexcept override;
  // Lends a recycled queue buffer: the frame built in it is queued as it is, without the copy transmit() makes.
  MutableBytes lend_tx(std::size_t len) noexcept override;
  bool transmit_lent(Instant now, std::size_t len) noexcept override;
  // Frames waiting for this end.
  std::size_t pending() const noexcept { return inbox_->frames.size(); }
  const MemoryLinkCounters& counters() const noexcept { return counters_; }

 private:
  // One queued frame: `len` bytes at the start of `bytes` (a recycled buffer may be longer than its frame, so a
  // reused buffer is never resized, and so never zero-filled, on the packet path).
  struct Frame {
    std::vector<std::byte> bytes;
    std::size_t len = 0;
  };
  struct Queue {
    std::deque<Frame> frames;
    std::vector<std::vector<std::byte>> spare;  // recycled buffers: no allocation per frame in steady state
  };
  // A buffer of at least n bytes for the next frame to `outbox_`: a spare one when there is one.
  std::vector<std::byte> take_spare(std::size_t n);
  MemoryLink(Options opts, std::shared_ptr<Queue> inbox, std::shared_ptr<Queue> outbox)
      : opts_{opts}, inbox_{std::move(inbox)}, outbox_{std::move(outbox)} {}
  Options opts_;
  std::shared_ptr<Queue> inbox_, outbox_;  // shared by the two ends (set-up only, never on the packet path)
  std::vector<std::byte> lent_;            // the frame receive_borrowed() handed out last
  bool has_lent_ = false;
  std::vector<std::byte> tx_lent_;         // the buffer lend_tx() handed out last (empty: none)
  void recycle_lent() noexcept;
  MemoryLinkCounters counters_;
};

}  // namespace tapstack
