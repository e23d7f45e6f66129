// Two complete stacks back to back in memory for TCP integration tests: ip::Interface + tcp::TcpLayer on each
// side (192.0.2.1/24 and 192.0.2.2/24), joined by a MemoryLink pair with a FaultLink on each transmit path,
// and a ManualClock moved to the earliest poll_at() whenever both sides are idle. Deterministic (seeded).
//
//   wire taps:  iface A -> tx_a (CountingLink) -> fault_a (FaultLink) -> wire_a (CountingLink) -> MemoryLink
// so `tx_a` sees what A sent and `wire_a` what survived the faults (their difference is what was dropped).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ip/interface.hpp"
#include "stack/bytes.hpp"
#include "stack/fault_link.hpp"
#include "stack/memory_link.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/layer.hpp"

namespace tapstack::tcp::testing {

// A pass-through Link that counts the TCP payload bytes of the IPv4/TCP frames it transmits.
class CountingLink final : public Link {
 public:
  explicit CountingLink(Link& inner) : inner_{inner} {}
  std::size_t mtu() const noexcept override { return inner_.mtu(); }
  bool transmit(Instant now, Bytes frame) noexcept override {
    ++frames;
    tcp_payload_bytes += tcp_payload_len(frame);
    return inner_.transmit(now, frame);
  }
  std::optional<std::size_t> receive(Instant now, MutableBytes buf) noexcept override { return inner_.receive(now, buf); }
  std::optional<Instant> next_arrival() const noexcept override { return inner_.next_arrival(); }

  // Ethernet II + IPv4 (no fragments in these tests: TCP sets DF and sizes to the MTU) + TCP.
  static std::size_t tcp_payload_len(Bytes f) noexcept {
    if (f.size() < 14 + 20 || load_be16(f, 12) != 0x0800) return 0;
    const Bytes ip = f.subspan(14);
    const std::size_t ihl = std::size_t(load_u8(ip, 0) & 0x0f) * 4;
    const std::size_t total = load_be16(ip, 2);
    if (load_u8(ip, 9) != 6 || total > ip.size() || ihl + 20 > total) return 0;
    const std::size_t doff = std::size_t(load_u8(ip, ihl + 12) >> 4) * 4;
    return total >= ihl + doff ? total - ihl - doff : 0;
  }

  std::uint64_t frames = 0;
  std::uint64_t tcp_payload_bytes = 0;

 private:
  Link& inner_;
};

// The test data: a reproducible byte stream (xorshift) and a running FNV-1a hash to compare both ends.
class ByteStream {
 public:
  explicit ByteStream(std::uint64_t seed) : s_{seed | 1} {}
  // Fills `out` with the next bytes of the stream.
  void fill(MutableBytes out) noexcept {
    for (std::byte& b : out) {
      if (left_ == 0) {
        s_ ^= s_ << 13;
        s_ ^= s_ >> 7;
        s_ ^= s_ << 17;
        word_ = s_;
        left_ = 8;
      }
      b = std::byte(word_ & 0xff);
      word_ >>= 8;
      --left_;
    }
  }

 private:
  std::uint64_t s_;
  std::uint64_t word_ = 0;
  int left_ = 0;
};

struct Fnv1a {
  std::uint64_t h = 0xcbf29ce484222325ull;
  void add(Bytes b) noexcept {
    for (const std::byte x : b) {
      h ^= std::uint64_t(x);
      h *= 0x100000001b3ull;
    }
  }
};

// The size for the long transfers: TAPSTACK_TWO_STACKS_BYTES overrides `dflt` (suffixes K, M accepted).
inline std::size_t transfer_size(std::size_t dflt) {
  const char* env = std::getenv("TAPSTACK_TWO_STACKS_BYTES");
  if (env == nullptr || *env == '\0') return dflt;
  char* end = nullptr;
  std::size_t v = std::strtoull(env, &end, 10);
  if (end != nullptr && (*end == 'K' || *end == 'k')) v <<= 10;
  if (end != nullptr && (*end == 'M' || *end == 'm')) v <<= 20;
  return v == 0 ? dflt : v;
}

class TwoStacks {
 public:
  struct Options {
    FaultLink::Faults a_to_b{};
    FaultLink::Faults b_to_a{};
    std::uint64_t seed = 1;
    LayerConfig layer{};
    std::size_t link_queue_frames = 4096;
  };

