// The TCP wire format (RFC 9293 §3.1, options from RFC 9293 §3.2, RFC 7323, RFC 2018): a checked byte view
// and a value type (`Repr`) with parse/emit. The TCP layer parses each IP payload here first; the
// connection state machine only ever sees a `Repr`, and hands one back here to be emitted.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>
#include <type_traits>

#include "ip/transport.hpp"
#include "stack/bytes.hpp"
#include "stack/counters.hpp"
#include "tcp/seq.hpp"

namespace tapstack::tcp {

inline constexpr std::size_t kHeaderLen = 20;       // without options (data offset 5)
inline constexpr std::size_t kMaxHeaderLen = 60;    // data offset 15
inline constexpr std::size_t kMaxOptionsLen = kMaxHeaderLen - kHeaderLen;
inline constexpr std::size_t kMaxSackBlocks = 4;    // 2 + 8 * 4 = 34 bytes: the most that fits in 40
inline constexpr std::uint8_t kMaxWindowScale = 14; // RFC 7323 §2.3
// RFC 9293 §3.7.1 / RFC 8200 §8.3: the send MSS when the peer sent no MSS option.
inline constexpr std::uint16_t kDefaultMssV4 = 536;
inline constexpr std::uint16_t kDefaultMssV6 = 1220;

// Byte offsets of the fixed header fields (RFC 9293 §3.1 figure 1).
namespace field {
inline constexpr std::size_t kSrcPort = 0;
inline constexpr std::size_t kDstPort = 2;
inline constexpr std::size_t kSeq = 4;
inline constexpr std::size_t kAck = 8;
inline constexpr std::size_t kDataOffset = 12;  // high nibble; low nibble: reserved bits (incl. AE, RFC 9768)
inline constexpr std::size_t kFlags = 13;
inline constexpr std::size_t kWindow = 14;
inline constexpr std::size_t kChecksum = 16;
inline constexpr std::size_t kUrgent = 18;
inline constexpr std::size_t kOptions = 20;
}  // namespace field

// Option kinds (IANA "TCP Option Kind Numbers").
namespace option {
inline constexpr std::uint8_t kEol = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;            // len 4, RFC 9293 §3.2
inline constexpr std::uint8_t kWindowScale = 3;    // len 3, RFC 7323 §2.2
inline constexpr std::uint8_t kSackPermitted = 4;  // len 2, RFC 2018 §2
inline constexpr std::uint8_t kSack = 5;           // len 2 + 8n, RFC 2018 §3
inline constexpr std::uint8_t kTimestamps = 8;     // len 10, RFC 7323 §3.2
}  // namespace option

// The control bits of byte 13, as a bitmask (RFC 9293 §3.1, RFC 3168 §6.1 for ECE/CWR).
enum class Control : std::uint8_t {
  kNone = 0,
  kFin = 0x01,
  kSyn = 0x02,
  kRst = 0x04,
  kPsh = 0x08,
  kAck = 0x10,
  kUrg = 0x20,
  kEce = 0x40,
  kCwr = 0x80,
};
constexpr Control operator|(Control a, Control b) noexcept { return Control(std::uint8_t(a) | std::uint8_t(b)); }
constexpr Control operator&(Control a, Control b) noexcept { return Control(std::uint8_t(a) & std::uint8_t(b)); }
constexpr Control operator^(Control a, Control b) noexcept { return Control(std::uint8_t(a) ^ std::uint8_t(b)); }
constexpr Control operator~(Control a) noexcept { return Control(std::uint8_t(~std::uint8_t(a))); }
constexpr Control& operator|=(Control& a, Control b) noexcept { return a = a | b; }
constexpr Control& operator&=(Control& a, Control b) noexcept { return a = a & b; }
// True when every bit of `bits` (at least one) is set in `set`.
constexpr bool has(Control set, Control bits) noexcept { return bits != Control::kNone && (set & bits) == bits; }
// "SYN|ACK"; "none" for no bits.
std::ostream& operator<<(std::ostream& os, Control c);

// The flag combinations parse() refuses (DropReason::kBadFlags). RFC 9293 forbids no combination, so this
// is policy, kept minimal: SYN+RST and SYN+FIN. No current standard generates them (T/TCP, RFC 1644, the
// only user of SYN+FIN, is Historic per RFC 6247); Linux drops SYN+FIN (tcp_rcv_state_process) and FreeBSD
// has net.inet.tcp.drop_synfin; they are scanner/fingerprinting probes, and dropping them spares the state
// machine SYN-with-FIN/RST paths in LISTEN and SYN-SENT. Everything else passes, including no flags at all
// and FIN|PSH|URG: whether those are acceptable depends on the connection state (RFC 9293 §3.10.7).
constexpr bool flags_acceptable(Control c) noexcept {
  return !has(c, Control::kSyn | Control::kRst) && !has(c, Control::kSyn | Control::kFin);
}

// Why a segment was dropped by View::parse or Repr::parse. Each has a counter of the same name.
enum class DropReason : std::uint8_t {
  kTruncated,    // shorter than the 20-byte fixed header
  kBadOffset,    // data offset * 4 < 20, or beyond the segment (CVE-2020-24341)
  kBadChecksum,  // RFC 9293 §3.1 MUST-2/MUST-3: silently discarded
  kBadFlags,     // see flags_acceptable()
};
std::string_view to_string(DropReason r) noexcept;  // "drop_truncated", "drop_bad_offset", ...
std::ostream& operator<<(std::ostream& os, DropReason r);

#define TAPSTACK_TCP_WIRE_COUNTERS(X) X(drop_truncated) X(drop_bad_offset) X(drop_bad_checksum) X(drop_bad_flags)
TAPSTACK_DEFINE_COUNTERS(WireCounters, TAPSTACK_TCP_WIRE_COUNTERS)
// Bumps the counter named after `r` (the TCP layer embeds WireCounters in its own counters).
void count(WireCounters& c, DropReason r) noexcept;

// The Internet checksum of a TCP segment with its pseudo-header (RFC 9293 §3.1). `ph.length` and
// `ph.protocol` are ignored (6 and segment.size() are used). Over a segment whose checksum field is filled in, the result is 0 iff it
// verifies; over one whose checksum field is 0, the result is the value to store.
std::uint16_t segment_checksum(Bytes segment, const ip::PseudoHeader& ph) noexcept;

// A checked view of one TCP segment: exactly the IP payload (IP total length minus IP header, with any
// link-layer padding already trimmed by the IP layer). After parse(), the fixed header and the options
// area are in bounds: 20 <= data offset * 4 <= size (CVE-2020-24341). Nothing else is judged here.
template <class Byte>  // const std::byte (received) or std::byte (being written)
class BasicView {
 public:
  static std::optional<BasicView> parse(std::span<Byte> b, DropReason* why = nullptr) noexcept {
    auto fail = [why](DropReason r) -> std::optional<BasicView> {
      if (why != nullptr) *why = r;
      return std::nullopt;
    };
    if (b.size() < kHeaderLen) return fail(DropReason::kTruncated);
    const std::size_t hlen = std::size_t(load_u8(b, field::kDataOffset) >> 4) * 4;
    if (hlen < kHeaderLen || hlen > b.size()) return fail(DropReason::kBadOffset);
    return BasicView{b};
  }

