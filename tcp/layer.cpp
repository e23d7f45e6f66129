// TCP layer: segment parsing and demux (RFC 9293 §3.10.7), listeners with SYN/accept queues and SYN cookies
// (RFC 4987), RSTs for segments to nobody (§3.10.7.1), ISNs (RFC 6528), ephemeral ports (RFC 6056), and the
// ready-set / timer-heap driven transmit loop.
#include "tcp/layer.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <new>

namespace tapstack::tcp {
namespace {

std::error_code errc(int e) noexcept { return {e, std::generic_category()}; }

// Deadlines in the heap: std::push_heap builds a max-heap, so "less" is "later".
struct Later {
  template <class E>
  bool operator()(const E& a, const E& b) const noexcept {
    return a.at > b.at;
  }
};

void count_wire(TcpCounters& c, DropReason r) noexcept {
  switch (r) {
    case DropReason::kTruncated: ++c.drop_truncated; break;
    case DropReason::kBadOffset: ++c.drop_bad_offset; break;
    case DropReason::kBadChecksum: ++c.drop_bad_checksum; break;
    case DropReason::kBadFlags: ++c.drop_bad_flags; break;
  }
}

bool overlaps(const ip::IpAddress& a, const ip::IpAddress& b) noexcept {
  // Different families never overlap (IPV6_V6ONLY semantics, as udp/ does).
  if (a.family() != b.family()) return false;
  return a == b || a.is_unspecified() || b.is_unspecified();
}

}  // namespace

TcpLayer::TcpLayer(Rng& rng, const LayerConfig& config, const ip::IpSender* routes)
    : rng_{rng},
      config_{config},
      routes_{routes},
      isn_{rng},
      cookies_{rng},
      ports_{rng, config.ephemeral},
      demux_{0, TupleHash{SipKey::random(rng)}} {
  if (config_.control_queue == 0) config_.control_queue = 1;
  if (config_.segments_per_poll == 0) config_.segments_per_poll = 1;
  control_.reserve(config_.control_queue);
}

TcpLayer::~TcpLayer() = default;

std::size_t TcpLayer::TupleHash::operator()(const FourTuple& t) const noexcept {
  std::array<std::byte, 38> in{};
  std::size_t n = 0;
  for (const ip::Endpoint* e : {&t.local, &t.remote}) {
    const Bytes a = e->addr.bytes();  // 4 or 16 bytes; the family is in the length
    std::memcpy(in.data() + n, a.data(), a.size());
    n += a.size();
    store_be16(MutableBytes{in}, n, e->port);
    n += 2;
  }
  in[n++] = std::byte(t.local.addr.is_v4() ? 4 : 6);
  return std::size_t(siphash24(key, Bytes{in}.first(n)));
}

// ---------------------------------------------------------------------------------------------------
// Slab, demux, ready set and timers

TcpLayer::Slot* TcpLayer::slot_for(ConnHandle h) noexcept {
  if (h.index >= slots_.size()) return nullptr;
  Slot& s = slots_[h.index];
  if (!s.conn || s.generation != h.generation) return nullptr;
  return &s;
}

const TcpLayer::Slot* TcpLayer::slot_for(ConnHandle h) const noexcept {
  return const_cast<TcpLayer*>(this)->slot_for(h);
}

Result<ConnHandle> TcpLayer::insert(std::unique_ptr<Connection> c, Owner owner, ListenerHandle l) noexcept {
  std::uint32_t index;
  try {
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = std::uint32_t(slots_.size());
      slots_.emplace_back();
      free_.reserve(slots_.size());
      ready_.reserve(slots_.size());
      work_.reserve(slots_.size());
    }
    demux_.reserve(demux_.size() + 1);
    port_refs_.reserve(port_refs_.size() + 1);
  } catch (...) {
    return errc(ENOMEM);
  }
  Slot& s = slots_[index];
  s.conn = std::move(c);
  s.owner = owner;
  s.listener = l;
  s.linked = s.time_wait = false;  // `ready` stays: the index may still sit in ready_ from its last life
  s.timer.reset();
  s.fin_wait2_deadline.reset();
  link(index);
  mark_ready(index);  // a new connection has its SYN / SYN-ACK to send
  return ConnHandle{index, s.generation};
}

void TcpLayer::link(std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  if (s.linked) return;
  try {
    const auto [it, inserted] = demux_.emplace(s.conn->tuple(), index);
    if (!inserted) return;  // callers checked uniqueness; never steal another connection's tuple
    ++port_refs_[s.conn->tuple().local.port];
  } catch (...) {
    return;  // reserved in insert(): does not happen
  }
  s.linked = true;
}

void TcpLayer::unlink(std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  if (s.time_wait) {
    s.time_wait = false;
    --time_wait_count_;
  }
  if (!s.linked) return;
  s.linked = false;
  demux_.erase(s.conn->tuple());
  const auto it = port_refs_.find(s.conn->tuple().local.port);
  if (it != port_refs_.end() && --it->second == 0) port_refs_.erase(it);
}

