// The `tapstack` command: runs the stack on a TAP device, IPv4 and IPv6. `serve` answers ARP/NDP and ping and runs
// services (UDP echo, TCP echo and discard, a static HTTP server) on both families; `ping` sends ICMP or ICMPv6
// echo requests from the stack; `send` and `recv` run one TCP transfer. Options common to every subcommand may come
// before or after the subcommand's name.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <map>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ostream.h>

#include "cli/facade_commands.hpp"
#include "cli/http_server.hpp"
#include "cli/node.hpp"
#include "cli/services.hpp"
#include "cli/transfer.hpp"

namespace tapstack::cli {
namespace {

struct ServeOptions {
  std::vector<std::uint16_t> udp_echo;
  std::vector<std::uint16_t> tcp_echo;
  std::vector<std::uint16_t> discard;
  std::vector<std::uint16_t> http;
  std::string root;  // empty: the current directory
  double http_idle_s = 30;
  std::size_t tcp_buffer = 4 << 20;  // the most each buffer grows to (they start at 128 KiB: autotuning)
};

int serve(NodeOptions common, const ServeOptions& so) {
  common.report_ipv6 = true;
  Node node{common};
  std::vector<udp::SocketHandle> echo;
  for (std::uint16_t port : so.udp_echo) {
    for (const ip::IpAddress any : {ip::IpAddress{ip::Ipv4Address{}}, ip::IpAddress{ip::Ipv6Address{}}}) {
      const auto h = node.udp().open();
      auto& s = node.udp().socket(h);
      if (auto ec = s.bind({any, port}))
        throw std::runtime_error(fmt::format("--udp-echo {}: {}", port, ec.message()));
      echo.push_back(h);
    }
  }
  // TCP services, each a state machine stepped by the loop below.
  struct Named {
    std::string name;
    std::unique_ptr<TcpService> service;
  };
  std::vector<Named> services;
  tcp::ConnectionConfig conn_cfg = node.tcp().config().connection;
  conn_cfg.send_buffer = conn_cfg.recv_buffer = so.tcp_buffer;
  auto& tcp = node.tcp();
  // Every service listens on the wildcard of both families; "echo:7" and "echo6:7" name the two listeners.
  const ip::IpAddress kAny[] = {ip::IpAddress{ip::Ipv4Address{}}, ip::IpAddress{ip::Ipv6Address{}}};
  auto name = [](std::string_view service, const ip::IpAddress& any, std::uint16_t port) {
    return fmt::format("{}{}:{}", service, any.is_v6() ? "6" : "", port);
  };
  for (const ip::IpAddress& any : kAny) {
    for (std::uint16_t port : so.tcp_echo) {
      const auto l = listen_or_throw(tcp, any, port, "--tcp-echo", conn_cfg);
      services.push_back(
          {name("echo", any, port), std::make_unique<StreamService>(tcp, l, StreamService::Mode::kEcho)});
    }
    for (std::uint16_t port : so.discard) {
      const auto l = listen_or_throw(tcp, any, port, "--discard", conn_cfg);
      services.push_back(
          {name("discard", any, port), std::make_unique<StreamService>(tcp, l, StreamService::Mode::kDiscard)});
    }
    for (std::uint16_t port : so.http) {
      HttpConfig hc;
      hc.root = so.root.empty() ? std::filesystem::current_path() : std::filesystem::path{so.root};
      hc.idle_timeout = Duration{std::int64_t(so.http_idle_s * 1e6)};
      const auto l = listen_or_throw(tcp, any, port, "--http", conn_cfg);
      services.push_back({name("http", any, port), std::make_unique<HttpServer>(tcp, l, hc)});
    }
  }

  const auto& cfg = node.iface().config();
  fmt::print("tapstack serve: {} mac {} ip4 {}", common.tap, cfg.mac.to_string(),
             cfg.ipv4 ? cfg.ipv4->to_string() : std::string("none"));
  for (auto p : so.udp_echo) fmt::print(", udp echo :{}", p);
  for (auto p : so.tcp_echo) fmt::print(", tcp echo :{}", p);
  for (auto p : so.discard) fmt::print(", tcp discard :{}", p);
  for (const auto& s : services)
    if (auto* h = dynamic_cast<HttpServer*>(s.service.get()); h && s.name.starts_with("http:"))
      fmt::print(", {} root {}", s.name, h->config().root.string());
  fmt::print("\n");
  // IPv6 addresses start TENTATIVE; each is printed again ("tapstack: ip6 ADDR/LEN preferred") once DAD ends.
  fmt::print("tapstack serve: ip6 {}\n", node.ipv6_summary());
  std::fflush(stdout);

  std::vector<std::byte> buf(65536);
  node.run([&](Instant now) -> StepResult {
    for (auto h : echo) {
      auto& s = node.udp().socket(h);
      // Echo what fits in the transmit queue; the rest waits in the receive queue for the next round.
      while (s.can_recv() && s.can_send()) {
        auto r = s.recv(buf);
        if (!r) break;
        if (common.verbose) fmt::print("udp {} bytes from {}\n", r->size, fmt::streamed(r->from));
        s.send_to(std::span{buf}.first(r->size), r->from);
      }
    }
    std::optional<Instant> wake;
    for (auto& s : services) {
      const auto at = s.service->step(now);
      if (at && (!wake || *at < *wake)) wake = at;
    }
    return {false, wake};
  });
  fmt::print("tapstack serve: stopping; counters:\n");
  std::fflush(stdout);
  node.print_counters(std::cout);
  auto dump = [](std::string_view name, const auto& counters) {
    counters.visit([&](std::string_view field, std::uint64_t v) {
      if (v != 0) fmt::print("  {}.{} {}\n", name, field, v);
    });
  };
  for (const auto& s : services) {
    if (auto* st = dynamic_cast<StreamService*>(s.service.get())) dump(s.name, st->counters());
    if (auto* h = dynamic_cast<HttpServer*>(s.service.get())) dump(s.name, h->counters());
  }
  std::fflush(stdout);
  return 0;
}

struct PingOptions {
  std::string host;
  int count = 3;
  std::size_t size = 56;
  double interval_s = 1.0;
  double wait_s = 2.0;
};

int ping(NodeOptions common, const PingOptions& po) {
  // An IPv6 link-local destination may carry its zone ("fe80::1%tap0", RFC 4007 §11); the stack has one link.
  std::string text = po.host;
  if (const auto pct = text.find('%'); pct != std::string::npos) {
    if (text.substr(pct + 1) != common.tap)
      throw std::runtime_error(fmt::format("ping: {}: the zone must be the stack's link, {}", po.host, common.tap));
    text.resize(pct);
  }
  const auto dst = ip::IpAddress::parse(text);
  if (!dst) throw std::runtime_error(fmt::format("ping: {}: not an IPv4 or IPv6 address", po.host));
  const bool v6 = dst->is_v6();
  // The largest echo data in one IP datagram: 65535 - 20 - 8 (IPv4); a 65535-byte payload - 8 (IPv6).
  const std::size_t max_size = v6 ? 65527 : 65507;
  if (po.size > max_size) throw std::runtime_error(fmt::format("ping: -s: at most {} bytes", max_size));
  // The source address must have passed DAD (RFC 4862 §5.4: a tentative address is not used); the Node waits
  // for it, bounded, before the first request.
  if (v6) common.wait_dad = true;
  Node node{common};
  const std::string shown = dst->to_string();
  if (v6) {
    fmt::print("PING {}({}) {} data bytes\n", po.host, shown, po.size);
    if (!node.iface().ipv6().source_for(dst->v6()))
      fmt::print(stderr, "tapstack ping: no usable IPv6 source address toward {} yet\n", shown);
  } else {
    fmt::print("PING {} ({}) {}({}) bytes of data.\n", po.host, shown, po.size, po.size + 28);
  }
  std::fflush(stdout);

  std::vector<std::byte> payload(po.size);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = std::byte(i & 0xff);
  const std::uint16_t ident = std::uint16_t(SecureRng{}.next_u32());
  const auto interval = Duration{std::int64_t(po.interval_s * 1e6)};
  const auto wait = Duration{std::int64_t(po.wait_s * 1e6)};
  std::map<std::uint16_t, Instant> sent_at;
  std::vector<double> rtts;
  int sent = 0;
  const Instant start = node.now();
  Instant next_send = start;
  Instant give_up = Instant::max();

  node.run([&](Instant now) -> StepResult {
    while (auto r = node.iface().pop_echo_reply()) {
      if (r->ident != ident || r->from != *dst) continue;
      auto it = sent_at.find(r->seq);
      if (it == sent_at.end()) continue;  // duplicate or unknown
      const double ms = double((r->received_at - it->second).count()) / 1000.0;
      sent_at.erase(it);
      rtts.push_back(ms);
      fmt::print("{} bytes from {}: icmp_seq={} ttl={} time={:.3f} ms\n", r->data_len + 8, shown, r->seq, r->ttl,
                 ms);
      std::fflush(stdout);
    }
    if (sent < po.count && now >= next_send) {
      ++sent;
      sent_at[std::uint16_t(sent)] = now;
      if (v6) {
        node.iface().send_echo_request6(now, dst->v6(), ident, std::uint16_t(sent), payload);
      } else {
        node.iface().send_echo_request(now, dst->v4(), ident, std::uint16_t(sent), payload);
      }
      next_send = now + interval;
      if (sent == po.count) give_up = now + wait;
    }
    const bool done = sent == po.count && (sent_at.empty() || now >= give_up);
    return {done, sent < po.count ? next_send : give_up};
  });

  const double total_ms = double((node.now() - start).count()) / 1000.0;
  const int received = int(rtts.size());
  fmt::print("\n--- {} ping statistics ---\n", po.host);
  fmt::print("{} packets transmitted, {} received, {}% packet loss, time {:.0f}ms\n", sent, received,
             sent ? (sent - received) * 100 / sent : 0, total_ms);
  if (received > 0) {
    double mn = rtts[0], mx = rtts[0], sum = 0, sq = 0;
    for (double r : rtts) {
      mn = std::min(mn, r);
      mx = std::max(mx, r);
      sum += r;
      sq += r * r;
    }
    const double avg = sum / received;
    fmt::print("rtt min/avg/max/mdev = {:.3f}/{:.3f}/{:.3f}/{:.3f} ms\n", mn, avg, mx,
               std::sqrt(std::max(0.0, sq / received - avg * avg)));
  }
  return received > 0 ? 0 : 1;  // like ping(8): 1 when no reply came, also after an interrupt
}

void add_common(CLI::App& app, NodeOptions& o) {
  app.add_option("--tap", o.tap, "TAP device to attach to (created if absent)")->capture_default_str();
  app.add_option("--mac", o.mac, "the stack's MAC address (default: stable, derived from the TAP name)");
  app.add_option("--ip4", o.ip4, "the stack's IPv4 address and prefix length, e.g. 192.0.2.2/24");
  app.add_option("--gw4", o.gw4, "IPv4 default gateway (on the --ip4 subnet)");
  app.add_option("--ip6", o.ip6,
                 "a static IPv6 address and prefix length, e.g. 2001:db8::2/64 (repeatable; the link-local address "
                 "and SLAAC addresses from Router Advertisements are always formed)");
  app.add_option("--gw6", o.gw6, "IPv6 default router when no Router Advertisement names one");
  app.add_option("--pcap", o.pcap, "record every frame, both directions, to this pcap file");
  app.add_flag("!--no-gso", o.gso,
               "write each TCP segment to the TAP alone, instead of merging a burst's segments into one GSO frame");
  app.add_flag("-v,--verbose", o.verbose, "print each event");
}

}  // namespace
}  // namespace tapstack::cli

