// Test helpers for tcp/: a fluent builder of peer and local segments (a Repr that owns its payload), the
// documentation-range pseudo-headers, and emit-to-vector. Used by tests/tcp and the connection's tests.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp::testing {

// 192.0.2.1 -> 198.51.100.2 (RFC 5737 documentation ranges).
inline ip::PseudoHeader v4_pseudo() {
  return {ip::Ipv4Address{{192, 0, 2, 1}}, ip::Ipv4Address{{198, 51, 100, 2}},
          std::uint8_t(ip::IpProtocol::kTcp), 0};
}
// 2001:db8::1 -> 2001:db8::2 (RFC 3849).
inline ip::PseudoHeader v6_pseudo() {
  return {*ip::Ipv6Address::parse("2001:db8::1"), *ip::Ipv6Address::parse("2001:db8::2"),
          std::uint8_t(ip::IpProtocol::kTcp), 0};
}
// The same addresses the other way round (what the peer's reply is checked against).
inline ip::PseudoHeader reversed(ip::PseudoHeader ph) {
  std::swap(ph.src, ph.dst);
  return ph;
}

// Emits `r` into a fresh vector of exactly r.buffer_len() bytes.
inline std::vector<std::byte> emit_to_vector(const Repr& r, const ip::PseudoHeader& ph) {
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, ph);
  return out;
}

inline std::vector<std::byte> to_bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}

// Builds a Repr step by step; build() returns a Repr whose payload points into this builder, so keep the
// builder alive while the Repr is used:
//   SegmentBuilder().ports(40000, 80).seq(1000).syn().mss(1460).wscale(7).build()
class SegmentBuilder {
 public:
  SegmentBuilder& ports(std::uint16_t src, std::uint16_t dst) { r_.src_port = src, r_.dst_port = dst; return *this; }
  SegmentBuilder& seq(SeqNum s) { r_.seq = s; return *this; }
  SegmentBuilder& seq(std::uint32_t s) { return seq(SeqNum{s}); }
  SegmentBuilder& ack(SeqNum a) { r_.ack = a; r_.control |= Control::kAck; return *this; }
  SegmentBuilder& ack(std::uint32_t a) { return ack(SeqNum{a}); }
  SegmentBuilder& flags(Control c) { r_.control |= c; return *this; }
  SegmentBuilder& syn() { return flags(Control::kSyn); }
  SegmentBuilder& fin() { return flags(Control::kFin); }
  SegmentBuilder& rst() { return flags(Control::kRst); }
  SegmentBuilder& psh() { return flags(Control::kPsh); }
  SegmentBuilder& window(std::uint16_t w) { r_.window = w; return *this; }
  SegmentBuilder& urgent(std::uint16_t u) { r_.urgent = u; r_.control |= Control::kUrg; return *this; }
  SegmentBuilder& mss(std::uint16_t m) { r_.mss = m; return *this; }
  SegmentBuilder& wscale(std::uint8_t s) { r_.window_scale = s; return *this; }
  SegmentBuilder& sack_permitted() { r_.sack_permitted = true; return *this; }
  SegmentBuilder& timestamps(std::uint32_t val, std::uint32_t ecr) { r_.timestamps = Timestamps{val, ecr}; return *this; }
  SegmentBuilder& sack(std::uint32_t left, std::uint32_t right) { r_.add_sack({SeqNum{left}, SeqNum{right}}); return *this; }
  SegmentBuilder& payload(std::string_view p) { payload_.assign(p); return *this; }

  Repr build() const {
    Repr r = r_;
    r.payload = as_bytes(payload_);
    return r;
  }
  std::vector<std::byte> bytes(const ip::PseudoHeader& ph) const { return emit_to_vector(build(), ph); }

 private:
  Repr r_;
  std::string payload_;
};

}  // namespace tapstack::tcp::testing
