// Suite `tap`: tap::TapDevice, tap::TapLink and tap::PcapRecorder on a real TAP in a private network namespace,
// with the Linux kernel as the peer (it answers our ARP request). Needs CAP_NET_ADMIN (skips, or fails in CI).
#include "tap/tap_device.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <tins/tins.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "netns.hpp"
#include "stack/time.hpp"
#include "tap/pcap_recorder.hpp"
#include "tap/tap_link.hpp"

namespace tapstack::tap {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTap = "tap0";
const Tins::HWAddress<6> kOurMac{"02:00:00:00:00:02"};
constexpr const char* kOurIp = "192.0.2.2";
constexpr const char* kKernelIp = "192.0.2.1";
constexpr Duration kDeadline = seconds{2};
constexpr int kMaxFrames = 64;

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::require_net_admin();  // gtest skips the body after a skip or a fatal failure
    if (IsSkipped() || HasFatalFailure()) return;
    const auto err = test::enter_private_netns();
    ASSERT_FALSE(err.has_value()) << *err;
  }
};

// The device's MAC as `ip` prints it (/sys/class/net shows the namespace sysfs was mounted in, not ours).
std::string kernel_mac(const std::string& dev) {
  const auto show = test::run("ip -o link show dev " + dev);
  const auto at = show.output.find("link/ether ");
  if (!show.ok() || at == std::string::npos) return "(no MAC in: " + show.output + ")";
  return show.output.substr(at + 11, 17);
}

