// Ipv6Engine: receive (IPv6 header -> chain walk -> reassembly -> ICMPv6/NDP | transport), the NDP and
// address timers, and the send path (source selection -> route -> fragment -> neighbour resolution -> link).
// Policy is documented in the header.
#include "ip/ipv6_engine.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <variant>

#include "ip/ethernet.hpp"
#include "ip/expiring.hpp"

namespace tapstack::ip {

namespace {
constexpr std::size_t kEth = kEthernetHeaderLen;
constexpr std::uint8_t kIcmpv6Proto = std::uint8_t(IpProtocol::kIcmpv6);
constexpr Ipv6Address kUnspecified{};
// RFC 3810 §9.1 and §9.2 defaults: the Robustness Variable and the Query Interval.
constexpr unsigned kMldRobustness = 2;
constexpr Duration kMldQueryInterval = seconds(125);
// Unsolicited Report Interval: RFC 3810 §9.11 (MLDv2) and RFC 2710 §7.10 (MLDv1) defaults.
constexpr Duration kMldv2UnsolicitedReportInterval = seconds(1);
constexpr Duration kMldv1UnsolicitedReportInterval = seconds(10);

unsigned scope_rank(const Ipv6Address& a) noexcept { return unsigned(ipv6_scope(a)); }

// RFC 4443 §3.1 codes as the transports' error kinds (RFC 4443 §3.1: port unreachable is the hard error).
IcmpErrorInfo::Kind unreachable_kind(std::uint8_t code) noexcept {
  using K = IcmpErrorInfo::Kind;
  switch (Icmpv6Unreachable(code)) {
    case Icmpv6Unreachable::kNoRoute: return K::kNetUnreachable;
    case Icmpv6Unreachable::kBeyondScope:
    case Icmpv6Unreachable::kAddress: return K::kHostUnreachable;
    case Icmpv6Unreachable::kPort: return K::kPortUnreachable;
    case Icmpv6Unreachable::kAdminProhibited:
    case Icmpv6Unreachable::kSourcePolicy:
    case Icmpv6Unreachable::kRejectRoute: return K::kAdminProhibited;
    default: return K::kOther;
  }
}
}  // namespace

Ipv6Engine::Ipv6Engine(Link& link, Ipv6Config cfg, Rng& rng, const std::array<TransportHandler*, 256>& handlers,
                       EchoReplyQueue& echo)
    : link_{link},
      cfg_{std::move(cfg)},
      rng_{rng},
      handlers_{handlers},
      echo_{echo},
      nc_{cfg_.ndp, rng},
      reasm_{cfg_.reassembly},
      limiter_{cfg_.icmp_rate},
      limiter_key_{SipKey::random(rng)},
      link_local_{link_local_from_mac(cfg_.mac)},
      hop_limit_{cfg_.hop_limit == 0 ? std::uint8_t{64} : cfg_.hop_limit} {
  for (const Ipv6Cidr& c : cfg_.addresses) {
    if (c.prefix_len > 128 || c.address.is_multicast() || c.address.is_unspecified() || c.address.is_loopback())
      throw std::invalid_argument("ip::Ipv6Engine: bad static IPv6 address " + c.to_string());
  }
  if (!cfg_.enabled) return;
  tx_buf_.resize(kEth + kIpv6HeaderLen + kIpv6MaxPayloadLen);
  payload_buf_.resize(kIpv6MaxPayloadLen);
  ndp_buf_.resize(kEth + kIpv6MinMtu);
  quote_buf_.resize(kIcmpv6MaxQuoteLen);
  addrs_.reserve(cfg_.addresses.size() + 1 + cfg_.max_addresses);
  routers_.reserve(cfg_.max_routers);
  prefixes_.reserve(cfg_.max_prefixes);
  dns_.reserve(cfg_.max_dns_servers);
  pmtu_.reserve(cfg_.max_pmtu_entries);
  redirects_.reserve(cfg_.max_redirects);
  // RFC 4862 §5.3: the link-local address is formed when the interface is enabled; static ones follow.
  addrs_.push_back({link_local_, 64, AddressState::kTentative, AddressOrigin::kLinkLocal});
  for (const Ipv6Cidr& c : cfg_.addresses)
    if (find_addr(c.address) == nullptr)
      addrs_.push_back({c.address, c.prefix_len, AddressState::kTentative, AddressOrigin::kStatic});
}

// ---------------------------------------------------------------------------------------------------
// Addresses and groups

Ipv6InterfaceAddress* Ipv6Engine::find_addr(const Ipv6Address& a) noexcept {
  for (auto& x : addrs_)
    if (x.address == a) return &x;
  return nullptr;
}
const Ipv6InterfaceAddress* Ipv6Engine::find_addr(const Ipv6Address& a) const noexcept {
  for (const auto& x : addrs_)
    if (x.address == a) return &x;
  return nullptr;
}

std::optional<AddressState> Ipv6Engine::address_state(const Ipv6Address& a) const noexcept {
  const auto* x = find_addr(a);
  if (x == nullptr) return std::nullopt;
  return x->state;
}

bool Ipv6Engine::is_local(const Ipv6Address& a) const noexcept {
  const auto* x = find_addr(a);
  return x != nullptr && x->usable();
}

bool Ipv6Engine::is_our_group(const Ipv6Address& g) const noexcept {
  if (g == kIpv6AllNodes) return true;  // RFC 4291 §2.8: every node listens to ff02::1
  if (!is_solicited_node_multicast(g)) return false;
  for (const auto& x : addrs_)
    if (x.state != AddressState::kDuplicate && solicited_node_multicast(x.address) == g) return true;
  return false;
}

bool Ipv6Engine::accepts_multicast_mac(const MacAddress& mac) const noexcept {
  if (!cfg_.enabled) return false;
  if (mac == ipv6_multicast_mac(kIpv6AllNodes)) return true;
  for (const auto& x : addrs_)
    if (x.state != AddressState::kDuplicate && mac == ipv6_multicast_mac(solicited_node_multicast(x.address)))
      return true;
  return false;
}

void Ipv6Engine::start(Instant now) noexcept {
  started_ = true;
  for (auto& a : addrs_) {
    // RFC 4862 §5.4.2: the first message after the interface comes up waits a random 0..MAX_RTR_SOLICITATION_DELAY.
    const auto span = std::uint32_t(std::clamp<std::int64_t>(cfg_.max_dad_delay.count(), 0, 0xffffffff));
    a.dad_next_at = now + Duration{span == 0 ? 0 : std::int64_t(rng_.uniform(span))};
  }
}

void Ipv6Engine::add_address(Instant now, const Ipv6Address& a, std::uint8_t prefix_len, AddressOrigin origin,
                             Instant preferred_until, Instant valid_until) noexcept {
  Ipv6InterfaceAddress x{a, prefix_len, AddressState::kTentative, origin, preferred_until, valid_until};
  x.dad_next_at = now;
  addrs_.push_back(x);  // capacity reserved for max_addresses
}

void Ipv6Engine::mark_duplicate(Ipv6InterfaceAddress& a) noexcept {
  // RFC 4862 §5.4.5: the address is not assigned; it stays listed as DUPLICATE so that it is reported. A
  // duplicate EUI-64 link-local address also stops SLAAC (same interface identifier), see on_prefix.
  a.state = AddressState::kDuplicate;
  ++counters_.dad_duplicates;
}

void Ipv6Engine::run_address_timers(Instant now) noexcept {
  for (std::size_t i = 0; i < addrs_.size();) {
    Ipv6InterfaceAddress& a = addrs_[i];
    if (a.state == AddressState::kTentative && a.dad_next_at <= now) {
      if (!a.dad_started) {
        // RFC 4862 §5.4.2: join the solicited-node group (RFC 3810 report) before the probe, unless another of
        // our addresses joined it already.
        const Ipv6Address group = solicited_node_multicast(a.address);
        const bool shared = is_joined(group);  // before this address counts as joined
        a.dad_started = true;
        if (!shared) send_mld_report(now, MldRecord::join(group));
      }
      if (a.dad_sent < cfg_.dad_transmits) {
        ++a.dad_sent;
        a.dad_next_at = now + nc_.retrans_timer();
        send_dad_ns(now, a.address);
      } else {
        // RFC 4862 §5.4: RetransTimer after the last NS with no conflict, the address is assigned.
        a.state = a.preferred_until <= now ? AddressState::kDeprecated : AddressState::kPreferred;
        ++counters_.dad_succeeded;
        if (a.origin == AddressOrigin::kLinkLocal && cfg_.router_solicitations > 0 && !ra_seen_) {
          // RFC 4861 §6.3.7: the random delay before the first RS may be skipped when DAD already waited one.
          rs_next_at_ = now;
        }
      }
    }
    if (a.state == AddressState::kPreferred && a.preferred_until <= now) {
      a.state = AddressState::kDeprecated;  // RFC 4862 §5.5.4
      ++counters_.addresses_deprecated;
    }
    if (a.valid_until <= now) {
      ++counters_.addresses_expired;
      const Ipv6Address group = solicited_node_multicast(a.address);
      const bool was_joined = a.dad_started && a.state != AddressState::kDuplicate;
      addrs_.erase(addrs_.begin() + std::ptrdiff_t(i));
      if (was_joined && !is_joined(group)) send_mld_report(now, MldRecord::leave(group));
      continue;
    }
    ++i;
  }
}

// ---------------------------------------------------------------------------------------------------
// Receive

void Ipv6Engine::on_packet(Instant now, Bytes packet, const MacAddress& eth_src, bool l2_multicast) noexcept {
  if (!cfg_.enabled) {
    ++counters_.drop_ipv6_disabled;
    return;
  }
  if (!started_) start(now);
  ++counters_.ipv6_rx;
  Ipv6Error why{};
  auto v = Ipv6View::parse(packet, &why);
  if (!v) {
    switch (why) {
      case Ipv6Error::kTruncated: ++counters_.drop_ipv6_truncated; break;
      case Ipv6Error::kBadVersion: ++counters_.drop_ipv6_bad_version; break;
      case Ipv6Error::kBadPayloadLen: ++counters_.drop_ipv6_bad_payload_len; break;
      case Ipv6Error::kJumbogram: ++counters_.drop_ipv6_jumbogram; break;
    }
    return;
  }
  Rx rx;
  rx.packet = v->bytes();
  rx.src = v->src();
  rx.dst = v->dst();
  rx.hop_limit = v->hop_limit();
  rx.traffic_class = v->traffic_class();
  rx.l2_multicast = l2_multicast;
  rx.eth_src = eth_src;
  // RFC 4291 §2.7: a multicast source is invalid; loopback never appears on a link (RFC 4291 §2.5.3).
  if (rx.src.is_multicast() || rx.src.is_loopback()) {
    ++counters_.drop_ipv6_bad_source;
    return;
  }
  if (rx.dst.is_multicast()) {
    if (!is_our_group(rx.dst)) {
      ++counters_.drop_ipv6_not_for_us;
      return;
    }
  } else {
    rx.local = find_addr(rx.dst);
    if (rx.local == nullptr || rx.local->state == AddressState::kDuplicate) {
      ++counters_.drop_ipv6_not_for_us;
      return;
    }
  }

  for (int pass = 0; pass < 2; ++pass) {  // the packet as received, then (once) as reassembled
    Ipv6ChainFailure fail;
    std::optional<Ipv6Chain> chain;
    if (const std::uint8_t nh = v->next_header(); ipv6_is_upper_layer(nh)) {
      // No extension headers (nearly every TCP segment): what walk_ipv6_chain returns for it, without the call.
      chain.emplace();
      chain->upper_layer = nh;
      chain->upper_layer_offset = kIpv6HeaderLen;
    } else {
      chain = walk_ipv6_chain(*v, &fail);
    }
    if (!chain) {
      switch (fail.error) {
        case Ipv6ChainError::kTruncated: ++counters_.drop_ipv6_ext_truncated; break;
        case Ipv6ChainError::kHopByHopNotFirst: ++counters_.drop_ipv6_hop_by_hop_not_first; break;
        case Ipv6ChainError::kTooManyHeaders: ++counters_.drop_ipv6_too_many_headers; break;
        case Ipv6ChainError::kChainTooLong: ++counters_.drop_ipv6_chain_too_long; break;
        case Ipv6ChainError::kRoutingType0: ++counters_.drop_ipv6_routing_type0; break;
        case Ipv6ChainError::kRoutingHeader: ++counters_.drop_ipv6_routing_header; break;
        case Ipv6ChainError::kUnknownNextHeader: ++counters_.drop_ipv6_unknown_next_header; break;
        case Ipv6ChainError::kBadOption: ++counters_.drop_ipv6_bad_option; break;
        case Ipv6ChainError::kJumboOption: ++counters_.drop_ipv6_jumbo_option; break;
        case Ipv6ChainError::kUnknownOption: ++counters_.drop_ipv6_unknown_option; break;
      }
      if (fail.param_problem)
        send_error(now, v->bytes(), l2_multicast, Icmpv6Repr::parameter_problem(*fail.param_problem, {}));
      return;
    }
    if (chain->fragment) rx.fragmented = true;  // atomic fragments included (RFC 6980 §5 for NDP)
    if (!chain->needs_reassembly()) {
      process(now, rx, *chain);
      return;
    }
    if (pass == 1) return;  // a reassembled packet is whole; the reassembler never hands back a fragment
    ++counters_.ipv6_fragments_rx;
    const Reassembly6Result r = reasm_.add(now, *v, *chain);
    switch (r.status) {
      case Reassembly6Status::kHeld:
        return;
      case Reassembly6Status::kDropped:
        ++counters_.drop_ipv6_reassembly;
        return;
      case Reassembly6Status::kParamProblem:
        ++counters_.drop_ipv6_reassembly;
        send_error(now, v->bytes(), l2_multicast, Icmpv6Repr::parameter_problem(r.param_problem, {}));
        return;
      case Reassembly6Status::kComplete:
        break;
    }
    auto whole = Ipv6View::parse(r.packet);
    if (!whole) {
      ++counters_.drop_ipv6_reassembly;
      return;
    }
    ++counters_.ipv6_reassembled;
    v = whole;
    rx.packet = v->bytes();
  }
}

void Ipv6Engine::process(Instant now, const Rx& rx, const Ipv6Chain& chain) noexcept {
  const Bytes upper = rx.packet.subspan(chain.upper_layer_offset);
  if (chain.upper_layer == kIcmpv6Proto) {
    on_icmpv6(now, rx, upper, chain.router_alert);
    return;
  }
  const auto* dst_addr = rx.local;
  if (dst_addr != nullptr && !dst_addr->usable()) {  // RFC 4862 §5.4: a tentative address takes only NDP
    ++counters_.drop_ipv6_tentative_dst;
    return;
  }
  if (find_addr(rx.src) != nullptr) {  // someone else using our address, or a looped frame
    ++counters_.drop_ipv6_own_source;
    return;
  }
  if (chain.upper_layer == kIpv6NextNone) {  // RFC 8200 §4.7: nothing follows; ignored
    ++counters_.drop_ipv6_no_next_header;
    return;
  }
  TransportHandler* h = handlers_[chain.upper_layer];
  if (h == nullptr) {
    // RFC 8200 §4: a Next Header the host does not recognize -> Parameter Problem code 1 at that field.
    ++counters_.drop_ipv6_unknown_protocol;
    send_error(now, rx.packet, rx.l2_multicast, Icmpv6Repr::parameter_problem(chain.unrecognized_next_header(), {}));
    return;
  }
  IpPacketInfo info;
  info.src = rx.src;
  info.dst = rx.dst;
  info.protocol = chain.upper_layer;
  info.ttl = rx.hop_limit;
  info.tos = rx.traffic_class;
  info.dst_multicast = rx.dst.is_multicast();
  ++counters_.ipv6_delivered;
  if (h->on_packet(now, info, upper) == TransportHandler::Verdict::kPortUnreachable) {
    ++counters_.rx_port_unreachable;
    send_error(now, rx.packet, rx.l2_multicast, Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::kPort, {}));
  }
}

