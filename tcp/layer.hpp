// tcp::TcpLayer: the ip::TransportHandler for protocol 6. It parses segments, demultiplexes them to
// connections (by 4-tuple) or listeners (by address and port), answers segments nobody wants with RSTs,
// runs listeners' SYN / accept queues with SYN cookies, picks ISNs (RFC 6528) and ephemeral ports (RFC 6056),
// and drives every connection's poll_transmit through the interface's IpSender from poll().
//
// Usage (one stack loop owns it; nothing here is thread-safe):
//   TcpLayer tcp{rng, {}, &iface};  iface.register_transport(ip::IpProtocol::kTcp, tcp);
//   auto l = tcp.listen({addr, 80}, 16);           auto c = tcp.connect(now, {peer, 80});
//   if (auto h = tcp.accept(*l)) tcp.connection(*h)->recv(buf);
//
// Efficiency: demux is one hash lookup; poll() touches only connections that are "ready" (received a segment,
// were handed to the application through connection(), or whose timer expired, from a min-heap keyed by
// Connection::poll_at()), so 10k idle connections cost nothing per poll. Memory is bounded: connections
// (max_connections, including TIME-WAIT), TIME-WAIT entries (max_time_wait, oldest evicted first), each
// listener's SYN queue and accept queue, and the queue of RSTs / cookie SYN-ACKs waiting for poll().
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "ip/port_allocator.hpp"
#include "ip/transport.hpp"
#include "stack/counters.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"
#include "tcp/config.hpp"
#include "tcp/connection.hpp"
#include "tcp/isn.hpp"
#include "tcp/listener.hpp"
#include "tcp/syn_cookie.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp {

// A value or an error code (C++20 has no std::expected).
template <class T>
class Result {
 public:
  Result(T v) noexcept : value_{v}, ok_{true} {}                 // NOLINT: implicit by design
  Result(std::error_code e) noexcept : error_{e} {}              // NOLINT
  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const T& value() const noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }
  const T* operator->() const noexcept { return &value_; }
  std::error_code error() const noexcept { return error_; }

 private:
  T value_{};
  std::error_code error_;
  bool ok_ = false;
};

// Every received segment that is not delivered bumps exactly one drop_* counter.
#define TAPSTACK_TCP_LAYER_COUNTERS(X)                                                                    \
  X(rx_segments)                                                                                        \
  TAPSTACK_TCP_WIRE_COUNTERS(X)  /* drop_truncated, drop_bad_offset, drop_bad_checksum, drop_bad_flags */ \
  X(drop_not_unicast)            /* to a broadcast/multicast address (RFC 1122 §4.2.3.10) */           \
  X(drop_no_connection)          /* no connection, no listener: answered with a RST */                 \
  X(drop_rst_no_connection)      /* a RST to no connection: never answered (RFC 9293 §3.10.7.1) */     \
  X(drop_listener_rst)           /* a RST to a listener: ignored (§3.10.7.2) */                        \
  X(drop_listener_ack)           /* an ACK to a listener that is no valid cookie: RST (§3.10.7.2) */   \
  X(drop_listener_no_syn)        /* neither SYN, ACK nor RST to a listener: dropped (§3.10.7.2) */     \
  X(drop_syn_queue_full)         /* SYN queue full and cookies off */                                  \
  X(drop_accept_queue_full)      /* SYN (or cookie ACK) while the accept queue is full */              \
  X(drop_too_many_connections)   /* max_connections reached */                                         \
  X(drop_no_memory)              /* allocation failed while creating a connection */                   \
  X(drop_control_queue_full)     /* a RST or cookie SYN-ACK found the control queue full */            \
  X(syn_received)                /* SYNs that created a half-open connection */                        \
  X(syn_cookies_sent)                                                                                   \
  X(syn_cookies_accepted)                                                                               \
  X(syn_cookies_rejected)        /* ACKs checked as cookies and found forged or stale */               \
  X(rst_sent)                    /* RSTs for segments to no connection / listener */                  \
  X(connections_opened)          /* connect() */                                                        \
  X(connections_accepted)        /* handed out by accept() */                                           \
  X(half_open_dropped)           /* SYN-RECEIVED connections that closed (RST, timeout): back to LISTEN */ \
  X(half_open_superseded)        /* half-open entries replaced by a valid cookie ACK for the same tuple */ \
  X(connections_reaped)                                                                                 \
  X(time_wait_evicted)           /* oldest TIME-WAIT dropped early to respect max_time_wait */          \
  X(fin_wait2_timeouts)          /* orphans dropped after ConnectionConfig::fin_wait2_timeout */        \
  X(orphan_zero_window_aborts)   /* orphans reset after ConnectionConfig::orphan_zero_window_probes */  \
  X(orphan_data_resets)          /* orphans reset by new data nobody will read (RFC 1122 4.2.2.13) */  \
  X(close_unread_resets)         /* close() with received data unread: RST (RFC 1122 4.2.2.13) */      \
  X(tx_segments)                                                                                        \
  X(connections_polled)          /* connections poll() drove (ready or timer due): idle ones are not */ \
  X(drop_tx_no_route) X(drop_tx_too_big) X(drop_tx_link)                                                \
  X(icmp_errors) X(icmp_errors_delivered) X(drop_icmp_no_connection)
