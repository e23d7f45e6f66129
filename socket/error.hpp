// OSError: how the tapstack::socket facade raises, as MicroPython does — one exception type carrying the
// errno (`code().value()`, MicroPython's `e.args[0]`): positive errno values in std::generic_category(),
// negative getaddrinfo() errors (EAI_*) in gai_category(). Every facade call also has an overload that takes
// a std::error_code& instead of throwing (asio style).
#pragma once
#include <string>
#include <system_error>

namespace tapstack::socket {

// The category of getaddrinfo()'s negative error numbers (MicroPython: "a separate namespace").
const std::error_category& gai_category() noexcept;

// An errno value as an error_code: negative values are getaddrinfo errors, others errno.
inline std::error_code make_error(int value) noexcept {
  return value < 0 ? std::error_code{value, gai_category()} : std::error_code{value, std::generic_category()};
}

class OSError : public std::system_error {
 public:
  explicit OSError(std::error_code ec) : std::system_error{ec} {}
  OSError(std::error_code ec, const std::string& what) : std::system_error{ec, what} {}
  explicit OSError(int errno_value) : std::system_error{make_error(errno_value)} {}
  OSError(int errno_value, const std::string& what) : std::system_error{make_error(errno_value), what} {}
  // MicroPython's e.args[0] / e.errno: positive errno, or a negative getaddrinfo error.
  int errno_value() const noexcept { return code().value(); }
};

// Throws OSError(ec) when ec is set: the throwing overloads are the error_code ones plus this.
inline void throw_if(const std::error_code& ec) {
  if (ec) throw OSError(ec);
}

}  // namespace tapstack::socket