void TcpLayer::reap(std::uint32_t index) noexcept {
  unlink(index);
  Slot& s = slots_[index];
  s.conn.reset();
  s.owner = Owner::kFree;
  s.timer.reset();  // `ready` stays set while the index sits in ready_: poll() skips the empty slot
  s.fin_wait2_deadline.reset();
  ++s.generation;
  free_.push_back(index);  // capacity reserved in insert()
  ++counters_.connections_reaped;
  prune_timers();
}

void TcpLayer::mark_ready(std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  if (s.ready) return;
  s.ready = true;
  ready_.push_back(index);  // capacity reserved in insert(): one entry per slot at most
}

void TcpLayer::schedule(std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  std::optional<Instant> at = s.conn->poll_at();
  if (s.fin_wait2_deadline && (!at || *s.fin_wait2_deadline < *at)) at = s.fin_wait2_deadline;
  if (at == s.timer) return;
  s.timer = at;
  if (at) {
    try {
      // Lazy deletion leaves stale entries behind; rebuild when they dominate.
      if (timers_.size() > 4 * connection_count() + 1024) {
        timers_.clear();
        for (std::uint32_t i = 0; i < slots_.size(); ++i)
          if (slots_[i].conn && slots_[i].timer) timers_.push_back({*slots_[i].timer, i, slots_[i].generation});
        std::make_heap(timers_.begin(), timers_.end(), Later{});
      } else {
        timers_.push_back({*at, index, s.generation});
        std::push_heap(timers_.begin(), timers_.end(), Later{});
      }
    } catch (...) {
      mark_ready(index);  // no memory for the heap: fall back to polling it next time
    }
  }
  prune_timers();
}

void TcpLayer::prune_timers() noexcept {
  // Keeps the top valid, so poll_at() (const) can read it directly.
  while (!timers_.empty()) {
    const TimerEntry& e = timers_.front();
    const Slot& s = slots_[e.index];
    if (s.conn && s.generation == e.generation && s.timer == e.at) return;
    std::pop_heap(timers_.begin(), timers_.end(), Later{});
    timers_.pop_back();
  }
}

bool TcpLayer::fin_wait2_timer(Instant now, std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  const std::optional<Duration>& timeout = s.conn->config().fin_wait2_timeout;
  if (s.owner != Owner::kOrphan || s.conn->state() != State::kFinWait2 || !timeout) {
    s.fin_wait2_deadline.reset();  // not (or no longer) an orphan waiting for a FIN
    return false;
  }
  if (!s.fin_wait2_deadline) {
    // From the later of the ACK of our FIN and the application's close, as Linux's tcp_rcv_state_process()
    // and tcp_close() arm it; segments that arrive meanwhile do not push it back.
    s.fin_wait2_deadline = now + *timeout;
    return false;
  }
  if (now < *s.fin_wait2_deadline) return false;
  // Nothing is sent: our FIN was acknowledged, and Linux's FIN_WAIT2 timewait socket expires just as quietly.
  // Later segments for the 4-tuple meet CLOSED or a listener and draw a RST (RFC 9293 §3.10.7.1, §3.10.7.2).
  ++counters_.fin_wait2_timeouts;
  reap(index);
  return true;
}

void TcpLayer::on_closed(std::uint32_t index) noexcept {
  Slot& s = slots_[index];
  unlink(index);  // a closed connection no longer owns its 4-tuple: new segments get the CLOSED treatment
  if (s.owner == Owner::kHalfOpen) {
    // RFC 9293 §3.10.7.4: a RST in SYN-RECEIVED that came from LISTEN returns it to LISTEN, i.e. the
    // half-open entry goes away and the listener is untouched. Same for a handshake that timed out.
    if (Listener* l = listener_for(s.listener)) l->remove_half_open();
    ++counters_.half_open_dropped;
    s.owner = Owner::kOrphan;
  }
  s.timer.reset();
  prune_timers();
}

void TcpLayer::settle(std::uint32_t index, bool reschedule) noexcept {
  Slot& s = slots_[index];
  Connection& c = *s.conn;
  if (c.is_closed()) {
    on_closed(index);
    if (s.owner == Owner::kOrphan) mark_ready(index);  // drain a pending RST, then poll() reaps it
    return;
  }
  if (s.owner == Owner::kHalfOpen && is_synchronized(c.state())) {
    Listener* l = listener_for(s.listener);
    if (l != nullptr && l->on_established(ConnHandle{index, s.generation})) {
      s.owner = Owner::kAcceptQueue;
    } else {
      if (l != nullptr) l->remove_half_open();
      s.owner = Owner::kOrphan;
      c.abort();
      mark_ready(index);
    }
  }
  if (c.state() == State::kTimeWait && !s.time_wait && s.linked) {
    s.time_wait = true;
    ++time_wait_count_;
    try {
      time_wait_fifo_.push_back(ConnHandle{index, s.generation});
    } catch (...) {
    }
    compact_time_wait_fifo();
    if (time_wait_count_ > config_.max_time_wait) {
      evict_time_wait();
      if (!s.conn || !s.linked) return;  // it was this one (max_time_wait 0)
    }
  }
  if (reschedule) schedule(index);
}