TAPSTACK_DEFINE_COUNTERS(TcpCounters, TAPSTACK_TCP_LAYER_COUNTERS)

struct LayerConfig {
  ip::PortRange ephemeral{};               // RFC 6056 §3.2
  std::size_t max_connections = 65536;     // slab slots in use, TIME-WAIT included
  std::size_t max_time_wait = 16384;       // beyond this the oldest TIME-WAIT connection is dropped
  std::size_t syn_queue = 256;             // half-open connections per listener (RFC 4987 §3.1)
  bool syn_cookies = true;                 // RFC 4987 §3.6 when a SYN queue is full
  std::size_t control_queue = 256;         // RSTs / cookie SYN-ACKs waiting for poll()
  std::size_t segments_per_poll = 64;      // per connection per poll(): one busy connection cannot starve others
  ConnectionConfig connection{};           // for connect()/listen() without a config
};

class TcpLayer final : public ip::TransportHandler {
 public:
  // The demultiplexer's 4-tuple hash. Keyed (SipHash, a key per layer drawn from its Rng): a peer that picks its
  // addresses and ports cannot pile connections into one bucket and turn each lookup into a list walk (hash
  // flooding; Linux keys its established-connection hash the same way).
  struct TupleHash {
    SipKey key;
    std::size_t operator()(const FourTuple& t) const noexcept;
  };

  // `rng` (SecureRng in production, SeededRng in tests) keys the ISN, cookie and port hashes and is handed to
  // each Connection; it must outlive the layer. `routes` (normally the ip::Interface) supplies source
  // addresses and the MSS for connect(); without it, the IpSender of the first poll() is remembered.
  explicit TcpLayer(Rng& rng, const LayerConfig& config = {}, const ip::IpSender* routes = nullptr);
  ~TcpLayer() override;
  TcpLayer(const TcpLayer&) = delete;
  TcpLayer& operator=(const TcpLayer&) = delete;

  void set_routes(const ip::IpSender* routes) noexcept { routes_ = routes; }

  // Active open (RFC 9293 §3.10.1). `local`: unset or an unspecified address picks the route's source
  // address; port 0 picks an ephemeral port (RFC 6056) that makes the 4-tuple unique. Errors: EINVAL (bad
  // remote), ENETUNREACH (no source address), EADDRINUSE (explicit local port: the 4-tuple exists),
  // EADDRNOTAVAIL (ephemeral range exhausted toward this remote), ENOBUFS (max_connections), ENOMEM.
  Result<ConnHandle> connect(Instant now, const ip::Endpoint& remote, std::optional<ip::Endpoint> local = {});
  Result<ConnHandle> connect(Instant now, const ip::Endpoint& remote, std::optional<ip::Endpoint> local,
                             const ConnectionConfig& cfg);
  // Passive open (RFC 9293 §3.10.1). `local.addr` unspecified listens on every address of its family;
  // port 0 picks an ephemeral port. EADDRINUSE when another listener overlaps, or when connections still
  // use the port (e.g. TIME-WAIT after a server restart) unless `reuse_addr` (SO_REUSEADDR).
  Result<ListenerHandle> listen(const ip::Endpoint& local, std::size_t backlog);
  Result<ListenerHandle> listen(const ip::Endpoint& local, std::size_t backlog, const ConnectionConfig& cfg,
                                bool reuse_addr = false);
  // The oldest established connection the listener holds; the caller owns it from now on.
  std::optional<ConnHandle> accept(ListenerHandle l) noexcept;
  // Stops listening: queued and half-open connections are reset (RFC 9293 §3.10.4, CLOSE in LISTEN).
  void close_listener(ListenerHandle l) noexcept;
  const Listener* listener(ListenerHandle l) const noexcept;

