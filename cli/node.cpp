// Node: opens the TAP (and the pcap recorder), builds the interface and the UDP and TCP layers, and runs the loop.
#include "cli/node.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

#include <fmt/core.h>
#include <fmt/ostream.h>

namespace tapstack::cli {

ip::MacAddress default_mac(const std::string& name) {
  const std::uint64_t h = siphash24(SipKey{0x7461707374616b31ull, 0x6d61632d73656564ull}, as_bytes(name));
  ip::MacAddress m;
  m.octets = {0x02, std::uint8_t(h >> 32), std::uint8_t(h >> 24), std::uint8_t(h >> 16), std::uint8_t(h >> 8),
              std::uint8_t(h)};
  return m;
}

Node::Node(const NodeOptions& opts) : opts_{opts} {
  ip::InterfaceConfig cfg;
  if (opts.mac.empty()) {
    cfg.mac = default_mac(opts.tap);
  } else {
    auto m = ip::MacAddress::parse(opts.mac);
    if (!m || m->is_multicast() || m->is_unspecified())
      throw std::runtime_error(fmt::format("--mac {}: not a unicast MAC address like 02:00:00:00:00:01", opts.mac));
    cfg.mac = *m;
  }
  if (!opts.ip4.empty()) {
    auto c = ip::Ipv4Cidr::parse(opts.ip4);
    if (!c) throw std::runtime_error(fmt::format("--ip4 {}: expected ADDR/LEN, like 192.0.2.2/24", opts.ip4));
    cfg.ipv4 = *c;
  }
  if (!opts.gw4.empty()) {
    auto g = ip::Ipv4Address::parse(opts.gw4);
    if (!g) throw std::runtime_error(fmt::format("--gw4 {}: expected an IPv4 address", opts.gw4));
    if (cfg.ipv4 && !cfg.ipv4->contains(*g))
      throw std::runtime_error(fmt::format("--gw4 {}: not on the --ip4 subnet {}", opts.gw4, opts.ip4));
    cfg.gateway4 = *g;
  }
  cfg.ipv6 = true;
  for (const auto& a : opts.ip6) {
    auto c = ip::Ipv6Cidr::parse(a);
    if (!c || a.find('/') == std::string::npos || c->address.is_multicast() || c->address.is_unspecified())
      throw std::runtime_error(fmt::format("--ip6 {}: expected a unicast ADDR/LEN, like 2001:db8::2/64", a));
    cfg.ipv6_addresses.push_back(*c);
  }
  if (!opts.gw6.empty()) {
    auto g = ip::Ipv6Address::parse(opts.gw6);
    if (!g || g->is_multicast() || g->is_unspecified())
      throw std::runtime_error(fmt::format("--gw6 {}: expected a unicast IPv6 address", opts.gw6));
    cfg.gateway6 = *g;
  }

  tap_ = std::make_unique<tap::TapLink>(opts.tap, tap::TapLinkOptions{.gso = opts.gso});
  Link* link = tap_.get();
  if (!opts.pcap.empty()) {
    recorder_ = tap::PcapRecorder::with_wall_clock(*tap_, opts.pcap);
    link = recorder_.get();
  }
  iface_ = std::make_unique<ip::Interface>(*link, cfg, rng_);
  udp_ = std::make_unique<udp::UdpLayer>(rng_);
  iface_->register_transport(ip::IpProtocol::kUdp, *udp_);
  // The interface is the TCP layer's route table: source address and MSS per destination (RFC 9293 §3.7.1).
  tcp::LayerConfig tcp_cfg;
  // A SYN queue as deep as Linux's default somaxconn-sized backlog: a burst of a thousand connects is answered
  // statefully, and SYN cookies (RFC 4987 §3.6) stay the answer to floods rather than to ordinary bursts.
  tcp_cfg.syn_queue = 1024;
  tcp_ = std::make_unique<tcp::TcpLayer>(rng_, tcp_cfg, iface_.get());
  iface_->register_transport(ip::IpProtocol::kTcp, *tcp_);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0 || (signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
    throw std::system_error(errno, std::generic_category(), "signalfd");
  report_ipv6_changes();  // notes the tentative addresses, so their DAD outcome is reported
  if (opts.wait_dad) wait_for_dad();
}

Node::~Node() {
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

Node::Stop Node::run(FunctionRef<StepResult(Instant)> step) {
  if (stopped_) return Stop::kSignal;
  for (;;) {
    Instant now = clock_.now();
    iface_->poll(now);
    report_ipv6_changes();
    const StepResult r = step(now);
    if (r.done) {
      iface_->poll(clock_.now());  // send what the last step queued
      return Stop::kDone;
    }
    now = clock_.now();
    // Transmit what the step queued, and take frames that arrived meanwhile. Those may have given the step new
    // work (data, send space), so the step runs again before the loop sleeps.
    const bool took_frames = iface_->poll(now) > 0;

    std::optional<Instant> wake = iface_->poll_at();
    if (r.wake_at && (!wake || *r.wake_at < *wake)) wake = r.wake_at;
    int timeout_ms = 1000;  // an upper bound only: every timer that matters is in `wake`
    if (took_frames) {
      timeout_ms = 0;
    } else if (wake) {
      const auto us = (*wake - now).count();
      timeout_ms = us <= 0 ? 0 : int(std::min<std::int64_t>((us + 999) / 1000, 1000));
    }
    pollfd fds[2] = {{tap_->wait_fd(), POLLIN, 0}, {signal_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (n > 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo si;
      if (::read(signal_fd_, &si, sizeof si) == sizeof si) {
        stopped_ = true;
        return Stop::kSignal;
      }
    }
  }
}

bool Node::wait_for_dad() {
  const auto& cfg = iface_->config();
  // RFC 4862 §5.4.2 / §5.4.3: a random delay up to max_dad_delay, then dad_transmits NS one RetransTimer
  // apart, and one more RetransTimer before the address is PREFERRED; one second of slack on top.
  const Duration bound = cfg.max_dad_delay + iface_->ipv6().neighbors().retrans_timer() * (cfg.dad_transmits + 1) +
                         seconds(1);
  auto tentative = [this] {
    const auto& addrs = iface_->ipv6().addresses();
    return std::any_of(addrs.begin(), addrs.end(),
                       [](const auto& a) { return a.state == ip::AddressState::kTentative; });
  };
  const Instant give_up = now() + bound;
  bool timed_out = false;
  const Stop stop = run([&](Instant t) -> StepResult {
    if (!tentative()) return {true, {}};
    if (t >= give_up) {
      timed_out = true;
      return {true, {}};
    }
    return {false, give_up};
  });
  return stop == Stop::kDone && !timed_out;
}

std::string Node::ipv6_summary() const {
  std::string out;
  for (const auto& a : iface_->ipv6().addresses()) {
    const char* origin = a.origin == ip::AddressOrigin::kLinkLocal ? "link-local"
                         : a.origin == ip::AddressOrigin::kStatic  ? "static"
                                                                   : "slaac";
    if (!out.empty()) out += ", ";
    out += fmt::format("{}/{} ({}, {})", a.address.to_string(), a.prefix_len, origin, fmt::streamed(a.state));
  }
  return out.empty() ? std::string("none") : out;
}

void Node::report_ipv6_changes() {
  const auto& c = iface_->ipv6_counters();
  const std::uint64_t mark = c.dad_succeeded + c.dad_duplicates + c.slaac_addresses_created + c.addresses_deprecated +
                             c.addresses_expired + c.routers_added + c.routers_expired + c.ndp_address_conflict;
  if (mark == ipv6_change_mark_ && !known_addrs_.empty()) return;
  ipv6_change_mark_ = mark;
  const bool report = opts_.report_ipv6 || opts_.verbose;
  std::vector<std::pair<ip::Ipv6Address, ip::AddressState>> now_known;
  for (const auto& a : iface_->ipv6().addresses()) {
    now_known.emplace_back(a.address, a.state);
    const auto old = std::find_if(known_addrs_.begin(), known_addrs_.end(),
                                  [&](const auto& k) { return k.first == a.address; });
    if (old != known_addrs_.end() && old->second == a.state) continue;
    if (a.state == ip::AddressState::kDuplicate) {
      // RFC 4862 §5.4.5: the address is not assigned; a manual one needs the operator's attention.
      fmt::print(stderr, "tapstack: ip6 {}/{} DUPLICATE: another node on {} uses it; not using it\n",
                 a.address.to_string(), a.prefix_len, opts_.tap);
      std::fflush(stderr);
    } else if (report && a.state != ip::AddressState::kTentative) {
      const char* origin = a.origin == ip::AddressOrigin::kSlaac ? " (slaac)" : "";
      fmt::print("tapstack: ip6 {}/{} {}{}\n", a.address.to_string(), a.prefix_len, fmt::streamed(a.state), origin);
      std::fflush(stdout);
    }
  }
  if (report) {
    for (const auto& k : known_addrs_)
      if (std::none_of(now_known.begin(), now_known.end(), [&](const auto& n) { return n.first == k.first; }))
        fmt::print("tapstack: ip6 {} removed\n", k.first.to_string());
    const auto router = iface_->ipv6().default_router();
    if (router != known_router_ && router) fmt::print("tapstack: ip6 default router {}\n", router->to_string());
    known_router_ = router;
    std::fflush(stdout);
  }
  known_addrs_ = std::move(now_known);
}

void Node::print_counters(std::ostream& os) const {
  auto dump = [&os](std::string_view layer, const auto& counters) {
    counters.visit([&](std::string_view name, std::uint64_t v) {
      if (v != 0) os << fmt::format("  {}.{} {}\n", layer, name, v);
    });
  };
  dump("tap", tap_->counters());
  if (recorder_) dump("pcap", recorder_->counters());
  dump("ip", iface_->counters());
  dump("ip6", iface_->ipv6_counters());
  dump("ndp", iface_->ipv6().neighbors().counters());
  dump("reassembly6", iface_->ipv6().reassembler().counters());
  dump("arp", iface_->arp_cache().counters());
  dump("reassembly", iface_->reassembler().counters());
  dump("udp", udp_->counters());
  dump("tcp", tcp_->counters());
}

}  // namespace tapstack::cli