void TcpLayer::compact_time_wait_fifo() noexcept {
  // Entries go stale when their connection leaves TIME-WAIT normally; drop them from the front, and rebuild
  // when stale ones in the middle dominate, so the FIFO stays proportional to time_wait_count_.
  auto stale = [this](ConnHandle h) {
    const Slot* s = slot_for(h);
    return s == nullptr || !s->time_wait;
  };
  while (!time_wait_fifo_.empty() && stale(time_wait_fifo_.front())) time_wait_fifo_.pop_front();
  if (time_wait_fifo_.size() > 2 * time_wait_count_ + 64)
    time_wait_fifo_.erase(std::remove_if(time_wait_fifo_.begin(), time_wait_fifo_.end(), stale), time_wait_fifo_.end());
}

void TcpLayer::evict_time_wait() noexcept {
  while (!time_wait_fifo_.empty()) {
    const ConnHandle h = time_wait_fifo_.front();
    time_wait_fifo_.pop_front();
    Slot* s = slot_for(h);
    if (s == nullptr || !s->time_wait) continue;  // stale: reaped or left TIME-WAIT already
    ++counters_.time_wait_evicted;
    unlink(h.index);
    if (s->owner == Owner::kOrphan) {
      reap(h.index);
    } else {
      // The application still holds the handle: keep the object, but stop serving its 4-tuple.
      s->timer.reset();
      prune_timers();
    }
    return;
  }
}

bool TcpLayer::make_room() noexcept {
  if (connection_count() < config_.max_connections) return true;
  if (time_wait_count_ > 0) {
    const std::size_t before = connection_count();
    while (time_wait_count_ > 0 && connection_count() >= before) {
      const std::size_t tw = time_wait_count_;
      evict_time_wait();
      if (time_wait_count_ == tw) break;
    }
  }
  return connection_count() < config_.max_connections;
}

// ---------------------------------------------------------------------------------------------------
// Listeners and addresses

Listener* TcpLayer::listener_for(ListenerHandle h) noexcept {
  if (h.index >= listeners_.size()) return nullptr;
  ListenerSlot& s = listeners_[h.index];
  if (!s.listener || s.generation != h.generation) return nullptr;
  return &*s.listener;
}

const Listener* TcpLayer::listener(ListenerHandle h) const noexcept {
  return const_cast<TcpLayer*>(this)->listener_for(h);
}

std::optional<std::uint32_t> TcpLayer::find_listener(const ip::IpAddress& addr, std::uint16_t port) const noexcept {
  const auto it = listen_ports_.find(port);
  if (it == listen_ports_.end()) return std::nullopt;
  // A listener on the exact address beats the wildcard of the same family (Linux compute_score).
  std::optional<std::uint32_t> wildcard;
  for (const std::uint32_t i : it->second) {
    const ip::IpAddress& a = listeners_[i].listener->local().addr;
    if (a == addr) return i;
    if (a.is_unspecified() && a.family() == addr.family()) wildcard = i;
  }
  return wildcard;
}

bool TcpLayer::port_has_listener(std::uint16_t port, const ip::IpAddress& addr) const noexcept {
  const auto it = listen_ports_.find(port);
  if (it == listen_ports_.end()) return false;
  for (const std::uint32_t i : it->second)
    if (overlaps(listeners_[i].listener->local().addr, addr)) return true;
  return false;
}

std::uint16_t TcpLayer::local_mss(const ip::IpAddress& remote) const noexcept {
  // RFC 9293 §3.7.1: MSS = the largest transport payload toward the peer minus the fixed TCP header
  // (RFC 6691: options are not subtracted from the advertised value).
  const std::uint16_t fallback = remote.is_v4() ? 1460 : 1440;
  if (routes_ == nullptr) return fallback;
  const std::size_t max = routes_->max_payload(remote);
  if (max <= kHeaderLen + kMinPeerMss) return remote.is_v4() ? kDefaultMssV4 : kDefaultMssV6;
  return std::uint16_t(std::min<std::size_t>(max - kHeaderLen, 65535));
}

Result<ListenerHandle> TcpLayer::listen(const ip::Endpoint& local, std::size_t backlog) {
  return listen(local, backlog, config_.connection);
}

