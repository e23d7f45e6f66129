// ip::Interface: the receive path (Ethernet -> ARP | IPv4 -> reassembly -> ICMP | transport) and the send
// path (route -> IPv4 header -> fragment -> ARP resolve or queue -> link). Policy is documented in the header.
#include "ip/interface.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ip/arp.hpp"
#include "ip/ethernet.hpp"
#include "ip/expiring.hpp"
#include "ip/icmpv4.hpp"
#include "ip/ipv4.hpp"

namespace tapstack::ip {

namespace {
constexpr std::size_t kEth = kEthernetHeaderLen;

// RFC 1122 §3.2.2.1 and §4.2.3.9: which unreachable codes are hard errors for a transport.
IcmpErrorInfo::Kind unreachable_kind(std::uint8_t code) noexcept {
  using K = IcmpErrorInfo::Kind;
  switch (Icmpv4Unreachable(code)) {
    case Icmpv4Unreachable::kNet: case Icmpv4Unreachable::kNetUnknown: case Icmpv4Unreachable::kNetTos:
      return K::kNetUnreachable;
    case Icmpv4Unreachable::kHost: case Icmpv4Unreachable::kHostUnknown: case Icmpv4Unreachable::kHostTos:
    case Icmpv4Unreachable::kSourceHostIsolated:
      return K::kHostUnreachable;
    case Icmpv4Unreachable::kProtocol: return K::kProtocolUnreachable;
    case Icmpv4Unreachable::kPort: return K::kPortUnreachable;
    case Icmpv4Unreachable::kFragNeeded: return K::kFragNeeded;
    case Icmpv4Unreachable::kNetProhibited: case Icmpv4Unreachable::kHostProhibited:
    case Icmpv4Unreachable::kAdminProhibited: case Icmpv4Unreachable::kHostPrecedence:
    case Icmpv4Unreachable::kPrecedenceCutoff:
      return K::kAdminProhibited;
    default:
      return K::kOther;
  }
}
}  // namespace

Interface::Interface(Link& link, InterfaceConfig cfg, Rng& rng)
    : link_{link},
      cfg_{cfg},
      rng_{rng},
      arp_{cfg.arp},
      reasm_{cfg.reassembly},
      icmp_limiter_{cfg.icmp_rate},
      rx_buf_(kMaxFrameSize),
      tx_buf_(kEth + kIpv4MaxPacketLen),
      payload_buf_(kIpv4MaxPayloadLen),
      ident_key_{SipKey::random(rng)},
      echo_{cfg.echo_reply_queue},
      v6_{link,
          Ipv6Config{.mac = cfg.mac,
                     .enabled = cfg.ipv6,
                     .addresses = cfg.ipv6_addresses,
                     .gateway = cfg.gateway6,
                     .slaac = cfg.slaac,
                     .dad_transmits = cfg.dad_transmits,
                     .router_solicitations = cfg.router_solicitations,
                     .max_dad_delay = cfg.max_dad_delay,
                     .mldv1_compat = cfg.mldv1_compat,
                     .hop_limit = cfg.default_ttl == 0 ? std::uint8_t{64} : cfg.default_ttl,
                     .accept_redirects = cfg.accept_redirects6,
                     .echo_reply_queue = cfg.echo_reply_queue,
                     .ndp = cfg.ndp,
                     .reassembly = cfg.reassembly6,
                     .icmp_rate = cfg.icmp_rate},
          rng, handlers_, echo_} {
  if (cfg_.ipv4 && cfg_.ipv4->prefix_len > 32) throw std::invalid_argument("ip::Interface: IPv4 prefix length > 32");
  if (cfg_.mac.is_multicast()) throw std::invalid_argument("ip::Interface: the interface MAC must be unicast");
  if (cfg_.default_ttl == 0) cfg_.default_ttl = 64;
  redirects4_.reserve(kMaxRedirects4);  // put_expiring never allocates
  if (cfg_.ipv4 && cfg_.ipv4->prefix_len < 31) {
    has_subnet_bcast_ = true;
    subnet_bcast_ = cfg_.ipv4->subnet_broadcast().to_u32();
  }
  if (cfg_.rx_batch == 0) cfg_.rx_batch = 1;
  for (auto& c : ident_counters_) c = std::uint16_t(rng_.next_u32());
  handler_list_.reserve(8);
}

void Interface::register_transport(IpProtocol proto, TransportHandler& handler) {
  if (proto == IpProtocol::kIcmp) throw std::invalid_argument("ip::Interface: ICMP is handled by the interface");
  handlers_[std::size_t(proto)] = &handler;
  handler_list_.clear();  // each distinct handler once, polled in protocol order
  for (TransportHandler* h : handlers_)
    if (h != nullptr && std::find(handler_list_.begin(), handler_list_.end(), h) == handler_list_.end())
      handler_list_.push_back(h);
}

// ---------------------------------------------------------------------------------------------------
// Receive

void Interface::on_frame(Instant now, Bytes frame) noexcept {
  ++counters_.rx_frames;
  auto eth = EthernetView::parse(frame);
  if (!eth) {
    ++counters_.drop_eth_short;
    return;
  }
  const MacAddress dst = eth->dst();
  const bool l2_broadcast = dst.is_broadcast();
  // IPv6 multicast frames are taken for the groups the IPv6 engine joined (RFC 2464 §7); others are dropped.
  const bool l2_v6_multicast =
      !l2_broadcast && dst.is_multicast() && eth->ethertype() == EtherType::kIpv6 && v6_.accepts_multicast_mac(dst);
  if (!l2_broadcast && dst != cfg_.mac && !l2_v6_multicast) {
    if (dst.is_multicast()) ++counters_.drop_eth_multicast;
    else ++counters_.drop_not_our_mac;
    return;
  }
  if (eth->src().is_multicast()) {  // IEEE 802: a source address is never a group address
    ++counters_.drop_eth_bad_source;
    return;
  }
  switch (eth->ethertype()) {
    case EtherType::kArp: on_arp(now, eth->payload(), l2_broadcast); break;
    case EtherType::kIpv4: on_ipv4(now, eth->payload(), l2_broadcast); break;
    case EtherType::kIpv6:
      if (cfg_.ipv6) v6_.on_packet(now, eth->payload(), eth->src(), l2_broadcast || l2_v6_multicast);
      else ++counters_.drop_unknown_ethertype;  // IPv6 switched off: as if the stack did not speak it
      break;
    default: ++counters_.drop_unknown_ethertype; break;  // VLAN tags, 802.3 lengths: not supported
  }
}

void Interface::on_arp(Instant now, Bytes payload, bool) noexcept {
  ++counters_.arp_rx;
  auto view = ArpView::parse(payload);
  if (!view) {  // htype/ptype/hlen/plen/op or length: CONFORMANCE §2
    ++counters_.drop_arp_invalid;
    return;
  }
  if (!cfg_.ipv4) {
    ++counters_.drop_no_address;
    return;
  }
  const ArpRepr arp = ArpRepr::parse(*view);
  const Ipv4Address ours = cfg_.ipv4->address;
  if (arp.sender_mac.is_multicast() || arp.sender_mac.is_unspecified() || arp.sender_ip.is_broadcast() ||
      arp.sender_ip.is_multicast() || arp.sender_ip.is_loopback() || is_our_broadcast(arp.sender_ip)) {
    ++counters_.drop_arp_bad_sender;
    return;
  }
  if (arp.sender_ip == ours) {  // someone else claims our address: do not learn our own IP as theirs
    ++counters_.drop_arp_conflict;
    return;
  }
  const bool targeted = arp.target_ip == ours;
  // RFC 5227 §2.1.1: a probe has sender IP 0.0.0.0; nothing to learn, but a probe for our address is
  // answered (that is how the prober detects the conflict).
  if (!arp.sender_ip.is_unspecified()) {
    arp_.learn(now, arp.sender_ip, arp.sender_mac, targeted, [&](MacAddress mac, Bytes packet) {
      std::memcpy(tx_buf_.data() + kEth, packet.data(), packet.size());
      transmit_frame(now, mac, packet.size());
    });
  }
  if (!targeted) {
    ++counters_.arp_not_for_us;
    return;
  }
  if (arp.op == ArpOp::kRequest) {
    const ArpRepr reply = ArpRepr::reply_to(arp, cfg_.mac);
    send_arp(now, std::uint16_t(ArpOp::kReply), arp.sender_mac, reply.target_mac, reply.target_ip);
    ++counters_.arp_replies_sent;
  }
}

bool Interface::is_bad_source(Ipv4Address a) const noexcept {
  return a.is_broadcast() || a.is_multicast() || a.is_loopback() || a.octets[0] == 0 ||  // 0/8: "this network"
         (a.octets[0] & 0xf0) == 0xf0 ||                                                   // 240/4 reserved
         (cfg_.ipv4 && (a == cfg_.ipv4->address || is_our_broadcast(a)));
}

void Interface::on_ipv4(Instant now, Bytes payload, bool l2_broadcast) noexcept {
  ++counters_.ipv4_rx;
  Ipv4Error why{};
  auto v = Ipv4View::parse(payload, &why);
  if (!v) {
    if (why == Ipv4Error::kBadChecksum) ++counters_.drop_ipv4_bad_checksum;
    else if (why == Ipv4Error::kBadOptions || why == Ipv4Error::kSourceRoute) ++counters_.drop_ipv4_bad_options;
    else ++counters_.drop_ipv4_bad_header;
    return;
  }
  if (!cfg_.ipv4) {
    ++counters_.drop_no_address;
    return;
  }
  const Ipv4Address src = v->src(), dst = v->dst();
  if (is_bad_source(src)) {
    ++counters_.drop_ipv4_bad_source;
    return;
  }
  const bool dst_broadcast = dst.is_broadcast() || is_our_broadcast(dst);
  if (dst.is_multicast()) {
    ++counters_.drop_ipv4_multicast;
    return;
  }
  if (dst != cfg_.ipv4->address && !dst_broadcast) {
    ++counters_.drop_not_for_us;  // no forwarding
    return;
  }
  if (l2_broadcast && !dst_broadcast) {  // RFC 1122 §3.3.6
    ++counters_.drop_ipv4_l2_broadcast;
    return;
  }

  RxDatagram d;
  d.src = src;
  d.dst = dst;
  d.l2_broadcast = l2_broadcast;
  d.dst_broadcast = dst_broadcast;
  d.info.src = src;
  d.info.dst = dst;
  d.info.protocol = v->protocol();
  d.info.ttl = v->ttl();
  d.info.tos = v->tos();
  d.info.dst_broadcast = dst_broadcast;
  d.header = v->header();
  d.payload = v->payload();
  if (v->is_fragment()) {
    ++counters_.ipv4_fragments_rx;
    Fragment f;
    f.key = {src, dst, v->protocol(), v->ident()};
    f.offset = v->frag_offset();
    f.more_fragments = v->more_fragments();
    f.ttl = v->ttl();
    f.tos = v->tos();
    f.header = v->header();
    f.payload = v->payload();
    auto whole = reasm_.add(now, f);
    if (!whole) return;  // waiting for more, or dropped (counted by the reassembler)
    ++counters_.ipv4_reassembled;
    d.header = whole->header;
    d.payload = whole->payload;
    d.info.ttl = whole->ttl;
    d.info.tos = whole->tos;
  }
  deliver(now, d);
}

void Interface::deliver(Instant now, const RxDatagram& d) noexcept {
  if (d.info.protocol == std::uint8_t(IpProtocol::kIcmp)) {
    on_icmp(now, d);
    return;
  }
  TransportHandler* h = handlers_[d.info.protocol];
  if (h == nullptr) {
    ++counters_.drop_unknown_protocol;
    send_icmp_error(now, d, std::uint8_t(Icmpv4Type::kDestUnreachable), std::uint8_t(Icmpv4Unreachable::kProtocol));
    return;
  }
  ++counters_.ipv4_delivered;
  if (h->on_packet(now, d.info, d.payload) == TransportHandler::Verdict::kPortUnreachable) {
    ++counters_.rx_port_unreachable;
    send_icmp_error(now, d, std::uint8_t(Icmpv4Type::kDestUnreachable), std::uint8_t(Icmpv4Unreachable::kPort));
  }
}

void Interface::on_icmp(Instant now, const RxDatagram& d) noexcept {
  ++counters_.icmp_rx;
  Icmpv4Error why{};
  auto view = Icmpv4View::parse(d.payload, &why);
  if (!view) {
    if (why == Icmpv4Error::kBadChecksum) ++counters_.drop_icmp_bad_checksum;
    else ++counters_.drop_icmp_truncated;
    return;
  }
  auto msg = Icmpv4Repr::parse(*view, &why);
  if (!msg) {
    if (why == Icmpv4Error::kBadQuote) ++counters_.drop_icmp_bad_quote;
    else ++counters_.drop_icmp_unsupported;  // RFC 1122 §3.2.2: unknown types are silently discarded
    return;
  }
  switch (msg->type) {
    case Icmpv4Type::kEchoRequest: {
      ++counters_.icmp_echo_requests_rx;
      if (d.dst_broadcast || d.l2_broadcast) {
        ++counters_.drop_icmp_echo_broadcast;
        return;
      }
      const Icmpv4Repr reply = Icmpv4Repr::echo_reply_to(*msg);
      IpSendParams p;
      p.dst = d.src;
      p.src = d.dst;  // RFC 1122 §3.2.2.6: from the address the request was sent to
      p.protocol = std::uint8_t(IpProtocol::kIcmp);
      p.ttl = cfg_.default_ttl;
      p.tos = d.info.tos & 0xfc;  // same DSCP, no ECN
      const SendResult r = send(now, p, reply.buffer_len(), [&](MutableBytes out, const PseudoHeader&) { reply.emit(out); });
      if (r == SendResult::kSent || r == SendResult::kQueued) ++counters_.icmp_echo_replies_sent;
      return;
    }
    case Icmpv4Type::kEchoReply: {
      ++counters_.icmp_echo_replies_rx;
      if (!echo_.push(EchoReply{d.src, msg->ident, msg->seq, d.info.ttl, msg->data.size(), now}))
        ++counters_.drop_echo_reply_queue_full;
      return;
    }
    case Icmpv4Type::kDestUnreachable:
    case Icmpv4Type::kTimeExceeded:
    case Icmpv4Type::kParameterProblem:
      break;
    case Icmpv4Type::kRedirect:
      on_icmp_redirect(now, d, msg->gateway, msg->data);
      return;
    default:
      ++counters_.drop_icmp_unsupported;
      return;
  }

  // An error about something we sent (RFC 1122 §3.2.2.1): find the transport by the quoted header.
  ++counters_.icmp_errors_rx;
  if (d.dst_broadcast || d.l2_broadcast) {
    ++counters_.drop_icmp_error_broadcast;
    return;
  }
  auto quote = parse_icmpv4_quote(msg->data);
  if (!quote || quote->frag_offset != 0) {  // a non-initial fragment's quote carries no transport header
    ++counters_.drop_icmp_bad_quote;
    return;
  }
  if (!is_local(quote->src)) {
    ++counters_.drop_icmp_error_not_ours;
    return;
  }
  IcmpErrorInfo info;
  info.reporter = d.src;
  info.orig_src = quote->src;
  info.orig_dst = quote->dst;
  info.protocol = quote->protocol;
  if (msg->type == Icmpv4Type::kDestUnreachable) {
    info.kind = unreachable_kind(msg->code);
    info.hard = info.kind == IcmpErrorInfo::Kind::kPortUnreachable || info.kind == IcmpErrorInfo::Kind::kProtocolUnreachable;
    info.next_hop_mtu = msg->next_hop_mtu;
  } else if (msg->type == Icmpv4Type::kTimeExceeded) {
    info.kind = IcmpErrorInfo::Kind::kTimeExceeded;
  } else {
    info.kind = IcmpErrorInfo::Kind::kParameterProblem;
  }
  TransportHandler* h = handlers_[quote->protocol];
  if (h == nullptr) {  // including errors about our echo requests: the ping client has no error channel
    ++counters_.drop_icmp_error_no_transport;
    return;
  }
  ++counters_.icmp_errors_delivered;
  h->on_icmp_error(now, info, quote->transport);
}

// RFC 1122 §3.2.2.2: a gateway tells us a better first hop for a destination we sent to. Taken only when it is
// about a datagram we sent, from the gateway we use for that destination now, and names a gateway on our own
// network (not us, not a broadcast); otherwise anyone could divert our traffic. Every code counts as a host
// redirect (RFC 1812 §5.2.7.2: routers should send no network redirects; Linux does the same).
void Interface::on_icmp_redirect(Instant now, const RxDatagram& d, Ipv4Address gw, Bytes quoted) noexcept {
  if (!cfg_.accept_redirects4) {
    ++counters_.icmp_redirects_ignored;
    return;
  }
  const auto quote = parse_icmpv4_quote(quoted);
  const std::optional<Route> current = quote ? route(quote->dst) : std::nullopt;
  const bool from_our_gateway = !d.dst_broadcast && !d.l2_broadcast && quote &&
                                 quote->src == cfg_.ipv4->address && current && !current->broadcast &&
                                 current->next_hop != quote->dst && current->next_hop == d.src;
  const bool host_on_our_network = cfg_.ipv4->contains(gw) && gw != cfg_.ipv4->address && !is_our_broadcast(gw) &&
                                   !gw.is_broadcast() && (gw.to_u32() & ~cfg_.ipv4->netmask()) != 0;
  const bool valid = from_our_gateway && host_on_our_network && gw != current->next_hop;
  if (!valid) {
    ++counters_.drop_icmp_redirect_invalid;
    return;
  }
  ++counters_.icmp_redirects_accepted;
  const Ipv4Address dst = quote->dst;
  put_expiring(redirects4_, kMaxRedirects4, Redirect4{dst, gw, now + kRedirect4Timeout},
               [&](const Redirect4& e) { return e.dst == dst; });
}

void Interface::send_icmp_error(Instant now, const RxDatagram& d, std::uint8_t type, std::uint8_t code) noexcept {
  // RFC 1122 §3.2.2: never about an ICMP error, a broadcast or multicast, a non-initial fragment (the
  // reassembled datagram is whole: it is about its first fragment) or a source that is not one host.
  const bool about_icmp_error = d.info.protocol == std::uint8_t(IpProtocol::kIcmp) &&
                                (d.payload.empty() || icmpv4_is_error(load_u8(d.payload, 0)));
  if (about_icmp_error || d.dst_broadcast || d.l2_broadcast || is_bad_source(d.src) || d.src.is_unspecified()) {
    ++counters_.icmp_error_suppressed;
    return;
  }
  if (!icmp_limiter_.allow(now, d.src, rng_)) {
    ++counters_.icmp_rate_limited;
    return;
  }
  // The quote: the offending header and as much of its payload as fits 576 bytes (RFC 1812 §4.3.2.3).
  const std::size_t hl = std::min(d.header.size(), kIpv4MaxHeaderLen);
  const std::size_t pl = std::min(d.payload.size(), kIcmpv4MaxQuoteLen - hl);
  std::memcpy(quote_buf_.data(), d.header.data(), hl);
  if (pl != 0) std::memcpy(quote_buf_.data() + hl, d.payload.data(), pl);
  Icmpv4Repr err;
  err.type = Icmpv4Type(type);
  err.code = code;
  err.data = Bytes{quote_buf_.data(), hl + pl};
  IpSendParams p;
  p.dst = d.src;
  p.src = cfg_.ipv4->address;
  p.protocol = std::uint8_t(IpProtocol::kIcmp);
  p.ttl = cfg_.default_ttl;
  const SendResult r = send(now, p, err.buffer_len(), [&](MutableBytes out, const PseudoHeader&) { err.emit(out); });
  if (r == SendResult::kSent || r == SendResult::kQueued) ++counters_.icmp_errors_sent;
}

// ---------------------------------------------------------------------------------------------------
// Timers

std::size_t Interface::poll(Instant now) noexcept {
  // Everything this call emits (ACKs for the frames read, the transports' bursts) is one batch for the link.
  link_.begin_batch();
  std::size_t n = 0, bytes = 0;
  while (n < cfg_.rx_batch && bytes < cfg_.rx_batch_bytes) {
    const std::optional<Bytes> frame = link_.receive_borrowed(now, MutableBytes{rx_buf_});
    if (!frame) break;
    bytes += frame->size();
    on_frame(now, *frame);
    ++n;
  }
  arp_.poll(now, [&](Ipv4Address ip) {
    send_arp(now, std::uint16_t(ArpOp::kRequest), MacAddress::broadcast(), MacAddress{}, ip);
  });
  reasm_.poll(now);
  counters_.redirects4_expired += std::erase_if(redirects4_, [&](const Redirect4& e) { return e.expires <= now; });
  v6_.poll(now);
  for (TransportHandler* h : handler_list_) h->poll(now, *this);
  link_.end_batch(now);
  return n;
}

std::optional<Instant> Interface::poll_at() const noexcept {
  std::optional<Instant> at;
  auto take = [&](std::optional<Instant> t) {
    if (t && (!at || *t < *at)) at = t;
  };
  take(arp_.poll_at());
  for (const auto& e : redirects4_) take(e.expires);
  take(reasm_.poll_at());
  take(v6_.poll_at());
  for (const TransportHandler* h : handler_list_) take(h->poll_at());
  take(link_.next_arrival());
  return at;
}

// ---------------------------------------------------------------------------------------------------
// Send

std::optional<IpAddress> Interface::source_for(const IpAddress& dst) const noexcept {
  if (dst.is_v6()) {
    if (auto s = v6_.source_for(dst.v6())) return IpAddress{*s};
    return std::nullopt;
  }
  if (!dst.is_v4() || !route(dst.v4())) return std::nullopt;
  return IpAddress{cfg_.ipv4->address};
}

std::size_t Interface::max_payload(const IpAddress& dst) const noexcept {
  if (dst.is_v6()) return v6_.max_payload(dst.v6());
  const std::size_t mtu = std::min(link_.mtu(), kIpv4MaxPacketLen);
  return mtu > kIpv4MinHeaderLen ? mtu - kIpv4MinHeaderLen : 0;
}

bool Interface::is_local(const IpAddress& a) const noexcept {
  if (a.is_v6()) return v6_.is_local(a.v6());
  return a.is_v4() && cfg_.ipv4 && a.v4() == cfg_.ipv4->address;
}

std::optional<Interface::Route> Interface::route(Ipv4Address dst) const noexcept {
  if (!cfg_.ipv4) return std::nullopt;
  if (dst.is_broadcast() || is_our_broadcast(dst)) return Route{dst, true};
  if (dst.is_unspecified() || dst.is_loopback() || dst.is_multicast() || dst == cfg_.ipv4->address)
    return std::nullopt;  // no loopback device; IP multicast not supported yet
  for (const auto& e : redirects4_)  // the route cache first (RFC 1122 §3.3.1.2); poll() drops expired entries
    if (e.dst == dst) return Route{e.gateway, false};
  if (cfg_.ipv4->contains(dst)) return Route{dst, false};
  if (cfg_.gateway4 && cfg_.ipv4->contains(*cfg_.gateway4)) return Route{*cfg_.gateway4, false};
  return std::nullopt;
}

std::uint16_t Interface::next_ident(Ipv4Address src, Ipv4Address dst, std::uint8_t proto) noexcept {
  // RFC 7739 §5.4: ID = F(src, dst, proto, key) + counter[G(src, dst, proto, key)]; the counter moves by a
  // random step so that neither one flow's sequence nor another flow's use of the bucket is predictable.
  const std::uint64_t addrs = (std::uint64_t(src.to_u32()) << 32) | dst.to_u32();
  if (!ident_memo_.valid || ident_memo_.addrs != addrs || ident_memo_.proto != proto) {
    std::array<std::byte, 9> in{};
    src.write(MutableBytes{in}.subspan(0, 4));
    dst.write(MutableBytes{in}.subspan(4, 4));
    in[8] = std::byte(proto);
    ident_memo_ = IdentMemo{addrs, proto, true, siphash24(ident_key_, Bytes{in})};
  }
  const std::uint64_t h = ident_memo_.hash;
  std::uint16_t& c = ident_counters_[std::size_t(h & 0xff)];
  c = std::uint16_t(c + 1 + rng_.uniform(8));
  return std::uint16_t(std::uint16_t(h >> 16) + c);
}

bool Interface::transmit_frame(Instant now, MacAddress dst, std::size_t ip_len) noexcept {
  return transmit_frame(now, dst, MutableBytes{tx_buf_}.first(kEth + ip_len), false);
}

bool Interface::transmit_frame(Instant now, MacAddress dst, MutableBytes frame, bool lent) noexcept {
  emit_ethernet_header(frame, dst, cfg_.mac, EtherType::kIpv4);
  if (!(lent ? link_.transmit_lent(now, frame.size()) : link_.transmit(now, frame))) {
    ++counters_.drop_tx_link;
    return false;
  }
  ++counters_.tx_frames;
  return true;
}

SendResult Interface::output(Instant now, const Route& r, std::size_t ip_len) noexcept {
  return output(now, r, MutableBytes{tx_buf_}.first(kEth + ip_len), false);
}

SendResult Interface::output(Instant now, const Route& r, MutableBytes frame, bool lent) noexcept {
  if (r.broadcast) return transmit_frame(now, MacAddress::broadcast(), frame, lent) ? SendResult::kSent : SendResult::kDropped;
  if (const MacAddress* mac = arp_.resolved(now, r.next_hop))
    return transmit_frame(now, *mac, frame, lent) ? SendResult::kSent : SendResult::kDropped;
  // Not resolved: the packet waits in the ARP queue (a copy); a lent buffer is simply not sent.
  const auto q = arp_.enqueue(now, r.next_hop, Bytes{frame.subspan(kEth)});
  if (q.send_request) send_arp(now, std::uint16_t(ArpOp::kRequest), MacAddress::broadcast(), MacAddress{}, r.next_hop);
  if (!q.queued) {
    ++counters_.drop_tx_arp_queue;
    return SendResult::kDropped;
  }
  ++counters_.tx_queued_arp;
  return SendResult::kQueued;
}

SendResult Interface::send(Instant now, const IpSendParams& p, std::size_t payload_len,
                           FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept {
  if (p.dst.is_v6()) return v6_.send(now, p, payload_len, fill);
  const Ipv4Address dst = p.dst.v4();
  const auto rt = route(dst);
  if (!rt) {
    ++counters_.drop_tx_no_route;
    return SendResult::kNoRoute;
  }
  Ipv4Address src = cfg_.ipv4->address;
  if (p.src) {
    if (!p.src->is_v4() || (p.src->v4() != src && !(p.src->v4().is_unspecified() && rt->broadcast))) {
      ++counters_.drop_tx_no_route;  // not one of our addresses (0.0.0.0 is allowed to broadcast, for DHCP)
      return SendResult::kNoRoute;
    }
    src = p.src->v4();
  }
  if (payload_len > kIpv4MaxPayloadLen) {
    ++counters_.drop_tx_too_big;
    return SendResult::kTooBig;
  }
  const std::size_t mtu = std::min(link_.mtu(), kIpv4MaxPacketLen);
  const bool fits = kIpv4MinHeaderLen + payload_len <= mtu;
  if (!fits && (p.dont_fragment || Ipv4Repr::max_fragment_payload(mtu) == 0)) {
    ++counters_.drop_tx_too_big;
    return SendResult::kTooBig;
  }

  Ipv4Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.protocol = p.protocol;
  ip.ttl = p.ttl != 0 ? p.ttl : cfg_.default_ttl;  // RFC 1122 §3.2.1.7: never send TTL 0
  ip.tos = p.tos;
  ip.dont_fragment = p.dont_fragment;
  ip.ident = next_ident(src, dst, p.protocol);
  ip.payload_len = std::uint16_t(payload_len);
  const PseudoHeader ph = ip.pseudo_header();
  ++counters_.tx_packets;

  if (fits) {  // the common case: build the packet in place, in the link's own buffer where it lends one
    const std::size_t frame_len = kEth + kIpv4MinHeaderLen + payload_len;
    MutableBytes frame = link_.lend_tx(frame_len);
    const bool lent = frame.size() == frame_len;
    if (!lent) frame = MutableBytes{tx_buf_}.first(frame_len);
    fill(frame.subspan(kEth + kIpv4MinHeaderLen), ph);
    ip.emit(frame.subspan(kEth));
    return output(now, *rt, frame, lent);
  }

  // RFC 791 §3.2: fragment the transport bytes into pieces of a multiple of 8 bytes.
  fill(MutableBytes{payload_buf_}.first(payload_len), ph);
  const std::size_t piece = Ipv4Repr::max_fragment_payload(mtu);
  SendResult result = SendResult::kSent;
  for (std::size_t off = 0; off < payload_len; off += piece) {
    const std::size_t len = std::min(piece, payload_len - off);
    const Ipv4Repr frag = ip.fragment(std::uint16_t(off), std::uint16_t(len), off + len < payload_len);
    std::memcpy(tx_buf_.data() + kEth + kIpv4MinHeaderLen, payload_buf_.data() + off, len);
    frag.emit(MutableBytes{tx_buf_}.subspan(kEth));
    ++counters_.tx_fragments;
    const SendResult r = output(now, *rt, kIpv4MinHeaderLen + len);
    // Report the worst outcome: one lost fragment loses the datagram.
    if (r == SendResult::kDropped) result = SendResult::kDropped;
    else if (r == SendResult::kQueued && result == SendResult::kSent) result = SendResult::kQueued;
  }
  return result;
}

void Interface::send_arp(Instant now, std::uint16_t op, MacAddress eth_dst, MacAddress target_mac,
                         Ipv4Address target_ip) noexcept {
  if (!cfg_.ipv4) return;
  std::array<std::byte, kEth + kArpPacketLen> frame{};
  emit_ethernet_header(MutableBytes{frame}, eth_dst, cfg_.mac, EtherType::kArp);
  const ArpRepr arp{ArpOp(op), cfg_.mac, cfg_.ipv4->address, target_mac, target_ip};
  arp.emit(MutableBytes{frame}.subspan(kEth));
  if (op == std::uint16_t(ArpOp::kRequest)) ++counters_.arp_requests_sent;
  if (!link_.transmit(now, Bytes{frame})) {
    ++counters_.drop_tx_link;
    return;
  }
  ++counters_.tx_frames;
}

// ---------------------------------------------------------------------------------------------------
// Ping client

SendResult Interface::send_echo_request(Instant now, Ipv4Address dst, std::uint16_t ident, std::uint16_t seq,
                                        Bytes data) noexcept {
  const Icmpv4Repr req = Icmpv4Repr::echo_request(ident, seq, data);
  IpSendParams p;
  p.dst = dst;
  p.protocol = std::uint8_t(IpProtocol::kIcmp);
  p.ttl = cfg_.default_ttl;
  const SendResult r = send(now, p, req.buffer_len(), [&](MutableBytes out, const PseudoHeader&) { req.emit(out); });
  if (r == SendResult::kSent || r == SendResult::kQueued) ++counters_.icmp_echo_requests_sent;
  return r;
}

SendResult Interface::send_echo_request6(Instant now, const Ipv6Address& dst, std::uint16_t ident, std::uint16_t seq,
                                         Bytes data) noexcept {
  return v6_.send_echo_request(now, dst, ident, seq, data);
}

std::optional<EchoReply> Interface::pop_echo_reply() noexcept { return echo_.pop(); }

}  // namespace tapstack::ip
