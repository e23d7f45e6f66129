// A bounded FIFO of datagrams: metadata in a fixed ring, payloads contiguous in one preallocated byte ring
// (smoltcp's PacketBuffer). UdpSocket keeps one for receive and one for transmit; nothing allocates after
// construction, so the packet path cannot throw.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "stack/bytes.hpp"

namespace tapstack::udp {

// What travels with a queued datagram: the peer (source on receive, destination on transmit) and our
// end (where it arrived / where it leaves from; an unspecified address lets the IP layer choose).
struct DatagramMeta {
  ip::Endpoint remote;
  ip::Endpoint local;
};

class PacketQueue {
 public:
  // At most `max_datagrams` datagrams and `max_bytes` payload bytes (a datagram never wraps in the byte
  // ring, so a nearly full ring may refuse a datagram smaller than its free total).
  PacketQueue(std::size_t max_datagrams, std::size_t max_bytes);

  // Reserves room for a datagram of `size` bytes and returns where to write it; nullopt when it does not
  // fit now. The datagram is queued as soon as this returns.
  std::optional<MutableBytes> enqueue(std::size_t size, const DatagramMeta& meta) noexcept;
  // Copies `data` in; false when it does not fit.
  bool push(Bytes data, const DatagramMeta& meta) noexcept;

  struct Front {
    const DatagramMeta& meta;
    Bytes payload;
  };
  std::optional<Front> front() const noexcept;
  void pop() noexcept;
  void clear() noexcept;

  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  std::size_t bytes_used() const noexcept { return used_; }  // payload bytes plus wrap padding
  std::size_t max_datagrams() const noexcept { return meta_.size(); }
  std::size_t max_bytes() const noexcept { return buf_.size(); }
  // True when a datagram of `size` bytes would be accepted now.
  bool can_enqueue(std::size_t size) const noexcept { return place(size).has_value(); }

 private:
  struct Entry {
    DatagramMeta meta;
    std::size_t offset = 0, size = 0, padding = 0;  // padding: bytes skipped at the ring's end before it
  };
  struct Placement {
    std::size_t offset, padding;
  };
  std::optional<Placement> place(std::size_t size) const noexcept;

  std::vector<Entry> meta_;
  std::vector<std::byte> buf_;
  std::size_t first_ = 0, count_ = 0;  // metadata ring
  std::size_t head_ = 0, used_ = 0;    // byte ring: read position and bytes in use
};

}  // namespace tapstack::udp
