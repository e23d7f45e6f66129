// Test helper: writes DNS messages octet by octet, so that tests can craft exactly the malformed inputs the
// parser must refuse (bad pointers, lengths, counts) next to well-formed ones.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "stack/bytes.hpp"

namespace tapstack::dns::testing {

class WireBuilder {
 public:
  std::size_t size() const noexcept { return b_.size(); }
  Bytes bytes() const noexcept { return Bytes{b_}; }
  const std::vector<std::byte>& vec() const noexcept { return b_; }

  WireBuilder& u8(std::uint8_t v) {
    b_.push_back(std::byte(v));
    return *this;
  }
  WireBuilder& u16(std::uint16_t v) { return u8(std::uint8_t(v >> 8)).u8(std::uint8_t(v)); }
  WireBuilder& u32(std::uint32_t v) { return u16(std::uint16_t(v >> 16)).u16(std::uint16_t(v)); }
  WireBuilder& raw(std::initializer_list<std::uint8_t> octets) {
    for (auto o : octets) u8(o);
    return *this;
  }
  WireBuilder& fill(std::size_t n, std::uint8_t v) {
    for (std::size_t i = 0; i < n; ++i) u8(v);
    return *this;
  }
  // Header: id, flags and the four counts.
  WireBuilder& header(std::uint16_t id, std::uint16_t flags, std::uint16_t qd, std::uint16_t an, std::uint16_t ns,
                      std::uint16_t ar) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  // Labels of a dotted name, without the terminating zero (so that a pointer can end the name).
  WireBuilder& labels(std::string_view dotted) {
    while (!dotted.empty()) {
      const auto dot = dotted.find('.');
      const auto label = dotted.substr(0, dot);
      u8(std::uint8_t(label.size()));
      for (char c : label) u8(std::uint8_t(c));
      if (dot == std::string_view::npos) break;
      dotted.remove_prefix(dot + 1);
    }
    return *this;
  }
  WireBuilder& name(std::string_view dotted) { return labels(dotted).u8(0); }
  WireBuilder& ptr(std::uint16_t offset) { return u16(std::uint16_t(0xc000 | offset)); }
  WireBuilder& question(std::uint16_t type = 1, std::uint16_t qclass = 1) { return u16(type).u16(qclass); }
  // TYPE, CLASS, TTL, RDLENGTH after an owner name the caller wrote.
  WireBuilder& rr(std::uint16_t type, std::uint16_t rclass, std::uint32_t ttl, std::uint16_t rdlength) {
    return u16(type).u16(rclass).u32(ttl).u16(rdlength);
  }
  // Patches a 16-bit field already written.
  void set_u16(std::size_t off, std::uint16_t v) {
    b_[off] = std::byte(v >> 8);
    b_[off + 1] = std::byte(v);
  }

 private:
  std::vector<std::byte> b_;
};

}  // namespace tapstack::dns::testing
