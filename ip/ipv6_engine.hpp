// ip::Ipv6Engine: the IPv6 half of ip::Interface (EtherType 0x86dd): addresses with DAD and SLAAC (RFC 4862),
// Neighbor Discovery with the neighbour cache and router discovery (RFC 4861), MLDv2 joins of solicited-node
// groups (RFC 3810), ICMPv6 echo and errors (RFC 4443), reassembly and fragmentation (RFC 8200 §4.5), path MTU
// (RFC 8201) and source selection (RFC 6724). The Interface hands it the IPv6 payload of each accepted frame
// and delegates IpSender calls for IPv6 destinations; it owns no clock (every call takes `now`).
//
// Addresses: the link-local fe80::/64 + modified EUI-64 of the MAC, the configured static ones, and SLAAC ones
// from Router Advertisements. Each starts TENTATIVE: after a random delay (0..max_dad_delay, RFC 4862 §5.4.2)
// its solicited-node group is joined (an unsolicited report, MLDv2 or in MLDv1 compatibility mode MLDv1, repeated
// once within the Unsolicited Report Interval, RFC 3810 §6.1) and dad_transmits NS are sent from :: one
// RetransTimer apart; RetransTimer after the last without a conflict it is PREFERRED. An NA for it, or a DAD NS
// for it from another node, makes it DUPLICATE (counted, kept visible through address_state(), never used).
// Until it is usable only NS/NA reach it.
//
// Receive policy: frames to our MAC, or to 33:33:xx of a group we joined (all-nodes, solicited-node);
// destinations our addresses, ff02::1 or our solicited-node groups; sources multicast or loopback are dropped.
// The chain is walked by walk_ipv6_chain; Parameter Problems it asks for are sent (RFC 4443 §2.4 e via
// may_send_error_about, rate-limited). Fragments go to Reassembler6; Time Exceeded code 1 is sent when a
// datagram whose first fragment arrived times out. Echo requests to unicast addresses are answered (not to
// multicast: optional in RFC 4443 §4.1, and an amplifier). A Redirect from a destination's current first-hop
// router sets that destination's next hop (RFC 4861 §8.3; bounded, for redirect_timeout). MLD queries are
// answered with MLDv2 Current State Reports (RFC 3810 §6.2); an MLDv1 query switches the interface to MLDv1
// compatibility mode (RFC 3810 §8.2.1: MLDv1 Reports, Dones and report suppression, RFC 2710 §4) until the
// Older Version Querier Present timer expires.
//
// Send policy: multicast -> 33:33 MAC; a redirected destination -> the Redirect's target; link-local or inside
// an on-link prefix (RA L flag or a static address's prefix) -> the destination itself; otherwise the first
// live default router (RA) or the configured gateway; else kNoRoute. Unresolved next hops queue in the
// NeighborCache (kQueued) with a multicast NS. Packets larger than the path MTU are fragmented with a random
// Identification (RFC 7739); transports setting dont_fragment get kTooBig instead.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "ip/echo_reply.hpp"
#include "ip/icmp_rate_limit.hpp"
#include "ip/icmpv6.hpp"
#include "ip/ipv6.hpp"
#include "ip/neighbor_cache.hpp"
#include "ip/reassembly6.hpp"
#include "ip/slaac.hpp"
#include "ip/transport.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/link.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

