// `tapstack resolve` and `tapstack get` on the socket facade: a threaded Runtime on the TAP (setup), then only
// getaddrinfo / socket / connect / sendall / recv, as a MicroPython program would do it.
#include "cli/facade_commands.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "socket/resolver_driver.hpp"
#include "socket/socket.hpp"
#include "tap/pcap_recorder.hpp"
#include "tap/tap_link.hpp"

namespace tapstack::cli {
namespace {

namespace sk = tapstack::socket;

// A threaded runtime on the TAP device, the default one for the facade while it lives.
class FacadeNet {
 public:
  FacadeNet(const NodeOptions& net, const std::vector<std::string>& dns, const std::string& hosts_file) {
    sk::RuntimeConfig cfg;
    if (net.mac.empty()) {
      cfg.interface.mac = default_mac(net.tap);
    } else {
      const auto m = ip::MacAddress::parse(net.mac);
      if (!m || m->is_multicast() || m->is_unspecified())
        throw std::runtime_error(fmt::format("--mac {}: not a unicast MAC address", net.mac));
      cfg.interface.mac = *m;
    }
    std::string ip4 = net.ip4;
    if (ip4.empty()) {
      const char* env = std::getenv("TAPSTACK_IP4");
      if (env == nullptr || *env == '\0') throw std::runtime_error("--ip4 ADDR/LEN is required (or TAPSTACK_IP4)");
      ip4 = env;
    }
    const auto cidr = ip::Ipv4Cidr::parse(ip4);
    if (!cidr) throw std::runtime_error(fmt::format("--ip4 {}: expected ADDR/LEN, like 192.0.2.2/24", ip4));
    cfg.interface.ipv4 = *cidr;
    if (!net.gw4.empty()) {
      const auto g = ip::Ipv4Address::parse(net.gw4);
      if (!g) throw std::runtime_error(fmt::format("--gw4 {}: expected an IPv4 address", net.gw4));
      cfg.interface.gateway4 = *g;
    }
    for (const auto& a : net.ip6) {  // the same checks as Node (cli/node.cpp)
      const auto c = ip::Ipv6Cidr::parse(a);
      if (!c || a.find('/') == std::string::npos || c->address.is_multicast() || c->address.is_unspecified())
        throw std::runtime_error(fmt::format("--ip6 {}: expected a unicast ADDR/LEN, like 2001:db8::2/64", a));
      cfg.interface.ipv6_addresses.push_back(*c);
    }
    if (!net.gw6.empty()) {
      const auto g = ip::Ipv6Address::parse(net.gw6);
      if (!g || g->is_multicast() || g->is_unspecified())
        throw std::runtime_error(fmt::format("--gw6 {}: expected a unicast IPv6 address", net.gw6));
      cfg.interface.gateway6 = *g;
    }
    std::string servers;
    for (const std::string& s : dns) servers += s + ",";
    if (servers.empty()) {
      const char* env = std::getenv("TAPSTACK_DNS");
      if (env != nullptr) servers = env;
    }
    const auto parsed = sk::RuntimeConfig::parse_dns_servers(servers);
    if (!parsed)
      throw std::runtime_error(fmt::format("--dns {}: expected addresses like 192.0.2.1 or 192.0.2.1:53", servers));
    cfg.dns.servers = *parsed;
    std::string hosts_path = hosts_file;
    if (hosts_path.empty()) {
      const char* env = std::getenv("TAPSTACK_HOSTS");
      if (env != nullptr) hosts_path = env;
    }
    if (!hosts_path.empty()) {
      std::ifstream in{hosts_path};
      if (!in) throw std::runtime_error(fmt::format("--hosts {}: cannot read it", hosts_path));
      std::ostringstream text;
      text << in.rdbuf();
      cfg.hosts = text.str();
    }

    tap_ = std::make_unique<tap::TapLink>(net.tap, tap::TapLinkOptions{.gso = net.gso});
    Link* link = tap_.get();
    if (!net.pcap.empty()) {
      recorder_ = tap::PcapRecorder::with_wall_clock(*tap_, net.pcap);
      link = recorder_.get();
    }
    rt_ = std::make_unique<sk::Runtime>(*link, cfg);
    rt_->start();
    sk::Runtime::set_default(rt_.get());
    // RFC 4862 §5.4: a static address is TENTATIVE until DAD ends; wait (bounded) so that the first query or
    // connection can use it. The bound covers MAX_RTR_SOLICITATION_DELAY plus a few retransmit timers.
    if (!cfg.interface.ipv6_addresses.empty()) {
      for (int i = 0; i < 400 && !rt_->has_ipv6(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
  }
  ~FacadeNet() {
    sk::Runtime::set_default(nullptr);
    rt_.reset();  // stops the loop first
  }
  FacadeNet(const FacadeNet&) = delete;
  FacadeNet& operator=(const FacadeNet&) = delete;

 private:
  std::unique_ptr<tap::TapLink> tap_;
  std::unique_ptr<tap::PcapRecorder> recorder_;
  std::unique_ptr<sk::Runtime> rt_;
};

const char* family_name(int af) { return af == sk::AF_INET6 ? "AF_INET6" : "AF_INET"; }

struct Url {
  std::string host, path;
  int port = 80;
};

std::optional<Url> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  url.remove_prefix(kScheme.size());
  const std::size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  Url u;
  u.path = slash == std::string_view::npos ? "/" : std::string{url.substr(slash)};
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // [2001:db8::1]:8080
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    u.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    u.host = authority;
  }
  if (u.host.empty()) return std::nullopt;
  if (!port.empty()) {
    int v = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || v > 65535) return std::nullopt;
      v = v * 10 + (c - '0');
    }
    if (v == 0 || v > 65535) return std::nullopt;
    u.port = v;
  }
  return u;
}

}  // namespace

