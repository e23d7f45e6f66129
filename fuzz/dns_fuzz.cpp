// libFuzzer target for dns/: the input is one DNS message (a UDP payload). Parses it, checks the bounds
// parse promises, runs answers_for on the question, emits what parsed and re-parses it; then feeds the same
// bytes as a TCP stream through TcpFramer in input-derived chunk sizes and checks that chunking never
// changes what comes out. abort() on any inconsistency.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dns/message.hpp"
#include "dns/tcp_framing.hpp"

namespace {

using namespace tapstack;
using namespace tapstack::dns;

void require(bool ok) {
  if (!ok) std::abort();
}

ParseOptions small_limits() {
  ParseOptions o;
  o.max_records_per_section = 8;
  o.max_pointer_hops = 4;
  return o;
}

void check_message(Bytes in, const ParseOptions& opt) {
  DropReason why{};
  const auto m = Message::parse(in, &why, opt);
  if (!m) {
    require(why <= DropReason::kBadRdata);
    return;
  }
  require(in.size() >= kHeaderLen);
  for (const auto* s : {&m->answers, &m->authorities, &m->additionals}) {
    require(s->size() <= opt.max_records_per_section);
    for (const auto& r : *s) {
      require(r.name.wire_len() >= 1 && r.name.wire_len() <= kMaxNameLen);
      require(r.type == Type::kOpt || r.ttl <= opt.max_ttl);
      if (r.a() != nullptr || r.aaaa() != nullptr) require(r.rclass == Class::kIn);
    }
  }
  require(m->questions.size() <= opt.max_records_per_section);
  require(m->questions.size() + m->answers.size() + m->authorities.size() + m->additionals.size() +
              m->records_dropped ==
          std::size_t(m->header.qdcount) + m->header.ancount + m->header.nscount + m->header.arcount);

  for (const auto& q : m->questions) {
    for (Type t : {Type::kA, Type::kAaaa, q.type}) {
      const Answers a = answers_for(*m, q.name, t, 3);
      require(a.cname_hops <= 3);
      require(a.addresses.size() <= m->answers.size());
      require(a.end == Answers::End::kAddresses || a.addresses.empty());
      for (const auto& x : a.addresses) require(x.ttl <= opt.max_ttl);
    }
  }

  // emit -> parse gives the same message (counts now equal to the sections kept).
  std::vector<std::byte> out(m->buffer_len());
  require(m->emit(out) == out.size());
  const auto m2 = Message::parse(Bytes{out}, &why, opt);
  require(m2.has_value());
  if (m->records_dropped == 0) {
    Message expected = *m;
    expected.header.qdcount = std::uint16_t(m->questions.size());
    expected.header.ancount = std::uint16_t(m->answers.size());
    expected.header.nscount = std::uint16_t(m->authorities.size());
    expected.header.arcount = std::uint16_t(m->additionals.size());
    require(*m2 == expected);
  }
  std::vector<std::byte> out2(m2->buffer_len());
  require(m2->emit(out2) == out2.size());
  require(out2 == out);
}

std::vector<std::vector<std::byte>> frame_all(Bytes in, std::size_t max, std::size_t chunk_seed,
                                              TcpFramer::Status& status, std::size_t& buffered) {
  TcpFramer framer(max);
  std::vector<std::vector<std::byte>> got;
  std::size_t delivered = 0;
  auto sink = [&](Bytes b) {
    require(b.size() <= max);
    delivered += b.size() + kTcpLengthPrefix;
    got.emplace_back(b.begin(), b.end());
  };
  status = TcpFramer::Status::kOk;
  std::uint32_t x = std::uint32_t(chunk_seed) * 2654435761u + 1;
  while (!in.empty()) {
    std::size_t n = in.size();
    if (chunk_seed != 0) {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;  // xorshift32: chunk sizes 0..31
      n = std::min<std::size_t>(in.size(), x % 32);
    }
    status = framer.feed(in.first(n), sink);
    in = in.subspan(n);
    if (status != TcpFramer::Status::kOk) break;
  }
  buffered = framer.buffered();
  return got;
}

void check_framer(Bytes in) {
  for (std::size_t max : {std::size_t{65535}, std::size_t{64}}) {
    TcpFramer::Status whole_status{}, chunked_status{};
    std::size_t whole_buffered = 0, chunked_buffered = 0;
    const auto whole = frame_all(in, max, 0, whole_status, whole_buffered);
    const auto chunked = frame_all(in, max, in.empty() ? 1 : std::size_t(in[0]) + 1, chunked_status, chunked_buffered);
    require(whole == chunked);
    require(whole_status == chunked_status);
    if (whole_status == TcpFramer::Status::kOk) {
      std::size_t total = whole_buffered;
      for (const auto& m : whole) total += m.size() + kTcpLengthPrefix;
      require(total == in.size());
      require(whole_buffered == chunked_buffered);
    }
    for (const auto& m : whole) (void)Message::parse(Bytes{m});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  check_message(in, ParseOptions{});
  check_message(in, small_limits());
  check_framer(in);
  return 0;
}
