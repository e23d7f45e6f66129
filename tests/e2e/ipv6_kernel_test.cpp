// IPv6 end to end over a real TAP device with the Linux kernel as the peer, driving the `tapstack` command the
// way a user does: ping both ways (global, link-local, fragmented), UDP and TCP over IPv6, DAD failure and SLAAC
// from a Router Advertisement. The test process moves into a private network namespace first. Kernel side
// 2001:db8::1/64 (nodad) plus its automatic link-local on tap0; stack --ip6 2001:db8::2/64 with a fixed MAC so
// its modified EUI-64 addresses are known (RFC 4291 §2.5.1, App. A): 02:00:00:00:00:02 -> ::ff:fe00:2.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "child.hpp"
#include "netns.hpp"
#include "stream_pattern.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tapstack::test::run;

constexpr const char* kStackMac = "02:00:00:00:00:02";
constexpr const char* kStackLinkLocal = "fe80::ff:fe00:2";  // fe80::/64 + modified EUI-64 of kStackMac
constexpr const char* kStackSlaac = "2001:db8:1::ff:fe00:2";  // 2001:db8:1::/64 + the same interface ID

using tapstack::test::tapstack_bin;

using tapstack::test::Child;
using tapstack::test::pattern_hash;
using tapstack::test::read_all;
using tapstack::test::ReadResult;
using tapstack::test::seconds_since;
using tapstack::test::write_pattern;

