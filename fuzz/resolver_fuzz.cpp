// libFuzzer target for dns/resolver: the input is a script of operations on a resolver with pending lookups
// (resolve, UDP answers with the right TXID/port -- and optionally the right question -- spliced in front
// of fuzzed bytes, TCP chunks, TCP failures, time passing, cancel, result). abort() when an invariant
// breaks: every UdpSend/TcpExchange is closed exactly once, results are consistent, nothing stays pending.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dns/resolver.hpp"

namespace {

using namespace tapstack;
using namespace tapstack::dns;

void require(bool ok) {
  if (!ok) std::abort();
}

struct Script {
  const std::uint8_t* p;
  std::size_t n;
  bool empty() const { return n == 0; }
  std::uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  Bytes take(std::size_t len) {
    len = std::min(len, n);
    const Bytes b{reinterpret_cast<const std::byte*>(p), len};
    p += len;
    n -= len;
    return b;
  }
};

const ip::Endpoint kServers[] = {{*ip::IpAddress::parse("192.0.2.53"), 53},
                                 {*ip::IpAddress::parse("2001:db8::53"), 53}};
const char* const kNames[] = {"www.example.com", "a.example.com", "b.example.net", "localhost",
                              "192.0.2.1",       "c.example.org", "2001:db8::1",   "x.example"};

struct Driver {
  SeededRng rng{1};
  Resolver r;
  Instant now;
  struct Sent {
    ip::Endpoint server;
    std::vector<std::byte> query;  // without a TCP prefix
  };
  std::map<std::uint16_t, Sent> udp;
  std::map<std::uint32_t, Sent> tcp;
  std::map<std::uint64_t, Type> handles;

  static ResolverConfig config() {
    ResolverConfig c;
    c.servers = {kServers[0], kServers[1]};
    c.attempts = 2;
    c.max_pending = 4;
    c.max_handles = 16;
    c.cache_entries = 8;
    c.max_cname_hops = 3;
    return c;
  }
  Driver() : r{config(), rng} { r.hosts().add("x.example", *ip::IpAddress::parse("192.0.2.9")); }  // no AAAA

  void drain() {
    for (int i = 0;; ++i) {
      require(i < 256);  // each lookup sends at most one attempt per call and closes are finite
      auto t = r.poll_transmit(now);
      if (!t) break;
      if (auto* s = std::get_if<Resolver::UdpSend>(&*t)) {
        require(udp.count(s->src_port) == 0 && s->src_port >= 1024);
        require(Message::parse(Bytes{s->bytes}).has_value());
        udp[s->src_port] = Sent{s->server, s->bytes};
      } else if (auto* x = std::get_if<Resolver::TcpExchange>(&*t)) {
        require(tcp.count(x->id) == 0 && x->bytes.size() > 2);
        tcp[x->id] = Sent{x->server, std::vector<std::byte>(x->bytes.begin() + 2, x->bytes.end())};
      } else if (auto* uc = std::get_if<Resolver::UdpClose>(&*t)) {
        require(udp.erase(uc->src_port) == 1);
      } else if (auto* tc = std::get_if<Resolver::TcpClose>(&*t)) {
        require(tcp.erase(tc->id) == 1);
      }
    }
    if (const auto at = r.poll_at()) require(*at > now);  // everything due now was done
  }

  void check(QueryHandle h, const Result& res) {
    const Type t = handles.at(h.id);
    require(res.status != QueryStatus::kPending);
    require((res.status == QueryStatus::kDone) == !res.addresses.empty());
    for (const auto& a : res.addresses) require(t == Type::kA ? a.address.is_v4() : a.address.is_v6());
  }

  // ANCOUNT and NSCOUNT (0..3 each) from one input byte.
  static void set_counts(std::vector<std::byte>& msg, std::uint8_t c) {
    if (msg.size() < kHeaderLen) return;
    msg[7] = std::byte(c & 3);
    msg[9] = std::byte((c >> 2) & 3);
  }

