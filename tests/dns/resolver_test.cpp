// Transcript tests for dns/resolver: resolve at t, assert exactly what poll_transmit asks for (TXID and
// port drawn from the seeded Rng, the query parsed back with Message::parse), feed crafted answers, assert
// the result and what is sent next. Covers answers, CNAMEs, negative caching, TTL expiry, retries with
// backoff and failover, RFC 5452 forgeries, TC=1 -> TCP, local answers, bad names, and real captured
// answers (tests/data/dns_*.pcap) replayed as the server's reply.
#include "dns/resolver.hpp"

#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "wire_builder.hpp"

namespace tapstack::dns {
namespace {

using testing::WireBuilder;
using UdpSend = Resolver::UdpSend;
using TcpExchange = Resolver::TcpExchange;
using UdpClose = Resolver::UdpClose;
using TcpClose = Resolver::TcpClose;

constexpr std::uint64_t kSeed = 0x5eed;

Name name(std::string_view s) {
  auto n = Name::from_text(s);
  EXPECT_TRUE(n) << s;
  return n.value_or(Name{});
}
ip::IpAddress addr(const char* s) { return *ip::IpAddress::parse(s); }
Instant ms(std::int64_t v) { return Instant::from_millis(v); }

const ip::Endpoint kServer1{addr("192.0.2.53"), 53};
const ip::Endpoint kServer2{addr("2001:db8::53"), 53};

ResolverConfig one_server() {
  ResolverConfig c;
  c.servers = {kServer1};
  return c;
}
ResolverConfig two_servers() {
  ResolverConfig c;
  c.servers = {kServer1, kServer2};
  return c;
}

const char* kind(const std::optional<Resolver::Transmit>& t) {
  if (!t) return "nothing";
  constexpr const char* kNames[] = {"UdpSend", "TcpExchange", "UdpClose", "TcpClose"};
  return kNames[t->index()];
}

// The resolver plus a second generator with the same seed, which predicts every TXID and port it draws
// (one TXID, then over UDP one port, per attempt).
struct Harness {
  SeededRng rng{kSeed};
  SeededRng mirror{kSeed};
  Resolver r;

  explicit Harness(ResolverConfig c = one_server()) : r{std::move(c), rng} {}

  struct Draw {
    std::uint16_t txid = 0, port = 0;
  };
  Draw next_udp_draw() {
    Draw d;
    d.txid = std::uint16_t(mirror.uniform(65536));
    d.port = std::uint16_t(r.config().port_min + mirror.uniform(r.config().port_max - r.config().port_min + 1u));
    return d;
  }
  std::uint16_t next_tcp_draw() { return std::uint16_t(mirror.uniform(65536)); }

  UdpSend udp(Instant now) {
    auto t = r.poll_transmit(now);
    EXPECT_TRUE(t && std::holds_alternative<UdpSend>(*t)) << "got " << kind(t) << " at " << now;
    return t && std::holds_alternative<UdpSend>(*t) ? std::get<UdpSend>(*t) : UdpSend{};
  }
  TcpExchange tcp(Instant now) {
    auto t = r.poll_transmit(now);
    EXPECT_TRUE(t && std::holds_alternative<TcpExchange>(*t)) << "got " << kind(t) << " at " << now;
    return t && std::holds_alternative<TcpExchange>(*t) ? std::get<TcpExchange>(*t) : TcpExchange{};
  }
  void udp_close(Instant now, std::uint16_t port) {
    auto t = r.poll_transmit(now);
    ASSERT_TRUE(t && std::holds_alternative<UdpClose>(*t)) << "got " << kind(t) << " at " << now;
    EXPECT_EQ(std::get<UdpClose>(*t).src_port, port);
  }
  void tcp_close(Instant now, std::uint32_t id) {
    auto t = r.poll_transmit(now);
    ASSERT_TRUE(t && std::holds_alternative<TcpClose>(*t)) << "got " << kind(t) << " at " << now;
    EXPECT_EQ(std::get<TcpClose>(*t).id, id);
  }
  void nothing(Instant now) {
    auto t = r.poll_transmit(now);
    EXPECT_FALSE(t) << "got " << kind(t) << " at " << now;
  }
  // A UdpSend at `now` carrying exactly the query the mirror predicts.
  UdpSend expect_query(Instant now, const ip::Endpoint& server, std::string_view qname, Type type,
                       std::optional<std::uint16_t> edns = kEdnsDefaultUdpSize) {
    const Draw d = next_udp_draw();
    UdpSend s = udp(now);
    EXPECT_EQ(s.server, server);
    EXPECT_EQ(s.src_port, d.port);
    Query q;
    q.id = d.txid;
    q.name = name(qname);
    q.type = type;
    q.edns_udp_size = edns;
    std::vector<std::byte> want(q.buffer_len());
    q.emit(want);
    EXPECT_EQ(s.bytes, want);
    return s;
  }
};

// The query inside a UdpSend (or a TcpExchange without its 2-byte prefix), parsed by the wire layer.
Message parse_query(Bytes b) {
  DropReason why{};
  auto m = Message::parse(b, &why);
  EXPECT_TRUE(m) << why;
  return m.value_or(Message{});
}

Record a_rec(std::string_view owner, const char* a, std::uint32_t ttl) {
  return Record{name(owner), Type::kA, Class::kIn, ttl, addr(a).v4()};
}
Record aaaa_rec(std::string_view owner, const char* a, std::uint32_t ttl) {
  return Record{name(owner), Type::kAaaa, Class::kIn, ttl, addr(a).v6()};
}
Record cname_rec(std::string_view owner, std::string_view target, std::uint32_t ttl) {
  return Record{name(owner), Type::kCname, Class::kIn, ttl, name(target)};
}
Record ns_rec(std::string_view owner, std::string_view target) {
  const Name t = name(target);
  return Record{name(owner), Type::kNs, Class::kIn, 3600, RawRdata(t.wire().begin(), t.wire().end())};
}
// SOA RDATA (RFC 1035 §3.3.13) uncompressed: MNAME, RNAME, SERIAL REFRESH RETRY EXPIRE MINIMUM.
Record soa_rec(std::string_view zone, std::uint32_t ttl, std::uint32_t minimum) {
  WireBuilder w;
  w.name(std::string("ns.") + std::string(zone)).name(std::string("hostmaster.") + std::string(zone));
  w.u32(2024010101).u32(7200).u32(900).u32(1209600).u32(minimum);
  return Record{name(zone), Type::kSoa, Class::kIn, ttl, RawRdata(w.vec())};
}

struct Reply {
  Rcode rcode = Rcode::kNoError;
  std::vector<Record> answers, authorities;
  bool tc = false;
};
// The server's answer to `query` (its ID and question), emitted by the wire layer.
std::vector<std::byte> reply_to(Bytes query, const Reply& r) {
  const Message q = parse_query(query);
  Message m;
  m.header.id = q.header.id;
  m.header.qr = true;
  m.header.rd = true;
  m.header.ra = true;
  m.header.tc = r.tc;
  m.header.rcode = r.rcode;
  m.questions = q.questions;
  m.answers = r.answers;
  m.authorities = r.authorities;
  std::vector<std::byte> out(m.buffer_len());
  EXPECT_EQ(m.emit(out), out.size());
  return out;
}

void expect_done(Resolver& r, QueryHandle h, std::string_view canonical, std::vector<AddressAnswer> addresses,
                 AnswerSource source = AnswerSource::kNetwork) {
  auto res = r.result(h);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, QueryStatus::kDone);
  EXPECT_EQ(res->canonical_name, name(canonical));
  EXPECT_EQ(res->addresses, addresses);
  EXPECT_EQ(res->source, source);
  EXPECT_FALSE(r.known(h));  // consumed
}

QueryStatus status_of(Resolver& r, QueryHandle h) {
  auto res = r.result(h);
  return res ? res->status : QueryStatus::kPending;
}

// ---- answers ----------------------------------------------------------------------------------------

TEST(DnsResolver, AAnswer_QueryIsRandomizedAndAnswerAccepted) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kA);
  EXPECT_FALSE(h.r.result(q));
  EXPECT_EQ(h.r.poll_at(), ms(0));
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  const Message query = parse_query(s.bytes);
  EXPECT_TRUE(query.header.rd);
  EXPECT_FALSE(query.header.qr);
  ASSERT_EQ(query.questions.size(), 1u);
  EXPECT_EQ(query.questions[0], (Question{name("www.example.com"), Type::kA, Class::kIn}));
  ASSERT_TRUE(query.edns);
  EXPECT_EQ(query.edns->udp_payload_size, 1232);
  EXPECT_EQ(h.r.poll_at(), ms(1000));
  h.nothing(ms(19));

  h.r.on_udp(ms(20), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {a_rec("www.example.com", "192.0.2.10", 300),
                                            a_rec("www.example.com", "192.0.2.11", 300)}}));
  expect_done(h.r, q, "www.example.com", {{addr("192.0.2.10"), 300}, {addr("192.0.2.11"), 300}});
  EXPECT_FALSE(h.r.result(q));
  h.udp_close(ms(20), s.src_port);
  h.nothing(ms(20));
  EXPECT_FALSE(h.r.poll_at());
  EXPECT_EQ(h.r.counters().responses, 1u);
  EXPECT_EQ(h.r.counters().udp_queries, 1u);
  EXPECT_EQ(h.r.pending_lookups(), 0u);
  EXPECT_EQ(h.r.open_handles(), 0u);
}

