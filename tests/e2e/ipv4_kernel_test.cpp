// End-to-end over a real TAP device with the Linux kernel as the peer, driving the `tapstack` command the
// way a user does. The test process moves into a private network namespace first, so no frame can leave.
// Kernel side 192.0.2.1/24, stack 192.0.2.2/24 (RFC 5737 documentation addresses).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "child.hpp"
#include "netns.hpp"

namespace {

using namespace std::chrono_literals;
using tapstack::test::run;

using tapstack::test::tapstack_bin;

using tapstack::test::Child;

class KernelPeer : public tapstack::test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    TAPSTACK_REQUIRE_NET_ADMIN();
    ASSERT_TRUE(run("ip tuntap add dev tap0 mode tap && ip link set tap0 up && ip addr add 192.0.2.1/24 dev tap0").ok());
    pcap_ = std::filesystem::temp_directory_path() / ("tapstack-e2e-" + std::to_string(getpid()) + ".pcap");
  }
  void TearDown() override {
    run("ip link del tap0");
    std::filesystem::remove(pcap_);
  }
  std::unique_ptr<Child> start_server() {
    auto c = std::make_unique<Child>(std::vector<std::string>{tapstack_bin(), "serve", "--tap", "tap0", "--ip4",
                                                              "192.0.2.2/24", "--udp-echo", "7", "--pcap", pcap_.string()});
    EXPECT_TRUE(c->started());
    EXPECT_TRUE(c->wait_for_output("tapstack serve:", 5000ms)) << c->output();
    return c;
  }
  std::filesystem::path pcap_;
};

// A kernel UDP socket with a receive timeout, so no test can hang.
int udp_socket() {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}
sockaddr_in stack_addr(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "192.0.2.2", &a.sin_addr);
  return a;
}

TEST_F(KernelPeer, LinuxPingsTheStack) {
  auto server = start_server();
  const auto r = run("ping -c 3 -i 0.2 -W 2 192.0.2.2");
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("3 packets transmitted, 3 received"), std::string::npos) << r.output;
  EXPECT_EQ(server->terminate(), 0) << server->output();
}

TEST_F(KernelPeer, LinuxPings4000BytesFragmentedBothWays) {
  auto server = start_server();
  const auto r = run("ping -c 3 -i 0.2 -W 2 -s 4000 192.0.2.2");
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("3 packets transmitted, 3 received"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4008 bytes from 192.0.2.2"), std::string::npos) << r.output;
  EXPECT_EQ(server->terminate(), 0);
  // The stack reassembled the requests and fragmented its replies.
  EXPECT_NE(server->output().find("ip.ipv4_reassembled 3"), std::string::npos) << server->output();
  EXPECT_NE(server->output().find("ip.tx_fragments"), std::string::npos) << server->output();
}

TEST_F(KernelPeer, KernelUdpSocketTalksToTheStacksEcho) {
  auto server = start_server();
  const int fd = udp_socket();
  const auto dst = stack_addr(7);
  for (std::size_t size : {1u, 100u, 1472u, 1473u, 3000u, 8000u}) {
    std::vector<char> msg(size);
    for (std::size_t i = 0; i < size; ++i) msg[i] = char('a' + i % 26);
    ASSERT_EQ(sendto(fd, msg.data(), size, 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), ssize_t(size));
    std::vector<char> back(65536);
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    const ssize_t n = recvfrom(fd, back.data(), back.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_EQ(n, ssize_t(size)) << "size " << size << ": " << std::strerror(errno);
    back.resize(std::size_t(n));
    EXPECT_EQ(back, msg);
    EXPECT_EQ(ntohs(from.sin_port), 7);
  }
  close(fd);
  EXPECT_EQ(server->terminate(), 0);
}

TEST_F(KernelPeer, ConnectedKernelUdpSocketToAClosedPortGetsEconnrefused) {
  auto server = start_server();
  const int fd = udp_socket();
  const auto dst = stack_addr(9);  // nothing listens on 9
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 0);
  ASSERT_EQ(send(fd, "x", 1, 0), 1);
  char buf[16];
  errno = 0;
  EXPECT_EQ(recv(fd, buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNREFUSED) << std::strerror(errno);
  close(fd);
  EXPECT_EQ(server->terminate(), 0);
  EXPECT_NE(server->output().find("ip.icmp_errors_sent 1"), std::string::npos) << server->output();
}

TEST_F(KernelPeer, TheStackPingsLinux) {
  Child ping{{tapstack_bin(), "ping", "--tap", "tap0", "--ip4", "192.0.2.2/24", "192.0.2.1", "-c", "3", "-i", "0.2"}};
  const int status = ping.wait_exit(10000ms);
  EXPECT_EQ(status, 0) << ping.output();
  EXPECT_NE(ping.output().find("3 packets transmitted, 3 received, 0% packet loss"), std::string::npos) << ping.output();
  EXPECT_NE(ping.output().find("64 bytes from 192.0.2.1: icmp_seq=1"), std::string::npos) << ping.output();
}

TEST_F(KernelPeer, PingOfAnAbsentHostExitsOne) {
  Child ping{{tapstack_bin(), "ping", "--tap", "tap0", "--ip4", "192.0.2.2/24", "192.0.2.99", "-c", "2", "-i", "0.2",
              "-W", "0.5"}};
  EXPECT_EQ(ping.wait_exit(10000ms), 1) << ping.output();
  EXPECT_NE(ping.output().find("2 packets transmitted, 0 received, 100% packet loss"), std::string::npos) << ping.output();
}

TEST_F(KernelPeer, TheRecordedPcapOpensWithTcpdump) {
  auto server = start_server();
  ASSERT_TRUE(run("ping -c 2 -i 0.2 -W 2 192.0.2.2").ok());
  const int fd = udp_socket();
  const auto dst = stack_addr(7);
  ASSERT_EQ(sendto(fd, "pcap", 4, 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst), 4);
  char buf[16];
  EXPECT_EQ(recv(fd, buf, sizeof buf, 0), 4);
  close(fd);
  ASSERT_EQ(server->terminate(), 0);
  const auto r = run("tcpdump -nn -r " + pcap_.string());
  ASSERT_TRUE(r.ok()) << r.output;
  EXPECT_NE(r.output.find("ARP, Request who-has 192.0.2.2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ARP, Reply 192.0.2.2 is-at"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("192.0.2.1 > 192.0.2.2: ICMP echo request"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("192.0.2.2 > 192.0.2.1: ICMP echo reply"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("192.0.2.2.7 > 192.0.2.1."), std::string::npos) << r.output;
}

TEST_F(KernelPeer, ServeReportsAClearErrorForABadAddress) {
  Child bad{{tapstack_bin(), "serve", "--tap", "tap0", "--ip4", "192.0.2.2"}};
  EXPECT_EQ(bad.wait_exit(5000ms), 2);
  EXPECT_NE(bad.output().find("--ip4 192.0.2.2: expected ADDR/LEN"), std::string::npos) << bad.output();
}

}  // namespace
