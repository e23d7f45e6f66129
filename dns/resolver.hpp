// The sans-I/O DNS stub resolver (RFC 1034 §5.3.1): turns resolve(name, A/AAAA) into queries for the driver
// to send over UDP or TCP, matches what the driver feeds back (RFC 5452), retries with backoff and failover,
// follows CNAMEs and caches. It never reads a clock or touches a socket; socket/'s getaddrinfo drives it.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "dns/cache.hpp"
#include "dns/hosts.hpp"
#include "dns/message.hpp"
#include "dns/name.hpp"
#include "dns/tcp_framing.hpp"
#include "ip/address.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"

namespace tapstack::dns {

inline constexpr std::uint16_t kDnsPort = 53;

struct ResolverConfig {
  // Tried in order (RFC 1035 §7.2: "the resolver ... should try the servers in order"); one round is one
  // attempt at each server that has not refused or failed this lookup.
  std::vector<ip::Endpoint> servers;
  // Per attempt; the timeout of round r is initial_timeout * 2^r, capped at max_timeout (RFC 1536 §1: back
  // off exponentially). With one server and the defaults: sends at 0, 1 s, 3 s and kTimeout at 7 s.
  Duration initial_timeout = seconds{1};
  Duration max_timeout = seconds{8};
  std::uint32_t attempts = 3;       // rounds over the server list
  std::size_t cache_entries = 512;  // 0: no cache
  // RFC 2181 §8 / §5 below: positive TTLs are capped at max_ttl. RFC 2308 §5: a negative answer is cached
  // for min(SOA TTL, SOA MINIMUM) from the authority section, capped at negative_ttl_cap; a negative answer
  // without a usable SOA "SHOULD NOT be cached", so negative_ttl_no_soa is 0 unless the caller wants a floor.
  std::uint32_t max_ttl = 86400, negative_ttl_cap = 3600, negative_ttl_no_soa = 0;
  std::uint16_t edns_udp_size = kEdnsDefaultUdpSize;  // 0 = no EDNS (RFC 6891)
  std::size_t max_cname_hops = kDefaultMaxCnameHops;
  // RFC 5452 §9.2: the source port comes from as wide a range as possible, drawn at random per query.
  std::uint16_t port_min = 1024, port_max = 65535;
  std::size_t max_pending = 64;    // lookups on the network at once (distinct name/type); more: kOverloaded
  std::size_t max_handles = 1024;  // handles not yet consumed by result() or cancel(); more: kOverloaded
};

enum class QueryStatus : std::uint8_t {
  kPending,
  kDone,         // addresses found
  kNxDomain,     // the name does not exist (RCODE 3, or cached)
  kNoData,       // the name exists without an address of this family (incl. a literal of the other family)
  kServFail,     // every server failed (SERVFAIL, NOTIMP, FORMERR, a referral, a CNAME chain over the bound)
  kTimeout,      // no server answered in `attempts` rounds
  kRefused,      // the last server to answer refused
  kBadName,      // not a host name (see resolve())
  kUnsupported,  // a type other than A or AAAA
  kOverloaded,   // max_pending or max_handles reached
  kNoServers,    // the name needs DNS and the configuration lists no server
};
std::ostream& operator<<(std::ostream& os, QueryStatus s);

// Where a finished answer came from.
enum class AnswerSource : std::uint8_t { kNone, kLiteral, kLocalhost, kHosts, kCache, kNetwork };

struct Result {
  QueryStatus status = QueryStatus::kPending;
  Name canonical_name;                   // the end of the CNAME chain (the asked name if none); root for kBadName
  std::vector<AddressAnswer> addresses;  // kDone only; ttl as cacheable (0 for literals, hosts and localhost)
  AnswerSource source = AnswerSource::kNone;
};

// A caller's ticket for one resolve(). Ids are never reused; id 0 is the "overloaded" handle.
struct QueryHandle {
  std::uint64_t id = 0;
  friend bool operator==(const QueryHandle&, const QueryHandle&) = default;
};

// clang-format off
#define TAPSTACK_DNS_RESOLVER_COUNTERS(X)                                                             \
  X(lookups)                 /* resolve() calls */                                                    \
  X(literal_hits)            /* served from an address literal */                                     \
  X(localhost_hits)          /* served as localhost (RFC 6761 §6.3) */                                \
  X(hosts_hits)              /* served from the hosts table */                                        \
  X(cache_hits)              /* served from the cache */                                              \
  X(joined)                  /* resolve() of a name/type already on the network */                    \
  X(bad_names)               /* kBadName */                                                           \
  X(overloaded)              /* kOverloaded (max_pending or max_handles) */                           \
  X(udp_queries)             /* UdpSend returned */                                                   \
  X(tcp_queries)             /* TcpExchange returned */                                               \
  X(retries)                 /* attempts after a lookup's first (timeout, failover, TC, EDNS) */      \
  X(timeouts)                /* attempts whose deadline passed */                                     \
  X(tc_fallbacks)            /* TC=1 answers that moved a lookup to TCP (RFC 7766 §6.2.1) */          \
  X(edns_fallbacks)          /* FORMERR without OPT: asked again without EDNS (RFC 6891 §7) */        \
  X(responses)               /* accepted answers */                                                   \
  X(servfail)                /* SERVFAIL, NOTIMP, FORMERR or another rcode: next server */            \
  X(refused)                 /* REFUSED: next server */                                               \
  X(lame)                    /* a referral instead of an answer (RFC 2308 §2.2): next server */       \
  X(cname_hop_limit)         /* a CNAME chain longer than max_cname_hops: next server */              \
  X(drop_wrong_port)         /* UDP: no query waits on this local port */                             \
  X(drop_wrong_source)       /* UDP: not the queried server's address */                              \
  X(drop_wrong_source_port)  /* UDP: not the queried server's port (53) */                            \
  X(drop_wrong_txid)         /* not the attempt's TXID */                                             \
  X(drop_not_response)       /* QR=0 or another opcode */                                             \
  X(drop_malformed)          /* Message::parse refused it (see wire_counters() for why) */            \
  X(drop_wrong_question)     /* not exactly our question (name case-insensitive, type, class) */      \
  X(drop_unknown_exchange)   /* TCP data or failure for an exchange not (or no longer) waited on */   \
  X(tcp_failures)            /* on_tcp_failed, or a stream the framer refused */                      \
  X(cancelled)               /* cancel() of a known handle */
// clang-format on
TAPSTACK_DEFINE_COUNTERS(ResolverCounters, TAPSTACK_DNS_RESOLVER_COUNTERS)

class Resolver {
 public:
  // What poll_transmit asks the driver to do. Every UdpSend is followed, some time later, by exactly one
  // UdpClose of its port, and every TcpExchange by exactly one TcpClose of its id (after the answer, a
  // failure, a timeout or cancel()); the driver keeps the socket open in between and may release it then.
  struct UdpSend {  // send `bytes` from local port src_port (fresh and random per attempt) to `server`
    std::uint16_t src_port = 0;
    ip::Endpoint server;
    std::vector<std::byte> bytes;
  };
  struct TcpExchange {     // connect to `server`, send `bytes` (already RFC 7766 §8 length-framed), feed
    std::uint32_t id = 0;  // everything received to on_tcp_data(id), report a failure with on_tcp_failed(id)
    ip::Endpoint server;
    std::vector<std::byte> bytes;
  };
  struct UdpClose {
    std::uint16_t src_port = 0;
  };
  struct TcpClose {
    std::uint32_t id = 0;
  };
  using Transmit = std::variant<UdpSend, TcpExchange, UdpClose, TcpClose>;

