// libFuzzer target for tcp/layer: arbitrary bytes as TCP segments into a TcpLayer holding one listener
// (192.0.2.1:80, a SYN queue of 2 so cookies kick in) and one established connection (from 198.51.100.2:40000),
// at advancing virtual time, with polls in between. Every segment the layer emits must parse under its own
// pseudo-header; no crash, no leak (the layer is rebuilt per input).
//
// Input: byte 0 bit 0 clear -> the rest is one segment for the established connection (ports rewritten,
// checksum fixed if bit 1). Bit 0 set -> records of [ctl][len hi][len lo][len bytes]:
//   ctl bits 0-1  target: 0 established connection, 1 listener (dst port 80), 2 closed port, 3 as given
//   bit 2         fix the checksum       bits 3-5  advance time by kSteps[n] before the segment
//   bit 6         application step (read all, send a little, or close/accept, by the length's parity)
//   bit 7         make seq/ack relative to the established connection's (reach in-window paths)
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "stack/random.hpp"
#include "tcp/layer.hpp"
#include "tcp/wire.hpp"

namespace {

using namespace tapstack;
using namespace tapstack::tcp;

const ip::IpAddress kUs = ip::Ipv4Address{{192, 0, 2, 1}};
const ip::IpAddress kPeer = ip::Ipv4Address{{198, 51, 100, 2}};
constexpr std::uint16_t kPort = 80;
constexpr std::uint16_t kPeerPort = 40000;
constexpr std::array<std::int64_t, 8> kStepsUs{0, 1'000, 10'000, 40'000, 200'000, 1'000'000, 10'000'000, 100'000'000};

void require(bool ok) {
  if (!ok) std::abort();
}

// Captures nothing but checks each emitted segment.
class CheckingSender final : public ip::IpSender {
 public:
  ip::SendResult send(Instant, const ip::IpSendParams& p, std::size_t len,
                      FunctionRef<void(MutableBytes, const ip::PseudoHeader&)> fill) noexcept override {
    require(p.protocol == 6 && p.dont_fragment && p.src.has_value());
    buf_.assign(len, std::byte{0});
    const ip::PseudoHeader ph{*p.src, p.dst, 6, std::uint32_t(len)};
    fill(buf_, ph);
    const auto v = View::parse(Bytes{buf_});
    require(v.has_value());
    const auto r = Repr::parse(*v, ph);
    require(r.has_value());
    require(!r->has_flags(Control::kRst) || r->payload.empty());
    last = *r;
    last.payload = {};
    ++sent;
    return ip::SendResult::kSent;
  }
  std::optional<ip::IpAddress> source_for(const ip::IpAddress& d) const noexcept override {
    return d.is_v4() ? std::optional<ip::IpAddress>{kUs} : std::nullopt;
  }
  std::size_t max_payload(const ip::IpAddress&) const noexcept override { return 1480; }
  bool is_local(const ip::IpAddress& a) const noexcept override { return a == kUs; }

  Repr last;
  std::size_t sent = 0;

 private:
  std::vector<std::byte> buf_;
};

struct World {
  SeededRng rng{0xf022};
  CheckingSender out;
  LayerConfig cfg = [] {
    LayerConfig c;
    c.syn_queue = 2;
    c.max_connections = 64;
    c.max_time_wait = 8;
    c.connection.send_buffer = 16 * 1024;
    c.connection.recv_buffer = 16 * 1024;
    return c;
  }();
  TcpLayer layer{rng, cfg, &out};
  Instant now = Instant::from_millis(1000);
  std::optional<ListenerHandle> listener;
  std::optional<ConnHandle> conn;
  SeqNum our_iss{}, peer_next{1001};

  World() {
    listener = *layer.listen({ip::Ipv4Address{}, kPort}, 4);
    Repr syn;
    syn.src_port = kPeerPort;
    syn.dst_port = kPort;
    syn.control = Control::kSyn;
    syn.seq = SeqNum{1000};
    syn.window = 65535;
    syn.mss = 1460;
    syn.window_scale = 7;
    syn.sack_permitted = true;
    deliver(syn, kPeer);
    layer.poll(now, out);
    our_iss = out.last.seq;
    Repr ack;
    ack.src_port = kPeerPort;
    ack.dst_port = kPort;
    ack.seq = SeqNum{1001};
    ack.ack = our_iss + 1;
    ack.window = 1024;
    deliver(ack, kPeer);
    conn = layer.accept(*listener);
    require(conn.has_value());
    layer.poll(now, out);
  }

