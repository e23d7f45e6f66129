// Socket addresses for the tapstack::socket facade: SockAddr (the opaque native address getaddrinfo returns,
// also built from MicroPython's tuple forms), getaddrinfo() over numeric literals and "localhost" with a hook
// for the DNS resolver, and inet_ntop / inet_pton. No I/O here except through the resolver hook.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ip/address.hpp"
#include "socket/buffer.hpp"
#include "socket/constants.hpp"
#include "stack/bytes.hpp"

namespace tapstack::socket {

// family + address + port (+ IPv6 flowinfo and scope id). Numeric only: a name is an error (EAI_NONAME),
// as the MicroPython docs require tuple addresses to be resolved with getaddrinfo() first.
class SockAddr {
 public:
  SockAddr() = default;  // 0.0.0.0 port 0 (INADDR_ANY, "any port")
  // (address, port): an IPv4 dotted quad (an IPv6 literal is accepted too, as CPython's AF_INET6 2-tuple).
  // Throws OSError(EAI_NONAME) for anything but a numeric literal and OSError(EINVAL) for a port outside
  // 0..65535.
  SockAddr(std::string_view host, int port);
  // (address, port, flowinfo, scopeid): an IPv6 literal only.
  SockAddr(std::string_view host, int port, std::uint32_t flowinfo, std::uint32_t scope_id);
  SockAddr(const ip::IpAddress& addr, std::uint16_t port, std::uint32_t flowinfo = 0,
           std::uint32_t scope_id = 0) noexcept
      : addr_{addr}, port_{port}, flowinfo_{flowinfo}, scope_id_{scope_id} {}
  explicit SockAddr(const ip::Endpoint& ep) noexcept : addr_{ep.addr}, port_{ep.port} {}

  // Non-throwing forms of the tuple constructors.
  static SockAddr from_tuple(std::string_view host, int port, std::error_code& ec) noexcept;
  static SockAddr from_tuple(std::string_view host, int port, std::uint32_t flowinfo, std::uint32_t scope_id,
                             std::error_code& ec) noexcept;

  int family() const noexcept { return addr_.is_v4() ? AF_INET : AF_INET6; }
  const ip::IpAddress& address() const noexcept { return addr_; }
  std::uint16_t port() const noexcept { return port_; }
  std::uint32_t flowinfo() const noexcept { return flowinfo_; }
  std::uint32_t scope_id() const noexcept { return scope_id_; }
  ip::Endpoint endpoint() const noexcept { return {addr_, port_}; }
  std::string host() const { return addr_.to_string(); }
  std::string to_string() const;  // "192.0.2.1:80", "[2001:db8::1]:80"

  friend bool operator==(const SockAddr&, const SockAddr&) = default;
  friend std::ostream& operator<<(std::ostream& os, const SockAddr& a) { return os << a.to_string(); }

 private:
  ip::IpAddress addr_{};
  std::uint16_t port_ = 0;
  std::uint32_t flowinfo_ = 0, scope_id_ = 0;
};

// One getaddrinfo() result: MicroPython's (family, type, proto, canonname, sockaddr) 5-tuple.
struct AddrInfo {
  int family = AF_INET;
  int type = SOCK_STREAM;
  int proto = IPPROTO_TCP;
  std::string canonname;
  SockAddr sockaddr;
  friend bool operator==(const AddrInfo&, const AddrInfo&) = default;
};

// Where names go: the DNS resolver (dns/resolver.hpp, run by the Runtime) implements this. `af` is AF_INET,
// AF_INET6 or AF_UNSPEC. On failure set `ec` to a getaddrinfo error (EAI_NONAME, EAI_AGAIN...).
// What a resolver found for a name: its addresses and where its CNAME chain ended.
struct Resolution {
  std::vector<ip::IpAddress> addresses;
  std::string canonical_name;  // empty when the resolver does not know it
};

class NameResolver {
 public:
  virtual ~NameResolver() = default;
  virtual std::vector<ip::IpAddress> resolve(std::string_view name, int af, std::error_code& ec) = 0;
  // The same with the canonical name (getaddrinfo's AI_CANONNAME); the default knows none.
  virtual Resolution resolve_canonical(std::string_view name, int af, std::error_code& ec) {
    Resolution r;
    r.addresses = resolve(name, af, ec);
    return r;
  }
};

// The resolver getaddrinfo() uses for names: the default Runtime's (Runtime::set_resolver), or nullptr.
NameResolver* default_name_resolver() noexcept;

// Numeric IPv4/IPv6 literals and "localhost" (127.0.0.1, ::1) resolve without DNS; other names go to
// `resolver` (nullptr: EAI_NONAME). One result per matching (type, proto): SOCK_STREAM/IPPROTO_TCP first, then
// SOCK_DGRAM/IPPROTO_UDP; `af`, `type`, `proto` (0 = any) filter them. Errors (negative, gai_category()):
// EAI_NONAME (a name nobody resolves, or no address of the family asked for), EAI_FAMILY (af unknown),
// EAI_SOCKTYPE (type or proto unknown, or a proto that does not go with the type), EAI_SERVICE (port outside
// 0..65535). `flags`: AI_CANONNAME puts the canonical name (the end of the CNAME chain, else the host as given)
// in the first result's canonname, as glibc does; other AI_* flags are accepted and ignored.
std::vector<AddrInfo> getaddrinfo(std::string_view host, int port, int af, int type, int proto, int flags,
                                  NameResolver* resolver, std::error_code& ec);
// With the default resolver; throwing and error_code forms.
std::vector<AddrInfo> getaddrinfo(std::string_view host, int port, int af = 0, int type = 0, int proto = 0,
                                  int flags = 0);
std::vector<AddrInfo> getaddrinfo(std::string_view host, int port, int af, int type, int proto, int flags,
                                  std::error_code& ec);

// inet_ntop(AF_INET, 4 bytes) / (AF_INET6, 16 bytes) -> text. OSError(EAFNOSUPPORT) for another family,
// OSError(EINVAL) for a wrong length.
std::string inet_ntop(int af, Bytes bin);
// inet_pton(AF_INET, "192.0.2.1") -> 4 bytes; AF_INET6 -> 16 bytes. OSError(EINVAL) for text that is not an
// address of that family, OSError(EAFNOSUPPORT) for another family.
Buffer inet_pton(int af, std::string_view text);

}  // namespace tapstack::socket