  // `rng` (SecureRng in production, SeededRng in tests) draws TXIDs and source ports; it must outlive us.
  Resolver(ResolverConfig config, Rng& rng);
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Starts a lookup of `name` for `type` (A or AAAA). Served at once, in this order, without any traffic:
  //  1. an IPv4 or IPv6 literal: kDone for its own family, kNoData for the other;
  //  2. "localhost" and names under it (RFC 6761 §6.3): 127.0.0.1 / ::1;
  //  3. the hosts table: kDone, or kNoData if it knows the name only with the other family (a pinned name
  //     never leaks to DNS);
  //  4. the cache (positive or negative);
  // otherwise it is pending, joined to a lookup of the same name and type already on the network.
  // Names are host names as getaddrinfo takes them: letters, digits, '-', '_' and dots, an optional trailing
  // dot, valid for Name::from_text, and not all-numeric in the last label (RFC 1123 §2.1, RFC 3696 §2: such
  // text is a malformed address, never a name); anything else is kBadName. Names are sent as given (no
  // search list). Allocates.
  QueryHandle resolve(Instant now, std::string_view name, Type type);
  // nullopt while pending (and for an unknown, consumed or cancelled handle); the result once done, which
  // consumes the handle. The overloaded handle (id 0) always gives kOverloaded.
  std::optional<Result> result(QueryHandle h);
  bool known(QueryHandle h) const noexcept;  // issued, and neither consumed nor cancelled
  // Forgets the handle; a network lookup no other handle waits for is abandoned (its socket closed).
  void cancel(QueryHandle h) noexcept;

  // At most one thing to do now, closes first. Also runs timeouts whose time has come.
  std::optional<Transmit> poll_transmit(Instant now) noexcept;
  // When poll_transmit next has something to do (a deadline, or an earlier instant if work is waiting).
  std::optional<Instant> poll_at() const noexcept;

