// libFuzzer target for the Ethernet II header (ip/ethernet.hpp): parse, and when it parses, emit the Repr
// and parse again; any disagreement aborts.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ip/ethernet.hpp"

using namespace tapstack;
using namespace tapstack::ip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  auto v = EthernetView::parse(in);
  if (!v) {
    if (size >= kEthernetHeaderLen) std::abort();
    return 0;
  }
  const EthernetRepr r = EthernetRepr::parse(*v);
  std::vector<std::byte> out(r.buffer_len() + v->payload().size());
  r.emit(out);
  copy_bytes(MutableBytes{out}.subspan(kEthernetHeaderLen), v->payload());
  auto again = EthernetView::parse(out);
  if (!again || !(EthernetRepr::parse(*again) == r)) std::abort();
  if (std::memcmp(out.data(), data, size) != 0) std::abort();  // Ethernet has no field we normalise
  return 0;
}
