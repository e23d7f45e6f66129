// Runtime: the stack loop (threaded or polled by hand), the commands application threads send it, and the
// per-iteration sync that moves bytes between the facade's rings and the TCP connections / UDP sockets and
// publishes each socket's state. Everything below "stack loop" runs on the loop thread only.
#include "socket/runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>

#include "socket/constants.hpp"
#include "socket/core.hpp"
#include "socket/impl.hpp"
#include "socket/resolver_driver.hpp"
#include "socket/socket.hpp"
#include "socket/sys.hpp"
#include "tcp/state.hpp"

namespace tapstack::socket {

namespace detail {
class EventFdHolder {
 public:
  sys::EventFd fd;
};
}  // namespace detail

using detail::Command;
using detail::Phase;
using detail::Proto;
using detail::SocketCore;

namespace {

std::atomic<Runtime*> g_default{nullptr};

std::error_code errc(int e) noexcept { return {e, std::generic_category()}; }

constexpr std::size_t kMaxDatagram = 65535;

bool overlaps(const ip::IpAddress& a, const ip::IpAddress& b) noexcept {
  return a.family() == b.family() && (a.is_unspecified() || b.is_unspecified() || a == b);
}

ip::IpAddress wildcard(ip::Family f) noexcept {
  return f == ip::Family::kIpv4 ? ip::IpAddress{ip::Ipv4Address{}} : ip::IpAddress{ip::Ipv6Address{}};
}

// States in which a connection still takes application data (RFC 9293 §3.10.2: SEND).
bool can_still_send(tcp::State s) noexcept {
  return s == tcp::State::kSynSent || s == tcp::State::kSynReceived || s == tcp::State::kEstablished ||
         s == tcp::State::kCloseWait;
}

void complete(Command& c) noexcept {
  c.done.store(1, std::memory_order_release);
  sys::futex_wake_all(c.done);
}

}  // namespace

NameResolver* default_name_resolver() noexcept {
  Runtime* rt = Runtime::default_runtime();
  return rt != nullptr ? rt->resolver() : nullptr;
}

// ---------------------------------------------------------------------------------------------------------
// Setup

RuntimeConfig RuntimeConfig::from_env() {
  RuntimeConfig c;
  const char* ip4 = std::getenv("TAPSTACK_IP4");
  if (ip4 == nullptr || *ip4 == '\0') throw std::invalid_argument("TAPSTACK_IP4 is not set (e.g. 192.0.2.2/24)");
  if (const auto cidr = ip::Ipv4Cidr::parse(ip4)) {
    c.interface.ipv4 = *cidr;
  } else if (const auto a = ip::Ipv4Address::parse(ip4)) {
    c.interface.ipv4 = ip::Ipv4Cidr{*a, 24};  // a bare address: the usual /24 of a TAP test network
  } else {
    throw std::invalid_argument(std::string{"TAPSTACK_IP4: not an IPv4 address[/prefix]: "} + ip4);
  }
  if (const char* gw = std::getenv("TAPSTACK_GW4"); gw != nullptr && *gw != '\0') {
    const auto a = ip::Ipv4Address::parse(gw);
    if (!a) throw std::invalid_argument(std::string{"TAPSTACK_GW4: not an IPv4 address: "} + gw);
    c.interface.gateway4 = *a;
  }
  c.interface.mac = ip::MacAddress{{0x02, 0, 0, 0, 0, 0x01}};
  if (const char* mac = std::getenv("TAPSTACK_MAC"); mac != nullptr && *mac != '\0') {
    const auto m = ip::MacAddress::parse(mac);
    if (!m) throw std::invalid_argument(std::string{"TAPSTACK_MAC: not a MAC address: "} + mac);
    c.interface.mac = *m;
  }
  if (const char* dns = std::getenv("TAPSTACK_DNS"); dns != nullptr && *dns != '\0') {
    auto servers = parse_dns_servers(dns);
    if (!servers) throw std::invalid_argument(std::string{"TAPSTACK_DNS: not a list of addresses: "} + dns);
    c.dns.servers = std::move(*servers);
  }
  if (const char* ip6 = std::getenv("TAPSTACK_IP6"); ip6 != nullptr && *ip6 != '\0') {
    std::string_view rest{ip6};
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      if (item.empty()) continue;
      const auto cidr = ip::Ipv6Cidr::parse(item);
      if (!cidr) throw std::invalid_argument(std::string{"TAPSTACK_IP6: not an IPv6 address[/prefix]: "} + ip6);
      c.interface.ipv6_addresses.push_back(*cidr);
    }
  }
  if (const char* gw = std::getenv("TAPSTACK_GW6"); gw != nullptr && *gw != '\0') {
    const auto a = ip::Ipv6Address::parse(gw);
    if (!a) throw std::invalid_argument(std::string{"TAPSTACK_GW6: not an IPv6 address: "} + gw);
    c.interface.gateway6 = *a;
  }
  if (const char* hosts = std::getenv("TAPSTACK_HOSTS"); hosts != nullptr && *hosts != '\0') {
    std::ifstream in{hosts};
    if (!in) throw std::invalid_argument(std::string{"TAPSTACK_HOSTS: cannot read "} + hosts);
    std::ostringstream text;
    text << in.rdbuf();
    c.hosts = text.str();
  }
  return c;
}

