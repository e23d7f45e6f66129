// libFuzzer target for tap/gso: the input is a run of frames for GsoCoalescer (byte 0: max_segments; then
// records of a 2-byte big-endian length, a control byte whose low bit asks for a flush after the frame, and the
// frame). Checks that every frame out is consistent (a merged one's header offsets fit it, its checksum completes)
// and that no byte is lost or invented: the bytes in equal the bytes out plus the headers merging saved.
// Also runs complete_partial_checksum with a header taken from the input over the rest of it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "tap/gso.hpp"

namespace {

using namespace tapstack;
using namespace tapstack::tap;

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  if (in.size() >= VnetHeader::kLen) {
    std::vector<std::byte> frame(in.begin() + VnetHeader::kLen, in.end());
    const VnetHeader h = VnetHeader::read(in);
    const bool fits = std::size_t(h.csum_start) + h.csum_offset + 2 <= frame.size();
    require(complete_partial_checksum(h, MutableBytes{frame}) == fits);
  }
  if (in.empty()) return 0;

  GsoCoalescer gso{std::size_t(in[0])};
  std::uint64_t bytes_in = 0, bytes_out = 0, saved = 0, frames_out = 0;
  auto sink = [&](const VnetHeader& h, Bytes f) {
    ++frames_out;
    bytes_out += f.size();
    if (h.gso_type == VnetHeader::kGsoNone) {
      require(h == VnetHeader{});
      return true;
    }
    require(h.flags == VnetHeader::kNeedsCsum);
    require(h.gso_type == VnetHeader::kGsoTcpV4 || h.gso_type == VnetHeader::kGsoTcpV6);
    require(h.gso_size > 0 && h.hdr_len < f.size() && h.csum_offset == 16);
    require(std::size_t(h.csum_start) + 20 <= h.hdr_len);
    const std::size_t payload = f.size() - h.hdr_len;
    require(payload > h.gso_size);  // more than one segment, else it goes out alone
    const std::size_t segments = (payload + h.gso_size - 1) / h.gso_size;
    saved += (segments - 1) * std::uint64_t(h.hdr_len);
    std::vector<std::byte> copy(f.begin(), f.end());
    require(complete_partial_checksum(h, MutableBytes{copy}));
    return (f.size() & 1) == 0;  // the device refuses some: that must not change what is counted
  };
  std::size_t at = 1;
  while (at + 3 <= in.size()) {
    std::size_t len = (std::size_t(in[at]) << 8) | std::size_t(in[at + 1]);
    const auto control = std::uint8_t(in[at + 2]);
    at += 3;
    len = std::min(len, in.size() - at);  // never trust the record's length
    bytes_in += len;
    gso.add(in.subspan(at, len), sink);
    at += len;
    if ((control & 1) != 0) gso.flush(sink);
  }
  gso.flush(sink);
  require(!gso.holding());
  require(bytes_in == bytes_out + saved);
  require(gso.counters().frames_out == frames_out);
  return 0;
}
