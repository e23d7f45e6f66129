// MemoryLink: two queues of frames with recycled buffers.
#include "stack/memory_link.hpp"

#include <algorithm>
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

std::vector<std::byte> MemoryLink::take_spare(std::size_t n) {
  std::vector<std::byte> buf;
  if (!outbox_->spare.empty()) {
    buf = std::move(outbox_->spare.back());
    outbox_->spare.pop_back();
  }
  // Grown (and zero-filled) only when it never carried a frame this long: buffers are not shrunk.
  if (buf.size() < n) buf.resize(n);
  return buf;
}

bool MemoryLink::transmit(Instant, Bytes frame) noexcept {
  if (outbox_->frames.size() >= opts_.queue_frames) {
    ++counters_.drop_queue_full;
    return false;
  }
  try {
    std::vector<std::byte> buf = take_spare(frame.size());
    if (!frame.empty()) std::memcpy(buf.data(), frame.data(), frame.size());
    outbox_->frames.push_back(Frame{std::move(buf), frame.size()});
  } catch (...) {  // allocation failure: drop like a full queue
    ++counters_.drop_queue_full;
    return false;
  }
  ++counters_.tx_frames;
  return true;
}

MutableBytes MemoryLink::lend_tx(std::size_t len) noexcept {
  try {
    if (tx_lent_.empty() || tx_lent_.size() < len) {
      if (!tx_lent_.empty() && outbox_->spare.size() < kMaxSpare) outbox_->spare.push_back(std::move(tx_lent_));
      tx_lent_ = take_spare(std::max<std::size_t>(len, 1));  // never empty: empty means "nothing lent"
    }
  } catch (...) {  // no memory: the caller builds the frame in its own buffer and transmit() drops it
    tx_lent_ = {};
    return {};
  }
  return MutableBytes{tx_lent_.data(), len};
}

bool MemoryLink::transmit_lent(Instant, std::size_t len) noexcept {
  if (tx_lent_.empty() || len > tx_lent_.size()) return false;
  if (outbox_->frames.size() >= opts_.queue_frames) {
    ++counters_.drop_queue_full;  // the lent buffer stays lent: the next lend_tx() reuses it
    return false;
  }
  try {
    outbox_->frames.push_back(Frame{std::move(tx_lent_), len});
  } catch (...) {
    ++counters_.drop_queue_full;
    return false;
  }
  tx_lent_ = {};
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
    Frame& f = inbox_->frames.front();
    const std::size_t n = f.len;
    lent_ = std::move(f.bytes);
    inbox_->frames.pop_front();
    has_lent_ = true;
    // Same rule as receive(): a frame longer than the caller's buffer would be is dropped, never lent.
    if (n > scratch.size()) {
      ++counters_.drop_too_big;
      recycle_lent();
      continue;
    }
    ++counters_.rx_frames;
    // The caller parses this frame's headers next; the one after is started on now, as NIC drivers prefetch
    // the next descriptor's packet (its header lines are likely out of L1 after a batch of payload copies).
    if (!inbox_->frames.empty()) {
      const std::byte* next = inbox_->frames.front().bytes.data();
      __builtin_prefetch(next);
      __builtin_prefetch(next + 64);
    }
    return Bytes{lent_.data(), n};
  }
  return std::nullopt;
}

std::optional<std::size_t> MemoryLink::receive(Instant, MutableBytes buf) noexcept {
  recycle_lent();
  while (!inbox_->frames.empty()) {
    Frame f = std::move(inbox_->frames.front());
    inbox_->frames.pop_front();
    const std::size_t n = f.len;
    const bool fits = n <= buf.size();
    if (fits && n) std::memcpy(buf.data(), f.bytes.data(), n);
    if (inbox_->spare.size() < kMaxSpare) inbox_->spare.push_back(std::move(f.bytes));
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
