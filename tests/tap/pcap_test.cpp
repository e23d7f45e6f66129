// Unit tests for tap::PcapRecorder and tap::PcapReplayLink: record/replay round trip on a MemoryLink, link-type
// conversion, virtual-time release, bad files. libtins reads what we write, so our reader is not the only judge.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <time.h>
#include <tins/tins.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "stack/memory_link.hpp"
#include "tap/pcap_recorder.hpp"
#include "tap/pcap_replay.hpp"

namespace tapstack::tap {
namespace {

namespace fs = std::filesystem;

std::string data_path(const std::string& file) {
  const char* dir = std::getenv("TAPSTACK_TEST_DATA");
  return std::string{dir ? dir : "tests/data"} + "/" + file;
}

// A per-test scratch directory under TMPDIR, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tapstack-pcap-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<std::byte> frame_of(std::initializer_list<int> prefix, std::size_t len, int fill) {
  std::vector<std::byte> f(len, std::byte(fill));
  std::size_t i = 0;
  for (int b : prefix) f[i++] = std::byte(b);
  return f;
}

// A broadcast Ethernet frame of `len` bytes with a recognisable payload.
std::vector<std::byte> test_frame(std::size_t len, int fill) {
  return frame_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x0a, 0x88, 0xb5}, len, fill);
}

// Writes `records` (bytes at a Unix-epoch microsecond time) with link type `dlt` through libpcap directly.
void write_pcap(const std::string& path, int dlt,
                const std::vector<std::pair<std::int64_t, std::vector<std::byte>>>& records) {
  pcap_t* p = pcap_open_dead(dlt, 65535);
  ASSERT_NE(p, nullptr);
  pcap_dumper_t* d = pcap_dump_open(p, path.c_str());
  ASSERT_NE(d, nullptr) << pcap_geterr(p);
  for (const auto& [us, bytes] : records) {
    pcap_pkthdr h{};
    h.ts.tv_sec = us / 1'000'000;
    h.ts.tv_usec = us % 1'000'000;
    h.caplen = h.len = bpf_u_int32(bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, reinterpret_cast<const u_char*>(bytes.data()));
  }
  pcap_dump_close(d);
  pcap_close(p);
}