std::optional<std::vector<ip::Endpoint>> RuntimeConfig::parse_dns_servers(std::string_view text) {
  std::vector<ip::Endpoint> out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ',' || text[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ') ++j;
    const std::string_view item = text.substr(i, j - i);
    i = j;
    std::string_view host = item;
    std::uint16_t port = dns::kDnsPort;
    const auto set_port = [&port](std::string_view p) {
      if (p.empty() || p.size() > 5) return false;
      unsigned v = 0;
      for (char ch : p) {
        if (ch < '0' || ch > '9') return false;
        v = v * 10 + unsigned(ch - '0');
      }
      if (v == 0 || v > 0xffff) return false;
      port = std::uint16_t(v);
      return true;
    };
    if (!item.empty() && item.front() == '[') {  // [2001:db8::53]:53
      const std::size_t close = item.find(']');
      if (close == std::string_view::npos) return std::nullopt;
      host = item.substr(1, close - 1);
      const std::string_view rest = item.substr(close + 1);
      if (!rest.empty() && (rest.front() != ':' || !set_port(rest.substr(1)))) return std::nullopt;
    } else if (const std::size_t colon = item.find(':');
               colon != std::string_view::npos && item.find(':', colon + 1) == std::string_view::npos) {
      host = item.substr(0, colon);  // one colon: ADDR:PORT (more: a bare IPv6 address)
      if (!set_port(item.substr(colon + 1))) return std::nullopt;
    }
    const std::optional<ip::IpAddress> a = ip::IpAddress::parse(host);
    if (!a) return std::nullopt;
    out.push_back(ip::Endpoint{*a, port});
  }
  return out;
}

Runtime::Runtime(Link& link, const RuntimeConfig& cfg) : Runtime(link, cfg, false) {}
Runtime::Runtime(Link& link, const RuntimeConfig& cfg, ManualTag) : Runtime(link, cfg, true) {}

Runtime::Runtime(Link& link, const RuntimeConfig& cfg, bool manual) : link_{link}, cfg_{cfg}, manual_{manual} {
  if (cfg.seed) {
    rng_ = std::make_unique<SeededRng>(*cfg.seed);
  } else {
    rng_ = std::make_unique<SecureRng>();
  }
  iface_ = std::make_unique<ip::Interface>(link_, cfg_.interface, *rng_);
  udp_ = std::make_unique<udp::UdpLayer>(*rng_, cfg_.udp);
  tcp_ = std::make_unique<tcp::TcpLayer>(*rng_, cfg_.tcp, iface_.get());
  iface_->register_transport(ip::IpProtocol::kUdp, *udp_);
  iface_->register_transport(ip::IpProtocol::kTcp, *tcp_);
  scratch_.resize(kMaxDatagram);
  if (!manual_) wake_ = std::make_unique<detail::EventFdHolder>();
  if (!cfg_.dns.servers.empty() || !cfg_.hosts.empty()) {
    dns_ = std::make_unique<ResolverDriver>(*this);
    set_resolver(dns_.get());
  }
}

Runtime::~Runtime() {
  stop();
  set_resolver(nullptr);
  Runtime* self = this;
  g_default.compare_exchange_strong(self, nullptr);
}

void Runtime::set_default(Runtime* rt) noexcept { g_default.store(rt, std::memory_order_release); }
Runtime* Runtime::default_runtime() noexcept { return g_default.load(std::memory_order_acquire); }

namespace {
std::unique_ptr<Runtime>& owned_default() {
  static std::unique_ptr<Runtime> rt;
  return rt;
}
}  // namespace

Runtime& Runtime::start_default(Link& link) {
  std::unique_ptr<Runtime>& owned = owned_default();
  if (owned) throw std::logic_error("Runtime::start_default: a default runtime is already running");
  owned = std::make_unique<Runtime>(link, RuntimeConfig::from_env());
  owned->start();
  set_default(owned.get());
  return *owned;
}

void Runtime::stop_default() noexcept { owned_default().reset(); }

void Runtime::start() {
  if (manual_) throw std::logic_error("Runtime::start: a manual runtime is driven by poll()");
  if (thread_.joinable()) return;
  stop_.store(false, std::memory_order_release);
  running_.store(true, std::memory_order_seq_cst);
  thread_ = std::thread([this] { run_loop(); });
}

void Runtime::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_seq_cst);
  wake_->fd.signal();
  thread_.join();
}

Instant Runtime::now() const noexcept { return manual_ ? now_ : SteadyClock{}.now(); }

std::optional<Instant> Runtime::deadline_after(std::optional<Duration> timeout) const noexcept {
  if (!timeout) return std::nullopt;
  return now() + *timeout;
}

// ---------------------------------------------------------------------------------------------------------
// Application side (any thread)

std::error_code Runtime::call(Command& c) noexcept {
  if (manual_) {
    execute(c, now_);
    return c.ec;
  }
  callers_.fetch_add(1, std::memory_order_seq_cst);
  if (!running_.load(std::memory_order_seq_cst)) {
    callers_.fetch_sub(1, std::memory_order_seq_cst);
    return errc(ENETDOWN);
  }
  commands_.push(&c);
  wake_loop();
  while (c.done.load(std::memory_order_acquire) == 0) sys::futex_wait(c.done, 0, std::nullopt);
  callers_.fetch_sub(1, std::memory_order_seq_cst);
  return c.ec;
}

void Runtime::post(Command* c) noexcept {
  if (manual_) {
    execute(*c, now_);
    delete c;
    return;
  }
  callers_.fetch_add(1, std::memory_order_seq_cst);
  if (!running_.load(std::memory_order_seq_cst)) {
    callers_.fetch_sub(1, std::memory_order_seq_cst);
    delete c;
    return;
  }
  commands_.push(c);
  wake_loop();
  callers_.fetch_sub(1, std::memory_order_seq_cst);
}