void Ipv6Engine::on_icmpv6(Instant now, const Rx& rx, Bytes msg, std::optional<std::uint16_t> router_alert) noexcept {
  ++counters_.icmp6_rx;
  Icmpv6Error why{};
  const PseudoHeader ph{rx.src, rx.dst, kIcmpv6Proto, std::uint32_t(msg.size())};
  auto v = Icmpv6View::parse(msg, ph, &why);
  if (!v) {
    if (why == Icmpv6Error::kBadChecksum) ++counters_.drop_icmp6_bad_checksum;
    else ++counters_.drop_icmp6_truncated;
    return;
  }
  const std::uint8_t type = v->type();
  if (type >= std::uint8_t(Icmpv6Type::kRouterSolicit) && type <= std::uint8_t(Icmpv6Type::kRedirect)) {
    on_ndp(now, rx, *v);
    return;
  }
  const auto* dst_addr = rx.local;
  if (dst_addr != nullptr && !dst_addr->usable()) {
    ++counters_.drop_ipv6_tentative_dst;
    return;
  }
  if (find_addr(rx.src) != nullptr) {
    ++counters_.drop_ipv6_own_source;
    return;
  }
  if (type == std::uint8_t(Icmpv6Type::kMldQuery)) {
    on_mld_query(now, rx, *v, router_alert);
    return;
  }
  // Other listeners' reports: an MLDv2 host does not suppress its own on hearing them (RFC 3810 §6); in MLDv1
  // compatibility mode an MLDv1 Report does (RFC 2710 §4).
  if (type == std::uint8_t(Icmpv6Type::kMldv1Report)) {
    on_mldv1_report(now, rx, *v);
    return;
  }
  if (type == std::uint8_t(Icmpv6Type::kMldv1Done) || type == std::uint8_t(Icmpv6Type::kMldv2Report)) {
    ++counters_.mld_ignored;
    return;
  }
  auto m = Icmpv6Repr::parse(*v, &why);
  if (!m) {
    if (why == Icmpv6Error::kBadQuote) ++counters_.drop_icmp6_bad_quote;
    else ++counters_.drop_icmp6_unsupported;  // RFC 4443 §2.4 (b): unknown informational types are discarded
    return;
  }
  switch (m->type) {
    case Icmpv6Type::kEchoRequest: {
      ++counters_.icmp6_echo_requests_rx;
      if (rx.dst.is_multicast()) {  // RFC 4443 §4.1 makes the reply optional; an amplifier otherwise
        ++counters_.drop_icmp6_echo_multicast;
        return;
      }
      // RFC 4443 §4.2: from the address the request was sent to, with its identifier, sequence and data.
      const Icmpv6Repr reply = Icmpv6Repr::echo_reply_to(*m);
      const SendResult r = send_from(now, rx.dst, rx.src, kIcmpv6Proto, hop_limit_, rx.traffic_class & 0xfc, false,
                                     reply.buffer_len(),
                                     [&](MutableBytes out, const PseudoHeader& p) { reply.emit(out, p); });
      if (r == SendResult::kSent || r == SendResult::kQueued) ++counters_.icmp6_echo_replies_sent;
      return;
    }
    case Icmpv6Type::kEchoReply:
      ++counters_.icmp6_echo_replies_rx;
      if (!echo_.push(EchoReply{rx.src, m->ident, m->seq, rx.hop_limit, m->data.size(), now}))
        ++counters_.drop_echo_reply_queue_full;
      return;
    default:
      if (m->is_error()) {
        on_icmpv6_error(now, rx, *m);
        return;
      }
      ++counters_.drop_icmp6_unsupported;
      return;
  }
}

