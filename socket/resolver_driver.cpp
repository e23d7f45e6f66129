// ResolverDriver: the stack-loop side executes dns::Resolver's transmits on the runtime's UDP and TCP layers and
// feeds arrivals back; the application side (getaddrinfo) posts a request with Runtime::run_in_loop and sleeps
// on the runtime's event sequence until the loop has filled it in.
#include "socket/resolver_driver.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <span>
#include <variant>

#include "socket/constants.hpp"
#include "socket/core.hpp"
#include "socket/error.hpp"
#include "socket/runtime.hpp"
#include "tcp/state.hpp"

namespace tapstack::socket {
namespace {

// A bound on the transmits executed per drain, so that a misbehaving resolver cannot stall the loop.
constexpr int kMaxTransmitsPerDrain = 1024;

ip::IpAddress wildcard_like(const ip::IpAddress& a) noexcept {
  return a.is_v4() ? ip::IpAddress{ip::Ipv4Address{}} : ip::IpAddress{ip::Ipv6Address{}};
}

// The slow path of an abandoned lookup when the loop is not running (see wait_result).
std::mutex g_stopped_mutex;

}  // namespace

ResolverDriver::ResolverDriver(Runtime& rt) : rt_{rt}, resolver_{rt.cfg_.dns, *rt.rng_} {
  if (!rt.cfg_.hosts.empty()) resolver_.hosts().load(rt.cfg_.hosts);
  scratch_.resize(dns::kMaxMessage);
}

ResolverDriver::~ResolverDriver() {
  // The runtime is stopped (or manual and idle) here: release what the layers still hold for us.
  for (const UdpQuery& q : udp_) {
    if (q.socket) rt_.udp_->close(*q.socket);
  }
  for (const TcpQuery& q : tcp_) {
    if (q.conn) rt_.tcp_->abort(rt_.now_, *q.conn);
  }
}

int ResolverDriver::gai_error(dns::QueryStatus s) noexcept {
  switch (s) {
    case dns::QueryStatus::kDone:
    case dns::QueryStatus::kPending:
      return 0;
    case dns::QueryStatus::kNxDomain:
    case dns::QueryStatus::kNoData:
    case dns::QueryStatus::kBadName:
    case dns::QueryStatus::kUnsupported:
      return EAI_NONAME;
    case dns::QueryStatus::kTimeout:
    case dns::QueryStatus::kServFail:
    case dns::QueryStatus::kOverloaded:
      return EAI_AGAIN;
    case dns::QueryStatus::kRefused:
    case dns::QueryStatus::kNoServers:
      return EAI_FAIL;
  }
  return EAI_FAIL;
}

// ---------------------------------------------------------------------------------------------------------
// Application side

std::vector<ip::IpAddress> ResolverDriver::resolve(std::string_view name, int af, std::error_code& ec) {
  return resolve_canonical(name, af, ec).addresses;
}

Resolution ResolverDriver::resolve_canonical(std::string_view name, int af, std::error_code& ec) {
  ec.clear();
  Request req;
  req.name = std::string{name};
  req.af = af;
  if (rt_.run_in_loop([this, &req](Instant now) { start(req, now); })) {
    ec = make_error(EAI_AGAIN);  // the stack is not running: a temporary failure
    return {};
  }
  return wait_result(req, ec);
}

Resolution ResolverDriver::wait_result(Request& r, std::error_code& ec) {
  const auto ready = [&r] { return r.done.load(std::memory_order_acquire) != 0; };
  if (rt_.wait_events(ready, std::nullopt)) {
    // Nothing more can happen (manual mode without a driver, or the loop stopped): forget the lookup.
    const auto abandon = [this, &r](Instant) {
      if (r.done.load(std::memory_order_acquire) != 0) return;
      active_.erase(std::remove(active_.begin(), active_.end(), &r), active_.end());
      for (std::size_t i = 0; i < r.handles.size(); ++i) {
        if (!r.results[i]) resolver_.cancel(r.handles[i]);
      }
      ++counters_.abandoned;
    };
    if (rt_.run_in_loop(abandon)) {
      // The loop has stopped, so no loop code runs; callers that give up together take turns.
      const std::lock_guard<std::mutex> lock{g_stopped_mutex};
      abandon(rt_.now_);
    }
    if (!ready()) {
      ec = make_error(EAI_AGAIN);
      return {};
    }
  }

  Resolution out;
  int err = 0;
  for (const std::optional<dns::Result>& res : r.results) {
    const int e = res ? gai_error(res->status) : EAI_AGAIN;
    if (e == 0) {
      if (out.canonical_name.empty()) out.canonical_name = res->canonical_name.to_string();
      for (const dns::AddressAnswer& a : res->addresses) out.addresses.push_back(a.address);
      continue;
    }
    // A definite "no such name" outranks "try again", which outranks "failed".
    if (err == 0 || e == EAI_NONAME || (e == EAI_AGAIN && err == EAI_FAIL)) err = e;
  }
  if (out.addresses.empty()) {
    ec = make_error(err != 0 ? err : EAI_NONAME);
    return {};
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Stack loop

void ResolverDriver::start(Request& r, Instant now) {
  ++counters_.lookups;
  std::vector<dns::Type> types;
  if (r.af == AF_INET6) {
    types = {dns::Type::kAaaa};
  } else if (r.af == AF_INET || !rt_.has_ipv6()) {
    types = {dns::Type::kA};  // AF_UNSPEC on an IPv4-only interface: AI_ADDRCONFIG (RFC 3493 §6.1)
  } else {
    types = {dns::Type::kA, dns::Type::kAaaa};
  }
  try {
    active_.push_back(&r);
    for (dns::Type t : types) {
      r.handles.push_back(resolver_.resolve(now, r.name, t));
      r.results.emplace_back();
    }
  } catch (const std::bad_alloc&) {
    active_.erase(std::remove(active_.begin(), active_.end(), &r), active_.end());
    for (const dns::QueryHandle& h : r.handles) resolver_.cancel(h);
    r.results.assign(r.handles.size(), dns::Result{dns::QueryStatus::kOverloaded, {}, {}, {}});
    if (r.results.empty()) r.results.emplace_back(dns::Result{dns::QueryStatus::kOverloaded, {}, {}, {}});
    r.done.store(1, std::memory_order_release);
    return;
  }
  finish_ready(now);     // literals, hosts and the cache answer at once
  drain_transmits(now);  // queries go out with this iteration's interface poll
}

void ResolverDriver::poll(Instant now) noexcept {
  if (active_.empty() && udp_.empty() && tcp_.empty() && !resolver_.poll_at()) return;
  feed_arrivals(now);
  drain_transmits(now);
  check_tcp_failures(now);
  drain_transmits(now);
  finish_ready(now);
}

std::optional<Instant> ResolverDriver::poll_at() const noexcept {
  if (io_pending()) return Instant{};
  return resolver_.poll_at();
}

void ResolverDriver::finish_ready(Instant) noexcept {
  for (std::size_t i = 0; i < active_.size();) {
    Request& r = *active_[i];
    bool all = true;
    for (std::size_t k = 0; k < r.handles.size(); ++k) {
      if (!r.results[k]) r.results[k] = resolver_.result(r.handles[k]);
      all = all && r.results[k].has_value();
    }
    if (!all) {
      ++i;
      continue;
    }
    active_.erase(active_.begin() + long(i));
    r.done.store(1, std::memory_order_release);  // `r` belongs to its caller from here on
    rt_.events_changed_ = true;                  // wakes the caller sleeping in wait_events
  }
}

void ResolverDriver::drain_transmits(Instant now) noexcept {
  for (int i = 0; i < kMaxTransmitsPerDrain; ++i) {
    std::optional<dns::Resolver::Transmit> t = resolver_.poll_transmit(now);
    if (!t) return;
    execute(*t, now);
  }
}

void ResolverDriver::execute(dns::Resolver::Transmit& t, Instant now) noexcept {
  if (auto* send = std::get_if<dns::Resolver::UdpSend>(&t)) {
    UdpQuery q{send->src_port, std::nullopt};
    try {
      const udp::SocketHandle h = rt_.udp_->open();
      udp::UdpSocket& s = rt_.udp_->socket(h);
      if (s.bind(ip::Endpoint{wildcard_like(send->server.addr), send->src_port})) {
        rt_.udp_->close(h);  // RFC 5452 §9.2 picks ports at random: a taken one costs this attempt only
        ++counters_.udp_bind_failed;
      } else {
        q.socket = h;
        s.send_to(send->bytes, send->server);  // an error (no route...) shows as a timeout
        ++counters_.udp_sent;
      }
      udp_.push_back(q);
    } catch (const std::bad_alloc&) {
      if (q.socket) rt_.udp_->close(*q.socket);
      ++counters_.udp_bind_failed;
    }
  } else if (auto* ex = std::get_if<dns::Resolver::TcpExchange>(&t)) {
    try {
      tcp_.push_back(TcpQuery{ex->id, std::nullopt, std::move(ex->bytes), 0, false});
    } catch (const std::bad_alloc&) {
      resolver_.on_tcp_failed(now, ex->id);
      return;
    }
    TcpQuery& q = tcp_.back();
    const auto r = rt_.tcp_->connect(now, ex->server, std::nullopt, rt_.connection_config(detail::Options{}));
    if (!r) {
      q.reported = true;
      ++counters_.tcp_failed;
      resolver_.on_tcp_failed(now, q.id);
      return;
    }
    q.conn = *r;
    ++counters_.tcp_opened;
    if (tcp::Connection* c = rt_.tcp_->connection(*r)) q.sent += c->send(q.out);
  } else if (auto* uc = std::get_if<dns::Resolver::UdpClose>(&t)) {
    const auto it = std::find_if(udp_.begin(), udp_.end(), [&](const UdpQuery& q) { return q.port == uc->src_port; });
    if (it != udp_.end()) {
      if (it->socket) rt_.udp_->close(*it->socket);
      udp_.erase(it);
    }
  } else if (auto* tc = std::get_if<dns::Resolver::TcpClose>(&t)) {
    const auto it = std::find_if(tcp_.begin(), tcp_.end(), [&](const TcpQuery& q) { return q.id == tc->id; });
    if (it != tcp_.end()) {
      if (it->conn) rt_.tcp_->close(now, *it->conn);  // FIN (RFC 7766 §6.2.3: the client closes)
      tcp_.erase(it);
    }
  }
}

void ResolverDriver::feed_arrivals(Instant now) noexcept {
  for (const UdpQuery& q : udp_) {
    if (!q.socket) continue;
    udp::UdpSocket* s = rt_.udp_->find(*q.socket);
    if (s == nullptr) continue;
    if (s->has_error()) s->take_error();  // ICMP port unreachable: the attempt times out or fails over
    while (s->can_recv()) {
      const std::optional<udp::RecvInfo> info = s->recv(scratch_);
      if (!info) break;
      ++counters_.udp_received;
      resolver_.on_udp(now, info->from, q.port, Bytes{scratch_}.first(info->size));
    }
  }
  for (TcpQuery& q : tcp_) {
    if (!q.conn || q.reported) continue;
    tcp::Connection* c = rt_.tcp_->connection(*q.conn);
    if (c == nullptr) continue;
    if (q.sent < q.out.size()) q.sent += c->send(Bytes{q.out}.subspan(q.sent));
    while (c->recv_available() != 0) {
      const std::size_t n = c->recv(scratch_);
      if (n == 0) break;
      counters_.tcp_bytes += n;
      resolver_.on_tcp_data(now, q.id, Bytes{scratch_}.first(n));
    }
  }
}

void ResolverDriver::check_tcp_failures(Instant now) noexcept {
  for (TcpQuery& q : tcp_) {
    if (q.reported || !q.conn) continue;
    const tcp::Connection* c = rt_.tcp_->find(*q.conn);
    // Refused, reset, timed out, or the server closed before a whole answer: RFC 7766 §6.2.1 lets the
    // resolver move on.
    if (c != nullptr && !c->error() && !c->recv_finished() && c->state() != tcp::State::kClosed) continue;
    q.reported = true;
    ++counters_.tcp_failed;
    resolver_.on_tcp_failed(now, q.id);
  }
}

bool ResolverDriver::io_pending() const noexcept {
  for (const UdpQuery& q : udp_) {
    if (!q.socket) continue;
    const udp::UdpSocket* s = rt_.udp_->find(*q.socket);
    if (s != nullptr && (s->can_recv() || s->has_error())) return true;
  }
  for (const TcpQuery& q : tcp_) {
    if (!q.conn || q.reported) continue;
    const tcp::Connection* c = rt_.tcp_->find(*q.conn);
    if (c == nullptr || c->recv_available() != 0 || c->error() || c->recv_finished() ||
        c->state() == tcp::State::kClosed)
      return true;
    if (q.sent < q.out.size() && c->send_free() != 0) return true;
  }
  return false;
}

}  // namespace tapstack::socket
