// ip::Interface: one Ethernet interface with one IPv4 address — Ethernet, ARP (with ArpCache), IPv4 (with
// Reassembler and fragmentation on send) and ICMPv4 (echo, errors in both directions). It sits between a
// Link (below) and the transports (above): received frames go up to TransportHandler::on_packet by protocol;
// transports send down through the IpSender this class implements. Sans-I/O in time: every call takes `now`.
// IPv6 (EtherType 0x86dd, IpSender calls for IPv6 destinations) is delegated to ip::Ipv6Engine, whose header
// documents its policy (addresses with DAD/SLAAC, NDP, MLD joins, ICMPv6, fragmentation, path MTU).
//
// Usage (one stack loop owns it; nothing here is thread-safe):
//   Interface iface{link, {.mac = mac, .ipv4 = Ipv4Cidr{addr, 24}, .gateway4 = gw}, rng};
//   iface.register_transport(IpProtocol::kUdp, udp);
//   loop { iface.poll(now); sleep until min(iface.poll_at(), link readable); }
//
// Receive policy (RFC 1122 §3.2.1, CONFORMANCE §2): frames to our MAC or broadcast, or IPv6 frames to the
// 33:33 MAC of a group the IPv6 engine joined (other multicast is dropped); ARP per ip/arp.hpp plus learning
// rules in ArpCache; IPv4 header checked by Ipv4View::parse (version, IHL, lengths, checksum, options, no
// source routing); sources that are broadcast, multicast, loopback, 0/8, our own or the subnet broadcast are
// dropped (no DHCP server here, so there is no exception for 0.0.0.0); destinations must be our address,
// 255.255.255.255 or the subnet broadcast (IP multicast is dropped); a unicast datagram received in a
// link-layer broadcast is dropped (RFC 1122 §3.3.6). Fragments go through the Reassembler. No forwarding.
//
// ICMP: echo requests to our address are answered with the same identifier, sequence and data (RFC 1122
// §3.2.2.6; a reply needing fragmentation is fragmented); echo requests to a broadcast address are not
// answered (Smurf amplification; RFC 1122 §3.2.2.6 makes it optional). Errors received are matched to the
// transport through the quoted header (RFC 1122 §3.2.2.1; quotes whose source is not ours or that quote a
// non-initial fragment are dropped). Errors sent: protocol unreachable for an unregistered protocol and port
// unreachable when a transport says so; never about an ICMP error, a broadcast/multicast (IP or link layer),
// a non-initial fragment or a bad source (RFC 1122 §3.2.2); rate-limited per destination and globally with
// randomness (ip/icmp_rate_limit.hpp). The quote is the offending header plus up to 548 bytes (RFC 1812
// §4.3.2.3). Not sent: reassembly time exceeded, host unreachable on ARP failure (both MAY).
//
// Send policy (IpSender): on-link when the destination is in our prefix, else through gateway4, else
// kNoRoute; 255.255.255.255 and the subnet broadcast go to ff:ff:ff:ff:ff:ff; sending to our own address is
// kNoRoute (no loopback device). Unresolved next hops queue the packet in the ArpCache (kQueued) and send one
// ARP request. IP IDs come from a keyed hash of (src, dst, protocol) plus a per-bucket counter advanced by a
// random step (RFC 7739 §5.4, RFC 6864). Datagrams larger than the link MTU are fragmented into 8-byte
// aligned pieces unless DF is set (then kTooBig). Frames are built in place in a reusable buffer; steady
// state sends allocate nothing. Sending is not reentrant from inside a `fill` callback.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ip/address.hpp"
#include "ip/arp_cache.hpp"
#include "ip/echo_reply.hpp"
#include "ip/icmp_rate_limit.hpp"
#include "ip/ipv6_engine.hpp"
#include "ip/reassembly.hpp"
#include "ip/slaac.hpp"
#include "ip/transport.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "stack/link.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