void Ipv6Engine::on_icmpv6_error(Instant now, const Rx& rx, const Icmpv6Repr& m) noexcept {
  ++counters_.icmp6_errors_rx;
  auto q = parse_icmpv6_quote(m.data);
  if (!q) {
    ++counters_.drop_icmp6_bad_quote;
    return;
  }
  if (!is_local(q->src)) {  // RFC 4443 §2.4 (d) delivers errors about what we sent only
    ++counters_.drop_icmp6_error_not_ours;
    return;
  }
  IcmpErrorInfo info;
  info.reporter = rx.src;
  info.orig_src = q->src;
  info.orig_dst = q->dst;
  info.protocol = q->upper_layer;
  switch (m.type) {
    case Icmpv6Type::kPacketTooBig:
      if (m.mtu_below_minimum()) {  // RFC 8201 §4: never below 1280 (an attack on the PMTU otherwise)
        ++counters_.drop_icmp6_ptb_below_min;
        return;
      }
      lower_pmtu(now, q->dst, m.mtu);
      info.kind = IcmpErrorInfo::Kind::kFragNeeded;
      info.next_hop_mtu = m.mtu;
      break;
    case Icmpv6Type::kDestUnreachable:
      info.kind = unreachable_kind(m.code);
      info.hard = info.kind == IcmpErrorInfo::Kind::kPortUnreachable;
      break;
    case Icmpv6Type::kTimeExceeded:
      info.kind = IcmpErrorInfo::Kind::kTimeExceeded;
      break;
    case Icmpv6Type::kParameterProblem:
      // Code 1 at our Next Header: the peer does not speak the protocol (IPv6's protocol unreachable).
      if (m.code == std::uint8_t(Icmpv6ParamProblem::kUnrecognizedNextHeader)) {
        info.kind = IcmpErrorInfo::Kind::kProtocolUnreachable;
        info.hard = true;
      } else {
        info.kind = IcmpErrorInfo::Kind::kParameterProblem;
      }
      break;
    default:
      info.kind = IcmpErrorInfo::Kind::kOther;  // RFC 4443 §2.4 (b): unknown errors are passed up
      break;
  }
  if (q->frag_offset != 0) {  // a non-first fragment's quote has no transport header to match
    ++counters_.drop_icmp6_bad_quote;
    return;
  }
  TransportHandler* h = handlers_[q->upper_layer];
  if (h == nullptr) {  // including errors about our echo requests
    ++counters_.drop_icmp6_error_no_transport;
    return;
  }
  ++counters_.icmp6_errors_delivered;
  h->on_icmp_error(now, info, q->transport);
}

// ---------------------------------------------------------------------------------------------------
// Neighbor Discovery

void Ipv6Engine::on_ndp(Instant now, const Rx& rx, const Icmpv6View& v) noexcept {
  NdpError why{};
  const NdpContext ctx{rx.src, rx.dst, rx.hop_limit, rx.fragmented};
  auto m = parse_ndp(v, ctx, &why);
  if (!m) {
    switch (why) {
      case NdpError::kFragmented: ++counters_.drop_ndp_fragmented; break;
      case NdpError::kBadHopLimit: ++counters_.drop_ndp_bad_hop_limit; break;
      case NdpError::kBadCode: ++counters_.drop_ndp_bad_code; break;
      case NdpError::kBadOptions: ++counters_.drop_ndp_bad_options; break;
      default: ++counters_.drop_ndp_invalid; break;
    }
    return;
  }
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, NeighborSolicitRepr>) on_ns(now, rx, msg);
        else if constexpr (std::is_same_v<T, NeighborAdvertRepr>) on_na(now, rx, msg);
        else if constexpr (std::is_same_v<T, RouterAdvertRepr>) on_ra(now, rx, msg);
        else if constexpr (std::is_same_v<T, RouterSolicitRepr>) ++counters_.ndp_rs_ignored;  // hosts ignore RS
        else on_redirect(now, rx, msg);
      },
      *m);
}

// RFC 4861 §8: a router tells us a better first hop for `destination`: another router (a link-local target) or
// the destination itself, which is on-link (target == destination). parse_ndp checked what the message alone
// shows (§8.1: link-local source, hop limit 255, code 0, options, a unicast destination, the target rule); here,
// that it comes from the router we use for that destination now. Otherwise anyone on the link could divert
// our traffic.
void Ipv6Engine::on_redirect(Instant now, const Rx& rx, const RedirectRepr& r) noexcept {
  if (!cfg_.accept_redirects) {
    ++counters_.ndp_redirect_ignored;
    return;
  }
  const std::optional<NextHop> current = route(now, r.destination);
  if (!current || current->multicast_mac || current->addr != rx.src || current->addr == r.destination) {
    ++counters_.drop_redirect_not_from_first_hop;  // (also: a destination we reach directly, or our own)
    return;
  }
  // §8.3: the target's link-layer address, when given, goes into the neighbour cache (STALE if new or
  // changed), and a target other than the destination is a router.
  if (r.target_link_addr) {
    nc_.on_link_addr(now, r.target, *r.target_link_addr, [&](MacAddress mac, Bytes p) { flush_to(now, mac, p); },
                     r.target != r.destination ? std::optional<bool>{true} : std::nullopt);
  }
  ++counters_.ndp_redirects_accepted;
  put_expiring(redirects_, cfg_.max_redirects, RedirectEntry{r.destination, r.target, now + cfg_.redirect_timeout},
               [&](const RedirectEntry& e) { return e.dst == r.destination; });
}

