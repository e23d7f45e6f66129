// TapLink: the real device as a tapstack::Link. The stack loop calls receive/transmit; wait_fd() lets the
// runner poll(2) the TAP descriptor between calls. Wraps a tap::TapDevice.
//
// With GSO (the default), the device is opened with IFF_VNET_HDR and the TCP segments of one flow that the stack
// emits in one batch (Link::begin_batch/end_batch; ip::Interface::poll makes each call one) are merged by a
// GsoCoalescer and written as one frame of up to 64 KiB, which the kernel receives as a GSO packet: one pass of
// its IP and TCP receive path per merged frame instead of per segment. The other way, the kernel may send one
// TCP segment of up to 64 KiB with its checksum left partial (TSO, as to a virtio NIC): receive() completes the
// checksum and hands the stack the large segment, which it takes like any in-window segment.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>

#include "stack/counters.hpp"
#include "stack/link.hpp"
#include "tap/gso.hpp"
#include "tap/tap_device.hpp"

namespace tapstack::tap {

#define TAPSTACK_TAP_LINK_COUNTERS(X)                                                                   \
  X(rx_frames) X(rx_gso_frames) X(rx_checksum_completed) X(tx_frames) X(tx_writes) X(tx_gso_writes)    \
  X(tx_gso_segments) X(drop_rx_too_big) X(drop_rx_offload) X(drop_tx_queue_full) X(drop_tx_error)
TAPSTACK_DEFINE_COUNTERS(TapLinkCounters, TAPSTACK_TAP_LINK_COUNTERS)

struct TapLinkOptions {
  // Merge TCP segments into GSO writes (opens the device with IFF_VNET_HDR). Off: one write(2) per frame.
  bool gso = true;
};

class TapLink final : public Link {
 public:
  // Takes a device as it was opened: GSO is used when it was opened with vnet_hdr.
  explicit TapLink(TapDevice device) noexcept : device_{std::move(device)} {}
  // Attach-or-create the TAP `name` (see TapDevice); throws std::system_error on failure.
  explicit TapLink(std::string_view name, TapLinkOptions opts = {}) : device_{name, opts.gso} {}

  std::size_t mtu() const noexcept override { return device_.mtu(); }
  // Writes one frame, or (inside a batch, with GSO) holds a TCP segment to merge with the next ones. False on
  // EAGAIN/ENOBUFS (counted drop_tx_queue_full) or another error (drop_tx_error); a held frame counts as sent,
  // and a failed write of it at end_batch() is counted the same way.
  bool transmit(Instant now, Bytes frame) noexcept override;
  void begin_batch() noexcept override { ++batch_depth_; }
  void end_batch(Instant now) noexcept override;
  // Reads one frame; a frame longer than `buf` is consumed and dropped (drop_rx_too_big). With GSO, a frame
  // whose header asks us to finish its checksum gets it finished (rx_checksum_completed); a TCP TSO frame is
  // delivered whole (rx_gso_frames); a frame with checksum offsets out of bounds, or another GSO type (never
  // offered), is dropped (drop_rx_offload). `now` is unused: the kernel delivers frames when they arrive.
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override;
  int wait_fd() const noexcept override { return device_.fd(); }

  bool gso() const noexcept { return device_.vnet_hdr(); }
  const TapDevice& device() const noexcept { return device_; }
  TapDevice& device() noexcept { return device_; }  // for read_batch() in a custom loop
  const TapLinkCounters& counters() const noexcept { return counters_; }
  const GsoCounters& gso_counters() const noexcept { return gso_.counters(); }

 private:
  bool write(const VnetHeader& h, Bytes frame) noexcept;

  TapDevice device_;
  GsoCoalescer gso_;
  int batch_depth_ = 0;
  TapLinkCounters counters_;
};

}  // namespace tapstack::tap
