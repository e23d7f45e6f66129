// Ethernet II header: Repr parse/emit and printing (the view is all inline in ethernet.hpp).
#include "ip/ethernet.hpp"

#include <ios>

namespace tapstack::ip {

std::ostream& operator<<(std::ostream& os, EtherType t) {
  switch (t) {
    case EtherType::kIpv4: return os << "IPv4";
    case EtherType::kArp: return os << "ARP";
    case EtherType::kVlan: return os << "802.1Q";
    case EtherType::kIpv6: return os << "IPv6";
  }
  const auto flags = os.flags();
  os << "0x" << std::hex << std::uint16_t(t);
  os.flags(flags);
  return os;
}

EthernetRepr EthernetRepr::parse(const EthernetView& v) noexcept { return {v.dst(), v.src(), v.ethertype()}; }

void EthernetRepr::emit(MutableBytes out) const noexcept {
  dst.write(out.subspan(ethernet_field::kDst, 6));
  src.write(out.subspan(ethernet_field::kSrc, 6));
  store_be16(out, ethernet_field::kEtherType, std::uint16_t(ethertype));
}

void emit_ethernet_header(MutableBytes out, MacAddress dst, MacAddress src, EtherType type) noexcept {
  EthernetRepr{dst, src, type}.emit(out);
}

std::ostream& operator<<(std::ostream& os, const EthernetRepr& r) {
  return os << "EthernetRepr{dst=" << r.dst << " src=" << r.src << " type=" << r.ethertype << '}';
}

}  // namespace tapstack::ip