struct InterfaceConfig {
  MacAddress mac;
  std::optional<Ipv4Cidr> ipv4;          // unset: ARP and IPv4 input are dropped, every send is kNoRoute
  std::optional<Ipv4Address> gateway4;   // must be on-link to be used
  std::uint8_t default_ttl = 64;         // for ICMP messages and sends asking for TTL 0 (RFC 1122 §3.2.1.7)
  std::size_t rx_batch = 64;             // frames one poll() takes from the link
  // ... and bytes: a poll() stops reading once it has taken this much, so that what the frames call for (ACKs,
  // window updates) goes out at least this often. 64 frames of 1514 bytes stay below it; 64 TSO frames of
  // 64 KiB from a TAP (4 MiB, a whole receive window) would not.
  std::size_t rx_batch_bytes = 256 * 1024;
  std::size_t echo_reply_queue = 64;     // received echo replies kept for pop_echo_reply()
  ArpCacheConfig arp{};
  ReassemblyConfig reassembly{};
  IcmpRateLimitConfig icmp_rate{};
  // IPv6 (ip/ipv6_engine.hpp): the link-local address from the MAC (modified EUI-64) whenever it is on. On by
  // default (RFC 8504 §5: IPv6 nodes); IPv4-only fixtures that count every frame and timer turn it off.
  bool ipv6 = true;
  std::vector<Ipv6Cidr> ipv6_addresses;  // static addresses; their prefixes are on-link; DAD runs for each
  std::optional<Ipv6Address> gateway6;   // default router when no Router Advertisement gave one
  bool slaac = true;                     // addresses from RA prefixes with the A flag (RFC 4862 §5.5.3)
  unsigned dad_transmits = 1;            // DupAddrDetectTransmits (RFC 4862 §5.1); 0 skips DAD
  unsigned router_solicitations = 3;     // MAX_RTR_SOLICITATIONS (RFC 4861 §10)
  Duration max_dad_delay = seconds(1);   // random delay before joining/DAD at start (RFC 4862 §5.4.2)
  // An MLDv1 querier on the link puts the interface in MLDv1 compatibility mode (RFC 3810 §8.2.1). false: MLDv2
  // only, MLDv1 queries counted and ignored (RFC 3810 §10.1: a forged MLDv1 query cannot switch the mode).
  bool mldv1_compat = true;
  // RFC 4861 §8.3: a Redirect from a destination's current first-hop router changes that destination's next
  // hop. false: Redirects are counted and ignored.
  bool accept_redirects6 = true;
  // RFC 1122 §3.2.2.2: an ICMP Redirect from the gateway we use for a destination makes its gateway the next hop
  // for that destination (every code is taken as a host redirect, RFC 1812 §5.2.7.2); at most 64 destinations,
  // each for 10 minutes. false: counted and ignored.
  bool accept_redirects4 = true;
  NeighborCacheConfig ndp{};
  Reassembly6Config reassembly6{};
};

// Named after what happened; every dropped frame bumps exactly one drop_* counter (of this struct, or of
// the ArpCache / Reassembler for packets they refuse).
#define TAPSTACK_INTERFACE_COUNTERS(X)                                                                       \
  X(rx_frames) X(drop_eth_short) X(drop_not_our_mac) X(drop_eth_multicast) X(drop_eth_bad_source)         \
  X(drop_unknown_ethertype) X(drop_no_address)                                                            \
  X(arp_rx) X(drop_arp_invalid) X(drop_arp_bad_sender) X(drop_arp_conflict) X(arp_not_for_us)             \
  X(arp_requests_sent) X(arp_replies_sent)                                                                \
  X(ipv4_rx) X(drop_ipv4_bad_header) X(drop_ipv4_bad_checksum) X(drop_ipv4_bad_options)                   \
  X(drop_ipv4_bad_source) X(drop_ipv4_multicast) X(drop_ipv4_l2_broadcast) X(drop_not_for_us)             \
  X(ipv4_fragments_rx) X(ipv4_reassembled) X(ipv4_delivered) X(drop_unknown_protocol) X(rx_port_unreachable) \
  X(icmp_rx) X(drop_icmp_truncated) X(drop_icmp_bad_checksum) X(drop_icmp_unsupported) X(drop_icmp_bad_quote) \
  X(drop_icmp_error_broadcast) X(drop_icmp_error_not_ours) X(drop_icmp_error_no_transport)                 \
  X(icmp_errors_rx) X(icmp_errors_delivered) X(icmp_echo_requests_rx) X(icmp_echo_replies_sent)            \
  X(drop_icmp_echo_broadcast) X(icmp_echo_replies_rx) X(drop_echo_reply_queue_full) X(icmp_echo_requests_sent) \
  X(icmp_errors_sent) X(icmp_rate_limited) X(icmp_error_suppressed)                                       \
  X(tx_packets) X(tx_frames) X(tx_fragments) X(tx_queued_arp) X(drop_tx_no_route) X(drop_tx_too_big)      \
  X(drop_tx_link) X(drop_tx_arp_queue)                                                                    \
  X(icmp_redirects_accepted) X(icmp_redirects_ignored) X(drop_icmp_redirect_invalid) X(redirects4_expired)
