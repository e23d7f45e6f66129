// Sans-I/O UDP socket: application calls (bind, connect, send_to, recv) and the layer's delivery hook.
#include "udp/socket.hpp"

#include <cerrno>

#include "udp/layer.hpp"
#include "udp/wire.hpp"

namespace tapstack::udp {
namespace {
std::error_code errc(int e) noexcept { return {e, std::generic_category()}; }
ip::IpAddress wildcard_of(ip::Family f) noexcept {
  return f == ip::Family::kIpv4 ? ip::IpAddress{ip::Ipv4Address{}} : ip::IpAddress{ip::Ipv6Address{}};
}
}  // namespace

UdpSocket::UdpSocket(const SocketConfig& config)
    : rx_{config.rx_max_datagrams, config.rx_max_bytes}, tx_{config.tx_max_datagrams, config.tx_max_bytes} {}

std::error_code UdpSocket::check_family(const ip::IpAddress& peer) const noexcept {
  if (local_ && local_->addr.family() != peer.family()) return errc(EAFNOSUPPORT);
  return {};
}

std::error_code UdpSocket::bind(const ip::Endpoint& local) noexcept {
  if (!open_) return errc(EBADF);
  if (local_) return errc(EINVAL);  // Linux: bind(2) on a bound socket
  if (layer_ != nullptr) return layer_->bind_socket(*this, local, ip::Endpoint{wildcard_of(local.addr.family()), 0});
  if (local.port == 0) return errc(EINVAL);  // no port table to pick an ephemeral port from
  local_ = local;
  return {};
}

std::error_code UdpSocket::connect(const ip::Endpoint& remote) noexcept {
  if (!open_) return errc(EBADF);
  // Deviation: Linux accepts port 0 and "connect to INADDR_ANY" (loopback); nothing useful follows here.
  if (remote.port == 0 || remote.addr.is_unspecified()) return errc(EINVAL);
  if (auto ec = check_family(remote.addr)) return ec;
  if (!local_) {
    // Linux autobinds on connect(2); the peer feeds the RFC 6056 hash.
    if (layer_ == nullptr) return errc(EINVAL);
    if (auto ec = layer_->bind_socket(*this, ip::Endpoint{wildcard_of(remote.addr.family()), 0}, remote)) return ec;
  }
  remote_ = remote;
  return {};
}

void UdpSocket::disconnect() noexcept { remote_.reset(); }

std::error_code UdpSocket::send_to(Bytes data, const ip::Endpoint& dst) noexcept {
  if (!open_) return errc(EBADF);
  if (auto ec = take_error()) return ec;   // Linux: sock_alloc_send_skb reports sk_err first
  if (dst.port == 0) return errc(EINVAL);  // Linux udp_sendmsg: EINVAL for port 0
  if (dst.addr.is_unspecified()) return errc(EDESTADDRREQ);
  if (auto ec = check_family(dst.addr)) return ec;
  const std::size_t max = dst.addr.is_v4() ? kMaxPayloadV4 : kMaxPayloadV6;
  // Deviation: a datagram that could never fit the transmit buffer is EMSGSIZE, not a forever-EAGAIN.
  if (data.size() > max || data.size() > tx_.max_bytes()) return errc(EMSGSIZE);
  if (!tx_.can_enqueue(data.size())) return errc(ENOBUFS);
  if (!local_) {
    if (layer_ == nullptr) return errc(EINVAL);
    if (auto ec = layer_->bind_socket(*this, ip::Endpoint{wildcard_of(dst.addr.family()), 0}, dst)) return ec;
  }
  tx_.push(data, DatagramMeta{dst, *local_});
  return {};
}

std::error_code UdpSocket::send(Bytes data) noexcept {
  if (!open_) return errc(EBADF);
  if (!remote_) return errc(EDESTADDRREQ);
  return send_to(data, *remote_);
}

std::optional<RecvInfo> UdpSocket::recv(MutableBytes buf, RecvOptions opts) noexcept {
  if (!open_) return std::nullopt;
  const auto f = rx_.front();
  if (!f) return std::nullopt;
  RecvInfo info;
  info.datagram_len = f->payload.size();
  info.size = copy_bytes(buf, f->payload);
  info.truncated = info.size < info.datagram_len;
  info.from = f->meta.remote;
  info.local = f->meta.local.addr;
  if (!opts.peek) rx_.pop();  // BSD: the part that did not fit is discarded with the datagram
  return info;
}

std::optional<RecvInfo> UdpSocket::recv(MutableBytes buf, RecvOptions opts, std::error_code& ec) noexcept {
  if (!open_) {
    ec = errc(EBADF);
    return std::nullopt;
  }
  ec = take_error();
  if (ec) return std::nullopt;
  return recv(buf, opts);
}

std::error_code UdpSocket::take_error() noexcept {
  const std::error_code ec = pending_error_;
  pending_error_.clear();
  return ec;
}

void UdpSocket::close() noexcept {
  if (!open_) return;
  if (layer_ != nullptr) layer_->unbind_socket(*this);
  open_ = false;
  rx_.clear();
  local_.reset();
  remote_.reset();
  pending_error_.clear();
}

bool UdpSocket::matches(const ip::Endpoint& from, const ip::IpAddress& to) const noexcept {
  if (!open_ || !local_) return false;
  if (local_->addr.family() != to.family()) return false;
  if (!local_->addr.is_unspecified() && local_->addr != to) return false;
  if (remote_ && *remote_ != from) return false;  // connected: only the peer (BSD semantics)
  return true;
}

bool UdpSocket::deliver(const ip::Endpoint& from, const ip::IpAddress& to, Bytes payload) noexcept {
  const std::uint16_t port = local_ ? local_->port : 0;
  if (!rx_.push(payload, DatagramMeta{from, ip::Endpoint{to, port}})) {
    ++rx_dropped_;
    return false;
  }
  return true;
}

}  // namespace tapstack::udp
