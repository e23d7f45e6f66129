// TapLink: the real device as a tapstack::Link. The stack loop calls receive/transmit; wait_fd() lets the
// runner poll(2) the TAP descriptor between calls. Wraps a tap::TapDevice.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

#include "stack/counters.hpp"
#include "stack/link.hpp"
#include "tap/tap_device.hpp"

namespace tapstack::tap {

#define TAPSTACK_TAP_LINK_COUNTERS(X) \
  X(rx_frames) X(tx_frames) X(drop_rx_too_big) X(drop_tx_queue_full) X(drop_tx_error)
TAPSTACK_DEFINE_COUNTERS(TapLinkCounters, TAPSTACK_TAP_LINK_COUNTERS)

class TapLink final : public Link {
 public:
  explicit TapLink(TapDevice device) noexcept : device_{std::move(device)} {}
  // Attach-or-create the TAP `name` (see TapDevice); throws std::system_error on failure.
  explicit TapLink(std::string_view name) : device_{name} {}

  std::size_t mtu() const noexcept override { return device_.mtu(); }
  // Writes one frame. False on EAGAIN/ENOBUFS (counted drop_tx_queue_full) or another error (drop_tx_error).
  bool transmit(Instant now, Bytes frame) noexcept override;
  // Reads one frame; a frame longer than `buf` is consumed and dropped (drop_rx_too_big). `now` is unused:
  // the kernel delivers frames when they arrive.
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override;
  int wait_fd() const noexcept override { return device_.fd(); }

  const TapDevice& device() const noexcept { return device_; }
  TapDevice& device() noexcept { return device_; }  // for read_batch() in a custom loop
  const TapLinkCounters& counters() const noexcept { return counters_; }

 private:
  TapDevice device_;
  TapLinkCounters counters_;
};

}  // namespace tapstack::tap
