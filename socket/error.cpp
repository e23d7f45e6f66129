// gai_category(): messages for getaddrinfo()'s negative error numbers (glibc's EAI_* values and wording).
#include "socket/error.hpp"

#include "socket/constants.hpp"

namespace tapstack::socket {
namespace {

class GaiCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "getaddrinfo"; }
  std::string message(int v) const override {
    switch (v) {
      case EAI_NONAME: return "Name or service not known";
      case EAI_AGAIN: return "Temporary failure in name resolution";
      case EAI_FAIL: return "Non-recoverable failure in name resolution";
      case EAI_FAMILY: return "ai_family not supported";
      case EAI_SOCKTYPE: return "ai_socktype not supported";
      case EAI_SERVICE: return "Servname not supported for ai_socktype";
      default: return "getaddrinfo error " + std::to_string(v);
    }
  }
};

}  // namespace

const std::error_category& gai_category() noexcept {
  static const GaiCategory category;
  return category;
}

}  // namespace tapstack::socket