  // A message built on the query: its header (TXID, QR set, fuzzed flags) and question, then fuzzed bytes.
  static std::vector<std::byte> on_query(const std::vector<std::byte>& query, std::uint8_t flags_hi,
                                         std::uint8_t flags_lo, Bytes rest, bool with_question) {
    std::vector<std::byte> m(query.begin(), query.end());
    const auto q = Message::parse(Bytes{query});
    std::size_t keep = kHeaderLen;
    if (with_question && q) keep = kHeaderLen + q->questions[0].name.wire_len() + 4;
    m.resize(std::min(keep, m.size()));
    m[2] = std::byte(flags_hi | 0x80);
    m[3] = std::byte(flags_lo);
    if (!with_question) m[5] = std::byte{0};  // QDCOUNT from the fuzzed bytes' point of view: none
    m[10] = m[11] = std::byte{0};
    m.insert(m.end(), rest.begin(), rest.end());
    return m;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Script in{data, size};
  Driver d;
  std::vector<QueryHandle> open;
  while (!in.empty()) {
    const std::uint8_t op = in.byte();
    switch (op % 8) {
      case 0: {  // resolve
        const std::uint8_t b = in.byte();
        const Type t = (b & 0x80) != 0 ? Type::kAaaa : Type::kA;
        const QueryHandle h = d.r.resolve(d.now, kNames[b % 8], t);
        if (h.id != 0) {
          d.handles[h.id] = t;
          open.push_back(h);
        }
        break;
      }
      case 1:
      case 2: {  // a UDP answer to an outstanding query
        if (d.udp.empty()) break;
        auto it = d.udp.begin();
        std::advance(it, in.byte() % d.udp.size());
        const std::uint8_t how = in.byte();
        const std::uint8_t hi = in.byte(), lo = in.byte();
        const Bytes rest = in.take(in.byte());
        std::vector<std::byte> msg;
        if ((how & 3) == 0) {
          msg.assign(rest.begin(), rest.end());
          if (msg.size() >= 2) msg[0] = it->second.query[0], msg[1] = it->second.query[1];
        } else {
          msg = Driver::on_query(it->second.query, hi, lo, rest, (how & 3) != 1);
          if ((how & 4) != 0) Driver::set_counts(msg, in.byte());
        }
        const ip::Endpoint from = (how & 8) != 0 ? kServers[(how >> 4) & 1] : it->second.server;
        d.r.on_udp(d.now, from, it->first, msg);
        break;
      }
      case 3: {  // TCP bytes for an exchange: raw, or a framed message built on its query, in chunks
        if (d.tcp.empty()) break;
        auto it = d.tcp.begin();
        std::advance(it, in.byte() % d.tcp.size());
        const std::uint32_t id = it->first;
        const std::uint8_t how = in.byte();
        std::vector<std::byte> stream;
        if ((how & 1) != 0) {
          const std::uint8_t hi = in.byte(), lo = in.byte();
          auto msg = Driver::on_query(it->second.query, hi, lo, in.take(in.byte()), true);
          Driver::set_counts(msg, in.byte());
          stream.resize(msg.size() + 2);
          emit_tcp_frame(msg, stream);
        } else {
          const Bytes raw = in.take(in.byte());
          stream.assign(raw.begin(), raw.end());
        }
        Bytes s{stream};
        const std::size_t step = (how >> 1) + 1;
        while (!s.empty()) {
          const std::size_t k = std::min(step, s.size());
          d.r.on_tcp_data(d.now, id, s.first(k));  // may close the exchange; later chunks are then dropped
          s = s.subspan(k);
        }
        break;
      }
      case 4: {  // a TCP failure (possibly of an exchange that is gone)
        const std::uint8_t b = in.byte();
        std::uint32_t id = b;
        if (!d.tcp.empty() && (b & 0x80) == 0) {
          auto it = d.tcp.begin();
          std::advance(it, b % d.tcp.size());
          id = it->first;
        }
        d.r.on_tcp_failed(d.now, id);
        break;
      }
      case 5:  // time passes
        d.now += milliseconds{std::int64_t(in.byte()) * 40};
        break;
      case 6: {  // cancel
        if (open.empty()) break;
        const std::size_t i = in.byte() % open.size();
        d.r.cancel(open[i]);
        open.erase(open.begin() + std::ptrdiff_t(i));
        break;
      }
      case 7: {  // collect results; or resolve fuzzed text
        if ((op & 0x80) != 0) {
          const Bytes text = in.take(in.byte() % 32);
          if ((op & 0x40) != 0) d.r.hosts().load(as_chars(text));  // hosts(5) text, then looked up
          const QueryHandle h = d.r.resolve(d.now, as_chars(text), Type::kA);
          if (h.id != 0) {
            d.handles[h.id] = Type::kA;
            open.push_back(h);
          }
          break;
        }
        for (std::size_t i = 0; i < open.size();) {
          if (auto res = d.r.result(open[i])) {
            d.check(open[i], *res);
            open.erase(open.begin() + std::ptrdiff_t(i));
          } else {
            ++i;
          }
        }
        break;
      }
    }
    d.drain();
    require(d.r.pending_lookups() <= 4 && d.r.open_handles() <= 16);
  }
  // Whatever is left: finished ones have results, and cancelling the rest closes every socket.
  for (const auto& h : open) {
    if (auto res = d.r.result(h)) d.check(h, *res);
    d.r.cancel(h);
  }
  d.drain();
  require(d.udp.empty() && d.tcp.empty());
  require(d.r.pending_lookups() == 0 && d.r.open_handles() == 0);
  require(!d.r.poll_at().has_value());
  return 0;
}