void Ipv6Engine::flush_to(Instant now, MacAddress mac, Bytes packet) noexcept {
  if (!transmit(now, mac, packet)) return;
}

void Ipv6Engine::on_ns(Instant now, const Rx& rx, const NeighborSolicitRepr& ns) noexcept {
  ++counters_.ndp_ns_rx;
  Ipv6InterfaceAddress* a = find_addr(ns.target);
  if (a == nullptr || a->state == AddressState::kDuplicate) {  // RFC 4861 §7.2.3: not our target
    ++counters_.drop_ndp_ns_not_our_target;
    return;
  }
  if (a->state == AddressState::kTentative) {
    // RFC 4862 §5.4.3: a DAD probe (from ::) by another node for our tentative address: it is a duplicate.
    // An NS from a unicast source for a tentative target is silently ignored. Our own looped-back probe
    // (same MAC) is not a conflict.
    if (rx.src.is_unspecified() && rx.eth_src != cfg_.mac) mark_duplicate(*a);
    else ++counters_.drop_ndp_ns_tentative_target;
    return;
  }
  if (rx.src.is_unspecified()) {
    // RFC 4861 §7.2.4: another node's DAD for an address we use: answer to all-nodes, Solicited = 0.
    ++counters_.ndp_address_conflict;
    send_na(now, ns.target, kIpv6AllNodes, ipv6_multicast_mac(kIpv6AllNodes), false);
    return;
  }
  MacAddress reply_mac = rx.eth_src;
  if (ns.source_link_addr) {
    nc_.on_link_addr(now, rx.src, *ns.source_link_addr,
                     [&](MacAddress mac, Bytes p) { flush_to(now, mac, p); });
    reply_mac = *ns.source_link_addr;
  } else if (auto known = nc_.link_addr(rx.src)) {
    reply_mac = *known;  // a unicast probe carries no SLLA (RFC 4861 §7.2.4 then uses the cache)
  }
  send_na(now, ns.target, rx.src, reply_mac, true);
}

void Ipv6Engine::on_na(Instant now, const Rx& rx, const NeighborAdvertRepr& na) noexcept {
  ++counters_.ndp_na_rx;
  if (Ipv6InterfaceAddress* a = find_addr(na.target)) {
    if (a->state == AddressState::kTentative) mark_duplicate(*a);  // RFC 4862 §5.4.4
    else ++counters_.ndp_address_conflict;                       // RFC 4862 §5.4.4: log it, keep the address
    return;
  }
  const auto r = nc_.on_advert(now, na.target, na.target_link_addr, na.solicited, na.override_flag, na.router,
                               [&](MacAddress mac, Bytes p) { flush_to(now, mac, p); });
  if (r.router_lost) {  // RFC 4861 §7.2.5: no longer a router -> out of the default router list
    std::erase_if(routers_, [&](const Router& x) { return x.addr == na.target; });
  }
  (void)rx;
}

void Ipv6Engine::on_ra(Instant now, const Rx& rx, const RouterAdvertRepr& ra) noexcept {
  ++counters_.ndp_ra_rx;
  ra_seen_ = true;  // RFC 4861 §6.3.7: stop soliciting once an RA arrived
  rs_next_at_.reset();
  // RFC 4861 §6.3.4.
  if (ra.cur_hop_limit != 0) hop_limit_ = ra.cur_hop_limit;
  auto it = std::find_if(routers_.begin(), routers_.end(), [&](const Router& r) { return r.addr == rx.src; });
  if (ra.router_lifetime == 0) {
    if (it != routers_.end()) routers_.erase(it);
  } else if (it != routers_.end()) {
    it->expires = now + seconds(ra.router_lifetime);
  } else if (routers_.size() < cfg_.max_routers) {
    routers_.push_back({rx.src, now + seconds(ra.router_lifetime)});
    ++counters_.routers_added;
  }
  if (ra.reachable_time != 0 && milliseconds(ra.reachable_time) != nc_.config().base_reachable_time)
    nc_.set_base_reachable_time(milliseconds(std::min<std::uint32_t>(ra.reachable_time, 3'600'000)));
  if (ra.retrans_timer != 0) nc_.set_retrans_timer(milliseconds(ra.retrans_timer));
  if (ra.options.source_link_addr)
    nc_.on_link_addr(now, rx.src, *ra.options.source_link_addr,
                     [&](MacAddress mac, Bytes p) { flush_to(now, mac, p); }, true);
  if (ra.options.mtu) {
    // RFC 4861 §6.3.4: an MTU below the IPv6 minimum or above the link's is ignored.
    if (*ra.options.mtu < kIpv6MinMtu || *ra.options.mtu > link_.mtu()) {
      ++counters_.drop_ra_mtu_invalid;
    } else {
      ra_mtu_ = *ra.options.mtu;
      ++counters_.ra_mtu_updates;
    }
  }
  ra.options.for_each_prefix([&](const PrefixInfo& p) { on_prefix(now, p); });
  ra.options.for_each_rdnss([&](const RdnssInfo& r) {
    // RFC 8106 §5.1, §5.3.1: lifetime 0 removes; otherwise the entry is (re)set with the new lifetime.
    for (std::size_t i = 0; i < r.count(); ++i) {
      const Ipv6Address a = r.address(i);
      if (a.is_multicast() || a.is_unspecified()) continue;
      const auto same = [&](const DnsServer& s) { return s.addr == a; };
      if (r.lifetime == 0) {
        std::erase_if(dns_, same);
        continue;
      }
      if (put_expiring(dns_, cfg_.max_dns_servers, DnsServer{a, lifetime_deadline(now, r.lifetime)}, same))
        ++counters_.rdnss_updates;
    }
  });
}

void Ipv6Engine::on_prefix(Instant now, const PrefixInfo& p) noexcept {
  // RFC 4861 §6.3.4: the L flag puts the prefix on-link (the link-local prefix is always on-link).
  if (p.on_link && !p.prefix.is_link_local() && !p.prefix.is_multicast() && p.prefix_len <= 128) {
    auto it = std::find_if(prefixes_.begin(), prefixes_.end(), [&](const OnLinkPrefix& x) {
      return x.len == p.prefix_len && ipv6_prefix_match(x.prefix, p.prefix, p.prefix_len);
    });
    if (p.valid_lifetime == 0) {
      if (it != prefixes_.end()) prefixes_.erase(it);
    } else if (it != prefixes_.end()) {
      it->expires = lifetime_deadline(now, p.valid_lifetime);
    } else if (prefixes_.size() < cfg_.max_prefixes) {
      prefixes_.push_back({p.prefix, p.prefix_len, lifetime_deadline(now, p.valid_lifetime)});
    }
  }
  if (!cfg_.slaac || !p.autonomous) return;
  if (!slaac_prefix_usable(p)) {
    ++counters_.slaac_prefix_ignored;
    return;
  }
  const auto* ll = find_addr(link_local_);
  if (ll == nullptr || ll->state == AddressState::kDuplicate) {  // same interface identifier: would collide
    ++counters_.slaac_prefix_ignored;
    return;
  }
  const Ipv6Address addr = ipv6_with_interface_id(p.prefix, modified_eui64(cfg_.mac));
  Ipv6InterfaceAddress* a = find_addr(addr);
  if (a == nullptr) {
    // RFC 4862 §5.5.3 (d): a new prefix with a non-zero valid lifetime forms an address (then DAD).
    if (p.valid_lifetime == 0) return;
    const auto slaac_count = std::count_if(addrs_.begin(), addrs_.end(),
                                           [](const Ipv6InterfaceAddress& x) { return x.origin == AddressOrigin::kSlaac; });
    if (std::size_t(slaac_count) >= cfg_.max_addresses) {
      ++counters_.slaac_address_limit;
      return;
    }
    add_address(now, addr, 64, AddressOrigin::kSlaac, lifetime_deadline(now, p.preferred_lifetime),
                lifetime_deadline(now, p.valid_lifetime));
    ++counters_.slaac_addresses_created;
    return;
  }
  if (a->origin != AddressOrigin::kSlaac) return;  // a static address with the same value: not ours to age
  // RFC 4862 §5.5.3 (e): preferred lifetime as advertised; valid lifetime by the two-hours rule.
  a->preferred_until = lifetime_deadline(now, p.preferred_lifetime);
  a->valid_until = slaac_valid_deadline(now, a->valid_until, p.valid_lifetime);
  if (a->state == AddressState::kDeprecated && a->preferred_until > now) a->state = AddressState::kPreferred;
}

