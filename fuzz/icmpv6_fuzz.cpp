// libFuzzer target for ICMPv6, NDP and MLD (ip/icmpv6.hpp, ip/ndp_options.hpp). The first input byte picks
// the IPv6 context (source ::, link-local or global; destination multicast or unicast; hop limit 255 or not);
// the rest is the ICMPv6 message. Parse with the checksum skipped, then emit what parsed and parse it again
// with the checksum verified: echo/errors, RS/RA/NS/NA must round-trip; option lists and MLDv2 records are
// walked, MLD queries and MLDv1 Reports and Dones checked against the bytes; the option walker also runs over
// the raw bytes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <variant>
#include <vector>

#include "ip/icmpv6.hpp"
#include "ip/ndp_options.hpp"

using namespace tapstack;
using namespace tapstack::ip;

namespace {

const Ipv6Address kLinkLocal{{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Address kGlobal{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
const Ipv6Address kGlobal2{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}};

template <class R>
void round_trip(const R& r, const NdpContext& ctx) {
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out, PseudoHeader{ctx.src, ctx.dst, 58, 0});
  auto v = Icmpv6View::parse(out, PseudoHeader{ctx.src, ctx.dst, 58, 0});
  if (!v) std::abort();
  auto again = parse_ndp(*v, ctx);
  if (!again || !std::holds_alternative<R>(*again) || !(std::get<R>(*again) == r)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t sel = data[0];
  const Bytes in{reinterpret_cast<const std::byte*>(data + 1), size - 1};

  (void)ndp_options_error(in);
  if (auto o = NdpOptions::parse(in)) {
    std::size_t n = 0;
    o->for_each_prefix([&](const PrefixInfo& p) { n += p.prefix_len <= 128 ? 1 : 1000; });
    o->for_each_rdnss([&](const RdnssInfo& r) {
      if (r.count() == 0 || r.addresses.size() % 16 != 0) std::abort();
      (void)r.address(r.count() - 1);
    });
    if (n != o->prefix_count) std::abort();
  }

  NdpContext ctx;
  switch (sel & 3) {
    case 0:
      ctx.src = Ipv6Address{};
      break;
    case 1:
      ctx.src = kLinkLocal;
      break;
    default:
      ctx.src = kGlobal;
      break;
  }
  ctx.dst = (sel & 4) != 0 ? solicited_node_multicast(kGlobal2) : kGlobal2;
  if ((sel & 8) != 0) ctx.dst = kIpv6AllNodes;
  ctx.hop_limit = (sel & 16) != 0 ? 255 : 64;
  ctx.fragmented = (sel & 32) != 0;
  const PseudoHeader ph{ctx.src, ctx.dst, 58, 0};

  Icmpv6Error why{};
  auto v = Icmpv6View::parse(in, ph, &why, ChecksumCheck::kSkip);
  if (Icmpv6View::parse(in, ph) && !v) std::abort();  // verifying can only refuse more
  if (!v) return 0;

  if (auto r = Icmpv6Repr::parse(*v, &why)) {
    if (r->is_error() && r->data.size() < kIpv6HeaderLen) std::abort();
    (void)parse_icmpv6_quote(r->data);
    std::vector<std::byte> out(r->buffer_len());
    r->emit(out, ph);
    auto again = Icmpv6View::parse(out, ph);
    if (!again) std::abort();
    auto r2 = Icmpv6Repr::parse(*again);
    if (!r2 || !(*r2 == *r)) std::abort();
  }

  NdpError nwhy{};
  NdpOptionError owhy{};
  if (auto n = parse_ndp(*v, ctx, &nwhy, &owhy)) {
    if (ctx.hop_limit != 255 || ctx.fragmented || v->code() != 0) std::abort();
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (!std::is_same_v<T, RedirectRepr>) round_trip(m, ctx);
        },
        *n);
  }

  if (auto q = MldQuery::parse(*v)) {
    // Only 24-byte (MLDv1) or 28+ byte queries whose sources all lie inside the message.
    const std::size_t len = v->bytes().size();
    if (q->v2 ? len < kMldv2QueryMinLen + std::size_t(q->source_count) * 16 : len != kMldv1QueryLen) std::abort();
  }
  if (auto m = Mldv1Message::parse(*v)) {
    // Only Reports and Dones of at least 24 bytes; the group is the 16 bytes at offset 8.
    if (v->bytes().size() < kMldv1MessageLen) std::abort();
    if (m->type != Icmpv6Type::kMldv1Report && m->type != Icmpv6Type::kMldv1Done) std::abort();
    if (m->group != Ipv6Address::from_bytes(v->bytes().subspan(8, 16))) std::abort();
  }
  if (auto rep = Mldv2Report::parse(*v)) {
    std::size_t records = 0;
    rep->for_each_record([&](const MldRecordView& r) {
      ++records;
      if (r.sources.size() != std::size_t(r.source_count) * 16) std::abort();
    });
    if (records != rep->record_count) std::abort();
  }
  return 0;
}
