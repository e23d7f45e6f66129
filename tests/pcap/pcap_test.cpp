// Replays recorded traces (tests/data, provenance in tests/data/README.md) into ip::Interface through
// tap::PcapReplayLink. The virtual clock jumps to each frame's release time (next_arrival()); the test
// asserts exactly what the stack emitted (parsed by libtins) and which counters moved. Expected numbers
// were computed from the traces with `tcpdump -nn -v -r` (see each test).
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "ip/interface.hpp"
#include "stack/checksum.hpp"
#include "stack/random.hpp"
#include "tap/pcap_replay.hpp"

namespace tapstack {
namespace {

using ip::Interface;
using ip::InterfaceConfig;
using ip::IpProtocol;
using ip::Ipv4Address;
using ip::Ipv4Cidr;
using ip::MacAddress;

std::string data_path(const std::string& name) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

// Counts what reaches it; optionally checks UDP checksums (RFC 768) over the reassembled datagram.
class CountingTransport final : public ip::TransportHandler {
 public:
  std::vector<std::vector<std::byte>> packets;
  std::size_t bad_udp_checksums = 0;
  bool check_udp = false;
  Verdict on_packet(Instant, const ip::IpPacketInfo& info, Bytes payload) noexcept override {
    packets.emplace_back(payload.begin(), payload.end());
    if (check_udp) {
      ip::PseudoHeader ph = info.pseudo();
      ph.length = std::uint32_t(payload.size());
      Checksum c;
      ph.add_to(c).add(payload);
      if (payload.size() < 8 || load_be16(payload, 4) != payload.size() || c.finish() != 0) ++bad_udp_checksums;
    }
    return Verdict::kAccepted;
  }
  void poll(Instant, ip::IpSender&) noexcept override {}
  std::optional<Instant> poll_at() const noexcept override { return std::nullopt; }
};

struct Replay {
  tap::PcapReplayLink link;
  SeededRng rng{2024};
  CountingTransport udp, tcp;
  Interface iface;

