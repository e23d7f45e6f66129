// UDP layer: socket table, demultiplexing (RFC 768, RFC 1122 §4.1.3), ICMP error routing (RFC 1122
// §4.1.3.3), RFC 6056 ephemeral ports and the transmit drain through ip::IpSender.
#include "udp/layer.hpp"

#include <algorithm>
#include <cerrno>

namespace tapstack::udp {
namespace {

std::error_code errc(int e) noexcept { return {e, std::generic_category()}; }

// Which ICMP errors a connected socket reports, and as what. Linux (icmp_err_convert) reports only the
// "hard" ones without IP_RECVERR; here unreachable net/host/admin are reported too, so a connected client
// learns early that its peer cannot be reached. Time exceeded and Frag Needed stay silent (transient / the
// IP layer's PMTU business).
std::error_code icmp_to_errno(ip::IcmpErrorInfo::Kind k) noexcept {
  using K = ip::IcmpErrorInfo::Kind;
  switch (k) {
    case K::kNetUnreachable:
      return errc(ENETUNREACH);
    case K::kHostUnreachable:
      return errc(EHOSTUNREACH);
    case K::kProtocolUnreachable:
      return errc(ENOPROTOOPT);
    case K::kPortUnreachable:
      return errc(ECONNREFUSED);
    case K::kAdminProhibited:
      return errc(EHOSTUNREACH);
    case K::kParameterProblem:
      return errc(EPROTO);
    case K::kFragNeeded:
    case K::kTimeExceeded:
    case K::kOther:
      return {};
  }
  return {};
}

// The RFC 6056 hash input: (local address, remote address, remote port), family-tagged.
std::array<std::byte, 1 + 16 + 16 + 2> port_hash_input(const ip::IpAddress& local,
                                                       const ip::Endpoint& remote) noexcept {
  std::array<std::byte, 1 + 16 + 16 + 2> in{};
  in[0] = std::byte(local.family());
  copy_bytes(MutableBytes{in}.subspan(1, 16), local.bytes());
  copy_bytes(MutableBytes{in}.subspan(17, 16), remote.addr.bytes());
  store_be16(in, 33, remote.port);
  return in;
}

}  // namespace

UdpLayer::UdpLayer(Rng& rng, const LayerConfig& config)
    : rng_{rng},
      config_{config},
      offset_key_{SipKey::random(rng)},
      table_key_{SipKey::random(rng)},
      closed_{SocketConfig{0, 0, 0, 0}} {
  if (config_.ephemeral_min > config_.ephemeral_max) std::swap(config_.ephemeral_min, config_.ephemeral_max);
  if (config_.ephemeral_min == 0) config_.ephemeral_min = 1;  // port 0 means "pick one", never a result
  closed_.open_ = false;
}

SocketHandle UdpLayer::open() { return open(config_.socket); }

SocketHandle UdpLayer::open(const SocketConfig& config) {
  std::uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = std::uint32_t(slots_.size());
    slots_.emplace_back();
    free_.reserve(slots_.size());
  }
  Slot& slot = slots_[index];
  slot.socket = std::make_unique<UdpSocket>(config);
  slot.socket->layer_ = this;
  slot.socket->handle_ = SocketHandle{index, slot.generation};
  return slot.socket->handle_;
}

UdpSocket* UdpLayer::find(SocketHandle h) noexcept {
  if (h.index >= slots_.size()) return nullptr;
  Slot& slot = slots_[h.index];
  if (!slot.socket || slot.generation != h.generation) return nullptr;
  return slot.socket.get();
}

UdpSocket& UdpLayer::socket(SocketHandle h) noexcept {
  UdpSocket* s = find(h);
  return s != nullptr ? *s : closed_;
}

void UdpLayer::close(SocketHandle h) noexcept {
  UdpSocket* s = find(h);
  if (s == nullptr) return;
  s->close();
  if (s->tx_.empty()) reclaim(h.index);
}

std::size_t UdpLayer::socket_count() const noexcept { return slots_.size() - free_.size(); }

void UdpLayer::reclaim(std::uint32_t index) noexcept {
  Slot& slot = slots_[index];
  slot.socket.reset();
  ++slot.generation;
  free_.push_back(index);  // capacity reserved in open(): no allocation here
}