std::vector<std::byte> arp_request_frame() {
  Tins::EthernetII req = Tins::ARP::make_arp_request(kKernelIp, kOurIp, kOurMac);
  const auto raw = req.serialize();
  std::vector<std::byte> out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

// Waits (poll on wait_fd, hard deadline, at most kMaxFrames frames) for a frame `match` accepts.
template <class Match>
std::optional<std::vector<std::byte>> receive_until(Link& link, Clock& clock, Match&& match) {
  std::vector<std::byte> buf(kMaxFrameSize);
  const Instant deadline = clock.now() + kDeadline;
  for (int frames = 0; frames < kMaxFrames;) {
    const Instant now = clock.now();
    if (now >= deadline) break;
    pollfd pfd{link.wait_fd(), POLLIN, 0};
    const int timeout_ms = int((deadline - now).count() / 1000) + 1;
    if (::poll(&pfd, 1, timeout_ms) <= 0) continue;  // timeout or EINTR: the deadline check ends the loop
    while (frames < kMaxFrames) {
      const auto n = link.receive(clock.now(), MutableBytes{buf});
      if (!n) break;
      ++frames;
      std::vector<std::byte> f(buf.begin(), buf.begin() + std::ptrdiff_t(*n));
      if (match(f)) return f;
    }
  }
  return std::nullopt;
}

bool is_arp_reply_from_kernel(const std::vector<std::byte>& f) {
  try {
    const Tins::EthernetII eth{reinterpret_cast<const uint8_t*>(f.data()), uint32_t(f.size())};
    const auto* arp = eth.find_pdu<Tins::ARP>();
    return arp != nullptr && arp->opcode() == Tins::ARP::REPLY &&
           arp->sender_ip_addr() == Tins::IPv4Address{kKernelIp} && arp->target_hw_addr() == kOurMac;
  } catch (const Tins::exception_base&) {
    return false;  // not something libtins parses: not our reply
  }
}

TEST_F(TapTest, CreatesTap_UpWithMtu1500) {
  TapLink link{kTap};
  EXPECT_TRUE(link.device().created());
  EXPECT_EQ(link.device().name(), kTap);
  EXPECT_EQ(link.mtu(), 1500u);
  EXPECT_GE(link.wait_fd(), 0);
  const auto show = test::run("ip -o link show tap0");
  ASSERT_TRUE(show.ok()) << show.output;
  EXPECT_NE(show.output.find(",UP"), std::string::npos) << show.output;
  // Nothing waiting yet may be true or not (the kernel may already send IPv6 DAD/MLD): read_batch is bounded.
  std::vector<std::byte> buf(kMaxFrameSize);
  EXPECT_LE(link.device().read_batch(MutableBytes{buf}, 8, [](Bytes) {}), 8u);
}

TEST_F(TapTest, AttachesToPersistentTap_WithoutChangingItsState) {
  const auto add = test::run("ip tuntap add dev tap1 mode tap");
  ASSERT_TRUE(add.ok()) << add.output;
  {
    TapDevice dev{"tap1"};
    EXPECT_FALSE(dev.created());
    EXPECT_EQ(dev.mtu(), 1500u);
    const auto show = test::run("ip -o link show tap1");
    EXPECT_EQ(show.output.find(",UP"), std::string::npos) << "an attached device is not brought up: " << show.output;
  }
  EXPECT_TRUE(test::run("ip link show tap1").ok()) << "a persistent device outlives the attachment";
  EXPECT_TRUE(test::run("ip tuntap del dev tap1 mode tap").ok());
}

TEST_F(TapTest, ArpRequest_KernelReplies_RecorderFileReadsInTcpdump) {
  SteadyClock clock;
  TapLink tap{kTap};
  const auto addr = test::run(std::string{"ip addr add "} + kKernelIp + "/24 dev tap0");
  ASSERT_TRUE(addr.ok()) << addr.output;

  const fs::path dir = fs::temp_directory_path() / ("tapstack-tap-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string pcap = (dir / "arp.pcap").string();
  std::optional<std::vector<std::byte>> reply;
  {
    auto rec = PcapRecorder::with_wall_clock(tap, pcap);
    const auto req = arp_request_frame();
    ASSERT_TRUE(rec->transmit(clock.now(), Bytes{req}));
    reply = receive_until(*rec, clock, is_arp_reply_from_kernel);
  }
  ASSERT_TRUE(reply.has_value()) << "no ARP reply from the kernel within " << kDeadline.count() << "us";
  EXPECT_EQ(tap.counters().tx_frames, 1u);
  EXPECT_GE(tap.counters().rx_frames, 1u);

  const Tins::EthernetII eth{reinterpret_cast<const uint8_t*>(reply->data()), uint32_t(reply->size())};
  const std::string mac = kernel_mac("tap0");
  EXPECT_EQ(eth.find_pdu<Tins::ARP>()->sender_hw_addr().to_string(), mac);
  EXPECT_EQ(eth.dst_addr(), kOurMac);

  const auto dump = test::run("tcpdump -nn -r " + pcap);
  ASSERT_TRUE(dump.ok()) << dump.output;
  EXPECT_NE(dump.output.find("link-type EN10MB"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("ARP, Request who-has 192.0.2.1 tell 192.0.2.2"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("ARP, Reply 192.0.2.1 is-at " + mac), std::string::npos) << dump.output;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_F(TapTest, FrameLargerThanBuffer_IsDroppedAndCounted) {
  SteadyClock clock;
  // No IPv6 on new devices in this namespace, so the only frame the kernel sends is its ARP reply.
  ASSERT_TRUE(test::run("sysctl -qw net.ipv6.conf.default.disable_ipv6=1").ok());
  TapLink tap{kTap};
  ASSERT_TRUE(test::run(std::string{"ip addr add "} + kKernelIp + "/24 dev tap0").ok());
  const auto req = arp_request_frame();
  ASSERT_TRUE(tap.transmit(clock.now(), Bytes{req}));

  std::vector<std::byte> small(20);  // an ARP reply is 42 bytes
  const Instant deadline = clock.now() + kDeadline;
  for (int i = 0; i < kMaxFrames && tap.counters().drop_rx_too_big == 0 && clock.now() < deadline; ++i) {
    pollfd pfd{tap.wait_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 100) > 0) {
      EXPECT_EQ(tap.receive(clock.now(), MutableBytes{small}), std::nullopt);
    }
  }
  EXPECT_GE(tap.counters().drop_rx_too_big, 1u);
  EXPECT_EQ(tap.counters().rx_frames, 0u);
  ASSERT_TRUE(test::run("sysctl -qw net.ipv6.conf.default.disable_ipv6=0").ok());
}

TEST_F(TapTest, ReadBatch_DrainsSeveralFramesUpToTheLimit) {
  SteadyClock clock;
  ASSERT_TRUE(test::run("sysctl -qw net.ipv6.conf.default.disable_ipv6=1").ok());  // only ARP on the wire
  TapLink tap{kTap};
  ASSERT_TRUE(test::run(std::string{"ip addr add "} + kKernelIp + "/24 dev tap0").ok());
  const auto req = arp_request_frame();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tap.transmit(clock.now(), Bytes{req}));

  std::vector<std::byte> buf(kMaxFrameSize);
  std::size_t replies = 0, reads = 0;
  const Instant deadline = clock.now() + kDeadline;
  for (int i = 0; i < kMaxFrames && replies < 3 && clock.now() < deadline; ++i) {
    pollfd pfd{tap.wait_fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    reads += tap.device().read_batch(MutableBytes{buf}, 2, [&](Bytes f) {
      if (is_arp_reply_from_kernel(std::vector<std::byte>(f.begin(), f.end()))) ++replies;
    });
  }
  EXPECT_EQ(replies, 3u);
  EXPECT_GE(reads, 3u);
  EXPECT_EQ(tap.device().read_batch(MutableBytes{buf}, 8, [](Bytes) {}), 0u);  // drained: EAGAIN at once
  ASSERT_TRUE(test::run("sysctl -qw net.ipv6.conf.default.disable_ipv6=0").ok());
}

// A UDP datagram from a kernel socket to 192.0.2.2:9 (a static neighbour entry, so no ARP), read off `link`.
std::optional<std::vector<std::byte>> kernel_udp_datagram(Link& link, Clock& clock) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  inet_pton(AF_INET, kOurIp, &to.sin_addr);
  const std::string data(100, 'u');
  const ssize_t sent = ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ::close(fd);
  if (sent != ssize_t(data.size())) return std::nullopt;
  return receive_until(link, clock, [](const std::vector<std::byte>& f) {
    try {
      const Tins::EthernetII eth{reinterpret_cast<const uint8_t*>(f.data()), uint32_t(f.size())};
      return eth.find_pdu<Tins::UDP>() != nullptr;
    } catch (const Tins::exception_base&) {
      return false;
    }
  });
}

// True when the frame's UDP checksum is the one libtins computes for it.
bool udp_checksum_ok(const std::vector<std::byte>& f) {
  const Tins::EthernetII eth{reinterpret_cast<const uint8_t*>(f.data()), uint32_t(f.size())};
  Tins::EthernetII again = eth;
  const auto raw = again.serialize();  // recomputes the checksum
  const Tins::EthernetII recomputed{raw.data(), uint32_t(raw.size())};
  return eth.rfind_pdu<Tins::UDP>().checksum() == recomputed.rfind_pdu<Tins::UDP>().checksum();
}

// With offload, the kernel leaves a UDP checksum partial and the link completes it; a later user of the same
// persistent device without offload gets full checksums from the kernel again (the offloads are reset, not left
// as the last user set them).
TEST_F(TapTest, PartialChecksumsAreCompletedWithOffload_AndGoneForALaterUserWithout) {
  SteadyClock clock;
  ASSERT_TRUE(test::run("ip tuntap add dev tap1 mode tap && ip link set tap1 up && ip addr add 192.0.2.1/24 dev tap1")
                  .ok());
  // Once a reader is attached (the carrier comes up with it): the neighbour entry, so the kernel sends at once.
  const std::string neigh = "ip neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev tap1 nud permanent";
  {
    TapLink link{"tap1"};
    ASSERT_TRUE(link.gso());
    ASSERT_TRUE(test::run(neigh).ok());
    const auto f = kernel_udp_datagram(link, clock);
    ASSERT_TRUE(f.has_value()) << "no UDP datagram from the kernel";
    EXPECT_TRUE(udp_checksum_ok(*f));
    EXPECT_GE(link.counters().rx_checksum_completed, 1u) << "the kernel did not leave the checksum to us";
  }
  {
    TapLink link{"tap1", TapLinkOptions{.gso = false}};
    ASSERT_FALSE(link.gso());
    ASSERT_TRUE(test::run(neigh).ok());
    const auto f = kernel_udp_datagram(link, clock);
    ASSERT_TRUE(f.has_value()) << "no UDP datagram from the kernel";
    EXPECT_TRUE(udp_checksum_ok(*f)) << "a partial checksum reached a reader without the virtio-net header";
  }
  EXPECT_TRUE(test::run("ip tuntap del dev tap1 mode tap").ok());
}

// Needs no capability: the name is rejected before the kernel is asked.
TEST(TapDeviceName, InvalidNameThrowsNamingTheDevice) {
  const std::string name = "tapstack-name-longer-than-ifnamsiz";
  try {
    TapDevice dev{name};
    FAIL() << "expected std::system_error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string{e.what()}.find(name), std::string::npos) << e.what();
    EXPECT_EQ(e.code().value(), ENAMETOOLONG);
  }
}

TEST(TestSupportRun, CapturesOutputStatusAndTimesOut) {
  const auto echo = test::run("echo 'it''s quoted' && echo err >&2; exit 3");
  EXPECT_EQ(echo.status, 3);
  EXPECT_EQ(echo.output, "its quoted\nerr\n");
  const auto slow = test::run("sleep 10", seconds{1});
  EXPECT_EQ(slow.status, 124);  // coreutils timeout
}

}  // namespace
}  // namespace tapstack::tap
