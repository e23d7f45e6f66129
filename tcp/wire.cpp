// The TCP wire format: options walker, Repr parse/emit and printing. See wire.hpp for the contract.
// Called by the TCP layer for every received segment and every segment a connection emits.
#include "tcp/wire.hpp"

#include <algorithm>
#include <cassert>

namespace tapstack::tcp {

namespace {

constexpr std::size_t kMssLen = 4;
constexpr std::size_t kWsLen = 3;
constexpr std::size_t kSackPermLen = 2;
constexpr std::size_t kTsLen = 10;
constexpr std::size_t kSackBlockLen = 8;

// Sizes of the canonical emitted groups (each a multiple of 4).
constexpr std::size_t kMssGroup = 4;           // MSS
constexpr std::size_t kWsGroup = 4;            // NOP, WS
constexpr std::size_t kTsGroup = 12;           // SACKOK,TS or NOP,NOP,TS
constexpr std::size_t kSackPermGroup = 4;      // NOP,NOP,SACKOK
constexpr std::size_t kSackHeaderGroup = 4;    // NOP,NOP,kind,len  (+ 8 per block)

std::size_t fixed_options_len(const Repr& r) noexcept {
  std::size_t n = 0;
  if (r.mss) n += kMssGroup;
  if (r.timestamps) {
    n += kTsGroup;
  } else if (r.sack_permitted) {
    n += kSackPermGroup;
  }
  if (r.window_scale) n += kWsGroup;
  return n;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, Control c) {
  static constexpr std::pair<Control, std::string_view> kNames[] = {
      {Control::kSyn, "SYN"}, {Control::kFin, "FIN"}, {Control::kRst, "RST"}, {Control::kPsh, "PSH"},
      {Control::kAck, "ACK"}, {Control::kUrg, "URG"}, {Control::kEce, "ECE"}, {Control::kCwr, "CWR"},
  };
  if (c == Control::kNone) return os << "none";
  bool first = true;
  for (const auto& [bit, name] : kNames) {
    if (!has(c, bit)) continue;
    if (!first) os << '|';
    os << name;
    first = false;
  }
  return os;
}

std::string_view to_string(DropReason r) noexcept {
  switch (r) {
    case DropReason::kTruncated: return "drop_truncated";
    case DropReason::kBadOffset: return "drop_bad_offset";
    case DropReason::kBadChecksum: return "drop_bad_checksum";
    case DropReason::kBadFlags: return "drop_bad_flags";
  }
  return "drop_unknown";
}

std::ostream& operator<<(std::ostream& os, DropReason r) { return os << to_string(r); }

void count(WireCounters& c, DropReason r) noexcept {
  switch (r) {
    case DropReason::kTruncated: ++c.drop_truncated; break;
    case DropReason::kBadOffset: ++c.drop_bad_offset; break;
    case DropReason::kBadChecksum: ++c.drop_bad_checksum; break;
    case DropReason::kBadFlags: ++c.drop_bad_flags; break;
  }
}

std::uint16_t segment_checksum(Bytes segment, const ip::PseudoHeader& ph) noexcept {
  ip::PseudoHeader p = ph;
  p.protocol = std::uint8_t(ip::IpProtocol::kTcp);
  p.length = std::uint32_t(segment.size());
  Checksum c;
  p.add_to(c);
  c.add(segment);
  return c.finish();
}

std::ostream& operator<<(std::ostream& os, const SackBlock& b) { return os << '{' << b.left << '-' << b.right << '}'; }

OptionsStatus parse_options(Bytes o, Repr& into) noexcept {
  // Fast path: exactly NOP, NOP, TS (RFC 7323 Appendix A), what every segment of a connection with timestamps
  // and no SACK blocks carries. The walk below gives the same result for these 12 bytes; anything else walks.
  if (o.size() == kTsGroup && load_be32(o, 0) == 0x0101080au) {
    into.timestamps = Timestamps{load_be32(o, 4), load_be32(o, 8)};
    return OptionsStatus::kOk;
  }
  return walk_options(o, into);
}

OptionsStatus walk_options(Bytes o, Repr& into) noexcept {
  std::size_t pos = 0;
  while (pos < o.size()) {
    const std::uint8_t kind = load_u8(o, pos);
    if (kind == option::kEol) break;  // RFC 9293 §3.2: end of the option list
    if (kind == option::kNop) {
      ++pos;
      continue;
    }
    // Every other kind has a length byte that counts kind and length: at least 2, within the area.
    if (o.size() - pos < 2) return OptionsStatus::kMalformed;
    const std::size_t len = load_u8(o, pos + 1);
    if (len < 2 || len > o.size() - pos) return OptionsStatus::kMalformed;  // MUST-7; CVE-2020-24337
    const Bytes body = o.subspan(pos + 2, len - 2);
    switch (kind) {
      case option::kMss:
        if (len == kMssLen) into.mss = load_be16(body, 0);
        break;
      case option::kWindowScale:
        // RFC 7323 §2.3: "If a Window Scale option is received with a shift.cnt value larger than 14, the
        // TCP SHOULD log the error but MUST use 14 instead of the specified value."
        if (len == kWsLen) into.window_scale = std::min(load_u8(body, 0), kMaxWindowScale);
        break;
      case option::kSackPermitted:
        if (len == kSackPermLen) into.sack_permitted = true;
        break;
      case option::kSack:
        if (len >= kSackPermLen + kSackBlockLen && (len - 2) % kSackBlockLen == 0) {
          const std::size_t n = std::min((len - 2) / kSackBlockLen, kMaxSackBlocks);  // n <= 4 fits in 40 anyway
          for (std::size_t i = 0; i < n; ++i) {
            into.sack_blocks[i] = {SeqNum{load_be32(body, i * kSackBlockLen)},
                                   SeqNum{load_be32(body, i * kSackBlockLen + 4)}};
          }
          into.sack_count = std::uint8_t(n);
        }
        break;
      case option::kTimestamps:
        if (len == kTsLen) into.timestamps = Timestamps{load_be32(body, 0), load_be32(body, 4)};
        break;
      default:
        break;  // MUST-6: ignore options we do not implement, skipped by their length
    }
    pos += len;  // len >= 2: always advances
  }
  return OptionsStatus::kOk;
}

std::optional<Repr> Repr::parse_unverified(const View& v, DropReason* why) noexcept {
  const Control flags = v.flags();
  if (!flags_acceptable(flags)) {
    if (why != nullptr) *why = DropReason::kBadFlags;
    return std::nullopt;
  }
  Repr r;
  r.src_port = v.src_port();
  r.dst_port = v.dst_port();
  r.control = flags;
  r.seq = v.seq();
  if (has(flags, Control::kAck)) r.ack = v.ack_number();
  r.window = v.window();
  r.urgent = v.urgent();
  // A malformed options area is not a reason to drop the segment (see parse_options).
  (void)parse_options(v.options(), r);
  r.payload = v.payload();
  return r;
}

std::optional<Repr> Repr::parse(const View& v, const ip::PseudoHeader& ph, DropReason* why) noexcept {
  if (!v.verify_checksum(ph)) {  // RFC 9293 §3.1 MUST-3: verify every received checksum
    if (why != nullptr) *why = DropReason::kBadChecksum;
    return std::nullopt;
  }
  return parse_unverified(v, why);
}

bool Repr::add_sack(SackBlock b) noexcept {
  if (sack_count >= kMaxSackBlocks) return false;
  sack_blocks[sack_count++] = b;
  return true;
}

std::size_t Repr::sacks_emitted() const noexcept {
  if (sack_count == 0) return 0;
  const std::size_t room = kMaxOptionsLen - fixed_options_len(*this);
  if (room < kSackHeaderGroup + kSackBlockLen) return 0;
  return std::min(sacks().size(), (room - kSackHeaderGroup) / kSackBlockLen);
}

std::uint32_t Repr::segment_len() const noexcept {
  std::uint32_t n = std::uint32_t(payload.size());
  if (has(control, Control::kSyn)) ++n;
  if (has(control, Control::kFin)) ++n;
  return n;
}

std::size_t Repr::options_len() const noexcept {
  const std::size_t n = sacks_emitted();
  return fixed_options_len(*this) + (n == 0 ? 0 : kSackHeaderGroup + n * kSackBlockLen);
}

void Repr::emit(MutableBytes out, const ip::PseudoHeader& ph) const noexcept {
  const std::size_t hlen = header_len();
  assert(out.size() >= buffer_len());
  out = out.first(buffer_len());
  ip::PseudoHeader p = ph;
  p.protocol = std::uint8_t(ip::IpProtocol::kTcp);
  p.length = std::uint32_t(out.size());
  Checksum c;
  p.add_to(c);
  // Every header and option word is summed from the value as it is stored, never read back from `out`: a wide
  // load of bytes just stored in narrower pieces cannot be forwarded from the store buffer and stalls. All words
  // sit at even offsets (the option groups are multiples of 4), so the sum is the one over the stored bytes.
  std::size_t pos = 0;
  auto put16 = [&](std::uint16_t v) {
    store_be16(out, pos, v);
    c.add_u16(v);
    pos += 2;
  };
  auto put32 = [&](std::uint32_t v) {
    store_be32(out, pos, v);
    c.add_u32(v);
    pos += 4;
  };
  auto kind_len = [](std::uint8_t kind, std::size_t len) { return std::uint16_t((kind << 8) | len); };
  constexpr std::uint16_t kNopNop = (option::kNop << 8) | option::kNop;
  put16(src_port);
  put16(dst_port);
  put32(seq.value());
  put32(ack ? ack->value() : 0);  // RFC 9293 §3.1: zero when ACK is off
  put16(std::uint16_t(((hlen / 4) << 12) | std::uint8_t(flags())));  // data offset; reserved bits zero
  put16(window);
  put16(0);  // the checksum, stored below
  put16(urgent);
  if (mss) {
    put16(kind_len(option::kMss, kMssLen)), put16(*mss);
  }
  if (timestamps) {
    put16(sack_permitted ? kind_len(option::kSackPermitted, kSackPermLen) : kNopNop);
    put16(kind_len(option::kTimestamps, kTsLen)), put32(timestamps->tsval), put32(timestamps->tsecr);
  } else if (sack_permitted) {
    put16(kNopNop), put16(kind_len(option::kSackPermitted, kSackPermLen));
  }
  if (window_scale) {
    put16(kind_len(option::kNop, option::kWindowScale));
    put16(kind_len(kWsLen, std::min(*window_scale, kMaxWindowScale)));
  }
  if (const std::size_t n = sacks_emitted(); n != 0) {
    put16(kNopNop), put16(kind_len(option::kSack, 2 + n * kSackBlockLen));
    for (const SackBlock& b : sacks().first(n)) put32(b.left.value()), put32(b.right.value());
  }
  assert(pos == hlen);
  // One pass over the payload: copied into the segment and summed together (hlen is even).
  c.add_copy(out.subspan(hlen), payload);
  store_be16(out, field::kChecksum, c.finish());
}

Repr Repr::reset_for(const Repr& seg) noexcept {
  Repr r;
  r.src_port = seg.dst_port;
  r.dst_port = seg.src_port;
  if (seg.ack) {
    r.control = Control::kRst;
    r.seq = *seg.ack;
  } else {
    r.control = Control::kRst | Control::kAck;
    r.seq = SeqNum{0};
    r.ack = seg.seq + seg.segment_len();
  }
  return r;
}

bool operator==(const Repr& a, const Repr& b) noexcept {
  const auto sa = a.sacks(), sb = b.sacks();
  return a.src_port == b.src_port && a.dst_port == b.dst_port && a.flags() == b.flags() && a.seq == b.seq &&
         a.ack == b.ack && a.window == b.window && a.urgent == b.urgent && a.mss == b.mss &&
         a.window_scale == b.window_scale && a.sack_permitted == b.sack_permitted &&
         std::equal(sa.begin(), sa.end(), sb.begin(), sb.end()) && a.timestamps == b.timestamps &&
         std::equal(a.payload.begin(), a.payload.end(), b.payload.begin(), b.payload.end());
}

std::ostream& operator<<(std::ostream& os, const Repr& r) {
  os << "TCP " << r.src_port << " > " << r.dst_port << " [" << r.flags() << "] seq " << r.seq;
  if (r.ack) os << " ack " << *r.ack;
  os << " win " << r.window;
  if (r.urgent != 0 || r.has_flags(Control::kUrg)) os << " urg " << r.urgent;
  const bool any_opt = r.mss || r.window_scale || r.sack_permitted || r.timestamps || !r.sacks().empty();
  if (any_opt) {
    os << " opts [";
    const char* sep = "";
    if (r.mss) os << sep << "mss " << *r.mss, sep = ",";
    if (r.sack_permitted) os << sep << "sackOK", sep = ",";
    if (r.timestamps) os << sep << "TS val " << r.timestamps->tsval << " ecr " << r.timestamps->tsecr, sep = ",";
    if (r.window_scale) os << sep << "wscale " << unsigned(*r.window_scale), sep = ",";
    if (!r.sacks().empty()) {
      os << sep << "sack";
      for (const SackBlock& b : r.sacks()) os << ' ' << b;
    }
    os << ']';
  }
  return os << " len " << r.payload.size();
}

}  // namespace tapstack::tcp