TEST(DnsResolver, ConsecutiveQueriesDrawDifferentTxidsAndPorts) {
  Harness h;
  h.r.resolve(ms(0), "a.example.com", Type::kA);
  h.r.resolve(ms(0), "b.example.com", Type::kA);
  const UdpSend s1 = h.expect_query(ms(0), kServer1, "a.example.com", Type::kA);
  const UdpSend s2 = h.expect_query(ms(0), kServer1, "b.example.com", Type::kA);
  EXPECT_NE(s1.src_port, s2.src_port);
  EXPECT_NE(parse_query(s1.bytes).header.id, parse_query(s2.bytes).header.id);
  EXPECT_GE(s1.src_port, 1024);
}

TEST(DnsResolver, AaaaAnswerFromIpv6Server) {
  ResolverConfig c;
  c.servers = {kServer2};
  Harness h(c);
  const QueryHandle q = h.r.resolve(ms(5), "www.example.com", Type::kAaaa);
  const UdpSend s = h.expect_query(ms(5), kServer2, "www.example.com", Type::kAaaa);
  h.r.on_udp(ms(30), kServer2, s.src_port,
             reply_to(s.bytes, {.answers = {aaaa_rec("www.example.com", "2001:db8::80", 120),
                                            a_rec("www.example.com", "192.0.2.80", 120)}}));  // A: not asked
  expect_done(h.r, q, "www.example.com", {{addr("2001:db8::80"), 120}});
}