Result<ListenerHandle> TcpLayer::listen(const ip::Endpoint& local, std::size_t backlog, const ConnectionConfig& cfg,
                                        bool reuse_addr) {
  if (local.addr.is_multicast()) return errc(EINVAL);
  ip::Endpoint ep = local;
  if (ep.port == 0) {
    const auto port = ports_.allocate(ep.addr, ip::Endpoint{}, [&](std::uint16_t p) {
      return port_has_listener(p, ep.addr) || port_refs_.contains(p);
    });
    if (!port) return errc(EADDRINUSE);
    ep.port = *port;
  } else {
    // Two listeners never share an address and port (SO_REUSEPORT is not offered).
    if (port_has_listener(ep.port, ep.addr)) return errc(EADDRINUSE);
    // Connections still on the port (a previous server's TIME-WAIT, an outgoing connection) block a new
    // listener unless SO_REUSEADDR, as in BSD and Linux.
    if (!reuse_addr && port_refs_.contains(ep.port)) {
      for (const auto& [tuple, index] : demux_) {
        (void)index;
        if (tuple.local.port == ep.port && overlaps(tuple.local.addr, ep.addr)) return errc(EADDRINUSE);
      }
    }
  }
  std::uint32_t index;
  if (!free_listeners_.empty()) {
    index = free_listeners_.back();
    free_listeners_.pop_back();
  } else {
    index = std::uint32_t(listeners_.size());
    listeners_.emplace_back();
    free_listeners_.reserve(listeners_.size());
  }
  ListenerSlot& s = listeners_[index];
  s.listener.emplace(ep, backlog, config_.syn_queue);
  s.cfg = cfg;
  listen_ports_[ep.port].push_back(index);
  return ListenerHandle{index, s.generation};
}

std::optional<ConnHandle> TcpLayer::accept(ListenerHandle lh) noexcept {
  Listener* l = listener_for(lh);
  if (l == nullptr) return std::nullopt;
  while (const auto h = l->pop_accept()) {
    Slot* s = slot_for(*h);
    if (s == nullptr || s->owner != Owner::kAcceptQueue) continue;
    s->owner = Owner::kApp;
    ++counters_.connections_accepted;
    mark_ready(h->index);
    return h;
  }
  return std::nullopt;
}

void TcpLayer::close_listener(ListenerHandle lh) noexcept {
  Listener* l = listener_for(lh);
  if (l == nullptr) return;
  auto reset = [this](std::uint32_t index) {
    Slot& s = slots_[index];
    s.owner = Owner::kOrphan;
    s.conn->abort();
    settle(index);
    mark_ready(index);
  };
  l->drain([&](ConnHandle h) {
    if (Slot* s = slot_for(h); s != nullptr && s->owner == Owner::kAcceptQueue) reset(h.index);
  });
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.conn && s.owner == Owner::kHalfOpen && s.listener == lh) reset(i);
  }
  const std::uint16_t port = l->local().port;
  if (const auto it = listen_ports_.find(port); it != listen_ports_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), lh.index), v.end());
    if (v.empty()) listen_ports_.erase(it);
  }
  ListenerSlot& ls = listeners_[lh.index];
  ls.listener.reset();
  ++ls.generation;
  free_listeners_.push_back(lh.index);
}

// ---------------------------------------------------------------------------------------------------
// Application side

Result<ConnHandle> TcpLayer::connect(Instant now, const ip::Endpoint& remote, std::optional<ip::Endpoint> local) {
  return connect(now, remote, local, config_.connection);
}

Result<ConnHandle> TcpLayer::connect(Instant now, const ip::Endpoint& remote, std::optional<ip::Endpoint> local,
                                     const ConnectionConfig& cfg) {
  if (remote.port == 0 || remote.addr.is_unspecified() || remote.addr.is_multicast()) return errc(EINVAL);
  ip::Endpoint src = local.value_or(ip::Endpoint{});
  if (src.addr.is_unspecified() || src.addr.family() != remote.addr.family()) {
    if (local && !local->addr.is_unspecified()) return errc(EINVAL);  // family mismatch
    const std::optional<ip::IpAddress> a = routes_ != nullptr ? routes_->source_for(remote.addr) : std::nullopt;
    if (!a) return errc(ENETUNREACH);
    src.addr = *a;
  }
  if (src.port != 0) {
    if (demux_.contains(FourTuple{src, remote})) return errc(EADDRINUSE);
  } else {
    // RFC 6056: any port that keeps the 4-tuple unique, and not one a listener owns.
    const auto port = ports_.allocate(src.addr, remote, [&](std::uint16_t p) {
      return demux_.contains(FourTuple{ip::Endpoint{src.addr, p}, remote}) || port_has_listener(p, src.addr);
    });
    if (!port) return errc(EADDRNOTAVAIL);
    src.port = *port;
  }
  if (!make_room()) return errc(ENOBUFS);
  const FourTuple t{src, remote};
  std::unique_ptr<Connection> c;
  try {
    c = std::make_unique<Connection>(now, t, isn_.isn(now, t.local, t.remote), local_mss(remote.addr), cfg, rng_);
  } catch (const std::bad_alloc&) {
    return errc(ENOMEM);
  }
  auto h = insert(std::move(c), Owner::kApp, ListenerHandle{});
  if (h) ++counters_.connections_opened;
  return h;
}