  std::uint16_t src_port() const noexcept { return load_be16(buf_, field::kSrcPort); }
  std::uint16_t dst_port() const noexcept { return load_be16(buf_, field::kDstPort); }
  SeqNum seq() const noexcept { return SeqNum{load_be32(buf_, field::kSeq)}; }
  // The acknowledgment field as sent, meaningful only when ACK is set (RFC 9293 §3.1).
  SeqNum ack_number() const noexcept { return SeqNum{load_be32(buf_, field::kAck)}; }
  std::uint8_t data_offset() const noexcept { return std::uint8_t(load_u8(buf_, field::kDataOffset) >> 4); }
  // The 4 bits between data offset and CWR: reserved (RFC 9293), the lowest is AE (RFC 9768). Ignored.
  std::uint8_t reserved_bits() const noexcept { return std::uint8_t(load_u8(buf_, field::kDataOffset) & 0x0f); }
  Control flags() const noexcept { return Control{load_u8(buf_, field::kFlags)}; }
  bool has_flags(Control c) const noexcept { return has(flags(), c); }
  std::uint16_t window() const noexcept { return load_be16(buf_, field::kWindow); }  // unscaled
  std::uint16_t checksum() const noexcept { return load_be16(buf_, field::kChecksum); }
  // Raw; never used for pointer arithmetic (URGENT/11). RFC 6093: urgent data is delivered inline.
  std::uint16_t urgent() const noexcept { return load_be16(buf_, field::kUrgent); }
  std::size_t header_len() const noexcept { return std::size_t(data_offset()) * 4; }
  std::span<Byte> options() const noexcept { return buf_.subspan(kHeaderLen, header_len() - kHeaderLen); }
  std::span<Byte> payload() const noexcept { return buf_.subspan(header_len()); }
  std::span<Byte> bytes() const noexcept { return buf_; }  // header + payload