void Runtime::wake_loop() noexcept {
  if (manual_) return;
  // Read-modify-writes on sleeping_ on both sides (no fences: ThreadSanitizer models RMWs, not fences). If this
  // exchange comes after the loop's in sleeping_'s modification order it reads 1 and wakes the loop; if before,
  // the loop's exchange reads this one's value, synchronizes with it, and its last look for work sees what this
  // thread wrote before calling.
  if (sleeping_.exchange(0, std::memory_order_acq_rel) != 0) wake_->fd.signal();
}

std::error_code Runtime::wait(SocketCore& c, FunctionRef<bool()> ready, std::optional<Instant> deadline) {
  if (manual_) {
    for (;;) {
      if (ready()) return {};
      if (deadline && now_ >= *deadline) return errc(ETIMEDOUT);
      if (!driver_ || !driver_(deadline)) {
        if (ready()) return {};
        return errc(deadline && now_ >= *deadline ? ETIMEDOUT : EAGAIN);
      }
    }
  }
  SteadyClock clock;
  for (;;) {
    const std::uint32_t seen = c.seq.load(std::memory_order_seq_cst);
    c.waiters.fetch_add(1, std::memory_order_seq_cst);
    if (ready()) {
      c.waiters.fetch_sub(1, std::memory_order_seq_cst);
      return {};
    }
    std::optional<Duration> left;
    std::error_code ec;
    if (!running_.load(std::memory_order_seq_cst)) ec = errc(ENETDOWN);
    if (!ec && deadline) {
      const Instant t = clock.now();
      if (t >= *deadline) ec = errc(ETIMEDOUT);
      left = *deadline - t;
    }
    if (!ec) sys::futex_wait(c.seq, seen, left);
    c.waiters.fetch_sub(1, std::memory_order_seq_cst);
    if (ec) return ec;
  }
}

std::error_code Runtime::wait_events(FunctionRef<bool()> ready, std::optional<Instant> deadline) {
  if (manual_) {
    for (;;) {
      if (ready()) return {};
      if (deadline && now_ >= *deadline) return errc(ETIMEDOUT);
      if (!driver_ || !driver_(deadline)) {
        if (ready()) return {};
        return errc(deadline && now_ >= *deadline ? ETIMEDOUT : EAGAIN);
      }
    }
  }
  SteadyClock clock;
  for (;;) {
    const std::uint32_t seen = events_seq_.load(std::memory_order_seq_cst);
    poll_waiters_.fetch_add(1, std::memory_order_seq_cst);
    if (ready()) {
      poll_waiters_.fetch_sub(1, std::memory_order_seq_cst);
      return {};
    }
    std::optional<Duration> left;
    std::error_code ec;
    if (!running_.load(std::memory_order_seq_cst)) ec = errc(ENETDOWN);
    if (!ec && deadline) {
      const Instant t = clock.now();
      if (t >= *deadline) ec = errc(ETIMEDOUT);
      left = *deadline - t;
    }
    if (!ec) sys::futex_wait(events_seq_, seen, left);
    poll_waiters_.fetch_sub(1, std::memory_order_seq_cst);
    if (ec) return ec;
  }
}

void Runtime::notify_app(SocketCore& c) noexcept {
  c.seq.fetch_add(1, std::memory_order_seq_cst);
  if (c.waiters.fetch_add(0, std::memory_order_seq_cst) != 0) sys::futex_wake_all(c.seq);
  events_seq_.fetch_add(1, std::memory_order_seq_cst);
  if (poll_waiters_.fetch_add(0, std::memory_order_seq_cst) != 0) sys::futex_wake_all(events_seq_);
}

// ---------------------------------------------------------------------------------------------------------
// Stack loop

void Runtime::run_loop() {
  SteadyClock clock;
  const int link_fd = link_.wait_fd();
  while (!stop_.load(std::memory_order_acquire)) {
    Instant now = clock.now();
    iterate(now);
    const std::optional<Instant> at = stack_poll_at();
    now = clock.now();
    if (at && *at <= now) continue;
    sleeping_.exchange(1, std::memory_order_acq_rel);  // pairs with wake_loop()
    // arm_wakeups() before has_work(), which looks at what it armed.
    if (stop_.load(std::memory_order_acquire) || !commands_.empty() || arm_wakeups() || has_work()) {
      sleeping_.exchange(0, std::memory_order_acq_rel);
      continue;
    }
    std::optional<Duration> timeout;
    if (at) timeout = *at - now;
    // A link without a descriptor (an in-memory link) cannot wake us: look at it every idle_poll.
    if (link_fd < 0 && (!timeout || *timeout > cfg_.idle_poll)) timeout = cfg_.idle_poll;
    const int fds[2] = {link_fd, wake_->fd.fd()};
    sys::wait_readable(fds, timeout);
    sleeping_.exchange(0, std::memory_order_acq_rel);  // every write of sleeping_ is an RMW: one release sequence
    wake_->fd.drain();
  }
  // Shut down: refuse new calls, fail queued ones, wait until no caller is between its check and its push.
  running_.store(false, std::memory_order_seq_cst);
  for (;;) {
    fail_commands();
    if (callers_.load(std::memory_order_seq_cst) == 0) break;
    std::this_thread::yield();
  }
  fail_commands();
  for (const auto& c : sockets_) notify(*c);  // blocked callers see ENETDOWN
  publish_events();
}

