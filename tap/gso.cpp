// GsoCoalescer and the virtio-net header. Offsets are checked against each frame's own length before any read:
// the frames come from the stack, but a frame this code does not understand is simply sent alone.
#include "tap/gso.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "stack/checksum.hpp"

namespace tapstack::tap {
namespace {

constexpr std::size_t kEth = 14;
constexpr std::size_t kIpv4Len = 20;  // only option-less IPv4 headers are merged
constexpr std::size_t kIpv6Len = 40;  // only IPv6 headers with TCP directly behind them are merged
constexpr std::size_t kTcpMinLen = 20;
constexpr std::size_t kMaxIpLen = 65535;  // IPv4 Total Length and IPv6 Payload Length are 16-bit
constexpr std::uint8_t kTcpProto = 6;
constexpr std::uint8_t kFlagAck = 0x10, kFlagPsh = 0x08;

bool same(Bytes a, Bytes b, std::size_t off, std::size_t len) noexcept {
  return std::memcmp(a.data() + off, b.data() + off, len) == 0;
}

}  // namespace

void VnetHeader::write(MutableBytes out) const noexcept {
  // Host byte order, field by field: the struct's own layout may carry padding.
  out[0] = std::byte(flags);
  out[1] = std::byte(gso_type);
  std::memcpy(out.data() + 2, &hdr_len, 2);
  std::memcpy(out.data() + 4, &gso_size, 2);
  std::memcpy(out.data() + 6, &csum_start, 2);
  std::memcpy(out.data() + 8, &csum_offset, 2);
}

VnetHeader VnetHeader::read(Bytes in) noexcept {
  VnetHeader h;
  h.flags = std::uint8_t(in[0]);
  h.gso_type = std::uint8_t(in[1]);
  std::memcpy(&h.hdr_len, in.data() + 2, 2);
  std::memcpy(&h.gso_size, in.data() + 4, 2);
  std::memcpy(&h.csum_start, in.data() + 6, 2);
  std::memcpy(&h.csum_offset, in.data() + 8, 2);
  return h;
}

bool complete_partial_checksum(const VnetHeader& h, MutableBytes frame) noexcept {
  const std::size_t start = h.csum_start;
  const std::size_t at = start + std::size_t(h.csum_offset);
  if (at + 2 > frame.size()) return false;
  // The field holds the pseudo-header sum; summing the span over it gives the complete sum. 0 and 0xffff are the
  // same one's-complement value, and 0xffff is the one a UDP checksum may carry.
  const auto sum = std::uint16_t(checksum_add(Bytes{frame}.subspan(start)));
  const auto v = std::uint16_t(~sum);
  store_be16(frame, at, v == 0 ? 0xffff : v);
  return true;
}

struct GsoCoalescer::Segment {
  bool v6 = false;
  std::size_t l4 = 0;       // TCP header offset
  std::size_t payload = 0;  // TCP payload offset
  std::size_t payload_len = 0;
  std::uint32_t seq = 0;
  std::uint8_t flags = 0;
};

namespace {

// A TCP segment with data and only ACK (and maybe PSH) set, in an Ethernet frame with no padding, over an
// option-less unfragmented IPv4 header or an IPv6 header without extension headers.
std::optional<std::pair<bool, std::size_t>> tcp_offsets(Bytes f) noexcept {
  if (f.size() < kEth) return std::nullopt;
  const std::uint16_t type = load_be16(f, 12);
  if (type == 0x0800) {
    if (f.size() < kEth + kIpv4Len || std::uint8_t(f[kEth]) != 0x45) return std::nullopt;
    if (load_be16(f, kEth + 2) != f.size() - kEth) return std::nullopt;
    if ((load_be16(f, kEth + 6) & 0x3fff) != 0) return std::nullopt;  // MF or a fragment offset
    if (std::uint8_t(f[kEth + 9]) != kTcpProto) return std::nullopt;
    return std::pair{false, kEth + kIpv4Len};
  }
  if (type == 0x86dd) {
    if (f.size() < kEth + kIpv6Len || (std::uint8_t(f[kEth]) >> 4) != 6) return std::nullopt;
    if (load_be16(f, kEth + 4) != f.size() - kEth - kIpv6Len) return std::nullopt;
    if (std::uint8_t(f[kEth + 6]) != kTcpProto) return std::nullopt;
    return std::pair{true, kEth + kIpv6Len};
  }
  return std::nullopt;
}

}  // namespace

GsoCoalescer::GsoCoalescer(std::size_t max_segments)
    : max_segments_{std::max<std::size_t>(max_segments, 1)}, held_(kEth + kIpv6Len + kMaxIpLen) {}

bool GsoCoalescer::add(Bytes frame, Sink sink) noexcept {
  ++counters_.frames_in;
  std::optional<Segment> seg;
  if (const auto o = tcp_offsets(frame)) {
    const std::size_t l4 = o->second;
    if (frame.size() >= l4 + kTcpMinLen) {
      const std::size_t doff = std::size_t(std::uint8_t(frame[l4 + 12]) >> 4) * 4;
      const auto flags = std::uint8_t(frame[l4 + 13]);
      const bool data_ack = (flags & kFlagAck) != 0 && (flags & ~(kFlagAck | kFlagPsh)) == 0;
      if (doff >= kTcpMinLen && l4 + doff < frame.size() && data_ack && frame.size() <= held_.size())
        seg = Segment{o->first, l4, l4 + doff, frame.size() - l4 - doff, load_be32(frame, l4 + 4), flags};
    }
  }
  if (seg && can_append(*seg, frame)) {
    std::memcpy(held_.data() + held_len_, frame.data() + seg->payload, seg->payload_len);
    held_len_ += seg->payload_len;
    ++held_segments_;
    next_seq_ += std::uint32_t(seg->payload_len);
    if ((seg->flags & kFlagPsh) != 0) {
      held_[l4_ + 13] |= std::byte{kFlagPsh};
      closed_ = true;
    }
    if (seg->payload_len < gso_size_ || held_segments_ == max_segments_) closed_ = true;
    return true;
  }
  flush(sink);  // a refusal of the held frame is the sink's to count; this frame is judged on its own
  // A segment with PSH could only ever go out alone (nothing may follow it): no point holding it to the end of
  // the batch. That is the request or reply of a request/response exchange, whose latency counts.
  if (seg && (seg->flags & kFlagPsh) == 0 && max_segments_ > 1) {
    hold(*seg, frame);
    return true;
  }
  ++counters_.frames_out;
  if (sink(VnetHeader{}, frame)) return true;
  ++counters_.refused_by_sink;
  return false;
}

bool GsoCoalescer::can_append(const Segment& s, Bytes f) const noexcept {
  if (held_len_ == 0 || closed_ || s.v6 != v6_ || s.payload != payload_ || s.payload_len > gso_size_) return false;
  if (s.seq != next_seq_) return false;
  const std::size_t ip_len = held_len_ - kEth - (v6_ ? kIpv6Len : 0) + s.payload_len;
  if (ip_len > kMaxIpLen) return false;
  const Bytes h{held_.data(), held_len_};
  if (!same(h, f, 0, kEth)) return false;
  if (v6_) {
    // Version, traffic class, flow label; next header, hop limit; both addresses. Not the payload length.
    if (!same(h, f, kEth, 4) || !same(h, f, kEth + 6, 2 + 32)) return false;
  } else {
    // TOS; flags and fragment offset; TTL, protocol; both addresses. Not the length, ID or checksum.
    if (!same(h, f, kEth + 1, 1) || !same(h, f, kEth + 6, 4) || !same(h, f, kEth + 12, 8)) return false;
  }
  // Ports; acknowledgment number, data offset; window, urgent pointer and every option byte (the timestamps
  // too: a merged frame carries one). Flags apart from PSH, which the held run does not have (it would be closed).
  if (!same(h, f, l4_, 4) || !same(h, f, l4_ + 8, 5) || !same(h, f, l4_ + 14, 2)) return false;
  if (!same(h, f, l4_ + 18, payload_ - l4_ - 18)) return false;
  return (std::uint8_t(h[l4_ + 13]) | kFlagPsh) == (s.flags | kFlagPsh);
}

void GsoCoalescer::hold(const Segment& s, Bytes frame) noexcept {
  std::memcpy(held_.data(), frame.data(), frame.size());
  held_len_ = frame.size();
  held_segments_ = 1;
  l4_ = s.l4;
  payload_ = s.payload;
  v6_ = s.v6;
  gso_size_ = std::uint16_t(s.payload_len);
  next_seq_ = s.seq + std::uint32_t(s.payload_len);
  closed_ = false;  // add() holds only a segment without PSH, with room for more
}

bool GsoCoalescer::flush(Sink sink) noexcept {
  if (held_len_ == 0) return true;
  const MutableBytes f{held_.data(), held_len_};
  VnetHeader h;
  if (held_segments_ > 1) {
    const std::size_t tcp_len = held_len_ - l4_;
    std::uint32_t pseudo = kTcpProto + std::uint32_t(tcp_len);
    if (v6_) {
      store_be16(f, kEth + 4, std::uint16_t(held_len_ - l4_));
      pseudo = checksum_add(Bytes{f}.subspan(kEth + 8, 32), pseudo);
    } else {
      store_be16(f, kEth + 2, std::uint16_t(held_len_ - kEth));
      store_be16(f, kEth + 10, 0);
      store_be16(f, kEth + 10, std::uint16_t(~checksum_add(Bytes{f}.subspan(kEth, kIpv4Len))));
      pseudo = checksum_add(Bytes{f}.subspan(kEth + 12, 8), pseudo);
    }
    // CHECKSUM_PARTIAL's convention: the field holds the pseudo-header sum, not complemented.
    store_be16(f, l4_ + 16, std::uint16_t(checksum_add({}, pseudo)));
    h.flags = VnetHeader::kNeedsCsum;
    h.gso_type = v6_ ? VnetHeader::kGsoTcpV6 : VnetHeader::kGsoTcpV4;
    h.hdr_len = std::uint16_t(payload_);
    h.gso_size = gso_size_;
    h.csum_start = std::uint16_t(l4_);
    h.csum_offset = 16;
    ++counters_.super_frames;
    counters_.segments_in_super_frames += held_segments_;
  }
  held_len_ = 0;
  held_segments_ = 0;
  ++counters_.frames_out;
  if (sink(h, Bytes{f})) return true;
  ++counters_.refused_by_sink;
  return false;
}

}  // namespace tapstack::tap
