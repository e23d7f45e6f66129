// RFC 6675 scoreboard for the TCP sender: SACK block validation and merging, IsLost, SetPipe and NextSeg.
// See tcp/sack_scoreboard.hpp.
#include "tcp/sack_scoreboard.hpp"

#include <algorithm>

namespace tapstack::tcp {

SackScoreboard::SackScoreboard(std::size_t max_ranges) : max_ranges_{max_ranges} {
  ranges_.reserve(max_ranges + 1);  // insert() may hold one range too many before dropping the highest
  before_.reserve(max_ranges + 1);
}

void SackScoreboard::clear() noexcept {
  ranges_.clear();
  sacked_ = 0;
}

void SackScoreboard::trim_below(SeqNum snd_una) noexcept {
  if (snd_una < una_) {
    // SND.UNA never moves backwards on a correct connection; forgetting SACK information is the safe reaction.
    clear();
  } else {
    const std::uint32_t d = off(snd_una);
    std::size_t drop = 0;
    while (drop < ranges_.size() && off(ranges_[drop].end) <= d) sacked_ -= ranges_[drop++].length();
    ranges_.erase(ranges_.begin(), ranges_.begin() + std::ptrdiff_t(drop));
    if (!ranges_.empty() && off(ranges_.front().start) < d) {  // the cumulative ACK ends inside a SACKed range
      sacked_ -= forward_distance(ranges_.front().start, snd_una);
      ranges_.front().start = snd_una;
    }
  }
  una_ = snd_una;
}

void SackScoreboard::insert(SeqRange r) noexcept {
  const std::uint32_t lo = off(r.start), hi = off(r.end);
  // Ranges that overlap or touch [lo, hi): from the first whose end reaches lo, while start <= hi.
  auto first = std::lower_bound(ranges_.begin(), ranges_.end(), lo,
                                [this](const SeqRange& e, std::uint32_t v) { return off(e.end) < v; });
  auto last = first;
  while (last != ranges_.end() && off(last->start) <= hi) ++last;
  if (first == last) {
    ranges_.insert(first, r);  // capacity max_ranges + 1: no allocation
    sacked_ += r.length();
  } else {
    for (auto it = first; it != last; ++it) sacked_ -= it->length();
    SeqRange merged{off(first->start) < lo ? first->start : r.start,
                    off((last - 1)->end) > hi ? (last - 1)->end : r.end};
    sacked_ += merged.length();
    *first = merged;
    ranges_.erase(first + 1, last);
  }
  if (ranges_.size() > max_ranges_) {  // over the cap: forget the highest range (see the class comment)
    sacked_ -= ranges_.back().length();
    ranges_.pop_back();
  }
}

std::uint32_t SackScoreboard::on_ack(SeqNum snd_una, SeqNum snd_nxt, std::span<const SackBlock> blocks) noexcept {
  trim_below(snd_una);
  const std::uint32_t flight = snd_nxt < snd_una ? 0 : forward_distance(snd_una, snd_nxt);
  bool any = false;
  for (const SackBlock& b : blocks) {
    const std::uint32_t l = off(b.left), r = off(b.right);
    // RFC 2018 §3 / RFC 6675 §5: snd_una < left < right <= snd_nxt; anything else is malformed, stale or a D-SACK.
    if (l == 0 || l >= r || r > flight) continue;
    if (!any) {
      before_.assign(ranges_.begin(), ranges_.end());  // capacity reserved: no allocation
      any = true;
    }
    insert(SeqRange{b.left, b.right});
  }
  if (!any) return 0;
  // Newly SACKed = |after \ before| = |after| - |after ∩ before|, by a merge walk over two sorted lists.
  std::uint32_t common = 0;
  std::size_t i = 0, j = 0;
  while (i < ranges_.size() && j < before_.size()) {
    const std::uint32_t s = std::max(off(ranges_[i].start), off(before_[j].start));
    const std::uint32_t e = std::min(off(ranges_[i].end), off(before_[j].end));
    if (s < e) common += e - s;
    if (off(ranges_[i].end) < off(before_[j].end))
      ++i;
    else
      ++j;
  }
  return sacked_ - common;
}

bool SackScoreboard::is_sacked(SeqNum seq) const noexcept {
  const std::uint32_t o = off(seq);
  const auto it = std::upper_bound(ranges_.begin(), ranges_.end(), o,
                                   [this](std::uint32_t v, const SeqRange& e) { return v < off(e.end); });
  return it != ranges_.end() && off(it->start) <= o;
}

std::optional<SeqNum> SackScoreboard::highest_sacked() const noexcept {
  if (ranges_.empty()) return std::nullopt;
  return ranges_.back().end;
}

namespace {
// RFC 6675 §4 IsLost: DupThresh discontiguous SACKed ranges, or more than (DupThresh - 1) * SMSS SACKed bytes.
bool lost_by(std::size_t ranges_above, std::uint64_t bytes_above, std::uint32_t smss) noexcept {
  return ranges_above >= kDupThresh || bytes_above > std::uint64_t{kDupThresh - 1} * smss;
}
}  // namespace

bool SackScoreboard::is_lost(SeqNum seq, std::uint32_t smss) const noexcept {
  const std::uint32_t o = off(seq);
  if (o >= 0x80000000u) return false;  // below SND.UNA: acknowledged, not lost
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) {
    const std::uint32_t s = off(it->start), e = off(it->end);
    if (e <= o + 1) break;  // ascending: nothing lower has an octet above seq
    if (s > o) ++count;
    bytes += e - std::max(s, o + 1);
  }
  return lost_by(count, bytes, smss);
}

