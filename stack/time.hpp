// Time as data: protocol code takes `Instant now` as a parameter and never reads a clock.
// Only a runner (the CLI's loop, the socket runtime, a test) owns a `Clock`.
#pragma once
#include <chrono>
#include <compare>
#include <cstdint>
#include <limits>
#include <ostream>

namespace tapstack {

using Duration = std::chrono::microseconds;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A point on a monotonic timeline, in microseconds from an arbitrary origin.
class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant from_micros(std::int64_t us) noexcept { return Instant{us}; }
  static constexpr Instant from_millis(std::int64_t ms) noexcept { return Instant{ms * 1000}; }
  static constexpr Instant max() noexcept { return Instant{std::numeric_limits<std::int64_t>::max()}; }
  constexpr std::int64_t micros() const noexcept { return us_; }
  constexpr std::int64_t millis() const noexcept { return us_ / 1000; }

  // Saturating: `Instant::max()` means "never", and never plus a timeout is still never (not signed overflow).
  friend constexpr Instant operator+(Instant a, Duration d) noexcept { return Instant{sat_add(a.us_, d.count())}; }
  friend constexpr Instant operator-(Instant a, Duration d) noexcept { return Instant{sat_sub(a.us_, d.count())}; }
  friend constexpr Duration operator-(Instant a, Instant b) noexcept { return Duration{sat_sub(a.us_, b.us_)}; }
  constexpr Instant& operator+=(Duration d) noexcept { return *this = *this + d; }
  friend constexpr auto operator<=>(Instant, Instant) = default;
  friend std::ostream& operator<<(std::ostream& os, Instant t) { return os << t.us_ << "us"; }

 private:
  constexpr explicit Instant(std::int64_t us) : us_{us} {}
  static constexpr std::int64_t sat_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r))
      return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
    return r;
  }
  static constexpr std::int64_t sat_sub(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_sub_overflow(a, b, &r))
      return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
    return r;
  }
  std::int64_t us_ = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() noexcept = 0;
};

// The one place that reads the system's monotonic clock.
class SteadyClock final : public Clock {
 public:
  Instant now() noexcept override;
};

// Wall-clock time since the Unix epoch, for labelling records (pcap timestamps), never for protocol timing.
std::chrono::microseconds wall_clock_since_epoch() noexcept;

// Tests and replays move time by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Instant start = {}) : now_{start} {}
  Instant now() noexcept override { return now_; }
  void set(Instant t) noexcept { now_ = t; }
  void advance(Duration d) noexcept { now_ += d; }

 private:
  Instant now_;
};

}  // namespace tapstack
