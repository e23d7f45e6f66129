// The Link interface: whole Ethernet frames (no preamble, no FCS) in and out of a stack.
// Drivers (tap::TapLink, MemoryLink, tap::PcapReplayLink) and decorators (FaultLink, tap::PcapRecorder)
// implement it; the stack loop is the only caller. Time is passed in, so replay and fault injection
// run on a virtual clock.
#pragma once
#include <cstddef>
#include <optional>

#include "stack/bytes.hpp"
#include "stack/time.hpp"

namespace tapstack {

// Big enough for any frame a Link delivers: a 64 KiB IP packet plus an Ethernet header.
inline constexpr std::size_t kMaxFrameSize = 65536 + 18;

class Link {
 public:
  virtual ~Link() = default;
  // The IP MTU: the largest IP packet one frame carries (1500 on Ethernet).
  virtual std::size_t mtu() const noexcept = 0;
  // Sends one frame. False when the link dropped it (queue full, device error); the caller counts that.
  virtual bool transmit(Instant now, Bytes frame) noexcept = 0;
  // Copies the next frame that is ready at `now` into `buf` and returns its length; nullopt when none is.
  // A frame longer than `buf` is dropped (and counted by the link), never truncated.
  virtual std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept = 0;
  // The next ready frame without a copy where the link can lend its own memory (MemoryLink does): the view stays
  // valid until the next receive()/receive_borrowed() on this link, and transmit() does not disturb it. The
  // default copies into `scratch` through receive(), so every link supports it.
  virtual std::optional<Bytes> receive_borrowed(Instant now, MutableBytes scratch) noexcept {
    const std::optional<std::size_t> n = receive(now, scratch);
    if (!n) return std::nullopt;
    return Bytes{scratch.data(), *n};
  }
  // Zero-copy transmit where the link can lend its own memory (MemoryLink does): a buffer of exactly `len` bytes to
  // build the next frame in, valid until transmit_lent() or the next lend_tx() (which may lend the same memory
  // again, so a lent buffer that was not sent is simply forgotten); transmit() and receive() do not disturb it.
  // Empty when the link does not lend (the default): the caller builds the frame in its own buffer and calls
  // transmit(), so every link supports the caller that tries this first.
  virtual MutableBytes lend_tx(std::size_t len) noexcept {
    (void)len;
    return {};
  }
  // Sends the frame built in the buffer lend_tx() lent, `len` bytes (at most what was lent); as transmit().
  // False (and nothing sent) when nothing is lent.
  virtual bool transmit_lent(Instant now, std::size_t len) noexcept {
    (void)now;
    (void)len;
    return false;
  }
  // A batch: the frames transmitted between begin_batch() and the matching end_batch() may be held by the link
  // and sent at end_batch() (tap::TapLink merges consecutive TCP segments of one flow into one GSO write), so
  // the caller brackets each burst it emits. Batches nest; only the outermost end_batch() sends. Outside a batch
  // a link sends every frame at once. A held frame counts as accepted: transmit() returns true, and a write
  // that fails at end_batch() is counted by the link. The default: no batching.
  virtual void begin_batch() noexcept {}
  virtual void end_batch(Instant now) noexcept { (void)now; }
  // Links whose frames arrive on a schedule (a pcap replay, a delaying decorator) say when the next one does.
  virtual std::optional<Instant> next_arrival() const noexcept { return std::nullopt; }
  // A descriptor that polls readable when frames may be waiting; -1 for in-memory links.
  virtual int wait_fd() const noexcept { return -1; }
};

}  // namespace tapstack