int resolve_command(const NodeOptions& net, const ResolveOptions& o) {
  FacadeNet rt{net, o.dns, o.hosts};
  const int af = o.family == 4 ? sk::AF_INET : o.family == 6 ? sk::AF_INET6 : sk::AF_UNSPEC;
  std::error_code ec;
  const std::vector<sk::AddrInfo> ai = sk::getaddrinfo(o.name, 0, af, sk::SOCK_STREAM, 0, sk::AI_CANONNAME, ec);
  if (ec) {
    fmt::print(stderr, "tapstack resolve: {}: {} ({})\n", o.name, ec.value(), ec.message());
    return 1;
  }
  for (const sk::AddrInfo& a : ai) fmt::print("{} {}\n", family_name(a.family), a.sockaddr.host());
  fmt::print("canonical name: {}\n", ai.front().canonname);
  std::fflush(stdout);
  return 0;
}

int get_command(const NodeOptions& net, const GetOptions& o) {
  const std::optional<Url> url = parse_url(o.url);
  if (!url) {
    fmt::print(stderr, "tapstack get: {}: expected http://HOST[:PORT]/PATH\n", o.url);
    return 2;
  }
  FacadeNet rt{net, o.dns, o.hosts};
  sk::Buffer response;
  try {
    const sk::AddrInfo ai = sk::getaddrinfo(url->host, url->port, 0, sk::SOCK_STREAM)[0];
    sk::socket s{ai.family, ai.type, ai.proto};
    s.settimeout(o.timeout_s);
    s.connect(ai.sockaddr);
    const bool v6 = ai.family == sk::AF_INET6 && url->host.find(':') != std::string::npos;
    const std::string host =
        (v6 ? "[" + url->host + "]" : url->host) + (url->port != 80 ? ":" + std::to_string(url->port) : std::string{});
    s.sendall("GET " + url->path + " HTTP/1.0\r\nHost: " + host + "\r\nUser-Agent: tapstack\r\nAccept: */*\r\n\r\n");
    for (;;) {  // HTTP/1.0: the body ends when the server closes
      const sk::Buffer chunk = s.recv(65536);
      if (chunk.empty()) break;
      response.insert(response.end(), chunk.begin(), chunk.end());
    }
    s.close();
  } catch (const sk::OSError& e) {
    fmt::print(stderr, "tapstack get: {}: OSError {} ({})\n", o.url, e.errno_value(), e.code().message());
    return 1;
  }

  // Status line and headers end at the first empty line (RFC 9112 §2.1; a bare LF is tolerated, §2.2).
  const std::string_view text{reinterpret_cast<const char*>(response.data()), response.size()};
  std::size_t head_end = text.find("\r\n\r\n");
  std::size_t body_at = head_end == std::string_view::npos ? head_end : head_end + 4;
  if (const std::size_t lf = text.find("\n\n");
      lf != std::string_view::npos && (head_end == std::string_view::npos || lf < head_end)) {
    head_end = lf;
    body_at = lf + 2;
  }
  const std::string_view head = text.substr(0, head_end);
  int status = 0;
  if (head.substr(0, 5) == "HTTP/") {
    const std::size_t sp = head.find(' ');
    if (sp != std::string_view::npos && sp + 4 <= head.size()) {
      for (std::size_t i = sp + 1; i < sp + 4 && head[i] >= '0' && head[i] <= '9'; ++i)
        status = status * 10 + (head[i] - '0');
    }
  }
  if (head_end == std::string_view::npos || status < 100 || status > 999) {
    fmt::print(stderr, "tapstack get: {}: not an HTTP response ({} bytes)\n", o.url, response.size());
    return 1;
  }
  if (net.verbose) fmt::print(stderr, "{}\n", head);
  const std::string_view body = text.substr(body_at);
  std::fwrite(body.data(), 1, body.size(), stdout);
  std::fflush(stdout);
  if (status >= 400) {
    fmt::print(stderr, "tapstack get: {}: HTTP {}\n", o.url, status);
    return 22;
  }
  return 0;
}

