// The DNS parser and TCP framer against real captures (tests/data/dns_*.pcap, see its README): every
// message parses with the counts and addresses tcpdump shows, libtins agrees on each record, the
// malicious pointer loop is refused at once, the pointer-hop limit holds, TC=1 is read, and DNS over TCP
// with the length prefix in its own segment reassembles.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dns/message.hpp"
#include "dns/tcp_framing.hpp"

namespace tapstack::dns {
namespace {

std::string data_path(const std::string& name) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

// One UDP or TCP payload out of an Ethernet frame, as captured.
struct Payload {
  std::size_t frame = 0;  // 1-based, as tcpdump counts
  bool tcp = false;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint32_t tcp_seq = 0;
  std::size_t udp_length_field = 0;
  std::vector<std::byte> bytes;  // UDP: everything after the 8-byte header up to the IP payload's end
  Bytes view() const { return Bytes{bytes}; }
};

// Walks Ethernet / IPv4 or IPv6 / UDP or TCP by hand (the test must not depend on ip/ or udp/). Skips IP
// fragments and frames cut by the snapshot length: reassembly is the IP layer's job. For UDP the payload
// is taken from the IP length, not the UDP length field (dns_bad_compression_loop.pcap lies in it).
std::vector<Payload> read_payloads(const std::string& name) {
  std::vector<Payload> out;
  Tins::FileSniffer sniffer(data_path(name));
  sniffer.set_extract_raw_pdus(true);
  std::size_t frame = 0;
  for (Tins::Packet pkt = sniffer.next_packet(); pkt; pkt = sniffer.next_packet()) {
    ++frame;
    const auto* raw = pkt.pdu()->find_pdu<Tins::RawPDU>();
    if (raw == nullptr) continue;
    const Bytes f = std::as_bytes(std::span{raw->payload()});
    if (f.size() < 14) continue;
    const std::uint16_t ethertype = load_be16(f, 12);
    const Bytes l3 = f.subspan(14);
    Bytes l4;
    std::uint8_t proto = 0;
    if (ethertype == 0x0800 && l3.size() >= 20) {
      const std::size_t ihl = std::size_t(load_u8(l3, 0) & 0x0f) * 4;
      const std::size_t total = load_be16(l3, 2);
      if ((load_be16(l3, 6) & 0x3fff) != 0) continue;  // MF or an offset: a fragment
      if (ihl < 20 || total < ihl || total > l3.size()) continue;
      proto = load_u8(l3, 9);
      l4 = l3.subspan(ihl, total - ihl);
    } else if (ethertype == 0x86dd && l3.size() >= 40) {
      const std::size_t plen = load_be16(l3, 4);
      if (40 + plen > l3.size()) continue;
      proto = load_u8(l3, 6);  // no extension headers in these traces (a Fragment header is skipped here)
      l4 = l3.subspan(40, plen);
    } else {
      continue;
    }
    Payload p;
    p.frame = frame;
    if (proto == 17 && l4.size() >= 8) {
      p.src_port = load_be16(l4, 0);
      p.dst_port = load_be16(l4, 2);
      p.udp_length_field = load_be16(l4, 4);
      const Bytes body = l4.subspan(8);
      p.bytes.assign(body.begin(), body.end());
    } else if (proto == 6 && l4.size() >= 20) {
      const std::size_t hlen = std::size_t(load_u8(l4, 12) >> 4) * 4;
      if (hlen < 20 || hlen > l4.size()) continue;
      p.tcp = true;
      p.src_port = load_be16(l4, 0);
      p.dst_port = load_be16(l4, 2);
      p.tcp_seq = load_be32(l4, 4);
      const Bytes body = l4.subspan(hlen);
      if (body.empty()) continue;
      p.bytes.assign(body.begin(), body.end());
    } else {
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

Message parse_ok(Bytes b, std::size_t frame, const ParseOptions& opt = {}) {
  DropReason why{};
  auto m = Message::parse(b, &why, opt);
  EXPECT_TRUE(m) << "frame " << frame << ": " << why;
  return m.value_or(Message{});
}

// libtins as a second opinion on every record of every section: owner, type, class, TTL and, for A and
// AAAA, the address.
void cross_check_with_tins(Bytes b, const Message& m, std::size_t frame) {
  const Tins::DNS t(reinterpret_cast<const std::uint8_t*>(b.data()), std::uint32_t(b.size()));
  EXPECT_EQ(t.id(), m.header.id) << frame;
  EXPECT_EQ(t.truncated(), m.header.tc ? 1 : 0) << frame;
  const auto check = [&](const Tins::DNS::resources_type& theirs, const std::vector<Record>& ours, const char* sec) {
    ASSERT_EQ(theirs.size(), ours.size()) << "frame " << frame << ' ' << sec;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      const auto& r = ours[i];
      SCOPED_TRACE(::testing::Message() << "frame " << frame << ' ' << sec << '[' << i << "] " << r);
      EXPECT_EQ(theirs[i].query_type(), std::uint16_t(r.type));
      EXPECT_EQ(theirs[i].query_class(), std::uint16_t(r.rclass));
      // libtins prints the root as "" and never a trailing dot.
      EXPECT_EQ(theirs[i].dname(), r.name.is_root() ? std::string() : r.name.to_string());
      if (r.type != Type::kOpt) {
        const std::uint32_t raw = theirs[i].ttl();
        EXPECT_EQ(r.ttl, (raw & 0x80000000u) != 0 ? 0 : std::min(raw, kDefaultMaxTtl));
      }
      if (const auto* a = r.a()) {
        EXPECT_EQ(theirs[i].data(), a->to_string());
      } else if (const auto* a6 = r.aaaa()) {
        EXPECT_EQ(theirs[i].data(), a6->to_string());
      } else if (const auto* n = r.cname()) {
        EXPECT_EQ(theirs[i].data(), n->to_string());
      }
    }
  };
  check(t.answers(), m.answers, "AN");
  check(t.authority(), m.authorities, "NS");
  check(t.additional(), m.additionals, "AR");
}

Name name(std::string_view s) { return *Name::from_text(s); }
ip::IpAddress addr(const char* s) { return *ip::IpAddress::parse(s); }

TEST(DnsPcap, AAndAaaaOverUdp) {
  struct Expect {
    std::uint16_t id;
    bool qr;
    Rcode rcode;
    std::uint16_t an, ns, ar;
    const char* qname;
    Type qtype;
    std::vector<const char*> addresses;  // answers_for(question)
  };
  const std::vector<Expect> expect = {
      {31428, false, Rcode::kNoError, 0, 0, 0, "h.root-servers.net", Type::kA, {}},
      {5824, false, Rcode::kNoError, 0, 0, 0, "h.root-servers.net", Type::kAaaa, {}},
      {31428, true, Rcode::kNoError, 1, 0, 0, "h.root-servers.net", Type::kA, {"198.97.190.53"}},
      {5824, true, Rcode::kNoError, 1, 0, 0, "h.root-servers.net", Type::kAaaa, {"2001:500:1::53"}},
      {56979, false, Rcode::kNoError, 0, 0, 1, "ns1.dns.nic.aaa", Type::kNs, {}},
      {56979, true, Rcode::kNoError, 0, 6, 13, "ns1.dns.nic.aaa", Type::kNs, {}},
      {48648, false, Rcode::kNoError, 0, 0, 0, "g.root-servers.net", Type::kA, {}},
      {48141, false, Rcode::kNoError, 0, 0, 0, "g.root-servers.net", Type::kAaaa, {}},
      {48648, true, Rcode::kNoError, 1, 0, 0, "g.root-servers.net", Type::kA, {"192.112.36.4"}},
      {48141, true, Rcode::kNoError, 1, 0, 0, "g.root-servers.net", Type::kAaaa, {"2001:500:12::d0d"}},
      {35713, false, Rcode::kNoError, 0, 0, 1, "net", Type::kA, {}},
      {35713, true, Rcode::kNoError, 0, 13, 27, "net", Type::kA, {}},
      {960, false, Rcode::kNoError, 0, 0, 1, "dnssec-failed.org", Type::kA, {}},
      {960, true, Rcode::kServFail, 0, 0, 1, "dnssec-failed.org", Type::kA, {}},
  };
  const auto payloads = read_payloads("dns_a_aaaa_udp.pcap");
  ASSERT_EQ(payloads.size(), expect.size());
  for (std::size_t i = 0; i < expect.size(); ++i) {
    const auto& p = payloads[i];
    const auto& e = expect[i];
    SCOPED_TRACE(::testing::Message() << "frame " << p.frame);
    EXPECT_EQ(p.udp_length_field, p.bytes.size() + 8);
    const Message m = parse_ok(p.view(), p.frame);
    EXPECT_EQ(m.header.id, e.id);
    EXPECT_EQ(m.header.qr, e.qr);
    EXPECT_EQ(m.header.rcode, e.rcode);
    EXPECT_EQ(m.answers.size(), e.an);
    EXPECT_EQ(m.authorities.size(), e.ns);
    EXPECT_EQ(m.additionals.size(), e.ar);
    EXPECT_EQ(m.records_dropped, 0u);
    ASSERT_EQ(m.questions.size(), 1u);
    EXPECT_EQ(m.questions[0], (Question{name(e.qname), e.qtype, Class::kIn}));
    const Answers a = answers_for(m, m.questions[0].name, m.questions[0].type);
    std::vector<ip::IpAddress> got;
    for (const auto& x : a.addresses) got.push_back(x.address);
    std::vector<ip::IpAddress> want;
    for (const char* s : e.addresses) want.push_back(addr(s));
    EXPECT_EQ(got, want);
    cross_check_with_tins(p.view(), m, p.frame);
  }
  // The referral from a root server: 13 NS for "net" and 27 glue records, all compressed.
  const Message referral = parse_ok(payloads[11].view(), payloads[11].frame);
  EXPECT_EQ(referral.authorities[0].name, name("net"));
  EXPECT_EQ(referral.authorities[0].type, Type::kNs);
  ASSERT_TRUE(referral.edns);
  EXPECT_EQ(referral.edns->udp_payload_size, 1232);
}

TEST(DnsPcap, CompressionAndEdns) {
  const auto payloads = read_payloads("dns_a_udp_compression_edns.pcap");
  ASSERT_EQ(payloads.size(), 2u);

  const Message q = parse_ok(payloads[0].view(), payloads[0].frame);
  EXPECT_EQ(q.header.id, 22836);
  EXPECT_FALSE(q.header.qr);
  EXPECT_TRUE(q.header.rd);
  ASSERT_EQ(q.questions.size(), 1u);
  EXPECT_EQ(q.questions[0], (Question{name("www.tcpdump.org"), Type::kA, Class::kIn}));
  ASSERT_TRUE(q.edns);
  EXPECT_EQ(q.edns->udp_payload_size, 4096);
  ASSERT_EQ(q.additionals.size(), 1u);
  ASSERT_NE(q.additionals[0].raw(), nullptr);
  EXPECT_EQ(q.additionals[0].raw()->size(), 12u);  // COOKIE option: code 10, length 8, 8 octets

  const Message r = parse_ok(payloads[1].view(), payloads[1].frame);
  EXPECT_EQ(r.header.id, 22836);
  EXPECT_TRUE(r.header.qr);
  EXPECT_TRUE(r.header.aa);
  ASSERT_EQ(r.answers.size(), 2u);
  ASSERT_EQ(r.authorities.size(), 2u);
  ASSERT_EQ(r.additionals.size(), 5u);
  EXPECT_EQ(r.answers[0].name, name("www.tcpdump.org"));
  EXPECT_EQ(*r.answers[0].a(), *ip::Ipv4Address::parse("192.139.46.66"));
  EXPECT_EQ(*r.answers[1].a(), *ip::Ipv4Address::parse("198.199.88.104"));
  EXPECT_EQ(r.answers[0].ttl, 60u);  // tcpdump: [1m]
  EXPECT_EQ(r.authorities[0].name, name("tcpdump.org"));
  EXPECT_EQ(r.authorities[0].type, Type::kNs);
  EXPECT_EQ(r.authorities[0].ttl, 86400u);  // [1d]
  EXPECT_EQ(r.additionals[0].name, name("nic.sandelman.ca"));
  EXPECT_EQ(*r.additionals[0].a(), *ip::Ipv4Address::parse("209.87.249.18"));
  EXPECT_EQ(r.additionals[0].ttl, 300u);  // [5m]
  EXPECT_EQ(*r.additionals[1].aaaa(), *ip::Ipv6Address::parse("2607:f0b0:f::babe:f00d"));
  EXPECT_EQ(r.additionals[2].name, name("sns.cooperix.net"));
  EXPECT_EQ(*r.additionals[2].a(), *ip::Ipv4Address::parse("97.107.133.15"));
  EXPECT_EQ(r.additionals[2].ttl, 7200u);  // [2h]
  EXPECT_EQ(*r.additionals[3].aaaa(), *ip::Ipv6Address::parse("2600:3c03::f03c:91ff:fe96:e8ef"));
  EXPECT_EQ(r.additionals[4].type, Type::kOpt);
  ASSERT_TRUE(r.edns);
  EXPECT_EQ(r.edns->udp_payload_size, 4096);
  cross_check_with_tins(payloads[1].view(), r, payloads[1].frame);

  // Only the answer section counts: the glue A/AAAA in the additional section is not an answer.
  const Answers a = answers_for(r, q.questions[0].name, Type::kA);
  EXPECT_EQ(a.end, Answers::End::kAddresses);
  EXPECT_EQ(a.addresses, (std::vector<AddressAnswer>{{addr("192.139.46.66"), 60}, {addr("198.199.88.104"), 60}}));
  EXPECT_TRUE(answers_for(r, q.questions[0].name, Type::kAaaa).addresses.empty());
}

TEST(DnsPcap, BadCompressionLoopRejectedAtOnce) {
  const auto payloads = read_payloads("dns_bad_compression_loop.pcap");
  ASSERT_EQ(payloads.size(), 1u);
  const auto& p = payloads[0];
  // The UDP length field says 8 (no payload) while the IP total is 63: the UDP layer drops this as a bad
  // length. The bytes after the UDP header are parsed here directly.
  EXPECT_EQ(p.udp_length_field, 8u);
  ASSERT_EQ(p.bytes.size(), 63u - 20 - 8);
  const auto h = Header::parse(p.view());
  ASSERT_TRUE(h);
  EXPECT_EQ(h->qdcount, 1);
  DropReason why{};
  EXPECT_FALSE(Message::parse(p.view(), &why));
  EXPECT_EQ(why, DropReason::kPointerLoop);  // the question name is "c00c": a pointer to itself
  // Refused without following a single pointer: the rule is structural, not the hop limit.
  ParseOptions no_hops;
  no_hops.max_pointer_hops = 0;
  EXPECT_FALSE(Message::parse(p.view(), &why, no_hops));
  EXPECT_EQ(why, DropReason::kPointerLoop);
  // Every pointer in the chain c00c c007 c010 ... is refused on its own too.
  for (std::size_t off = 12; off + 2 <= 28; off += 2) {
    EXPECT_FALSE(Name::parse(p.view(), off, &why)) << off;
  }
}

TEST(DnsPcap, CompressionChainDepthWithinHopLimit) {
  const auto payloads = read_payloads("dns_compression_chain_depth.pcap");
  ASSERT_EQ(payloads.size(), 1u);
  const auto& p = payloads[0];
  const Message m = parse_ok(p.view(), p.frame);
  EXPECT_EQ(m.header.id, 4660);
  ASSERT_EQ(m.answers.size(), 7u);
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(m.answers[i].name, name("a"));
    EXPECT_EQ(*m.answers[i].a(), (ip::Ipv4Address{{127, 0, 0, std::uint8_t(i + 1)}}));
    EXPECT_EQ(m.answers[i].ttl, 300u);
  }
  cross_check_with_tins(p.view(), m, p.frame);
  EXPECT_EQ(answers_for(m, name("a"), Type::kA).addresses.size(), 7u);

  // The last owner name is 6 pointers deep: a limit of 6 passes, 5 does not.
  ParseOptions six;
  six.max_pointer_hops = 6;
  EXPECT_TRUE(Message::parse(p.view(), nullptr, six));
  ParseOptions five;
  five.max_pointer_hops = 5;
  DropReason why{};
  EXPECT_FALSE(Message::parse(p.view(), &why, five));
  EXPECT_EQ(why, DropReason::kPointerLoop);
}

TEST(DnsPcap, TruncatedUdpResponsesThenTcp) {
  const auto payloads = read_payloads("dns_tc_udp_then_tcp_mixed.pcap");
  std::set<std::size_t> tc_frames;
  std::size_t udp_messages = 0, tcp_messages = 0;
  for (const auto& p : payloads) {
    SCOPED_TRACE(::testing::Message() << "frame " << p.frame);
    if (!p.tcp) {
      ++udp_messages;
      const Message m = parse_ok(p.view(), p.frame);
      if (m.header.tc) {
        tc_frames.insert(p.frame);
        EXPECT_TRUE(m.header.qr);
      }
      cross_check_with_tins(p.view(), m, p.frame);
      continue;
    }
    // Each TCP segment here carries exactly one length-prefixed message.
    TcpFramer framer;
    std::vector<std::vector<std::byte>> got;
    EXPECT_EQ(framer.feed(p.view(), [&](Bytes b) { got.emplace_back(b.begin(), b.end()); }),
              TcpFramer::Status::kOk);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(framer.buffered(), 0u);
    ++tcp_messages;
    const Message m = parse_ok(Bytes{got[0]}, p.frame);
    EXPECT_FALSE(m.header.tc);  // the full answer the TC=1 reply sent the resolver to fetch
    cross_check_with_tins(Bytes{got[0]}, m, p.frame);
  }
  // tcpdump marks TC with '|': frames 10, 12, 14, 17, 20, 21 and 22.
  EXPECT_EQ(tc_frames, (std::set<std::size_t>{10, 12, 14, 17, 20, 21, 22}));
  // 89 frames: 9 TCP segments with DNS, 8 IP fragments (skipped), 72 whole UDP messages.
  EXPECT_EQ(udp_messages, 72u);
  EXPECT_EQ(tcp_messages, 9u);

  // The TCP retry of frame 10 (53083 DNSKEY? ripe.net, TC) is frame 11: 3 answers instead of 2.
  const auto f10 = std::find_if(payloads.begin(), payloads.end(), [](const Payload& p) { return p.frame == 10; });
  ASSERT_NE(f10, payloads.end());
  const Message truncated = parse_ok(f10->view(), 10);
  EXPECT_EQ(truncated.answers.size(), 2u);
  EXPECT_EQ(truncated.questions.at(0), (Question{name("ripe.net"), Type::kDnskey, Class::kIn}));
}

TEST(DnsPcap, TcpLengthPrefixInItsOwnSegment) {
  const auto payloads = read_payloads("dns_tcp_split_length_prefix.pcap");
  struct Direction {
    TcpFramer framer;
    std::optional<std::uint32_t> next_seq;
    std::vector<Message> messages;
    std::size_t two_octet_segments = 0;
  };
  std::map<std::uint16_t, Direction> by_src_port;  // 51388 (client) and 53 (server)
  for (const auto& p : payloads) {
    ASSERT_TRUE(p.tcp);
    Direction& d = by_src_port[p.src_port];
    if (d.next_seq) {
      EXPECT_EQ(p.tcp_seq, *d.next_seq) << "frame " << p.frame << ": not in order";
    }
    d.next_seq = p.tcp_seq + std::uint32_t(p.bytes.size());
    if (p.bytes.size() == 2) ++d.two_octet_segments;
    EXPECT_EQ(d.framer.feed(p.view(), [&](Bytes b) { d.messages.push_back(parse_ok(b, p.frame)); }),
              TcpFramer::Status::kOk);
  }
  ASSERT_EQ(by_src_port.size(), 2u);
  const Direction& client = by_src_port.at(51388);
  const Direction& server = by_src_port.at(53);
  // 41 queries, each a 2-octet prefix segment followed by the message segment; 41 responses, each one
  // segment holding prefix and message.
  EXPECT_EQ(client.two_octet_segments, 41u);
  ASSERT_EQ(client.messages.size(), 41u);
  ASSERT_EQ(server.messages.size(), 41u);
  EXPECT_EQ(client.framer.buffered(), 0u);
  EXPECT_EQ(server.framer.buffered(), 0u);
  std::size_t a_answers = 0, ptr_answers = 0;
  for (std::size_t i = 0; i < 41; ++i) {
    const Message& q = client.messages[i];
    const Message& r = server.messages[i];
    EXPECT_FALSE(q.header.qr);
    EXPECT_TRUE(r.header.qr);
    EXPECT_EQ(q.header.id, r.header.id) << i;
    ASSERT_EQ(q.questions.size(), 1u);
    EXPECT_EQ(r.questions, q.questions);
    if (q.questions[0].type == Type::kA) {
      ++a_answers;
      EXPECT_EQ(q.questions[0].name, name("google.com"));
      const Answers a = answers_for(r, q.questions[0].name, Type::kA);
      ASSERT_EQ(a.addresses.size(), 1u);
      EXPECT_EQ(a.addresses[0].address, addr("216.58.211.142"));
    } else {
      ++ptr_answers;
      EXPECT_EQ(q.questions[0].type, Type::kPtr);
      EXPECT_EQ(q.questions[0].name, name("206.218.58.216.in-addr.arpa"));
      ASSERT_EQ(r.answers.size(), 4u);
      for (const auto& rr : r.answers) EXPECT_EQ(rr.type, Type::kPtr);
    }
  }
  EXPECT_EQ(a_answers, 24u);
  EXPECT_EQ(ptr_answers, 17u);
}

}  // namespace
}  // namespace tapstack::dns
