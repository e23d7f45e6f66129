// libFuzzer target for the IPv4 header (ip/ipv4.hpp): parse (checksum skipped, so the fuzzer reaches the
// option walker), and when it parses, emit the Repr with the same payload and parse again with the checksum
// verified; any disagreement aborts.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ip/ipv4.hpp"

using namespace tapstack;
using namespace tapstack::ip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  (void)ipv4_options_error(in);  // the walker on its own, over arbitrary bytes
  Ipv4Error why{};
  auto v = Ipv4View::parse(in, &why, ChecksumCheck::kSkip);
  auto verified = Ipv4View::parse(in);
  if (verified && !v) std::abort();  // verifying can only refuse more
  if (!v) return 0;
  if (v->bytes().size() != v->total_len() || v->header_len() < kIpv4MinHeaderLen ||
      v->header_len() > v->bytes().size())
    std::abort();
  const Ipv4Repr r = Ipv4Repr::parse(*v);
  if (r.payload_len + r.header_len != v->total_len()) std::abort();
  if (r.is_fragment() != v->is_fragment()) std::abort();

  // Emit writes a 20-byte header: a payload that no longer fits in 65535 bytes cannot be re-emitted.
  if (r.payload_len > kIpv4MaxPayloadLen) return 0;
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out);
  copy_bytes(MutableBytes{out}.subspan(kIpv4MinHeaderLen), v->payload());
  auto again = Ipv4View::parse(out);
  if (!again) std::abort();
  Ipv4Repr expect = r;
  expect.header_len = kIpv4MinHeaderLen;
  if (!(Ipv4Repr::parse(*again) == expect)) std::abort();
  if (!std::ranges::equal(again->payload(), v->payload())) std::abort();
  return 0;
}