void Runtime::poll(Instant now) {
  if (!manual_) throw std::logic_error("Runtime::poll: only a manual runtime is polled by hand");
  iterate(now);
}

std::optional<Instant> Runtime::poll_at() const noexcept {
  if (has_work()) return Instant{};
  return stack_poll_at();
}

std::optional<Instant> Runtime::stack_poll_at() const noexcept {
  std::optional<Instant> at = iface_->poll_at();
  if (dns_) {
    const std::optional<Instant> d = dns_->poll_at();
    if (d && (!at || *d < *at)) at = d;
  }
  return at;
}

std::error_code Runtime::run_in_loop(FunctionRef<void(Instant)> fn) noexcept {
  Command c;
  c.kind = Command::Kind::kRun;
  c.run = fn;
  return call(c);
}

void Runtime::iterate(Instant now) noexcept {
  now_ = now;
  drain_commands(now);
  for (std::size_t i = 0; i < sockets_.size();) {
    const std::shared_ptr<SocketCore> keep = sockets_[i];
    sync(*keep, now);
    if (i < sockets_.size() && sockets_[i] == keep) ++i;  // else it unregistered: index i holds another
  }
  if (dns_) dns_->poll(now);  // reads what the last poll received, queues queries for this one
  iface_->poll(now);
  refresh_ipv6(now);
  publish_events();
}

void Runtime::refresh_ipv6(Instant now) noexcept {
  bool usable = false;
  for (const ip::Ipv6InterfaceAddress& a : iface_->ipv6().addresses())
    usable = usable || (a.state == ip::AddressState::kPreferred && !a.address.is_link_local());
  if (usable != has_ipv6_.load(std::memory_order_relaxed)) {
    has_ipv6_.store(usable, std::memory_order_release);
    events_changed_ = true;
  }
  // RFC 8106 §5.3.1: RDNSS servers are used when no server was configured (configuration wins).
  if (!cfg_.dns.servers.empty()) return;
  const std::uint64_t updates = iface_->ipv6_counters().rdnss_updates;
  if (updates == rdnss_updates_seen_ && now < next_rdnss_check_) return;
  rdnss_updates_seen_ = updates;
  next_rdnss_check_ = now + seconds(1);
  try {
    std::vector<ip::Ipv6Address> servers = iface_->dns_servers6();
    if (servers == rdnss_) return;
    rdnss_ = std::move(servers);
    std::vector<ip::Endpoint> eps;
    eps.reserve(rdnss_.size());
    for (const ip::Ipv6Address& a : rdnss_) eps.push_back(ip::Endpoint{ip::IpAddress{a}, dns::kDnsPort});
    if (!dns_) {
      if (eps.empty()) return;
      dns_ = std::make_unique<ResolverDriver>(*this);
      set_resolver(dns_.get());
    }
    dns_->resolver().set_servers(std::move(eps));
  } catch (const std::bad_alloc&) {
    rdnss_.clear();  // try again at the next check
  }
}

void Runtime::publish_events() noexcept {
  if (!events_changed_) return;
  events_changed_ = false;
  events_seq_.fetch_add(1, std::memory_order_seq_cst);
  if (poll_waiters_.fetch_add(0, std::memory_order_seq_cst) != 0) sys::futex_wake_all(events_seq_);
}

void Runtime::drain_commands(Instant now) noexcept {
  while (Command* c = commands_.try_pop()) {
    execute(*c, now);
    if (c->heap) {
      delete c;
    } else {
      complete(*c);
    }
  }
}

void Runtime::fail_commands() noexcept {
  while (Command* c = commands_.try_pop()) {
    if (c->heap) {
      delete c;
    } else {
      c->ec = errc(ENETDOWN);
      complete(*c);
    }
  }
}

// Waiter protocol (Runtime::wait): the caller reads seq, increments waiters (RMW), then checks its condition;
// here the change is made, seq bumped, and waiters read by an RMW. If this RMW follows the caller's in waiters'
// modification order it sees the waiter and wakes it (seq differs, so its futex_wait returns at once anyway);
// if it precedes it, the caller's RMW synchronizes with it and the caller's check sees the change.
void Runtime::notify(SocketCore& c) noexcept {
  c.seq.fetch_add(1, std::memory_order_seq_cst);
  if (c.waiters.fetch_add(0, std::memory_order_seq_cst) != 0) sys::futex_wake_all(c.seq);
  events_changed_ = true;
}

Runtime::TcpInternals Runtime::tcp_internals(const socket& s) const noexcept {
  TcpInternals t;
  if (!s.impl_ || s.impl_->core->proto != Proto::kTcp) return t;
  const SocketCore& c = *s.impl_->core;
  t.tx = c.tx.get();
  t.rx = c.rx.get();
  if (c.loop.conn) t.conn = tcp_->find(*c.loop.conn);
  return t;
}

// Copy-once: the socket's rings are the connection's buffers from now on. Called once per TCP core, by the loop,
// before it publishes a phase past kFresh (core.hpp).
void Runtime::adopt_buffers(SocketCore& c, tcp::Connection& conn) noexcept {
  conn.share_buffers();  // full size first: a ring shared with the application thread never grows
  c.tx = conn.send_buffer();
  c.rx = conn.recv_buffer();
  auto& L = c.loop;
  L.tx_produced = c.tx->produced();
  L.tx_consumed = c.tx->consumed();
  L.rx_produced = c.rx->produced();  // bytes that arrived before accept() wake nobody: nobody waits yet
  L.rx_consumed = c.rx->consumed();
  L.rx_short_segments = conn.short_segments_received();
  L.rx_wake_at = 0;
  c.rx_wake_at.store(0, std::memory_order_relaxed);  // the core is not shared with another thread yet
}

