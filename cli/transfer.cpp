// `tapstack send` / `tapstack recv`: each is a small state machine stepped by the Node's loop.
#include "cli/transfer.hpp"

#include <fmt/core.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "cli/pattern.hpp"

namespace tapstack::cli {

namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr Duration kCloseLinger = seconds{5};  // recv: how long our FIN may wait for its ACK

Instant deadline_after(Instant start, double seconds_) noexcept {
  return seconds_ > 0 ? start + Duration{std::int64_t(seconds_ * 1e6)} : Instant::max();
}

void print_rate(std::string_view verb, std::uint64_t bytes, Duration elapsed, std::uint64_t hash) {
  const double s = std::max(double(elapsed.count()) / 1e6, 1e-6);
  fmt::print("{} {} bytes in {:.3f} seconds: {:.3f} Gbit/s, fnv1a64 {:016x}\n", verb, bytes, s,
             double(bytes) * 8 / s / 1e9, hash);
  std::fflush(stdout);
}

}  // namespace

int run_send(const NodeOptions& common, const SendOptions& so) {
  const auto addr = ip::IpAddress::parse(so.host);
  if (!addr) throw std::runtime_error(fmt::format("send: {}: not an IP address", so.host));
  if (so.port == 0) throw std::runtime_error("send: port 0: a port number from 1 to 65535 is needed");
  const ip::Endpoint remote{*addr, so.port};
  Node node{common};
  tcp::TcpLayer& tcp = node.tcp();
  const Instant start = node.now();
  const Instant give_up = deadline_after(start, so.timeout_s);
  auto h = tcp.connect(start, remote);
  if (!h) {
    fmt::print(stderr, "tapstack send: connect to {}: {}\n", fmt::streamed(remote), h.error().message());
    return kExitFailed;
  }
  const std::uint64_t total = so.abort_after ? std::min(*so.abort_after, so.bytes) : so.bytes;
  const std::size_t capacity = tcp.find(*h)->send_free();  // nothing queued yet: the whole send buffer
  std::vector<std::byte> buf(kChunk);

  enum class Phase { kConnecting, kSending, kAbortWhenAcked, kClosing, kDone };
  Phase phase = Phase::kConnecting;
  std::uint64_t sent = 0, hash = kFnvOffset;
  Instant t0 = start;
  std::string failure;
  int status = kExitOk;

  const auto stop = node.run([&](Instant now) -> StepResult {
    const tcp::Connection* peek = tcp.find(*h);
    if (peek->state() == tcp::State::kClosed && peek->error()) {
      failure = phase == Phase::kConnecting
                    ? fmt::format("connect to {}: {}", fmt::streamed(remote), peek->error().message())
                    : fmt::format("{} after {} bytes: {}", fmt::streamed(remote), sent, peek->error().message());
      return {true, {}};
    }
    if (now >= give_up) {
      failure = fmt::format("timed out after {} s ({} of {} bytes sent)", so.timeout_s, sent, total);
      tcp.abort(now, *h);
      return {true, {}};
    }
    if (phase == Phase::kConnecting && peek->is_established()) {
      phase = Phase::kSending;
      t0 = now;
    }
    if (phase == Phase::kSending) {
      tcp::Connection& c = *tcp.connection(*h);
      while (sent < total && c.send_free() > 0) {
        const std::size_t n = std::size_t(std::min<std::uint64_t>({c.send_free(), total - sent, buf.size()}));
        fill_pattern(sent, MutableBytes{buf.data(), n});
        const std::size_t took = c.send(Bytes{buf.data(), n});
        hash = fnv1a(hash, Bytes{buf.data(), took});
        sent += took;
        if (took < n) break;
      }
      if (sent == total) {
        if (so.abort_after) {
          phase = Phase::kAbortWhenAcked;
        } else {
          c.close();  // RFC 9293 §3.10.4: FIN after the queued data; we keep the handle to see the peer's FIN
          phase = Phase::kClosing;
        }
      }
    }
    if (phase == Phase::kAbortWhenAcked && peek->send_free() == capacity) {
      // Every byte is acknowledged: the RST (RFC 9293 §3.10.5) cannot overtake data the peer has not read yet.
      tcp.abort(now, *h);
      fmt::print("aborted after {} bytes: RST sent\n", sent);
      std::fflush(stdout);
      phase = Phase::kDone;
      return {true, {}};
    }
    if (phase == Phase::kClosing) {
      if (peek->can_recv()) {  // the peer may talk back; read and drop it so its FIN gets through
        tcp::Connection& c = *tcp.connection(*h);
        while (c.recv(MutableBytes{buf}) > 0) {
        }
      }
      // Our FIN went out after the data and the peer's FIN came back: TIME-WAIT (or CLOSED via CLOSING).
      if (peek->state() == tcp::State::kTimeWait || peek->state() == tcp::State::kClosed) {
        phase = Phase::kDone;
        print_rate("sent", sent, now - t0, hash);
        return {true, {}};
      }
    }
    return {false, give_up};
  });

  if (stop == Node::Stop::kSignal) {
    fmt::print(stderr, "tapstack send: interrupted after {} bytes\n", sent);
    tcp.abort(node.now(), *h);
    node.flush();
    return kExitInterrupted;
  }
  if (!failure.empty()) {
    fmt::print(stderr, "tapstack send: {}\n", failure);
    status = kExitFailed;
  }
  tcp.close(node.now(), *h);  // release the handle; TIME-WAIT stays in the layer until we exit
  node.flush();
  if (common.verbose) node.print_counters(std::cout);
  return status;
}

