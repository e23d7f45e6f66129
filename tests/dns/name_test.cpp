// Unit tests for dns/name: text form and validation, case-insensitive comparison, and the compression
// pointer decoder against crafted malicious names (loops, forward pointers, header pointers, long names).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns/name.hpp"
#include "wire_builder.hpp"

namespace tapstack::dns {
namespace {

using testing::WireBuilder;

std::vector<std::uint8_t> wire_of(const Name& n) {
  std::vector<std::uint8_t> v;
  for (auto b : n.wire()) v.push_back(std::uint8_t(b));
  return v;
}

Name name(std::string_view text) {
  auto n = Name::from_text(text);
  EXPECT_TRUE(n) << text;
  return n.value_or(Name{});
}

// A message whose 12-byte header is zeros, then `tail`.
WireBuilder after_header() {
  WireBuilder w;
  w.header(0, 0, 0, 0, 0, 0);
  return w;
}

DropReason parse_fails(Bytes msg, std::size_t offset, std::size_t max_hops = kDefaultMaxPointerHops) {
  DropReason why{};
  const auto p = Name::parse(msg, offset, &why, max_hops);
  EXPECT_FALSE(p) << "parsed as " << p->name;
  return why;
}

TEST(DnsName, FromTextGivesWireForm) {
  EXPECT_EQ(wire_of(name("www.example.com")),
            (std::vector<std::uint8_t>{3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0}));
  EXPECT_EQ(name("www.example.com."), name("www.example.com"));
  EXPECT_EQ(name("www.example.com.").wire_len(), 17u);
  EXPECT_TRUE(name(".").is_root());
  EXPECT_EQ(name(".").wire_len(), 1u);
  EXPECT_EQ(name("www.example.com").label_count(), 3u);
  EXPECT_EQ(Name{}.label_count(), 0u);
}

TEST(DnsName, FromTextRejectsEmptyLabelsAndBadEscapes) {
  for (const char* bad : {"", "..", "a..b", ".a", "a.b..", "a\\", "a\\1", "a\\12", "a\\1x3", "a\\256"}) {
    EXPECT_FALSE(Name::from_text(bad)) << bad;
  }
}

TEST(DnsName, LabelAndNameLengthLimits) {
  const std::string l63(63, 'a'), l64(64, 'a');
  EXPECT_TRUE(Name::from_text(l63 + ".example"));
  EXPECT_FALSE(Name::from_text(l64 + ".example"));
  // 3 labels of 63 and one of 61: 3*64 + 62 + 1 = 255 octets in wire form, the most allowed.
  const std::string max = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  const auto n = Name::from_text(max);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->wire_len(), 255u);
  EXPECT_FALSE(Name::from_text(max + "b"));   // 256
  EXPECT_FALSE(Name::from_text(max + ".c"));  // 257
  EXPECT_TRUE(Name::from_text(max + "."));    // the trailing dot adds nothing
}

TEST(DnsName, EscapesRoundTrip) {
  const Name dotted = name("a\\.b.example");  // first label is "a.b"
  EXPECT_EQ(dotted.label_count(), 2u);
  EXPECT_EQ(wire_of(dotted)[0], 3u);
  EXPECT_EQ(dotted.to_string(), "a\\.b.example");
  const Name odd = name("\\000\\255 x\\\\.example");
  EXPECT_EQ(wire_of(odd), (std::vector<std::uint8_t>{5, 0, 255, ' ', 'x', '\\', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0}));
  EXPECT_EQ(odd.to_string(), "\\000\\255\\032x\\\\.example");
  EXPECT_EQ(Name::from_text(odd.to_string()), odd);
  EXPECT_EQ(name(".").to_string(), ".");
  EXPECT_EQ(name("WWW.Example.COM.").to_string(), "WWW.Example.COM");  // case preserved
}

TEST(DnsName, ComparisonIgnoresAsciiCaseOnly) {
  EXPECT_EQ(name("WWW.Example.COM"), name("www.example.com"));
  EXPECT_EQ(name("WWW.Example.COM").hash(), name("www.example.com").hash());
  EXPECT_FALSE(name("www.example.com") == name("www.example.net"));
  EXPECT_FALSE(name("a.example") == name("a.example.com"));
  // RFC 4343 §3: only A-Z/a-z fold; 0xC1 and 0xE1 (Latin-1 'Á'/'á') are different octets.
  EXPECT_FALSE(name("\\193.example") == name("\\225.example"));
  // '[' (0x5b) and '{' (0x7b) differ by 0x20 but are not letters.
  EXPECT_FALSE(name("[.example") == name("{.example"));
}

TEST(DnsName, ParsesUncompressedAndCompressed) {
  WireBuilder w = after_header();
  w.name("www.example.com");  // @12
  const std::size_t second = w.size();
  w.labels("mail").ptr(16);  // "mail" + pointer to "example.com" @16
  const std::size_t after = w.size();

  DropReason why{};
  const auto a = Name::parse(w.bytes(), 12, &why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->name, name("www.example.com"));
  EXPECT_EQ(a->next, second);
  const auto b = Name::parse(w.bytes(), second, &why);
  ASSERT_TRUE(b) << why;
  EXPECT_EQ(b->name, name("mail.example.com"));
  EXPECT_EQ(b->next, after);  // just past the pointer, not where the pointer led
}

TEST(DnsName, SelfPointerIsALoop) {
  WireBuilder w = after_header();
  w.ptr(12);
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kPointerLoop);
}