// tx has room worth a writer's wake-up: drained, or a quarter of what the writer may hold (tx_limit) free.
bool Runtime::tx_room_to_report(const SocketCore& c) noexcept {
  const std::size_t left = c.tx->produced() - c.tx->consumed();  // the loop consumes: exact from its side
  const std::size_t limit = std::min(c.loop.tx_limit, c.tx->capacity());
  return left == 0 || (left < limit && limit - left >= limit / 4);
}

// Before the loop sleeps: tells each TCP socket's reader from which position its reads make a window update
// due, i.e. when it has to wake the loop (SocketImpl::after_consume). The exchange pairs with the reader's
// read-modify-write of rx_wake_at: either the reader sees the new target, or has_work(), which runs next, sees
// the reader's progress. True when a window update is due already (the connection is marked for the next poll).
bool Runtime::arm_wakeups() noexcept {
  bool due = false;
  for (const auto& cp : sockets_) {
    SocketCore& c = *cp;
    auto& L = c.loop;
    if (c.proto != Proto::kTcp || !L.conn || L.closing) continue;
    const tcp::Connection* fc = tcp_->find(*L.conn);
    if (fc == nullptr) continue;
    const std::optional<std::size_t> more = fc->window_update_after();
    if (more && *more == 0) {
      tcp_->connection(*L.conn);
      due = true;
    }
    const std::size_t target = more ? c.rx->consumed() + *more : std::numeric_limits<std::size_t>::max();
    if (target == L.rx_wake_at) continue;
    L.rx_wake_at = target;
    c.rx_wake_at.exchange(target, std::memory_order_acq_rel);
  }
  return due;
}

std::error_code Runtime::register_core(const std::shared_ptr<SocketCore>& c) noexcept {
  if (c->loop.registered) return {};
  try {
    sockets_.push_back(c);
  } catch (const std::bad_alloc&) {
    return errc(ENOMEM);
  }
  c->loop.registered = true;
  c->loop.index = sockets_.size() - 1;
  return {};
}

void Runtime::unregister_core(SocketCore& c) noexcept {
  if (c.loop.in_bind_table) {
    tcp_binds_.erase(std::remove(tcp_binds_.begin(), tcp_binds_.end(), &c), tcp_binds_.end());
    c.loop.in_bind_table = false;
  }
  if (!c.loop.registered) return;
  const std::size_t i = c.loop.index;
  c.loop.registered = false;
  if (i + 1 != sockets_.size()) {
    sockets_[i] = std::move(sockets_.back());
    sockets_[i]->loop.index = i;
  }
  sockets_.pop_back();  // may free `c`: callers touch it no more
}

bool Runtime::has_work() const noexcept {
  for (const auto& c : sockets_) {
    if (c->proto == Proto::kTcp ? tcp_has_work(*c) : udp_has_work(*c)) return true;
  }
  return false;
}

bool Runtime::tcp_has_work(const SocketCore& c) const noexcept {
  const auto& L = c.loop;
  if (L.listener) {
    const tcp::Listener* l = tcp_->listener(*L.listener);
    return (l != nullptr ? l->accept_queue_len() : 0) != L.accept_ready;
  }
  if (!L.conn) return false;
  const tcp::Connection* fc = tcp_->find(*L.conn);
  if (fc == nullptr) return !L.eof && L.error == 0;
  // The application wrote, or read far enough for a window update (threaded: rx_wake_at was armed before this
  // look; manual mode arms nothing, so any read counts).
  if (c.app_dirty.load(std::memory_order_acquire) != 0 || c.tx->produced() != L.tx_produced) return true;
  const std::size_t read = c.rx->consumed();
  if (read != L.rx_consumed && (manual_ || read >= L.rx_wake_at)) return true;
  // Unpublished progress: bytes received (readers to wake), send room (writers to wake).
  if (L.rx_wake_owed || c.rx->produced() != L.rx_produced ||
      (c.tx->consumed() != L.tx_consumed && tx_room_to_report(c)))
    return true;
  // Unpublished state.
  if (L.phase == Phase::kConnecting && tcp::is_synchronized(fc->state())) return true;
  if ((fc->error() && fc->error().value() != L.error) || (fc->fin_received() && !L.eof)) return true;
  return L.phase == Phase::kConnected && !can_still_send(fc->state()) && !L.send_closed;
}

bool Runtime::udp_has_work(const SocketCore& c) const noexcept {
  const auto& L = c.loop;
  if (!L.udp) return false;
  udp::UdpSocket* us = udp_->find(*L.udp);
  if (us == nullptr) return false;
  if (us->has_error()) return true;
  if (!c.dtx->empty() && us->can_send()) return true;
  return !L.closing && us->can_recv() && c.drx->free_space() != 0;
}

void Runtime::sync(SocketCore& c, Instant now) noexcept {
  if (c.proto == Proto::kTcp) {
    sync_tcp(c, now);
  } else {
    sync_udp(c);
  }
  if (c.loop.closing) finish_close(c, now);  // last: it may free `c`
}

