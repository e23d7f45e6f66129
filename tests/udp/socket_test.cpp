// udp/socket through the layer's application API: bind, connect, send_to errors, recv with MSG_PEEK and
// truncation, queue bounds, readiness and close. Deterministic: SeededRng, no clock.
#include "udp/socket.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "udp/layer.hpp"
#include "udp/wire.hpp"

namespace tapstack::udp {
namespace {

const ip::IpAddress kLocal = ip::Ipv4Address{{192, 0, 2, 1}};
const ip::IpAddress kPeer = ip::Ipv4Address{{198, 51, 100, 7}};
const ip::IpAddress kLocal6 = *ip::IpAddress::parse("2001:db8::1");
const ip::IpAddress kPeer6 = *ip::IpAddress::parse("2001:db8:1::7");

std::error_code err(int e) { return {e, std::generic_category()}; }

struct Harness {
  SeededRng rng{42};
  UdpLayer layer{rng};

  // Delivers `data` from `from` to `to` as the IP layer would.
  ip::TransportHandler::Verdict receive(const ip::Endpoint& from, const ip::Endpoint& to, std::string_view data) {
    ip::IpPacketInfo info;
    info.src = from.addr;
    info.dst = to.addr;
    info.protocol = 17;
    std::vector<std::byte> bytes(kHeaderLen + data.size());
    Repr{from.port, to.port, as_bytes(data)}.emit(bytes, info.pseudo());
    return layer.on_packet(Instant{}, info, bytes);
  }
};

TEST(UdpSocket, BoundSocketIsWritableNotReadable) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  EXPECT_TRUE(s.can_send());
  EXPECT_FALSE(s.can_recv());
  h.receive({kPeer, 4000}, {kLocal, 5000}, "hi");
  EXPECT_TRUE(s.can_recv());
}

TEST(UdpSocket, SeveralDatagramsQueueBeforeReading) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.bind({ip::IpAddress{}, 5000}));
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(h.receive({kPeer, std::uint16_t(4000 + i)}, {kLocal, 5000}, "msg" + std::to_string(i)),
              ip::TransportHandler::Verdict::kAccepted);
  EXPECT_EQ(s.rx_queued(), 5u);
  char buf[64];
  for (int i = 0; i < 5; ++i) {
    const auto r = s.recv(as_writable_bytes(std::span{buf}));
    ASSERT_TRUE(r);
    EXPECT_EQ(std::string(buf, r->size), "msg" + std::to_string(i));
    EXPECT_EQ(r->from, (ip::Endpoint{kPeer, std::uint16_t(4000 + i)}));
    EXPECT_EQ(r->local, kLocal);
    EXPECT_FALSE(r->truncated);
  }
  EXPECT_FALSE(s.recv(as_writable_bytes(std::span{buf})));
  EXPECT_EQ(h.layer.counters().rx_datagrams, 5u);
}

TEST(UdpSocket, PeekKeepsDatagramAndSource) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  h.receive({kPeer, 4000}, {kLocal, 5000}, "first");
  h.receive({kPeer, 4001}, {kLocal, 5000}, "second");
  char buf[16];
  for (int i = 0; i < 2; ++i) {
    const auto p = s.recv(as_writable_bytes(std::span{buf}), {.peek = true});
    ASSERT_TRUE(p);
    EXPECT_EQ(std::string(buf, p->size), "first");
    EXPECT_EQ(p->from, (ip::Endpoint{kPeer, 4000}));
    EXPECT_EQ(s.rx_queued(), 2u);
  }
  auto r = s.recv(as_writable_bytes(std::span{buf}));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(buf, r->size), "first");
  EXPECT_EQ(r->from, (ip::Endpoint{kPeer, 4000}));
  r = s.recv(as_writable_bytes(std::span{buf}));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(buf, r->size), "second");
  EXPECT_EQ(r->from, (ip::Endpoint{kPeer, 4001}));
}

TEST(UdpSocket, LongDatagramIsTruncatedAndRestDiscarded) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  h.receive({kPeer, 4000}, {kLocal, 5000}, "0123456789");
  h.receive({kPeer, 4000}, {kLocal, 5000}, "next");
  char buf[4];
  // Peeking a truncated datagram reports the truncation but discards nothing.
  auto r = s.recv(as_writable_bytes(std::span{buf}), {.peek = true});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(s.rx_queued(), 2u);
  r = s.recv(as_writable_bytes(std::span{buf}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size, 4u);
  EXPECT_EQ(r->datagram_len, 10u);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(std::string(buf, 4), "0123");
  r = s.recv(as_writable_bytes(std::span{buf}));  // "456789" is gone (BSD semantics)
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(buf, r->size), "next");
  EXPECT_FALSE(r->truncated);
}

TEST(UdpSocket, ZeroLengthDatagramIsDelivered) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  h.receive({kPeer, 4000}, {kLocal, 5000}, "");
  const auto r = s.recv({});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size, 0u);
  EXPECT_FALSE(r->truncated);
}

