// The TcpLayer transcript harness (tests/tcp/layer_test.cpp, layer_fin_wait2_test.cpp): crafted peer segments
// in through on_packet, and what poll() sends captured through a fake IpSender and parsed again.
#pragma once
#include <gtest/gtest.h>

#include <vector>

#include "segment_builder.hpp"
#include "tcp/layer.hpp"

namespace tapstack::tcp::testing {

const ip::IpAddress kUs = ip::Ipv4Address{{192, 0, 2, 1}};
const ip::IpAddress kPeer = ip::Ipv4Address{{198, 51, 100, 2}};
const ip::IpAddress kPeer2 = ip::Ipv4Address{{198, 51, 100, 3}};
constexpr std::uint16_t kPort = 80;
constexpr Instant kT0 = Instant::from_millis(10'000);

// One packet the layer sent, with its parsed segment.
struct Sent {
  ip::IpSendParams params;
  std::vector<std::byte> bytes;
  Repr repr;  // payload points into `bytes`
};

class FakeSender final : public ip::IpSender {
 public:
  ip::SendResult send(Instant, const ip::IpSendParams& p, std::size_t payload_len,
                      FunctionRef<void(MutableBytes, const ip::PseudoHeader&)> fill) noexcept override {
    const ip::PseudoHeader ph{p.src.value_or(kUs), p.dst, p.protocol, std::uint32_t(payload_len)};
    auto& s = sent.emplace_back();
    s.params = p;
    s.bytes.resize(payload_len);
    fill(s.bytes, ph);
    return ip::SendResult::kSent;
  }
  std::optional<ip::IpAddress> source_for(const ip::IpAddress& dst) const noexcept override {
    if (dst.is_v4()) return kUs;
    return std::nullopt;
  }
  std::size_t max_payload(const ip::IpAddress&) const noexcept override { return 1480; }
  bool is_local(const ip::IpAddress& a) const noexcept override { return a == kUs; }

  std::vector<Sent> sent;
};

class Harness {
 public:
  explicit Harness(LayerConfig cfg = {}) : layer{rng, cfg, &out} {}

  // Feeds a peer segment (window defaults to 65535 when the builder left it at 0).
  ip::TransportHandler::Verdict feed(const SegmentBuilder& b, const ip::IpAddress& src = kPeer,
                                     const ip::IpAddress& dst = kUs) {
    Repr r = b.build();
    if (r.window == 0 && !r.has_flags(Control::kRst)) r.window = 65535;
    const ip::PseudoHeader ph{src, dst, 6, 0};
    const auto bytes = testing::emit_to_vector(r, ph);
    return feed_bytes(bytes, src, dst);
  }
  ip::TransportHandler::Verdict feed_bytes(const std::vector<std::byte>& bytes, const ip::IpAddress& src = kPeer,
                                           const ip::IpAddress& dst = kUs, bool broadcast = false) {
    ip::IpPacketInfo info;
    info.src = src;
    info.dst = dst;
    info.protocol = 6;
    info.ttl = 64;
    info.dst_broadcast = broadcast;
    return layer.on_packet(now, info, bytes);
  }
  // Polls and returns what was sent, parsed (each packet checked against its own pseudo-header).
  std::vector<Sent> poll() {
    out.sent.clear();
    layer.poll(now, out);
    std::vector<Sent> got = std::move(out.sent);
    out.sent.clear();
    for (Sent& s : got) {
      const ip::PseudoHeader ph{s.params.src.value_or(kUs), s.params.dst, 6, 0};
      const auto v = View::parse(s.bytes);
      EXPECT_TRUE(v.has_value());
      const auto r = Repr::parse(*v, ph);
      EXPECT_TRUE(r.has_value()) << "the layer emitted a segment that does not parse";
      if (r) s.repr = *r;
      EXPECT_TRUE(s.params.dont_fragment);
      EXPECT_EQ(s.params.protocol, 6);
    }
    return got;
  }
  // Polls and expects exactly one segment.
  Repr poll_one() {
    sent_ = poll();
    EXPECT_EQ(sent_.size(), 1u);
    if (sent_.empty()) return Repr{};
    return sent_.front().repr;
  }

  // Peer (port `peer_port`, ISN `peer_iss`) opens a connection to us: SYN, our SYN-ACK, final ACK.
  // Returns our ISS.
  SeqNum handshake(std::uint16_t peer_port, SeqNum peer_iss, const ip::IpAddress& peer = kPeer) {
    feed(SegmentBuilder().ports(peer_port, kPort).seq(peer_iss).syn().mss(1460), peer);
    const Repr synack = poll_one();
    EXPECT_EQ(synack.flags(), Control::kSyn | Control::kAck);
    EXPECT_EQ(synack.ack, std::optional<SeqNum>{peer_iss + 1});
    feed(SegmentBuilder().ports(peer_port, kPort).seq(peer_iss + 1).ack(synack.seq + 1), peer);
    poll();
    return synack.seq;
  }

  // A listener on kUs:kPort with `cfg`, the peer's handshake to it from `peer_port` (ISN `peer_iss`), and the
  // connection accepted: its handle and our ISS.
  struct Accepted {
    ConnHandle conn{};
    SeqNum iss{};
  };
  Accepted listen_and_accept(std::uint16_t peer_port, SeqNum peer_iss, const ConnectionConfig& cfg = {}) {
    Accepted a;
    const auto l = layer.listen({kUs, kPort}, 4, cfg);
    EXPECT_TRUE(l);
    if (!l) return a;
    a.iss = handshake(peer_port, peer_iss);
    const auto c = layer.accept(*l);
    EXPECT_TRUE(c);
    if (c) a.conn = *c;
    return a;
  }

  SeededRng rng{42};
  FakeSender out;
  TcpLayer layer;
  Instant now = kT0;

 private:
  std::vector<Sent> sent_;
};

inline ConnectionConfig small_buffers() {
  ConnectionConfig c;
  c.send_buffer = 4096;
  c.recv_buffer = 4096;
  return c;
}

}  // namespace tapstack::tcp::testing