Connection* TcpLayer::connection(ConnHandle h) noexcept {
  Slot* s = slot_for(h);
  if (s == nullptr || s->owner != Owner::kApp) return nullptr;
  mark_ready(h.index);
  return s->conn.get();
}

const Connection* TcpLayer::find(ConnHandle h) const noexcept {
  const Slot* s = slot_for(h);
  return s == nullptr ? nullptr : s->conn.get();
}

void TcpLayer::close(Instant now, ConnHandle h) noexcept {
  Slot* s = slot_for(h);
  if (s == nullptr || s->owner != Owner::kApp) return;
  if (s->conn->recv_available() != 0 && is_synchronized(s->conn->state())) {
    ++counters_.close_unread_resets;
    abort(now, h);
    return;
  }
  s->owner = Owner::kOrphan;
  s->conn->close();
  s->conn->orphan();
  fin_wait2_timer(now, h.index);  // already in FIN-WAIT-2 after a half-close: the clock starts now
  settle(h.index);
  mark_ready(h.index);
}

void TcpLayer::abort(Instant, ConnHandle h) noexcept {
  Slot* s = slot_for(h);
  if (s == nullptr || s->owner != Owner::kApp) return;
  s->owner = Owner::kOrphan;
  s->conn->abort();
  settle(h.index);
  mark_ready(h.index);
}

// ---------------------------------------------------------------------------------------------------
// Receive

std::optional<std::uint32_t> TcpLayer::find_connection(const FourTuple& t) noexcept {
  // A bulk flow's segments come back to back: the last connection found is checked first (its slot must still
  // be linked under this very tuple), before the hash table.
  if (last_demux_ < slots_.size()) {
    const Slot& s = slots_[last_demux_];
    if (s.linked && s.conn && s.conn->tuple() == t) return last_demux_;
  }
  const auto it = demux_.find(t);
  if (it == demux_.end()) return std::nullopt;
  last_demux_ = it->second;
  return it->second;
}

ip::TransportHandler::Verdict TcpLayer::on_packet(Instant now, const ip::IpPacketInfo& ip, Bytes payload) noexcept {
  ++counters_.rx_segments;
  DropReason why{};
  const auto view = View::parse(payload, &why);
  if (!view) {
    count_wire(counters_, why);
    return Verdict::kAccepted;
  }
  const FourTuple t{ip::Endpoint{ip.dst, view->dst_port()}, ip::Endpoint{ip.src, view->src_port()}};
  const std::optional<std::uint32_t> found = find_connection(t);
  // RFC 9293 §3.1 MUST-3: verify every received checksum. An in-order segment of a connection that is
  // receiving has its payload copied into the receive buffer in the same pass (Connection::stage_payload);
  // whatever happens to the segment next, the guard forgets staged bytes that on_segment() did not publish.
  Connection* staged = nullptr;
  struct Unstage {
    Connection*& c;
    ~Unstage() {
      if (c != nullptr) c->drop_staged();
    }
  } unstage{staged};
  {
    ip::PseudoHeader ph = ip.pseudo();
    ph.protocol = std::uint8_t(ip::IpProtocol::kTcp);
    ph.length = std::uint32_t(payload.size());
    Checksum sum;
    ph.add_to(sum);
    const Bytes body = view->payload();
    sum.add(payload.first(payload.size() - body.size()));  // the header and its options
    if (!body.empty() && found && slots_[*found].owner != Owner::kHalfOpen) {
      Connection& c = *slots_[*found].conn;
      if (c.stage_payload(view->seq(), body, sum)) staged = &c;
    }
    if (staged == nullptr) sum.add(body);
    if (sum.finish() != 0) {
      count_wire(counters_, DropReason::kBadChecksum);
      return Verdict::kAccepted;
    }
  }
  const auto seg = Repr::parse_unverified(*view, &why);
  if (!seg) {
    count_wire(counters_, why);
    return Verdict::kAccepted;
  }
  // RFC 1122 §4.2.3.10 / RFC 9293 §3.9.1: TCP is unicast; a SYN to a broadcast or multicast address is
  // ignored, and nothing (not even a RST) answers such a segment.
  if (ip.dst_broadcast || ip.dst_multicast || ip.dst.is_multicast() ||
      (ip.dst.is_v4() && ip.dst.v4().is_broadcast())) {
    ++counters_.drop_not_unicast;
    return Verdict::kAccepted;
  }
  if (found) {
    const std::uint32_t index = *found;
    if (slots_[index].owner == Owner::kHalfOpen && cookie_supersedes(now, index, t, *seg))
      return Verdict::kAccepted;
    // on_segment() publishes or forgets the staged bytes itself, and settle() below may reap the connection
    // (TIME-WAIT eviction): the guard must not touch it after this point.
    staged = nullptr;
    slots_[index].conn->on_segment(now, *seg);
    if (slots_[index].conn->take_reset_on_data()) ++counters_.orphan_data_resets;
    // It may have queued an ACK, RST or challenge ACK: poll() drives it and then reschedules its timer, so
    // asking poll_at() here too would be wasted work on every segment.
    settle(index, /*reschedule=*/false);
    mark_ready(index);
    return Verdict::kAccepted;
  }
  if (const auto li = find_listener(ip.dst, seg->dst_port)) {
    on_listener_segment(now, *li, t, *seg);
    return Verdict::kAccepted;
  }
  // RFC 9293 §3.10.7.1 (CLOSED): "An incoming segment containing a RST is discarded. An incoming segment
  // not containing a RST causes a RST to be sent in response."
  if (seg->has_flags(Control::kRst)) {
    ++counters_.drop_rst_no_connection;
    return Verdict::kAccepted;
  }
  ++counters_.drop_no_connection;
  send_reset(t, *seg);
  return Verdict::kAccepted;
}