TEST(UdpSocket, ReceiveQueueBoundedByCountDropsAndCounts) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open(SocketConfig{.rx_max_datagrams = 3}));
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  for (int i = 0; i < 5; ++i) h.receive({kPeer, 4000}, {kLocal, 5000}, "x" + std::to_string(i));
  EXPECT_EQ(s.rx_queued(), 3u);
  EXPECT_EQ(s.rx_dropped(), 2u);
  EXPECT_EQ(h.layer.counters().drop_rx_queue_full, 2u);
  EXPECT_EQ(h.layer.counters().rx_datagrams, 3u);
  char buf[8];
  EXPECT_EQ(std::string(buf, s.recv(as_writable_bytes(std::span{buf}))->size), "x0");  // the oldest are kept
}

TEST(UdpSocket, ReceiveQueueBoundedByBytes) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open(SocketConfig{.rx_max_datagrams = 100, .rx_max_bytes = 100}));
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  const std::string forty(40, 'z');
  for (int i = 0; i < 3; ++i) h.receive({kPeer, 4000}, {kLocal, 5000}, forty);
  EXPECT_EQ(s.rx_queued(), 2u);
  EXPECT_EQ(h.layer.counters().drop_rx_queue_full, 1u);
  h.receive({kPeer, 4000}, {kLocal, 5000}, std::string(20, 'y'));  // still fits
  EXPECT_EQ(s.rx_queued(), 3u);
}

TEST(UdpSocket, SendToErrors) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open(SocketConfig{.tx_max_datagrams = 2, .tx_max_bytes = 128 * 1024}));
  const std::vector<std::byte> big4(kMaxPayloadV4 + 1), max4(kMaxPayloadV4);
  EXPECT_EQ(s.send_to(big4, {kPeer, 9}), err(EMSGSIZE));
  EXPECT_EQ(s.send(as_bytes("x")), err(EDESTADDRREQ));
  EXPECT_EQ(s.send_to(as_bytes("x"), {kPeer, 0}), err(EINVAL));
  EXPECT_EQ(s.send_to(as_bytes("x"), {ip::IpAddress{}, 9}), err(EDESTADDRREQ));
  EXPECT_FALSE(s.is_bound());  // failed sends do not bind
  EXPECT_FALSE(s.send_to(max4, {kPeer, 9}));
  EXPECT_TRUE(s.is_bound());  // autobound to an ephemeral port, like Linux
  EXPECT_FALSE(s.send_to(as_bytes("y"), {kPeer, 9}));
  EXPECT_EQ(s.send_to(as_bytes("z"), {kPeer, 9}), err(ENOBUFS));
  EXPECT_FALSE(s.can_send());
  EXPECT_EQ(s.send_to(as_bytes("v6"), {kPeer6, 9}), err(EAFNOSUPPORT));
}

TEST(UdpSocket, Ipv6AllowsLargerDatagramThanIpv4) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open(SocketConfig{.tx_max_bytes = 128 * 1024}));
  EXPECT_FALSE(s.send_to(std::vector<std::byte>(kMaxPayloadV6), {kPeer6, 9}));
  EXPECT_EQ(s.send_to(std::vector<std::byte>(kMaxPayloadV6 + 1), {kPeer6, 9}), err(EMSGSIZE));
}

TEST(UdpSocket, DatagramLargerThanSendBufferIsEmsgsize) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open(SocketConfig{.tx_max_bytes = 100}));
  EXPECT_EQ(s.send_to(std::vector<std::byte>(101), {kPeer, 9}), err(EMSGSIZE));
}

TEST(UdpSocket, ConnectSetsDefaultDestinationAndBindsEphemeral) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  EXPECT_EQ(s.connect({kPeer, 0}), err(EINVAL));
  EXPECT_EQ(s.connect({ip::IpAddress{}, 53}), err(EINVAL));
  ASSERT_FALSE(s.connect({kPeer, 53}));
  ASSERT_TRUE(s.local_endpoint());
  EXPECT_GE(s.local_endpoint()->port, 49152);
  EXPECT_TRUE(s.local_endpoint()->addr.is_unspecified());
  EXPECT_EQ(s.remote_endpoint(), (ip::Endpoint{kPeer, 53}));
  EXPECT_FALSE(s.send(as_bytes("q")));
  EXPECT_EQ(s.tx_queued(), 1u);
  EXPECT_EQ(s.connect({kPeer6, 53}), err(EAFNOSUPPORT));
  s.disconnect();
  EXPECT_FALSE(s.remote_endpoint());
  EXPECT_EQ(s.send(as_bytes("q")), err(EDESTADDRREQ));
}

