// PcapReplayLink: a Link that plays a pcap/pcapng trace into the stack on a virtual clock and keeps what the
// stack sends back, so a test can assert on it. Frames are loaded (and L2 headers synthesized) at construction.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "stack/counters.hpp"
#include "stack/link.hpp"

namespace tapstack::tap {

using MacBytes = std::array<std::uint8_t, 6>;

// One frame with its time: for read_all() the capture time in microseconds since the Unix epoch, for a
// PcapReplayLink the virtual release time, for sent() the `now` the stack transmitted it at.
struct TimedFrame {
  Instant at;
  std::vector<std::byte> bytes;
  friend bool operator==(const TimedFrame&, const TimedFrame&) = default;
};

#define TAPSTACK_PCAP_REPLAY_COUNTERS(X) \
  X(rx_frames) X(tx_frames) X(drop_rx_too_big) X(drop_tx_alloc) X(load_filtered) X(load_bad_l3) X(load_snapped)
TAPSTACK_DEFINE_COUNTERS(PcapReplayCounters, TAPSTACK_PCAP_REPLAY_COUNTERS)

struct PcapReplayOptions {
  // Virtual time of the file's first record (before filtering, so both sides of a conversation keep their
  // relative timing when only one side is replayed).
  Instant start{};
  std::size_t mtu = 1500;
  // Ethernet addresses for link types without one (raw IP, Linux cooked): dst is the stack, src the peer.
  MacBytes synth_dst{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  MacBytes synth_src{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  // Keep only frames (as Ethernet, after synthesis) for which this returns true; empty keeps all.
  std::function<bool(Bytes frame)> keep;

  // A `keep` that selects frames whose Ethernet source address is `mac` (one side of a conversation).
  static std::function<bool(Bytes)> from_source_mac(MacBytes mac);
};

class PcapReplayLink final : public Link {
 public:
  // Loads `path` (pcap or pcapng). Supported link types: Ethernet (DLT_EN10MB), raw IP (DLT_RAW,
  // LINKTYPE_IPV4 228, LINKTYPE_IPV6 229: an Ethernet header is synthesized with the ethertype from the IP
  // version nibble) and Linux cooked (DLT_LINUX_SLL / SLL2: the cooked header is replaced by Ethernet).
  // Throws std::runtime_error naming the file for unreadable, corrupt or unsupported files.
  explicit PcapReplayLink(const std::string& path, PcapReplayOptions opts = {});

  // Every frame of `path` converted to Ethernet, timestamped with its capture time (Unix epoch, microseconds).
  // Honours opts.keep/synth_*; ignores opts.start. Throws like the constructor.
  static std::vector<TimedFrame> read_all(const std::string& path, const PcapReplayOptions& opts = {});

  std::size_t mtu() const noexcept override { return opts_.mtu; }
  // Keeps a copy of the frame in sent(); always true (false only if the copy cannot be allocated).
  bool transmit(Instant now, Bytes frame) noexcept override;
  // The next frame if its release time is <= now. One that does not fit `buf` is dropped (drop_rx_too_big).
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override;
  // Release time of the next frame; nullopt once the trace is exhausted.
  std::optional<Instant> next_arrival() const noexcept override;

  const std::vector<TimedFrame>& sent() const noexcept { return sent_; }
  void clear_sent() noexcept { sent_.clear(); }
  // Frames still to be released, and all frames loaded.
  std::size_t remaining() const noexcept { return frames_.size() - next_; }
  const std::vector<TimedFrame>& frames() const noexcept { return frames_; }
  // The file's link type (a DLT_* value).
  int link_type() const noexcept { return link_type_; }
  const PcapReplayCounters& counters() const noexcept { return counters_; }

 private:
  PcapReplayOptions opts_;
  std::vector<TimedFrame> frames_;
  std::size_t next_ = 0;
  std::vector<TimedFrame> sent_;
  int link_type_ = 0;
  PcapReplayCounters counters_;
};

}  // namespace tapstack::tap