void TcpLayer::on_listener_segment(Instant now, std::uint32_t li, const FourTuple& t, const Repr& seg) noexcept {
  ListenerSlot& ls = listeners_[li];
  Listener& l = *ls.listener;
  const ListenerHandle lh{li, ls.generation};
  // RFC 9293 §3.10.7.2, in its order. First: "An incoming RST segment could not be valid ... it should be
  // ignored."
  if (seg.has_flags(Control::kRst)) {
    ++counters_.drop_listener_rst;
    return;
  }
  // Second: "Any acknowledgment is bad if it arrives on a connection still in the LISTEN state. An acceptable
  // reset segment should be formed for any arriving ACK-bearing segment." Except the last ACK of a SYN-cookie
  // handshake (RFC 4987 §3.6), checked only while this listener has been sending cookies.
  if (seg.ack) {
    if (config_.syn_cookies && !seg.has_flags(Control::kSyn) &&
        l.cookies_recent(now, 2 * SynCookies::kSlot)) {
      const SeqNum iss = *seg.ack - 1;
      const SeqNum irs = seg.seq - 1;
      std::optional<Connection::CookieTimestamps> ts;
      const auto mss = cookies_.check(now, t.local, t.remote, irs, iss);
      if (mss && cookie_timestamps(now, t, seg, ls.cfg, ts)) {
        complete_cookie(now, li, t, seg, *mss, ts);
        return;
      }
      ++counters_.syn_cookies_rejected;
    }
    ++counters_.drop_listener_ack;
    send_reset(t, seg);
    return;
  }
  // Third: SYN.
  if (!seg.has_flags(Control::kSyn)) {
    // "Any other control or text-bearing segment (not containing SYN) must have an ACK and thus would have
    // been discarded by the ACK processing ... drop the segment and return."
    ++counters_.drop_listener_no_syn;
    return;
  }
  switch (l.on_syn(config_.syn_cookies)) {
    case Listener::SynVerdict::kDropAcceptQueueFull:
      // RFC 4987 §3.1 / Linux: drop rather than RST, so the client retries once the application catches up.
      ++counters_.drop_accept_queue_full;
      return;
    case Listener::SynVerdict::kDropSynQueueFull:
      ++counters_.drop_syn_queue_full;
      return;
    case Listener::SynVerdict::kCookie: {
      const std::uint16_t peer_mss = seg.mss.value_or(t.remote.addr.is_v4() ? kDefaultMssV4 : kDefaultMssV6);
      Repr synack;
      synack.src_port = t.local.port;
      synack.dst_port = t.remote.port;
      synack.control = Control::kSyn;
      synack.seq = cookies_.make(now, t.local, t.remote, seg.seq, peer_mss);
      synack.ack = seg.seq + 1;
      // A SYN's window is never scaled (RFC 7323 §2.2): the largest the buffer allows.
      synack.window = std::uint16_t(std::min<std::size_t>(ls.cfg.recv_buffer, 65535));
      synack.mss = local_mss(t.remote.addr);
      if (ls.cfg.timestamps && seg.timestamps) {
        // The other options ride in our TSval (syn_cookie.hpp), each offered only as accept() would.
        SynCookies::TsOptions o;
        if (ls.cfg.window_scaling && seg.window_scale) {
          o.peer_wscale = std::min(*seg.window_scale, kMaxWindowScale);
          synack.window_scale = Connection::announced_wscale(ls.cfg);
        }
        o.sack = ls.cfg.sack && seg.sack_permitted;
        synack.sack_permitted = o.sack;
        const std::uint32_t ts_now = std::uint32_t(now.millis()) + cookies_.ts_offset(t.local, t.remote);
        synack.timestamps = Timestamps{SynCookies::encode_tsval(ts_now, o), seg.timestamps->tsval};
      }
      l.note_cookie_sent(now);
      ++counters_.syn_cookies_sent;
      queue_control(t.local.addr, t.remote.addr, synack);
      return;
    }
    case Listener::SynVerdict::kQueue:
      break;
  }
  if (!make_room()) {
    ++counters_.drop_too_many_connections;
    return;
  }
  std::unique_ptr<Connection> c;
  try {
    c = Connection::accept(now, t, isn_.isn(now, t.local, t.remote), seg, local_mss(t.remote.addr), ls.cfg, rng_);
  } catch (...) {
    ++counters_.drop_no_memory;
    return;
  }
  if (!c) {
    ++counters_.drop_no_memory;
    return;
  }
  const auto h = insert(std::move(c), Owner::kHalfOpen, lh);
  if (!h) {
    ++counters_.drop_no_memory;
    return;
  }
  l.add_half_open();
  ++counters_.syn_received;
  settle(h->index);
}

