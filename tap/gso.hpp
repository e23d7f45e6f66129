// Segmentation offload on a TAP device opened with IFF_VNET_HDR: the virtio-net header that comes before each
// frame, and GsoCoalescer, which merges the consecutive TCP segments of one flow that the stack emits in a burst
// into one large frame for one write(2). The kernel takes such a frame as a GSO packet: its TCP receive path runs
// once for up to 64 KiB instead of once per segment, as it does for a frame from a virtio NIC or from GRO.
// Sans-I/O: frames in, (header, frame) pairs out through a callback; tap::TapLink does the writing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/function_ref.hpp"

namespace tapstack::tap {

// struct virtio_net_hdr (the legacy 10-byte layout, in host byte order, which is what a TAP uses unless told
// otherwise with TUNSETVNETLE/BE).
struct VnetHeader {
  static constexpr std::size_t kLen = 10;
  static constexpr std::uint8_t kNeedsCsum = 1;  // checksum [csum_start, end) and store it at csum_start + csum_offset
  static constexpr std::uint8_t kDataValid = 2;  // the sender vouches for the checksum
  static constexpr std::uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdp = 3, kGsoTcpV6 = 4, kGsoEcn = 0x80;

  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0;      // Ethernet + IP + TCP header bytes (a hint for the kernel's linear part)
  std::uint16_t gso_size = 0;     // payload bytes per segment
  std::uint16_t csum_start = 0;   // from the start of the frame
  std::uint16_t csum_offset = 0;  // from csum_start

  // `out` must hold kLen bytes.
  void write(MutableBytes out) const noexcept;
  // `in` must hold kLen bytes.
  static VnetHeader read(Bytes in) noexcept;
  friend bool operator==(const VnetHeader&, const VnetHeader&) = default;
};

// For a frame that came with kNeedsCsum: sums [csum_start, end) over the partial sum already in the checksum
// field and stores the result there. False (frame untouched) when csum_start + csum_offset + 2 does not fit.
bool complete_partial_checksum(const VnetHeader& h, MutableBytes frame) noexcept;

#define TAPSTACK_GSO_COUNTERS(X) \
  X(frames_in) X(frames_out) X(super_frames) X(segments_in_super_frames) X(refused_by_sink)
TAPSTACK_DEFINE_COUNTERS(GsoCounters, TAPSTACK_GSO_COUNTERS)

class GsoCoalescer {
 public:
  // Receives each frame to write and its header; returns false when the device refused it.
  using Sink = FunctionRef<bool(const VnetHeader&, Bytes)>;

  // At most `max_segments` segments per merged frame (the kernel's own GSO limit is 64 KiB of IP packet,
  // which 45 full-sized Ethernet segments reach first).
  explicit GsoCoalescer(std::size_t max_segments = 64);

  // Takes the next frame of the burst. A TCP segment that continues the held one (same Ethernet and IP header
  // apart from length, ID and checksum; same ports, ACK, window and options; the next sequence number; no SYN,
  // FIN, RST, URG, CWR; the held segments all full-sized and without PSH) is appended to it. Anything else
  // first sends what is held; a TCP data segment without PSH is then held in its turn, any other frame (and a
  // segment with PSH, which nothing could follow) sent at once.
  // Returns false only when a frame sent at once was refused; a held frame counts as accepted.
  bool add(Bytes frame, Sink sink) noexcept;
  // Sends the held frame, if any: alone as it came, or merged, with the GSO header and the TCP checksum field
  // set to the pseudo-header sum for the device to complete. False when the sink refused it.
  bool flush(Sink sink) noexcept;
  bool holding() const noexcept { return held_len_ != 0; }
  const GsoCounters& counters() const noexcept { return counters_; }

 private:
  struct Segment;  // a parsed TCP data segment (offsets into its frame)
  bool can_append(const Segment& s, Bytes frame) const noexcept;
  void hold(const Segment& s, Bytes frame) noexcept;

  std::size_t max_segments_;
  std::vector<std::byte> held_;  // the frame being built: headers of the first segment + every payload
  std::size_t held_len_ = 0;     // 0: nothing held
  std::size_t held_segments_ = 0;
  std::size_t l4_ = 0, payload_ = 0;  // offsets in held_ of the TCP header and payload (IP starts at 14)
  bool v6_ = false;
  std::uint16_t gso_size_ = 0;  // the first segment's payload length
  std::uint32_t next_seq_ = 0;
  bool closed_ = false;  // a short segment or PSH ended the run: nothing more may be appended
  GsoCounters counters_;
};

}  // namespace tapstack::tap