constexpr std::chrono::microseconds kEpoch{1'700'000'000'000'000};  // 2023-11-14, an arbitrary wall time

TEST(PcapRecorder, RoundTripOnMemoryLink_ExactBytesAndTimestamps) {
  TempDir tmp;
  const std::string path = tmp.file("round_trip.pcap");
  auto [ours, peer] = MemoryLink::pair();
  const auto out1 = test_frame(60, 0x11), out2 = test_frame(1514, 0x22), in1 = test_frame(342, 0x33);
  std::vector<std::byte> buf(kMaxFrameSize);
  {
    PcapRecorder rec{*ours, path, kEpoch};
    EXPECT_EQ(rec.mtu(), 1500u);
    EXPECT_TRUE(rec.transmit(Instant::from_micros(1'000), Bytes{out1}));
    ASSERT_TRUE(peer->transmit(Instant::from_micros(2'500), Bytes{in1}));
    EXPECT_EQ(rec.receive(Instant::from_micros(2'750), MutableBytes{buf}), in1.size());
    EXPECT_EQ(rec.receive(Instant::from_micros(2'760), MutableBytes{buf}), std::nullopt);  // nothing recorded
    EXPECT_TRUE(rec.transmit(Instant::from_millis(3'000), Bytes{out2}));
    EXPECT_EQ(rec.counters().tx_recorded, 2u);
    EXPECT_EQ(rec.counters().rx_recorded, 1u);
  }  // destructor flushes and closes
  // The frames went through to the other end untouched.
  EXPECT_EQ(peer->pending(), 2u);

  const std::vector<TimedFrame> expected = {
      {Instant::from_micros(1'000) + kEpoch, out1},
      {Instant::from_micros(2'750) + kEpoch, in1},
      {Instant::from_millis(3'000) + kEpoch, out2},
  };
  EXPECT_EQ(PcapReplayLink::read_all(path), expected);

  // Replayed on a virtual clock that starts at 10 s: same bytes, same spacing.
  PcapReplayLink replay{path, {.start = Instant::from_millis(10'000)}};
  ASSERT_EQ(replay.frames().size(), 3u);
  EXPECT_EQ(replay.frames()[0].at, Instant::from_millis(10'000));
  EXPECT_EQ(replay.frames()[1].at, Instant::from_millis(10'000) + microseconds{1'750});
  EXPECT_EQ(replay.frames()[2].at, Instant::from_millis(10'000) + microseconds{2'999'000});
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(replay.frames()[i].bytes, expected[i].bytes);

  // libtins, an independent reader, sees the same frames and timestamps.
  Tins::FileSniffer sniffer{path};
  std::size_t i = 0;
  for (Tins::Packet pkt = sniffer.next_packet(); pkt && i < 10; pkt = sniffer.next_packet(), ++i) {
    ASSERT_LT(i, expected.size());
    const auto raw = pkt.pdu()->serialize();
    EXPECT_EQ(raw.size(), expected[i].bytes.size());
    EXPECT_EQ(0, std::memcmp(raw.data(), expected[i].bytes.data(), raw.size()));
    EXPECT_EQ(std::int64_t(pkt.timestamp().seconds()) * 1'000'000 + pkt.timestamp().microseconds(),
              expected[i].at.micros());
  }
  EXPECT_EQ(i, expected.size());
}

TEST(PcapRecorder, ZeroOffsetKeepsVirtualTime_CloseIsIdempotent) {
  TempDir tmp;
  const std::string path = tmp.file("virtual.pcap");
  auto [ours, peer] = MemoryLink::pair();
  PcapRecorder rec{*ours, path, microseconds{0}};
  rec.transmit(Instant::from_micros(123'456'789), Bytes{test_frame(64, 1)});
  rec.close();
  rec.close();
  EXPECT_TRUE(rec.transmit(Instant::from_micros(200'000'000), Bytes{test_frame(64, 2)}));  // forwarded only
  EXPECT_EQ(rec.counters().tx_recorded, 1u);
  EXPECT_EQ(peer->pending(), 2u);
  const auto frames = PcapReplayLink::read_all(path);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].at, Instant::from_micros(123'456'789));
}

TEST(PcapRecorder, WallClockFactory_AnchorsFirstFrameNearNow) {
  TempDir tmp;
  const std::string path = tmp.file("wall.pcap");
  auto [ours, peer] = MemoryLink::pair();
  const std::int64_t before = std::int64_t(::time(nullptr));
  {
    auto rec = PcapRecorder::with_wall_clock(*ours, path);
    rec->transmit(Instant::from_millis(5'000), Bytes{test_frame(64, 1)});
    rec->transmit(Instant::from_millis(5'250), Bytes{test_frame(64, 2)});
  }
  const auto frames = PcapReplayLink::read_all(path);
  ASSERT_EQ(frames.size(), 2u);
  const std::int64_t first_s = frames[0].at.micros() / 1'000'000;
  EXPECT_GE(first_s, before - 1);
  EXPECT_LE(first_s, before + 60);
  EXPECT_EQ(frames[1].at - frames[0].at, milliseconds{250});  // spacing follows the Instants
}

TEST(PcapRecorder, UnwritablePathThrowsNamingTheFile) {
  auto [ours, peer] = MemoryLink::pair();
  try {
    PcapRecorder rec{*ours, "/nonexistent-dir/x.pcap", microseconds{0}};
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string{e.what()}.find("/nonexistent-dir/x.pcap"), std::string::npos) << e.what();
  }
}

// tcpdump -nn -r arp_request_reply.pcap shows 2 frames: "Request who-has ... tell ..." then "Reply ... is-at".
constexpr std::size_t kArpFileFrames = 2;
// tcpdump -nn -r ipv4_frag_dns_rawip.pcap shows 495 records (link-type IPV4), all IPv4.
constexpr std::size_t kRawIpFileFrames = 495;

TEST(PcapReplay, ArpFile_YieldsTheFramesTcpdumpShows) {
  const auto frames = PcapReplayLink::read_all(data_path("arp_request_reply.pcap"));
  ASSERT_EQ(frames.size(), kArpFileFrames);
  // libtins parses each: a who-has, then the answer to it.
  const Tins::EthernetII req{reinterpret_cast<const uint8_t*>(frames[0].bytes.data()),
                             uint32_t(frames[0].bytes.size())};
  const Tins::EthernetII rep{reinterpret_cast<const uint8_t*>(frames[1].bytes.data()),
                             uint32_t(frames[1].bytes.size())};
  const auto* a = req.find_pdu<Tins::ARP>();
  const auto* b = rep.find_pdu<Tins::ARP>();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->opcode(), Tins::ARP::REQUEST);
  EXPECT_EQ(b->opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(b->sender_ip_addr(), a->target_ip_addr());
  EXPECT_EQ(b->target_ip_addr(), a->sender_ip_addr());
  // tcpdump: 13:46:54.520906 then 13:46:54.526359.
  EXPECT_EQ(frames[1].at - frames[0].at, microseconds{5'453});
  EXPECT_EQ(frames[0].at.micros() % 1'000'000, 520'906);
}

TEST(PcapReplay, ReleasesFramesOnlyWhenNowReachesTheirTime) {
  PcapReplayLink link{data_path("arp_request_reply.pcap"), {.start = Instant::from_millis(1'000)}};
  EXPECT_EQ(link.link_type(), DLT_EN10MB);
  std::vector<std::byte> buf(kMaxFrameSize);
  const Instant t0 = Instant::from_millis(1'000), t1 = t0 + microseconds{5'453};

  EXPECT_EQ(link.next_arrival(), t0);
  EXPECT_EQ(link.receive(t0 - microseconds{1}, MutableBytes{buf}), std::nullopt);
  EXPECT_EQ(link.receive(Instant{}, MutableBytes{buf}), std::nullopt);
  auto n = link.receive(t0, MutableBytes{buf});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, link.frames()[0].bytes.size());
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + std::ptrdiff_t(*n), link.frames()[0].bytes.begin()));

  EXPECT_EQ(link.next_arrival(), t1);
  EXPECT_EQ(link.receive(t1 - microseconds{1}, MutableBytes{buf}), std::nullopt);
  n = link.receive(t1 + seconds{100}, MutableBytes{buf});  // late is fine
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, link.frames()[1].bytes.size());
  EXPECT_EQ(link.next_arrival(), std::nullopt);
  EXPECT_EQ(link.receive(Instant::max(), MutableBytes{buf}), std::nullopt);
  EXPECT_EQ(link.counters().rx_frames, 2u);
  EXPECT_EQ(link.remaining(), 0u);
}

TEST(PcapReplay, TransmitIsRecordedInSent) {
  PcapReplayLink link{data_path("arp_request_reply.pcap")};
  const auto f = test_frame(60, 0x5a);
  EXPECT_TRUE(link.transmit(Instant::from_millis(7), Bytes{f}));
  ASSERT_EQ(link.sent().size(), 1u);
  EXPECT_EQ(link.sent()[0], (TimedFrame{Instant::from_millis(7), f}));
  link.clear_sent();
  EXPECT_TRUE(link.sent().empty());
}

TEST(PcapReplay, FilterBySourceMac_KeepsOneSideButItsOriginalTiming) {
  const auto all = PcapReplayLink::read_all(data_path("arp_request_reply.pcap"));
  ASSERT_EQ(all.size(), kArpFileFrames);
  MacBytes replier{};
  for (std::size_t i = 0; i < 6; ++i) replier[i] = std::uint8_t(all[1].bytes[6 + i]);

  PcapReplayLink link{data_path("arp_request_reply.pcap"),
                      {.start = Instant{}, .keep = PcapReplayOptions::from_source_mac(replier)}};
  ASSERT_EQ(link.frames().size(), 1u);
  EXPECT_EQ(link.frames()[0].bytes, all[1].bytes);
  EXPECT_EQ(link.frames()[0].at, Instant::from_micros(5'453));  // still relative to the file's first record
  EXPECT_EQ(link.counters().load_filtered, 1u);
}

TEST(PcapReplay, RawIpv4File_SynthesizesEthernet) {
  const MacBytes dst{0x02, 0, 0, 0, 0, 0xaa}, src{0x02, 0, 0, 0, 0, 0xbb};
  PcapReplayLink link{data_path("ipv4_frag_dns_rawip.pcap"), {.synth_dst = dst, .synth_src = src}};
  EXPECT_EQ(link.link_type(), 228);  // LINKTYPE_IPV4
  ASSERT_EQ(link.frames().size(), kRawIpFileFrames);
  EXPECT_EQ(link.counters().load_bad_l3, 0u);
  EXPECT_EQ(link.frames()[0].at, Instant{});

  // libpcap's own view of the records, to check the payload is the untouched IP packet.
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(data_path("ipv4_frag_dns_rawip.pcap").c_str(), err);
  ASSERT_NE(p, nullptr) << err;
  Instant prev{};
  for (std::size_t i = 0; i < link.frames().size(); ++i) {
    const auto& f = link.frames()[i].bytes;
    pcap_pkthdr* h;
    const u_char* d;
    ASSERT_EQ(pcap_next_ex(p, &h, &d), 1);
    ASSERT_EQ(f.size(), 14 + h->caplen) << "frame " << i;
    for (std::size_t k = 0; k < 6; ++k) {
      ASSERT_EQ(std::uint8_t(f[k]), dst[k]);
      ASSERT_EQ(std::uint8_t(f[6 + k]), src[k]);
    }
    ASSERT_EQ(std::uint8_t(f[12]), 0x08);
    ASSERT_EQ(std::uint8_t(f[13]), 0x00);
    ASSERT_EQ(0, std::memcmp(f.data() + 14, d, h->caplen)) << "frame " << i;
    ASSERT_GE(link.frames()[i].at, prev);
    prev = link.frames()[i].at;
  }
  pcap_close(p);

  // libtins parses the synthesized frames as Ethernet + IPv4.
  const auto& f0 = link.frames()[0].bytes;
  const Tins::EthernetII eth{reinterpret_cast<const uint8_t*>(f0.data()), uint32_t(f0.size())};
  EXPECT_NE(eth.find_pdu<Tins::IP>(), nullptr);
}

TEST(PcapReplay, RawFileWithIpv6AndJunk_UsesTheVersionNibble) {
  TempDir tmp;
  const std::string path = tmp.file("raw.pcap");
  const auto v6 = frame_of({0x60, 0, 0, 0, 0, 0, 59, 64}, 40, 0);  // IPv6, next header "none"
  const auto v4 = frame_of({0x45, 0, 0, 20}, 20, 0);
  const auto junk = frame_of({0x50}, 20, 0);
  write_pcap(path, DLT_RAW, {{1'000'000, v6}, {1'000'010, junk}, {1'000'020, v4}, {1'000'030, {}}});
  PcapReplayLink link{path};
  ASSERT_EQ(link.frames().size(), 2u);
  EXPECT_EQ(link.counters().load_bad_l3, 2u);  // the version-5 record and the empty one
  EXPECT_EQ(std::uint8_t(link.frames()[0].bytes[12]), 0x86);
  EXPECT_EQ(std::uint8_t(link.frames()[0].bytes[13]), 0xdd);
  EXPECT_EQ(std::uint8_t(link.frames()[1].bytes[12]), 0x08);
  EXPECT_EQ(link.frames()[1].at, Instant::from_micros(20));
}

TEST(PcapReplay, LinuxCookedFile_ReplacesSllHeaderWithEthernet) {
  TempDir tmp;
  const std::string path = tmp.file("sll.pcap");
  // SLL: pkttype 0 (to us), ARPHRD_ETHER, addr len 6, addr 02:00:00:00:00:cc + 2 pad, proto 0x0800.
  auto rec = frame_of({0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0xcc, 0, 0, 0x08, 0x00, 0x45, 0, 0, 20}, 16 + 20, 0);
  write_pcap(path, DLT_LINUX_SLL, {{5, rec}});
  PcapReplayLink link{path};
  ASSERT_EQ(link.frames().size(), 1u);
  const auto& f = link.frames()[0].bytes;
  ASSERT_EQ(f.size(), 14u + 20u);
  EXPECT_EQ(std::uint8_t(f[0]), 0x02);  // synth_dst default 02:00:00:00:00:01
  EXPECT_EQ(std::uint8_t(f[5]), 0x01);
  EXPECT_EQ(std::uint8_t(f[11]), 0xcc);  // the SLL sender address
  EXPECT_EQ(std::uint8_t(f[12]), 0x08);
  EXPECT_EQ(std::uint8_t(f[14]), 0x45);
}

TEST(PcapReplay, FrameLargerThanBuffer_IsDroppedAndCounted) {
  PcapReplayLink link{data_path("arp_request_reply.pcap")};
  std::vector<std::byte> small(20);
  EXPECT_EQ(link.receive(Instant::max(), MutableBytes{small}), std::nullopt);
  EXPECT_EQ(link.counters().drop_rx_too_big, 2u);
}

void expect_throws_mentioning(const std::string& path, const std::string& needle) {
  try {
    PcapReplayLink link{path};
    ADD_FAILURE() << "no exception for " << path;
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(PcapReplay, BadFiles_ThrowWithAClearMessage) {
  TempDir tmp;
  expect_throws_mentioning(tmp.file("missing.pcap"), "cannot read");

  const std::string text = tmp.file("not_a_pcap.txt");
  std::ofstream{text} << "this is not a capture file, just some text long enough for a header\n";
  expect_throws_mentioning(text, "cannot read");

  // A valid header followed by half a record.
  const std::string truncated = tmp.file("truncated.pcap");
  {
    std::ifstream in{data_path("arp_request_reply.pcap"), std::ios::binary};
    std::vector<char> bytes(24 + 16 + 10);
    in.read(bytes.data(), std::streamsize(bytes.size()));
    ASSERT_TRUE(in);
    std::ofstream{truncated, std::ios::binary}.write(bytes.data(), std::streamsize(bytes.size()));
  }
  expect_throws_mentioning(truncated, "corrupt");

  const std::string null_link = tmp.file("null.pcap");
  write_pcap(null_link, DLT_NULL, {{0, frame_of({2, 0, 0, 0}, 24, 0)}});
  expect_throws_mentioning(null_link, "unsupported link type");
}

}  // namespace
}  // namespace tapstack::tap
