// PcapRecorder: a Link decorator that tees both directions into a pcap file (libpcap's dump API), so a run of
// the stack opens in `tcpdump -r` and Wireshark. Sits between the stack loop and any other Link.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "stack/counters.hpp"
#include "stack/link.hpp"

// libpcap's handles, kept out of this header.
struct pcap;
struct pcap_dumper;

namespace tapstack::tap {

#define TAPSTACK_PCAP_RECORDER_COUNTERS(X) X(rx_recorded) X(tx_recorded) X(write_errors)
TAPSTACK_DEFINE_COUNTERS(PcapRecorderCounters, TAPSTACK_PCAP_RECORDER_COUNTERS)

class PcapRecorder final : public Link {
 public:
  // Records to `path` (created or truncated; DLT_EN10MB, snaplen 262144, microsecond timestamps). A frame's
  // pcap timestamp is `now + epoch_offset` as microseconds since the Unix epoch: pass the offset that maps the
  // runner's monotonic Instants to wall-clock time, or 0 to keep virtual time (tests compare it exactly).
  // Throws std::runtime_error naming the file when it cannot be opened.
  PcapRecorder(Link& inner, const std::string& path, std::chrono::microseconds epoch_offset);
  // Convenience: wall-clock timestamps. Reads CLOCK_REALTIME once, here, and maps the first `now` seen by
  // transmit/receive to it; later timestamps follow the monotonic Instants (no wall-clock jumps).
  static std::unique_ptr<PcapRecorder> with_wall_clock(Link& inner, const std::string& path);
  ~PcapRecorder() override;  // flushes and closes the file
  PcapRecorder(const PcapRecorder&) = delete;
  PcapRecorder& operator=(const PcapRecorder&) = delete;

  std::size_t mtu() const noexcept override { return inner_.mtu(); }
  // Records the frame the stack emits (whether or not the inner link then accepts it), then forwards it.
  bool transmit(Instant now, Bytes frame) noexcept override;
  // Forwards; records a frame the inner link delivered.
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override;
  std::optional<Instant> next_arrival() const noexcept override { return inner_.next_arrival(); }
  int wait_fd() const noexcept override { return inner_.wait_fd(); }
  // Forwarded: the recording shows each frame as the stack emitted it, before the inner link merges any.
  void begin_batch() noexcept override { inner_.begin_batch(); }
  void end_batch(Instant now) noexcept override { inner_.end_batch(now); }

  // Pushes buffered records to the file (so a reader sees them while recording continues).
  void flush() noexcept;
  // Flushes and closes the file; later frames are forwarded but not recorded. Idempotent.
  void close() noexcept;
  const PcapRecorderCounters& counters() const noexcept { return counters_; }

 private:
  PcapRecorder(Link& inner, const std::string& path, std::chrono::microseconds wall_at_open, bool anchor_first);
  void record(Instant now, Bytes frame) noexcept;

  Link& inner_;
  pcap* pcap_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
  std::chrono::microseconds epoch_offset_;
  bool anchor_on_first_ = false;  // with_wall_clock: epoch_offset_ holds the wall time until the first frame
  PcapRecorderCounters counters_;
};

}  // namespace tapstack::tap
