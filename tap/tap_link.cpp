// TapLink: one read(2)/write(2) per frame on the TAP descriptor, with named drop counters.
#include "tap/tap_link.hpp"

#include <errno.h>

namespace tapstack::tap {

bool TapLink::transmit(Instant, Bytes frame) noexcept {
  if (device_.write(frame)) {
    ++counters_.tx_frames;
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

std::optional<std::size_t> TapLink::receive(Instant, MutableBytes buf) noexcept {
  // Bounded: skip at most a few oversized frames per call so one call never spins on a flood.
  for (int i = 0; i < 16; ++i) {
    const auto n = device_.read(buf);
    if (!n) return std::nullopt;
    if (*n > buf.size()) {
      ++counters_.drop_rx_too_big;
      continue;
    }
    ++counters_.rx_frames;
    return n;
  }
  return std::nullopt;
}

}  // namespace tapstack::tap
