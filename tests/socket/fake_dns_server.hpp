// A small authoritative DNS server for tests, run on the peer runtime's own UDP and TCP layers (port 53) of a
// ManualPair: serve() answers every query waiting, from a table of names. It can answer over UDP with TC=1
// (forcing the TCP fallback), answer NXDOMAIN or REFUSED, or stay silent; over TCP it writes the 2-byte length
// prefix in one segment and the message in a later one (RFC 7766 §8: the resolver must reassemble it).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dns/message.hpp"
#include "dns/tcp_framing.hpp"
#include "manual_pair.hpp"
#include "socket/runtime.hpp"

namespace tapstack::socket::testing {

class FakeDnsServer {
 public:
  struct Zone {
    std::map<std::string, ip::Ipv4Address> a;    // name -> address
    std::map<std::string, ip::Ipv6Address> aaaa; // name -> IPv6 address
    std::map<std::string, std::string> cname;    // alias -> target
    std::vector<std::string> truncate_over_udp;  // answered with TC=1 over UDP, fully over TCP
    std::vector<std::string> refused;            // REFUSED
  };
  struct Seen {
    dns::Question question;
    ip::Endpoint from;
    bool tcp = false;
  };

  FakeDnsServer(Runtime& rt, Zone zone) : rt_{rt}, zone_{std::move(zone)} {
    udp_ = rt.udp().open();
    (void)rt.udp().socket(*udp_).bind({ip::IpAddress{ip::Ipv4Address{}}, dns::kDnsPort});
    udp6_ = rt.udp().open();  // queries over IPv6 transport
    (void)rt.udp().socket(*udp6_).bind({ip::IpAddress{ip::Ipv6Address{}}, dns::kDnsPort});
    listener_ = *rt.tcp().listen({ip::IpAddress{ip::Ipv4Address{}}, dns::kDnsPort}, 4);
  }

  bool silent = false;  // receive and drop every query (timeouts)

  // Answers what arrived since the last call; call it after every poll of the peer runtime.
  void serve(Instant now) {
    std::vector<std::byte> buf(65535);
    for (const udp::SocketHandle h : {*udp_, *udp6_}) {
      udp::UdpSocket& s = rt_.udp().socket(h);
      while (s.can_recv()) {
        const auto info = s.recv(buf);
        if (!info) break;
        const auto reply = answer(Bytes{buf}.first(info->size), info->from, false);
        if (reply) (void)s.send_to(*reply, info->from);
      }
    }
    while (auto h = rt_.tcp().accept(listener_)) conns_.push_back(Conn{*h, dns::TcpFramer{}, {}, false});
    for (Conn& c : conns_) {
      tcp::Connection* conn = rt_.tcp().connection(c.handle);
      if (conn == nullptr) continue;
      if (!c.pending.empty()) {  // the message part of a reply whose prefix went out last time
        conn->send(c.pending);
        c.pending.clear();
      }
      std::vector<std::byte> chunk(4096);
      while (conn->recv_available() != 0) {
        const std::size_t n = conn->recv(chunk);
        c.framer.feed(Bytes{chunk}.first(n), [&](Bytes msg) {
          const auto reply = answer(msg, conn->tuple().remote, true);
          if (!reply) return;
          const std::byte prefix[2] = {std::byte(reply->size() >> 8), std::byte(reply->size() & 0xff)};
          conn->set_nodelay(true);
          conn->send(prefix);
          c.pending = *reply;
        });
      }
      if (conn->recv_finished() && c.pending.empty()) {  // the client closed: so do we (RFC 7766 §6.2.3)
        rt_.tcp().close(now, c.handle);
        c.closed = true;
      }
    }
    std::erase_if(conns_, [](const Conn& c) { return c.closed; });
  }

  const std::vector<Seen>& seen() const { return seen_; }
  std::size_t udp_queries() const { return count(false); }
  std::size_t tcp_queries() const { return count(true); }

 private:
  struct Conn {
    tcp::ConnHandle handle;
    dns::TcpFramer framer;
    std::vector<std::byte> pending;
    bool closed = false;
  };

  std::size_t count(bool tcp) const {
    std::size_t n = 0;
    for (const Seen& s : seen_) n += s.tcp == tcp ? 1 : 0;
    return n;
  }
  static bool contains(const std::vector<std::string>& v, const std::string& s) {
    for (const auto& x : v) {
      if (x == s) return true;
    }
    return false;
  }

  std::optional<std::vector<std::byte>> answer(Bytes query, const ip::Endpoint& from, bool tcp) {
    const auto q = dns::Message::parse(query);
    if (!q || q->questions.size() != 1) return std::nullopt;
    const dns::Question& question = q->questions[0];
    seen_.push_back({question, from, tcp});
    if (silent) return std::nullopt;

    dns::Message r;
    r.header.id = q->header.id;
    r.header.qr = true;
    r.header.aa = true;
    r.header.rd = q->header.rd;
    r.questions = q->questions;
    std::string name = question.name.to_string();
    if (contains(zone_.refused, name)) {
      r.header.rcode = dns::Rcode::kRefused;
    } else if (!tcp && contains(zone_.truncate_over_udp, name)) {
      r.header.tc = true;  // RFC 2181 §9: the answer did not fit; ask again over TCP
    } else {
      bool found = false;
      for (int hop = 0; hop < 8; ++hop) {
        if (const auto c = zone_.cname.find(name); c != zone_.cname.end()) {
          r.answers.push_back(
              {*dns::Name::from_text(name), dns::Type::kCname, dns::Class::kIn, 300, *dns::Name::from_text(c->second)});
          name = c->second;
          continue;
        }
        if (const auto a = zone_.a.find(name); a != zone_.a.end()) {
          found = true;
          if (question.type == dns::Type::kA)
            r.answers.push_back({*dns::Name::from_text(name), dns::Type::kA, dns::Class::kIn, 300, a->second});
        }
        if (const auto a6 = zone_.aaaa.find(name); a6 != zone_.aaaa.end()) {
          found = true;
          if (question.type == dns::Type::kAaaa)
            r.answers.push_back({*dns::Name::from_text(name), dns::Type::kAaaa, dns::Class::kIn, 300, a6->second});
        }
        break;
      }
      if (!found && r.answers.empty()) r.header.rcode = dns::Rcode::kNxDomain;
    }
    std::vector<std::byte> out(r.buffer_len());
    r.emit(out);
    return out;
  }

  Runtime& rt_;
  Zone zone_;
  std::optional<udp::SocketHandle> udp_;
  std::optional<udp::SocketHandle> udp6_;
  tcp::ListenerHandle listener_{};
  std::vector<Conn> conns_;
  std::vector<Seen> seen_;
};

// Both runtimes' driver steps the pair, then lets `server` (on net.b) answer what arrived, so a blocking facade
// call on either side sees the server's replies.
inline void drive_with_server(ManualPair& net, FakeDnsServer& server) {
  const auto drive = [&net, &server](std::optional<Instant> d) {
    const bool more = net.step(d);
    server.serve(net.now());
    return more;
  };
  net.a.set_driver(drive);
  net.b.set_driver(drive);
}

}  // namespace tapstack::socket::testing
