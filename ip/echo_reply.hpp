// ICMP / ICMPv6 echo replies addressed to this host, kept for the ping client: one bounded FIFO shared by the
// IPv4 interface and the IPv6 engine (ip::Interface::pop_echo_reply).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

// An echo reply as received (the data itself is not kept).
struct EchoReply {
  IpAddress from;  // IPv4 or IPv6 source of the reply
  std::uint16_t ident = 0, seq = 0;
  std::uint8_t ttl = 0;  // TTL or hop limit
  std::size_t data_len = 0;
  Instant received_at;
  Ipv4Address from4() const noexcept { return from.v4(); }  // for IPv4-only callers
  friend bool operator==(const EchoReply&, const EchoReply&) = default;
};

class EchoReplyQueue {
 public:
  explicit EchoReplyQueue(std::size_t capacity) : ring_(capacity == 0 ? 1 : capacity) {}
  // False when full (the reply is dropped; the caller counts it).
  bool push(const EchoReply& r) noexcept {
    if (count_ == ring_.size()) return false;
    ring_[(head_ + count_) % ring_.size()] = r;
    ++count_;
    return true;
  }
  std::optional<EchoReply> pop() noexcept {
    if (count_ == 0) return std::nullopt;
    EchoReply r = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    --count_;
    return r;
  }
  std::size_t size() const noexcept { return count_; }

 private:
  std::vector<EchoReply> ring_;
  std::size_t head_ = 0, count_ = 0;
};

}  // namespace tapstack::ip
