// SockAddr tuple parsing, getaddrinfo() over literals with the resolver hook, inet_ntop / inet_pton.
#include "socket/address.hpp"

#include <cerrno>

#include "socket/error.hpp"

namespace tapstack::socket {
namespace {

std::error_code errno_error(int e) noexcept { return {e, std::generic_category()}; }

// RFC 6437 §2: the flow label is 20 bits.
constexpr std::uint32_t kMaxFlowinfo = 0xfffff;

}  // namespace

SockAddr SockAddr::from_tuple(std::string_view host, int port, std::error_code& ec) noexcept {
  ec.clear();
  if (port < 0 || port > 0xffff) {
    ec = errno_error(EINVAL);
    return {};
  }
  const std::optional<ip::IpAddress> a = ip::IpAddress::parse(host);
  if (!a) {
    ec = make_error(EAI_NONAME);  // a name: resolve it with getaddrinfo() first
    return {};
  }
  return SockAddr{*a, std::uint16_t(port)};
}

SockAddr SockAddr::from_tuple(std::string_view host, int port, std::uint32_t flowinfo, std::uint32_t scope_id,
                              std::error_code& ec) noexcept {
  ec.clear();
  if (port < 0 || port > 0xffff || flowinfo > kMaxFlowinfo) {
    ec = errno_error(EINVAL);
    return {};
  }
  const std::optional<ip::Ipv6Address> a = ip::Ipv6Address::parse(host);
  if (!a) {
    ec = ip::Ipv4Address::parse(host) ? errno_error(EAFNOSUPPORT) : make_error(EAI_NONAME);
    return {};
  }
  return SockAddr{ip::IpAddress{*a}, std::uint16_t(port), flowinfo, scope_id};
}

SockAddr::SockAddr(std::string_view host, int port) {
  std::error_code ec;
  *this = from_tuple(host, port, ec);
  if (ec) throw OSError(ec, "SockAddr(\"" + std::string{host} + "\", " + std::to_string(port) + ")");
}

SockAddr::SockAddr(std::string_view host, int port, std::uint32_t flowinfo, std::uint32_t scope_id) {
  std::error_code ec;
  *this = from_tuple(host, port, flowinfo, scope_id, ec);
  if (ec) throw OSError(ec, "SockAddr(\"" + std::string{host} + "\", " + std::to_string(port) + ", ...)");
}

std::string SockAddr::to_string() const {
  return addr_.is_v6() ? "[" + addr_.to_string() + "]:" + std::to_string(port_)
                       : addr_.to_string() + ":" + std::to_string(port_);
}

std::vector<AddrInfo> getaddrinfo(std::string_view host, int port, int af, int type, int proto, int flags,
                                  NameResolver* resolver, std::error_code& ec) {
  ec.clear();
  if (af != AF_UNSPEC && af != AF_INET && af != AF_INET6) {
    ec = make_error(EAI_FAMILY);
    return {};
  }
  if ((type != 0 && type != SOCK_STREAM && type != SOCK_DGRAM) ||
      (proto != 0 && proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
      (type == SOCK_STREAM && proto == IPPROTO_UDP) || (type == SOCK_DGRAM && proto == IPPROTO_TCP)) {
    ec = make_error(EAI_SOCKTYPE);
    return {};
  }
  if (port < 0 || port > 0xffff) {
    ec = make_error(EAI_SERVICE);
    return {};
  }

  std::vector<ip::IpAddress> addrs;
  std::string canonname;
  if (const std::optional<ip::IpAddress> literal = ip::IpAddress::parse(host)) {
    addrs.push_back(*literal);
  } else if (host == "localhost") {  // RFC 6761 §6.3: resolved locally, never sent to DNS
    addrs.push_back(ip::Ipv4Address{{127, 0, 0, 1}});
    addrs.push_back(*ip::Ipv6Address::parse("::1"));
  } else if (resolver != nullptr && !host.empty()) {
    if ((flags & AI_CANONNAME) != 0) {
      Resolution r = resolver->resolve_canonical(host, af, ec);
      addrs = std::move(r.addresses);
      canonname = std::move(r.canonical_name);
    } else {
      addrs = resolver->resolve(host, af, ec);
    }
    if (ec) return {};
  } else {
    ec = make_error(EAI_NONAME);
    return {};
  }

  std::vector<AddrInfo> out;
  for (const ip::IpAddress& a : addrs) {
    const int family = a.is_v4() ? AF_INET : AF_INET6;
    if (af != AF_UNSPEC && af != family) continue;
    if ((type == 0 || type == SOCK_STREAM) && (proto == 0 || proto == IPPROTO_TCP))
      out.push_back({family, SOCK_STREAM, IPPROTO_TCP, {}, SockAddr{a, std::uint16_t(port)}});
    if ((type == 0 || type == SOCK_DGRAM) && (proto == 0 || proto == IPPROTO_UDP))
      out.push_back({family, SOCK_DGRAM, IPPROTO_UDP, {}, SockAddr{a, std::uint16_t(port)}});
  }
  if (out.empty()) ec = make_error(EAI_NONAME);  // no address of the family asked for
  if (!out.empty() && (flags & AI_CANONNAME) != 0) out.front().canonname = canonname.empty() ? std::string{host} : canonname;
  return out;
}

std::vector<AddrInfo> getaddrinfo(std::string_view host, int port, int af, int type, int proto, int flags,
                                  std::error_code& ec) {
  return getaddrinfo(host, port, af, type, proto, flags, default_name_resolver(), ec);
}

std::vector<AddrInfo> getaddrinfo(std::string_view host, int port, int af, int type, int proto, int flags) {
  std::error_code ec;
  std::vector<AddrInfo> r = getaddrinfo(host, port, af, type, proto, flags, ec);
  if (ec) throw OSError(ec, "getaddrinfo(\"" + std::string{host} + "\")");
  return r;
}

std::string inet_ntop(int af, Bytes bin) {
  if (af == AF_INET) {
    if (bin.size() != 4) throw OSError(EINVAL, "inet_ntop: AF_INET needs 4 bytes");
    return ip::Ipv4Address::from_bytes(bin).to_string();
  }
  if (af == AF_INET6) {
    if (bin.size() != 16) throw OSError(EINVAL, "inet_ntop: AF_INET6 needs 16 bytes");
    return ip::Ipv6Address::from_bytes(bin).to_string();
  }
  throw OSError(EAFNOSUPPORT, "inet_ntop");
}

Buffer inet_pton(int af, std::string_view text) {
  if (af == AF_INET) {
    const std::optional<ip::Ipv4Address> a = ip::Ipv4Address::parse(text);
    if (!a) throw OSError(EINVAL, "inet_pton: not an IPv4 address");
    const ip::IpAddress ip{*a};
    return Buffer(ip.bytes().begin(), ip.bytes().end());
  }
  if (af == AF_INET6) {
    const std::optional<ip::Ipv6Address> a = ip::Ipv6Address::parse(text);
    if (!a) throw OSError(EINVAL, "inet_pton: not an IPv6 address");
    const ip::IpAddress ip{*a};
    return Buffer(ip.bytes().begin(), ip.bytes().end());
  }
  throw OSError(EAFNOSUPPORT, "inet_pton");
}

}  // namespace tapstack::socket