// ---------------------------------------------------------------------------------------------------
// Timers

void Ipv6Engine::poll(Instant now) noexcept {
  if (!cfg_.enabled) return;
  if (!started_) start(now);
  run_address_timers(now);
  run_mld_timers(now);
  if (rs_next_at_ && *rs_next_at_ <= now) {
    const auto* ll = find_addr(link_local_);
    if (ll != nullptr && ll->usable() && !ra_seen_ && rs_sent_ < cfg_.router_solicitations) {
      send_rs(now);
      ++rs_sent_;
    }
    if (rs_sent_ < cfg_.router_solicitations && !ra_seen_) rs_next_at_ = now + cfg_.rs_interval;
    else rs_next_at_.reset();
  }
  nc_.poll(now, [&](const Ipv6Address& target, std::optional<MacAddress> unicast) {
    send_ns(now, target, unicast, std::nullopt);
  });
  reasm_.poll(now, [&](Bytes first_fragment) {
    // RFC 8200 §4.5: the first fragment arrived but the datagram did not complete: Time Exceeded code 1.
    send_error(now, first_fragment, false, Icmpv6Repr::time_exceeded(Icmpv6TimeExceeded::kReassembly, {}));
  });
  const auto size_before = routers_.size();
  std::erase_if(routers_, [&](const Router& r) { return r.expires <= now; });
  counters_.routers_expired += size_before - routers_.size();
  std::erase_if(prefixes_, [&](const OnLinkPrefix& p) { return p.expires <= now; });
  std::erase_if(dns_, [&](const DnsServer& d) { return d.expires <= now; });
  std::erase_if(pmtu_, [&](const PmtuEntry& e) { return e.expires <= now; });
  counters_.redirects_expired += std::erase_if(redirects_, [&](const RedirectEntry& e) { return e.expires <= now; });
}

std::optional<Instant> Ipv6Engine::poll_at() const noexcept {
  if (!cfg_.enabled) return std::nullopt;
  if (!started_) return Instant{};  // the first poll starts address configuration
  std::optional<Instant> at;
  auto take = [&](std::optional<Instant> t) {
    if (t && *t != Instant::max() && (!at || *t < *at)) at = t;
  };
  for (const auto& a : addrs_) {
    if (a.state == AddressState::kTentative) take(a.dad_next_at);
    if (a.state == AddressState::kPreferred) take(a.preferred_until);
    take(a.valid_until);
  }
  take(rs_next_at_);
  take(mld_general_at_);
  for (const auto& [g, t] : mld_group_at_) take(t);
  for (const auto& [r, t] : mld_retx_) take(t);
  take(mldv1_until_);
  take(nc_.poll_at());
  take(reasm_.poll_at());
  for (const auto& r : routers_) take(r.expires);
  for (const auto& p : prefixes_) take(p.expires);
  for (const auto& d : dns_) take(d.expires);
  for (const auto& e : pmtu_) take(e.expires);
  for (const auto& e : redirects_) take(e.expires);
  return at;
}

// ---------------------------------------------------------------------------------------------------
// Routing, sources, path MTU

std::vector<Ipv6Address> Ipv6Engine::dns_servers() const {
  std::vector<Ipv6Address> out;
  out.reserve(dns_.size());
  for (auto it = dns_.rbegin(); it != dns_.rend(); ++it) out.push_back(it->addr);
  return out;
}

std::optional<Ipv6Address> Ipv6Engine::default_router() const noexcept {
  // RFC 4861 §6.3.6: prefer a router that is not known to be unreachable (INCOMPLETE = being resolved).
  for (const auto& r : routers_)
    if (nc_.link_addr(r.addr)) return r.addr;
  if (!routers_.empty()) return routers_.front().addr;
  return std::nullopt;
}

bool Ipv6Engine::on_link(Instant now, const Ipv6Address& dst) const noexcept {
  if (dst.is_link_local()) return true;
  for (const auto& p : prefixes_)
    if (p.expires > now && ipv6_prefix_match(p.prefix, dst, p.len)) return true;
  for (const auto& a : addrs_)  // a static address/len implies an on-link prefix (as `ip addr add` does)
    if (a.origin == AddressOrigin::kStatic && a.prefix_len < 128 && ipv6_prefix_match(a.address, dst, a.prefix_len))
      return true;
  return false;
}

std::optional<Ipv6Engine::NextHop> Ipv6Engine::route(Instant now, const Ipv6Address& dst) const noexcept {
  if (dst.is_unspecified() || dst.is_loopback()) return std::nullopt;
  if (dst.is_multicast()) {
    if (ipv6_scope(dst) == Ipv6Scope::kInterfaceLocal) return std::nullopt;  // no loopback device
    return NextHop{dst, ipv6_multicast_mac(dst)};
  }
  if (find_addr(dst) != nullptr) return std::nullopt;  // our own address: no loopback device
  for (const auto& e : redirects_)  // the Destination Cache first (RFC 4861 §5.2)
    if (e.dst == dst && e.expires > now) return NextHop{e.next_hop, std::nullopt};
  if (on_link(now, dst)) return NextHop{dst, std::nullopt};
  if (auto r = default_router()) return NextHop{*r, std::nullopt};
  if (cfg_.gateway) return NextHop{*cfg_.gateway, std::nullopt};
  return std::nullopt;
}

std::optional<Ipv6Address> Ipv6Engine::select_source(const Ipv6Address& dst) const noexcept {
  // RFC 6724 §5, the rules that matter for one interface: 2 (appropriate scope), 3 (avoid deprecated),
  // 8 (longest matching prefix).
  const Ipv6InterfaceAddress* best = nullptr;
  const unsigned sd = scope_rank(dst);
  for (const auto& a : addrs_) {
    if (!a.usable()) continue;
    if (best == nullptr) {
      best = &a;
      continue;
    }
    const unsigned sa = scope_rank(a.address), sb = scope_rank(best->address);
    if (sa != sb) {
      // Rule 2: if Scope(A) < Scope(B), prefer B when Scope(A) < Scope(D), else A (and symmetrically).
      const bool prefer_a = sa < sb ? !(sa < sd) : (sb < sd);
      if (prefer_a) best = &a;
      continue;
    }
    const bool a_dep = a.state == AddressState::kDeprecated, b_dep = best->state == AddressState::kDeprecated;
    if (a_dep != b_dep) {
      if (!a_dep) best = &a;
      continue;
    }
    if (ipv6_common_prefix_len(a.address, dst) > ipv6_common_prefix_len(best->address, dst)) best = &a;
  }
  if (best == nullptr) return std::nullopt;
  // A global destination needs a source that reaches beyond the link (a link-local source would get no reply).
  if (scope_rank(best->address) < sd && !dst.is_multicast()) return std::nullopt;
  return best->address;
}

std::optional<Ipv6Address> Ipv6Engine::source_for(const Ipv6Address& dst) const noexcept {
  if (!cfg_.enabled) return std::nullopt;
  // `route` needs a time only for prefix expiry, which poll() enforces; the earliest instant accepts all.
  if (!route(Instant{}, dst)) return std::nullopt;
  return select_source(dst);
}

std::size_t Ipv6Engine::link_mtu() const noexcept {
  const std::size_t l = std::min(link_.mtu(), kIpv6HeaderLen + kIpv6MaxPayloadLen);
  return ra_mtu_ ? std::min(l, *ra_mtu_) : l;
}

std::size_t Ipv6Engine::path_mtu(const Ipv6Address& dst) const noexcept {
  std::size_t m = link_mtu();
  for (const auto& e : pmtu_)
    if (e.dst == dst) m = std::min(m, e.mtu);
  return m;
}

std::size_t Ipv6Engine::max_payload(const Ipv6Address& dst) const noexcept {
  const std::size_t m = path_mtu(dst);
  return m > kIpv6HeaderLen ? m - kIpv6HeaderLen : 0;
}