  // A UDP datagram from `from` to our `local_port`. RFC 5452 §9.1: accepted only from the queried server's
  // address and port, on the query's port, with its TXID and exactly its question; anything else is counted
  // and dropped, and the lookup keeps waiting.
  void on_udp(Instant now, const ip::Endpoint& from, std::uint16_t local_port, Bytes payload) noexcept;
  // Bytes of TCP exchange `id`, in whatever chunks arrived (RFC 7766 §8: the prefix may be split).
  void on_tcp_data(Instant now, std::uint32_t exchange_id, Bytes chunk) noexcept;
  // The connection could not be made or broke before an answer: the next server, or the lookup fails.
  void on_tcp_failed(Instant now, std::uint32_t exchange_id) noexcept;

  HostsTable& hosts() noexcept { return hosts_; }
  Cache& cache() noexcept { return cache_; }
  const ResolverConfig& config() const noexcept { return config_; }
  // Replaces the servers (e.g. RDNSS, RFC 8106 §5.3.1, learnt after construction). Lookups on the network go
  // on with the new list from its first server (an answer still in flight from an old server is dropped as
  // from the wrong source, and the attempt times out to the next one); with an empty list they finish with
  // kNoServers. Allocates.
  void set_servers(std::vector<ip::Endpoint> servers);
  const ResolverCounters& counters() const noexcept { return counters_; }
  const WireCounters& wire_counters() const noexcept { return wire_counters_; }
  std::size_t pending_lookups() const noexcept { return lookups_.size(); }  // on the network
  std::size_t open_handles() const noexcept { return handles_.size(); }

 private:
  enum class Phase : std::uint8_t { kReady, kAwaiting };
  struct Lookup {
    Name name;  // as asked (the key)
    Type type = Type::kA;
    std::vector<std::uint64_t> waiters;  // handle ids
    Phase phase = Phase::kReady;
    Instant ready_at;  // kReady: since when
    Instant deadline;  // kAwaiting
    bool tcp = false;  // after TC=1, for the rest of the lookup
    bool edns = true;
    bool first_attempt = true;
    std::size_t server = 0;
    std::uint32_t round = 0;
    std::vector<bool> server_failed;        // answered with an rcode failure: not asked again
    std::optional<QueryStatus> last_error;  // kServFail or kRefused, once a server answered so
    std::uint16_t txid = 0;
    std::uint16_t src_port = 0;     // kAwaiting over UDP
    std::uint32_t exchange_id = 0;  // kAwaiting over TCP
    TcpFramer framer;
  };
  struct HandleState {
    std::optional<Result> result;
    std::uint64_t lookup = 0;  // while pending
  };
  enum class Verdict : std::uint8_t { kDropped, kAccepted };

  QueryHandle issue(Result r);
  std::optional<Result> serve_locally(Instant now, const Name& name, Type type);
  Transmit send_attempt(Lookup& l, Instant now);
  std::uint16_t pick_port() noexcept;
  Duration attempt_timeout(std::uint32_t round) const noexcept;
  void close_attempt(Lookup& l, Instant now);
  void retry_now(Lookup& l, Instant now);
  void next_attempt(std::uint64_t id, Instant now, std::optional<QueryStatus> rcode_failure);
  void finish(std::uint64_t id, Instant now, Result r);
  void expire(Instant now);
  Verdict on_message(std::uint64_t id, Instant now, Bytes msg, bool over_tcp);
  void on_answer(std::uint64_t id, Instant now, const Message& m);
  std::uint32_t negative_ttl(const Message& m, const Name& name) const noexcept;
  void see(Instant now) noexcept { last_now_ = std::max(last_now_, now); }

  ResolverConfig config_;
  Rng& rng_;
  HostsTable hosts_;
  Cache cache_;
  ResolverCounters counters_;
  WireCounters wire_counters_;
  std::uint64_t next_handle_ = 1;
  std::uint64_t next_lookup_ = 1;
  std::uint32_t next_exchange_ = 1;
  std::unordered_map<std::uint64_t, HandleState> handles_;
  std::map<std::uint64_t, Lookup> lookups_;  // ordered: attempts go out in the order lookups started
  struct Key {
    Name name;
    Type type = Type::kA;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept { return k.name.hash() * 31u + std::size_t(k.type); }
  };
  std::unordered_map<Key, std::uint64_t, KeyHash> index_;  // (name, type) -> the lookup on the network
  std::deque<std::pair<Instant, Transmit>> closes_;        // queued when an attempt ends, sent first
  Instant last_now_;                                       // the latest `now` seen, for cancel(), which takes none
};

}  // namespace tapstack::dns
