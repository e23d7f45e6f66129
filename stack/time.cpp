// SteadyClock: the only read of a real clock in the libraries.
#include "stack/time.hpp"

namespace tapstack {

Instant SteadyClock::now() noexcept {
  const auto d = std::chrono::steady_clock::now().time_since_epoch();
  return Instant::from_micros(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::chrono::microseconds wall_clock_since_epoch() noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
}

}  // namespace tapstack
