// FaultLink: seeded drop / duplicate / reorder / corrupt on the transmit path.
#include "stack/fault_link.hpp"

namespace tapstack {
namespace {
bool copy_into(std::vector<std::byte>& dst, Bytes src) noexcept {
  try {
    dst.assign(src.begin(), src.end());
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

bool FaultLink::transmit(Instant now, Bytes frame) noexcept {
  ++counters_.tx_frames;
  if (rng_.chance(faults_.drop)) {
    ++counters_.dropped;
    return true;  // lost on the wire: the sender cannot tell
  }
  Bytes out = frame;
  // The copies below may allocate; transmit is noexcept, so a failed copy skips that fault instead of terminating.
  if (faults_.corrupt > 0 && !frame.empty() && rng_.chance(faults_.corrupt) && copy_into(scratch_, frame)) {
    const std::uint32_t bit = rng_.uniform(std::uint32_t(scratch_.size() * 8));
    scratch_[bit / 8] ^= std::byte(1u << (bit % 8));
    out = scratch_;
    ++counters_.corrupted;
  }
  if (!holding_ && rng_.chance(faults_.reorder) && copy_into(held_, out)) {
    holding_ = true;
    ++counters_.reordered;
    return true;
  }
  bool ok = inner_.transmit(now, out);
  if (rng_.chance(faults_.duplicate)) {
    ++counters_.duplicated;
    inner_.transmit(now, out);
  }
  if (holding_) {
    holding_ = false;
    inner_.transmit(now, held_);
  }
  return ok;
}

void FaultLink::flush(Instant now) noexcept {
  if (holding_) {
    holding_ = false;
    inner_.transmit(now, held_);
  }
}

}  // namespace tapstack
