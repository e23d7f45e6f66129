// The congestion control factory and the pieces shared by NewReno and CUBIC (RFC 6928 IW, RFC 3465 ABC).
#include "tcp/congestion.hpp"

#include <algorithm>

#include "tcp/cubic.hpp"
#include "tcp/newreno.hpp"

namespace tapstack::tcp {

std::unique_ptr<CongestionControl> make_congestion_control(CongestionAlgorithm algorithm) {
  switch (algorithm) {
    case CongestionAlgorithm::kNewReno:
      return std::make_unique<NewReno>();
    case CongestionAlgorithm::kCubic:
      return std::make_unique<Cubic>();
  }
  return std::make_unique<Cubic>();  // CONFORMANCE.md: CUBIC is the default
}

std::string_view to_string(CongestionAlgorithm algorithm) noexcept {
  switch (algorithm) {
    case CongestionAlgorithm::kNewReno:
      return "newreno";
    case CongestionAlgorithm::kCubic:
      return "cubic";
  }
  return "unknown";
}

std::uint32_t clamp_cc_mss(std::uint32_t mss) noexcept { return std::clamp(mss, kMinCcMss, kMaxCcMss); }

std::uint32_t initial_window(std::uint32_t mss) noexcept {
  mss = clamp_cc_mss(mss);  // 10 * 65535 fits in 32 bits
  return std::min(10 * mss, std::max(2 * mss, std::uint32_t{14600}));
}

std::uint32_t slow_start(std::uint32_t& cwnd, std::uint32_t ssthresh, std::uint32_t mss, std::uint32_t acked) noexcept {
  const std::uint32_t limit = std::min(ssthresh, kMaxCwnd);
  if (cwnd >= limit) return acked;
  const std::uint32_t inc = std::min({acked, 2 * mss, limit - cwnd});  // RFC 3465 §2.2, L = 2 SMSS
  cwnd += inc;
  return cwnd >= limit ? acked - inc : 0;
}

}  // namespace tapstack::tcp