struct Ipv6Config {
  MacAddress mac;
  bool enabled = true;
  std::vector<Ipv6Cidr> addresses;       // static addresses (DAD still runs)
  std::optional<Ipv6Address> gateway;    // used when no RA gave a default router
  bool slaac = true;                     // form addresses from RA prefixes with the A flag
  unsigned dad_transmits = 1;            // DupAddrDetectTransmits (RFC 4862 §5.1); 0 skips DAD
  unsigned router_solicitations = 3;     // MAX_RTR_SOLICITATIONS (RFC 4861 §10)
  Duration rs_interval = seconds(4);     // RTR_SOLICITATION_INTERVAL
  Duration max_dad_delay = seconds(1);   // MAX_RTR_SOLICITATION_DELAY before joining/DAD (RFC 4862 §5.4.2)
  bool mldv1_compat = true;              // MLDv1 compatibility mode (RFC 3810 §8.2.1); false: MLDv2 only, §10.1
  std::uint8_t hop_limit = 64;           // for our own messages until an RA sets Cur Hop Limit
  Duration pmtu_timeout = seconds(600);  // RFC 8201 §4: a lowered PMTU is retried after 10 minutes
  std::size_t max_addresses = 16;        // SLAAC addresses beyond this are not created
  std::size_t max_routers = 8, max_prefixes = 16, max_dns_servers = 8, max_pmtu_entries = 64;
  bool accept_redirects = true;          // RFC 4861 §8.3: a valid Redirect updates the destination's next hop
  std::size_t max_redirects = 64;        // redirected destinations kept; the one expiring first makes room
  Duration redirect_timeout = seconds(600);  // how long a redirected next hop is kept
  std::size_t echo_reply_queue = 64;
  NeighborCacheConfig ndp{};
  Reassembly6Config reassembly{};
  IcmpRateLimitConfig icmp_rate{};
};

#define TAPSTACK_IPV6_COUNTERS(X)                                                                              \
  X(ipv6_rx) X(drop_ipv6_disabled) X(drop_ipv6_truncated) X(drop_ipv6_bad_version) X(drop_ipv6_bad_payload_len) \
  X(drop_ipv6_jumbogram) X(drop_ipv6_bad_source) X(drop_ipv6_own_source) X(drop_ipv6_not_for_us)               \
  X(drop_ipv6_tentative_dst) X(drop_ipv6_ext_truncated) X(drop_ipv6_hop_by_hop_not_first)                      \
  X(drop_ipv6_too_many_headers) X(drop_ipv6_chain_too_long) X(drop_ipv6_routing_type0)                         \
  X(drop_ipv6_routing_header) X(drop_ipv6_unknown_next_header) X(drop_ipv6_bad_option)                         \
  X(drop_ipv6_jumbo_option) X(drop_ipv6_unknown_option) X(ipv6_fragments_rx) X(ipv6_reassembled)              \
  X(drop_ipv6_reassembly) X(drop_ipv6_no_next_header) X(drop_ipv6_unknown_protocol) X(ipv6_delivered)          \
  X(rx_port_unreachable)                                                                                        \
  X(icmp6_rx) X(drop_icmp6_truncated) X(drop_icmp6_bad_checksum) X(drop_icmp6_unsupported)                     \
  X(drop_icmp6_bad_quote) X(icmp6_echo_requests_rx) X(icmp6_echo_replies_sent) X(drop_icmp6_echo_multicast)    \
  X(icmp6_echo_replies_rx) X(drop_echo_reply_queue_full) X(icmp6_echo_requests_sent) X(icmp6_errors_rx)        \
  X(icmp6_errors_delivered) X(drop_icmp6_error_not_ours) X(drop_icmp6_error_no_transport)                      \
  X(drop_icmp6_ptb_below_min) X(pmtu_lowered) X(icmp6_errors_sent) X(icmp6_rate_limited)                       \
  X(icmp6_error_suppressed) X(mld_ignored) X(ndp_redirect_ignored) X(ndp_rs_ignored)                           \
  X(ndp_redirects_accepted) X(drop_redirect_not_from_first_hop) X(redirects_expired)                           \
  X(drop_ndp_fragmented) X(drop_ndp_bad_hop_limit) X(drop_ndp_bad_code) X(drop_ndp_bad_options)                \
  X(drop_ndp_invalid) X(ndp_ns_rx) X(ndp_na_rx) X(ndp_ra_rx) X(drop_ndp_ns_not_our_target)                     \
  X(drop_ndp_ns_tentative_target) X(ndp_na_sent) X(ndp_ns_sent) X(ndp_rs_sent) X(mld_reports_sent)             \
  X(dad_ns_sent) X(dad_succeeded) X(dad_duplicates) X(ndp_address_conflict) X(ra_mtu_updates)                  \
  X(drop_ra_mtu_invalid) X(slaac_addresses_created) X(slaac_prefix_ignored) X(slaac_address_limit)             \
  X(routers_added) X(routers_expired) X(rdnss_updates) X(addresses_deprecated) X(addresses_expired)            \
  X(tx_packets) X(tx_frames) X(tx_fragments) X(tx_queued_ndp) X(drop_tx_no_route) X(drop_tx_no_source)         \
  X(drop_tx_too_big) X(drop_tx_link) X(drop_tx_ndp_queue)                                                      \
  X(mld_queries_rx) X(drop_mld_query_invalid) X(mld_v1_queries_ignored) X(mld_query_answers_scheduled)          \
  X(mldv1_mode_entered) X(mldv1_mode_left) X(mldv1_reports_sent) X(mldv1_dones_sent) X(mldv1_reports_suppressed)   \
  X(mld_report_retransmissions)