void TcpLayer::complete_cookie(Instant now, std::uint32_t li, const FourTuple& t, const Repr& seg,
                               std::uint16_t mss, const std::optional<Connection::CookieTimestamps>& ts) noexcept {
  ListenerSlot& ls = listeners_[li];
  Listener& l = *ls.listener;
  const ListenerHandle lh{li, ls.generation};
  if (l.accept_queue_full()) {
    ++counters_.drop_accept_queue_full;  // the peer retransmits; Linux drops it the same way
    return;
  }
  if (!make_room()) {
    ++counters_.drop_too_many_connections;
    return;
  }
  const SeqNum iss = *seg.ack - 1;
  const SeqNum irs = seg.seq - 1;
  std::unique_ptr<Connection> c;
  try {
    c = Connection::from_cookie(now, t, iss, irs, mss, local_mss(t.remote.addr), ls.cfg, rng_, ts);
  } catch (...) {
    ++counters_.drop_no_memory;
    return;
  }
  const auto h = insert(std::move(c), Owner::kAcceptQueue, lh);
  if (!h) {
    ++counters_.drop_no_memory;
    return;
  }
  if (!l.add_established(*h)) {  // cannot happen after the check above; stay consistent anyway
    slots_[h->index].owner = Owner::kOrphan;
    slots_[h->index].conn->abort();
  }
  ++counters_.syn_cookies_accepted;
  // connection.hpp: pass the completing ACK on; it may carry data and opens our send window.
  slots_[h->index].conn->on_segment(now, seg);
  settle(h->index);
}

bool TcpLayer::cookie_supersedes(Instant now, std::uint32_t index, const FourTuple& t, const Repr& seg) noexcept {
  // Linux (tcp_check_req -> cookie_v4_check through the listener) does the same: a SYN answered with a
  // cookie while the SYN queue was full, retransmitted once it had room, leaves a half-open entry with
  // another ISN; the peer's ACK of the cookie SYN-ACK must complete the cookie connection, not draw a RST.
  Slot& s = slots_[index];
  if (s.owner != Owner::kHalfOpen || s.conn->state() != State::kSynReceived) return false;
  if (!config_.syn_cookies || !seg.ack || seg.has_flags(Control::kSyn) || seg.has_flags(Control::kRst))
    return false;
  Listener* l = listener_for(s.listener);
  if (l == nullptr || !l->cookies_recent(now, 2 * SynCookies::kSlot)) return false;
  const auto mss = cookies_.check(now, t.local, t.remote, seg.seq - 1, *seg.ack - 1);
  std::optional<Connection::CookieTimestamps> ts;
  if (!mss || !cookie_timestamps(now, t, seg, listeners_[s.listener.index].cfg, ts)) return false;
  if (l->accept_queue_full()) {
    // Keep the half-open entry (its SYN-ACK may still complete it); the peer retransmits this ACK.
    ++counters_.drop_accept_queue_full;
    return true;
  }
  const std::uint32_t li = s.listener.index;
  // Retire the half-open entry silently: its slot goes back to the listener's SYN queue.
  unlink(index);
  l->remove_half_open();
  ++counters_.half_open_superseded;
  s.owner = Owner::kOrphan;
  reap(index);
  complete_cookie(now, li, t, seg, *mss, ts);
  return true;
}

bool TcpLayer::cookie_timestamps(Instant now, const FourTuple& t, const Repr& seg, const ConnectionConfig& cfg,
                                 std::optional<Connection::CookieTimestamps>& out) const noexcept {
  out.reset();
  if (!cfg.timestamps || !seg.timestamps) return true;  // a cookie without options
  const std::optional<SynCookies::TsOptions> o = SynCookies::decode_tsecr(seg.timestamps->tsecr);
  const std::uint32_t offset = cookies_.ts_offset(t.local, t.remote);
  const std::uint32_t ts_now = std::uint32_t(now.millis()) + offset;  // Connection::tsval's clock
  if (!o || std::int32_t(ts_now - seg.timestamps->tsecr) < 0) return false;
  out = Connection::CookieTimestamps{seg.timestamps->tsval, offset, o->peer_wscale, o->sack};
  return true;
}

void TcpLayer::send_reset(const FourTuple& t, const Repr& seg) noexcept {
  ++counters_.rst_sent;
  queue_control(t.local.addr, t.remote.addr, Repr::reset_for(seg));
}