void Runtime::sync_tcp(SocketCore& c, Instant) noexcept {
  auto& L = c.loop;
  if (L.listener) {
    const tcp::Listener* l = tcp_->listener(*L.listener);
    const auto n = std::uint32_t(l != nullptr ? l->accept_queue_len() : 0);
    if (n != L.accept_ready) {
      L.accept_ready = n;
      c.accept_ready.store(n, std::memory_order_release);
      notify(c);
    }
    return;
  }
  if (!L.conn) return;
  const tcp::Connection* fc = tcp_->find(*L.conn);
  bool wake = false;
  if (fc != nullptr) {
    // Copy-once: tx and rx are the connection's own buffers, so no byte moves here. What the application did
    // to them since the last look makes the connection worth polling: new bytes to send, or room that may
    // call for a window update (the connection decides, RFC 9293 §3.8.6.2.2).
    if (c.app_dirty.load(std::memory_order_relaxed) != 0) c.app_dirty.exchange(0, std::memory_order_acq_rel);
    const std::size_t written = c.tx->produced();
    const std::size_t read = c.rx->consumed();
    if (written != L.tx_produced || read != L.rx_consumed) {
      L.tx_produced = written;
      L.rx_consumed = read;
      tcp_->connection(*L.conn);  // marks it for this iteration's poll
    }
    // What the connection did: bytes received wake readers (in batches, see below); bytes acknowledged (tx
    // space) wake a blocked writer once a quarter of its limit is free or tx drained, not per ACK.
    const std::size_t received = c.rx->produced();
    if (received != L.rx_produced) {
      L.rx_produced = received;
      L.rx_wake_owed = true;
      // Threaded, a reader's wake-up costs this loop a futex syscall and, often, the CPU it runs on (the woken
      // thread is placed beside its waker), and a bulk stream brings bytes on every iteration. So readers are
      // woken at once in manual mode, for a segment shorter than the peer's full size (the end of a message,
      // Connection::short_segments_received) and once an eighth of the ring is unread; other bytes wait for
      // the first iteration that brings this socket nothing new (the burst paused, or the window closed),
      // which has_work() makes come before the loop sleeps.
      const std::uint64_t shorts = fc->short_segments_received();
      if (manual_ || shorts != L.rx_short_segments || received - c.rx->consumed() >= c.rx->capacity() / 8)
        wake = true;
      L.rx_short_segments = shorts;
    } else if (L.rx_wake_owed) {
      wake = true;
    }
    const std::size_t acked = c.tx->consumed();
    if (acked != L.tx_consumed && tx_room_to_report(c)) {
      L.tx_consumed = acked;
      wake = true;
    }
    // The writer's limit follows the congestion window, as a send buffer of the loop's own would
    // (Connection::send_buffer_target); a limit that grows may make room a blocked writer waits for.
    const std::size_t limit = L.opts.sndbuf != 0 ? std::numeric_limits<std::size_t>::max() : fc->send_buffer_target();
    if (limit != L.tx_limit) {
      const bool grew = limit > L.tx_limit;
      L.tx_limit = limit;
      c.tx_limit.store(limit, std::memory_order_relaxed);
      if (grew && tx_room_to_report(c)) wake = true;
    }
  }

  // State, published after the data (release): the connection committed every byte before a FIN or an error
  // to rx before it noted them.
  Phase phase = L.phase;
  int err = L.error;
  bool eof = L.eof;
  if (fc == nullptr) {  // the layer let go of it (TIME-WAIT evicted): the stream is over
    if (phase == Phase::kConnected) {
      eof = true;
    } else if (err == 0) {
      err = ECONNABORTED;
    }
  } else {
    const tcp::State st = fc->state();
    if (phase == Phase::kConnecting && tcp::is_synchronized(st)) phase = Phase::kConnected;
    if (fc->error()) {
      err = fc->error().value();
    } else if (fc->fin_received() || (st == tcp::State::kClosed && phase == Phase::kConnected)) {
      eof = true;
    }
  }
  if (phase != L.phase) {
    L.phase = phase;
    c.phase.store(phase, std::memory_order_release);
    wake = true;
  }
  if (err != L.error) {
    L.error = err;
    c.error.store(err, std::memory_order_release);
    wake = true;
  }
  if (eof != L.eof) {
    L.eof = eof;
    c.eof.store(eof, std::memory_order_release);
    wake = true;
  }
  const bool send_closed = phase == Phase::kConnected && (fc == nullptr || !can_still_send(fc->state()));
  if (send_closed != L.send_closed) {
    L.send_closed = send_closed;
    c.send_closed.store(send_closed, std::memory_order_release);
    wake = true;
  }
  if (wake) {
    L.rx_wake_owed = false;
    notify(c);
  }
}

void Runtime::sync_udp(SocketCore& c) noexcept {
  auto& L = c.loop;
  if (!L.udp) return;
  udp::UdpSocket* us = udp_->find(*L.udp);
  if (us == nullptr) return;
  bool wake = false;
  // Application -> socket. ENOBUFS: the socket's queue is full until the interface's poll drains it.
  while (detail::Datagram* d = c.dtx->front()) {
    const std::error_code ec = us->send_to(d->data, d->peer);
    if (ec == std::errc::no_buffer_space) break;
    if (ec) c.async_error.store(ec.value(), std::memory_order_release);
    c.dtx->pop_front();
    wake = true;
  }
  // Socket -> application.
  while (!L.closing && us->can_recv() && c.drx->free_space() != 0) {
    std::error_code ec;
    const std::optional<udp::RecvInfo> info = us->recv(scratch_, {}, ec);
    if (ec) {
      c.async_error.store(ec.value(), std::memory_order_release);
      wake = true;
      continue;
    }
    if (!info) break;
    try {
      detail::Datagram d{info->from, std::vector<std::byte>(scratch_.begin(), scratch_.begin() + long(info->size))};
      c.drx->try_push(std::move(d));
      wake = true;
    } catch (const std::bad_alloc&) {
      // Dropped, like a full receive queue: UDP is allowed to lose it.
    }
  }
  if (us->has_error()) {
    c.async_error.store(us->take_error().value(), std::memory_order_release);
    wake = true;
  }
  const bool blocked = us->can_recv();
  if (blocked != L.rx_blocked) {
    L.rx_blocked = blocked;
    c.rx_blocked.exchange(blocked ? 1 : 0, std::memory_order_acq_rel);  // RMW: pairs with after_consume()
  }
  if (wake) notify(c);
}