  Replay(const std::string& file, MacAddress mac, Ipv4Cidr addr, tap::PcapReplayOptions opts = {})
      : link{data_path(file), std::move(opts)},
        iface{link, InterfaceConfig{.mac = mac, .ipv4 = addr, .ipv6 = false}, rng} {  // IPv4 traces, exact counts
    iface.register_transport(IpProtocol::kUdp, udp);
    iface.register_transport(IpProtocol::kTcp, tcp);
  }
  // Drives the virtual clock from frame to frame until the trace is exhausted.
  void run() {
    Instant now{};
    for (;;) {
      iface.poll(now);
      const auto next = link.next_arrival();
      if (!next) break;
      if (*next > now) now = *next;
    }
  }
  const ip::InterfaceCounters& c() const { return iface.counters(); }
  const ip::ReassemblyCounters& rc() const { return iface.reassembler().counters(); }
};

MacAddress mac(const char* s) { return *MacAddress::parse(s); }
Ipv4Cidr cidr(const char* s) { return *Ipv4Cidr::parse(s); }

// arp_request_reply.pcap: 78:31:c1:c6:3f:c2 (10.0.0.2) asks who-has 10.0.0.1; f8:ed:a5:c0:a4:f1 answers.
// We play 10.0.0.1 with the recorded MAC and replay only the request.
TEST(PcapReplay, ArpRequestGetsTheRecordedReply) {
  tap::PcapReplayOptions opts;
  opts.keep = tap::PcapReplayOptions::from_source_mac({0x78, 0x31, 0xc1, 0xc6, 0x3f, 0xc2});
  Replay r{"arp_request_reply.pcap", mac("f8:ed:a5:c0:a4:f1"), cidr("10.0.0.1/24"), std::move(opts)};
  ASSERT_EQ(r.link.frames().size(), 1u);
  r.run();
  ASSERT_EQ(r.link.sent().size(), 1u);
  const auto& out = r.link.sent()[0].bytes;
  Tins::EthernetII eth(reinterpret_cast<const std::uint8_t*>(out.data()), std::uint32_t(out.size()));
  EXPECT_EQ(eth.dst_addr().to_string(), "78:31:c1:c6:3f:c2");
  EXPECT_EQ(eth.src_addr().to_string(), "f8:ed:a5:c0:a4:f1");
  const auto& arp = eth.rfind_pdu<Tins::ARP>();
  EXPECT_EQ(arp.opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(arp.sender_hw_addr().to_string(), "f8:ed:a5:c0:a4:f1");
  EXPECT_EQ(arp.sender_ip_addr().to_string(), "10.0.0.1");
  EXPECT_EQ(arp.target_hw_addr().to_string(), "78:31:c1:c6:3f:c2");
  EXPECT_EQ(arp.target_ip_addr().to_string(), "10.0.0.2");
  // Byte for byte what the real host answered (its frame is padded to 60; ours is not).
  const auto recorded = tap::PcapReplayLink::read_all(data_path("arp_request_reply.pcap"));
  ASSERT_EQ(recorded.size(), 2u);
  ASSERT_EQ(out.size(), 42u);
  EXPECT_EQ(std::vector<std::byte>(recorded[1].bytes.begin(), recorded[1].bytes.begin() + 42), out);
  EXPECT_EQ(r.c().arp_replies_sent, 1u);
}

// arp_bad_hlen_plen.pcap: 3 broadcast requests from 7e:8e:20:d8:23:a7 and 3 replies from 52:54:00:12:34:57,
// with hlen=255 and/or plen=255. Every ARP frame that reaches us is refused before its addresses are read.
TEST(PcapReplay, ArpWithBadLengthsIsDroppedAsTheResponder) {
  Replay r{"arp_bad_hlen_plen.pcap", mac("52:54:00:12:34:57"), cidr("192.168.123.2/24")};
  ASSERT_EQ(r.link.frames().size(), 6u);
  r.run();
  EXPECT_TRUE(r.link.sent().empty());
  EXPECT_EQ(r.c().drop_arp_invalid, 3u);   // the three broadcast requests
  EXPECT_EQ(r.c().drop_not_our_mac, 3u);   // the replies are addressed to the requester
  EXPECT_EQ(r.iface.arp_cache().size(), 0u);
}

TEST(PcapReplay, ArpWithBadLengthsIsDroppedAsTheRequester) {
  Replay r{"arp_bad_hlen_plen.pcap", mac("7e:8e:20:d8:23:a7"), cidr("192.168.123.1/24")};
  r.run();
  EXPECT_TRUE(r.link.sent().empty());
  EXPECT_EQ(r.c().drop_arp_invalid, 6u);  // every frame
  EXPECT_EQ(r.c().arp_rx, 6u);
  EXPECT_EQ(r.iface.arp_cache().size(), 0u);
}

// ipv4_frag_tcp_reorder_overlap.pcap: frame 1 is to another MAC; frames 2-5 are fragments of one TCP
// datagram 128.32.46.142 -> 10.0.0.1 id 0 at offsets 0 (24 B), 48 (24 B), 72 (17 B, last), 24 (48 B): the
// last one covers 24..72 and overlaps 48..72. Frame 6 is an unfragmented FIN.
TEST(PcapReplay, TcpFragmentsWithOverlapAreDropped) {
  Replay r{"ipv4_frag_tcp_reorder_overlap.pcap", mac("00:01:30:24:9d:00"), cidr("10.0.0.1/24")};
  ASSERT_EQ(r.link.frames().size(), 6u);
  r.run();
  EXPECT_EQ(r.c().drop_not_our_mac, 1u);
  EXPECT_EQ(r.c().ipv4_fragments_rx, 4u);
  EXPECT_EQ(r.rc().drop_overlap, 1u);
  EXPECT_EQ(r.rc().reassembled, 0u);
  EXPECT_EQ(r.c().ipv4_reassembled, 0u);
  // Only the FIN (20-byte TCP header, no fragments) is delivered.
  ASSERT_EQ(r.tcp.packets.size(), 1u);
  EXPECT_EQ(r.tcp.packets[0].size(), 20u);
  EXPECT_EQ(std::uint8_t(r.tcp.packets[0][13]) & 0x01, 0x01);  // FIN
  EXPECT_TRUE(r.link.sent().empty());
}

// ipv4_frag_overlap_udp.pcap: 164.1.123.163 -> 164.1.123.61, id 242: frag@0 with 18 bytes and MF (not a
// multiple of 8: malformed, RFC 791), frag@48 (last, 116 B: total 164), then frag@0 with 304 bytes and MF,
// which overlaps 48..164 and runs past the known end. Nothing may be delivered.
TEST(PcapReplay, InconsistentOverlappingUdpFragmentsAreDropped) {
  Replay r{"ipv4_frag_overlap_udp.pcap", mac("00:60:97:12:2f:58"), cidr("164.1.123.61/24")};
  ASSERT_EQ(r.link.frames().size(), 3u);
  r.run();
  EXPECT_EQ(r.c().ipv4_fragments_rx, 3u);
  EXPECT_EQ(r.rc().drop_bad_fragment_len, 1u);  // 18-byte non-last fragment
  EXPECT_EQ(r.rc().drop_inconsistent, 1u);      // 0..304 against a datagram that ends at 164
  EXPECT_EQ(r.rc().reassembled, 0u);
  EXPECT_TRUE(r.udp.packets.empty());
  EXPECT_TRUE(r.link.sent().empty());
  // The tombstone expires with the datagram's timeout.
  EXPECT_EQ(r.iface.reassembler().datagrams_in_flight(), 0u);
}

// ipv4_frag_tiny_tcp_hdr.pcap: a SYN 192.168.1.100 -> 10.0.0.5 whose 40-byte TCP header (data offset 10)
// is split 24 + 16 bytes. Policy (ip/reassembly.hpp): a first fragment holding the fixed 20-byte header is
// accepted, and nothing is delivered before the datagram is whole, so the transport never sees a partial
// header: it gets exactly one 40-byte segment whose data offset fits.
TEST(PcapReplay, TinyTcpHeaderFragmentIsDeliveredOnlyWhole) {
  Replay r{"ipv4_frag_tiny_tcp_hdr.pcap", mac("1e:0b:8b:14:f6:f9"), cidr("10.0.0.5/24")};
  ASSERT_EQ(r.link.frames().size(), 2u);
  r.run();
  EXPECT_EQ(r.rc().reassembled, 1u);
  EXPECT_EQ(r.rc().drop_tiny_fragment, 0u);
  ASSERT_EQ(r.tcp.packets.size(), 1u);
  const auto& seg = r.tcp.packets[0];
  ASSERT_EQ(seg.size(), 40u);
  EXPECT_EQ((std::uint8_t(seg[12]) >> 4) * 4u, 40u);  // data offset: the whole header is present
  EXPECT_EQ(std::uint8_t(seg[13]) & 0x02, 0x02);      // SYN
  EXPECT_TRUE(r.link.sent().empty());
}

// ipv4_frag_dns_rawip.pcap (raw IPv4; the replay link synthesizes Ethernet to 02:00:00:00:00:01): 495
// fragments. `tcpdump -nn -r` shows 99 from 172.17.0.10 (41 queries) and 396 from 8.8.8.8 that make up 41
// complete responses (at most 12 fragments each, none missing, no overlap). The IP checksums are correct;
// the UDP checksums of the 41 responses verify (the queries' do not, offloaded, but we never accept those:
// their source is our own address).
TEST(PcapReplay, FragmentedDnsResponsesAreReassembled) {
  tap::PcapReplayOptions opts;
  Replay r{"ipv4_frag_dns_rawip.pcap", mac("02:00:00:00:00:01"), cidr("172.17.0.10/16"), std::move(opts)};
  r.udp.check_udp = true;
  ASSERT_EQ(r.link.frames().size(), 495u);
  r.run();
  EXPECT_EQ(r.c().drop_ipv4_bad_source, 99u);
  EXPECT_EQ(r.c().ipv4_fragments_rx, 396u);
  EXPECT_EQ(r.rc().reassembled, 41u);
  EXPECT_EQ(r.c().ipv4_reassembled, 41u);
  EXPECT_EQ(r.udp.packets.size(), 41u);
  EXPECT_EQ(r.udp.bad_udp_checksums, 0u);
  EXPECT_EQ(r.rc().drop_overlap + r.rc().drop_inconsistent + r.rc().drop_too_many_fragments + r.rc().drop_timeout +
                r.rc().drop_tiny_fragment + r.rc().drop_bad_fragment_len + r.rc().evicted,
            0u);
  EXPECT_EQ(r.iface.reassembler().datagrams_in_flight(), 0u);
  for (const auto& p : r.udp.packets) EXPECT_EQ(load_be16(Bytes{p}, 0), 53);  // from port 53
  EXPECT_TRUE(r.link.sent().empty());
}

}  // namespace
}  // namespace tapstack
