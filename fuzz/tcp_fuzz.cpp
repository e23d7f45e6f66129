// libFuzzer target for tcp/wire: the input is one TCP segment (the IP payload) under a fixed IPv4
// pseudo-header. Parses it with and without checksum verification (so mutated inputs reach the options
// walker), checks the invariants parse promises, emits what parsed and re-parses it; abort() on any
// inconsistency. Also runs the options walker over the raw input as an options area of any length.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "ip/address.hpp"
#include "ip/transport.hpp"
#include "tcp/wire.hpp"

namespace {

using namespace tapstack;
using namespace tapstack::tcp;

const ip::PseudoHeader kPseudo{ip::Ipv4Address{{192, 0, 2, 1}}, ip::Ipv4Address{{198, 51, 100, 2}},
                               std::uint8_t(ip::IpProtocol::kTcp), 0};

void require(bool ok) {
  if (!ok) std::abort();
}

void check_repr_invariants(const Repr& r) {
  require(r.ack.has_value() == has(r.control, Control::kAck));
  require(flags_acceptable(r.flags()));
  require(!r.window_scale || *r.window_scale <= kMaxWindowScale);
  require(r.sacks().size() <= kMaxSackBlocks && r.sack_count <= kMaxSackBlocks);
  require(r.header_len() % 4 == 0 && r.header_len() >= kHeaderLen && r.header_len() <= kMaxHeaderLen);
}

void check_segment(Bytes in, bool verify) {
  DropReason why{};
  const auto v = View::parse(in, &why);
  if (!v) {
    require(why == DropReason::kTruncated || why == DropReason::kBadOffset);
    return;
  }
  require(v->header_len() >= kHeaderLen && v->header_len() <= in.size());
  require(v->options().size() + kHeaderLen == v->header_len());
  require(v->payload().size() + v->header_len() == in.size());

  const auto r = verify ? Repr::parse(*v, kPseudo, &why) : Repr::parse_unverified(*v, &why);
  if (!r) {
    require(why == (verify && !v->verify_checksum(kPseudo) ? DropReason::kBadChecksum : DropReason::kBadFlags));
    return;
  }
  check_repr_invariants(*r);
  require(r->payload.size() == v->payload().size());

  // emit -> parse must give back the same value (minus SACK blocks that do not fit next to the others).
  std::vector<std::byte> out(r->buffer_len());
  r->emit(out, kPseudo);
  const auto v2 = View::parse(Bytes{out});
  require(v2.has_value());
  const auto r2 = Repr::parse(*v2, kPseudo);
  require(r2.has_value());
  Repr expected = *r;
  expected.sack_count = std::uint8_t(r->sacks_emitted());
  require(*r2 == expected);
  check_repr_invariants(*r2);

  // emit is canonical: emitting the re-parsed value gives the same bytes.
  std::vector<std::byte> out2(r2->buffer_len());
  r2->emit(out2, kPseudo);
  require(out2 == out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in{reinterpret_cast<const std::byte*>(data), size};
  check_segment(in, true);
  check_segment(in, false);
  Repr r;
  const OptionsStatus st = parse_options(in, r);
  require(r.sacks().size() <= kMaxSackBlocks);
  require(!r.window_scale || *r.window_scale <= kMaxWindowScale);
  // parse_options' fast path (NOP, NOP, TS) must agree with the general walk on every input.
  Repr walked;
  require(walk_options(in, walked) == st && walked == r && walked.sack_count == r.sack_count);
  return 0;
}
