// TapLink: read(2)/write(2) on the TAP descriptor, with named drop counters, and GSO merging inside batches.
#include "tap/tap_link.hpp"

#include <errno.h>

namespace tapstack::tap {

bool TapLink::write(const VnetHeader& h, Bytes frame) noexcept {
  if (device_.write(h, frame)) {
    ++counters_.tx_writes;
    if (h.gso_type != VnetHeader::kGsoNone) {
      ++counters_.tx_gso_writes;
      if (h.gso_size != 0) counters_.tx_gso_segments += (frame.size() - h.hdr_len + h.gso_size - 1) / h.gso_size;
    }
    return true;
  }
  const int err = device_.last_write_errno();
  if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
    ++counters_.drop_tx_queue_full;
  } else {
    ++counters_.drop_tx_error;
  }
  return false;
}

bool TapLink::transmit(Instant, Bytes frame) noexcept {
  ++counters_.tx_frames;
  if (!device_.vnet_hdr() || batch_depth_ == 0) return write(VnetHeader{}, frame);
  return gso_.add(frame, [&](const VnetHeader& h, Bytes f) { return write(h, f); });
}

void TapLink::end_batch(Instant) noexcept {
  if (batch_depth_ > 0 && --batch_depth_ > 0) return;
  gso_.flush([&](const VnetHeader& h, Bytes f) { return write(h, f); });
}

std::optional<std::size_t> TapLink::receive(Instant, MutableBytes buf) noexcept {
  // Bounded: skip at most a few unusable frames per call so one call never spins on a flood.
  for (int i = 0; i < 16; ++i) {
    const auto n = device_.read(buf);
    if (!n) return std::nullopt;
    if (*n > buf.size()) {
      ++counters_.drop_rx_too_big;
      continue;
    }
    if (device_.vnet_hdr()) {
      const VnetHeader& h = device_.last_read_header();
      const auto gso = std::uint8_t(h.gso_type & ~VnetHeader::kGsoEcn);
      if (gso != VnetHeader::kGsoNone) {
        // A TSO frame is one large TCP segment behind headers that already give its whole length: the stack
        // takes it as it is. Anything else (UDP fragmentation offload, say) was never offered.
        if ((gso != VnetHeader::kGsoTcpV4 && gso != VnetHeader::kGsoTcpV6) || (h.flags & VnetHeader::kNeedsCsum) == 0) {
          ++counters_.drop_rx_offload;
          continue;
        }
        ++counters_.rx_gso_frames;
      }
      if ((h.flags & VnetHeader::kNeedsCsum) != 0) {
        if (!complete_partial_checksum(h, buf.first(*n))) {
          ++counters_.drop_rx_offload;
          continue;
        }
        ++counters_.rx_checksum_completed;
      }
    }
    ++counters_.rx_frames;
    return n;
  }
  return std::nullopt;
}

}  // namespace tapstack::tap