void add_facade_commands(CLI::App& app, FacadeCommands& fc) {
  const auto dns_options = [](CLI::App* cmd, std::vector<std::string>& dns, std::string& hosts) {
    cmd->add_option("--dns", dns, "DNS server ADDR[:PORT] (repeatable; default: $TAPSTACK_DNS)");
    cmd->add_option("--hosts", hosts, "a hosts(5) file consulted before DNS (default: $TAPSTACK_HOSTS)");
    cmd->footer(
        "Common options (--tap, --mac, --ip4, --gw4, --pcap, -v) may also follow the subcommand: see tapstack --help.");
  };
  fc.resolve_cmd = app.add_subcommand("resolve", "resolve a name with getaddrinfo() on the stack's DNS resolver");
  fc.resolve_cmd->add_option("name", fc.resolve.name, "host name (or address literal)")->required();
  fc.resolve_cmd->add_option("--family", fc.resolve.family, "4 or 6 (default: any)")->check(CLI::IsMember({0, 4, 6}));
  dns_options(fc.resolve_cmd, fc.resolve.dns, fc.resolve.hosts);

  fc.get_cmd = app.add_subcommand("get", "HTTP/1.0 GET a URL through the socket facade; the body goes to stdout");
  fc.get_cmd->add_option("url", fc.get.url, "http://HOST[:PORT]/PATH")->required();
  fc.get_cmd->add_option("--timeout", fc.get.timeout_s, "seconds each blocking call may take")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 86400.0));
  dns_options(fc.get_cmd, fc.get.dns, fc.get.hosts);
}

std::optional<int> run_facade_command(const NodeOptions& net, const FacadeCommands& fc) {
  if (fc.resolve_cmd != nullptr && *fc.resolve_cmd) return resolve_command(net, fc.resolve);
  if (fc.get_cmd != nullptr && *fc.get_cmd) return get_command(net, fc.get);
  return std::nullopt;
}

}  // namespace tapstack::cli
