// Unit tests for dns/message: query emit and round trips, typed RDATA, TTL rules, the record cap, crafted
// malicious messages (RDLENGTH, counts, truncation at every length), and answers_for's CNAME following.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/message.hpp"
#include "wire_builder.hpp"

namespace tapstack::dns {
namespace {

using testing::WireBuilder;

constexpr std::uint16_t kA = 1, kCname = 5, kAaaa = 28, kOpt = 41, kTxt = 16, kIn = 1, kCh = 3;

Name name(std::string_view text) {
  auto n = Name::from_text(text);
  EXPECT_TRUE(n) << text;
  return n.value_or(Name{});
}

ip::Ipv4Address v4(const char* s) { return *ip::Ipv4Address::parse(s); }
ip::Ipv6Address v6(const char* s) { return *ip::Ipv6Address::parse(s); }

DropReason parse_fails(Bytes msg, const ParseOptions& opt = {}) {
  DropReason why{};
  const auto m = Message::parse(msg, &why, opt);
  EXPECT_FALSE(m) << "parsed as " << *m;
  return why;
}

Message parse_ok(Bytes msg, const ParseOptions& opt = {}) {
  DropReason why{};
  auto m = Message::parse(msg, &why, opt);
  EXPECT_TRUE(m) << why;
  return m.value_or(Message{});
}

// A response to "www.example.com A": CNAME to web.example.com (compressed), then A and AAAA for the target
// and an OPT record. Remembers where each RDATA lies, for the truncation test.
struct Response {
  WireBuilder w;
  std::vector<std::pair<std::size_t, std::size_t>> rdata;  // [begin, end)

