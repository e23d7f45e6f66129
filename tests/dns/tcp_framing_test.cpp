// Unit tests for dns/tcp_framing: the RFC 7766 §8 decoder fed every possible split of a byte stream
// (prefix split, prefix sharing a chunk with the message, several messages per chunk), the size cap, and
// the encoder.
#include <gtest/gtest.h>

#include <vector>

#include "dns/message.hpp"
#include "dns/tcp_framing.hpp"
#include "stack/random.hpp"

namespace tapstack::dns {
namespace {

using Msg = std::vector<std::byte>;

Msg query_bytes(std::uint16_t id, const char* qname) {
  const Query q{id, *Name::from_text(qname), Type::kA, Class::kIn, true, false, std::nullopt};
  Msg out(q.buffer_len());
  q.emit(out);
  return out;
}

Msg framed(const Msg& m) {
  Msg out(m.size() + kTcpLengthPrefix);
  EXPECT_EQ(emit_tcp_frame(Bytes{m}, out), out.size());
  return out;
}

struct Collector {
  std::vector<Msg> got;
  void operator()(Bytes b) { got.emplace_back(b.begin(), b.end()); }
};

TEST(DnsTcpFraming, EncoderWritesLengthPrefix) {
  const Msg m = query_bytes(1, "example.com");
  const Msg f = framed(m);
  ASSERT_EQ(f.size(), m.size() + 2);
  EXPECT_EQ(load_be16(Bytes{f}, 0), m.size());
  EXPECT_TRUE(std::equal(m.begin(), m.end(), f.begin() + 2));
  Msg small(m.size() + 1);
  EXPECT_EQ(emit_tcp_frame(Bytes{m}, small), 0u);
  Msg huge(65536), out(65538);
  EXPECT_EQ(emit_tcp_frame(Bytes{huge}, out), 0u);
}

TEST(DnsTcpFraming, TwoMessagesEverySplitPoint) {
  const Msg a = query_bytes(0x1111, "www.example.com");
  const Msg b = query_bytes(0x2222, "mail.example.org");
  Msg stream = framed(a);
  const Msg fb = framed(b);
  stream.insert(stream.end(), fb.begin(), fb.end());
  const Bytes s{stream};
  // Every pair of cut points i <= j: three chunks [0,i) [i,j) [j,end), empty ones included.
  for (std::size_t i = 0; i <= s.size(); ++i) {
    for (std::size_t j = i; j <= s.size(); ++j) {
      TcpFramer framer(512);
      Collector c;
      EXPECT_EQ(framer.feed(s.subspan(0, i), std::ref(c)), TcpFramer::Status::kOk);
      EXPECT_EQ(framer.feed(s.subspan(i, j - i), std::ref(c)), TcpFramer::Status::kOk);
      EXPECT_EQ(framer.feed(s.subspan(j), std::ref(c)), TcpFramer::Status::kOk);
      ASSERT_EQ(c.got.size(), 2u) << i << ',' << j;
      EXPECT_EQ(c.got[0], a) << i << ',' << j;
      EXPECT_EQ(c.got[1], b) << i << ',' << j;
      EXPECT_EQ(framer.buffered(), 0u);
    }
  }
}

TEST(DnsTcpFraming, DeliversAsSoonAsComplete) {
  const Msg a = query_bytes(3, "example.com");
  const Msg f = framed(a);
  TcpFramer framer;
  Collector c;
  for (std::size_t k = 0; k < f.size(); ++k) {
    framer.feed(Bytes{f}.subspan(k, 1), std::ref(c));
    EXPECT_EQ(c.got.size(), k + 1 == f.size() ? 1u : 0u) << k;
    EXPECT_EQ(framer.buffered(), k + 1 == f.size() ? 0u : k + 1) << k;
  }
  EXPECT_EQ(c.got[0], a);
  EXPECT_TRUE(Message::parse(Bytes{c.got[0]}));
}

TEST(DnsTcpFraming, RandomChunksManyMessages) {
  SeededRng rng(42);
  std::vector<Msg> sent;
  Msg stream;
  for (std::uint16_t i = 0; i < 50; ++i) {
    sent.push_back(query_bytes(i, i % 2 ? "a.example" : "some.longer.name.example.net"));
    const Msg f = framed(sent.back());
    stream.insert(stream.end(), f.begin(), f.end());
  }
  TcpFramer framer;
  Collector c;
  Bytes rest{stream};
  while (!rest.empty()) {
    const std::size_t n = std::min<std::size_t>(rest.size(), rng.uniform(120));
    framer.feed(rest.first(n), std::ref(c));
    rest = rest.subspan(n);
  }
  EXPECT_EQ(c.got, sent);
}

TEST(DnsTcpFraming, ZeroLengthFrameDeliveredEmpty) {
  const std::byte z[] = {std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
  TcpFramer framer;
  Collector c;
  framer.feed(Bytes{z}, std::ref(c));
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_TRUE(c.got[0].empty());
  DropReason why{};
  EXPECT_FALSE(Message::parse(Bytes{c.got[0]}, &why));
  EXPECT_EQ(why, DropReason::kTruncated);
}

TEST(DnsTcpFraming, OversizedLengthFailsAndSticks) {
  const Msg a = query_bytes(5, "example.com");  // 29 octets
  TcpFramer framer(28);
  Collector c;
  const Msg f = framed(a);
  EXPECT_EQ(framer.feed(Bytes{f}.first(1), std::ref(c)), TcpFramer::Status::kOk);
  EXPECT_EQ(framer.feed(Bytes{f}.subspan(1), std::ref(c)), TcpFramer::Status::kTooLarge);
  EXPECT_TRUE(framer.failed());
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(framer.buffered(), 0u);
  const Msg small = framed(query_bytes(6, "a.b"));
  EXPECT_EQ(framer.feed(Bytes{small}, std::ref(c)), TcpFramer::Status::kTooLarge);
  EXPECT_TRUE(c.got.empty());
  framer.reset();
  EXPECT_EQ(framer.feed(Bytes{small}, std::ref(c)), TcpFramer::Status::kOk);
  EXPECT_EQ(c.got.size(), 1u);
  // Exactly the cap is fine.
  TcpFramer exact(a.size());
  Collector e;
  EXPECT_EQ(exact.feed(Bytes{f}, std::ref(e)), TcpFramer::Status::kOk);
  EXPECT_EQ(e.got.size(), 1u);
}

TEST(DnsTcpFraming, ResetDropsPartialMessage) {
  const Msg a = query_bytes(7, "example.com");
  const Msg f = framed(a);
  TcpFramer framer;
  Collector c;
  framer.feed(Bytes{f}.first(10), std::ref(c));
  EXPECT_EQ(framer.buffered(), 10u);
  framer.reset();
  EXPECT_EQ(framer.buffered(), 0u);
  framer.feed(Bytes{f}, std::ref(c));
  ASSERT_EQ(c.got.size(), 1u);
  EXPECT_EQ(c.got[0], a);
}

}  // namespace
}  // namespace tapstack::dns