TAPSTACK_DEFINE_COUNTERS(Ipv6Counters, TAPSTACK_IPV6_COUNTERS)

class Ipv6Engine {
 public:
  // `link`, `rng`, `handlers` (the interface's table, by protocol number) and `echo` must outlive the engine.
  // Throws std::invalid_argument for a static address that is multicast, unspecified or has prefix > 128.
  Ipv6Engine(Link& link, Ipv6Config cfg, Rng& rng, const std::array<TransportHandler*, 256>& handlers,
             EchoReplyQueue& echo);
  Ipv6Engine(const Ipv6Engine&) = delete;
  Ipv6Engine& operator=(const Ipv6Engine&) = delete;

  // Whether a frame to this multicast MAC is for us (33:33 + a joined group's low 32 bits).
  bool accepts_multicast_mac(const MacAddress& mac) const noexcept;
  // One IPv6 packet (the Ethernet payload, padding included), borrowed for the call.
  void on_packet(Instant now, Bytes packet, const MacAddress& eth_src, bool l2_multicast) noexcept;
  // Timers: DAD, router solicitation, lifetimes, the neighbour cache, reassembly, PMTU ageing.
  void poll(Instant now) noexcept;
  std::optional<Instant> poll_at() const noexcept;

  // IpSender for IPv6 destinations (the interface forwards its calls here).
  SendResult send(Instant now, const IpSendParams& p, std::size_t payload_len,
                  FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept;
  std::optional<Ipv6Address> source_for(const Ipv6Address& dst) const noexcept;
  std::size_t max_payload(const Ipv6Address& dst) const noexcept;
  bool is_local(const Ipv6Address& a) const noexcept;  // one of our usable (PREFERRED/DEPRECATED) addresses

  SendResult send_echo_request(Instant now, const Ipv6Address& dst, std::uint16_t ident, std::uint16_t seq,
                               Bytes data) noexcept;

  // State for users and tests.
  std::optional<AddressState> address_state(const Ipv6Address& a) const noexcept;
  const std::vector<Ipv6InterfaceAddress>& addresses() const noexcept { return addrs_; }
  Ipv6Address link_local() const noexcept { return link_local_; }
  std::vector<Ipv6Address> dns_servers() const;  // RDNSS (RFC 8106), newest first, expired ones removed by poll
  std::optional<Ipv6Address> default_router() const noexcept;
  std::size_t path_mtu(const Ipv6Address& dst) const noexcept;
  std::size_t link_mtu() const noexcept;
  std::uint8_t cur_hop_limit() const noexcept { return hop_limit_; }
  const Ipv6Config& config() const noexcept { return cfg_; }
  const Ipv6Counters& counters() const noexcept { return counters_; }
  const NeighborCache& neighbors() const noexcept { return nc_; }
  const Reassembler6& reassembler() const noexcept { return reasm_; }

 private:
  struct Router {
    Ipv6Address addr;
    Instant expires;
  };
  struct OnLinkPrefix {
    Ipv6Address prefix;
    std::uint8_t len = 64;
    Instant expires;
  };
  struct DnsServer {
    Ipv6Address addr;
    Instant expires;
  };
  struct RedirectEntry {  // RFC 4861 §8.3: the Destination Cache's next hop for one destination
    Ipv6Address dst, next_hop;
    Instant expires;
  };
  struct PmtuEntry {
    Ipv6Address dst;
    std::size_t mtu = 0;
    Instant expires;
  };
  struct NextHop {
    Ipv6Address addr;
    std::optional<MacAddress> multicast_mac;  // set: no resolution
  };
  struct Rx {  // a packet being processed (possibly reassembled)
    Bytes packet;  // from the IPv6 header, trimmed to its payload length
    Ipv6Address src, dst;
    std::uint8_t hop_limit = 0, traffic_class = 0;
    bool l2_multicast = false;
    bool fragmented = false;
    MacAddress eth_src;
    // The entry of a unicast destination in addrs_ (looked up once per packet, valid for the packet's
    // processing: nothing before delivery changes addrs_); null for multicast destinations.
    const Ipv6InterfaceAddress* local = nullptr;
  };

  void start(Instant now) noexcept;
  void process(Instant now, const Rx& rx, const Ipv6Chain& chain) noexcept;
  void on_icmpv6(Instant now, const Rx& rx, Bytes msg, std::optional<std::uint16_t> router_alert) noexcept;
  void on_mld_query(Instant now, const Rx& rx, const Icmpv6View& v, std::optional<std::uint16_t> router_alert) noexcept;
  template <class F>
  void for_each_joined_group(F&& f) const;  // F(const Ipv6Address&): each joined solicited-node group once
  bool is_joined(const Ipv6Address& group) const noexcept;
  void run_mld_timers(Instant now) noexcept;
  bool in_mldv1_mode(Instant now) const noexcept { return mldv1_until_ && now < *mldv1_until_; }
  void end_mldv1_mode_if_due(Instant now) noexcept;
  void on_icmpv6_error(Instant now, const Rx& rx, const Icmpv6Repr& m) noexcept;
  void on_ndp(Instant now, const Rx& rx, const Icmpv6View& v) noexcept;
  void on_ns(Instant now, const Rx& rx, const NeighborSolicitRepr& ns) noexcept;
  void on_redirect(Instant now, const Rx& rx, const RedirectRepr& r) noexcept;
  void on_na(Instant now, const Rx& rx, const NeighborAdvertRepr& na) noexcept;
  void on_ra(Instant now, const Rx& rx, const RouterAdvertRepr& ra) noexcept;
  void on_prefix(Instant now, const PrefixInfo& p) noexcept;
  void send_error(Instant now, Bytes invoking, bool l2_multicast, Icmpv6Repr err) noexcept;

  Ipv6InterfaceAddress* find_addr(const Ipv6Address& a) noexcept;
  const Ipv6InterfaceAddress* find_addr(const Ipv6Address& a) const noexcept;
  bool is_our_group(const Ipv6Address& g) const noexcept;
  std::optional<Ipv6Address> select_source(const Ipv6Address& dst) const noexcept;
  std::optional<NextHop> route(Instant now, const Ipv6Address& dst) const noexcept;
  bool on_link(Instant now, const Ipv6Address& dst) const noexcept;
  void add_address(Instant now, const Ipv6Address& a, std::uint8_t prefix_len, AddressOrigin origin,
                   Instant preferred_until, Instant valid_until) noexcept;
  void mark_duplicate(Ipv6InterfaceAddress& a) noexcept;
  void run_address_timers(Instant now) noexcept;
  void lower_pmtu(Instant now, const Ipv6Address& dst, std::size_t mtu) noexcept;
  void flush_to(Instant now, MacAddress mac, Bytes packet) noexcept;

  // Output. Packets are built at tx_buf_[kEthernetHeaderLen...]; `output` sends the IP packet of `ip_len`
  // there to `nh` (transmits, or queues for resolution).
  SendResult send_from(Instant now, const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t protocol,
                       std::uint8_t hop_limit, std::uint8_t tclass, bool dont_fragment, std::size_t payload_len,
                       FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept;
  SendResult output(Instant now, const NextHop& nh, const Ipv6Address& src, std::size_t ip_len) noexcept;
  bool transmit(Instant now, const MacAddress& dst, Bytes ip_packet) noexcept;
  // NDP / MLD messages: built and sent at once, never queued.
  void send_ndp(Instant now, const Ipv6Address& src, const Ipv6Address& dst, const MacAddress& eth_dst,
                std::size_t len, FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept;
  void send_ns(Instant now, const Ipv6Address& target, std::optional<MacAddress> unicast,
               std::optional<Ipv6Address> src) noexcept;
  void send_dad_ns(Instant now, const Ipv6Address& target) noexcept;
  void send_na(Instant now, const Ipv6Address& target, const Ipv6Address& dst, const MacAddress& eth_dst,
               bool solicited) noexcept;
  void send_rs(Instant now) noexcept;
  void send_mld_report(Instant now, const MldRecord& rec) noexcept;  // a join or leave, and its repeat later
  void send_state_change(Instant now, const MldRecord& rec) noexcept;  // a join or leave, in the current mode
  void send_mldv1(Instant now, Icmpv6Type type, const Ipv6Address& group) noexcept;
  void schedule_mld_group_answer(const Ipv6Address& group, Instant at) noexcept;
  void on_mldv1_report(Instant now, const Rx& rx, const Icmpv6View& v) noexcept;
  void send_mld_records(Instant now, std::span<const MldRecord> recs) noexcept;
  Ipv6Address mld_source() const noexcept;
  // Sends the MLD packet of `len` bytes already built at ndp_buf_[kEth, ...) to `dst`'s multicast MAC.
  void send_mld_frame(Instant now, const Ipv6Address& dst, std::size_t len) noexcept;
  Ipv4Address limiter_key(const Ipv6Address& a) const noexcept;  // the rate limiter is keyed by 4 bytes

  Link& link_;
  Ipv6Config cfg_;
  Rng& rng_;
  const std::array<TransportHandler*, 256>& handlers_;
  EchoReplyQueue& echo_;
  NeighborCache nc_;
  Reassembler6 reasm_;
  IcmpRateLimiter limiter_;
  SipKey limiter_key_{};
  bool started_ = false;
  Ipv6Address link_local_;
  std::vector<Ipv6InterfaceAddress> addrs_;
  std::vector<Router> routers_;
  std::vector<OnLinkPrefix> prefixes_;
  std::vector<DnsServer> dns_;
  std::vector<PmtuEntry> pmtu_;
  std::vector<RedirectEntry> redirects_;
  std::optional<std::size_t> ra_mtu_;
  std::uint8_t hop_limit_;
  unsigned rs_sent_ = 0;
  std::optional<Instant> rs_next_at_;
  // Pending answers to MLDv2 queries (RFC 3810 §6.2): the interface timer of a General Query, and one timer
  // per group asked about by a Multicast Address Specific Query (at most one per joined group).
  std::optional<Instant> mld_general_at_;
  std::vector<std::pair<Ipv6Address, Instant>> mld_group_at_;
  // MLDv1 compatibility mode (RFC 3810 §8.2.1): set while the Older Version Querier Present timer runs, to when
  // it expires. Meanwhile mld_group_at_ holds the MLDv1 per-group report timers (RFC 2710 §4), and
  // mld_general_at_ stays empty.
  std::optional<Instant> mldv1_until_;
  // The one repeat of each State Change Report (RFC 3810 §6.1, RFC 2710 §4), at most one per group.
  std::vector<std::pair<MldRecord, Instant>> mld_retx_;
  bool ra_seen_ = false;
  std::vector<std::byte> tx_buf_;       // Ethernet header + one IPv6 packet
  std::vector<std::byte> payload_buf_;  // a packet's transport bytes before fragmentation
  std::vector<std::byte> ndp_buf_;      // an NDP/MLD frame (sent while tx_buf_ may hold a queued packet)
  std::vector<std::byte> quote_buf_;    // an error's quote, copied before the reply is built
  Ipv6Counters counters_;
};

}  // namespace tapstack::ip