TAPSTACK_DEFINE_COUNTERS(InterfaceCounters, TAPSTACK_INTERFACE_COUNTERS)

class Interface final : public IpSender {
 public:
  // `link` and `rng` must outlive the interface. Throws std::invalid_argument for a config that cannot work
  // (e.g. an IPv4 prefix length over 32).
  Interface(Link& link, InterfaceConfig cfg, Rng& rng);
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  // Hands packets of `proto` to `handler` (which must outlive the interface); replaces an earlier handler.
  // ICMP is handled here and cannot be registered (throws std::invalid_argument).
  void register_transport(IpProtocol proto, TransportHandler& handler);

  // Processes one received Ethernet frame (borrowed for the call).
  void on_frame(Instant now, Bytes frame) noexcept;
  // Receives up to rx_batch ready frames from the link and processes them, runs the ARP and reassembly
  // timers, then lets every transport send what is due. Returns the number of frames processed.
  std::size_t poll(Instant now) noexcept;
  // The earliest of the ARP, reassembly and transport timers and the link's next scheduled arrival.
  std::optional<Instant> poll_at() const noexcept;

  // ICMP / ICMPv6 echo (ping) client; replies of both families come out of one queue (EchoReply::from).
  SendResult send_echo_request(Instant now, Ipv4Address dst, std::uint16_t ident, std::uint16_t seq, Bytes data) noexcept;
  SendResult send_echo_request6(Instant now, const Ipv6Address& dst, std::uint16_t ident, std::uint16_t seq,
                                Bytes data) noexcept;
  std::optional<EchoReply> pop_echo_reply() noexcept;

  // IPv6 state: an address's DAD/lifetime state (nullopt: not ours), the RDNSS servers (RFC 8106) for the
  // resolver, and the engine itself (addresses, routers, neighbour cache, counters).
  std::optional<AddressState> address_state(const Ipv6Address& a) const noexcept { return v6_.address_state(a); }
  std::vector<Ipv6Address> dns_servers6() const { return v6_.dns_servers(); }
  const Ipv6Engine& ipv6() const noexcept { return v6_; }
  const Ipv6Counters& ipv6_counters() const noexcept { return v6_.counters(); }