void Ipv6Engine::lower_pmtu(Instant now, const Ipv6Address& dst, std::size_t mtu) noexcept {
  mtu = std::max(kIpv6MinMtu, std::min(mtu, link_mtu()));
  if (mtu >= path_mtu(dst)) return;  // RFC 8201 §4: a PTB never raises the estimate
  ++counters_.pmtu_lowered;
  put_expiring(pmtu_, cfg_.max_pmtu_entries, PmtuEntry{dst, mtu, now + cfg_.pmtu_timeout},
               [&](const PmtuEntry& e) { return e.dst == dst; });
}

Ipv4Address Ipv6Engine::limiter_key(const Ipv6Address& a) const noexcept {
  // IcmpRateLimiter tracks 4-byte keys; a keyed hash of the IPv6 address spreads destinations over them.
  const std::uint64_t h =
      siphash24(limiter_key_, Bytes{reinterpret_cast<const std::byte*>(a.octets.data()), a.octets.size()});
  return Ipv4Address::from_u32(std::uint32_t(h));
}

// ---------------------------------------------------------------------------------------------------
// Send

SendResult Ipv6Engine::send(Instant now, const IpSendParams& p, std::size_t payload_len,
                            FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept {
  if (!cfg_.enabled) {
    ++counters_.drop_tx_no_route;
    return SendResult::kNoRoute;
  }
  if (!started_) start(now);
  const Ipv6Address dst = p.dst.v6();
  Ipv6Address src;
  if (p.src) {
    if (!p.src->is_v6() || !is_local(p.src->v6())) {  // not one of our usable addresses
      ++counters_.drop_tx_no_source;
      return SendResult::kNoRoute;
    }
    src = p.src->v6();
  } else if (auto s = select_source(dst)) {
    src = *s;
  } else {
    ++counters_.drop_tx_no_source;
    return SendResult::kNoRoute;
  }
  return send_from(now, src, dst, p.protocol, p.ttl != 0 ? p.ttl : hop_limit_, p.tos, p.dont_fragment, payload_len,
                   fill);
}

SendResult Ipv6Engine::send_from(Instant now, const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t protocol,
                                 std::uint8_t hop_limit, std::uint8_t tclass, bool dont_fragment,
                                 std::size_t payload_len,
                                 FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept {
  const auto nh = route(now, dst);
  if (!nh) {
    ++counters_.drop_tx_no_route;
    return SendResult::kNoRoute;
  }
  if (payload_len > kIpv6MaxPayloadLen) {
    ++counters_.drop_tx_too_big;
    return SendResult::kTooBig;
  }
  const std::size_t mtu = path_mtu(dst);
  const bool fits = kIpv6HeaderLen + payload_len <= mtu;
  const std::size_t piece = mtu >= kIpv6HeaderLen + kIpv6FragmentHeaderLen + 8
                                ? (mtu - kIpv6HeaderLen - kIpv6FragmentHeaderLen) & ~std::size_t{7}
                                : 0;
  if (!fits && (dont_fragment || piece == 0)) {
    ++counters_.drop_tx_too_big;
    return SendResult::kTooBig;
  }
  Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = protocol;
  ip.hop_limit = hop_limit;
  ip.traffic_class = tclass;
  ip.payload_len = std::uint16_t(payload_len);
  const PseudoHeader ph = ip.pseudo_header(protocol, std::uint32_t(payload_len));
  ++counters_.tx_packets;
  const MutableBytes pkt = MutableBytes{tx_buf_}.subspan(kEth);
  if (fits) {
    fill(pkt.subspan(kIpv6HeaderLen, payload_len), ph);
    ip.emit(pkt);
    return output(now, *nh, src, kIpv6HeaderLen + payload_len);
  }
  // RFC 8200 §4.5: the source fragments; the unfragmentable part is the IPv6 header alone. RFC 7739 §5.1: the
  // Identification is unpredictable.
  fill(MutableBytes{payload_buf_}.first(payload_len), ph);
  const std::uint32_t ident = rng_.next_u32();
  SendResult result = SendResult::kSent;
  for (std::size_t off = 0; off < payload_len; off += piece) {
    const std::size_t len = std::min(piece, payload_len - off);
    const bool more = off + len < payload_len;
    ip.next_header = kIpv6NextFragment;
    ip.payload_len = std::uint16_t(kIpv6FragmentHeaderLen + len);
    ip.emit(pkt);
    const MutableBytes fh = pkt.subspan(kIpv6HeaderLen, kIpv6FragmentHeaderLen);
    store_u8(fh, 0, protocol);
    store_u8(fh, 1, 0);
    store_be16(fh, 2, std::uint16_t(off | (more ? 1u : 0u)));  // offset in 8-byte units << 3 == bytes
    store_be32(fh, 4, ident);
    std::memcpy(pkt.data() + kIpv6HeaderLen + kIpv6FragmentHeaderLen, payload_buf_.data() + off, len);
    ++counters_.tx_fragments;
    const SendResult r = output(now, *nh, src, kIpv6HeaderLen + kIpv6FragmentHeaderLen + len);
    if (r == SendResult::kDropped) result = SendResult::kDropped;
    else if (r == SendResult::kQueued && result == SendResult::kSent) result = SendResult::kQueued;
  }
  return result;
}

SendResult Ipv6Engine::output(Instant now, const NextHop& nh, const Ipv6Address& src, std::size_t ip_len) noexcept {
  const Bytes packet{tx_buf_.data() + kEth, ip_len};
  if (nh.multicast_mac) return transmit(now, *nh.multicast_mac, packet) ? SendResult::kSent : SendResult::kDropped;
  if (const MacAddress* mac = nc_.resolved(now, nh.addr))
    return transmit(now, *mac, packet) ? SendResult::kSent : SendResult::kDropped;
  const auto q = nc_.enqueue(now, nh.addr, packet);
  // RFC 4861 §7.2.2: the NS comes from the prompting packet's source when that is ours.
  if (q.send_solicit) send_ns(now, nh.addr, std::nullopt, src);
  if (!q.queued) {
    ++counters_.drop_tx_ndp_queue;
    return SendResult::kDropped;
  }
  ++counters_.tx_queued_ndp;
  return SendResult::kQueued;
}

bool Ipv6Engine::transmit(Instant now, const MacAddress& dst, Bytes ip_packet) noexcept {
  if (ip_packet.size() > tx_buf_.size() - kEth) return false;
  if (ip_packet.data() != tx_buf_.data() + kEth) std::memmove(tx_buf_.data() + kEth, ip_packet.data(), ip_packet.size());
  emit_ethernet_header(MutableBytes{tx_buf_}, dst, cfg_.mac, EtherType::kIpv6);
  if (!link_.transmit(now, Bytes{tx_buf_.data(), kEth + ip_packet.size()})) {
    ++counters_.drop_tx_link;
    return false;
  }
  ++counters_.tx_frames;
  return true;
}

void Ipv6Engine::send_ndp(Instant now, const Ipv6Address& src, const Ipv6Address& dst, const MacAddress& eth_dst,
                          std::size_t len, FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept {
  if (kEth + kIpv6HeaderLen + len > ndp_buf_.size()) return;
  Ipv6Repr ip;
  ip.src = src;
  ip.dst = dst;
  ip.next_header = kIcmpv6Proto;
  ip.hop_limit = kNdpHopLimit;  // RFC 4861 §6.1, §7.1: 255 so receivers know it was not forwarded
  ip.payload_len = std::uint16_t(len);
  const MutableBytes frame = MutableBytes{ndp_buf_}.first(kEth + kIpv6HeaderLen + len);
  emit_ethernet_header(frame, eth_dst, cfg_.mac, EtherType::kIpv6);
  ip.emit(frame.subspan(kEth));
  fill(frame.subspan(kEth + kIpv6HeaderLen), ip.pseudo_header(kIcmpv6Proto, std::uint32_t(len)));
  if (!link_.transmit(now, Bytes{frame})) {
    ++counters_.drop_tx_link;
    return;
  }
  ++counters_.tx_frames;
}

void Ipv6Engine::send_ns(Instant now, const Ipv6Address& target, std::optional<MacAddress> unicast,
                         std::optional<Ipv6Address> src) noexcept {
  if (!src || !is_local(*src)) src = select_source(target);
  if (!src) return;  // no usable address yet: the retransmission timer tries again
  const NeighborSolicitRepr ns{target, cfg_.mac};
  const Ipv6Address dst = unicast ? target : solicited_node_multicast(target);
  const MacAddress eth = unicast ? *unicast : ipv6_multicast_mac(dst);
  ++counters_.ndp_ns_sent;
  send_ndp(now, *src, dst, eth, ns.buffer_len(), [&](MutableBytes out, const PseudoHeader& ph) { ns.emit(out, ph); });
}

void Ipv6Engine::send_dad_ns(Instant now, const Ipv6Address& target) noexcept {
  // RFC 4862 §5.4.2: from ::, to the target's solicited-node group, without a source link-layer option.
  const NeighborSolicitRepr ns = NeighborSolicitRepr::dad(target);
  const Ipv6Address dst = solicited_node_multicast(target);
  ++counters_.dad_ns_sent;
  send_ndp(now, kUnspecified, dst, ipv6_multicast_mac(dst), ns.buffer_len(),
           [&](MutableBytes out, const PseudoHeader& ph) { ns.emit(out, ph); });
}

void Ipv6Engine::send_na(Instant now, const Ipv6Address& target, const Ipv6Address& dst, const MacAddress& eth_dst,
                         bool solicited) noexcept {
  // RFC 4861 §7.2.4: Override set (not an anycast address), Router clear (a host), TLLA included.
  NeighborAdvertRepr na;
  na.solicited = solicited;
  na.override_flag = true;
  na.target = target;
  na.target_link_addr = cfg_.mac;
  ++counters_.ndp_na_sent;
  send_ndp(now, target, dst, eth_dst, na.buffer_len(), [&](MutableBytes out, const PseudoHeader& ph) { na.emit(out, ph); });
}

void Ipv6Engine::send_rs(Instant now) noexcept {
  // RFC 4861 §6.3.7: from the link-local address with our link-layer address, to all-routers.
  const RouterSolicitRepr rs{cfg_.mac};
  ++counters_.ndp_rs_sent;
  send_ndp(now, link_local_, kIpv6AllRouters, ipv6_multicast_mac(kIpv6AllRouters), rs.buffer_len(),
           [&](MutableBytes out, const PseudoHeader& ph) { rs.emit(out, ph); });
}

// RFC 3810 §6.2: a router (the querier) asks which groups have listeners; each host answers after a random
// delay within the query's Maximum Response Delay, so that the answers of many hosts spread out. An answer is
// a Current State Report: MODE_IS_EXCLUDE({}) per group, this stack listening to every source. An MLDv1 query
// switches to MLDv1 compatibility mode (RFC 3810 §8.2.1), where each group is answered by its own MLDv1 Report.
void Ipv6Engine::on_mld_query(Instant now, const Rx& rx, const Icmpv6View& v,
                              std::optional<std::uint16_t> router_alert) noexcept {
  ++counters_.mld_queries_rx;
  // RFC 3810 §5 and §6.2 (RFC 2710 §3 alike): from a link-local source, with Hop Limit 1 and a Router Alert
  // option; else dropped.
  const std::optional<MldQuery> q = MldQuery::parse(v);
  if (!q || !rx.src.is_link_local() || rx.hop_limit != 1 || router_alert != kRouterAlertMld) {
    ++counters_.drop_mld_query_invalid;
    return;
  }
  if (!q->v2 && !cfg_.mldv1_compat) {  // MLDv2 only (RFC 3810 §10.1)
    ++counters_.mld_v1_queries_ignored;
    return;
  }
  // RFC 3810 §5.1.15 (and RFC 2710 §5): a General Query goes to ff02::1, a specific one to the group it asks
  // about.
  if (q->is_general() ? rx.dst != kIpv6AllNodes : rx.dst != q->group) {
    ++counters_.drop_mld_query_invalid;
    return;
  }
  end_mldv1_mode_if_due(now);  // a query may come in the poll whose timers would have ended the mode
  if (!q->v2) {
    // RFC 3810 §8.2.1: an MLDv1 query (re)arms the Older Version Querier Present timer, for the Robustness
    // Variable times the Query Interval plus one Query Response Interval (§9.12; the defaults 2 and 125 s, as
    // an MLDv1 query carries neither, and this query's Maximum Response Delay). A change of mode cancels the
    // answers pending in the old one.
    if (!in_mldv1_mode(now)) {
      mld_general_at_.reset();
      mld_group_at_.clear();
      mld_retx_.clear();
      ++counters_.mldv1_mode_entered;
    }
    mldv1_until_ = now + kMldRobustness * kMldQueryInterval + milliseconds{q->max_response_ms()};
  }
  if (in_mldv1_mode(now)) {
    // RFC 2710 §4: one Report per group, each after its own random delay within the Maximum Response Delay. An
    // MLDv2 query heard meanwhile is read as MLDv1 reads it (RFC 2710 §3.7: the first 24 bytes, the delay in
    // milliseconds), as the mode uses only the MLDv1 protocol.
    const std::uint32_t max_ms = q->max_response_code;
    if (q->is_general()) {
      for_each_joined_group([&](const Ipv6Address& g) {
        schedule_mld_group_answer(g, now + milliseconds{rng_.uniform(max_ms + 1)});
      });
    } else if (is_joined(q->group)) {
      schedule_mld_group_answer(q->group, now + milliseconds{rng_.uniform(max_ms + 1)});
    }
    return;
  }
  const Instant at = now + milliseconds{rng_.uniform(q->max_response_ms() + 1)};
  // Rule 1: an answer to a General Query due no later covers this query too.
  if (mld_general_at_ && *mld_general_at_ <= at) return;
  if (q->is_general()) {  // rule 2
    mld_general_at_ = at;
    ++counters_.mld_query_answers_scheduled;
    return;
  }
  // Rules 3 and 4, for a Multicast Address Specific Query (or one naming sources: with EXCLUDE({}) the group's
  // whole state answers it too). A group this stack did not join gets no answer.
  if (is_joined(q->group)) schedule_mld_group_answer(q->group, at);
}

// The answer for one group is due at `at`, or sooner if it already was (RFC 3810 §6.2 rule 3; RFC 2710 §4 keeps
// the sooner of the running and the new timer alike).
void Ipv6Engine::schedule_mld_group_answer(const Ipv6Address& group, Instant at) noexcept {
  for (auto& [g, t] : mld_group_at_) {
    if (g == group) {
      t = std::min(t, at);
      return;
    }
  }
  try {
    mld_group_at_.emplace_back(group, at);  // at most one entry per joined group
  } catch (const std::bad_alloc&) {
    return;  // unanswered: the querier asks again
  }
  ++counters_.mld_query_answers_scheduled;
}

// RFC 2710 §4: in MLDv1 mode, another listener's Report for a group whose Report is pending here stops that
// Report: the router needs one listener per group. It must come as MLD messages are sent (RFC 2710 §3: a
// link-local source, Hop Limit 1) and to the group it reports. Otherwise, and in MLDv2 mode, it is ignored.
void Ipv6Engine::on_mldv1_report(Instant now, const Rx& rx, const Icmpv6View& v) noexcept {
  const std::optional<Mldv1Message> m = Mldv1Message::parse(v);
  if (m && in_mldv1_mode(now) && rx.src.is_link_local() && rx.hop_limit == 1 && rx.dst == m->group) {
    for (std::size_t i = 0; i < mld_group_at_.size(); ++i) {
      if (mld_group_at_[i].first == m->group) {
        mld_group_at_.erase(mld_group_at_.begin() + std::ptrdiff_t(i));
        ++counters_.mldv1_reports_suppressed;
        return;
      }
    }
  }
  ++counters_.mld_ignored;
}

// The solicited-node groups this stack joined (those of its non-duplicate addresses once their DAD began), each
// once; ff02::1 is never reported (RFC 3810 §6). No allocation: addrs_ is short (max_addresses).
template <class F>
void Ipv6Engine::for_each_joined_group(F&& f) const {
  auto joined = [](const Ipv6InterfaceAddress& a) { return a.dad_started && a.state != AddressState::kDuplicate; };
  for (std::size_t i = 0; i < addrs_.size(); ++i) {
    if (!joined(addrs_[i])) continue;
    const Ipv6Address g = solicited_node_multicast(addrs_[i].address);
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j)
      seen = joined(addrs_[j]) && solicited_node_multicast(addrs_[j].address) == g;
    if (!seen) f(g);
  }
}

bool Ipv6Engine::is_joined(const Ipv6Address& group) const noexcept {
  bool found = false;
  for_each_joined_group([&](const Ipv6Address& g) { found = found || g == group; });
  return found;
}

void Ipv6Engine::end_mldv1_mode_if_due(Instant now) noexcept {
  if (mldv1_until_ && *mldv1_until_ <= now) {
    // RFC 3810 §8.2.1: no MLDv1 query for the whole timeout: back to MLDv2. The MLDv1 Reports pending are
    // cancelled with the mode.
    mldv1_until_.reset();
    mld_group_at_.clear();
    mld_retx_.clear();
    ++counters_.mldv1_mode_left;
  }
}

void Ipv6Engine::run_mld_timers(Instant now) noexcept {
  end_mldv1_mode_if_due(now);
  for (std::size_t i = 0; i < mld_retx_.size();) {
    if (mld_retx_[i].second > now) {
      ++i;
      continue;
    }
    const MldRecord rec = mld_retx_[i].first;
    mld_retx_.erase(mld_retx_.begin() + std::ptrdiff_t(i));
    // Repeated only while it is still true (a leave cancels a join's repeat, and the reverse, above).
    if ((rec.type == MldRecordType::kChangeToInclude) != is_joined(rec.group)) {
      ++counters_.mld_report_retransmissions;
      send_state_change(now, rec);
    }
  }
  if (mld_general_at_ && *mld_general_at_ <= now) {
    mld_general_at_.reset();
    mld_group_at_.clear();  // the general answer covers every group
    // RFC 3810 §5.2.15: records that do not fit one packet go in more reports (here, 32 records per report).
    constexpr std::size_t kPerReport = 32;
    std::array<MldRecord, kPerReport> recs{};
    std::size_t n = 0;
    for_each_joined_group([&](const Ipv6Address& g) {
      recs[n++] = MldRecord{MldRecordType::kModeIsExclude, g};
      if (n == kPerReport) {
        send_mld_records(now, std::span<const MldRecord>{recs.data(), n});
        n = 0;
      }
    });
    if (n != 0) send_mld_records(now, std::span<const MldRecord>{recs.data(), n});
    return;
  }
  for (std::size_t i = 0; i < mld_group_at_.size();) {
    if (mld_group_at_[i].second > now) {
      ++i;
      continue;
    }
    const MldRecord rec{MldRecordType::kModeIsExclude, mld_group_at_[i].first};
    mld_group_at_.erase(mld_group_at_.begin() + std::ptrdiff_t(i));
    if (!is_joined(rec.group)) continue;  // no longer a member
    if (in_mldv1_mode(now)) send_mldv1(now, Icmpv6Type::kMldv1Report, rec.group);
    else send_mld_records(now, std::span<const MldRecord>{&rec, 1});
  }
}

void Ipv6Engine::send_mld_report(Instant now, const MldRecord& rec) noexcept {
  send_state_change(now, rec);
  // RFC 3810 §6.1: a State Change Report is sent [Robustness Variable] - 1 more times (once, by default), after
  // a random delay within the Unsolicited Report Interval, so that one lost report does not lose the change.
  // MLDv1 repeats a join's Report alike (RFC 2710 §4), but not a Done. A later change of the same group
  // replaces the one pending.
  const bool v1 = in_mldv1_mode(now);
  std::erase_if(mld_retx_, [&](const auto& r) { return r.first.group == rec.group; });
  if (v1 && rec.type == MldRecordType::kChangeToInclude) return;
  const Duration interval = v1 ? kMldv1UnsolicitedReportInterval : kMldv2UnsolicitedReportInterval;
  const auto ms = std::uint64_t(std::chrono::duration_cast<milliseconds>(interval).count());
  try {
    mld_retx_.emplace_back(rec, now + milliseconds{1 + rng_.uniform(ms)});  // within (0, interval]
  } catch (const std::bad_alloc&) {
    return;  // not repeated
  }
}

void Ipv6Engine::send_state_change(Instant now, const MldRecord& rec) noexcept {
  if (in_mldv1_mode(now)) {
    // RFC 2710 §4: joining sends an unsolicited Report, leaving a Done. (A Done is sent on every leave, not only
    // when this stack sent the group's last Report: RFC 2710 allows either.)
    send_mldv1(now, rec.type == MldRecordType::kChangeToInclude ? Icmpv6Type::kMldv1Done : Icmpv6Type::kMldv1Report,
               rec.group);
    return;
  }
  send_mld_records(now, std::span<const MldRecord>{&rec, 1});
}

void Ipv6Engine::send_mldv1(Instant now, Icmpv6Type type, const Ipv6Address& group) noexcept {
  const std::size_t len = emit_mldv1_packet(MutableBytes{ndp_buf_}.subspan(kEth), mld_source(), type, group);
  if (len == 0) return;
  ++(type == Icmpv6Type::kMldv1Report ? counters_.mldv1_reports_sent : counters_.mldv1_dones_sent);
  send_mld_frame(now, type == Icmpv6Type::kMldv1Report ? group : kIpv6AllRouters, len);
}

void Ipv6Engine::send_mld_records(Instant now, std::span<const MldRecord> recs) noexcept {
  const std::size_t len = emit_mldv2_report_packet(MutableBytes{ndp_buf_}.subspan(kEth), mld_source(), recs);
  if (len == 0) return;
  ++counters_.mld_reports_sent;
  send_mld_frame(now, kIpv6AllMldv2Routers, len);
}

Ipv6Address Ipv6Engine::mld_source() const noexcept {
  // RFC 3810 §5.2.13, RFC 3590 §4: the link-local address, or :: while it is not yet usable (during its DAD).
  const auto* ll = find_addr(link_local_);
  return ll != nullptr && ll->usable() ? link_local_ : kUnspecified;
}

void Ipv6Engine::send_mld_frame(Instant now, const Ipv6Address& dst, std::size_t len) noexcept {
  const MutableBytes frame = MutableBytes{ndp_buf_}.first(kEth + len);
  emit_ethernet_header(frame, ipv6_multicast_mac(dst), cfg_.mac, EtherType::kIpv6);
  if (!link_.transmit(now, Bytes{frame})) {
    ++counters_.drop_tx_link;
    return;
  }
  ++counters_.tx_frames;
}

void Ipv6Engine::send_error(Instant now, Bytes invoking, bool l2_multicast, Icmpv6Repr err) noexcept {
  const Icmpv6ErrorSubject subject = icmpv6_error_subject(invoking, l2_multicast);
  if (!may_send_error_about(err.type, err.code, subject)) {  // RFC 4443 §2.4 (e)
    ++counters_.icmp6_error_suppressed;
    return;
  }
  // From the address the packet was sent to when it is ours, else the best source toward its sender.
  std::optional<Ipv6Address> src;
  if (is_local(subject.dst)) src = subject.dst;
  else src = select_source(subject.src);
  if (!src) {
    ++counters_.icmp6_error_suppressed;
    return;
  }
  if (!limiter_.allow(now, limiter_key(subject.src), rng_)) {  // RFC 4443 §2.4 (f)
    ++counters_.icmp6_rate_limited;
    return;
  }
  const Bytes quote = icmpv6_error_quote(invoking);  // RFC 4443 §2.4 (c): the error fits 1280 bytes
  std::memcpy(quote_buf_.data(), quote.data(), quote.size());
  err.data = Bytes{quote_buf_.data(), quote.size()};
  const SendResult r = send_from(now, *src, subject.src, kIcmpv6Proto, hop_limit_, 0, false, err.buffer_len(),
                                 [&](MutableBytes out, const PseudoHeader& ph) { err.emit(out, ph); });
  if (r == SendResult::kSent || r == SendResult::kQueued) ++counters_.icmp6_errors_sent;
}

SendResult Ipv6Engine::send_echo_request(Instant now, const Ipv6Address& dst, std::uint16_t ident, std::uint16_t seq,
                                         Bytes data) noexcept {
  const Icmpv6Repr req = Icmpv6Repr::echo_request(ident, seq, data);
  IpSendParams p;
  p.dst = dst;
  p.protocol = kIcmpv6Proto;
  p.ttl = hop_limit_;
  const SendResult r = send(now, p, req.buffer_len(), [&](MutableBytes out, const PseudoHeader& ph) { req.emit(out, ph); });
  if (r == SendResult::kSent || r == SendResult::kQueued) ++counters_.icmp6_echo_requests_sent;
  return r;
}

}  // namespace tapstack::ip