  // The connection behind an application-owned handle (nullptr if stale). Marks it for the next poll(), since
  // the caller may send or close through it.
  Connection* connection(ConnHandle h) noexcept;
  const Connection* find(ConnHandle h) const noexcept;  // read-only, no marking
  // close(): FIN after queued data; the layer keeps the connection through the FIN handshake and TIME-WAIT.
  // With received data the application never read, a RST instead, as abort() (RFC 1122 4.2.2.13; RFC 2525
  // §2.17; Linux alike): the peer learns that data was lost rather than taking the close as a clean end.
  // abort(): RST now. Either way the handle is released.
  void close(Instant now, ConnHandle h) noexcept;
  void abort(Instant now, ConnHandle h) noexcept;

  std::size_t connection_count() const noexcept { return slots_.size() - free_.size(); }
  std::size_t time_wait_count() const noexcept { return time_wait_count_; }
  const TcpCounters& counters() const noexcept { return counters_; }
  const LayerConfig& config() const noexcept { return config_; }
  const IsnGenerator& isn_generator() const noexcept { return isn_; }

  // ip::TransportHandler
  Verdict on_packet(Instant now, const ip::IpPacketInfo& ip, Bytes payload) noexcept override;
  void on_icmp_error(Instant now, const ip::IcmpErrorInfo& info, Bytes quoted) noexcept override;
  void poll(Instant now, ip::IpSender& out) noexcept override;
  std::optional<Instant> poll_at() const noexcept override;

 private:
  enum class Owner : std::uint8_t {
    kFree,
    kHalfOpen,     // SYN-RECEIVED from a listener (counted in its SYN queue)
    kAcceptQueue,  // established, waiting for accept()
    kApp,          // the application holds the handle
    kOrphan,       // released by the application (or never owned); reaped once closed and drained
  };
  struct Slot {
    std::unique_ptr<Connection> conn;
    std::uint32_t generation = 0;
    Owner owner = Owner::kFree;
    ListenerHandle listener{};
    bool linked = false;     // in demux_
    bool ready = false;      // in ready_
    bool time_wait = false;  // counted in time_wait_count_
    std::optional<Instant> timer;  // the deadline this slot has in timers_
    std::optional<Instant> fin_wait2_deadline;  // an orphan in FIN-WAIT-2 is dropped then (fin_wait2_timeout)
  };
  struct ListenerSlot {
    std::optional<Listener> listener;
    ConnectionConfig cfg;
    std::uint32_t generation = 0;
  };
  struct TimerEntry {
    Instant at;
    std::uint32_t index = 0, generation = 0;
  };
  // A segment the layer itself sends (RST, cookie SYN-ACK); never carries payload.
  struct PendingSegment {
    ip::IpAddress src, dst;
    Repr repr;
  };