void Runtime::finish_close(SocketCore& c, Instant now) noexcept {
  auto& L = c.loop;
  if (L.listener) {
    tcp_->close_listener(*L.listener);  // RFC 9293 §3.10.4: queued connections are reset
    L.listener.reset();
  }
  if (L.conn) {
    if (L.opts.linger_abort) {
      tcp_->abort(now, *L.conn);  // SO_LINGER {1, 0}: RST now (RFC 9293 §3.10.5), unsent data dropped
    } else {
      // FIN after every byte the application wrote (RFC 9293 §3.10.4): they are in the connection's send
      // buffer already (tx), which the connection keeps (shared) through the FIN handshake and TIME-WAIT.
      tcp_->close(now, *L.conn);
    }
    L.conn.reset();
  }
  if (L.udp) {
    udp_->close(*L.udp);  // what sync_udp handed over still leaves in the next poll
    L.udp.reset();
  }
  unregister_core(c);
}

std::error_code Runtime::ensure_udp(const std::shared_ptr<SocketCore>& c) noexcept {
  auto& L = c->loop;
  if (L.udp) return {};
  udp::SocketConfig sc = cfg_.udp.socket;
  if (L.opts.rcvbuf != 0) sc.rx_max_bytes = L.opts.rcvbuf;
  if (L.opts.sndbuf != 0) sc.tx_max_bytes = L.opts.sndbuf;
  try {
    L.udp = udp_->open(sc);
  } catch (const std::bad_alloc&) {
    return errc(ENOMEM);
  }
  udp_->socket(*L.udp).set_reuse_addr(L.opts.reuse_addr);
  if (const std::error_code ec = register_core(c)) {
    udp_->close(*L.udp);
    L.udp.reset();
    return ec;
  }
  return {};
}

tcp::ConnectionConfig Runtime::connection_config(const detail::Options& o) const noexcept {
  tcp::ConnectionConfig cc = cfg_.tcp.connection;
  cc.send_buffer = o.sndbuf != 0 ? o.sndbuf : cfg_.tcp_send_buffer;
  cc.recv_buffer = o.rcvbuf != 0 ? o.rcvbuf : cfg_.tcp_recv_buffer;
  if (o.keepalive && !cc.keepalive) cc.keepalive = tcp::ConnectionConfig::Keepalive{};
  return cc;  // TCP_NODELAY: Connection::set_nodelay after connect/accept, so that it can be turned off again
}

// Linux's rules, at bind() time: a port is in use while another socket is bound to it at an overlapping address,
// unless both set SO_REUSEADDR and the other is not listening; and while connections still use it (a previous
// server's TIME-WAIT), unless this socket sets SO_REUSEADDR.
std::error_code Runtime::tcp_bind(SocketCore& c, const ip::Endpoint& ep) noexcept {
  auto& L = c.loop;
  if (L.bound || L.conn || L.listener) return errc(EINVAL);  // bind(2): already bound
  if (!ep.addr.is_unspecified() && !iface_->is_local(ep.addr)) return errc(EADDRNOTAVAIL);
  if (ep.port != 0) {
    for (const SocketCore* o : tcp_binds_) {
      if (o == &c || !o->loop.bound || o->loop.bound->port != ep.port || !overlaps(o->loop.bound->addr, ep.addr))
        continue;
      if (!(L.opts.reuse_addr && o->loop.opts.reuse_addr && !o->loop.listener)) return errc(EADDRINUSE);
    }
    // The layer knows which ports connections still use; a listen() probe asks it (see the report: a
    // TcpLayer::port_in_use() query would say it directly).
    const auto probe = tcp_->listen(ep, 1, cfg_.tcp.connection, L.opts.reuse_addr);
    if (!probe) return probe.error();
    tcp_->close_listener(*probe);
  }
  try {
    tcp_binds_.push_back(&c);
  } catch (const std::bad_alloc&) {
    return errc(ENOMEM);
  }
  L.in_bind_table = true;
  L.bound = ep;
  return {};
}

