// Differential tests against libtins, an independent DNS implementation: we parse the responses libtins
// serializes (add_query/add_answer, with its own name compression), and libtins parses the queries we emit.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <vector>

#include "dns/message.hpp"

namespace tapstack::dns {
namespace {

Name name(std::string_view text) { return *Name::from_text(text); }

std::vector<std::byte> serialize(const Tins::DNS& d) {
  const auto buf = const_cast<Tins::DNS&>(d).serialize();
  const auto b = std::as_bytes(std::span{buf});
  return {b.begin(), b.end()};
}

TEST(DnsTins, WeParseWhatLibtinsSerializes) {
  Tins::DNS d;
  d.id(0x4242);
  d.type(Tins::DNS::RESPONSE);
  d.recursion_desired(1);
  d.recursion_available(1);
  d.authoritative_answer(1);
  d.add_query(Tins::DNS::query("www.example.com", Tins::DNS::A, Tins::DNS::INTERNET));
  d.add_answer(Tins::DNS::resource("www.example.com", "web.example.com", Tins::DNS::CNAME, Tins::DNS::INTERNET, 120));
  d.add_answer(Tins::DNS::resource("web.example.com", "192.0.2.80", Tins::DNS::A, Tins::DNS::INTERNET, 60));
  d.add_answer(Tins::DNS::resource("web.example.com", "198.51.100.80", Tins::DNS::A, Tins::DNS::INTERNET, 90));
  d.add_answer(Tins::DNS::resource("web.example.com", "2001:db8::80", Tins::DNS::AAAA, Tins::DNS::INTERNET, 30));
  d.add_authority(Tins::DNS::resource("example.com", "ns1.example.com", Tins::DNS::NS, Tins::DNS::INTERNET, 3600));
  d.add_additional(Tins::DNS::resource("ns1.example.com", "192.0.2.53", Tins::DNS::A, Tins::DNS::INTERNET, 3600));
  const auto bytes = serialize(d);

  DropReason why{};
  const auto m = Message::parse(Bytes{bytes}, &why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->header.id, 0x4242);
  EXPECT_TRUE(m->header.qr);
  EXPECT_TRUE(m->header.rd);
  EXPECT_TRUE(m->header.ra);
  EXPECT_TRUE(m->header.aa);
  EXPECT_FALSE(m->header.tc);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0], (Question{name("www.example.com"), Type::kA, Class::kIn}));
  ASSERT_EQ(m->answers.size(), 4u);
  EXPECT_EQ(*m->answers[0].cname(), name("web.example.com"));
  EXPECT_EQ(m->answers[0].ttl, 120u);
  EXPECT_EQ(*m->answers[1].a(), *ip::Ipv4Address::parse("192.0.2.80"));
  EXPECT_EQ(*m->answers[3].aaaa(), *ip::Ipv6Address::parse("2001:db8::80"));
  ASSERT_EQ(m->authorities.size(), 1u);
  EXPECT_EQ(m->authorities[0].type, Type::kNs);
  ASSERT_EQ(m->additionals.size(), 1u);
  EXPECT_EQ(m->additionals[0].name, name("ns1.example.com"));

  const Answers a = answers_for(*m, name("www.example.com"), Type::kA);
  EXPECT_EQ(a.end, Answers::End::kAddresses);
  EXPECT_EQ(a.canonical_name, name("web.example.com"));
  EXPECT_EQ(a.addresses, (std::vector<AddressAnswer>{{*ip::Ipv4Address::parse("192.0.2.80"), 60},
                                                     {*ip::Ipv4Address::parse("198.51.100.80"), 90}}));

  // And libtins reads back what we re-emit (uncompressed) the same way.
  std::vector<std::byte> ours(m->buffer_len());
  ASSERT_EQ(m->emit(ours), ours.size());
  const Tins::DNS back(reinterpret_cast<const std::uint8_t*>(ours.data()), std::uint32_t(ours.size()));
  ASSERT_EQ(back.answers().size(), 4u);
  EXPECT_EQ(back.answers()[0].data(), "web.example.com");
  EXPECT_EQ(back.answers()[2].data(), "198.51.100.80");
  EXPECT_EQ(back.answers()[3].data(), "2001:db8::80");
  EXPECT_EQ(back.authority().at(0).data(), "ns1.example.com");
}

TEST(DnsTins, LibtinsParsesTheQueriesWeEmit) {
  struct Case {
    const char* qname;
    Type type;
    Tins::DNS::QueryType tins_type;
    std::optional<std::uint16_t> edns;
  };
  for (const Case& c : {Case{"www.example.com", Type::kA, Tins::DNS::A, std::nullopt},
                        Case{"ipv6.example.net", Type::kAaaa, Tins::DNS::AAAA, std::uint16_t{1232}},
                        Case{"Mixed.Case.Example", Type::kA, Tins::DNS::A, std::uint16_t{4096}}}) {
    const Query q{0xabcd, name(c.qname), c.type, Class::kIn, true, false, c.edns};
    std::vector<std::byte> out(q.buffer_len());
    ASSERT_EQ(q.emit(out), out.size());
    const Tins::DNS d(reinterpret_cast<const std::uint8_t*>(out.data()), std::uint32_t(out.size()));
    EXPECT_EQ(d.id(), 0xabcd);
    EXPECT_EQ(d.type(), Tins::DNS::QUERY);
    EXPECT_EQ(d.recursion_desired(), 1);
    EXPECT_EQ(d.truncated(), 0);
    EXPECT_EQ(d.opcode(), 0);
    ASSERT_EQ(d.questions_count(), 1);
    const auto qs = d.queries();
    ASSERT_EQ(qs.size(), 1u);
    EXPECT_EQ(qs[0].dname(), c.qname);
    EXPECT_EQ(qs[0].query_type(), c.tins_type);
    EXPECT_EQ(qs[0].query_class(), Tins::DNS::INTERNET);
    EXPECT_EQ(d.additional_count(), c.edns ? 1 : 0);
    if (c.edns) {
      const auto ar = d.additional();
      ASSERT_EQ(ar.size(), 1u);
      EXPECT_EQ(ar[0].query_type(), 41);
      EXPECT_EQ(ar[0].query_class(), *c.edns);
      EXPECT_EQ(ar[0].dname(), "");
    }
  }
}

}  // namespace
}  // namespace tapstack::dns
