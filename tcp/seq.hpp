// TCP sequence numbers as a type with modular (mod 2^32) arithmetic and comparison, RFC 9293 §3.4.
// Used by the wire format (tcp/wire) and everything above it; raw uint32_t sequence arithmetic is not
// written anywhere else (window underflow and wraparound bugs: smoltcp #489, #491).
#pragma once
#include <compare>
#include <cstdint>
#include <ostream>

namespace tapstack::tcp {

// A point in the 32-bit sequence space. Comparison is "serial number arithmetic" (RFC 9293 §3.4, RFC 1982):
// a < b iff the signed 32-bit distance b - a is positive. It is only meaningful for points less than 2^31
// apart, which TCP guarantees for live windows (the window is at most 2^30, RFC 7323 §2.3). At exactly 2^31
// apart both a < b and b < a hold: the order is not total, so never sort SeqNums with std::sort or use them
// as std::map keys; compare them to a reference point (SND.UNA, RCV.NXT) instead.
class SeqNum {
 public:
  // STYLE.md writes `explicit SeqNum(std::uint32_t v = 0)`; the default constructor is split out and left
  // implicit so that aggregates holding SeqNums can be value-initialized with `{}`.
  constexpr SeqNum() noexcept = default;
  constexpr explicit SeqNum(std::uint32_t v) noexcept : v_{v} {}

  // The raw value, for the wire (tcp/wire) and for printing. Not for arithmetic.
  constexpr std::uint32_t value() const noexcept { return v_; }

  friend constexpr SeqNum operator+(SeqNum a, std::uint32_t n) noexcept { return SeqNum{a.v_ + n}; }
  friend constexpr SeqNum operator-(SeqNum a, std::uint32_t n) noexcept { return SeqNum{a.v_ - n}; }
  constexpr SeqNum& operator+=(std::uint32_t n) noexcept { v_ += n; return *this; }
  constexpr SeqNum& operator-=(std::uint32_t n) noexcept { v_ -= n; return *this; }
  // Signed distance a - b in (-2^31, 2^31]: positive when a is after b (C++20 defines the modular cast).
  friend constexpr std::int32_t operator-(SeqNum a, SeqNum b) noexcept { return std::int32_t(a.v_ - b.v_); }
  friend constexpr std::strong_ordering operator<=>(SeqNum a, SeqNum b) noexcept { return (a - b) <=> 0; }
  friend constexpr bool operator==(SeqNum, SeqNum) noexcept = default;

  friend std::ostream& operator<<(std::ostream& os, SeqNum s) { return os << s.v_; }

 private:
  std::uint32_t v_ = 0;
};

// The number of sequence numbers from `from` forward to `to`, in [0, 2^32): how far `to` is past `from`
// when the caller knows it is not before it (e.g. SND.NXT - SND.UNA, bytes in flight).
constexpr std::uint32_t forward_distance(SeqNum from, SeqNum to) noexcept { return to.value() - from.value(); }

// start <= seq < start + len, modulo 2^32 (a receive or send window, RFC 9293 §3.4 and §3.10.7.4).
// A window of len 0 contains nothing; a window spanning the 2^32 wrap works. len must be < 2^32.
constexpr bool in_window(SeqNum seq, SeqNum start, std::uint32_t len) noexcept {
  return forward_distance(start, seq) < len;
}

// lo <= x <= hi, modulo 2^32, walking forward from lo (e.g. RFC 9293 §3.10.7.4 "SND.UNA < SEG.ACK =< SND.NXT"
// is `x != lo && in_closed_range(x, lo, hi)`; RFC 5961 §5.2 [SND.UNA - MAX.SND.WND, SND.NXT]).
constexpr bool in_closed_range(SeqNum x, SeqNum lo, SeqNum hi) noexcept {
  return forward_distance(lo, x) <= forward_distance(lo, hi);
}

constexpr SeqNum seq_max(SeqNum a, SeqNum b) noexcept { return a < b ? b : a; }
constexpr SeqNum seq_min(SeqNum a, SeqNum b) noexcept { return a < b ? a : b; }

}  // namespace tapstack::tcp
