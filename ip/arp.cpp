// ARP (RFC 826) for Ethernet/IPv4: Repr parse/emit and printing (the checked view is inline in arp.hpp).
#include "ip/arp.hpp"

namespace tapstack::ip {

std::ostream& operator<<(std::ostream& os, ArpOp op) {
  switch (op) {
    case ArpOp::kRequest: return os << "request";
    case ArpOp::kReply: return os << "reply";
  }
  return os << "op" << std::uint16_t(op);
}

std::string_view to_string(ArpError e) noexcept {
  switch (e) {
    case ArpError::kTruncated: return "truncated";
    case ArpError::kBadHardware: return "bad_hardware";
    case ArpError::kBadProtocol: return "bad_protocol";
    case ArpError::kBadOp: return "bad_op";
  }
  return "unknown";
}
std::ostream& operator<<(std::ostream& os, ArpError e) { return os << to_string(e); }

ArpRepr ArpRepr::parse(const ArpView& v) noexcept {
  return {v.op(), v.sender_mac(), v.sender_ip(), v.target_mac(), v.target_ip()};
}

void ArpRepr::emit(MutableBytes out) const noexcept {
  store_be16(out, arp_field::kHtype, kArpHardwareEthernet);
  store_be16(out, arp_field::kPtype, kArpProtocolIpv4);
  store_u8(out, arp_field::kHlen, 6);
  store_u8(out, arp_field::kPlen, 4);
  store_be16(out, arp_field::kOp, std::uint16_t(op));
  sender_mac.write(out.subspan(arp_field::kSenderMac, 6));
  sender_ip.write(out.subspan(arp_field::kSenderIp, 4));
  target_mac.write(out.subspan(arp_field::kTargetMac, 6));
  target_ip.write(out.subspan(arp_field::kTargetIp, 4));
}

std::ostream& operator<<(std::ostream& os, const ArpRepr& r) {
  return os << "ArpRepr{" << r.op << " sender=" << r.sender_mac << '/' << r.sender_ip << " target=" << r.target_mac
            << '/' << r.target_ip << '}';
}

}  // namespace tapstack::ip