  static constexpr ip::Ipv4Address kAddrA{{192, 0, 2, 1}};
  static constexpr ip::Ipv4Address kAddrB{{192, 0, 2, 2}};

  explicit TwoStacks(const Options& o)
      : links_{MemoryLink::pair(MemoryLink::Options{1500, o.link_queue_frames})},
        wire_a{*links_.first},
        wire_b{*links_.second},
        fault_a{wire_a, o.a_to_b, o.seed * 2 + 1},
        fault_b{wire_b, o.b_to_a, o.seed * 2 + 2},
        tx_a{fault_a},
        tx_b{fault_b},
        rng_a{o.seed * 7 + 3},
        rng_b{o.seed * 7 + 4},
        iface_a{tx_a, iface_config(kAddrA, 0x0a), rng_a},
        iface_b{tx_b, iface_config(kAddrB, 0x0b), rng_b},
        tcp_a{rng_a, o.layer, &iface_a},
        tcp_b{rng_b, o.layer, &iface_b} {
    iface_a.register_transport(ip::IpProtocol::kTcp, tcp_a);
    iface_b.register_transport(ip::IpProtocol::kTcp, tcp_b);
  }

  Instant now() noexcept { return clock.now(); }

  // One round: both interfaces receive, run timers and let TCP send.
  void poll() {
    iface_a.poll(now());
    iface_b.poll(now());
    ++rounds;
  }

  // When both sides have nothing to do at the current time: flush frames held back for reordering, or move
  // the clock to the earliest timer. False when nothing at all is scheduled (the stacks are quiescent).
  bool advance() {
    if (links_.first->pending() != 0 || links_.second->pending() != 0) return true;
    fault_a.flush(now());
    fault_b.flush(now());
    if (links_.first->pending() != 0 || links_.second->pending() != 0) return true;
    std::optional<Instant> next = iface_a.poll_at();
    const std::optional<Instant> nb = iface_b.poll_at();
    if (!next || (nb && *nb < *next)) next = nb;
    if (!next) return false;
    if (*next > now()) clock.set(*next);
    return true;
  }

  ManualClock clock{Instant::from_millis(1000)};
  std::uint64_t rounds = 0;

 private:
  static ip::InterfaceConfig iface_config(ip::Ipv4Address addr, std::uint8_t mac_last) {
    ip::InterfaceConfig c;
    c.mac = ip::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x00, mac_last}};
    c.ipv4 = ip::Ipv4Cidr{addr, 24};
    return c;
  }
  std::pair<std::unique_ptr<MemoryLink>, std::unique_ptr<MemoryLink>> links_;

 public:
  CountingLink wire_a, wire_b;  // what reaches the cable
  FaultLink fault_a, fault_b;
  CountingLink tx_a, tx_b;      // what each interface transmitted
  SeededRng rng_a, rng_b;
  ip::Interface iface_a, iface_b;
  TcpLayer tcp_a, tcp_b;
};

// A one-way bulk transfer A -> B (A connects to B's listener, sends `size` bytes, closes; B reads all).
struct TransferResult {
  bool completed = false;
  std::string failure;
  std::size_t received = 0;
  std::uint64_t sent_hash = 0, received_hash = 0;
  Connection::Stats sender{}, receiver{};
  Duration virtual_time{};
  std::uint64_t rounds = 0;
};

