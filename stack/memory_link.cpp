// MemoryLink: two queues of frames with recycled buffers.
#include "stack/memory_link.hpp"

#include <cstring>

namespace tapstack {
namespace {
constexpr std::size_t kMaxSpare = 64;
}  // namespace

std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> MemoryLink::pair(Options opts) {
  auto a_to_b = std::make_shared<Queue>();
  auto b_to_a = std::make_shared<Queue>();
  // receive() recycles up to kMaxSpare buffers; reserving here keeps that push_back from allocating (noexcept).
  a_to_b->spare.reserve(kMaxSpare);
  b_to_a->spare.reserve(kMaxSpare);
  std::unique_ptr<MemoryLink> a{new MemoryLink(opts, b_to_a, a_to_b)};
  std::unique_ptr<MemoryLink> b{new MemoryLink(opts, a_to_b, b_to_a)};
  return {std::move(a), std::move(b)};
}

bool MemoryLink::transmit(Instant, Bytes frame) noexcept {
  if (outbox_->frames.size() >= opts_.queue_frames) {
    ++counters_.drop_queue_full;
    return false;
  }
  try {
    std::vector<std::byte> buf;
    if (!outbox_->spare.empty()) {
      buf = std::move(outbox_->spare.back());
      outbox_->spare.pop_back();
    }
    buf.assign(frame.begin(), frame.end());
    outbox_->frames.push_back(std::move(buf));
  } catch (...) {  // allocation failure: drop like a full queue
    ++counters_.drop_queue_full;
    return false;
  }
  ++counters_.tx_frames;
  return true;
}

void MemoryLink::recycle_lent() noexcept {
  if (!has_lent_) return;
  has_lent_ = false;
  if (inbox_->spare.size() < kMaxSpare) inbox_->spare.push_back(std::move(lent_));
}

std::optional<Bytes> MemoryLink::receive_borrowed(Instant, MutableBytes scratch) noexcept {
  recycle_lent();
  while (!inbox_->frames.empty()) {
    lent_ = std::move(inbox_->frames.front());
    inbox_->frames.pop_front();
    has_lent_ = true;
    // Same rule as receive(): a frame longer than the caller's buffer would be is dropped, never lent.
    if (lent_.size() > scratch.size()) {
      ++counters_.drop_too_big;
      recycle_lent();
      continue;
    }
    ++counters_.rx_frames;
    // The caller parses this frame's headers next; the one after is started on now, as NIC drivers prefetch
    // the next descriptor's packet (its header lines are likely out of L1 after a batch of payload copies).
    if (!inbox_->frames.empty()) {
      const std::byte* next = inbox_->frames.front().data();
      __builtin_prefetch(next);
      __builtin_prefetch(next + 64);
    }
    return Bytes{lent_};
  }
  return std::nullopt;
}

std::optional<std::size_t> MemoryLink::receive(Instant, MutableBytes buf) noexcept {
  recycle_lent();
  while (!inbox_->frames.empty()) {
    std::vector<std::byte> f = std::move(inbox_->frames.front());
    inbox_->frames.pop_front();
    const std::size_t n = f.size();
    const bool fits = n <= buf.size();
    if (fits && n) std::memcpy(buf.data(), f.data(), n);
    if (inbox_->spare.size() < kMaxSpare) inbox_->spare.push_back(std::move(f));
    if (!fits) {
      ++counters_.drop_too_big;
      continue;
    }
    ++counters_.rx_frames;
    return n;
  }
  return std::nullopt;
}

}  // namespace tapstack
