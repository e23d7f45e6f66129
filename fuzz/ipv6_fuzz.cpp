// libFuzzer target for the IPv6 header and extension header chain (ip/ipv6.hpp) and Reassembler6: parse, walk
// (stopping at fragments and through first fragments), check the chain's offsets against the packet, re-emit
// the fixed header and parse again; fragments go through one long-lived Reassembler6 on a moving clock, and
// every packet it completes must parse and walk again. The leniently read error subject/quote run too.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ip/icmpv6.hpp"
#include "ip/ipv6.hpp"
#include "ip/reassembly6.hpp"

using namespace tapstack;
using namespace tapstack::ip;

namespace {

void check_chain(const Ipv6View& v, const Ipv6Chain& c, const Ipv6ChainOptions& o = {}) {
  const std::size_t size = v.bytes().size();
  if (c.upper_layer_offset < kIpv6HeaderLen || c.upper_layer_offset > size) std::abort();
  if (c.next_header_field >= c.upper_layer_offset) std::abort();
  if (load_u8(v.bytes(), c.next_header_field) != c.upper_layer) std::abort();
  if (c.header_count > o.max_headers || c.upper_layer_offset - kIpv6HeaderLen > o.max_chain_len) std::abort();
  if (c.fragment) {
    const auto& f = *c.fragment;
    if (f.header_offset < kIpv6HeaderLen || f.header_offset + kIpv6FragmentHeaderLen > size) std::abort();
    if (load_u8(v.bytes(), f.next_header_field) != kIpv6NextFragment) std::abort();
    if (f.offset % 8 != 0) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Reassembler6 reassembler{Reassembly6Config{seconds(60), 8, 8, 256 * 1024, 128 * 1024}};
  static Instant now;
  now += milliseconds(500);
  reassembler.poll(now, [](Bytes b) {
    if (!Ipv6View::parse(b)) std::abort();  // the rebuilt first fragment is a well-formed packet
  });

  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  (void)icmpv6_error_subject(in, size % 2 == 0);
  (void)parse_icmpv6_quote(in);

  Ipv6Error why{};
  auto v = Ipv6View::parse(in, &why);
  if (!v) return 0;
  if (v->bytes().size() != kIpv6HeaderLen + v->payload_len()) std::abort();

  // The fixed header round-trips.
  const Ipv6Repr r = Ipv6Repr::parse(*v);
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out);
  copy_bytes(MutableBytes{out}.subspan(kIpv6HeaderLen), v->payload());
  auto again = Ipv6View::parse(out);
  if (!again || !(Ipv6Repr::parse(*again) == r) || !std::ranges::equal(again->bytes(), v->bytes())) std::abort();

  Ipv6ChainFailure fail;
  const auto chain = walk_ipv6_chain(*v, &fail);
  Ipv6ChainOptions through;
  through.through_first_fragment = true;
  const auto full = walk_ipv6_chain(*v, nullptr, through);
  if (full) check_chain(*v, *full);
  if (!chain) {
    if (fail.param_problem && fail.param_problem->pointer >= v->bytes().size()) std::abort();
    return 0;
  }
  check_chain(*v, *chain);
  if (!chain->needs_reassembly()) return 0;

  const auto res = reassembler.add(now, *v, *chain);
  if (res.status == Reassembly6Status::kComplete) {
    auto whole = Ipv6View::parse(res.packet);
    if (!whole) std::abort();
    Ipv6ChainOptions relaxed;
    relaxed.max_headers = 64;
    relaxed.max_chain_len = 1 << 20;
    Ipv6ChainFailure f2;
    const auto c2 = walk_ipv6_chain(*whole, &f2, relaxed);
    if (c2) check_chain(*whole, *c2, relaxed);
  }
  if (reassembler.bytes_held() > reassembler.config().max_bytes) std::abort();
  return 0;
}