TEST(UdpSocket, ConnectedSocketReceivesOnlyFromPeer) {
  Harness h;
  auto& s = h.layer.socket(h.layer.open());
  ASSERT_FALSE(s.bind({kLocal, 5000}));
  ASSERT_FALSE(s.connect({kPeer, 53}));
  EXPECT_EQ(h.receive({kPeer, 54}, {kLocal, 5000}, "wrong port"), ip::TransportHandler::Verdict::kPortUnreachable);
  EXPECT_EQ(h.receive({ip::Ipv4Address{{198, 51, 100, 8}}, 53}, {kLocal, 5000}, "wrong host"),
            ip::TransportHandler::Verdict::kPortUnreachable);
  EXPECT_EQ(h.receive({kPeer, 53}, {kLocal, 5000}, "ok"), ip::TransportHandler::Verdict::kAccepted);
  EXPECT_EQ(s.rx_queued(), 1u);
}

TEST(UdpSocket, BindErrors) {
  Harness h;
  auto& a = h.layer.socket(h.layer.open());
  auto& b = h.layer.socket(h.layer.open());
  ASSERT_FALSE(a.bind({kLocal, 7}));
  EXPECT_EQ(a.bind({kLocal, 8}), err(EINVAL));  // already bound
  EXPECT_EQ(b.bind({kLocal, 7}), err(EADDRINUSE));
  EXPECT_EQ(b.bind({ip::IpAddress{}, 7}), err(EADDRINUSE));    // wildcard overlaps the specific address
  EXPECT_FALSE(b.bind({ip::Ipv4Address{{192, 0, 2, 2}}, 7}));  // another address: no overlap
  auto& c = h.layer.socket(h.layer.open());
  EXPECT_FALSE(c.bind({ip::IpAddress{ip::Ipv6Address{}}, 7}));  // other family: no overlap
}

TEST(UdpSocket, ReuseAddrMustBeSetOnBoth) {
  Harness h;
  auto& a = h.layer.socket(h.layer.open());
  auto& b = h.layer.socket(h.layer.open());
  auto& c = h.layer.socket(h.layer.open());
  a.set_reuse_addr(true);
  ASSERT_FALSE(a.bind({ip::IpAddress{}, 5353}));
  EXPECT_EQ(b.bind({ip::IpAddress{}, 5353}), err(EADDRINUSE));
  c.set_reuse_addr(true);
  EXPECT_FALSE(c.bind({ip::IpAddress{}, 5353}));
}

TEST(UdpSocket, CloseReleasesPortAndFailsWithEbadf) {
  Harness h;
  const auto ha = h.layer.open();
  auto& a = h.layer.socket(ha);
  ASSERT_FALSE(a.bind({kLocal, 7}));
  h.receive({kPeer, 1}, {kLocal, 7}, "unread");
  a.close();
  EXPECT_FALSE(a.is_open());
  EXPECT_FALSE(a.can_recv());
  EXPECT_FALSE(a.can_send());
  EXPECT_EQ(a.bind({kLocal, 8}), err(EBADF));
  EXPECT_EQ(a.send_to(as_bytes("x"), {kPeer, 9}), err(EBADF));
  EXPECT_EQ(a.connect({kPeer, 9}), err(EBADF));
  std::error_code ec;
  EXPECT_FALSE(a.recv({}, {}, ec));
  EXPECT_EQ(ec, err(EBADF));
  EXPECT_EQ(h.receive({kPeer, 1}, {kLocal, 7}, "late"), ip::TransportHandler::Verdict::kPortUnreachable);
  auto& b = h.layer.socket(h.layer.open());
  EXPECT_FALSE(b.bind({kLocal, 7}));
}

TEST(UdpSocket, StaleHandleYieldsClosedSocket) {
  Harness h;
  const auto ha = h.layer.open();
  h.layer.close(ha);
  EXPECT_EQ(h.layer.find(ha), nullptr);
  EXPECT_EQ(h.layer.socket_count(), 0u);
  const auto hb = h.layer.open();  // reuses the slot with a new generation
  EXPECT_EQ(hb.index, ha.index);
  EXPECT_NE(hb, ha);
  EXPECT_EQ(h.layer.socket(ha).bind({kLocal, 9}), err(EBADF));
  EXPECT_FALSE(h.layer.socket(hb).bind({kLocal, 9}));
  EXPECT_EQ(h.layer.socket(SocketHandle{99, 0}).send_to(as_bytes("x"), {kPeer, 1}), err(EBADF));
}

TEST(UdpSocket, StandaloneSocketNeedsExplicitPort) {
  UdpSocket s;
  EXPECT_EQ(s.bind({kLocal, 0}), err(EINVAL));
  EXPECT_FALSE(s.bind({kLocal, 1234}));
  EXPECT_TRUE(s.deliver({kPeer, 9}, kLocal, as_bytes("hey")));
  EXPECT_TRUE(s.matches({kPeer, 9}, kLocal));
  EXPECT_FALSE(s.matches({kPeer, 9}, kLocal6));
  char buf[8];
  const auto r = s.recv(as_writable_bytes(std::span{buf}));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::string(buf, r->size), "hey");
}

}  // namespace
}  // namespace tapstack::udp
