// Echo and discard services for `tapstack serve`, and the listen helper every TCP service uses.
#include "cli/services.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <stdexcept>

namespace tapstack::cli {

namespace {
// Room for thousands of clients connecting at once (each step accepts everything pending).
constexpr std::size_t kBacklog = 4096;
constexpr std::size_t kCopyChunk = 256 * 1024;
}  // namespace

tcp::ListenerHandle listen_or_throw(tcp::TcpLayer& tcp, const ip::IpAddress& any, std::uint16_t port,
                                    const std::string& what, const tcp::ConnectionConfig& cfg) {
  if (port == 0) throw std::runtime_error(fmt::format("{} 0: a port number from 1 to 65535 is needed", what));
  auto l = tcp.listen(ip::Endpoint{any, port}, kBacklog, cfg);
  if (!l)
    throw std::runtime_error(fmt::format("{} {}{}: {}", what, port, any.is_v6() ? " (IPv6)" : "", l.error().message()));
  return *l;
}

StreamService::StreamService(tcp::TcpLayer& tcp, tcp::ListenerHandle listener, Mode mode)
    : tcp_{tcp}, listener_{listener}, mode_{mode}, buf_(kCopyChunk) {
  conns_.reserve(1024);
}

std::optional<Instant> StreamService::step(Instant now) noexcept {
  while (auto h = tcp_.accept(listener_)) {
    try {
      conns_.push_back(*h);
      ++counters_.accepted;
    } catch (...) {
      tcp_.abort(now, *h);  // out of memory: refuse this one rather than lose track of it
    }
  }
  // Cheap for idle connections: drive() reads a few fields through find() and returns at once.
  for (std::size_t i = 0; i < conns_.size();) {
    if (drive(now, conns_[i])) {
      ++i;
    } else {
      conns_[i] = conns_.back();
      conns_.pop_back();
    }
  }
  return std::nullopt;  // everything here is driven by arriving segments
}

bool StreamService::drive(Instant now, tcp::ConnHandle h) noexcept {
  const tcp::Connection* peek = tcp_.find(h);
  if (peek == nullptr) return false;
  if (peek->state() == tcp::State::kClosed) {  // reset by the peer, or timed out
    if (peek->error()) ++counters_.reset_by_peer;
    tcp_.close(now, h);  // releases the handle; the layer reaps it
    ++counters_.closed;
    return false;
  }
  const bool has_work = peek->can_recv() && (mode_ == Mode::kDiscard || peek->send_free() > 0);
  if (has_work) {
    tcp::Connection& c = *tcp_.connection(h);  // marks it for the layer's next poll (window update, data)
    for (;;) {
      std::size_t n = std::min(c.recv_available(), buf_.size());
      if (mode_ == Mode::kEcho) n = std::min(n, c.send_free());
      if (n == 0) break;
      const std::size_t got = c.recv(MutableBytes{buf_.data(), n});
      counters_.bytes_in += got;
      if (mode_ == Mode::kEcho) counters_.bytes_out += c.send(Bytes{buf_.data(), got});  // fits: got <= send_free
    }
  }
  // RFC 9293 §3.10.4: the peer's FIN arrived and every byte was read (and, echoing, queued back): our FIN
  // follows the queued data, and the layer keeps the connection through LAST-ACK.
  if (peek->recv_finished()) {
    tcp_.close(now, h);
    ++counters_.closed;
    return false;
  }
  return true;
}

}  // namespace tapstack::cli
