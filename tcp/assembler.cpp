// Out-of-order tracker for the TCP receive path: range merging, advancing the contiguous edge, SACK block order.
// See tcp/assembler.hpp.
#include "tcp/assembler.hpp"

#include <algorithm>
#include <limits>

namespace tapstack::tcp {

Assembler::Assembler(std::size_t max_ranges) : max_ranges_{max_ranges} { ranges_.reserve(max_ranges); }

std::optional<std::size_t> Assembler::add(std::size_t offset, std::size_t len) noexcept {
  if (len == 0) return std::size_t{0};
  // Saturate rather than wrap: offsets are window-bounded (< 2^30, RFC 7323 §2.3), so this never bites a caller.
  const std::size_t end =
      len > std::numeric_limits<std::size_t>::max() - offset ? std::numeric_limits<std::size_t>::max() : offset + len;
  // Ranges that overlap or touch [offset, end): from the first whose end reaches offset, while start <= end.
  const auto first = std::lower_bound(ranges_.begin(), ranges_.end(), offset,
                                      [](const Entry& e, std::size_t off) { return e.end < off; });
  auto last = first;
  while (last != ranges_.end() && last->start <= end) ++last;
  const std::size_t merged = std::size_t(last - first);

  std::size_t new_start = offset, new_end = end;
  if (merged != 0) {
    new_start = std::min(new_start, first->start);
    new_end = std::max(new_end, (last - 1)->end);
  }

  if (new_start == 0) {
    // RFC 9293 §3.10.7.4: the segment fills the hole at RCV.NXT; hand over everything now contiguous and shift
    // the remaining ranges (all start past new_end, since ranges never touch) down by that amount.
    ranges_.erase(first, last);  // first == begin(): nothing stored starts at 0
    for (Entry& e : ranges_) {
      e.start -= new_end;
      e.end -= new_end;
    }
    ++next_stamp_;
    return new_end;
  }

  if (merged == 0) {
    if (ranges_.size() >= max_ranges_) return std::nullopt;  // a new range would pass the cap: drop the segment
    ranges_.insert(first, Entry{new_start, new_end, next_stamp_++});  // capacity reserved: no allocation
    return std::size_t{0};
  }
  // Collapse [first, last) into *first.
  *first = Entry{new_start, new_end, next_stamp_++};
  ranges_.erase(first + 1, last);
  return std::size_t{0};
}

std::size_t Assembler::sack_ranges(std::span<Range> out) const noexcept {
  // Selection by descending stamp; stamps are unique, and there are at most max_ranges entries and a handful of
  // SACK blocks (at most 4 fit in the option), so repeated scans beat sorting a copy.
  std::size_t n = 0;
  std::uint64_t below = std::numeric_limits<std::uint64_t>::max();
  while (n < out.size()) {
    const Entry* best = nullptr;
    for (const Entry& e : ranges_)
      if (e.stamp < below && (best == nullptr || e.stamp > best->stamp)) best = &e;
    if (best == nullptr) break;
    out[n++] = {best->start, best->end};
    below = best->stamp;
  }
  return n;
}

std::size_t Assembler::ranges(std::span<Range> out) const noexcept {
  const std::size_t n = std::min(out.size(), ranges_.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = {ranges_[i].start, ranges_[i].end};
  return n;
}

void Assembler::clear() noexcept { ranges_.clear(); }

}  // namespace tapstack::tcp
