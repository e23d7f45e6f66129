// Real IPv6 traces (tests/data/ipv6_*.pcap, see README.md there) through the IPv6 header view, the chain
// walker, ICMPv6/NDP/MLDv2 parsing and Reassembler6 on the capture's own clock: exact fields as tcpdump shows them.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "ip/icmpv6.hpp"
#include "ip/ipv6.hpp"
#include "ip/ndp_options.hpp"
#include "ip/reassembly6.hpp"

namespace tapstack::ip {
namespace {

std::string data_path(const std::string& name) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

struct Frame {
  std::size_t number = 0;  // 1-based, as tcpdump counts
  Instant at;
  std::vector<std::byte> ip;  // the Ethernet payload of an EtherType 0x86dd frame
};

std::vector<Frame> read_ipv6_frames(const std::string& name) {
  std::vector<Frame> out;
  Tins::FileSniffer sniffer(data_path(name));
  sniffer.set_extract_raw_pdus(true);  // the bytes as captured
  std::size_t n = 0;
  for (Tins::Packet pkt = sniffer.next_packet(); pkt; pkt = sniffer.next_packet()) {
    ++n;
    const auto* raw = pkt.pdu()->find_pdu<Tins::RawPDU>();
    if (raw == nullptr) continue;
    const Bytes b = std::as_bytes(std::span{raw->payload()});
    if (b.size() < 14 || load_be16(b, 12) != 0x86dd) continue;
    Frame f;
    f.number = n;
    f.at = Instant::from_micros(std::int64_t(pkt.timestamp().seconds()) * 1'000'000 + pkt.timestamp().microseconds());
    f.ip.assign(b.begin() + 14, b.end());
    out.push_back(std::move(f));
  }
  return out;
}

// A frame taken apart: header, chain, and (for ICMPv6) the verified message.
struct Dissected {
  std::optional<Ipv6View> ip;
  std::optional<Ipv6Chain> chain;
  std::optional<Icmpv6View> icmp;
};
Dissected dissect(const Frame& f) {
  Dissected d;
  d.ip = Ipv6View::parse(f.ip);
  EXPECT_TRUE(d.ip) << "frame " << f.number;
  if (!d.ip) return d;
  Ipv6ChainFailure why;
  d.chain = walk_ipv6_chain(*d.ip, &why);
  EXPECT_TRUE(d.chain) << "frame " << f.number << ": " << why.error;
  if (!d.chain || d.chain->upper_layer != std::uint8_t(IpProtocol::kIcmpv6)) return d;
  Icmpv6Error e{};
  d.icmp = Icmpv6View::parse(d.ip->bytes().subspan(d.chain->upper_layer_offset),
                             PseudoHeader{d.ip->src(), d.ip->dst(), 58, 0}, &e);
  EXPECT_TRUE(d.icmp) << "frame " << f.number << ": " << e;
  return d;
}

std::optional<NdpRepr> ndp(const Dissected& d, NdpError* why = nullptr) {
  return parse_ndp(*d.icmp, NdpContext{d.ip->src(), d.ip->dst(), d.ip->hop_limit(), false}, why);
}

Ipv6Address a6(const char* s) { return *Ipv6Address::parse(s); }
const MacAddress kRouterMac{{0xc2, 0x00, 0x54, 0xf5, 0x00, 0x00}};

TEST(Ipv6Pcap, NdpDadNaRaMld_CountsAndEveryNdpMessageValidates) {
  const auto frames = read_ipv6_frames("ipv6_ndp_dad_na_ra_mld.pcap");
  ASSERT_EQ(frames.size(), 20u);
  std::map<std::uint8_t, int> types;
  for (const auto& f : frames) {
    const auto d = dissect(f);
    ASSERT_TRUE(d.icmp) << "frame " << f.number;
    ++types[d.icmp->type()];
    if (d.icmp->type() >= 133 && d.icmp->type() <= 137) {
      NdpError why{};
      EXPECT_TRUE(ndp(d, &why)) << "frame " << f.number << ": " << why;
      // The same message arriving with hop limit 254 would have crossed a router: refused.
      EXPECT_FALSE(parse_ndp(*d.icmp, NdpContext{d.ip->src(), d.ip->dst(), 254, false}, &why));
      EXPECT_EQ(why, NdpError::kBadHopLimit);
    }
  }
  EXPECT_EQ(types[135], 5);  // NS
  EXPECT_EQ(types[136], 2);  // NA
  EXPECT_EQ(types[134], 4);  // RA
  EXPECT_EQ(types[133], 1);  // RS
  EXPECT_EQ(types[143], 4);  // MLDv2 report
  EXPECT_EQ(types[131], 4);  // MLDv1 report
}

TEST(Ipv6Pcap, NdpDadNeighborSolicitFromUnspecified) {
  const auto frames = read_ipv6_frames("ipv6_ndp_dad_na_ra_mld.pcap");
  const auto d = dissect(frames[0]);
  ASSERT_TRUE(d.icmp);
  EXPECT_EQ(d.ip->src(), Ipv6Address{});
  EXPECT_EQ(d.ip->dst(), a6("ff02::1:fff5:0"));
  EXPECT_EQ(d.ip->hop_limit(), 255);
  EXPECT_EQ(d.ip->traffic_class(), 0xe0);
  const auto r = ndp(d);
  ASSERT_TRUE(r);
  const auto& ns = std::get<NeighborSolicitRepr>(*r);
  EXPECT_EQ(ns, NeighborSolicitRepr::dad(a6("fe80::c000:54ff:fef5:0")));
  EXPECT_EQ(solicited_node_multicast(ns.target), d.ip->dst());
  EXPECT_EQ(ns.target, link_local_from_mac(kRouterMac));
  // Our DAD probe for the same target is the same message, byte for byte.
  std::vector<std::byte> ours(ns.buffer_len());
  ns.emit(ours, PseudoHeader{Ipv6Address{}, d.ip->dst(), 58, 0});
  EXPECT_TRUE(std::ranges::equal(ours, d.icmp->bytes()));
  // Frame 6: DAD for the SLAAC address of the advertised prefix.
  const auto d6 = dissect(frames[5]);
  EXPECT_EQ(std::get<NeighborSolicitRepr>(*ndp(d6)).target,
            ipv6_with_interface_id(a6("2001:db8:0:1::"), modified_eui64(kRouterMac)));
}

TEST(Ipv6Pcap, NdpUnsolicitedNeighborAdvertWithTlla) {
  const auto frames = read_ipv6_frames("ipv6_ndp_dad_na_ra_mld.pcap");
  const auto d = dissect(frames[1]);
  ASSERT_TRUE(d.icmp);
  EXPECT_EQ(d.ip->dst(), kIpv6AllNodes);
  const auto r = ndp(d);
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<NeighborAdvertRepr>(*r),
            (NeighborAdvertRepr{true, false, true, a6("fe80::c000:54ff:fef5:0"), kRouterMac}));
  std::vector<std::byte> ours(32);
  std::get<NeighborAdvertRepr>(*r).emit(ours, PseudoHeader{d.ip->src(), d.ip->dst(), 58, 0});
  EXPECT_TRUE(std::ranges::equal(ours, d.icmp->bytes()));
  EXPECT_EQ(std::get<NeighborAdvertRepr>(*ndp(dissect(frames[8]))).target, a6("2001:db8:0:1:c000:54ff:fef5:0"));
}

TEST(Ipv6Pcap, NdpRouterAdvertWithSllaMtuAndPrefix) {
  const auto frames = read_ipv6_frames("ipv6_ndp_dad_na_ra_mld.pcap");
  for (std::size_t i : {2u, 9u, 10u, 14u}) {
    const auto d = dissect(frames[i]);
    ASSERT_TRUE(d.icmp);
    const auto r = ndp(d);
    ASSERT_TRUE(r) << "frame " << frames[i].number;
    const auto& ra = std::get<RouterAdvertRepr>(*r);
    EXPECT_EQ(ra.cur_hop_limit, 64);
    EXPECT_FALSE(ra.managed);
    EXPECT_FALSE(ra.other);
    EXPECT_EQ(ra.router_lifetime, 1800);
    EXPECT_EQ(ra.reachable_time, 0u);
    EXPECT_EQ(ra.retrans_timer, 0u);
    EXPECT_EQ(ra.options.source_link_addr, kRouterMac);
    EXPECT_EQ(ra.options.mtu, 1500u);
    ASSERT_EQ(ra.options.prefix_count, 1u);
    EXPECT_EQ(ra.options.unknown_count, 0u);
    ra.options.for_each_prefix([](const PrefixInfo& p) {
      EXPECT_EQ(p, (PrefixInfo{64, true, true, 2592000, 604800, a6("2001:db8:0:1::")}));
    });
  }
}

TEST(Ipv6Pcap, NdpRouterSolicitFromUnspecified) {
  const auto frames = read_ipv6_frames("ipv6_ndp_dad_na_ra_mld.pcap");
  const auto d = dissect(frames[12]);
  EXPECT_EQ(d.ip->dst(), kIpv6AllRouters);
  EXPECT_EQ(std::get<RouterSolicitRepr>(*ndp(d)), RouterSolicitRepr{});
}

TEST(Ipv6Pcap, Mldv2ReportsWithHopByHopRouterAlert) {
  const auto frames = read_ipv6_frames("ipv6_ndp_dad_na_ra_mld.pcap");
  const std::vector<std::pair<std::size_t, const char*>> reports{
      {3, "ff02::2"}, {4, "ff02::1:fff5:0"}, {6, "ff02::1:fff5:0"}, {7, "ff02::2"}};
  for (const auto& [i, group] : reports) {
    const auto d = dissect(frames[i]);
    ASSERT_TRUE(d.icmp) << i;
    EXPECT_EQ(d.ip->hop_limit(), 1);
    EXPECT_EQ(d.ip->dst(), kIpv6AllMldv2Routers);
    EXPECT_EQ(d.chain->header_count, 1u);
    EXPECT_EQ(d.chain->router_alert, kRouterAlertMld);
    EXPECT_EQ(d.chain->upper_layer_offset, 48u);
    const auto rep = Mldv2Report::parse(*d.icmp);
    ASSERT_TRUE(rep);
    EXPECT_EQ(rep->record_count, 1);
    rep->for_each_record([&, group = group](const MldRecordView& r) {
      EXPECT_EQ(r.type, MldRecordType::kChangeToExclude);
      EXPECT_EQ(r.group, a6(group));
      EXPECT_EQ(r.source_count, 0);
    });
    // Our report packet for the same join is the captured packet, byte for byte.
    const std::array<MldRecord, 1> recs{MldRecord::join(a6(group))};
    std::vector<std::byte> ours(mldv2_report_packet_len(1));
    ASSERT_EQ(emit_mldv2_report_packet(ours, d.ip->src(), recs, d.ip->traffic_class()), ours.size());
    EXPECT_TRUE(std::ranges::equal(ours, d.ip->bytes())) << "frame " << frames[i].number;
  }
}

TEST(Ipv6Pcap, RaWithRdnssAndDnssl) {
  const auto frames = read_ipv6_frames("ipv6_ra_rdnss_dnssl.pcap");
  ASSERT_EQ(frames.size(), 5u);
  std::map<std::uint8_t, int> types;
  for (const auto& f : frames) {
    const auto d = dissect(f);
    ASSERT_TRUE(d.icmp);
    ++types[d.icmp->type()];
    if (d.icmp->type() == 143) {
      EXPECT_TRUE(Mldv2Report::parse(*d.icmp)) << f.number;
    }
  }
  EXPECT_EQ(types[134], 1);
  EXPECT_EQ(types[143], 3);
  EXPECT_EQ(types[130], 1);

  const auto d = dissect(frames[0]);
  const auto r = ndp(d);
  ASSERT_TRUE(r);
  const auto& ra = std::get<RouterAdvertRepr>(*r);
  EXPECT_EQ(ra.cur_hop_limit, 64);
  EXPECT_EQ(ra.flags, 0x20);  // home agent (RFC 6275)
  EXPECT_EQ(ra.router_lifetime, 15);
  EXPECT_EQ(ra.options.source_link_addr, (MacAddress{{0xb0, 0x99, 0x28, 0xc8, 0xd6, 0x6c}}));
  EXPECT_EQ(ra.options.mtu, 100u);  // parsed as sent; the interface ignores an MTU below 1280
  EXPECT_EQ(ra.options.prefix_count, 1u);
  EXPECT_EQ(ra.options.rdnss_count, 1u);
  EXPECT_EQ(ra.options.dnssl_count, 1u);
  EXPECT_EQ(ra.options.unknown_count, 2u);  // advertisement interval (7), home agent information (8)
  ra.options.for_each_prefix([](const PrefixInfo& p) {
    EXPECT_EQ(p, (PrefixInfo{72, true, true, 2592000, 604800, a6("2222:3333:4444:5555:6600::")}));
  });
  std::vector<Ipv6Address> servers;
  ra.options.for_each_rdnss([&](const RdnssInfo& i) {
    EXPECT_EQ(i.lifetime, 5u);
    for (std::size_t k = 0; k < i.count(); ++k) servers.push_back(i.address(k));
  });
  EXPECT_EQ(servers, (std::vector<Ipv6Address>{a6("abcd::efef"), a6("1234:5678::1")}));

  // The same RA with the RDNSS length made even (5 -> 4, CVE-2020-16898) is refused as a whole.
  std::vector<std::byte> msg(d.icmp->bytes().begin(), d.icmp->bytes().end());
  const std::size_t rdnss_at = 16 + 32;  // fixed part, then the 32-byte PIO
  ASSERT_EQ(std::uint8_t(msg[rdnss_at]), 25);
  ASSERT_EQ(std::uint8_t(msg[rdnss_at + 1]), 5);
  msg[rdnss_at + 1] = std::byte{4};
  store_be16(msg, 2, 0);
  store_be16(msg, 2, icmpv6_checksum(msg, d.ip->src(), d.ip->dst()));
  auto v = Icmpv6View::parse(msg, PseudoHeader{d.ip->src(), d.ip->dst(), 58, 0});
  ASSERT_TRUE(v);
  NdpError why{};
  NdpOptionError owhy{};
  EXPECT_FALSE(parse_ndp(*v, NdpContext{d.ip->src(), d.ip->dst(), 255, false}, &why, &owhy));
  EXPECT_EQ(why, NdpError::kBadOptions);
  EXPECT_EQ(owhy, NdpOptionError::kBadRdnss);
}

TEST(Ipv6Pcap, PacketTooBigWithItsEmbeddedHeader) {
  const auto frames = read_ipv6_frames("ipv6_icmp6_packet_too_big.pcap");
  ASSERT_EQ(frames.size(), 1u);
  const auto d = dissect(frames[0]);
  ASSERT_TRUE(d.icmp);
  EXPECT_EQ(d.ip->src(), a6("fe80::dead"));
  EXPECT_EQ(d.ip->dst(), a6("fe80::beef"));
  const auto r = Icmpv6Repr::parse(*d.icmp);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, Icmpv6Type::kPacketTooBig);
  EXPECT_EQ(r->mtu, 1280u);
  EXPECT_FALSE(r->mtu_below_minimum());
  EXPECT_EQ(r->data.size(), 52u);
  const auto q = parse_icmpv6_quote(r->data);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->src, a6("fe80::beef"));  // the packet the receiver of this error had sent
  EXPECT_EQ(q->dst, a6("fe80::dead"));
  EXPECT_EQ(q->upper_layer, 17);
  EXPECT_EQ(q->frag_offset, 0);
  ASSERT_EQ(q->transport.size(), 12u);
  EXPECT_EQ(load_be16(q->transport, 0), 30000);
  EXPECT_EQ(load_be16(q->transport, 2), 13000);
  EXPECT_EQ(load_be16(q->transport, 4), 12);
  // Our Packet Too Big about the same quote is the captured message, byte for byte.
  std::vector<std::byte> ours(r->buffer_len());
  Icmpv6Repr::packet_too_big(1280, r->data).emit(ours, PseudoHeader{d.ip->src(), d.ip->dst(), 58, 0});
  EXPECT_TRUE(std::ranges::equal(ours, d.icmp->bytes()));
}