  bool verify_checksum(const ip::PseudoHeader& ph) const noexcept { return segment_checksum(buf_, ph) == 0; }

  // Writers (MutableView only): tests use them to craft bad segments.
  void set_data_offset(std::uint8_t words) const noexcept
    requires(!std::is_const_v<Byte>) {
    store_u8(buf_, field::kDataOffset, std::uint8_t((words << 4) | reserved_bits()));
  }
  void set_checksum(std::uint16_t v) const noexcept
    requires(!std::is_const_v<Byte>) {
    store_be16(buf_, field::kChecksum, v);
  }
  // Recomputes the checksum over the current bytes.
  void fill_checksum(const ip::PseudoHeader& ph) const noexcept
    requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    set_checksum(segment_checksum(buf_, ph));
  }

  operator BasicView<const std::byte>() const noexcept  // NOLINT: a writable view is also a readable one
    requires(!std::is_const_v<Byte>) {
    return BasicView<const std::byte>{Bytes{buf_}};
  }

 private:
  template <class>
  friend class BasicView;
  explicit BasicView(std::span<Byte> b) noexcept : buf_{b} {}
  std::span<Byte> buf_;
};
using View = BasicView<const std::byte>;
using MutableView = BasicView<std::byte>;

// One SACK block (RFC 2018 §3): [left, right). Kept as received; validating blocks against SND.UNA/SND.NXT
// (and bounding the scoreboard) is the connection's job.
struct SackBlock {
  SeqNum left, right;
  friend constexpr bool operator==(const SackBlock&, const SackBlock&) noexcept = default;
  friend std::ostream& operator<<(std::ostream& os, const SackBlock& b);
};

// RFC 7323 §3: TSval / TSecr. These are also mod-2^32 clocks (PAWS, §5.3, compares them modularly); the
// connection can wrap them in SeqNum for that comparison.
struct Timestamps {
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  friend constexpr bool operator==(const Timestamps&, const Timestamps&) noexcept = default;
};

// Result of walking an options area (see parse_options).
enum class OptionsStatus : std::uint8_t {
  kOk,         // walked to the end or to EOL
  kMalformed,  // stopped at an option with length 0 or 1, or running past the header; the rest is ignored
};

// The TCP segment as a value. The ACK flag and the `ack` field go together: parse() sets `ack` iff ACK is
// set (and leaves kAck in `control`); emit() writes the ACK bit iff `ack` has a value, whatever `control`
// says about kAck; operator== compares flags() (which follows `ack`). So builders set `ack` only.
struct Repr {
  std::uint16_t src_port = 0, dst_port = 0;
  Control control = Control::kNone;
  SeqNum seq{};
  std::optional<SeqNum> ack;
  std::uint16_t window = 0;             // the raw 16-bit field; scaling is the connection's (RFC 7323 §2.3)
  std::uint16_t urgent = 0;             // raw urgent pointer: emitted as is, never used for arithmetic
  // Options. Present only if they were on the wire with the right fixed length (wrong lengths: ignored).
  // MSS 0 is kept as 0 (not dropped): the connection clamps the peer MSS to a floor before using it
  // (smoltcp #538, CVE-2019-11477). These are what the segment carried, also outside SYN: RFC 7323 §2.2
  // says to ignore WS on a non-SYN segment and RFC 9293 §3.7.1 MSS likewise; that is the connection's call.
  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // clamped to 14 at parse and at emit (RFC 7323 §2.3)
  bool sack_permitted = false;
  std::array<SackBlock, kMaxSackBlocks> sack_blocks{};
  std::uint8_t sack_count = 0;          // blocks in use, <= kMaxSackBlocks
  std::optional<Timestamps> timestamps;
  Bytes payload;                        // borrowed from the frame: don't keep it past the call