TEST(DnsResolver, CnameChainFollowedFromQuestionOnly) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  h.r.on_udp(ms(10), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {
                                    a_rec("evil.example.org", "198.51.100.66", 86400),  // not on the chain
                                    cname_rec("www.example.com", "edge.example.net", 60),
                                    cname_rec("edge.example.net", "web.example.net", 600),
                                    a_rec("web.example.net", "192.0.2.10", 300),
                                }}));
  expect_done(h.r, q, "web.example.net", {{addr("192.0.2.10"), 60}});  // the chain's lowest TTL
  h.udp_close(ms(10), s.src_port);
  // Cached under the asked name for 60 s; the unrelated record was not cached.
  expect_done(h.r, h.r.resolve(ms(60'009), "www.example.com", Type::kA), "web.example.net", {{addr("192.0.2.10"), 1}},
              AnswerSource::kCache);
  h.nothing(ms(60'009));
  const QueryHandle evil = h.r.resolve(ms(60'010), "evil.example.org", Type::kA);
  EXPECT_FALSE(h.r.result(evil));
  h.expect_query(ms(60'010), kServer1, "evil.example.org", Type::kA);
  const QueryHandle www = h.r.resolve(ms(60'010), "www.example.com", Type::kA);  // expired at 60.010 s
  EXPECT_FALSE(h.r.result(www));
  h.expect_query(ms(60'010), kServer1, "www.example.com", Type::kA);
}

TEST(DnsResolver, CnameHopLimitIsServFail) {
  ResolverConfig c = one_server();
  c.max_cname_hops = 2;
  Harness h(c);
  const QueryHandle q = h.r.resolve(ms(0), "a.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "a.example.com", Type::kA);
  h.r.on_udp(ms(1), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {cname_rec("a.example.com", "b.example.com", 60),
                                            cname_rec("b.example.com", "c.example.com", 60),
                                            cname_rec("c.example.com", "d.example.com", 60),
                                            a_rec("d.example.com", "192.0.2.4", 60)}}));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kServFail);
  EXPECT_EQ(h.r.counters().cname_hop_limit, 1u);
}

// ---- negative answers (RFC 2308) ----------------------------------------------------------------------

TEST(DnsResolver, NxDomainCachedForSoaMinimumForEveryType) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "nope.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "nope.example.com", Type::kA);
  h.r.on_udp(ms(40), kServer1, s.src_port,
             reply_to(s.bytes, {.rcode = Rcode::kNxDomain, .authorities = {soa_rec("example.com", 3600, 300)}}));
  auto res = h.r.result(q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, QueryStatus::kNxDomain);
  EXPECT_EQ(res->canonical_name, name("nope.example.com"));
  h.udp_close(ms(40), s.src_port);
  // min(SOA TTL 3600, MINIMUM 300) = 300 s from the answer at 40 ms, for A and AAAA alike.
  for (Type t : {Type::kA, Type::kAaaa}) {
    auto cached = h.r.result(h.r.resolve(ms(300'039), "NOPE.example.com", t));
    ASSERT_TRUE(cached) << t;
    EXPECT_EQ(cached->status, QueryStatus::kNxDomain);
    EXPECT_EQ(cached->source, AnswerSource::kCache);
  }
  h.nothing(ms(300'039));
  const QueryHandle again = h.r.resolve(ms(300'040), "nope.example.com", Type::kA);
  EXPECT_FALSE(h.r.result(again));
  h.expect_query(ms(300'040), kServer1, "nope.example.com", Type::kA);
  EXPECT_EQ(h.r.counters().cache_hits, 2u);
}

TEST(DnsResolver, NegativeTtlIsCappedAndSoaMustBeAboveTheName) {
  ResolverConfig c = one_server();
  c.negative_ttl_cap = 100;
  Harness h(c);
  QueryHandle q = h.r.resolve(ms(0), "x.example.com", Type::kA);
  UdpSend s = h.expect_query(ms(0), kServer1, "x.example.com", Type::kA);
  h.r.on_udp(ms(0), kServer1, s.src_port,
             reply_to(s.bytes, {.rcode = Rcode::kNxDomain, .authorities = {soa_rec("example.com", 86400, 86400)}}));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kNxDomain);
  h.udp_close(ms(0), s.src_port);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(99'999), "x.example.com", Type::kA)), QueryStatus::kNxDomain);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(100'000), "x.example.com", Type::kA)), QueryStatus::kPending);
  h.expect_query(ms(100'000), kServer1, "x.example.com", Type::kA);

  // An SOA for an unrelated zone says nothing about this name: not cached (no usable SOA).
  q = h.r.resolve(ms(0), "y.example.com", Type::kA);
  s = h.expect_query(ms(0), kServer1, "y.example.com", Type::kA);
  h.r.on_udp(ms(0), kServer1, s.src_port,
             reply_to(s.bytes, {.rcode = Rcode::kNxDomain, .authorities = {soa_rec("example.org", 600, 600)}}));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kNxDomain);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(1), "y.example.com", Type::kA)), QueryStatus::kPending);
}

TEST(DnsResolver, NoDataWithSoaCachedWithoutSoaNot) {
  Harness h;
  QueryHandle q = h.r.resolve(ms(0), "v4only.example.com", Type::kAaaa);
  UdpSend s = h.expect_query(ms(0), kServer1, "v4only.example.com", Type::kAaaa);
  h.r.on_udp(ms(0), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {a_rec("v4only.example.com", "192.0.2.4", 600)},  // other type
                                .authorities = {soa_rec("example.com", 60, 900)}}));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kNoData);
  h.udp_close(ms(0), s.src_port);
  auto cached = h.r.result(h.r.resolve(ms(59'999), "v4only.example.com", Type::kAaaa));
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, QueryStatus::kNoData);
  EXPECT_EQ(cached->source, AnswerSource::kCache);
  // NODATA is per type: A still goes out.
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(1), "v4only.example.com", Type::kA)), QueryStatus::kPending);
  h.expect_query(ms(1), kServer1, "v4only.example.com", Type::kA);

  // RFC 2308 §5: no SOA, no caching.
  q = h.r.resolve(ms(2), "bare.example.com", Type::kAaaa);
  s = h.expect_query(ms(2), kServer1, "bare.example.com", Type::kAaaa);
  h.r.on_udp(ms(3), kServer1, s.src_port, reply_to(s.bytes, {}));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kNoData);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(4), "bare.example.com", Type::kAaaa)), QueryStatus::kPending);
}

TEST(DnsResolver, ReferralIsLameAndMovesToNextServer) {
  Harness h(two_servers());
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s1 = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  h.r.on_udp(ms(5), kServer1, s1.src_port,
             reply_to(s1.bytes, {.authorities = {ns_rec("com", "a.gtld-servers.example")}}));
  EXPECT_FALSE(h.r.result(q));
  EXPECT_EQ(h.r.counters().lame, 1u);
  h.udp_close(ms(5), s1.src_port);
  const UdpSend s2 = h.expect_query(ms(5), kServer2, "www.example.com", Type::kA);
  h.r.on_udp(ms(9), kServer2, s2.src_port, reply_to(s2.bytes, {.answers = {a_rec("www.example.com", "192.0.2.1", 5)}}));
  expect_done(h.r, q, "www.example.com", {{addr("192.0.2.1"), 5}});
}

// ---- timers ----------------------------------------------------------------------------------------

TEST(DnsResolver, PositiveCacheExpiresAtExactTtl) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(1'000), "ttl.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(1'000), kServer1, "ttl.example.com", Type::kA);
  h.r.on_udp(ms(1'250), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {a_rec("ttl.example.com", "192.0.2.7", 30)}}));
  expect_done(h.r, q, "ttl.example.com", {{addr("192.0.2.7"), 30}});
  h.udp_close(ms(1'250), s.src_port);
  expect_done(h.r, h.r.resolve(ms(1'250), "ttl.example.com", Type::kA), "ttl.example.com", {{addr("192.0.2.7"), 30}},
              AnswerSource::kCache);
  expect_done(h.r, h.r.resolve(Instant::from_micros(31'249'999), "ttl.example.com", Type::kA), "ttl.example.com",
              {{addr("192.0.2.7"), 1}}, AnswerSource::kCache);
  const QueryHandle expired = h.r.resolve(ms(31'250), "ttl.example.com", Type::kA);
  EXPECT_FALSE(h.r.result(expired));
  h.expect_query(ms(31'250), kServer1, "ttl.example.com", Type::kA);
}

TEST(DnsResolver, TtlZeroIsUsedButNotCached) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "zero.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "zero.example.com", Type::kA);
  h.r.on_udp(ms(1), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {a_rec("zero.example.com", "192.0.2.3", 0x80000005u)}}));  // top bit
  expect_done(h.r, q, "zero.example.com", {{addr("192.0.2.3"), 0}});
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(1), "zero.example.com", Type::kA)), QueryStatus::kPending);
}

TEST(DnsResolver, MaxTtlCapsAnswerAndCache) {
  ResolverConfig c = one_server();
  c.max_ttl = 600;
  Harness h(c);
  const QueryHandle q = h.r.resolve(ms(0), "long.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "long.example.com", Type::kA);
  h.r.on_udp(ms(0), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {a_rec("long.example.com", "192.0.2.3", 604800)}}));
  expect_done(h.r, q, "long.example.com", {{addr("192.0.2.3"), 600}});
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(599'999), "long.example.com", Type::kA)), QueryStatus::kDone);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(600'000), "long.example.com", Type::kA)), QueryStatus::kPending);
}

TEST(DnsResolver, TimeoutRetriesSameServerWithBackoffThenTimesOut) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "slow.example.com", Type::kA);
  const UdpSend s0 = h.expect_query(ms(0), kServer1, "slow.example.com", Type::kA);
  EXPECT_EQ(h.r.poll_at(), ms(1'000));
  h.nothing(ms(999));
  h.udp_close(ms(1'000), s0.src_port);
  const UdpSend s1 = h.expect_query(ms(1'000), kServer1, "slow.example.com", Type::kA);
  EXPECT_NE(s1.src_port, s0.src_port);
  EXPECT_NE(parse_query(s1.bytes).header.id, parse_query(s0.bytes).header.id);
  EXPECT_EQ(h.r.poll_at(), ms(3'000));  // 2 s
  h.nothing(ms(2'999));
  h.udp_close(ms(3'000), s1.src_port);
  const UdpSend s2 = h.expect_query(ms(3'000), kServer1, "slow.example.com", Type::kA);
  EXPECT_EQ(h.r.poll_at(), ms(7'000));  // 4 s
  EXPECT_FALSE(h.r.result(q));
  h.udp_close(ms(7'000), s2.src_port);
  h.nothing(ms(7'000));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kTimeout);
  EXPECT_EQ(h.r.counters().timeouts, 3u);
  EXPECT_EQ(h.r.counters().retries, 2u);
  EXPECT_FALSE(h.r.poll_at());
  // A late answer to the first attempt finds no query on that port.
  h.r.on_udp(ms(7'001), kServer1, s0.src_port, reply_to(s0.bytes, {}));
  EXPECT_EQ(h.r.counters().drop_wrong_port, 1u);
}

TEST(DnsResolver, TimeoutFailsOverAcrossServersEachRoundLonger) {
  ResolverConfig c = two_servers();
  c.attempts = 2;
  c.max_timeout = seconds{1};  // caps the doubling
  c.initial_timeout = milliseconds{500};
  Harness h(c);
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kAaaa);
  const UdpSend a = h.expect_query(ms(0), kServer1, "www.example.com", Type::kAaaa);
  h.udp_close(ms(500), a.src_port);
  const UdpSend b = h.expect_query(ms(500), kServer2, "www.example.com", Type::kAaaa);
  // An answer from the first server now is from the wrong source: this attempt asked the second.
  h.r.on_udp(ms(600), kServer1, b.src_port,
             reply_to(b.bytes, {.answers = {aaaa_rec("www.example.com", "2001:db8::1", 60)}}));
  EXPECT_EQ(h.r.counters().drop_wrong_source, 1u);
  h.udp_close(ms(1'000), b.src_port);
  const UdpSend c1 = h.expect_query(ms(1'000), kServer1, "www.example.com", Type::kAaaa);
  EXPECT_EQ(h.r.poll_at(), ms(2'000));  // round 2: 1 s (capped)
  h.udp_close(ms(2'000), c1.src_port);
  const UdpSend d = h.expect_query(ms(2'000), kServer2, "www.example.com", Type::kAaaa);
  EXPECT_EQ(h.r.poll_at(), ms(3'000));
  h.udp_close(ms(3'000), d.src_port);
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kTimeout);
}

// ---- RFC 5452: forged answers -------------------------------------------------------------------------

TEST(DnsResolver, ForgedRepliesDroppedRealOneAccepted) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "bank.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "bank.example.com", Type::kA);
  const Reply forged{.answers = {a_rec("bank.example.com", "198.51.100.66", 86400)}};
  const auto good = reply_to(s.bytes, forged);
  const auto& c = h.r.counters();

  auto wrong_txid = good;
  wrong_txid[1] ^= std::byte{1};
  h.r.on_udp(ms(1), kServer1, s.src_port, wrong_txid);
  EXPECT_EQ(c.drop_wrong_txid, 1u);
  h.r.on_udp(ms(2), ip::Endpoint{addr("198.51.100.53"), 53}, s.src_port, good);
  EXPECT_EQ(c.drop_wrong_source, 1u);
  h.r.on_udp(ms(3), ip::Endpoint{addr("192.0.2.53"), 5353}, s.src_port, good);
  EXPECT_EQ(c.drop_wrong_source_port, 1u);
  h.r.on_udp(ms(4), kServer1, std::uint16_t(s.src_port ^ 1), good);
  EXPECT_EQ(c.drop_wrong_port, 1u);

  // A different question under our TXID: other name, other type, other class.
  const Message query = parse_query(s.bytes);
  for (int variant = 0; variant < 3; ++variant) {
    Message m;
    m.header.id = query.header.id;
    m.header.qr = true;
    m.questions = query.questions;
    if (variant == 0) m.questions[0].name = name("bank.example.net");
    if (variant == 1) m.questions[0].type = Type::kAaaa;
    if (variant == 2) m.questions[0].qclass = Class::kCh;
    m.answers = {a_rec("bank.example.com", "198.51.100.66", 86400)};
    std::vector<std::byte> out(m.buffer_len());
    m.emit(out);
    h.r.on_udp(ms(5), kServer1, s.src_port, out);
  }
  EXPECT_EQ(c.drop_wrong_question, 3u);
  // No question at all.
  WireBuilder noq;
  noq.header(query.header.id, 0x8180, 0, 0, 0, 0);
  h.r.on_udp(ms(6), kServer1, s.src_port, noq.bytes());
  EXPECT_EQ(c.drop_wrong_question, 4u);
  // A query (QR=0) echoed back, and garbage with our TXID.
  h.r.on_udp(ms(7), kServer1, s.src_port, s.bytes);
  EXPECT_EQ(c.drop_not_response, 1u);
  auto cut = good;
  cut.erase(cut.end() - 2, cut.end());
  h.r.on_udp(ms(8), kServer1, s.src_port, cut);
  h.r.on_udp(ms(8), kServer1, s.src_port, Bytes{good}.first(5));
  EXPECT_EQ(c.drop_malformed, 2u);
  EXPECT_EQ(h.r.wire_counters().drop_bad_rdlength, 1u);  // the A record's RDATA cut short
  EXPECT_EQ(h.r.wire_counters().drop_truncated, 1u);     // under 12 bytes

  EXPECT_FALSE(h.r.result(q));
  h.nothing(ms(9));
  EXPECT_EQ(h.r.counters().responses, 0u);

  // The real answer, with the question's case changed by the server (RFC 4343): accepted.
  WireBuilder real;
  real.header(query.header.id, 0x8180, 1, 1, 0, 0);
  real.name("BaNk.ExAmPlE.cOm").question(1, 1);
  real.ptr(12).rr(1, 1, 120, 4).raw({192, 0, 2, 99});
  h.r.on_udp(ms(10), kServer1, s.src_port, real.bytes());
  expect_done(h.r, q, "bank.example.com", {{addr("192.0.2.99"), 120}});
  h.udp_close(ms(10), s.src_port);
  // After the answer, the port is closed: a forged copy is a wrong-port drop.
  h.r.on_udp(ms(11), kServer1, s.src_port, good);
  EXPECT_EQ(c.drop_wrong_port, 2u);
}

// ---- TC=1 -> TCP (RFC 7766) -----------------------------------------------------------------------------

TEST(DnsResolver, TruncatedAnswerMovesToTcpSplitLengthPrefix) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "big.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "big.example.com", Type::kA);
  h.r.on_udp(ms(30), kServer1, s.src_port,
             reply_to(s.bytes, {.answers = {a_rec("big.example.com", "198.51.100.1", 60)}, .tc = true}));
  EXPECT_FALSE(h.r.result(q));  // the truncated answer is discarded, not used
  EXPECT_EQ(h.r.counters().tc_fallbacks, 1u);
  h.udp_close(ms(30), s.src_port);
  const std::uint16_t txid = h.next_tcp_draw();
  const TcpExchange x = h.tcp(ms(30));
  EXPECT_EQ(x.server, kServer1);
  ASSERT_GT(x.bytes.size(), 2u);
  EXPECT_EQ(load_be16(x.bytes, 0), x.bytes.size() - 2);
  Query want;
  want.id = txid;
  want.name = name("big.example.com");
  want.edns_udp_size = kEdnsDefaultUdpSize;
  std::vector<std::byte> want_bytes(want.buffer_len());
  want.emit(want_bytes);
  EXPECT_EQ(std::vector<std::byte>(x.bytes.begin() + 2, x.bytes.end()), want_bytes);
  EXPECT_EQ(h.r.poll_at(), ms(1'030));

  // A TCP answer with 20 addresses, fed as: one prefix octet | the other + 5 octets | the rest.
  Reply big;
  for (int i = 1; i <= 20; ++i) {
    big.answers.push_back(a_rec("big.example.com", ("192.0.2." + std::to_string(i)).c_str(), 60));
  }
  const auto answer = reply_to(Bytes{x.bytes}.subspan(2), big);
  std::vector<std::byte> framed(answer.size() + 2);
  ASSERT_EQ(emit_tcp_frame(answer, framed), framed.size());
  const Bytes f{framed};
  h.r.on_tcp_data(ms(40), x.id, f.first(1));
  h.r.on_tcp_data(ms(41), x.id, f.subspan(1, 6));
  EXPECT_FALSE(h.r.result(q));
  h.r.on_tcp_data(ms(42), x.id, f.subspan(7));
  auto res = h.r.result(q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, QueryStatus::kDone);
  ASSERT_EQ(res->addresses.size(), 20u);
  EXPECT_EQ(res->addresses[19], (AddressAnswer{addr("192.0.2.20"), 60}));
  h.tcp_close(ms(42), x.id);
  h.nothing(ms(42));
  EXPECT_EQ(h.r.counters().tcp_queries, 1u);
  h.r.on_tcp_data(ms(43), x.id, f);
  EXPECT_EQ(h.r.counters().drop_unknown_exchange, 1u);
}

TEST(DnsResolver, TruncatedAnswerCutMidRecordStillMovesToTcp) {
  Harness h;
  h.r.resolve(ms(0), "big.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "big.example.com", Type::kA);
  auto tc = reply_to(s.bytes, {.answers = {a_rec("big.example.com", "198.51.100.1", 60)}, .tc = true});
  tc.erase(tc.end() - 3, tc.end());  // the server stopped inside the record, counts unchanged
  h.r.on_udp(ms(1), kServer1, s.src_port, tc);
  h.udp_close(ms(1), s.src_port);
  h.next_tcp_draw();
  EXPECT_EQ(h.tcp(ms(1)).server, kServer1);
}

TEST(DnsResolver, TcpFailureMovesToNextServerOverTcp) {
  Harness h(two_servers());
  const QueryHandle q = h.r.resolve(ms(0), "big.example.com", Type::kAaaa);
  const UdpSend s = h.expect_query(ms(0), kServer1, "big.example.com", Type::kAaaa);
  h.r.on_udp(ms(1), kServer1, s.src_port, reply_to(s.bytes, {.tc = true}));
  h.udp_close(ms(1), s.src_port);
  h.next_tcp_draw();
  const TcpExchange x1 = h.tcp(ms(1));
  EXPECT_EQ(x1.server, kServer1);
  h.r.on_tcp_failed(ms(2), x1.id);
  EXPECT_EQ(h.r.counters().tcp_failures, 1u);
  h.tcp_close(ms(2), x1.id);
  h.next_tcp_draw();
  const TcpExchange x2 = h.tcp(ms(2));
  EXPECT_EQ(x2.server, kServer2);
  EXPECT_NE(x2.id, x1.id);
  h.r.on_tcp_failed(ms(3), x1.id);  // stale
  EXPECT_EQ(h.r.counters().drop_unknown_exchange, 1u);
  const auto answer =
      reply_to(Bytes{x2.bytes}.subspan(2), {.answers = {aaaa_rec("big.example.com", "2001:db8::b", 9)}});
  std::vector<std::byte> framed(answer.size() + 2);
  emit_tcp_frame(answer, framed);
  h.r.on_tcp_data(ms(4), x2.id, framed);
  expect_done(h.r, q, "big.example.com", {{addr("2001:db8::b"), 9}});
  h.tcp_close(ms(4), x2.id);
}

TEST(DnsResolver, TcpWrongTxidIgnoredTimeoutClosesExchange) {
  ResolverConfig c = one_server();
  c.attempts = 1;
  Harness h(c);
  const QueryHandle q = h.r.resolve(ms(0), "big.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "big.example.com", Type::kA);
  h.r.on_udp(ms(1), kServer1, s.src_port, reply_to(s.bytes, {.tc = true}));
  h.udp_close(ms(1), s.src_port);
  h.next_tcp_draw();
  const TcpExchange x = h.tcp(ms(1));
  auto answer = reply_to(Bytes{x.bytes}.subspan(2), {.answers = {a_rec("big.example.com", "192.0.2.1", 9)}});
  answer[0] ^= std::byte{0x80};
  std::vector<std::byte> framed(answer.size() + 2);
  emit_tcp_frame(answer, framed);
  h.r.on_tcp_data(ms(2), x.id, framed);
  EXPECT_EQ(h.r.counters().drop_wrong_txid, 1u);
  EXPECT_FALSE(h.r.result(q));
  h.nothing(ms(1'000));
  h.tcp_close(ms(1'001), x.id);  // the attempt started at 1 ms
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kTimeout);
}

// ---- rcode failures ---------------------------------------------------------------------------------------

TEST(DnsResolver, ServFailMovesToNextServerAtOnce) {
  Harness h(two_servers());
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s1 = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  h.r.on_udp(ms(10), kServer1, s1.src_port, reply_to(s1.bytes, {.rcode = Rcode::kServFail}));
  EXPECT_FALSE(h.r.result(q));
  h.udp_close(ms(10), s1.src_port);
  const UdpSend s2 = h.expect_query(ms(10), kServer2, "www.example.com", Type::kA);
  h.r.on_udp(ms(20), kServer2, s2.src_port,
             reply_to(s2.bytes, {.answers = {a_rec("www.example.com", "192.0.2.2", 60)}}));
  expect_done(h.r, q, "www.example.com", {{addr("192.0.2.2"), 60}});
  EXPECT_EQ(h.r.counters().servfail, 1u);
}

TEST(DnsResolver, EveryServerFailingEndsWithoutFurtherRounds) {
  Harness h(two_servers());
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s1 = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  h.r.on_udp(ms(1), kServer1, s1.src_port, reply_to(s1.bytes, {.rcode = Rcode::kServFail}));
  h.udp_close(ms(1), s1.src_port);
  const UdpSend s2 = h.expect_query(ms(1), kServer2, "www.example.com", Type::kA);
  h.r.on_udp(ms(2), kServer2, s2.src_port, reply_to(s2.bytes, {.rcode = Rcode::kRefused}));
  h.udp_close(ms(2), s2.src_port);
  h.nothing(ms(2));
  EXPECT_EQ(status_of(h.r, q), QueryStatus::kRefused);  // the last server's word

  const QueryHandle q2 = h.r.resolve(ms(3), "www.example.org", Type::kA);
  const UdpSend t1 = h.expect_query(ms(3), kServer1, "www.example.org", Type::kA);
  h.r.on_udp(ms(4), kServer1, t1.src_port, reply_to(t1.bytes, {.rcode = Rcode::kRefused}));
  h.udp_close(ms(4), t1.src_port);
  const UdpSend t2 = h.expect_query(ms(4), kServer2, "www.example.org", Type::kA);
  h.udp_close(ms(1'004), t2.src_port);  // the second times out; round 2 skips the refusing first...
  const UdpSend t3 = h.expect_query(ms(1'004), kServer2, "www.example.org", Type::kA);
  h.r.on_udp(ms(1'005), kServer2, t3.src_port, reply_to(t3.bytes, {.rcode = Rcode::kServFail}));
  h.udp_close(ms(1'005), t3.src_port);
  EXPECT_EQ(status_of(h.r, q2), QueryStatus::kServFail);
}

TEST(DnsResolver, FormErrWithoutOptRetriesWithoutEdns) {
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "old.example.com", Type::kA);
  const UdpSend s1 = h.expect_query(ms(0), kServer1, "old.example.com", Type::kA);
  h.r.on_udp(ms(1), kServer1, s1.src_port, reply_to(s1.bytes, {.rcode = Rcode::kFormErr}));
  EXPECT_EQ(h.r.counters().edns_fallbacks, 1u);
  h.udp_close(ms(1), s1.src_port);
  const UdpSend s2 = h.expect_query(ms(1), kServer1, "old.example.com", Type::kA, std::nullopt);
  EXPECT_FALSE(parse_query(s2.bytes).edns);
  EXPECT_EQ(h.r.poll_at(), ms(1'001));  // not a new round
  h.r.on_udp(ms(2), kServer1, s2.src_port,
             reply_to(s2.bytes, {.answers = {a_rec("old.example.com", "192.0.2.5", 60)}}));
  expect_done(h.r, q, "old.example.com", {{addr("192.0.2.5"), 60}});
}

// ---- joining, cancel, bounds --------------------------------------------------------------------------------

TEST(DnsResolver, DuplicateLookupsJoinOneQuery) {
  Harness h;
  const QueryHandle a = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const QueryHandle b = h.r.resolve(ms(0), "WWW.EXAMPLE.COM.", Type::kA);
  const QueryHandle c = h.r.resolve(ms(0), "www.example.com", Type::kAaaa);  // another type: its own query
  EXPECT_NE(a, b);
  EXPECT_EQ(h.r.counters().joined, 1u);
  EXPECT_EQ(h.r.pending_lookups(), 2u);
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  const UdpSend s6 = h.expect_query(ms(0), kServer1, "www.example.com", Type::kAaaa);
  h.nothing(ms(0));
  const QueryHandle d = h.r.resolve(ms(1), "www.example.com", Type::kA);  // joins the one in flight
  h.nothing(ms(1));
  h.r.on_udp(ms(2), kServer1, s.src_port, reply_to(s.bytes, {.answers = {a_rec("www.example.com", "192.0.2.1", 60)}}));
  for (QueryHandle x : {a, b, d}) expect_done(h.r, x, "www.example.com", {{addr("192.0.2.1"), 60}});
  EXPECT_FALSE(h.r.result(c));
  h.udp_close(ms(2), s.src_port);
  h.r.cancel(c);
  h.udp_close(ms(2), s6.src_port);  // nobody waits: abandoned
  EXPECT_EQ(h.r.pending_lookups(), 0u);
  EXPECT_FALSE(h.r.poll_at());
}

TEST(DnsResolver, CancelOneOfTwoKeepsTheQuery) {
  Harness h;
  const QueryHandle a = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const QueryHandle b = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  h.r.cancel(a);
  EXPECT_FALSE(h.r.known(a));
  h.nothing(ms(1));
  h.r.on_udp(ms(2), kServer1, s.src_port, reply_to(s.bytes, {.answers = {a_rec("www.example.com", "192.0.2.1", 60)}}));
  EXPECT_FALSE(h.r.result(a));
  expect_done(h.r, b, "www.example.com", {{addr("192.0.2.1"), 60}});
  // Cancelling a lookup that has not been sent yet sends nothing at all.
  const QueryHandle e = h.r.resolve(ms(3), "other.example.com", Type::kA);
  h.r.cancel(e);
  h.udp_close(ms(3), s.src_port);
  h.nothing(ms(3));
}

TEST(DnsResolver, BoundsOnPendingLookupsAndHandles) {
  ResolverConfig c = one_server();
  c.max_pending = 1;
  c.max_handles = 3;
  Harness h(c);
  const QueryHandle a = h.r.resolve(ms(0), "a.example.com", Type::kA);
  auto over = h.r.result(h.r.resolve(ms(0), "b.example.com", Type::kA));
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, QueryStatus::kOverloaded);
  h.r.resolve(ms(0), "a.example.com", Type::kA);  // joins: no new lookup
  h.r.resolve(ms(0), "192.0.2.1", Type::kA);      // a local answer, not consumed
  const QueryHandle full = h.r.resolve(ms(0), "192.0.2.2", Type::kA);
  EXPECT_EQ(full, QueryHandle{0});
  EXPECT_EQ(status_of(h.r, full), QueryStatus::kOverloaded);
  EXPECT_EQ(h.r.open_handles(), 3u);
  EXPECT_EQ(h.r.counters().overloaded, 2u);
  EXPECT_TRUE(h.r.known(a));
}

// ---- local answers -------------------------------------------------------------------------------------

TEST(DnsResolver, LiteralsAndLocalhostNeedNoDns) {
  Harness h;
  expect_done(h.r, h.r.resolve(ms(0), "192.0.2.1", Type::kA), "192.0.2.1", {{addr("192.0.2.1"), 0}},
              AnswerSource::kLiteral);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(0), "192.0.2.1", Type::kAaaa)), QueryStatus::kNoData);
  auto v6 = h.r.result(h.r.resolve(ms(0), "2001:db8::1", Type::kAaaa));
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->status, QueryStatus::kDone);
  EXPECT_EQ(v6->addresses, (std::vector<AddressAnswer>{{addr("2001:db8::1"), 0}}));
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(0), "2001:db8::1", Type::kA)), QueryStatus::kNoData);
  expect_done(h.r, h.r.resolve(ms(0), "localhost", Type::kA), "localhost", {{addr("127.0.0.1"), 0}},
              AnswerSource::kLocalhost);
  expect_done(h.r, h.r.resolve(ms(0), "LocalHost.", Type::kAaaa), "localhost", {{addr("::1"), 0}},
              AnswerSource::kLocalhost);
  expect_done(h.r, h.r.resolve(ms(0), "app.localhost", Type::kA), "app.localhost", {{addr("127.0.0.1"), 0}},
              AnswerSource::kLocalhost);
  h.nothing(ms(0));
  EXPECT_FALSE(h.r.poll_at());
  EXPECT_EQ(h.r.counters().literal_hits, 4u);
  EXPECT_EQ(h.r.counters().localhost_hits, 3u);
}

TEST(DnsResolver, HostsTableHasPriorityOverDnsAndCache) {
  Harness h;
  h.r.hosts().add("printer.example.com", addr("192.0.2.77"));
  expect_done(h.r, h.r.resolve(ms(0), "Printer.Example.Com", Type::kA), "printer.example.com",
              {{addr("192.0.2.77"), 0}}, AnswerSource::kHosts);
  auto aaaa = h.r.result(h.r.resolve(ms(0), "printer.example.com", Type::kAaaa));
  ASSERT_TRUE(aaaa);
  EXPECT_EQ(aaaa->status, QueryStatus::kNoData);
  EXPECT_EQ(aaaa->source, AnswerSource::kHosts);
  h.nothing(ms(0));
  // A name learned from DNS, then pinned in the hosts table: the table wins over the cache.
  const QueryHandle q = h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA);
  h.r.on_udp(ms(1), kServer1, s.src_port, reply_to(s.bytes, {.answers = {a_rec("www.example.com", "192.0.2.1", 600)}}));
  expect_done(h.r, q, "www.example.com", {{addr("192.0.2.1"), 600}});
  h.r.hosts().add("www.example.com", addr("198.51.100.1"));
  expect_done(h.r, h.r.resolve(ms(2), "www.example.com", Type::kA), "www.example.com", {{addr("198.51.100.1"), 0}},
              AnswerSource::kHosts);
  EXPECT_EQ(h.r.counters().hosts_hits, 3u);
}

TEST(DnsResolver, BadNamesAndTypesAndNoServers) {
  Harness h;
  for (const std::string& bad :
       {std::string(""), std::string("."), std::string("a..b"), std::string(".a"), std::string("exa mple.com"),
        std::string("host:80"), std::string("fe80::1%eth0"), std::string("192.0.2.300"), std::string("10.1"),
        std::string("a.b.123"), std::string("caf\xc3\xa9.example"), std::string("a\\.b.example"),
        std::string(64, 'x') + ".example", std::string(128, 'a')}) {
    auto res = h.r.result(h.r.resolve(ms(0), bad, Type::kA));
    ASSERT_TRUE(res) << bad;
    EXPECT_EQ(res->status, QueryStatus::kBadName) << bad;
  }
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";  // 256 octets in wire form: over 255
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(0), long_name, Type::kA)), QueryStatus::kBadName);
  EXPECT_EQ(h.r.counters().bad_names, 15u);
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(0), "www.example.com", Type::kMx)), QueryStatus::kUnsupported);
  // Allowed: underscores, a trailing dot, digits in inner labels.
  EXPECT_EQ(status_of(h.r, h.r.resolve(ms(0), "_srv.123.example.com.", Type::kA)), QueryStatus::kPending);
  h.expect_query(ms(0), kServer1, "_srv.123.example.com", Type::kA);
  h.nothing(ms(0));

  ResolverConfig none;
  Harness n(none);
  EXPECT_EQ(status_of(n.r, n.r.resolve(ms(0), "www.example.com", Type::kA)), QueryStatus::kNoServers);
  EXPECT_EQ(status_of(n.r, n.r.resolve(ms(0), "192.0.2.1", Type::kA)), QueryStatus::kDone);
}

TEST(DnsResolver, NoEdnsWhenConfiguredOff) {
  ResolverConfig c = one_server();
  c.edns_udp_size = 0;
  Harness h(c);
  h.r.resolve(ms(0), "www.example.com", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.example.com", Type::kA, std::nullopt);
  EXPECT_EQ(load_be16(s.bytes, 10), 0u);  // ARCOUNT
}

// ---- real answers from captures ---------------------------------------------------------------------------

std::string data_path(const std::string& file) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + file;
}

// The UDP payloads of a capture (Ethernet / IPv4 or IPv6 without extension headers / UDP), in order.
std::vector<std::vector<std::byte>> udp_payloads(const std::string& file) {
  std::vector<std::vector<std::byte>> out;
  Tins::FileSniffer sniffer(data_path(file));
  sniffer.set_extract_raw_pdus(true);
  for (Tins::Packet pkt = sniffer.next_packet(); pkt; pkt = sniffer.next_packet()) {
    const auto* raw = pkt.pdu()->find_pdu<Tins::RawPDU>();
    if (raw == nullptr) continue;
    const Bytes f = std::as_bytes(std::span{raw->payload()});
    if (f.size() < 14) continue;
    const std::uint16_t ethertype = load_be16(f, 12);
    const Bytes l3 = f.subspan(14);
    Bytes l4;
    if (ethertype == 0x0800 && l3.size() >= 20 && load_u8(l3, 9) == 17) {
      const std::size_t ihl = std::size_t(load_u8(l3, 0) & 0x0f) * 4;
      l4 = l3.subspan(ihl, load_be16(l3, 2) - ihl);
    } else if (ethertype == 0x86dd && l3.size() >= 40 && load_u8(l3, 6) == 17) {
      l4 = l3.subspan(40, load_be16(l3, 4));
    } else {
      continue;
    }
    if (l4.size() < 8) continue;
    out.emplace_back(l4.begin() + 8, l4.end());
  }
  return out;
}

// The captured answer, with its TXID patched to the one we drew.
std::vector<std::byte> patched(std::vector<std::byte> answer, Bytes query) {
  answer[0] = query[0];
  answer[1] = query[1];
  return answer;
}

TEST(DnsResolverReplay, CompressedEdnsAnswerFromTcpdumpTrace) {
  const auto p = udp_payloads("dns_a_udp_compression_edns.pcap");
  ASSERT_EQ(p.size(), 2u);
  Harness h;
  const QueryHandle q = h.r.resolve(ms(0), "www.tcpdump.org", Type::kA);
  const UdpSend s = h.expect_query(ms(0), kServer1, "www.tcpdump.org", Type::kA);
  h.r.on_udp(ms(80), kServer1, s.src_port, p[1]);
  EXPECT_EQ(h.r.counters().drop_wrong_txid, 1u);  // as captured, the TXID is not ours
  h.r.on_udp(ms(81), kServer1, s.src_port, patched(p[1], s.bytes));
  auto res = h.r.result(q);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, QueryStatus::kDone);
  EXPECT_EQ(res->canonical_name, name("www.tcpdump.org"));
  ASSERT_EQ(res->addresses.size(), 2u);
  EXPECT_EQ(res->addresses[0].address, addr("192.139.46.66"));
  EXPECT_EQ(res->addresses[1].address, addr("198.199.88.104"));
  // The glue A/AAAA records of the additional section are about other names: not cached.
  const QueryHandle ns = h.r.resolve(ms(82), "ns.tcpdump.org", Type::kA);
  EXPECT_FALSE(h.r.result(ns));
}

TEST(DnsResolverReplay, RootServerAnswersAndServFailFromDnscapTrace) {
  const auto p = udp_payloads("dns_a_aaaa_udp.pcap");
  ASSERT_EQ(p.size(), 14u);
  Harness h(two_servers());
  const QueryHandle a = h.r.resolve(ms(0), "h.root-servers.net", Type::kA);
  const QueryHandle aaaa = h.r.resolve(ms(0), "h.root-servers.net", Type::kAaaa);
  const UdpSend sa = h.expect_query(ms(0), kServer1, "h.root-servers.net", Type::kA);
  const UdpSend s6 = h.expect_query(ms(0), kServer1, "h.root-servers.net", Type::kAaaa);
  // The AAAA answer under the A query's TXID is a different question.
  h.r.on_udp(ms(1), kServer1, sa.src_port, patched(p[3], sa.bytes));
  EXPECT_EQ(h.r.counters().drop_wrong_question, 1u);
  h.r.on_udp(ms(2), kServer1, sa.src_port, patched(p[2], sa.bytes));
  h.r.on_udp(ms(2), kServer1, s6.src_port, patched(p[3], s6.bytes));
  auto ra = h.r.result(a);
  auto r6 = h.r.result(aaaa);
  ASSERT_TRUE(ra && r6);
  ASSERT_EQ(ra->addresses.size(), 1u);
  EXPECT_EQ(ra->addresses[0].address, addr("198.97.190.53"));
  ASSERT_EQ(r6->addresses.size(), 1u);
  EXPECT_EQ(r6->addresses[0].address, addr("2001:500:1::53"));

  // The captured SERVFAIL for dnssec-failed.org: the next server is asked.
  const QueryHandle f = h.r.resolve(ms(3), "dnssec-failed.org", Type::kA);
  h.udp_close(ms(3), sa.src_port);
  h.udp_close(ms(3), s6.src_port);
  const UdpSend sf = h.expect_query(ms(3), kServer1, "dnssec-failed.org", Type::kA);
  h.r.on_udp(ms(4), kServer1, sf.src_port, patched(p[13], sf.bytes));
  EXPECT_EQ(h.r.counters().servfail, 1u);
  h.udp_close(ms(4), sf.src_port);
  const UdpSend sf2 = h.expect_query(ms(4), kServer2, "dnssec-failed.org", Type::kA);
  h.r.on_udp(ms(5), kServer2, sf2.src_port, patched(p[13], sf2.bytes));
  EXPECT_EQ(status_of(h.r, f), QueryStatus::kServFail);
}

}  // namespace
}  // namespace tapstack::dns
