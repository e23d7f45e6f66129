// A recording ip::IpSender for UDP layer tests: keeps every packet's parameters, pseudo-header and
// transport bytes, and answers with a configurable SendResult and source address.
#pragma once
#include <cstddef>
#include <optional>
#include <vector>

#include "ip/transport.hpp"

namespace tapstack::udp::testing {

class FakeIpSender final : public ip::IpSender {
 public:
  struct Sent {
    Instant at;
    ip::IpSendParams params;
    ip::PseudoHeader pseudo;
    std::vector<std::byte> bytes;
  };

  ip::SendResult send(Instant now, const ip::IpSendParams& p, std::size_t payload_len,
                      FunctionRef<void(MutableBytes, const ip::PseudoHeader&)> fill) noexcept override {
    ++calls;
    if (result != ip::SendResult::kSent && result != ip::SendResult::kQueued) return result;
    Sent s{now, p, {}, std::vector<std::byte>(payload_len)};
    // The IP layer resolves the source before building the pseudo-header.
    const ip::IpAddress src = p.src ? *p.src : source_for(p.dst).value_or(ip::IpAddress{});
    s.pseudo = ip::PseudoHeader{src, p.dst, p.protocol, std::uint32_t(payload_len)};
    fill(s.bytes, s.pseudo);
    sent.push_back(std::move(s));
    return result;
  }
  std::optional<ip::IpAddress> source_for(const ip::IpAddress& dst) const noexcept override {
    return dst.is_v4() ? source_v4 : source_v6;
  }
  std::size_t max_payload(const ip::IpAddress& dst) const noexcept override { return dst.is_v4() ? 1480 : 1460; }
  bool is_local(const ip::IpAddress& a) const noexcept override {
    return (source_v4 && a == *source_v4) || (source_v6 && a == *source_v6);
  }

  ip::SendResult result = ip::SendResult::kSent;
  std::optional<ip::IpAddress> source_v4, source_v6;
  std::vector<Sent> sent;
  int calls = 0;
};

}  // namespace tapstack::udp::testing