void Runtime::execute(Command& cmd, Instant now) noexcept {
  if (cmd.kind == Command::Kind::kRun) {
    cmd.ec.clear();
    if (cmd.run) (*cmd.run)(now);
    return;
  }
  SocketCore& c = *cmd.core;
  auto& L = c.loop;
  L.opts = cmd.opts;
  cmd.ec.clear();
  switch (cmd.kind) {
    case Command::Kind::kOpen:
      if (c.proto == Proto::kUdp) cmd.ec = ensure_udp(cmd.core);
      break;

    case Command::Kind::kBind:
      if (c.proto == Proto::kUdp) {
        cmd.ec = ensure_udp(cmd.core);
        if (!cmd.ec) cmd.ec = udp_->socket(*L.udp).bind(cmd.ep);
        if (!cmd.ec) cmd.local = udp_->socket(*L.udp).local_endpoint();
      } else {
        cmd.ec = tcp_bind(c, cmd.ep);
        if (!cmd.ec) cmd.local = L.bound;
      }
      break;

    case Command::Kind::kConnect:
      if (c.proto == Proto::kUdp) {
        cmd.ec = ensure_udp(cmd.core);
        if (!cmd.ec) cmd.ec = udp_->socket(*L.udp).connect(cmd.ep);
        if (!cmd.ec) {
          L.phase = Phase::kConnected;
          c.phase.store(Phase::kConnected, std::memory_order_release);
        }
        break;
      }
      if (L.listener) {
        cmd.ec = errc(EINVAL);
      } else if (L.conn) {
        cmd.ec = errc(L.phase == Phase::kConnecting ? EALREADY : EISCONN);
      } else {
        const auto r = tcp_->connect(now, cmd.ep, L.bound, connection_config(L.opts));
        if (!r) {
          cmd.ec = r.error();
          break;
        }
        if (cmd.ec = register_core(cmd.core); cmd.ec) {
          tcp_->abort(now, *r);
          break;
        }
        L.conn = *r;
        tcp::Connection* conn = tcp_->connection(*r);
        adopt_buffers(c, *conn);
        if (L.opts.nodelay) conn->set_nodelay(true);
        L.phase = Phase::kConnecting;
        c.phase.store(Phase::kConnecting, std::memory_order_release);
        cmd.local = conn->tuple().local;
      }
      break;

    case Command::Kind::kListen: {
      if (c.proto == Proto::kUdp) {
        cmd.ec = errc(EOPNOTSUPP);
        break;
      }
      if (L.listener) break;  // listen() again: the backlog stays (Linux would update it)
      if (L.conn) {
        cmd.ec = errc(EINVAL);
        break;
      }
      const ip::Endpoint ep = L.bound.value_or(ip::Endpoint{wildcard(c.family), 0});
      const auto r =
          tcp_->listen(ep, std::size_t(std::max(cmd.backlog, 0)), connection_config(L.opts), L.opts.reuse_addr);
      if (!r) {
        cmd.ec = r.error();
        break;
      }
      if (cmd.ec = register_core(cmd.core); cmd.ec) {
        tcp_->close_listener(*r);
        break;
      }
      L.listener = *r;
      L.bound = tcp_->listener(*r)->local();
      if (!L.in_bind_table) {
        try {
          tcp_binds_.push_back(&c);
          L.in_bind_table = true;
        } catch (const std::bad_alloc&) {
        }
      }
      L.phase = Phase::kListening;
      c.phase.store(Phase::kListening, std::memory_order_release);
      cmd.local = L.bound;
      break;
    }

    case Command::Kind::kAccept: {
      if (!L.listener) {
        cmd.ec = errc(EINVAL);
        break;
      }
      const std::optional<tcp::ConnHandle> h = tcp_->accept(*L.listener);
      if (h) {
        try {
          auto nc = std::make_shared<SocketCore>(Proto::kTcp, c.family, next_fd());
          tcp::Connection* conn = tcp_->connection(*h);
          adopt_buffers(*nc, *conn);  // bytes that arrived before accept() are in rx already
          nc->loop.opts = L.opts;
          nc->loop.opts.linger_abort = false;
          nc->loop.conn = *h;
          nc->loop.phase = Phase::kConnected;
          nc->phase.store(Phase::kConnected, std::memory_order_release);
          if (const std::error_code ec = register_core(nc)) throw std::bad_alloc{};
          if (L.opts.nodelay) conn->set_nodelay(true);
          cmd.local = conn->tuple().local;
          cmd.remote = conn->tuple().remote;
          cmd.accepted = std::move(nc);
        } catch (const std::bad_alloc&) {
          tcp_->abort(now, *h);
          cmd.ec = errc(ENOMEM);
        }
      } else {
        cmd.ec = errc(EAGAIN);
      }
      // The queue shrank: publish it now, so that the caller's next wait sees the right count.
      const tcp::Listener* l = tcp_->listener(*L.listener);
      L.accept_ready = std::uint32_t(l != nullptr ? l->accept_queue_len() : 0);
      c.accept_ready.store(L.accept_ready, std::memory_order_release);
      break;
    }

    case Command::Kind::kClose:
      L.closing = true;
      sync(c, now);  // notes what was written last and finishes the close
      break;

    case Command::Kind::kSetOption:
      if (cmd.level == IPPROTO_TCP && cmd.name == TCP_NODELAY && L.conn) {
        if (tcp::Connection* conn = tcp_->connection(*L.conn)) conn->set_nodelay(L.opts.nodelay);
      } else if (cmd.level == SOL_SOCKET && cmd.name == SO_REUSEADDR && L.udp) {
        udp_->socket(*L.udp).set_reuse_addr(L.opts.reuse_addr);
      }
      break;

    case Command::Kind::kNames:
      if (L.conn) {
        if (const tcp::Connection* fc = tcp_->find(*L.conn)) {
          cmd.local = fc->tuple().local;
          cmd.remote = fc->tuple().remote;
        }
      } else if (L.bound) {
        cmd.local = L.bound;
      } else if (L.udp) {
        udp::UdpSocket& us = udp_->socket(*L.udp);
        cmd.local = us.local_endpoint();
        cmd.remote = us.remote_endpoint();
      }
      break;

    case Command::Kind::kRun:  // handled above
      break;
  }
}

}  // namespace tapstack::socket