TEST(Ipv6Pcap, FragmentedDnsReassemblesAndTheIncompleteSetTimesOut) {
  const auto frames = read_ipv6_frames("ipv6_frag_dns.pcap");
  ASSERT_EQ(frames.size(), 8u);
  Reassembler6 r;
  std::vector<std::vector<std::byte>> datagrams;  // reassembled or whole UDP packets, as IPv6 packets
  std::size_t whole_udp = 0;
  Instant last;
  for (const auto& f : frames) {
    last = f.at;
    r.poll(f.at);
    const auto d = dissect(f);
    ASSERT_TRUE(d.chain);
    if (!d.chain->needs_reassembly()) {
      EXPECT_EQ(d.chain->upper_layer, 17);
      ++whole_udp;
      continue;
    }
    const auto res = r.add(f.at, *d.ip, *d.chain);
    ASSERT_NE(res.status, Reassembly6Status::kDropped) << "frame " << f.number;
    ASSERT_NE(res.status, Reassembly6Status::kParamProblem) << "frame " << f.number;
    if (res.status == Reassembly6Status::kComplete) {
      EXPECT_EQ(f.number, 8u);
      datagrams.emplace_back(res.packet.begin(), res.packet.end());
    }
  }
  EXPECT_EQ(whole_udp, 4u);
  EXPECT_EQ(r.counters().fragments, 4u);
  ASSERT_EQ(datagrams.size(), 1u);
  EXPECT_EQ(r.counters().reassembled, 1u);

  auto v = Ipv6View::parse(datagrams[0]);
  ASSERT_TRUE(v);
  auto chain = walk_ipv6_chain(*v);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->upper_layer, 17);
  EXPECT_FALSE(chain->fragment);
  const Bytes udp = v->bytes().subspan(chain->upper_layer_offset);
  EXPECT_EQ(udp.size(), 1432u + 1432u + 374u);
  EXPECT_EQ(load_be16(udp, 0), 53);
  EXPECT_EQ(load_be16(udp, 2), 51851);
  EXPECT_EQ(load_be16(udp, 4), udp.size());
  Checksum c;
  PseudoHeader{v->src(), v->dst(), 17, std::uint32_t(udp.size())}.add_to(c);
  c.add(udp);
  EXPECT_EQ(c.finish(), 0) << "the reassembled UDP checksum verifies";

  // Fragment id 1 only ever had its last fragment: it times out 60 s after it arrived (frame 4), without
  // a Time Exceeded report since its first fragment never came.
  EXPECT_EQ(r.datagrams_in_flight(), 1u);
  ASSERT_TRUE(r.poll_at());
  EXPECT_EQ(*r.poll_at(), frames[3].at + seconds(60));
  int reports = 0;
  r.poll(last + seconds(60), [&](Bytes) { ++reports; });
  EXPECT_EQ(r.counters().drop_timeout, 1u);
  EXPECT_EQ(reports, 0);
  EXPECT_EQ(r.datagrams_in_flight(), 0u);
  EXPECT_EQ(r.bytes_held(), 0u);
}

}  // namespace
}  // namespace tapstack::ip