  Response() {
    w.header(0x1234, 0x8180, 1, 3, 0, 1);
    w.name("www.example.com").question(kA, kIn);  // name @12, "example.com" @16
    w.ptr(12).rr(kCname, kIn, 300, 6);
    const std::size_t target = w.size();
    rdata.push_back({target, target + 6});
    w.labels("web").ptr(16);
    w.ptr(std::uint16_t(target)).rr(kA, kIn, 60, 4);
    rdata.push_back({w.size(), w.size() + 4});
    w.raw({192, 0, 2, 1});
    w.ptr(std::uint16_t(target)).rr(kAaaa, kIn, 0x80000001u, 16);  // RFC 2181 §8: reads as 0
    rdata.push_back({w.size(), w.size() + 16});
    w.raw({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    w.u8(0).rr(kOpt, 1232, 0x00008000u, 0);  // EDNS: UDP 1232, DO
  }
};

TEST(DnsMessage, QueryEmitsExactBytes) {
  const Query q{0xbeef, name("www.example.com"), Type::kA, Class::kIn, true, false, std::nullopt};
  std::vector<std::byte> out(q.buffer_len());
  ASSERT_EQ(q.emit(out), 33u);
  WireBuilder expect;
  expect.header(0xbeef, 0x0100, 1, 0, 0, 0).name("www.example.com").question(kA, kIn);
  EXPECT_EQ(out, expect.vec());
}

TEST(DnsMessage, QueryWithEdnsEmitsOptRecord) {
  const Query q{7, name("example.net"), Type::kAaaa, Class::kIn, true, true, std::uint16_t{1232}};
  std::vector<std::byte> out(q.buffer_len());
  ASSERT_EQ(q.emit(out), q.buffer_len());
  WireBuilder expect;
  expect.header(7, 0x0110, 1, 0, 0, 1).name("example.net").question(kAaaa, kIn).u8(0).rr(kOpt, 1232, 0, 0);
  EXPECT_EQ(out, expect.vec());
  std::vector<std::byte> small(q.buffer_len() - 1);
  EXPECT_EQ(q.emit(small), 0u);
}

TEST(DnsMessage, QueryRoundTrip) {
  for (const char* n : {"www.example.com", "a.b.c.d.example.org", ".", "Mixed-Case.Example"}) {
    for (auto edns : {std::optional<std::uint16_t>{}, std::optional<std::uint16_t>{4096}}) {
      const Query q{0x0102, name(n), Type::kAaaa, Class::kIn, true, false, edns};
      std::vector<std::byte> out(q.buffer_len());
      ASSERT_EQ(q.emit(out), out.size());
      const Message m = parse_ok(Bytes{out});
      EXPECT_EQ(m.header.id, 0x0102);
      EXPECT_FALSE(m.header.qr);
      EXPECT_TRUE(m.header.rd);
      EXPECT_EQ(m.header.opcode, Opcode::kQuery);
      ASSERT_EQ(m.questions.size(), 1u);
      EXPECT_EQ(m.questions[0], (Question{name(n), Type::kAaaa, Class::kIn}));
      EXPECT_EQ(m.questions[0].name.to_string(), name(n).to_string());  // case kept on the wire
      EXPECT_TRUE(m.answers.empty());
      EXPECT_EQ(m.edns.has_value(), edns.has_value());
      if (edns) {
        EXPECT_EQ(m.edns->udp_payload_size, 4096);
      }
    }
  }
}

TEST(DnsMessage, HeaderFlagsRoundTrip) {
  for (std::uint32_t f = 0; f <= 0xffff; f += 0x0101) {
    const Header h = Header::from_flags(1, std::uint16_t(f));
    EXPECT_EQ(h.flags(), f);
  }
  const Header h = Header::from_flags(9, 0x8583);  // QR, opcode 0, AA, RD, RA, NXDOMAIN
  EXPECT_TRUE(h.qr);
  EXPECT_TRUE(h.aa);
  EXPECT_FALSE(h.tc);
  EXPECT_TRUE(h.rd);
  EXPECT_TRUE(h.ra);
  EXPECT_EQ(h.rcode, Rcode::kNxDomain);
  EXPECT_TRUE(Header::from_flags(0, 0x0200).tc);
  EXPECT_TRUE(Header::from_flags(0, 0x0020).ad);
  EXPECT_TRUE(Header::from_flags(0, 0x0010).cd);
  EXPECT_EQ(Header::from_flags(0, 0x2800).opcode, Opcode::kUpdate);
  std::vector<std::byte> short_msg(11);
  EXPECT_FALSE(Header::parse(Bytes{short_msg}));
}

TEST(DnsMessage, ParsesTypedRecords) {
  Response r;
  const Message m = parse_ok(r.w.bytes());
  EXPECT_EQ(m.header.id, 0x1234);
  EXPECT_TRUE(m.header.qr);
  EXPECT_TRUE(m.header.ra);
  ASSERT_EQ(m.answers.size(), 3u);
  EXPECT_EQ(m.answers[0].name, name("www.example.com"));
  ASSERT_NE(m.answers[0].cname(), nullptr);
  EXPECT_EQ(*m.answers[0].cname(), name("web.example.com"));
  EXPECT_EQ(m.answers[0].ttl, 300u);
  EXPECT_EQ(m.answers[1].name, name("web.example.com"));
  ASSERT_NE(m.answers[1].a(), nullptr);
  EXPECT_EQ(*m.answers[1].a(), v4("192.0.2.1"));
  ASSERT_NE(m.answers[2].aaaa(), nullptr);
  EXPECT_EQ(*m.answers[2].aaaa(), v6("2001:db8::1"));
  EXPECT_EQ(m.answers[2].ttl, 0u);  // top bit set
  ASSERT_EQ(m.additionals.size(), 1u);
  EXPECT_EQ(m.additionals[0].type, Type::kOpt);
  EXPECT_EQ(m.additionals[0].ttl, 0x8000u);  // OPT keeps its flags word
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(*m.edns, (Edns{1232, 0, 0, true}));
  EXPECT_EQ(m.records_dropped, 0u);
}

TEST(DnsMessage, TtlCappedAndTopBitZero) {
  WireBuilder w;
  w.header(1, 0x8000, 0, 3, 0, 0);
  w.name("example.com").rr(kA, kIn, 0x7fffffffu, 4).raw({192, 0, 2, 1});
  w.ptr(12).rr(kA, kIn, 0x80000000u, 4).raw({192, 0, 2, 2});
  w.ptr(12).rr(kA, kIn, 3600, 4).raw({192, 0, 2, 3});
  const Message m = parse_ok(w.bytes());
  EXPECT_EQ(m.answers[0].ttl, kDefaultMaxTtl);
  EXPECT_EQ(m.answers[1].ttl, 0u);
  EXPECT_EQ(m.answers[2].ttl, 3600u);
  ParseOptions opt;
  opt.max_ttl = 600;
  const Message c = parse_ok(w.bytes(), opt);
  EXPECT_EQ(c.answers[0].ttl, 600u);
  EXPECT_EQ(c.answers[2].ttl, 600u);
}

TEST(DnsMessage, OtherTypesKeptRaw) {
  WireBuilder w;
  w.header(1, 0x8000, 0, 2, 0, 0);
  w.name("example.com").rr(kTxt, kIn, 10, 4).raw({3, 'a', 'b', 'c'});
  w.ptr(12).rr(kA, kCh, 10, 5).raw({1, 2, 3, 4, 5});  // class CH: not the IN layout, carried as is
  const Message m = parse_ok(w.bytes());
  ASSERT_NE(m.answers[0].raw(), nullptr);
  EXPECT_EQ(m.answers[0].raw()->size(), 4u);
  EXPECT_EQ(m.answers[0].type, Type::kTxt);
  ASSERT_NE(m.answers[1].raw(), nullptr);
  EXPECT_EQ(m.answers[1].raw()->size(), 5u);
  EXPECT_EQ(m.answers[1].rclass, Class::kCh);
}

TEST(DnsMessage, RdlengthPastTheEndRejected) {
  WireBuilder w;
  w.header(1, 0x8000, 0, 1, 0, 0);
  w.name("example.com").rr(kTxt, kIn, 10, 200).raw({3, 'a', 'b', 'c'});
  EXPECT_EQ(parse_fails(w.bytes()), DropReason::kBadRdlength);
}

TEST(DnsMessage, ARecordMustBeFourOctets) {
  for (std::uint16_t len : {0, 3, 5, 16}) {
    WireBuilder w;
    w.header(1, 0x8000, 0, 1, 0, 0);
    w.name("example.com").rr(kA, kIn, 10, len).fill(len, 7);
    EXPECT_EQ(parse_fails(w.bytes()), DropReason::kBadRdata) << len;
  }
}

TEST(DnsMessage, AaaaRecordMustBeSixteenOctets) {
  for (std::uint16_t len : {0, 4, 15, 17}) {
    WireBuilder w;
    w.header(1, 0x8000, 0, 1, 0, 0);
    w.name("example.com").rr(kAaaa, kIn, 10, len).fill(len, 7);
    EXPECT_EQ(parse_fails(w.bytes()), DropReason::kBadRdata) << len;
  }
}

TEST(DnsMessage, CnameMustFillRdataExactly) {
  WireBuilder longer;
  longer.header(1, 0x8000, 0, 1, 0, 0);
  longer.name("example.com").rr(kCname, kIn, 10, 3).ptr(12).u8(0);  // name is 2 octets, RDLENGTH 3
  EXPECT_EQ(parse_fails(longer.bytes()), DropReason::kBadRdata);
  WireBuilder shorter;
  shorter.header(1, 0x8000, 0, 1, 0, 0);
  shorter.name("example.com").rr(kCname, kIn, 10, 1).name("a.example");  // name runs past RDLENGTH
  EXPECT_EQ(parse_fails(shorter.bytes()), DropReason::kBadRdata);
  WireBuilder loop;
  loop.header(1, 0x8000, 0, 1, 0, 0);
  loop.name("example.com").rr(kCname, kIn, 10, 2);
  loop.ptr(std::uint16_t(loop.size()));  // the target points at itself
  EXPECT_EQ(parse_fails(loop.bytes()), DropReason::kPointerLoop);
}

TEST(DnsMessage, HugeCountsOnShortMessageRejectedFast) {
  WireBuilder header_only;
  header_only.header(1, 0x8000, 65535, 65535, 65535, 65535);
  EXPECT_EQ(parse_fails(header_only.bytes()), DropReason::kTruncated);

  WireBuilder one;  // one real answer, 65535 claimed
  one.header(1, 0x8000, 0, 65535, 0, 0).name("example.com").rr(kA, kIn, 1, 4).raw({192, 0, 2, 1});
  EXPECT_EQ(parse_fails(one.bytes()), DropReason::kTruncated);

  WireBuilder questions;  // 65535 questions claimed, 2 present
  questions.header(1, 0, 65535, 0, 0, 0).name("example.com").question().ptr(12).question();
  EXPECT_EQ(parse_fails(questions.bytes()), DropReason::kTruncated);
}

TEST(DnsMessage, TruncatedAtEveryLengthRejected) {
  Response r;
  const Bytes full = r.w.bytes();
  ASSERT_TRUE(Message::parse(full));
  for (std::size_t len = 0; len < full.size(); ++len) {
    DropReason expected = DropReason::kTruncated;
    for (const auto& [begin, end] : r.rdata) {
      if (len >= begin && len < end) expected = DropReason::kBadRdlength;
    }
    EXPECT_EQ(parse_fails(full.first(len)), expected) << "length " << len;
  }
}

TEST(DnsMessage, TrailingOctetsIgnored) {
  Response r;
  r.w.raw({0xde, 0xad});
  EXPECT_EQ(parse_ok(r.w.bytes()).answers.size(), 3u);
}

TEST(DnsMessage, RecordsOverTheCapCountedNotKept) {
  WireBuilder w;
  w.header(1, 0x8000, 0, 100, 0, 0).name("example.com").rr(kA, kIn, 1, 4).raw({192, 0, 2, 0});
  for (int i = 1; i < 100; ++i) w.ptr(12).rr(kA, kIn, 1, 4).raw({192, 0, 2, std::uint8_t(i)});
  const Message m = parse_ok(w.bytes());
  ASSERT_EQ(m.answers.size(), kDefaultMaxRecordsPerSection);
  EXPECT_EQ(m.records_dropped, 100 - kDefaultMaxRecordsPerSection);
  EXPECT_EQ(*m.answers.back().a(), v4("192.0.2.63"));
  EXPECT_EQ(m.header.ancount, 100);

  // A bad record past the cap still rejects the message.
  w.set_u16(6, 101);
  w.ptr(12).rr(kA, kIn, 1, 5).fill(5, 0);
  EXPECT_EQ(parse_fails(w.bytes()), DropReason::kBadRdata);
}

TEST(DnsMessage, EmitParseRoundTrip) {
  Response r;
  const Message m = parse_ok(r.w.bytes());
  std::vector<std::byte> out(m.buffer_len());
  ASSERT_EQ(m.emit(out), out.size());
  EXPECT_GT(out.size(), r.w.size());  // uncompressed
  const Message back = parse_ok(Bytes{out});
  EXPECT_EQ(back, m);
  std::vector<std::byte> small(out.size() - 1);
  EXPECT_EQ(m.emit(small), 0u);
}

// --- answers_for ---------------------------------------------------------------------------------------

Record rec(const char* owner, const ip::Ipv4Address& a, std::uint32_t ttl = 300) {
  return {name(owner), Type::kA, Class::kIn, ttl, a};
}
Record rec6(const char* owner, const ip::Ipv6Address& a, std::uint32_t ttl = 300) {
  return {name(owner), Type::kAaaa, Class::kIn, ttl, a};
}
Record cname(const char* owner, const char* target, std::uint32_t ttl = 300) {
  return {name(owner), Type::kCname, Class::kIn, ttl, name(target)};
}

TEST(DnsAnswers, DirectAddresses) {
  Message m;
  m.answers = {rec("www.example.com", v4("192.0.2.1"), 60), rec("WWW.EXAMPLE.COM", v4("192.0.2.2"), 30),
               rec6("www.example.com", v6("2001:db8::1"))};
  const Answers a = answers_for(m, name("www.example.com"), Type::kA);
  EXPECT_EQ(a.end, Answers::End::kAddresses);
  EXPECT_EQ(a.canonical_name, name("www.example.com"));
  EXPECT_EQ(a.cname_hops, 0u);
  EXPECT_EQ(a.addresses, (std::vector<AddressAnswer>{{v4("192.0.2.1"), 60}, {v4("192.0.2.2"), 30}}));
  const Answers six = answers_for(m, name("www.example.com"), Type::kAaaa);
  EXPECT_EQ(six.addresses, (std::vector<AddressAnswer>{{v6("2001:db8::1"), 300}}));
}

TEST(DnsAnswers, FollowsCnameChainWithLowestTtl) {
  Message m;
  m.answers = {rec("c2.example.net", v4("198.51.100.7"), 500), cname("c1.example.org", "c2.example.net", 100),
               cname("www.example.com", "c1.example.org", 200)};
  const Answers a = answers_for(m, name("www.example.com"), Type::kA);
  EXPECT_EQ(a.end, Answers::End::kAddresses);
  EXPECT_EQ(a.canonical_name, name("c2.example.net"));
  EXPECT_EQ(a.cname_hops, 2u);
  EXPECT_EQ(a.addresses, (std::vector<AddressAnswer>{{v4("198.51.100.7"), 100}}));
}

TEST(DnsAnswers, IgnoresRecordsTheQuestionDidNotAskFor) {
  Message m;
  m.answers = {rec("evil.example.net", v4("198.51.100.66")),    // unrelated owner
               cname("other.example.com", "evil.example.net"),  // unrelated CNAME
               cname("www.example.com", "web.example.com"),
               {name("web.example.com"), Type::kA, Class::kCh, 300, RawRdata(4)},  // wrong class
               rec6("web.example.com", v6("2001:db8::66")),                          // wrong type
               rec("web.example.com", v4("192.0.2.10"))};
  m.authorities = {rec("www.example.com", v4("198.51.100.67"))};   // not the answer section
  m.additionals = {rec("web.example.com", v4("198.51.100.68"))};
  const Answers a = answers_for(m, name("www.example.com"), Type::kA);
  EXPECT_EQ(a.end, Answers::End::kAddresses);
  EXPECT_EQ(a.canonical_name, name("web.example.com"));
  EXPECT_EQ(a.addresses, (std::vector<AddressAnswer>{{v4("192.0.2.10"), 300}}));

  // An address only for a name reached by a CNAME from another name: nothing.
  Message side;
  side.answers = {cname("other.example.com", "web.example.com"), rec("web.example.com", v4("198.51.100.1"))};
  const Answers none = answers_for(side, name("www.example.com"), Type::kA);
  EXPECT_EQ(none.end, Answers::End::kNoData);
  EXPECT_TRUE(none.addresses.empty());
  EXPECT_EQ(none.canonical_name, name("www.example.com"));
}

TEST(DnsAnswers, NoDataAtEndOfChain) {
  Message m;
  m.answers = {cname("www.example.com", "web.example.com")};
  const Answers a = answers_for(m, name("www.example.com"), Type::kA);
  EXPECT_EQ(a.end, Answers::End::kNoData);
  EXPECT_EQ(a.canonical_name, name("web.example.com"));
  EXPECT_EQ(a.cname_hops, 1u);
  EXPECT_TRUE(a.addresses.empty());
}

TEST(DnsAnswers, CnameLoopBounded) {
  Message m;
  m.answers = {cname("a.example.com", "b.example.com"), cname("b.example.com", "a.example.com"),
               rec("c.example.com", v4("192.0.2.1"))};
  const Answers a = answers_for(m, name("a.example.com"), Type::kA);
  EXPECT_EQ(a.end, Answers::End::kHopLimit);
  EXPECT_EQ(a.cname_hops, kDefaultMaxCnameHops);
  EXPECT_TRUE(a.addresses.empty());
  Message self;
  self.answers = {cname("a.example.com", "A.example.com")};
  EXPECT_EQ(answers_for(self, name("a.example.com"), Type::kA, 3).cname_hops, 3u);
}

TEST(DnsAnswers, ChainLengthLimit) {
  // c0 -> c1 -> ... -> cN, address at cN.
  auto chain = [](int n) {
    Message m;
    for (int i = 0; i < n; ++i) {
      m.answers.push_back(cname(("c" + std::to_string(i) + ".example").c_str(),
                                ("c" + std::to_string(i + 1) + ".example").c_str()));
    }
    m.answers.push_back(rec(("c" + std::to_string(n) + ".example").c_str(), v4("192.0.2.9")));
    return m;
  };
  const Answers eight = answers_for(chain(8), name("c0.example"), Type::kA);
  EXPECT_EQ(eight.end, Answers::End::kAddresses);
  EXPECT_EQ(eight.cname_hops, 8u);
  EXPECT_EQ(eight.addresses.size(), 1u);
  const Answers nine = answers_for(chain(9), name("c0.example"), Type::kA);
  EXPECT_EQ(nine.end, Answers::End::kHopLimit);
  EXPECT_TRUE(nine.addresses.empty());
}

TEST(DnsAnswers, FromParsedResponse) {
  Response r;
  const Message m = parse_ok(r.w.bytes());
  const Answers a = answers_for(m, m.questions[0].name, m.questions[0].type);
  EXPECT_EQ(a.end, Answers::End::kAddresses);
  EXPECT_EQ(a.canonical_name, name("web.example.com"));
  EXPECT_EQ(a.addresses, (std::vector<AddressAnswer>{{v4("192.0.2.1"), 60}}));
  const Answers six = answers_for(m, m.questions[0].name, Type::kAaaa);
  EXPECT_EQ(six.addresses, (std::vector<AddressAnswer>{{v6("2001:db8::1"), 0}}));
}

}  // namespace
}  // namespace tapstack::dns
