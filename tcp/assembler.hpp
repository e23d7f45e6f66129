// The receive side's out-of-order tracker (RFC 9293 §3.10.7.4, RFC 2018): which bytes past RCV.NXT have
// arrived. tcp::Connection copies segment payload into the receive ring with SpscByteRing::write_at, records
// the range here, and commits what add() reports as contiguous; the ranges also feed the SACK option.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace tapstack::tcp {

// Offsets are bytes relative to RCV.NXT (offset 0 is the contiguous edge). The assembler holds at most
// `max_ranges` disjoint, non-adjacent ranges, all starting above 0 (CONFORMANCE §2: out-of-order queue caps),
// in storage reserved at construction: add() never allocates.
class Assembler {
 public:
  using Range = std::pair<std::size_t, std::size_t>;  // [first, second)

  explicit Assembler(std::size_t max_ranges = 32);

  // Records bytes [offset, offset + len) as received. Returns how many bytes became contiguous at offset 0:
  // the caller commits them in the ring and advances RCV.NXT by that amount, and the assembler shifts its own
  // ranges down by the same amount. Returns nullopt when recording the bytes would need a range beyond
  // max_ranges: the caller drops the segment, and nothing changed. An empty range (len 0) changes nothing
  // and returns 0.
  std::optional<std::size_t> add(std::size_t offset, std::size_t len) noexcept;

  bool empty() const noexcept { return ranges_.empty(); }
  std::size_t range_count() const noexcept { return ranges_.size(); }
  std::size_t max_ranges() const noexcept { return max_ranges_; }

  // SACK blocks for the receiver (RFC 2018 §4): the range holding the most recently received segment first,
  // then the other ranges from the most recently changed down, up to out.size() of them, as [start, end)
  // offsets relative to RCV.NXT. Returns the number written. After an in-order segment advanced RCV.NXT, no
  // range holds it, so the first block is the most recently changed remaining range (RFC 2018 §4 exempts a
  // segment that advanced the Acknowledgment Number).
  std::size_t sack_ranges(std::span<Range> out) const noexcept;

  // The ranges in ascending order of offset (state inspection for tests and tracing); returns the count
  // written, up to out.size().
  std::size_t ranges(std::span<Range> out) const noexcept;

  void clear() noexcept;

 private:
  struct Entry {
    std::size_t start, end;
    std::uint64_t stamp;  // order of the last add() that touched this range, for SACK block order
  };
  std::size_t max_ranges_;
  std::vector<Entry> ranges_;  // ascending, disjoint, non-adjacent, start > 0; capacity reserved up front
  std::uint64_t next_stamp_ = 1;
};

}  // namespace tapstack::tcp
