// Bounded datagram FIFO over a byte ring; see packet_queue.hpp.
#include "udp/packet_queue.hpp"

#include <cstring>

namespace tapstack::udp {

PacketQueue::PacketQueue(std::size_t max_datagrams, std::size_t max_bytes) : meta_(max_datagrams), buf_(max_bytes) {}

std::optional<PacketQueue::Placement> PacketQueue::place(std::size_t size) const noexcept {
  if (count_ == meta_.size()) return std::nullopt;
  const std::size_t cap = buf_.size();
  if (used_ == 0) {  // empty ring: start over at 0 so the whole ring is contiguous
    if (size > cap) return std::nullopt;
    return Placement{0, 0};
  }
  const std::size_t write = (head_ + used_) % cap;
  if (write > head_) {  // free space is [write, cap) and [0, head_)
    if (size <= cap - write) return Placement{write, 0};
    if (size <= head_) return Placement{0, cap - write};
    return std::nullopt;
  }
  // Wrapped (or full when write == head_): free space is [write, head_).
  if (size <= head_ - write) return Placement{write, 0};
  return std::nullopt;
}

std::optional<MutableBytes> PacketQueue::enqueue(std::size_t size, const DatagramMeta& meta) noexcept {
  const auto p = place(size);
  if (!p) return std::nullopt;
  if (used_ == 0) head_ = 0;
  Entry& e = meta_[(first_ + count_) % meta_.size()];
  e.meta = meta;
  e.offset = p->offset;
  e.size = size;
  e.padding = p->padding;
  ++count_;
  used_ += p->padding + size;
  return MutableBytes{buf_.data() + p->offset, size};
}

bool PacketQueue::push(Bytes data, const DatagramMeta& meta) noexcept {
  const auto slot = enqueue(data.size(), meta);
  if (!slot) return false;
  copy_bytes(*slot, data);
  return true;
}

std::optional<PacketQueue::Front> PacketQueue::front() const noexcept {
  if (count_ == 0) return std::nullopt;
  const Entry& e = meta_[first_];
  return Front{e.meta, Bytes{buf_.data() + e.offset, e.size}};
}

void PacketQueue::pop() noexcept {
  if (count_ == 0) return;
  const Entry& e = meta_[first_];
  const std::size_t taken = e.padding + e.size;
  used_ -= taken;
  head_ = buf_.empty() ? 0 : (head_ + taken) % buf_.size();
  first_ = (first_ + 1) % meta_.size();
  --count_;
  if (count_ == 0) {
    used_ = 0;
    head_ = 0;
  }
}

void PacketQueue::clear() noexcept { first_ = count_ = head_ = used_ = 0; }

}  // namespace tapstack::udp
