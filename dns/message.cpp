// DNS messages: the section walker and record decoder (RFC 1035 §4.1, hardened per CONFORMANCE §2/§3),
// the uncompressed emitters, and the CNAME-following answer picker. See message.hpp for the contract.
#include "dns/message.hpp"

#include <algorithm>
#include <limits>

namespace tapstack::dns {

namespace {

// Fixed part of a question after its name (QTYPE, QCLASS) and of a record (TYPE, CLASS, TTL, RDLENGTH).
constexpr std::size_t kQuestionFixedLen = 4;
constexpr std::size_t kRecordFixedLen = 10;
constexpr std::size_t kMinRecordLen = 1 + kRecordFixedLen;  // root owner, no RDATA
constexpr std::size_t kOptRecordLen = 1 + kRecordFixedLen;  // root owner, no options
constexpr std::uint32_t kTtlTopBit = 0x80000000u;

// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD and CD).
constexpr std::uint16_t kQr = 0x8000, kAa = 0x0400, kTc = 0x0200, kRd = 0x0100, kRa = 0x0080, kZ = 0x0040,
                        kAd = 0x0020, kCd = 0x0010;

// header field offsets
constexpr std::size_t kId = 0, kFlags = 2, kQdCount = 4, kAnCount = 6, kNsCount = 8, kArCount = 10;

std::optional<Record> parse_record(Bytes msg, std::size_t& pos, const ParseOptions& opt, DropReason* why) noexcept {
  auto fail = [why](DropReason r) -> std::optional<Record> {
    if (why != nullptr) *why = r;
    return std::nullopt;
  };
  auto owner = Name::parse(msg, pos, why, opt.max_pointer_hops);
  if (!owner) return std::nullopt;
  std::size_t p = owner->next;
  if (p + kRecordFixedLen > msg.size()) return fail(DropReason::kTruncated);
  Record r;
  r.name = owner->name;
  r.type = Type{load_be16(msg, p)};
  r.rclass = Class{load_be16(msg, p + 2)};
  const std::uint32_t raw_ttl = load_be32(msg, p + 4);
  const std::size_t rdlength = load_be16(msg, p + 8);
  p += kRecordFixedLen;
  if (p + rdlength > msg.size()) return fail(DropReason::kBadRdlength);  // CVE-2020-24336
  const Bytes rdata = msg.subspan(p, rdlength);

  if (r.type == Type::kOpt) {
    r.ttl = raw_ttl;  // RFC 6891 §6.1.3: extended RCODE and flags, not a TTL
  } else {
    // RFC 2181 §8: "treated as if the entire value received was zero"; then the cache cap.
    r.ttl = (raw_ttl & kTtlTopBit) != 0 ? 0 : std::min(raw_ttl, opt.max_ttl);
  }

  // A and AAAA layouts are defined for class IN only (RFC 1035 §3.4.1, RFC 3596 §2.2); other classes keep
  // the raw octets (Chaosnet A is an address plus a name).
  if (r.type == Type::kA && r.rclass == Class::kIn) {
    if (rdlength != 4) return fail(DropReason::kBadRdata);
    r.data = ip::Ipv4Address::from_bytes(rdata);
  } else if (r.type == Type::kAaaa && r.rclass == Class::kIn) {
    if (rdlength != 16) return fail(DropReason::kBadRdata);
    r.data = ip::Ipv6Address::from_bytes(rdata);
  } else if (r.type == Type::kCname) {
    // RFC 1035 §3.3.1: one name, which may be compressed against the whole message; it must end exactly
    // at the end of the RDATA.
    auto target = Name::parse(msg, p, why, opt.max_pointer_hops);
    if (!target) return std::nullopt;
    if (target->next != p + rdlength) return fail(DropReason::kBadRdata);
    r.data = target->name;
  } else {
    r.data = RawRdata(rdata.begin(), rdata.end());
  }
  pos = p + rdlength;
  return r;
}

bool parse_section(Bytes msg, std::size_t& pos, std::size_t count, std::vector<Record>& out, Message& m,
                   const ParseOptions& opt, DropReason* why, bool additional) noexcept {
  // Reserve only what the bytes left can hold: a count of 65535 on a 12-byte message allocates nothing.
  out.reserve(std::min({count, opt.max_records_per_section, (msg.size() - pos) / kMinRecordLen}));
  for (std::size_t i = 0; i < count; ++i) {
    auto r = parse_record(msg, pos, opt, why);
    if (!r) return false;
    if (additional && r->type == Type::kOpt && !m.edns) {
      m.edns = Edns{std::uint16_t(r->rclass), std::uint8_t(r->ttl >> 24), std::uint8_t(r->ttl >> 16),
                    (r->ttl & 0x8000u) != 0};
    }
    if (out.size() < opt.max_records_per_section) {
      out.push_back(std::move(*r));
    } else {
      ++m.records_dropped;
    }
  }
  return true;
}

std::size_t rdata_len(const Rdata& d) noexcept {
  struct Len {
    std::size_t operator()(const RawRdata& raw) const noexcept { return raw.size(); }
    std::size_t operator()(const ip::Ipv4Address&) const noexcept { return 4; }
    std::size_t operator()(const ip::Ipv6Address&) const noexcept { return 16; }
    std::size_t operator()(const Name& n) const noexcept { return n.wire_len(); }
  };
  return std::visit(Len{}, d);
}

std::size_t record_len(const Record& r) noexcept { return r.name.wire_len() + kRecordFixedLen + rdata_len(r.data); }

// Callers have checked the room (buffer_len); returns the new offset.
std::size_t emit_question(MutableBytes out, std::size_t pos, const Name& name, Type type, Class qclass) noexcept {
  pos += name.emit(out.subspan(pos));
  store_be16(out, pos, std::uint16_t(type));
  store_be16(out, pos + 2, std::uint16_t(qclass));
  return pos + kQuestionFixedLen;
}

std::size_t emit_record(MutableBytes out, std::size_t pos, const Record& r) noexcept {
  pos += r.name.emit(out.subspan(pos));
  store_be16(out, pos, std::uint16_t(r.type));
  store_be16(out, pos + 2, std::uint16_t(r.rclass));
  store_be32(out, pos + 4, r.ttl);
  const std::size_t len = rdata_len(r.data);
  store_be16(out, pos + 8, std::uint16_t(len));
  pos += kRecordFixedLen;
  const MutableBytes rd = out.subspan(pos, len);
  if (const auto* raw = r.raw()) {
    copy_bytes(rd, Bytes{*raw});
  } else if (const auto* a = r.a()) {
    a->write(rd);
  } else if (const auto* aaaa = r.aaaa()) {
    aaaa->write(rd);
  } else if (const auto* n = r.cname()) {
    n->emit(rd);
  }
  return pos + len;
}

std::uint16_t clamp_count(std::size_t n) noexcept {
  return std::uint16_t(std::min<std::size_t>(n, std::numeric_limits<std::uint16_t>::max()));
}

}  // namespace

std::ostream& operator<<(std::ostream& os, Type t) {
  switch (t) {
    case Type::kA: return os << "A";
    case Type::kNs: return os << "NS";
    case Type::kCname: return os << "CNAME";
    case Type::kSoa: return os << "SOA";
    case Type::kPtr: return os << "PTR";
    case Type::kMx: return os << "MX";
    case Type::kTxt: return os << "TXT";
    case Type::kAaaa: return os << "AAAA";
    case Type::kSrv: return os << "SRV";
    case Type::kOpt: return os << "OPT";
    case Type::kDs: return os << "DS";
    case Type::kRrsig: return os << "RRSIG";
    case Type::kDnskey: return os << "DNSKEY";
    case Type::kAny: return os << "ANY";
  }
  return os << "TYPE" << std::uint16_t(t);  // RFC 3597 §5
}

std::ostream& operator<<(std::ostream& os, Rcode r) {
  switch (r) {
    case Rcode::kNoError: return os << "NOERROR";
    case Rcode::kFormErr: return os << "FORMERR";
    case Rcode::kServFail: return os << "SERVFAIL";
    case Rcode::kNxDomain: return os << "NXDOMAIN";
    case Rcode::kNotImp: return os << "NOTIMP";
    case Rcode::kRefused: return os << "REFUSED";
  }
  return os << "RCODE" << unsigned(r);
}

std::uint16_t Header::flags() const noexcept {
  std::uint16_t f = std::uint16_t((unsigned(opcode) & 0x0f) << 11) | std::uint16_t(unsigned(rcode) & 0x0f);
  if (qr) f |= kQr;
  if (aa) f |= kAa;
  if (tc) f |= kTc;
  if (rd) f |= kRd;
  if (ra) f |= kRa;
  if (z) f |= kZ;
  if (ad) f |= kAd;
  if (cd) f |= kCd;
  return f;
}

Header Header::from_flags(std::uint16_t id, std::uint16_t f) noexcept {
  Header h;
  h.id = id;
  h.qr = (f & kQr) != 0;
  h.opcode = Opcode((f >> 11) & 0x0f);
  h.aa = (f & kAa) != 0;
  h.tc = (f & kTc) != 0;
  h.rd = (f & kRd) != 0;
  h.ra = (f & kRa) != 0;
  h.z = (f & kZ) != 0;
  h.ad = (f & kAd) != 0;
  h.cd = (f & kCd) != 0;
  h.rcode = Rcode(f & 0x0f);
  return h;
}

std::optional<Header> Header::parse(Bytes msg) noexcept {
  if (msg.size() < kHeaderLen) return std::nullopt;
  Header h = from_flags(load_be16(msg, kId), load_be16(msg, kFlags));
  h.qdcount = load_be16(msg, kQdCount);
  h.ancount = load_be16(msg, kAnCount);
  h.nscount = load_be16(msg, kNsCount);
  h.arcount = load_be16(msg, kArCount);
  return h;
}

void Header::emit(MutableBytes out) const noexcept {
  store_be16(out, kId, id);
  store_be16(out, kFlags, flags());
  store_be16(out, kQdCount, qdcount);
  store_be16(out, kAnCount, ancount);
  store_be16(out, kNsCount, nscount);
  store_be16(out, kArCount, arcount);
}

std::ostream& operator<<(std::ostream& os, const Header& h) {
  os << "id=" << h.id << (h.qr ? " response" : " query") << " opcode=" << unsigned(h.opcode);
  if (h.aa) os << " AA";
  if (h.tc) os << " TC";
  if (h.rd) os << " RD";
  if (h.ra) os << " RA";
  if (h.z) os << " Z";
  if (h.ad) os << " AD";
  if (h.cd) os << " CD";
  return os << ' ' << h.rcode << ' ' << h.qdcount << '/' << h.ancount << '/' << h.nscount << '/' << h.arcount;
}

std::ostream& operator<<(std::ostream& os, const Question& q) {
  return os << q.name << ' ' << q.type << " class " << std::uint16_t(q.qclass);
}

std::ostream& operator<<(std::ostream& os, const Record& r) {
  os << r.name << ' ' << r.ttl << ' ' << r.type << " class " << std::uint16_t(r.rclass);
  if (const auto* a = r.a()) return os << ' ' << *a;
  if (const auto* aaaa = r.aaaa()) return os << ' ' << *aaaa;
  if (const auto* n = r.cname()) return os << ' ' << *n;
  return os << " (" << rdata_len(r.data) << " octets)";
}

std::ostream& operator<<(std::ostream& os, const Message& m) {
  os << '{' << m.header;
  for (const auto& q : m.questions) os << "; Q " << q;
  for (const auto& r : m.answers) os << "; AN " << r;
  for (const auto& r : m.authorities) os << "; NS " << r;
  for (const auto& r : m.additionals) os << "; AR " << r;
  if (m.records_dropped != 0) os << "; " << m.records_dropped << " dropped";
  return os << '}';
}

std::optional<Message> Message::parse(Bytes msg, DropReason* why, const ParseOptions& opt) noexcept {
  auto fail = [why](DropReason r) -> std::optional<Message> {
    if (why != nullptr) *why = r;
    return std::nullopt;
  };
  const auto header = Header::parse(msg);
  if (!header) return fail(DropReason::kTruncated);
  Message m;
  m.header = *header;
  std::size_t pos = kHeaderLen;

  // Each step below consumes at least one octet or fails, so the loops are bounded by msg.size() whatever
  // the counts say (CVE-2020-24340).
  m.questions.reserve(std::min({std::size_t(header->qdcount), opt.max_records_per_section,
                                (msg.size() - pos) / (1 + kQuestionFixedLen)}));
  for (std::size_t i = 0; i < header->qdcount; ++i) {
    auto name = Name::parse(msg, pos, why, opt.max_pointer_hops);
    if (!name) return std::nullopt;
    if (name->next + kQuestionFixedLen > msg.size()) return fail(DropReason::kTruncated);
    Question q{name->name, Type{load_be16(msg, name->next)}, Class{load_be16(msg, name->next + 2)}};
    pos = name->next + kQuestionFixedLen;
    if (m.questions.size() < opt.max_records_per_section) {
      m.questions.push_back(q);
    } else {
      ++m.records_dropped;
    }
  }
  if (!parse_section(msg, pos, header->ancount, m.answers, m, opt, why, false)) return std::nullopt;
  if (!parse_section(msg, pos, header->nscount, m.authorities, m, opt, why, false)) return std::nullopt;
  if (!parse_section(msg, pos, header->arcount, m.additionals, m, opt, why, true)) return std::nullopt;
  return m;
}

std::size_t Message::buffer_len() const noexcept {
  std::size_t n = kHeaderLen;
  for (const auto& q : questions) n += q.name.wire_len() + kQuestionFixedLen;
  for (const auto* section : {&answers, &authorities, &additionals}) {
    for (const auto& r : *section) n += record_len(r);
  }
  return n;
}

std::size_t Message::emit(MutableBytes out) const noexcept {
  const std::size_t len = buffer_len();
  if (out.size() < len) return 0;
  Header h = header;
  h.qdcount = clamp_count(questions.size());
  h.ancount = clamp_count(answers.size());
  h.nscount = clamp_count(authorities.size());
  h.arcount = clamp_count(additionals.size());
  h.emit(out);
  std::size_t pos = kHeaderLen;
  for (const auto& q : questions) pos = emit_question(out, pos, q.name, q.type, q.qclass);
  for (const auto* section : {&answers, &authorities, &additionals}) {
    for (const auto& r : *section) pos = emit_record(out, pos, r);
  }
  return pos;
}

std::size_t Query::buffer_len() const noexcept {
  return kHeaderLen + name.wire_len() + kQuestionFixedLen + (edns_udp_size ? kOptRecordLen : 0);
}

std::size_t Query::emit(MutableBytes out) const noexcept {
  const std::size_t len = buffer_len();
  if (out.size() < len) return 0;
  Header h;
  h.id = id;
  h.rd = rd;
  h.cd = cd;
  h.qdcount = 1;
  h.arcount = edns_udp_size ? 1 : 0;
  h.emit(out);
  std::size_t pos = emit_question(out, kHeaderLen, name, type, qclass);
  if (edns_udp_size) {
    // RFC 6891 §6.1.2: root owner, TYPE OPT, CLASS = our UDP payload size, TTL 0 (version 0, DO clear).
    Record opt{Name{}, Type::kOpt, Class{*edns_udp_size}, 0, RawRdata{}};
    pos = emit_record(out, pos, opt);
  }
  return pos;
}

Answers answers_for(const Message& m, const Name& qname, Type type, std::size_t max_hops) noexcept {
  Answers out;
  out.canonical_name = qname;
  std::uint32_t chain_ttl = std::numeric_limits<std::uint32_t>::max();
  for (;;) {
    const Name& current = out.canonical_name;
    bool found = false;
    const Record* cname = nullptr;
    for (const auto& r : m.answers) {
      if (r.rclass != Class::kIn || !(r.name == current)) continue;
      if (r.type == type) {
        found = true;
        const std::uint32_t ttl = std::min(r.ttl, chain_ttl);
        if (const auto* a = r.a()) out.addresses.push_back({ip::IpAddress{*a}, ttl});
        if (const auto* aaaa = r.aaaa()) out.addresses.push_back({ip::IpAddress{*aaaa}, ttl});
      } else if (r.type == Type::kCname && cname == nullptr && r.cname() != nullptr) {
        cname = &r;  // RFC 2181 §10.1: at most one CNAME per name; the first one wins
      }
    }
    if (found) {
      out.end = Answers::End::kAddresses;
      return out;
    }
    if (cname == nullptr) {
      out.end = Answers::End::kNoData;
      return out;
    }
    if (out.cname_hops >= max_hops) {
      out.end = Answers::End::kHopLimit;
      return out;
    }
    ++out.cname_hops;
    chain_ttl = std::min(chain_ttl, cname->ttl);
    out.canonical_name = *cname->cname();
  }
}

}  // namespace tapstack::dns
