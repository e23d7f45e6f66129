// The contract between the IP layer and the transports above it (udp/, tcp/, ICMP users).
// ip/ cannot include udp/ or tcp/, so transports implement `TransportHandler` and register it with the
// interface by protocol number; they send through the `IpSender` the interface implements.
#pragma once
#include <cstdint>
#include <optional>

#include "ip/address.hpp"
#include "stack/checksum.hpp"
#include "stack/function_ref.hpp"
#include "stack/time.hpp"

namespace tapstack::ip {

enum class IpProtocol : std::uint8_t { kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpv6 = 58 };

// What the transport checksum covers besides the transport bytes (RFC 768, RFC 9293 §3.1, RFC 8200 §8.1).
struct PseudoHeader {
  IpAddress src, dst;
  std::uint8_t protocol = 0;
  std::uint32_t length = 0;  // transport header + payload, in bytes

  // Adds the pseudo-header to `c` in the family's layout.
  Checksum& add_to(Checksum& c) const noexcept {
    c.add(src.bytes()).add(dst.bytes());
    if (src.is_v4()) return c.add_u16(protocol).add_u16(std::uint16_t(length));
    return c.add_u32(length).add_u32(protocol);
  }
};

// What a transport learns about a received packet besides its payload.
struct IpPacketInfo {
  IpAddress src, dst;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 0;          // TTL or hop limit
  std::uint8_t tos = 0;          // DSCP+ECN / traffic class
  bool dst_broadcast = false;    // limited or subnet-directed broadcast
  bool dst_multicast = false;
  PseudoHeader pseudo() const noexcept { return {src, dst, protocol, 0}; }  // caller sets length
};

// An ICMP error about a packet this host sent, as delivered to the transport that sent it
// (RFC 1122 §3.2.2, RFC 9293 §3.9.4, RFC 5927 validation is the transport's job).
struct IcmpErrorInfo {
  enum class Kind : std::uint8_t {
    kNetUnreachable, kHostUnreachable, kProtocolUnreachable, kPortUnreachable, kFragNeeded,
    kAdminProhibited, kTimeExceeded, kParameterProblem, kOther,
  };
  Kind kind = Kind::kOther;
  bool hard = false;              // RFC 1122: port/protocol unreachable are hard errors for a connection
  std::uint32_t next_hop_mtu = 0;  // for kFragNeeded / Packet Too Big
  IpAddress reporter;             // who sent the ICMP error
  IpAddress orig_src, orig_dst;   // from the quoted IP header: our packet's source and destination
  std::uint8_t protocol = 0;
};

// Parameters for one outgoing packet.
struct IpSendParams {
  IpAddress dst;
  std::optional<IpAddress> src;   // unset: the interface chooses the source for the route
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  bool dont_fragment = false;     // IPv4 DF (TCP sets it; UDP lets the IP layer fragment)
};

enum class SendResult : std::uint8_t {
  kSent,          // handed to the link
  kQueued,        // waiting for address resolution (ARP / NDP); sent when it resolves
  kNoRoute,       // no interface route and no gateway
  kTooBig,        // larger than the path MTU with DF set, or over 65535
  kDropped,       // link or resolution queue full
};

class IpSender {
 public:
  // Writes one packet whose transport part is `payload_len` bytes: `fill(buf, pseudo)` writes them into
  // `buf` (exactly payload_len bytes) and may use `pseudo` (length already set) for its checksum. The
  // sender adds IP and Ethernet headers, fragments if allowed and needed, and transmits or queues.
  virtual SendResult send(Instant now, const IpSendParams& p, std::size_t payload_len,
                          FunctionRef<void(MutableBytes, const PseudoHeader&)> fill) noexcept = 0;
  // The source address this host uses toward `dst`; nullopt when there is no route.
  virtual std::optional<IpAddress> source_for(const IpAddress& dst) const noexcept = 0;
  // The largest transport part that fits one unfragmented packet toward `dst` (path MTU minus IP header).
  virtual std::size_t max_payload(const IpAddress& dst) const noexcept = 0;
  // True when `a` is one of this host's own addresses.
  virtual bool is_local(const IpAddress& a) const noexcept = 0;

 protected:
  ~IpSender() = default;
};

class TransportHandler {
 public:
  enum class Verdict : std::uint8_t {
    kAccepted,           // delivered or consumed (including transport-level drops it counted itself)
    kPortUnreachable,    // nothing listens: the IP layer answers with ICMP port unreachable if allowed
  };
  virtual ~TransportHandler() = default;
  // One reassembled, validated packet addressed to this host. `payload` is borrowed for the call only.
  virtual Verdict on_packet(Instant now, const IpPacketInfo& ip, Bytes payload) noexcept = 0;
  // An ICMP error quoting a packet of this protocol; `quoted` is what the error carried of our transport
  // header (at least 8 bytes; more if the router included it).
  virtual void on_icmp_error(Instant, const IcmpErrorInfo&, Bytes /*quoted*/) noexcept {}
  // Lets the transport send what is due at `now` (retransmissions, queued datagrams, ACKs).
  virtual void poll(Instant now, IpSender& out) noexcept = 0;
  // The earliest time poll() has timed work to do; nullopt for none. Instant{} or earlier means "now".
  virtual std::optional<Instant> poll_at() const noexcept = 0;
};

}  // namespace tapstack::ip