sockaddr_in6 addr6(const char* ip, std::uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &a.sin6_addr);
  return a;
}
// Every blocking call on these sockets gives up after `timeout`, so no test can hang.
int socket6(int type, std::chrono::seconds timeout) {
  const int fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
  tapstack::test::set_io_timeouts(fd, timeout);
  return fd;
}
class Ipv6Kernel : public tapstack::test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    TAPSTACK_REQUIRE_NET_ADMIN();
    // accept_dad 0 would also skip DAD for the link-local; keep the kernel's defaults except for our addresses.
    ASSERT_TRUE(run("ip tuntap add dev tap0 mode tap && ip link set tap0 up && "
                    "ip -6 addr add 2001:db8::1/64 dev tap0 nodad").ok());
  }
  void TearDown() override { run("ip link del tap0"); }

  std::vector<std::string> cmd(std::vector<std::string> args, bool static_addr = true) {
    args.insert(args.begin(), tapstack_bin());
    for (const char* a : {"--tap", "tap0", "--mac", kStackMac}) args.emplace_back(a);
    if (static_addr) {
      args.emplace_back("--ip6");
      args.emplace_back("2001:db8::2/64");
    }
    return args;
  }
  // `tapstack serve` with UDP echo and TCP echo on port 7, once its address `ready` passed DAD.
  std::unique_ptr<Child> start_serve(std::vector<std::string> extra = {}, const std::string& ready = "2001:db8::2/64") {
    std::vector<std::string> args{"serve", "--udp-echo", "7", "--tcp-echo", "7"};
    const bool static_addr = extra.empty();
    args.insert(args.end(), extra.begin(), extra.end());
    auto c = std::make_unique<Child>(cmd(args, static_addr));
    EXPECT_TRUE(c->started());
    EXPECT_TRUE(c->wait_for_output("tapstack serve: ip6 ", 5000ms)) << c->output();
    if (!ready.empty()) {
      EXPECT_TRUE(c->wait_for_output("tapstack: ip6 " + ready + " preferred", 6000ms)) << c->output();
    }
    return c;
  }
  // The kernel's link-local address on tap0 runs DAD once the stack opens the TAP (carrier up); until it is done
  // the kernel has no link-local source for link-local destinations or Router Advertisements.
  static bool wait_kernel_link_local() {
    for (int i = 0; i < 60; ++i) {
      const auto r = run("ip -6 addr show dev tap0 scope link");
      if (r.output.find("fe80::") != std::string::npos && r.output.find("tentative") == std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

TEST_F(Ipv6Kernel, LinuxPingsTheStacksGlobalAddress) {
  auto server = start_serve();
  const auto r = run("ping -6 -c 3 -i 0.2 -W 2 2001:db8::2");
  EXPECT_TRUE(r.ok()) << r.output << server->output();
  EXPECT_NE(r.output.find("3 packets transmitted, 3 received"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("64 bytes from 2001:db8::2: icmp_seq=1"), std::string::npos) << r.output;
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("ip6.icmp6_echo_replies_sent 3"), std::string::npos) << server->output();
}

TEST_F(Ipv6Kernel, LinuxPingsTheStacksLinkLocalAddress) {
  auto server = start_serve({}, std::string(kStackLinkLocal) + "/64");
  // The banner names the link-local address, derived from the MAC with modified EUI-64.
  EXPECT_NE(server->output().find(std::string(kStackLinkLocal) + "/64 (link-local"), std::string::npos)
      << server->output();
  ASSERT_TRUE(wait_kernel_link_local()) << run("ip -6 addr show dev tap0").output;
  const auto r = run(std::string("ping -6 -c 3 -i 0.2 -W 2 ") + kStackLinkLocal + "%tap0");
  EXPECT_TRUE(r.ok()) << r.output << server->output();
  EXPECT_NE(r.output.find("3 packets transmitted, 3 received"), std::string::npos) << r.output;
  EXPECT_EQ(server->terminate(), 0) << server->output();
}

TEST_F(Ipv6Kernel, LinuxPings4000BytesFragmentedBothWays) {
  auto server = start_serve();
  const auto r = run("ping -6 -c 3 -i 0.2 -W 2 -s 4000 2001:db8::2");
  EXPECT_TRUE(r.ok()) << r.output << server->output();
  EXPECT_NE(r.output.find("3 packets transmitted, 3 received"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4008 bytes from 2001:db8::2"), std::string::npos) << r.output;
  EXPECT_EQ(server->terminate(), 0);
  // The stack reassembled the requests (RFC 8200 §4.5) and fragmented its replies.
  EXPECT_NE(server->output().find("ip6.ipv6_reassembled 3"), std::string::npos) << server->output();
  EXPECT_NE(server->output().find("ip6.tx_fragments"), std::string::npos) << server->output();
}

TEST_F(Ipv6Kernel, KernelUdpSocketTalksToTheStacksEcho) {
  auto server = start_serve();
  const int fd = socket6(SOCK_DGRAM, 2s);
  const auto dst = addr6("2001:db8::2", 7);
  for (std::size_t size : {1u, 100u, 1452u, 1453u, 3000u, 8000u}) {  // 1452: the largest unfragmented
    std::vector<char> msg(size);
    for (std::size_t i = 0; i < size; ++i) msg[i] = char('a' + i % 26);
    ASSERT_EQ(sendto(fd, msg.data(), size, 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), ssize_t(size));
    std::vector<char> back(65536);
    sockaddr_in6 from{};
    socklen_t fl = sizeof from;
    const ssize_t n = recvfrom(fd, back.data(), back.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_EQ(n, ssize_t(size)) << "size " << size << ": " << std::strerror(errno) << server->output();
    back.resize(std::size_t(n));
    EXPECT_EQ(back, msg);
    EXPECT_EQ(ntohs(from.sin6_port), 7);
    char text[INET6_ADDRSTRLEN];
    EXPECT_STREQ(inet_ntop(AF_INET6, &from.sin6_addr, text, sizeof text), "2001:db8::2");
  }
  close(fd);
  EXPECT_EQ(server->terminate(), 0);
}

TEST_F(Ipv6Kernel, KernelTcpClientMoves16MiBThroughTheStacksEcho) {
  constexpr std::uint64_t k16MiB = 16ull << 20;
  auto server = start_serve();
  const int fd = socket6(SOCK_STREAM, 20s);
  const auto dst = addr6("2001:db8::2", 7);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 0) << std::strerror(errno);
  const auto t0 = Clock::now();
  std::uint64_t written = 0;
  std::thread writer{[&] { written = write_pattern(fd, k16MiB); }};
  const ReadResult back = read_all(fd);
  writer.join();
  close(fd);
  const double s = seconds_since(t0);
  std::printf("[ info ] echo over IPv6: 16 MiB each way in %.2f s (%.2f Gbit/s per direction)\n", s,
              k16MiB * 8 / s / 1e9);
  EXPECT_EQ(written, k16MiB);
  EXPECT_EQ(back.last, 0) << std::strerror(back.err);
  EXPECT_EQ(back.bytes, k16MiB);
  EXPECT_EQ(back.hash, pattern_hash(k16MiB));
  EXPECT_EQ(server->terminate(), 0) << server->output();
  EXPECT_NE(server->output().find("echo6:7.bytes_out 16777216"), std::string::npos) << server->output();
  // Both ways over IPv6 went through segmentation offload: TSO frames from the kernel, GSO writes to it.
  EXPECT_GT(tapstack::test::printed_counter(server->output(), "tap.rx_gso_frames").value_or(0), 0u) << server->output();
  EXPECT_GT(tapstack::test::printed_counter(server->output(), "tap.tx_gso_writes").value_or(0), 0u) << server->output();
  EXPECT_FALSE(tapstack::test::printed_counter(server->output(), "tap.drop_rx_offload")) << server->output();
}

TEST_F(Ipv6Kernel, TheStacksSendReachesAKernelIpv6Server) {
  constexpr std::uint64_t k4MiB = 4ull << 20;
  const int lfd = socket6(SOCK_STREAM, 20s);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const auto a = addr6("2001:db8::1", 5001);
  ASSERT_EQ(bind(lfd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  ASSERT_EQ(listen(lfd, 4), 0);
  Child send{cmd({"send", "2001:db8::1", "5001", "--bytes", std::to_string(k4MiB), "--timeout", "30", "-v"})};
  pollfd p{lfd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << send.output();  // DAD (up to ~3 s) comes before the connect
  const int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const ReadResult got = read_all(fd);
  close(fd);
  close(lfd);
  EXPECT_EQ(got.last, 0) << std::strerror(got.err);
  EXPECT_EQ(got.bytes, k4MiB);
  const std::string expect = pattern_hash(k4MiB);
  EXPECT_EQ(got.hash, expect);
  EXPECT_EQ(send.wait_exit(20000ms), 0) << send.output();
  EXPECT_NE(send.output().find("Gbit/s, fnv1a64 " + expect), std::string::npos) << send.output();
  // Over IPv6 too the segments reached the kernel merged into GSO writes.
  const auto writes = tapstack::test::printed_counter(send.output(), "tap.tx_gso_writes");
  const auto segments = tapstack::test::printed_counter(send.output(), "tap.tx_gso_segments");
  ASSERT_TRUE(writes && segments) << send.output();
  EXPECT_GT(*segments, 2 * *writes) << send.output();
}

TEST_F(Ipv6Kernel, TheStackPingsLinux) {
  Child ping{cmd({"ping", "2001:db8::1", "-c", "3", "-i", "0.2"})};
  EXPECT_EQ(ping.wait_exit(15000ms), 0) << ping.output();
  EXPECT_NE(ping.output().find("PING 2001:db8::1(2001:db8::1) 56 data bytes"), std::string::npos) << ping.output();
  EXPECT_NE(ping.output().find("64 bytes from 2001:db8::1: icmp_seq=1 ttl=64"), std::string::npos) << ping.output();
  EXPECT_NE(ping.output().find("3 packets transmitted, 3 received, 0% packet loss"), std::string::npos)
      << ping.output();
}

TEST_F(Ipv6Kernel, DadFailureIsReportedAndTheAddressIsNotUsed) {
  ASSERT_TRUE(run("ip -6 addr add 2001:db8::3/64 dev tap0 nodad").ok());
  auto server = start_serve({"--ip6", "2001:db8::3/64", "--ip6", "2001:db8::2/64"});
  // RFC 4862 §5.4.5: the kernel's NA to our DAD NS makes the address DUPLICATE; the other one is fine.
  EXPECT_TRUE(server->wait_for_output("tapstack: ip6 2001:db8::3/64 DUPLICATE", 6000ms)) << server->output();
  EXPECT_TRUE(server->wait_for_output("tapstack: ip6 2001:db8::2/64 preferred", 6000ms)) << server->output();
  // With the kernel's copy gone, the stack still does not answer for the duplicate address.
  ASSERT_TRUE(run("ip -6 addr del 2001:db8::3/64 dev tap0 && ip -6 neigh flush dev tap0").ok());
  const auto dup = run("ping -6 -c 2 -i 0.2 -W 1 2001:db8::3");
  EXPECT_FALSE(dup.ok()) << dup.output;
  EXPECT_NE(dup.output.find(" 0 received"), std::string::npos) << dup.output;
  const auto good = run("ping -6 -c 2 -i 0.2 -W 2 2001:db8::2");
  EXPECT_TRUE(good.ok()) << good.output;
  EXPECT_EQ(server->terminate(), 0);
  EXPECT_NE(server->output().find("ip6.dad_duplicates 1"), std::string::npos) << server->output();
  EXPECT_EQ(server->output().find("2001:db8::3/64 preferred"), std::string::npos) << server->output();
}

// Sends one Router Advertisement (RFC 4861 §4.2) from the kernel's link-local address to ff02::1 on tap0 with
// hop limit 255: router lifetime 1800 s and a Prefix Information option 2001:db8:1::/64 with L and A set.
bool send_router_advertisement() {
  const int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);  // the kernel fills the checksum
  if (fd < 0) return false;
  const int hops = 255;
  const unsigned ifindex = if_nametoindex("tap0");
  setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
  setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex);
  const int loop = 0;  // the kernel must not see its own RA
  setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop);
  std::uint8_t ra[16 + 32] = {
      134, 0, 0, 0,       // type, code, checksum
      64, 0, 0x07, 0x08,  // cur hop limit, flags, router lifetime 1800
      0, 0, 0, 0,         // reachable time
      0, 0, 0, 0,         // retrans timer
      3, 4, 64, 0xc0,     // PIO: type, length (x8), prefix length, L|A
      0, 1, 0x51, 0x80,   // valid lifetime 86400
      0, 0, 0x38, 0x40,   // preferred lifetime 14400
      0, 0, 0, 0,         // reserved
      0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // 2001:db8:1::
  };
  sockaddr_in6 dst = addr6("ff02::1", 0);
  dst.sin6_scope_id = ifindex;
  const ssize_t n = sendto(fd, ra, sizeof ra, 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst);
  const bool ok = n == ssize_t(sizeof ra);
  close(fd);
  return ok;
}

TEST_F(Ipv6Kernel, SlaacFromARouterAdvertisement) {
  // No static address: link-local plus SLAAC (the default).
  auto server = start_serve({"-v"}, std::string(kStackLinkLocal) + "/64");
  ASSERT_TRUE(wait_kernel_link_local()) << run("ip -6 addr show dev tap0").output;
  ASSERT_TRUE(send_router_advertisement()) << std::strerror(errno);
  // RFC 4862 §5.5.3: 2001:db8:1:: + the interface ID, then DAD, then PREFERRED; the RA's source is a router.
  EXPECT_TRUE(server->wait_for_output(std::string("tapstack: ip6 ") + kStackSlaac + "/64 preferred (slaac)", 6000ms))
      << server->output();
  EXPECT_TRUE(server->wait_for_output("tapstack: ip6 default router fe80::", 1000ms)) << server->output();
  // The kernel reaches the new address on-link; the stack answers 2001:db8::1 (off its prefixes) through the
  // router it learned, i.e. the kernel's link-local address.
  ASSERT_TRUE(run("ip -6 route add 2001:db8:1::/64 dev tap0").ok());
  const auto r = run(std::string("ping -6 -c 3 -i 0.2 -W 2 ") + kStackSlaac);
  EXPECT_TRUE(r.ok()) << r.output << server->output();
  EXPECT_NE(r.output.find("3 packets transmitted, 3 received"), std::string::npos) << r.output;
  EXPECT_EQ(server->terminate(), 0);
  EXPECT_NE(server->output().find("ip6.slaac_addresses_created 1"), std::string::npos) << server->output();
  EXPECT_NE(server->output().find("ip6.routers_added 1"), std::string::npos) << server->output();
}

}  // namespace
