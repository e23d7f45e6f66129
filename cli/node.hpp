// Node: one stack (ip::Interface with udp::UdpLayer and tcp::TcpLayer) on a TAP device, and the loop that
// drives it from the real clock. The `tapstack` command's subcommands are steps run by this loop; the loop sleeps
// in poll(2) on the TAP fd and a signalfd until a frame arrives, a protocol timer is due, or SIGINT/SIGTERM asks
// it to stop.
#pragma once
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "ip/interface.hpp"
#include "stack/function_ref.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tap/pcap_recorder.hpp"
#include "tap/tap_link.hpp"
#include "tcp/layer.hpp"
#include "udp/layer.hpp"

namespace tapstack::cli {

struct NodeOptions {
  std::string tap = "tap0";
  std::string mac;   // empty: derived from the TAP name (stable, locally administered)
  std::string ip4;   // "ADDR/LEN"
  std::string gw4;   // "ADDR"
  // IPv6 is always on: the link-local address (modified EUI-64 of the MAC) and SLAAC from Router Advertisements,
  // plus these static addresses (DAD runs for each, RFC 4862 §5.4) and default router.
  std::vector<std::string> ip6;  // "ADDR/LEN", repeatable
  std::string gw6;               // "ADDR"
  bool wait_dad = false;         // the constructor returns once no address is tentative (bounded)
  bool report_ipv6 = false;      // print IPv6 addresses as DAD completes and default routers as they come
  std::string pcap;  // record every frame here when set
  bool gso = true;   // merge TCP segments into GSO writes to the TAP (tap::TapLinkOptions::gso)
  bool verbose = false;
};

// What one step of a program asks of the loop.
struct StepResult {
  bool done = false;               // stop the loop
  std::optional<Instant> wake_at;  // run the step again no later than this
};

class Node {
 public:
  // Opens (or creates) the TAP device; throws std::runtime_error / std::system_error with a message fit for
  // the user when an option is malformed or the device cannot be opened.
  explicit Node(const NodeOptions& opts);
  ~Node();

  enum class Stop { kDone, kSignal };
  // Calls `step(now)` after every round of frame processing until it reports done or a stop signal arrives.
  Stop run(FunctionRef<StepResult(Instant)> step);
  // Runs the loop until no IPv6 address is TENTATIVE any more, at most until the last DAD can have ended
  // (max_dad_delay + (dad_transmits + 1) RetransTimers + 1 s). False when one is still tentative then, or on
  // a stop signal (run() then returns kSignal at once).
  bool wait_for_dad();
  // "fe80::…/64 (link-local, tentative), 2001:db8::2/64 (static, preferred)": the banner's IPv6 part.
  std::string ipv6_summary() const;
  Instant now() noexcept { return clock_.now(); }
  // Lets the interface and transports send what a step queued, without waiting.
  void flush() noexcept { iface_->poll(now()); }

  ip::Interface& iface() noexcept { return *iface_; }
  udp::UdpLayer& udp() noexcept { return *udp_; }
  tcp::TcpLayer& tcp() noexcept { return *tcp_; }
  const NodeOptions& options() const noexcept { return opts_; }
  // Every non-zero counter of every layer, one "layer.name value" per line.
  void print_counters(std::ostream& os) const;

 private:
  NodeOptions opts_;
  SteadyClock clock_;
  SecureRng rng_;
  std::unique_ptr<tap::TapLink> tap_;
  std::unique_ptr<tap::PcapRecorder> recorder_;
  std::unique_ptr<ip::Interface> iface_;
  std::unique_ptr<udp::UdpLayer> udp_;
  std::unique_ptr<tcp::TcpLayer> tcp_;
  int signal_fd_ = -1;
  bool stopped_ = false;  // a stop signal was consumed (by wait_for_dad)

  // Prints IPv6 address state changes (DUPLICATE always, on stderr; the rest with report_ipv6 or -v) and
  // default-router changes; cheap when nothing changed (a sum of engine counters is compared first).
  void report_ipv6_changes();
  std::uint64_t ipv6_change_mark_ = 0;
  std::vector<std::pair<ip::Ipv6Address, ip::AddressState>> known_addrs_;
  std::optional<ip::Ipv6Address> known_router_;
};

// A stable locally administered unicast MAC derived from a name: 02:xx:xx:xx:xx:xx.
ip::MacAddress default_mac(const std::string& name);

}  // namespace tapstack::cli