bool UdpLayer::conflicts(const ip::Endpoint& local, bool reuse_addr) const noexcept {
  const auto it = ports_.find(local.port);
  if (it == ports_.end()) return false;
  for (const std::uint32_t i : it->second) {
    const UdpSocket& other = *slots_[i].socket;
    const ip::IpAddress& a = other.local_->addr;
    // Different families never overlap (as with IPV6_V6ONLY on every IPv6 socket).
    if (a.family() != local.addr.family()) continue;
    const bool overlap = a == local.addr || a.is_unspecified() || local.addr.is_unspecified();
    if (overlap && !(reuse_addr && other.reuse_addr_)) return true;  // SO_REUSEADDR must be set on both
  }
  return false;
}

std::optional<std::uint16_t> UdpLayer::ephemeral_port(const ip::IpAddress& local, const ip::Endpoint& remote) noexcept {
  // RFC 6056 §3.3.4, Algorithm 4 (double-hash), with §3.3.5's random increment after each pick.
  const auto in = port_hash_input(local, remote);
  const std::uint64_t offset = siphash24(offset_key_, in);
  std::uint32_t& counter = port_table_[siphash24(table_key_, in) % kPortTableSize];
  const std::uint32_t num = std::uint32_t(config_.ephemeral_max) - config_.ephemeral_min + 1;
  for (std::uint32_t tries = 0; tries < num; ++tries) {
    const auto port = std::uint16_t(config_.ephemeral_min + (offset + counter) % num);
    ++counter;
    // Ephemeral ports are unique while in use, whatever the address, so a later explicit bind to the
    // wildcard does not collide with them.
    if (ports_.find(port) == ports_.end()) {
      counter += rng_.uniform(kMaxPortIncrement);
      return port;
    }
  }
  return std::nullopt;
}

std::error_code UdpLayer::bind_socket(UdpSocket& s, const ip::Endpoint& local, const ip::Endpoint& remote) noexcept {
  if (!s.open_) return errc(EBADF);
  if (s.local_) return errc(EINVAL);
  ip::Endpoint ep = local;
  if (ep.port == 0) {
    const auto port = ephemeral_port(local.addr, remote);
    if (!port) return errc(EADDRINUSE);  // Linux: the range is exhausted
    ep.port = *port;
  } else if (conflicts(ep, s.reuse_addr_)) {
    return errc(EADDRINUSE);
  }
  // Deviation: a specific address is not checked against the interface's (EADDRNOTAVAIL in Linux); the
  // layer sees IpSender only during poll().
  ports_[ep.port].push_back(s.handle_.index);
  s.local_ = ep;
  return {};
}

void UdpLayer::unbind_socket(UdpSocket& s) noexcept {
  if (!s.local_) return;
  const auto it = ports_.find(s.local_->port);
  if (it == ports_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), s.handle_.index), v.end());
  if (v.empty()) ports_.erase(it);
}

void UdpLayer::count(ParseError e) noexcept {
  switch (e) {
    case ParseError::kTruncated:
      ++counters_.drop_truncated;
      break;
    case ParseError::kBadLength:
      ++counters_.drop_bad_length;
      break;
    case ParseError::kBadChecksum:
      ++counters_.drop_bad_checksum;
      break;
    case ParseError::kZeroChecksumV6:
      ++counters_.drop_zero_checksum_v6;
      break;
  }
}

UdpSocket* UdpLayer::demux_unicast(const ip::Endpoint& from, const ip::IpAddress& to, std::uint16_t port) noexcept {
  const auto it = ports_.find(port);
  if (it == ports_.end()) return nullptr;
  // Most specific wins: a connected 4-tuple beats a bound address, which beats the wildcard (Linux
  // compute_score). Among equals (SO_REUSEADDR), the first bound keeps receiving.
  UdpSocket* best = nullptr;
  int best_score = -1;
  for (const std::uint32_t i : it->second) {
    UdpSocket& s = *slots_[i].socket;
    if (!s.matches(from, to)) continue;
    const int score = (s.remote_ ? 2 : 0) + (s.local_->addr.is_unspecified() ? 0 : 1);
    if (score > best_score) {
      best = &s;
      best_score = score;
    }
  }
  return best;
}

