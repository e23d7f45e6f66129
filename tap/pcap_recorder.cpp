// PcapRecorder: pcap_open_dead + pcap_dump_open, one pcap_dump per frame, pcap_dump_flush on flush/close.
#include "tap/pcap_recorder.hpp"

#include <pcap/pcap.h>

#include <stdexcept>

#include "stack/time.hpp"

namespace tapstack::tap {
namespace {
constexpr int kSnapLen = 262144;  // tcpdump's default: a whole 64 KiB GSO frame from a TAP link fits
}

PcapRecorder::PcapRecorder(Link& inner, const std::string& path, std::chrono::microseconds epoch_offset)
    : PcapRecorder(inner, path, epoch_offset, false) {}

PcapRecorder::PcapRecorder(Link& inner, const std::string& path, std::chrono::microseconds offset, bool anchor_first)
    : inner_{inner}, epoch_offset_{offset}, anchor_on_first_{anchor_first} {
  pcap_ = pcap_open_dead(DLT_EN10MB, kSnapLen);
  if (pcap_ == nullptr) throw std::runtime_error("pcap recorder: pcap_open_dead failed");
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (dumper_ == nullptr) {
    std::string msg = "pcap recorder: cannot open '" + path + "' for writing: " + pcap_geterr(pcap_);
    pcap_close(pcap_);
    throw std::runtime_error(msg);
  }
}

std::unique_ptr<PcapRecorder> PcapRecorder::with_wall_clock(Link& inner, const std::string& path) {
  // pcap readers expect Unix-epoch timestamps; the stack only has Instants (stack/time.hpp reads the clock).
  const std::chrono::microseconds wall = wall_clock_since_epoch();
  return std::unique_ptr<PcapRecorder>(new PcapRecorder(inner, path, wall, true));
}

PcapRecorder::~PcapRecorder() { close(); }

void PcapRecorder::flush() noexcept {
  if (dumper_ != nullptr && pcap_dump_flush(dumper_) != 0) ++counters_.write_errors;
}

void PcapRecorder::close() noexcept {
  if (dumper_ != nullptr) {
    flush();
    pcap_dump_close(dumper_);
    dumper_ = nullptr;
  }
  if (pcap_ != nullptr) {
    pcap_close(pcap_);
    pcap_ = nullptr;
  }
}

void PcapRecorder::record(Instant now, Bytes frame) noexcept {
  if (dumper_ == nullptr) return;
  if (anchor_on_first_) {
    epoch_offset_ -= microseconds{now.micros()};  // wall_at_open - first_now
    anchor_on_first_ = false;
  }
  const std::int64_t us = now.micros() + epoch_offset_.count();
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  hdr.ts.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  if (hdr.ts.tv_usec < 0) {  // floor division for (unlikely) pre-epoch times
    hdr.ts.tv_usec += 1'000'000;
    hdr.ts.tv_sec -= 1;
  }
  hdr.len = static_cast<bpf_u_int32>(frame.size());
  hdr.caplen = static_cast<bpf_u_int32>(frame.size() < std::size_t(kSnapLen) ? frame.size() : kSnapLen);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &hdr, reinterpret_cast<const u_char*>(frame.data()));
}

bool PcapRecorder::transmit(Instant now, Bytes frame) noexcept {
  record(now, frame);
  if (dumper_ != nullptr) ++counters_.tx_recorded;
  return inner_.transmit(now, frame);
}

std::optional<std::size_t> PcapRecorder::receive(Instant now, MutableBytes buf) noexcept {
  const auto n = inner_.receive(now, buf);
  if (n && dumper_ != nullptr) {
    record(now, Bytes{buf.data(), *n});
    ++counters_.rx_recorded;
  }
  return n;
}

}  // namespace tapstack::tap