  void deliver(const Repr& r, const ip::IpAddress& src) {
    std::vector<std::byte> b(r.buffer_len());
    r.emit(b, ip::PseudoHeader{src, kUs, 6, 0});
    feed(b, src);
  }
  void feed(Bytes b, const ip::IpAddress& src) {
    ip::IpPacketInfo info;
    info.src = src;
    info.dst = kUs;
    info.protocol = 6;
    info.ttl = 64;
    layer.on_packet(now, info, b);
  }

  void app_step(bool even) {
    if (conn) {
      if (Connection* c = layer.connection(*conn)) {
        std::array<std::byte, 4096> buf{};
        while (c->recv(buf) != 0) {
        }
        if (even) {
          c->send(as_bytes("fuzz"));
        } else {
          layer.close(now, *conn);
          conn.reset();
        }
      }
    }
    if (auto h = layer.accept(*listener)) layer.abort(now, *h);
  }
};

void one_segment(World& w, std::vector<std::byte>& seg, std::uint8_t target, bool fix_checksum, bool relative) {
  if (seg.size() >= kHeaderLen) {
    switch (target) {
      case 0:
        store_be16(seg, field::kSrcPort, kPeerPort);
        store_be16(seg, field::kDstPort, kPort);
        break;
      case 1:
        if (load_be16(seg, field::kSrcPort) == kPeerPort) store_be16(seg, field::kSrcPort, kPeerPort + 1);
        store_be16(seg, field::kDstPort, kPort);
        break;
      case 2:
        store_be16(seg, field::kDstPort, 9);
        break;
      default:
        break;
    }
    if (relative) {
      // Small signed offsets around what the connection expects.
      const auto ds = std::int16_t(load_be16(seg, field::kSeq + 2));
      const auto da = std::int16_t(load_be16(seg, field::kAck + 2));
      store_be32(seg, field::kSeq, (w.peer_next + std::uint32_t(std::int32_t(ds))).value());
      store_be32(seg, field::kAck, (w.our_iss + 1 + std::uint32_t(std::int32_t(da))).value());
    }
    if (fix_checksum) {
      if (const auto v = MutableView::parse(MutableBytes{seg})) v->fill_checksum({kPeer, kUs, 6, 0});
    }
  }
  w.feed(seg, kPeer);
  // Track the peer's sequence space loosely, so later relative segments stay near the window.
  if (const auto v = View::parse(Bytes{seg}); v && target == 0) {
    if (const auto r = Repr::parse(*v, {kPeer, kUs, 6, 0}); r && r->seq == w.peer_next)
      w.peer_next = w.peer_next + r->segment_len();
  }
  w.layer.poll(w.now, w.out);
}

void drain_timers(World& w) {
  // Run the timers forward a bounded number of times (RTO, delayed ACK, TIME-WAIT, SYN-ACK retries).
  for (int i = 0; i < 40; ++i) {
    const auto at = w.layer.poll_at();
    if (!at) break;
    if (*at > w.now) w.now = *at;
    w.layer.poll(w.now, w.out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  World w;
  const std::uint8_t mode = data[0];
  const Bytes in{reinterpret_cast<const std::byte*>(data) + 1, size - 1};
  if ((mode & 1) == 0) {
    std::vector<std::byte> seg(in.begin(), in.end());
    one_segment(w, seg, 0, (mode & 2) != 0, (mode & 4) != 0);
    drain_timers(w);
    return 0;
  }
  std::size_t off = 0;
  int records = 0;
  while (off + 3 <= in.size() && records < 256) {
    const std::uint8_t ctl = std::uint8_t(in[off]);
    const std::size_t len = std::min<std::size_t>(load_be16(in, off + 1), in.size() - off - 3);
    std::vector<std::byte> seg(in.begin() + std::ptrdiff_t(off + 3), in.begin() + std::ptrdiff_t(off + 3 + len));
    off += 3 + len;
    ++records;
    w.now += microseconds{kStepsUs[(ctl >> 3) & 7]};
    if ((ctl & 0x40) != 0) w.app_step(len % 2 == 0);
    one_segment(w, seg, ctl & 3, (ctl & 4) != 0, (ctl & 0x80) != 0);
  }
  drain_timers(w);
  require(w.layer.connection_count() <= w.cfg.max_connections);
  require(w.layer.time_wait_count() <= w.cfg.max_time_wait);
  return 0;
}