  // IpSender.
  SendResult send(Instant now, const IpSendParams& p, std::size_t payload_len,
                  FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept override;
  std::optional<IpAddress> source_for(const IpAddress& dst) const noexcept override;
  std::size_t max_payload(const IpAddress& dst) const noexcept override;
  bool is_local(const IpAddress& a) const noexcept override;

  const InterfaceConfig& config() const noexcept { return cfg_; }
  const InterfaceCounters& counters() const noexcept { return counters_; }
  const ArpCache& arp_cache() const noexcept { return arp_; }
  const Reassembler& reassembler() const noexcept { return reasm_; }

 private:
  struct Route {
    Ipv4Address next_hop;
    bool broadcast = false;  // link-layer broadcast, no resolution
  };
  // What an incoming datagram looked like, for delivery and for quoting in ICMP errors.
  struct RxDatagram {
    IpPacketInfo info;
    Ipv4Address src, dst;
    bool l2_broadcast = false;
    bool dst_broadcast = false;
    Bytes header;   // the (first fragment's) IPv4 header
    Bytes payload;  // the whole payload (reassembled if it was fragmented)
  };

  void on_arp(Instant now, Bytes payload, bool l2_broadcast) noexcept;
  void on_ipv4(Instant now, Bytes payload, bool l2_broadcast) noexcept;
  void deliver(Instant now, const RxDatagram& d) noexcept;
  void on_icmp(Instant now, const RxDatagram& d) noexcept;
  void on_icmp_redirect(Instant now, const RxDatagram& d, Ipv4Address gateway, Bytes quote) noexcept;
  void send_icmp_error(Instant now, const RxDatagram& d, std::uint8_t type, std::uint8_t code) noexcept;

  std::optional<Route> route(Ipv4Address dst) const noexcept;
  bool is_bad_source(Ipv4Address a) const noexcept;
  // The subnet's directed broadcast (RFC 919; none for /31 and /32): compared on every frame, so precomputed.
  bool is_our_broadcast(Ipv4Address a) const noexcept { return has_subnet_bcast_ && a.to_u32() == subnet_bcast_; }
  std::uint16_t next_ident(Ipv4Address src, Ipv4Address dst, std::uint8_t proto) noexcept;
  // Sends the IP packet at tx_buf_[kEthernetHeaderLen, +len) toward `r`: transmits, or queues for ARP.
  SendResult output(Instant now, const Route& r, std::size_t ip_len) noexcept;
  // The same for the whole frame in `frame` (Ethernet header room + IP packet): tx_buf_, or the buffer the link
  // lent (`lent`, Link::lend_tx), which is then sent without a copy.
  SendResult output(Instant now, const Route& r, MutableBytes frame, bool lent) noexcept;
  bool transmit_frame(Instant now, MacAddress dst, std::size_t ip_len) noexcept;  // eth header + tx_buf_
  bool transmit_frame(Instant now, MacAddress dst, MutableBytes frame, bool lent) noexcept;
  void send_arp(Instant now, std::uint16_t op, MacAddress eth_dst, MacAddress target_mac, Ipv4Address target_ip) noexcept;

  Link& link_;
  InterfaceConfig cfg_;
  bool has_subnet_bcast_ = false;  // cfg_.ipv4 with a prefix shorter than /31
  std::uint32_t subnet_bcast_ = 0;
  Rng& rng_;
  ArpCache arp_;
  Reassembler reasm_;
  struct Redirect4 {  // RFC 1122 §3.2.2.2: a destination's first hop, learned from an ICMP Redirect
    Ipv4Address dst, gateway;
    Instant expires;
  };
  static constexpr std::size_t kMaxRedirects4 = 64;  // (see InterfaceConfig::accept_redirects4)
  static constexpr Duration kRedirect4Timeout = seconds(600);
  std::vector<Redirect4> redirects4_;
  IcmpRateLimiter icmp_limiter_;
  std::array<TransportHandler*, 256> handlers_{};
  std::vector<TransportHandler*> handler_list_;  // registration order, for poll()
  std::vector<std::byte> rx_buf_;       // one received frame
  std::vector<std::byte> tx_buf_;       // one frame being built: Ethernet header + IP packet
  std::vector<std::byte> payload_buf_;  // a datagram's transport bytes before fragmentation
  std::array<std::byte, 576> quote_buf_{};  // an ICMP error's quote of a reassembled datagram
  SipKey ident_key_{};
  std::array<std::uint16_t, 256> ident_counters_{};
  // The keyed hash of the last (src, dst, protocol) next_ident() saw: a bulk flow hashes once, not per packet.
  struct IdentMemo {
    std::uint64_t addrs = 0;
    std::uint8_t proto = 0;
    bool valid = false;
    std::uint64_t hash = 0;
  } ident_memo_;
  EchoReplyQueue echo_;  // cfg_.echo_reply_queue replies of either family
  InterfaceCounters counters_;
  Ipv6Engine v6_;  // after handlers_ and echo_, which it references
};

}  // namespace tapstack::ip