void TcpLayer::queue_control(const ip::IpAddress& src, const ip::IpAddress& dst, const Repr& r) noexcept {
  if (control_.size() >= config_.control_queue) {
    ++counters_.drop_control_queue_full;
    return;
  }
  PendingSegment p{src, dst, r};
  p.repr.payload = {};
  control_.push_back(p);  // reserved in the constructor
}

void TcpLayer::on_icmp_error(Instant now, const ip::IcmpErrorInfo& info, Bytes quoted) noexcept {
  ++counters_.icmp_errors;
  // RFC 5927 §4.1: the quote must identify the connection (ports) and a sequence number to check; RFC 792
  // guarantees 8 bytes, which covers both.
  if (quoted.size() < 8) {
    ++counters_.drop_icmp_no_connection;
    return;
  }
  const FourTuple t{ip::Endpoint{info.orig_src, load_be16(quoted, field::kSrcPort)},
                    ip::Endpoint{info.orig_dst, load_be16(quoted, field::kDstPort)}};
  const std::optional<std::uint32_t> found = find_connection(t);
  if (!found) {
    ++counters_.drop_icmp_no_connection;
    return;
  }
  ++counters_.icmp_errors_delivered;
  const std::uint32_t index = *found;
  slots_[index].conn->on_icmp_error(now, info, SeqNum{load_be32(quoted, field::kSeq)});
  settle(index);
  mark_ready(index);
}

// ---------------------------------------------------------------------------------------------------
// Transmit

void TcpLayer::transmit(Instant now, ip::IpSender& out, const ip::IpAddress& src, const ip::IpAddress& dst,
                        const Repr& r) noexcept {
  ip::IpSendParams p;
  p.dst = dst;
  p.src = src;
  p.protocol = std::uint8_t(ip::IpProtocol::kTcp);
  p.dont_fragment = true;  // RFC 9293 §3.7.2 / RFC 1191: TCP sizes its segments to the path MTU
  const ip::SendResult res =
      out.send(now, p, r.buffer_len(), [&r](MutableBytes buf, const ip::PseudoHeader& ph) { r.emit(buf, ph); });
  switch (res) {
    case ip::SendResult::kSent:
    case ip::SendResult::kQueued:
      ++counters_.tx_segments;
      break;
    case ip::SendResult::kNoRoute:
      ++counters_.drop_tx_no_route;
      break;
    case ip::SendResult::kTooBig:
      ++counters_.drop_tx_too_big;
      break;
    case ip::SendResult::kDropped:
      ++counters_.drop_tx_link;  // lost like on the wire: the connection retransmits
      break;
  }
}

void TcpLayer::poll(Instant now, ip::IpSender& out) noexcept {
  if (routes_ == nullptr) routes_ = &out;
  for (const PendingSegment& p : control_) transmit(now, out, p.src, p.dst, p.repr);
  control_.clear();

  // Expired timers join the ready set.
  while (!timers_.empty() && timers_.front().at <= now) {
    const TimerEntry e = timers_.front();
    std::pop_heap(timers_.begin(), timers_.end(), Later{});
    timers_.pop_back();
    Slot& s = slots_[e.index];
    if (s.conn && s.generation == e.generation && s.timer == e.at) {
      s.timer.reset();
      mark_ready(e.index);
    }
  }
  prune_timers();

  // Drain the ready set. Work on a snapshot: what becomes ready meanwhile waits for the next poll().
  work_.swap(ready_);
  for (const std::uint32_t index : work_) {
    Slot& s = slots_[index];
    s.ready = false;
    if (!s.conn) continue;
    if (fin_wait2_timer(now, index)) continue;
    ++counters_.connections_polled;
    Connection& c = *s.conn;
    const FourTuple& t = c.tuple();
    auto emit = [&](const Repr& r) { transmit(now, out, t.local.addr, t.remote.addr, r); };
    std::size_t n = 0;
    bool more = true;
    const std::optional<std::uint32_t>& probes = c.config().orphan_zero_window_probes;
    if (s.owner == Owner::kOrphan && probes && c.zero_window_probes() >= *probes && !c.is_closed()) {
      // The last probe was answered with a zero window again, or its time ran out: nobody will read what this
      // orphan holds and the peer will not take it. Reset, as Linux gives an orphan tcp_orphan_retries probes.
      ++counters_.orphan_zero_window_aborts;
      c.abort();
    }
    while (n < config_.segments_per_poll && (more = c.poll_transmit(now, emit))) ++n;
    if (more) {
      mark_ready(index);  // hit the per-poll budget: continue next time
      continue;
    }
    if (c.is_closed()) {
      on_closed(index);
      if (s.owner == Owner::kOrphan) reap(index);  // drained: nothing left to send
      continue;
    }
    settle(index);
  }
  work_.clear();
}

std::optional<Instant> TcpLayer::poll_at() const noexcept {
  if (!control_.empty() || !ready_.empty()) return Instant{};
  if (timers_.empty()) return std::nullopt;
  return timers_.front().at;
}

}  // namespace tapstack::tcp