ip::TransportHandler::Verdict UdpLayer::on_packet(Instant, const ip::IpPacketInfo& ip, Bytes payload) noexcept {
  ParseError why{};
  const auto view = View::parse(payload, why);
  if (!view) {
    count(why);
    return Verdict::kAccepted;
  }
  const auto repr = Repr::parse(*view, ip.pseudo(), why);
  if (!repr) {
    count(why);
    return Verdict::kAccepted;
  }
  const ip::Endpoint from{ip.src, repr->src_port};
  const bool group =
      ip.dst_broadcast || ip.dst_multicast || ip.dst.is_multicast() || (ip.dst.is_v4() && ip.dst.v4().is_broadcast());
  if (group) {
    // As Linux's __udp4_lib_mcast_deliver: every matching socket gets its own copy.
    bool matched = false;
    if (const auto it = ports_.find(repr->dst_port); it != ports_.end()) {
      for (const std::uint32_t i : it->second) {
        UdpSocket& s = *slots_[i].socket;
        if (!s.matches(from, ip.dst)) continue;
        matched = true;
        if (s.deliver(from, ip.dst, repr->payload))
          ++counters_.rx_datagrams;
        else
          ++counters_.drop_rx_queue_full;
      }
    }
    // RFC 1122 §3.2.2: never an ICMP error about a broadcast or multicast datagram.
    if (!matched) ++counters_.drop_no_socket;
    return Verdict::kAccepted;
  }
  UdpSocket* s = demux_unicast(from, ip.dst, repr->dst_port);
  if (s == nullptr) {
    // RFC 1122 §4.1.3.1: answer with ICMP Port Unreachable (the IP layer decides whether it may).
    ++counters_.drop_no_socket;
    ++counters_.port_unreachable;
    return Verdict::kPortUnreachable;
  }
  if (s->deliver(from, ip.dst, repr->payload))
    ++counters_.rx_datagrams;
  else
    ++counters_.drop_rx_queue_full;
  return Verdict::kAccepted;
}

void UdpLayer::on_icmp_error(Instant, const ip::IcmpErrorInfo& info, Bytes quoted) noexcept {
  ++counters_.icmp_errors;
  if (quoted.size() < 4) return;  // need both ports (RFC 792 promises 8 bytes; be lenient past 4)
  const std::uint16_t our_port = load_be16(quoted, field::kSrcPort);
  const ip::Endpoint peer{info.orig_dst, load_be16(quoted, field::kDstPort)};
  const auto it = ports_.find(our_port);
  if (it == ports_.end()) return;
  const std::error_code ec = icmp_to_errno(info.kind);
  if (!ec) return;
  // RFC 1122 §4.1.3.3 passes ICMP errors up; BSD/Linux report them only on connected sockets, whose
  // 4-tuple must match the quoted header (RFC 5927 §4.1: validate the quoted header).
  for (const std::uint32_t i : it->second) {
    UdpSocket& s = *slots_[i].socket;
    if (!s.open_ || !s.remote_ || *s.remote_ != peer) continue;
    const ip::IpAddress& a = s.local_->addr;
    if (a.family() != info.orig_src.family()) continue;
    if (!a.is_unspecified() && a != info.orig_src) continue;
    s.set_error(ec);
    ++counters_.icmp_errors_delivered;
    return;
  }
}

void UdpLayer::poll(Instant now, ip::IpSender& out) noexcept {
  for (std::uint32_t index = 0; index < slots_.size(); ++index) {
    UdpSocket* s = slots_[index].socket.get();
    if (s == nullptr) continue;
    while (const auto f = s->tx_.front()) {
      const DatagramMeta& meta = f->meta;
      ip::IpSendParams p;
      p.dst = meta.remote.addr;
      p.protocol = std::uint8_t(ip::IpProtocol::kUdp);
      p.ttl = s->ttl_;
      if (meta.local.addr.is_unspecified()) {
        p.src = out.source_for(p.dst);
      } else {
        p.src = meta.local.addr;
      }
      ip::SendResult result = ip::SendResult::kNoRoute;
      if (p.src) {
        const Repr repr{meta.local.port, meta.remote.port, f->payload};
        result = out.send(now, p, repr.buffer_len(),
                          [&repr](MutableBytes buf, const ip::PseudoHeader& ph) { repr.emit(buf, ph); });
      }
      switch (result) {
        case ip::SendResult::kSent:
        case ip::SendResult::kQueued:  // the IP layer holds it until ARP/NDP resolves
          ++counters_.tx_datagrams;
          break;
        case ip::SendResult::kNoRoute:
          ++counters_.drop_tx_no_route;
          s->set_error(errc(EHOSTUNREACH));
          break;
        case ip::SendResult::kTooBig:
          ++counters_.drop_tx_too_big;
          s->set_error(errc(EMSGSIZE));
          break;
        case ip::SendResult::kDropped:  // Linux drops silently for UDP without IP_RECVERR
          ++counters_.drop_tx_link;
          break;
      }
      s->tx_.pop();
    }
    if (!s->open_) reclaim(index);  // closed and now drained
  }
}

std::optional<Instant> UdpLayer::poll_at() const noexcept {
  for (const Slot& slot : slots_)
    if (slot.socket && !slot.socket->tx_.empty()) return Instant{};
  return std::nullopt;
}

}  // namespace tapstack::udp
