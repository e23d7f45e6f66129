// Buffer: what the tapstack::socket facade returns where MicroPython returns `bytes` (recv, read, readline,
// recvfrom, inet_pton), with conversions to and from text for the std::string convenience overloads.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "stack/bytes.hpp"

namespace tapstack::socket {

using Buffer = std::vector<std::byte>;

inline Buffer to_buffer(std::string_view s) {
  const Bytes b = as_bytes(s);
  return Buffer(b.begin(), b.end());
}
inline std::string to_string(const Buffer& b) { return std::string{as_chars(Bytes{b})}; }

}  // namespace tapstack::socket