  Result<ConnHandle> insert(std::unique_ptr<Connection> c, Owner owner, ListenerHandle l) noexcept;
  void link(std::uint32_t index) noexcept;
  void unlink(std::uint32_t index) noexcept;
  void reap(std::uint32_t index) noexcept;
  void mark_ready(std::uint32_t index) noexcept;
  void schedule(std::uint32_t index) noexcept;
  void prune_timers() noexcept;
  // Arms an orphan's FIN-WAIT-2 deadline, clears it once the connection left FIN-WAIT-2 (its FIN came), or,
  // when it passed, drops the connection silently. True when it dropped it (the slot is free).
  bool fin_wait2_timer(Instant now, std::uint32_t index) noexcept;
  // Bookkeeping after anything happened to a connection: closure, handshake completion, TIME-WAIT, timer.
  // `reschedule` false: the caller marks the connection ready, and poll() reschedules it after driving it.
  void settle(std::uint32_t index, bool reschedule = true) noexcept;
  void on_closed(std::uint32_t index) noexcept;  // unlink, and give a half-open entry back to its listener
  bool make_room() noexcept;  // true when a new connection fits (evicting a TIME-WAIT one if needed)
  void evict_time_wait() noexcept;
  void compact_time_wait_fifo() noexcept;
  Slot* slot_for(ConnHandle h) noexcept;
  const Slot* slot_for(ConnHandle h) const noexcept;
  Listener* listener_for(ListenerHandle h) noexcept;
  std::optional<std::uint32_t> find_listener(const ip::IpAddress& addr, std::uint16_t port) const noexcept;
  bool port_has_listener(std::uint16_t port, const ip::IpAddress& addr) const noexcept;
  std::uint16_t local_mss(const ip::IpAddress& remote) const noexcept;

  void on_listener_segment(Instant now, std::uint32_t li, const FourTuple& t, const Repr& seg) noexcept;
  // The final ACK of a SYN-cookie handshake whose cookie validated (RFC 4987 §3.6): rebuilds the connection
  // and queues it for accept(), or drops the ACK (the peer retransmits) when the accept queue is full.
  void complete_cookie(Instant now, std::uint32_t li, const FourTuple& t, const Repr& seg, std::uint16_t mss,
                       const std::optional<Connection::CookieTimestamps>& ts) noexcept;
  // What the final ACK's timestamps say of a cookie (syn_cookie.hpp): the options its TSecr echoes, nothing
  // when it carries no timestamps (or the listener offers none), or false for a TSecr no cookie SYN-ACK of ours
  // held (a reserved bit set, or ahead of our clock).
  bool cookie_timestamps(Instant now, const FourTuple& t, const Repr& seg, const ConnectionConfig& cfg,
                         std::optional<Connection::CookieTimestamps>& out) const noexcept;
  // A pure ACK for a half-open connection that is really the final ACK of a cookie SYN-ACK we sent for the
  // same 4-tuple (the peer's SYN was retransmitted after the SYN queue had room): true when it took over.
  bool cookie_supersedes(Instant now, std::uint32_t index, const FourTuple& t, const Repr& seg) noexcept;
  void send_reset(const FourTuple& t, const Repr& seg) noexcept;
  void queue_control(const ip::IpAddress& src, const ip::IpAddress& dst, const Repr& r) noexcept;
  void transmit(Instant now, ip::IpSender& out, const ip::IpAddress& src, const ip::IpAddress& dst,
                const Repr& r) noexcept;

  Rng& rng_;
  LayerConfig config_;
  const ip::IpSender* routes_;
  IsnGenerator isn_;
  SynCookies cookies_;
  ip::PortAllocator ports_;
  TcpCounters counters_;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<FourTuple, std::uint32_t, TupleHash> demux_;
  std::uint32_t last_demux_ = ~std::uint32_t{0};  // the slot find_connection() found last (a hint, checked on use)
  std::optional<std::uint32_t> find_connection(const FourTuple& t) noexcept;
  std::unordered_map<std::uint16_t, std::uint32_t> port_refs_;  // local port -> linked connections
  std::vector<ListenerSlot> listeners_;
  std::vector<std::uint32_t> free_listeners_;
  std::unordered_map<std::uint16_t, std::vector<std::uint32_t>> listen_ports_;

  std::vector<std::uint32_t> ready_, work_;  // work_: the batch poll() is processing
  std::vector<TimerEntry> timers_;           // min-heap on `at`, stale entries skipped lazily
  std::deque<ConnHandle> time_wait_fifo_;    // oldest first; stale entries skipped
  std::size_t time_wait_count_ = 0;
  std::vector<PendingSegment> control_;
};

}  // namespace tapstack::tcp