  // Parses and verifies the checksum against `ph` (ph.length is ignored; the view's length is used).
  // nullopt on a bad checksum (RFC 9293 MUST-3: the caller drops it silently and counts *why) or bad flags.
  static std::optional<Repr> parse(const View& v, const ip::PseudoHeader& ph, DropReason* why = nullptr) noexcept;
  // Parses WITHOUT checksum verification. For traces taken with checksum offload, tests and fuzzing only;
  // the receive path always uses parse().
  static std::optional<Repr> parse_unverified(const View& v, DropReason* why = nullptr) noexcept;

  // The wire flags this Repr emits: `control` with the ACK bit following `ack`.
  Control flags() const noexcept {
    return ack ? (control | Control::kAck) : (control & ~Control::kAck);
  }
  bool has_flags(Control c) const noexcept { return has(flags(), c); }
  // The SACK blocks in use (at most kMaxSackBlocks, whatever sack_count says).
  std::span<const SackBlock> sacks() const noexcept {
    return {sack_blocks.data(), sack_count < kMaxSackBlocks ? std::size_t(sack_count) : kMaxSackBlocks};
  }
  // Appends a SACK block; false when all kMaxSackBlocks are in use.
  bool add_sack(SackBlock b) noexcept;
  // How many of sacks() emit() writes: all that fit in the 40 option bytes next to the other options
  // (with timestamps at most 3, RFC 2018 §3). emit() drops the rest (the newest block should come first).
  std::size_t sacks_emitted() const noexcept;
  // SEG.LEN (RFC 9293 §3.4): payload bytes plus one for SYN and one for FIN.
  std::uint32_t segment_len() const noexcept;

  std::size_t options_len() const noexcept;  // what emit() writes after the fixed header, a multiple of 4
  std::size_t header_len() const noexcept { return kHeaderLen + options_len(); }
  std::size_t buffer_len() const noexcept { return header_len() + payload.size(); }

  // Writes buffer_len() bytes into out (out.size() >= buffer_len(); the caller sized it from buffer_len())
  // with the checksum for `ph` (ph.length ignored). Options in Linux's aligned layout:
  //   MSS | SACK-permitted+TS as (4,2,8,10,...) or NOP,NOP,TS or NOP,NOP,SACK-permitted | NOP,WS |
  //   NOP,NOP,SACK blocks.  Reserved bits are written as zero (RFC 9293 §3.1).
  void emit(MutableBytes out, const ip::PseudoHeader& ph) const noexcept;

  // The RST that answers `seg` when no connection wants it (RFC 9293 §3.10.7.1, "If the state is CLOSED"):
  // with ACK set in seg: <SEQ=SEG.ACK><CTL=RST>; otherwise <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
  // Ports swapped. The caller must not answer a RST with a RST.
  static Repr reset_for(const Repr& seg) noexcept;

  friend bool operator==(const Repr& a, const Repr& b) noexcept;
  friend std::ostream& operator<<(std::ostream& os, const Repr& r);
};

// Walks an options area (RFC 9293 §3.2) into `into`'s option fields (others untouched; a later duplicate
// overwrites an earlier one, as Linux does). Options may come in any order and alignment; EOL ends the
// list; NOP is skipped; unknown kinds are skipped by their length (MUST-6); a known kind with the wrong
// length is ignored. A length of 0 or 1, a missing length byte or a length past the end stops the walk:
// RFC 9293 MUST-7 asks to cope with illegal lengths; like Linux (tcp_parse_options) we keep the options
// read so far, ignore the rest and still deliver the segment, rather than reset. Every step advances by
// at least one byte, so the walk ends in at most options.size() steps (picoTCP CVE-2020-24337).
OptionsStatus parse_options(Bytes options, Repr& into) noexcept;
// parse_options without its fast path for the common NOP, NOP, TS layout: the general walk alone, which
// parse_options must match byte for byte (tests compare the two).
OptionsStatus walk_options(Bytes options, Repr& into) noexcept;

}  // namespace tapstack::tcp
