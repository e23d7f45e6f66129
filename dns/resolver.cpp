// Resolver: local answers (literals, localhost, hosts, cache), then queries over UDP with retries, backoff
// and failover, RFC 5452 acceptance checks, TC=1 -> TCP (RFC 7766), and caching (RFC 2308 for negatives).
#include "dns/resolver.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace tapstack::dns {
namespace {

constexpr std::size_t kSoaFixedLen = 20;  // SERIAL REFRESH RETRY EXPIRE MINIMUM (RFC 1035 §3.3.13)

std::uint8_t fold(std::uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') ? std::uint8_t(c + 32) : c; }

// True when `child` is `parent` or a name under it (label-aligned suffix, ASCII case-insensitive).
bool is_subdomain(const Name& child, const Name& parent) noexcept {
  const Bytes c = child.wire(), p = parent.wire();
  std::size_t off = 0;
  while (off < c.size()) {
    if (c.size() - off == p.size()) {
      for (std::size_t i = 0; i < p.size(); ++i) {
        if (fold(std::uint8_t(c[off + i])) != fold(std::uint8_t(p[i]))) return false;
      }
      return true;
    }
    const std::size_t len = std::size_t(c[off]);
    if (len == 0) break;
    off += 1 + len;
  }
  return false;
}

// Host name text as getaddrinfo takes it (RFC 1123 §2.1 letters, digits, hyphens; '_' as found in practice).
bool host_name_chars(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

// RFC 3696 §2: a top-level label is never all-numeric, so "192.0.2.300" or "10.1" is a bad address, not a
// name to leak to DNS.
bool numeric_last_label(const Name& n) noexcept {
  const Bytes w = n.wire();
  std::size_t off = 0, last = 0;
  while (off < w.size() && w[off] != std::byte{0}) {
    last = off;
    off += 1 + std::size_t(w[off]);
  }
  if (off == 0) return false;
  const std::size_t len = std::size_t(w[last]);
  for (std::size_t i = 1; i <= len; ++i) {
    const auto c = std::uint8_t(w[last + i]);
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool family_matches(const ip::IpAddress& a, Type t) noexcept {
  return (t == Type::kA && a.is_v4()) || (t == Type::kAaaa && a.is_v6());
}

// The question of a message whose records we do not need (a TC=1 answer may end mid-record).
std::optional<Question> parse_question(Bytes msg, const Header& h) noexcept {
  if (h.qdcount != 1) return std::nullopt;
  const auto n = Name::parse(msg, kHeaderLen);
  if (!n || n->next + 4 > msg.size()) return std::nullopt;
  return Question{n->name, Type{load_be16(msg, n->next)}, Class{load_be16(msg, n->next + 2)}};
}

}  // namespace

std::ostream& operator<<(std::ostream& os, QueryStatus s) {
  switch (s) {
    case QueryStatus::kPending:
      return os << "pending";
    case QueryStatus::kDone:
      return os << "done";
    case QueryStatus::kNxDomain:
      return os << "nxdomain";
    case QueryStatus::kNoData:
      return os << "nodata";
    case QueryStatus::kServFail:
      return os << "servfail";
    case QueryStatus::kTimeout:
      return os << "timeout";
    case QueryStatus::kRefused:
      return os << "refused";
    case QueryStatus::kBadName:
      return os << "bad_name";
    case QueryStatus::kUnsupported:
      return os << "unsupported";
    case QueryStatus::kOverloaded:
      return os << "overloaded";
    case QueryStatus::kNoServers:
      return os << "no_servers";
  }
  return os << "status" << int(s);
}

Resolver::Resolver(ResolverConfig config, Rng& rng)
    : config_{std::move(config)}, rng_{rng}, cache_{config_.cache_entries} {
  config_.attempts = std::max<std::uint32_t>(config_.attempts, 1);
  if (config_.port_min > config_.port_max) std::swap(config_.port_min, config_.port_max);
  config_.port_min = std::max<std::uint16_t>(config_.port_min, 1);
  config_.port_max = std::max(config_.port_max, config_.port_min);
  config_.max_timeout = std::max(config_.max_timeout, config_.initial_timeout);
}

QueryHandle Resolver::issue(Result r) {
  const QueryHandle h{next_handle_++};
  handles_[h.id].result = std::move(r);
  return h;
}

QueryHandle Resolver::resolve(Instant now, std::string_view text, Type type) {
  see(now);
  ++counters_.lookups;
  if (handles_.size() >= config_.max_handles) {
    ++counters_.overloaded;
    return QueryHandle{0};
  }
  if (type != Type::kA && type != Type::kAaaa) return issue(Result{QueryStatus::kUnsupported});

  // 1. Literals need no DNS (CONFORMANCE §1: getaddrinfo takes numeric addresses as they are).
  if (const auto literal = ip::IpAddress::parse(text)) {
    ++counters_.literal_hits;
    Result r{QueryStatus::kNoData, Name::from_text(text).value_or(Name{}), {}, AnswerSource::kLiteral};
    if (family_matches(*literal, type)) {
      r.status = QueryStatus::kDone;
      r.addresses.push_back({*literal, 0});
    }
    return issue(std::move(r));
  }
  const auto name = host_name_chars(text) ? Name::from_text(text) : std::nullopt;
  if (!name || name->is_root() || numeric_last_label(*name)) {
    ++counters_.bad_names;
    return issue(Result{QueryStatus::kBadName});
  }
  if (auto local = serve_locally(now, *name, type)) return issue(std::move(*local));

  // On the network: join a lookup of the same name and type, or start one.
  if (const auto it = index_.find(Key{*name, type}); it != index_.end()) {
    ++counters_.joined;
    const QueryHandle h{next_handle_++};
    handles_[h.id].lookup = it->second;
    lookups_.at(it->second).waiters.push_back(h.id);
    return h;
  }
  if (config_.servers.empty()) return issue(Result{QueryStatus::kNoServers, *name});
  if (lookups_.size() >= config_.max_pending) {
    ++counters_.overloaded;
    return issue(Result{QueryStatus::kOverloaded, *name});
  }
  const QueryHandle h{next_handle_++};
  const std::uint64_t id = next_lookup_++;
  Lookup& l = lookups_[id];
  l.name = *name;
  l.type = type;
  l.waiters.push_back(h.id);
  l.phase = Phase::kReady;
  l.ready_at = now;
  l.edns = config_.edns_udp_size != 0;
  l.server_failed.assign(config_.servers.size(), false);
  index_.emplace(Key{*name, type}, id);
  handles_[h.id].lookup = id;
  return h;
}

std::optional<Result> Resolver::serve_locally(Instant now, const Name& name, Type type) {
  // 2. RFC 6761 §6.3: localhost and names under it are the loopback address, never asked of DNS.
  static const Name kLocalhost = *Name::from_text("localhost");
  if (is_subdomain(name, kLocalhost)) {
    ++counters_.localhost_hits;
    const ip::IpAddress loopback = type == Type::kA ? ip::IpAddress{ip::Ipv4Address{{127, 0, 0, 1}}}
                                                    : ip::IpAddress{*ip::Ipv6Address::parse("::1")};
    return Result{QueryStatus::kDone, name, {{loopback, 0}}, AnswerSource::kLocalhost};
  }
  // 3. The hosts table has priority over DNS.
  if (auto e = hosts_.lookup(name, type)) {
    ++counters_.hosts_hits;
    Result r{
        e->addresses.empty() ? QueryStatus::kNoData : QueryStatus::kDone, e->canonical_name, {}, AnswerSource::kHosts};
    for (const auto& a : e->addresses) r.addresses.push_back({a, 0});
    return r;
  }
  // 4. The cache.
  if (auto c = cache_.lookup(now, name, type)) {
    ++counters_.cache_hits;
    Result r{QueryStatus::kDone, c->canonical_name, std::move(c->addresses), AnswerSource::kCache};
    if (c->kind == CacheKind::kNxDomain) r.status = QueryStatus::kNxDomain;
    if (c->kind == CacheKind::kNoData) r.status = QueryStatus::kNoData;
    return r;
  }
  return std::nullopt;
}

std::optional<Result> Resolver::result(QueryHandle h) {
  if (h.id == 0) return Result{QueryStatus::kOverloaded};
  const auto it = handles_.find(h.id);
  if (it == handles_.end() || !it->second.result) return std::nullopt;
  Result r = std::move(*it->second.result);
  handles_.erase(it);
  return r;
}

bool Resolver::known(QueryHandle h) const noexcept { return handles_.count(h.id) != 0; }

void Resolver::cancel(QueryHandle h) noexcept {
  const auto it = handles_.find(h.id);
  if (it == handles_.end()) return;
  ++counters_.cancelled;
  const std::uint64_t lookup = it->second.result ? 0 : it->second.lookup;
  handles_.erase(it);
  const auto lt = lookups_.find(lookup);
  if (lt == lookups_.end()) return;
  auto& w = lt->second.waiters;
  w.erase(std::remove(w.begin(), w.end(), h.id), w.end());
  if (!w.empty()) return;
  close_attempt(lt->second, last_now_);  // nobody waits: abandon it
  index_.erase(Key{lt->second.name, lt->second.type});
  lookups_.erase(lt);
}

Duration Resolver::attempt_timeout(std::uint32_t round) const noexcept {
  Duration d = config_.initial_timeout;
  for (std::uint32_t i = 0; i < round && d < config_.max_timeout; ++i) d *= 2;
  return std::min(d, config_.max_timeout);
}

std::uint16_t Resolver::pick_port() noexcept {
  const std::uint32_t span = std::uint32_t(config_.port_max) - config_.port_min + 1;
  std::uint16_t port = 0;
  // RFC 5452 §9.2: uniform over the range; a port another attempt still waits on is drawn again (a few
  // times at most: at most max_pending of the range are taken).
  for (int tries = 0; tries < 16; ++tries) {
    port = std::uint16_t(config_.port_min + rng_.uniform(span));
    const bool taken = std::any_of(lookups_.begin(), lookups_.end(), [&](const auto& kv) {
      return kv.second.phase == Phase::kAwaiting && !kv.second.tcp && kv.second.src_port == port;
    });
    if (!taken) break;
  }
  return port;
}

Resolver::Transmit Resolver::send_attempt(Lookup& l, Instant now) {
  if (!l.first_attempt) ++counters_.retries;
  l.first_attempt = false;
  // RFC 5452 §4.3 / §9.2: a fresh random TXID (and, over UDP, source port) for every attempt.
  l.txid = std::uint16_t(rng_.uniform(65536));
  Query q;
  q.id = l.txid;
  q.name = l.name;
  q.type = l.type;
  if (l.edns) q.edns_udp_size = config_.edns_udp_size;
  std::vector<std::byte> msg(q.buffer_len());
  q.emit(msg);
  l.phase = Phase::kAwaiting;
  l.deadline = now + attempt_timeout(l.round);
  const ip::Endpoint server = config_.servers[l.server];
  if (l.tcp) {
    l.exchange_id = next_exchange_++;
    if (l.exchange_id == 0) l.exchange_id = next_exchange_++;
    l.framer.reset();
    std::vector<std::byte> framed(msg.size() + kTcpLengthPrefix);
    emit_tcp_frame(msg, framed);
    ++counters_.tcp_queries;
    return TcpExchange{l.exchange_id, server, std::move(framed)};
  }
  l.src_port = pick_port();
  ++counters_.udp_queries;
  return UdpSend{l.src_port, server, std::move(msg)};
}

void Resolver::close_attempt(Lookup& l, Instant now) {
  if (l.phase != Phase::kAwaiting) return;
  if (l.tcp) {
    closes_.emplace_back(now, TcpClose{l.exchange_id});
  } else {
    closes_.emplace_back(now, UdpClose{l.src_port});
  }
  l.src_port = 0;
  l.exchange_id = 0;
  l.framer.reset();
  l.phase = Phase::kReady;
}

// The same server again at once (TC=1 -> TCP, EDNS fallback): not a new round.
void Resolver::retry_now(Lookup& l, Instant now) {
  close_attempt(l, now);
  l.phase = Phase::kReady;
  l.ready_at = now;
}

void Resolver::next_attempt(std::uint64_t id, Instant now, std::optional<QueryStatus> rcode_failure) {
  Lookup& l = lookups_.at(id);
  close_attempt(l, now);
  if (rcode_failure) {
    l.server_failed[l.server] = true;  // it answered: asking it again will not help
    l.last_error = rcode_failure;
  }
  const std::size_t n = config_.servers.size();
  for (std::size_t step = 0; step < n; ++step) {
    if (++l.server == n) {
      l.server = 0;
      ++l.round;
    }
    if (l.round >= config_.attempts) break;
    if (!l.server_failed[l.server]) {
      l.phase = Phase::kReady;
      l.ready_at = now;
      return;
    }
  }
  finish(id, now, Result{l.last_error.value_or(QueryStatus::kTimeout), l.name, {}, AnswerSource::kNetwork});
}

void Resolver::set_servers(std::vector<ip::Endpoint> servers) {
  config_.servers = std::move(servers);
  const std::size_t n = config_.servers.size();
  std::vector<std::uint64_t> orphaned;
  for (auto& [id, l] : lookups_) {
    l.server_failed.assign(n, false);
    if (l.server >= n) l.server = 0;
    if (n == 0) orphaned.push_back(id);
  }
  for (const std::uint64_t id : orphaned)
    finish(id, last_now_, Result{QueryStatus::kNoServers, lookups_.at(id).name});
}

void Resolver::finish(std::uint64_t id, Instant now, Result r) {
  const auto it = lookups_.find(id);
  if (it == lookups_.end()) return;
  Lookup& l = it->second;
  close_attempt(l, now);
  for (const std::uint64_t w : l.waiters) {
    auto& h = handles_[w];
    h.result = r;
    h.lookup = 0;
  }
  index_.erase(Key{l.name, l.type});
  lookups_.erase(it);
}

void Resolver::expire(Instant now) {
  std::vector<std::uint64_t> due;
  for (const auto& [id, l] : lookups_) {
    if (l.phase == Phase::kAwaiting && l.deadline <= now) due.push_back(id);
  }
  for (const std::uint64_t id : due) {
    ++counters_.timeouts;
    next_attempt(id, now, std::nullopt);
  }
}

std::optional<Resolver::Transmit> Resolver::poll_transmit(Instant now) noexcept {
  see(now);
  expire(now);
  if (!closes_.empty()) {
    Transmit t = std::move(closes_.front().second);
    closes_.pop_front();
    return t;
  }
  for (auto& [id, l] : lookups_) {
    if (l.phase == Phase::kReady) return send_attempt(l, now);
  }
  return std::nullopt;
}

std::optional<Instant> Resolver::poll_at() const noexcept {
  std::optional<Instant> at;
  const auto consider = [&](Instant t) {
    if (!at || t < *at) at = t;
  };
  for (const auto& c : closes_) consider(c.first);
  for (const auto& [id, l] : lookups_) consider(l.phase == Phase::kReady ? l.ready_at : l.deadline);
  return at;
}

void Resolver::on_udp(Instant now, const ip::Endpoint& from, std::uint16_t local_port, Bytes payload) noexcept {
  see(now);
  const auto it = std::find_if(lookups_.begin(), lookups_.end(), [&](const auto& kv) {
    return kv.second.phase == Phase::kAwaiting && !kv.second.tcp && kv.second.src_port == local_port;
  });
  if (it == lookups_.end()) {
    ++counters_.drop_wrong_port;
    return;
  }
  const ip::Endpoint& server = config_.servers[it->second.server];
  if (from.addr != server.addr) {
    ++counters_.drop_wrong_source;
    return;
  }
  if (from.port != server.port) {
    ++counters_.drop_wrong_source_port;
    return;
  }
  on_message(it->first, now, payload, false);
}

void Resolver::on_tcp_data(Instant now, std::uint32_t exchange_id, Bytes chunk) noexcept {
  see(now);
  const auto it = std::find_if(lookups_.begin(), lookups_.end(), [&](const auto& kv) {
    return kv.second.phase == Phase::kAwaiting && kv.second.tcp && kv.second.exchange_id == exchange_id;
  });
  if (exchange_id == 0 || it == lookups_.end()) {
    ++counters_.drop_unknown_exchange;
    return;
  }
  const std::uint64_t id = it->first;
  // Messages are copied out before any is handled: handling one may end the lookup that owns the framer.
  std::vector<std::vector<std::byte>> messages;
  const auto status = it->second.framer.feed(chunk, [&](Bytes m) { messages.emplace_back(m.begin(), m.end()); });
  for (const auto& m : messages) {
    if (on_message(id, now, m, true) == Verdict::kAccepted) return;
  }
  if (status == TcpFramer::Status::kTooLarge) {
    ++counters_.tcp_failures;
    next_attempt(id, now, std::nullopt);
  }
}

void Resolver::on_tcp_failed(Instant now, std::uint32_t exchange_id) noexcept {
  see(now);
  const auto it = std::find_if(lookups_.begin(), lookups_.end(), [&](const auto& kv) {
    return kv.second.phase == Phase::kAwaiting && kv.second.tcp && kv.second.exchange_id == exchange_id;
  });
  if (exchange_id == 0 || it == lookups_.end()) {
    ++counters_.drop_unknown_exchange;
    return;
  }
  ++counters_.tcp_failures;
  next_attempt(it->first, now, std::nullopt);
}

Resolver::Verdict Resolver::on_message(std::uint64_t id, Instant now, Bytes msg, bool over_tcp) {
  Lookup& l = lookups_.at(id);
  const auto header = Header::parse(msg);
  if (!header) {
    ++counters_.drop_malformed;
    count(wire_counters_, DropReason::kTruncated);
    return Verdict::kDropped;
  }
  if (header->id != l.txid) {
    ++counters_.drop_wrong_txid;
    return Verdict::kDropped;
  }
  if (!header->qr || header->opcode != Opcode::kQuery) {
    ++counters_.drop_not_response;
    return Verdict::kDropped;
  }
  const Question want{l.name, l.type, Class::kIn};
  // RFC 7766 §6.2.1 / RFC 2181 §9: a TC=1 answer over UDP is discarded and asked again over TCP; only its
  // question is checked, since its records may stop anywhere.
  if (header->tc && !over_tcp) {
    const auto q = parse_question(msg, *header);
    if (!q || !(*q == want)) {
      ++counters_.drop_wrong_question;
      return Verdict::kDropped;
    }
    ++counters_.responses;
    ++counters_.tc_fallbacks;
    close_attempt(l, now);  // a UdpClose: the lookup is not over TCP yet
    l.tcp = true;
    retry_now(l, now);
    return Verdict::kAccepted;
  }
  ParseOptions opt;
  opt.max_ttl = config_.max_ttl;
  DropReason why{};
  const auto m = Message::parse(msg, &why, opt);
  if (!m) {
    ++counters_.drop_malformed;
    count(wire_counters_, why);
    return Verdict::kDropped;
  }
  // RFC 5452 §9.1: exactly our question (the name compared ASCII case-insensitively, RFC 4343 §3).
  if (m->questions.size() != 1 || m->header.qdcount != 1 || !(m->questions[0] == want)) {
    ++counters_.drop_wrong_question;
    return Verdict::kDropped;
  }
  ++counters_.responses;
  on_answer(id, now, *m);
  return Verdict::kAccepted;
}

void Resolver::on_answer(std::uint64_t id, Instant now, const Message& m) {
  Lookup& l = lookups_.at(id);
  switch (m.header.rcode) {
    case Rcode::kNoError: {
      const Answers a = answers_for(m, l.name, l.type, config_.max_cname_hops);
      if (a.end == Answers::End::kHopLimit) {
        ++counters_.cname_hop_limit;
        next_attempt(id, now, QueryStatus::kServFail);
        return;
      }
      if (a.end == Answers::End::kAddresses && !a.addresses.empty()) {
        Result r{QueryStatus::kDone, a.canonical_name, {}, AnswerSource::kNetwork};
        std::uint32_t ttl = config_.max_ttl;
        std::vector<ip::IpAddress> plain;
        for (const auto& x : a.addresses) {
          r.addresses.push_back({x.address, std::min(x.ttl, config_.max_ttl)});
          ttl = std::min(ttl, x.ttl);  // RFC 2181 §5.2: one RRset, one TTL; the chain's lowest (answers_for)
          plain.push_back(x.address);
        }
        cache_.insert(now, l.name, l.type, CacheKind::kAddresses, a.canonical_name, std::move(plain), ttl);
        finish(id, now, std::move(r));
        return;
      }
      // RFC 2308 §2.2: no answer, NS records and no SOA in the authority section is a referral, not NODATA:
      // this server does not recurse for us.
      const bool has_soa =
          std::any_of(m.authorities.begin(), m.authorities.end(), [](const Record& r) { return r.type == Type::kSoa; });
      const bool has_ns =
          std::any_of(m.authorities.begin(), m.authorities.end(), [](const Record& r) { return r.type == Type::kNs; });
      if (a.cname_hops == 0 && has_ns && !has_soa) {
        ++counters_.lame;
        next_attempt(id, now, QueryStatus::kServFail);
        return;
      }
      cache_.insert(now, l.name, l.type, CacheKind::kNoData, a.canonical_name, {}, negative_ttl(m, a.canonical_name));
      finish(id, now, Result{QueryStatus::kNoData, a.canonical_name, {}, AnswerSource::kNetwork});
      return;
    }
    case Rcode::kNxDomain: {
      // RFC 6604 §3: the RCODE is about the last name of the chain; the lookup fails either way.
      const Answers a = answers_for(m, l.name, l.type, config_.max_cname_hops);
      const std::uint32_t ttl = negative_ttl(m, a.canonical_name);
      if (a.cname_hops == 0) {
        cache_.insert_nxdomain(now, l.name, a.canonical_name, ttl);  // RFC 2308 §5: every type of the name
      } else {
        cache_.insert(now, l.name, l.type, CacheKind::kNxDomain, a.canonical_name, {}, ttl);
      }
      finish(id, now, Result{QueryStatus::kNxDomain, a.canonical_name, {}, AnswerSource::kNetwork});
      return;
    }
    case Rcode::kFormErr:
      // RFC 6891 §7: a FORMERR without an OPT record means the server does not speak EDNS: ask it again
      // without (once per lookup).
      if (l.edns && !m.edns) {
        ++counters_.edns_fallbacks;
        l.edns = false;
        retry_now(l, now);
        return;
      }
      ++counters_.servfail;
      next_attempt(id, now, QueryStatus::kServFail);
      return;
    case Rcode::kRefused:
      ++counters_.refused;
      next_attempt(id, now, QueryStatus::kRefused);
      return;
    default:  // SERVFAIL, NOTIMP and anything else: this server cannot answer; the next may
      ++counters_.servfail;
      next_attempt(id, now, QueryStatus::kServFail);
      return;
  }
}

// RFC 2308 §5: the SOA of the zone the answer came from (owner above the name, class IN) gives
// min(its TTL, its MINIMUM); capped. The MINIMUM is the last of the fixed fields that end the RDATA, so
// the two names before them (possibly compressed) need not be decoded.
std::uint32_t Resolver::negative_ttl(const Message& m, const Name& name) const noexcept {
  for (const auto& r : m.authorities) {
    const RawRdata* raw = r.raw();
    if (r.type != Type::kSoa || r.rclass != Class::kIn || raw == nullptr || raw->size() < kSoaFixedLen + 2) continue;
    if (!is_subdomain(name, r.name)) continue;
    std::uint32_t minimum = load_be32(Bytes{*raw}, raw->size() - 4);
    if ((minimum & 0x80000000u) != 0) minimum = 0;  // as RFC 2181 §8 treats TTLs
    return std::min({r.ttl, minimum, config_.negative_ttl_cap});
  }
  return std::min(config_.negative_ttl_no_soa, config_.negative_ttl_cap);
}

}  // namespace tapstack::dns