int run_recv(const NodeOptions& common, const RecvOptions& ro) {
  if (ro.port == 0) throw std::runtime_error("recv: port 0: a port number from 1 to 65535 is needed");
  Node node{common};
  tcp::TcpLayer& tcp = node.tcp();
  auto l = tcp.listen(ip::Endpoint{ip::IpAddress{ip::Ipv4Address{}}, ro.port}, 1);
  if (!l) throw std::runtime_error(fmt::format("recv: port {}: {}", ro.port, l.error().message()));
  const auto& cfg = node.iface().config();
  fmt::print("tapstack recv: listening on {}:{}\n", cfg.ipv4 ? cfg.ipv4->address.to_string() : std::string("*"),
             ro.port);
  std::fflush(stdout);

  const Instant start = node.now();
  const Instant give_up = deadline_after(start, ro.timeout_s);
  enum class Phase { kListening, kReceiving, kClosing, kDone };
  Phase phase = Phase::kListening;
  std::optional<tcp::ConnHandle> h;
  std::uint64_t received = 0, hash = kFnvOffset;
  Instant t0 = start, t_end = start, linger_until = Instant::max();
  std::string failure;
  std::vector<std::byte> buf(kChunk);

  const auto stop = node.run([&](Instant now) -> StepResult {
    if (now >= give_up && phase != Phase::kClosing) {
      failure = fmt::format("timed out after {} s ({} bytes received)", ro.timeout_s, received);
      if (h) tcp.abort(now, *h);
      h.reset();
      return {true, {}};
    }
    if (phase == Phase::kListening) {
      h = tcp.accept(*l);
      if (!h) return {false, give_up};
      tcp.close_listener(*l);  // one connection: later SYNs meet a closed port (RST)
      phase = Phase::kReceiving;
      t0 = now;
      if (common.verbose) fmt::print("connection from {}\n", fmt::streamed(tcp.find(*h)->tuple().remote));
    }
    const tcp::Connection* peek = tcp.find(*h);
    if (phase == Phase::kReceiving) {
      if (peek->can_recv()) {
        tcp::Connection& c = *tcp.connection(*h);
        while (const std::size_t n = c.recv(MutableBytes{buf})) {
          hash = fnv1a(hash, Bytes{buf.data(), n});
          received += n;
        }
      }
      if (peek->state() == tcp::State::kClosed && peek->error()) {
        failure = fmt::format("connection from {}: {} after {} bytes", fmt::streamed(peek->tuple().remote),
                              peek->error().message(), received);
        return {true, {}};
      }
      if (peek->recv_finished()) {  // EOF: answer with our FIN and wait (bounded) for its ACK
        t_end = now;
        tcp.connection(*h)->close();
        phase = Phase::kClosing;
        linger_until = now + kCloseLinger;
      }
    }
    if (phase == Phase::kClosing) {
      const auto st = peek->state();
      if (st == tcp::State::kClosed || st == tcp::State::kTimeWait || now >= linger_until) {
        phase = Phase::kDone;
        print_rate("received", received, t_end - t0, hash);
        return {true, {}};
      }
      return {false, linger_until};
    }
    return {false, give_up};
  });

  if (stop == Node::Stop::kSignal) {
    fmt::print(stderr, "tapstack recv: interrupted after {} bytes\n", received);
    if (h) tcp.abort(node.now(), *h);
    node.flush();
    return kExitInterrupted;
  }
  if (h) tcp.close(node.now(), *h);
  node.flush();
  if (common.verbose) node.print_counters(std::cout);
  if (!failure.empty()) {
    fmt::print(stderr, "tapstack recv: {}\n", failure);
    return kExitFailed;
  }
  if (ro.bytes && received != *ro.bytes) {
    fmt::print(stderr, "tapstack recv: expected {} bytes, received {}\n", *ro.bytes, received);
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace tapstack::cli