int main(int argc, char** argv) {
  using namespace tapstack::cli;
  CLI::App app{"tapstack: a userspace TCP/IP stack on a Linux TAP device"};
  app.require_subcommand(1);
  NodeOptions common;
  add_common(app, common);
  app.fallthrough();  // options common to all subcommands may follow the subcommand

  ServeOptions so;
  auto* serve_cmd = app.add_subcommand("serve", "answer ARP and ping and run services until SIGINT or SIGTERM");
  serve_cmd->add_option("--udp-echo", so.udp_echo, "echo UDP datagrams on this port (repeatable)");

  serve_cmd->add_option("--tcp-echo", so.tcp_echo, "echo TCP streams on this port (repeatable)");
  serve_cmd->add_option("--discard", so.discard, "read and drop TCP streams on this port (repeatable)");
  serve_cmd->add_option("--http", so.http, "serve files over HTTP/1.x on this port (repeatable)");
  serve_cmd->add_option("--root", so.root, "directory --http serves (default: the current directory)");
  serve_cmd->add_option("--tcp-buffer", so.tcp_buffer,
                        "largest send and receive buffer per TCP connection (bytes; they start at 128 KiB and grow)")
      ->capture_default_str()->check(CLI::Range(std::size_t{4096}, std::size_t{1} << 30));
  serve_cmd->add_option("--http-idle-timeout", so.http_idle_s, "seconds an HTTP connection may idle")
      ->capture_default_str()->check(CLI::Range(0.001, 86400.0));

  PingOptions po;
  auto* ping_cmd = app.add_subcommand("ping", "send ICMP echo requests from the stack and print the replies");
  ping_cmd->add_option("host", po.host, "IPv4 or IPv6 address to ping (fe80::...%TAP for a link-local one)")
      ->required();
  ping_cmd->add_option("-c,--count", po.count, "number of echo requests")->capture_default_str()->check(CLI::Range(1, 1000000));
  ping_cmd->add_option("-s,--size", po.size, "data bytes per request")->capture_default_str();
  ping_cmd->add_option("-i,--interval", po.interval_s, "seconds between requests")->capture_default_str()->check(CLI::Range(0.001, 3600.0));
  ping_cmd->add_option("-W,--wait", po.wait_s, "seconds to wait for replies after the last request")->capture_default_str()->check(CLI::Range(0.0, 3600.0));

  SendOptions sendo;
  auto* send_cmd = app.add_subcommand("send", "connect over TCP, send a byte pattern, close, and print the rate");
  send_cmd->add_option("host", sendo.host, "IP address to connect to")->required();
  send_cmd->add_option("port", sendo.port, "TCP port")->required();
  send_cmd->add_option("--bytes", sendo.bytes, "bytes to send")->required();
  send_cmd->add_option("--abort-after", sendo.abort_after,
                       "send this many bytes, wait for their ACK, then reset (RST)");
  send_cmd->add_option("--timeout", sendo.timeout_s, "give up after this many seconds (0: never)")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));

  RecvOptions recvo;
  auto* recv_cmd = app.add_subcommand("recv", "accept one TCP connection, read until EOF, and print the rate");
  recv_cmd->add_option("port", recvo.port, "TCP port to listen on")->required();
  recv_cmd->add_option("--bytes", recvo.bytes, "fail unless exactly this many bytes arrive");
  recv_cmd->add_option("--timeout", recvo.timeout_s, "give up after this many seconds (0: never)")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));

  FacadeCommands facade;  // `resolve` and `get`, written on the socket facade like any user program
  add_facade_commands(app, facade);

  for (auto* sub : {serve_cmd, ping_cmd, send_cmd, recv_cmd, facade.resolve_cmd, facade.get_cmd})
    sub->footer(
        "Common options (--tap, --mac, --ip4, --gw4, --ip6, --gw6, --pcap, -v) may also follow the subcommand: see "
        "tapstack --help.");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*serve_cmd) return serve(common, so);
    if (*ping_cmd) return ping(common, po);
    if (*send_cmd) {
      // TCP to an IPv6 host needs a source address that passed DAD (RFC 4862 §5.4).
      if (const auto a = tapstack::ip::IpAddress::parse(sendo.host); a && a->is_v6()) common.wait_dad = true;
      return run_send(common, sendo);
    }
    if (*recv_cmd) return run_recv(common, recvo);
    if (auto rc = run_facade_command(common, facade)) return *rc;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tapstack: {}\n", e.what());
    return 2;
  }
  return 2;
}