bool SackScoreboard::hole_lost(std::size_t above_index, std::uint32_t smss) const noexcept {
  // Every octet of the hole just below ranges_[above_index] has exactly ranges [above_index, n) above it.
  std::uint64_t bytes = 0;
  for (std::size_t k = above_index; k < ranges_.size(); ++k) bytes += ranges_[k].length();
  return lost_by(ranges_.size() - above_index, bytes, smss);
}

std::uint32_t SackScoreboard::pipe(SeqNum snd_una, SeqNum snd_nxt, SeqNum high_rxt, std::uint32_t smss) const noexcept {
  if (snd_nxt <= snd_una) return 0;
  const SeqNum rxt = std::clamp(high_rxt, snd_una, snd_nxt);
  std::uint64_t pipe = 0;
  // Walk the holes from the top, keeping the count and bytes of the SACKed ranges above the current hole.
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  for (std::size_t k = ranges_.size() + 1; k-- > 0;) {
    // The hole below range k (k == size(): the hole above the highest range), clipped to [snd_una, snd_nxt).
    const SeqNum lo = k == 0 ? snd_una : seq_max(ranges_[k - 1].end, snd_una);
    const SeqNum hi = k == ranges_.size() ? snd_nxt : seq_min(ranges_[k].start, snd_nxt);
    if (lo < hi) {
      if (!lost_by(count, bytes, smss)) pipe += forward_distance(lo, hi);  // (a) not IsLost
      if (lo < rxt) pipe += forward_distance(lo, seq_min(hi, rxt));        // (b) S1 <= HighRxt
    }
    if (k != 0 && ranges_[k - 1].end > snd_una) {
      ++count;
      bytes += ranges_[k - 1].length();
    }
  }
  return std::uint32_t(std::min<std::uint64_t>(pipe, 0xffffffffu));
}

std::optional<SeqRange> SackScoreboard::next_hole(SeqNum snd_una, SeqNum high_rxt, std::uint32_t smss,
                                                  bool lost_only) const noexcept {
  if (smss == 0) return std::nullopt;
  const SeqNum floor = seq_max(snd_una, high_rxt);    // (1.a): at or above HighRxt (exclusive here)
  for (std::size_t k = 0; k < ranges_.size(); ++k) {  // (1.b): only holes below a SACKed range
    const SeqNum lo = seq_max(k == 0 ? snd_una : ranges_[k - 1].end, floor);
    const SeqNum hi = ranges_[k].start;
    if (!(lo < hi)) continue;
    if (lost_only && !hole_lost(k, smss)) return std::nullopt;  // (1.c); IsLost only weakens going up
    return SeqRange{lo, lo + std::min(smss, forward_distance(lo, hi))};
  }
  return std::nullopt;
}

std::optional<SeqRange> SackScoreboard::next_lost(SeqNum snd_una, SeqNum high_rxt, std::uint32_t smss) const noexcept {
  return next_hole(snd_una, high_rxt, smss, true);
}

std::optional<SeqRange> SackScoreboard::next_unsacked_below_highest(SeqNum snd_una, SeqNum high_rxt,
                                                                    std::uint32_t smss) const noexcept {
  return next_hole(snd_una, high_rxt, smss, false);
}

}  // namespace tapstack::tcp