TEST(DnsName, PointerIntoItsOwnLabelsIsALoop) {
  WireBuilder w = after_header();
  w.labels("a").ptr(12);  // backwards, but to the start of this very name
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kPointerLoop);
}

TEST(DnsName, TwoPointerCycleIsALoop) {
  WireBuilder w = after_header();
  w.ptr(14).ptr(12);  // @12 -> @14 -> @12
  EXPECT_EQ(parse_fails(w.bytes(), 14), DropReason::kPointerLoop);  // back to 12 fine, then 14 again
  // Entered at 12, the first hop already points forward.
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kForwardPointer);
}

TEST(DnsName, ForwardPointerRejected) {
  WireBuilder w = after_header();
  w.ptr(14).name("example");  // points past itself, at a valid name
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kForwardPointer);
}

TEST(DnsName, PointerIntoHeaderRejected) {
  WireBuilder w = after_header();
  w.ptr(4);
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kBadPointer);
  WireBuilder z = after_header();
  z.ptr(0);
  EXPECT_EQ(parse_fails(z.bytes(), 12), DropReason::kBadPointer);
}

TEST(DnsName, ReservedLabelTypesRejected) {
  WireBuilder w64 = after_header();
  w64.u8(64).fill(64, 'a').u8(0);  // "label 64": 0x40 is the retired extended label type
  EXPECT_EQ(parse_fails(w64.bytes(), 12), DropReason::kBadName);
  WireBuilder w80 = after_header();
  w80.u8(0x80).u8(0);
  EXPECT_EQ(parse_fails(w80.bytes(), 12), DropReason::kBadName);
  WireBuilder ok = after_header();
  ok.u8(63).fill(63, 'a').u8(0);
  EXPECT_TRUE(Name::parse(ok.bytes(), 12));
}