inline TransferResult run_transfer(TwoStacks& s, std::size_t size, const ConnectionConfig& cfg = {},
                                   Duration max_virtual = seconds{7 * 24 * 3600}, std::uint64_t max_rounds = 200'000'000) {
  TransferResult res;
  const Instant start = s.now();
  const auto listener = s.tcp_b.listen({TwoStacks::kAddrB, 5001}, 4, cfg);
  if (!listener) {
    res.failure = "listen: " + listener.error().message();
    return res;
  }
  const auto client = s.tcp_a.connect(s.now(), {TwoStacks::kAddrB, 5001}, std::nullopt, cfg);
  if (!client) {
    res.failure = "connect: " + client.error().message();
    return res;
  }
  std::optional<ConnHandle> server;
  ByteStream gen{0x5eed};
  Fnv1a sent_hash, recv_hash;
  std::vector<std::byte> chunk(256 * 1024), pending, rx(256 * 1024);
  std::size_t pending_off = 0, generated = 0;
  bool closed = false;
  std::uint64_t idle_rounds = 0;

  while (true) {
    s.poll();
    bool progress = false;
    // Sender: keep the send buffer full; close once everything is queued.
    if (const Connection* c = s.tcp_a.find(*client); c != nullptr) {
      if (c->is_closed() && !closed) {
        res.failure = "sender closed early: " + c->error().message();
        break;
      }
      if (!closed && c->send_free() > 0 && (pending_off < pending.size() || generated < size)) {
        Connection* w = s.tcp_a.connection(*client);
        while (w->send_free() > 0) {
          if (pending_off == pending.size()) {
            if (generated == size) break;
            pending.resize(std::min(chunk.size(), size - generated));
            gen.fill(pending);
            sent_hash.add(pending);
            generated += pending.size();
            pending_off = 0;
          }
          const std::size_t n = w->send(Bytes{pending}.subspan(pending_off));
          if (n == 0) break;
          pending_off += n;
          progress = true;
        }
      }
      // Close once everything is queued and the handshake is done (RFC 9293 §3.10.4: CLOSE in SYN-SENT
      // deletes the TCB, queued data included).
      if (!closed && generated == size && pending_off == pending.size() && is_synchronized(c->state())) {
        s.tcp_a.close(s.now(), *client);
        closed = true;
        progress = true;
      }
    }
    // Receiver.
    if (!server) {
      server = s.tcp_b.accept(*listener);
      if (server) progress = true;
    }
    if (server) {
      const Connection* c = s.tcp_b.find(*server);
      if (c == nullptr) {
        res.failure = "receiver connection vanished";
        break;
      }
      if (c->can_recv()) {
        Connection* r = s.tcp_b.connection(*server);
        while (const std::size_t n = r->recv(rx)) {
          recv_hash.add(Bytes{rx.data(), n});
          res.received += n;
          progress = true;
        }
      }
      if (c->recv_finished() || res.received >= size) {
        res.completed = res.received == size && c->recv_finished();
        if (!res.completed) res.failure = "stream ended after " + std::to_string(res.received) + " bytes";
        res.sender = s.tcp_a.find(*client) ? s.tcp_a.find(*client)->stats() : Connection::Stats{};
        res.receiver = c->stats();
        break;
      }
      if (c->is_closed()) {
        res.failure = "receiver closed: " + c->error().message();
        break;
      }
    }
    if (s.now() - start > max_virtual) {
      res.failure = "virtual time limit after " + std::to_string(res.received) + " bytes";
      break;
    }
    if (s.rounds > max_rounds) {
      res.failure = "round limit";
      break;
    }
    const Instant before = s.now();
    if (!s.advance()) {
      res.failure = "stacks quiescent after " + std::to_string(res.received) + " bytes";
      break;
    }
    // A livelock guard: rounds at one instant without application progress.
    idle_rounds = (progress || s.now() != before) ? 0 : idle_rounds + 1;
    if (idle_rounds > 1'000'000) {
      res.failure = "no progress at one instant";
      break;
    }
  }
  res.sent_hash = sent_hash.h;
  res.received_hash = recv_hash.h;
  res.virtual_time = s.now() - start;
  res.rounds = s.rounds;
  return res;
}

}  // namespace tapstack::tcp::testing
