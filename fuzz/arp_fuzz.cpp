// libFuzzer target for ARP (ip/arp.hpp): parse, and when it parses, emit the Repr and parse again; any
// disagreement aborts. ASan catches a read past the input (the hlen=255 class of bug).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ip/arp.hpp"

using namespace tapstack;
using namespace tapstack::ip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  ArpError why{};
  auto v = ArpView::parse(in, &why);
  if (!v) {
    if (to_string(why) == "unknown") std::abort();
    return 0;
  }
  if (v->bytes().size() != kArpPacketLen) std::abort();
  const ArpRepr r = ArpRepr::parse(*v);
  std::vector<std::byte> out(r.buffer_len());
  r.emit(out);
  auto again = ArpView::parse(out);
  if (!again || !(ArpRepr::parse(*again) == r)) std::abort();
  if (std::memcmp(out.data(), data, kArpPacketLen) != 0) std::abort();  // every field of a valid packet is kept
  return 0;
}
