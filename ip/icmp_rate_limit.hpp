// Rate limiting for the ICMP errors this host sends (RFC 1122 §3.2.2, RFC 1812 §4.3.2.8): one token
// bucket for all destinations and one per destination, each charged a random 0, 1 or 2 tokens per error
// (1 on average) so that an observer cannot count the bucket exactly (CVE-2020-25705, "SAD DNS", where
// Linux's global ICMP limit leaked which UDP ports were open). Used by ip::Interface before every error.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ip/address.hpp"
#include "stack/random.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

struct IcmpRateLimitConfig {
  std::uint32_t global_per_sec = 1000;  // Linux icmp_msgs_per_sec
  std::uint32_t global_burst = 50;      // Linux icmp_msgs_burst
  std::uint32_t per_dest_per_sec = 100;
  std::uint32_t per_dest_burst = 50;
  std::size_t tracked_destinations = 64;  // the least recently charged destination is forgotten first
};

class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(std::uint32_t per_sec, std::uint32_t burst, Instant now) noexcept
      : per_sec_{per_sec}, cap_{std::int64_t(burst) * kUnit}, tokens_{cap_}, last_{now} {}
  // True when at least one token is left (after refilling up to `now`); then charges 0, 1 or 2 tokens.
  bool take(Instant now, Rng& rng) noexcept {
    refill(now);
    if (tokens_ < kUnit) return false;
    tokens_ = std::max<std::int64_t>(0, tokens_ - std::int64_t(rng.uniform(3)) * kUnit);
    return true;
  }
  // True when take() would succeed; charges nothing.
  bool has_token(Instant now) noexcept {
    refill(now);
    return tokens_ >= kUnit;
  }

 private:
  static constexpr std::int64_t kUnit = 1'000'000;  // tokens are counted in millionths
  void refill(Instant now) noexcept {
    if (now <= last_) return;
    const std::int64_t us = (now - last_).count();
    last_ = now;
    if (per_sec_ == 0) return;
    // per_sec tokens per second = per_sec millionths of a token per microsecond (no overflow: bounded first).
    const std::int64_t rate = per_sec_;
    if (us > (cap_ - tokens_) / rate) tokens_ = cap_;
    else tokens_ += rate * us;
  }
  std::uint32_t per_sec_ = 0;
  std::int64_t cap_ = 0, tokens_ = 0;
  Instant last_{};
};

class IcmpRateLimiter {
 public:
  explicit IcmpRateLimiter(IcmpRateLimitConfig cfg = {}) : cfg_{cfg} { dests_.reserve(cfg_.tracked_destinations); }

  // True when an error to `dst` may be sent at `now`; charges both buckets only then.
  bool allow(Instant now, Ipv4Address dst, Rng& rng) noexcept {
    if (!started_) {
      global_ = TokenBucket{cfg_.global_per_sec, cfg_.global_burst, now};
      started_ = true;
    }
    if (cfg_.tracked_destinations == 0) return global_.take(now, rng);
    Dest* d = nullptr;
    for (auto& e : dests_)
      if (e.addr == dst) d = &e;
    if (d == nullptr) {
      if (dests_.size() < cfg_.tracked_destinations) {
        d = &dests_.emplace_back();  // capacity reserved: no allocation
      } else {
        d = &*std::min_element(dests_.begin(), dests_.end(),
                               [](const Dest& a, const Dest& b) { return a.last_used < b.last_used; });
      }
      *d = Dest{dst, TokenBucket{cfg_.per_dest_per_sec, cfg_.per_dest_burst, now}, now};
    }
    d->last_used = now;
    if (!d->bucket.has_token(now) || !global_.has_token(now)) return false;
    return d->bucket.take(now, rng) && global_.take(now, rng);
  }

 private:
  struct Dest {
    Ipv4Address addr;
    TokenBucket bucket;
    Instant last_used;
  };
  IcmpRateLimitConfig cfg_;
  bool started_ = false;
  TokenBucket global_;
  std::vector<Dest> dests_;
};

}  // namespace tapstack::ip
