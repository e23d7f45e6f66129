// libFuzzer target for ICMPv4 (ip/icmpv4.hpp): parse (checksum skipped, so the fuzzer reaches the type
// dispatch), and when it parses, emit the Repr and parse again with the checksum verified; any disagreement
// aborts. Error messages also go through the quoted-header reader.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ip/icmpv4.hpp"

using namespace tapstack;
using namespace tapstack::ip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  (void)parse_icmpv4_quote(in);
  Icmpv4Error why{};
  auto v = Icmpv4View::parse(in, &why, ChecksumCheck::kSkip);
  if (Icmpv4View::parse(in) && !v) std::abort();
  if (!v) return 0;
  auto r = Icmpv4Repr::parse(*v, &why);
  if (!r) return 0;
  if (r->is_error()) {
    if (r->data.size() < kIcmpv4MinQuoteLen) std::abort();
    if (auto q = parse_icmpv4_quote(r->data); q && q->transport.size() < 8) std::abort();
  }
  std::vector<std::byte> out(r->buffer_len());
  r->emit(out);
  auto again = Icmpv4View::parse(out);
  if (!again) std::abort();
  auto r2 = Icmpv4Repr::parse(*again);
  if (!r2 || !(*r2 == *r)) std::abort();
  // In place: a reply built over the parsed copy must carry the same data.
  auto reply = Icmpv4Repr::echo_reply_to(*r2);
  reply.emit(out);
  auto rv = Icmpv4View::parse(out);
  if (!rv || !std::ranges::equal(rv->data(), r->data)) std::abort();
  return 0;
}