TEST(DnsName, NameOver255OctetsRejected) {
  // Uncompressed: 4 labels of 63 = 256 + root.
  WireBuilder w = after_header();
  for (int i = 0; i < 4; ++i) w.u8(63).fill(63, 'a');
  w.u8(0);
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kBadName);

  // Through pointers (CVE-2020-11901): each piece is short, the decompressed whole is not.
  WireBuilder c = after_header();
  c.u8(63).fill(63, 'a').u8(0);  // @12: 65 octets
  std::size_t prev = 12;
  for (int i = 0; i < 3; ++i) {
    const std::size_t here = c.size();
    c.u8(63).fill(63, 'b').ptr(std::uint16_t(prev));
    prev = here;
  }
  // 3*64 + 64 + 1 = 257 > 255
  EXPECT_EQ(parse_fails(c.bytes(), prev), DropReason::kBadName);
  // Exactly 255 parses: labels of 62, 63, 63 and 62 octets over three hops (63 + 64 + 64 + 63 + root).
  WireBuilder e = after_header();
  e.u8(62).fill(62, 'a').u8(0);  // @12: 64 octets
  e.u8(63).fill(63, 'b').ptr(12);
  const std::size_t mid = e.size();
  e.u8(63).fill(63, 'c').ptr(76);
  const std::size_t top = e.size();
  e.u8(62).fill(62, 'd').ptr(std::uint16_t(mid));
  DropReason why{};
  const auto p = Name::parse(e.bytes(), top, &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->name.wire_len(), 255u);
  EXPECT_EQ(p->name.label_count(), 4u);
}

TEST(DnsName, NeverReadsPastTheMessage) {
  WireBuilder w = after_header();
  w.u8(5).raw({'a', 'b'});  // label claims 5, 2 present
  EXPECT_EQ(parse_fails(w.bytes(), 12), DropReason::kTruncated);
  WireBuilder p = after_header();
  p.u8(0xc0);  // half a pointer
  EXPECT_EQ(parse_fails(p.bytes(), 12), DropReason::kTruncated);
  WireBuilder n = after_header();
  n.labels("abc");  // no root octet
  EXPECT_EQ(parse_fails(n.bytes(), 12), DropReason::kTruncated);
  EXPECT_EQ(parse_fails(n.bytes(), 99), DropReason::kTruncated);  // offset outside
}

TEST(DnsName, HopLimitBoundsPointerChains) {
  // @12 "a", then 6 names each a lone pointer to the previous one: the last needs 6 hops.
  WireBuilder w = after_header();
  w.name("a");
  std::size_t prev = 12;
  for (int i = 0; i < 6; ++i) {
    const std::size_t here = w.size();
    w.ptr(std::uint16_t(prev));
    prev = here;
  }
  DropReason why{};
  const auto ok = Name::parse(w.bytes(), prev, &why, 6);
  ASSERT_TRUE(ok) << why;
  EXPECT_EQ(ok->name, name("a"));
  EXPECT_EQ(ok->next, prev + 2);
  EXPECT_EQ(parse_fails(w.bytes(), prev, 5), DropReason::kPointerLoop);
  EXPECT_TRUE(Name::parse(w.bytes(), prev));  // default limit 16
}

TEST(DnsName, EmitWritesWireForm) {
  const Name n = name("example.com");
  std::vector<std::byte> out(n.wire_len());
  EXPECT_EQ(n.emit(out), 13u);
  EXPECT_EQ(Bytes{out}.size(), n.wire().size());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), n.wire().begin()));
  std::vector<std::byte> small(12);
  EXPECT_EQ(n.emit(small), 0u);
}

TEST(DnsName, DropReasonsHaveCounterNames) {
  WireCounters c;
  count(c, DropReason::kPointerLoop);
  count(c, DropReason::kForwardPointer);
  count(c, DropReason::kForwardPointer);
  EXPECT_EQ(c.drop_pointer_loop, 1u);
  EXPECT_EQ(c.drop_forward_pointer, 2u);
  EXPECT_EQ(c.total(), 3u);
  EXPECT_EQ(to_string(DropReason::kBadRdlength), "drop_bad_rdlength");
  std::vector<std::string> names;
  c.visit([&](std::string_view n, std::uint64_t) { names.emplace_back(n); });
  for (auto r : {DropReason::kTruncated, DropReason::kBadName, DropReason::kPointerLoop, DropReason::kForwardPointer,
                 DropReason::kBadPointer, DropReason::kBadRdlength, DropReason::kBadRdata}) {
    EXPECT_NE(std::find(names.begin(), names.end(), std::string(to_string(r))), names.end()) << to_string(r);
  }
}

}  // namespace
}  // namespace tapstack::dns
