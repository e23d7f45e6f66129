// The sender's SACK scoreboard (RFC 6675 over RFC 2018 SACK blocks): which bytes of [SND.UNA, SND.NXT) the
// peer holds. tcp::Connection feeds it every ACK and asks it IsLost, SetPipe and NextSeg during loss recovery.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <vector>

#include "tcp/seq.hpp"
#include "tcp/wire.hpp"

namespace tapstack::tcp {

// [start, end) in sequence space.
struct SeqRange {
  SeqNum start, end;
  std::uint32_t length() const noexcept { return forward_distance(start, end); }
  friend constexpr bool operator==(const SeqRange&, const SeqRange&) noexcept = default;
  friend std::ostream& operator<<(std::ostream& os, const SeqRange& r) {
    return os << '[' << r.start << ", " << r.end << ')';
  }
};

// RFC 6675 §2: DupThresh.
inline constexpr std::uint32_t kDupThresh = 3;

// Holds at most `max_ranges` disjoint, non-adjacent SACKed ranges in ascending order above SND.UNA, in storage
// reserved at construction (CONFORMANCE §2: SACK scoreboard caps). When a block would make one range too many,
// the highest range is forgotten: losing SACK information is always safe (those bytes count as in flight and
// may be resent, RFC 2018 §8 lets the receiver renege anyway), and the highest range matters least to the next
// retransmission, which is chosen from the bottom. All comparisons are modular (tcp/seq.hpp), made relative to
// SND.UNA.
class SackScoreboard {
 public:
  explicit SackScoreboard(std::size_t max_ranges = 64);

  // Applies an ACK: forgets everything below snd_una, then records each valid SACK block. A block is valid
  // when snd_una < left < right <= snd_nxt (RFC 2018 §3 blocks report data above the cumulative ACK that was
  // sent; a reversed or empty block is malformed; a D-SACK block at or below snd_una, RFC 2883, is ignored,
  // and so is a block straddling snd_una, as Linux does). Returns the number of bytes SACKed after this ACK
  // that were not SACKed before it.
  std::uint32_t on_ack(SeqNum snd_una, SeqNum snd_nxt, std::span<const SackBlock> blocks) noexcept;
  void clear() noexcept;

  bool is_sacked(SeqNum seq) const noexcept;
  std::uint32_t sacked_bytes() const noexcept { return sacked_; }  // total SACKed above snd_una
  std::optional<SeqNum> highest_sacked() const noexcept;           // end of the highest SACKed range

  // RFC 6675 §4 IsLost(seq): at least DupThresh discontiguous SACKed ranges lie wholly above seq, or more than
  // (DupThresh - 1) * smss SACKed bytes have sequence numbers greater than seq.
  bool is_lost(SeqNum seq, std::uint32_t smss) const noexcept;

  // RFC 6675 §4 SetPipe(): over the un-SACKed octets of [snd_una, snd_nxt), one per octet not IsLost, plus one
  // per octet below high_rxt (retransmitted). high_rxt is the highest retransmitted sequence number + 1, or
  // snd_una when nothing was retransmitted.
  std::uint32_t pipe(SeqNum snd_una, SeqNum snd_nxt, SeqNum high_rxt, std::uint32_t smss) const noexcept;

  // RFC 6675 §4 NextSeg() rule 1: the lowest un-SACKed octet S2 with S2 >= high_rxt (1.a, high_rxt being
  // exclusive), below highest_sacked() (1.b) and IsLost (1.c); returns up to smss octets from S2, stopping at
  // the next SACKed range. nullopt when there is none or smss is 0.
  std::optional<SeqRange> next_lost(SeqNum snd_una, SeqNum high_rxt, std::uint32_t smss) const noexcept;
  // RFC 6675 §4 NextSeg() rule 3: as rule 1 without 1.c (the caller tries it after rule 2, new data, failed).
  std::optional<SeqRange> next_unsacked_below_highest(SeqNum snd_una, SeqNum high_rxt,
                                                      std::uint32_t smss) const noexcept;

  std::size_t range_count() const noexcept { return ranges_.size(); }
  std::size_t max_ranges() const noexcept { return max_ranges_; }
  // The SACKed ranges in ascending order (e.g. to skip SACKed data when resending after an RTO).
  std::span<const SeqRange> ranges() const noexcept { return ranges_; }

 private:
  // Distance of `s` above the reference point una_ (the last snd_una given to on_ack).
  std::uint32_t off(SeqNum s) const noexcept { return forward_distance(una_, s); }
  void trim_below(SeqNum snd_una) noexcept;
  void insert(SeqRange r) noexcept;
  bool hole_lost(std::size_t above_index, std::uint32_t smss) const noexcept;
  std::optional<SeqRange> next_hole(SeqNum snd_una, SeqNum high_rxt, std::uint32_t smss, bool lost_only) const noexcept;

  std::size_t max_ranges_;
  std::vector<SeqRange> ranges_;  // ascending above una_, disjoint, non-adjacent; capacity max_ranges + 1
  std::vector<SeqRange> before_;  // scratch: the ranges before this ACK's blocks, to count newly SACKed bytes
  SeqNum una_{};
  std::uint32_t sacked_ = 0;
};

}  // namespace tapstack::tcp
