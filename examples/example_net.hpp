// What every example program shares: it starts the default socket::Runtime on a TAP device (--tap, --ip4,
// --gw4, --mac, --dns, --hosts, or the TAPSTACK_* environment), so that the program body is MicroPython's, and
// prints values the way MicroPython's print() does (bytes as b'...', tuples, lists). Examples are programs,
// not the facade: they may include tap/.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "socket/poll.hpp"
#include "socket/socket.hpp"
#include "tap/tap_link.hpp"

namespace tapstack::examples {

// The network a program runs on. Construct it first thing in main(); it removes the options it knows from
// argv (what is left is the program's own), opens the TAP, starts the default runtime and, on destruction,
// stops it. Setup: throws std::invalid_argument / std::system_error with a message for the user.
class ExampleNet {
 public:
  ExampleNet(int& argc, char** argv) {
    static constexpr std::pair<std::string_view, const char*> kOptions[] = {
        {"--tap", "TAPSTACK_TAP"}, {"--ip4", "TAPSTACK_IP4"}, {"--gw4", "TAPSTACK_GW4"},
        {"--mac", "TAPSTACK_MAC"}, {"--dns", "TAPSTACK_DNS"}, {"--hosts", "TAPSTACK_HOSTS"}};
    int out = 1;
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      bool known = false;
      for (const auto& [name, env] : kOptions) {
        if (arg == name) {
          if (i + 1 >= argc) throw std::invalid_argument(std::string{name} + " needs a value");
          ::setenv(env, argv[++i], 1);
          known = true;
        } else if (arg.size() > name.size() && arg.substr(0, name.size()) == name && arg[name.size()] == '=') {
          ::setenv(env, std::string{arg.substr(name.size() + 1)}.c_str(), 1);
          known = true;
        }
        if (known) break;
      }
      if (!known) argv[out++] = argv[i];
    }
    argc = out;
    argv[argc] = nullptr;
    if (std::getenv("TAPSTACK_IP4") == nullptr) ::setenv("TAPSTACK_IP4", "192.0.2.2/24", 0);
    const char* tap = std::getenv("TAPSTACK_TAP");
    link_ = std::make_unique<tap::TapLink>(tap != nullptr && *tap != '\0' ? tap : "tap0");
    socket::Runtime::start_default(*link_);
  }
  ~ExampleNet() { socket::Runtime::stop_default(); }
  ExampleNet(const ExampleNet&) = delete;
  ExampleNet& operator=(const ExampleNet&) = delete;

 private:
  std::unique_ptr<tap::TapLink> link_;
};

// ---- MicroPython's print() -----------------------------------------------------------------------------

inline std::string repr(std::string_view s) {  // str: 'text'
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

inline std::string repr(const socket::Buffer& b) {  // bytes: b'GET / HTTP/1.0\r\n'
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "b'";
  for (std::byte x : b) {
    const auto c = static_cast<unsigned char>(x);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += char(c);
        } else {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        }
    }
  }
  return out + "'";
}

inline std::string repr(const socket::SockAddr& a) {  // ('192.0.2.1', 80)
  return "(" + repr(a.host()) + ", " + std::to_string(a.port()) + ")";
}

inline std::string repr(const socket::AddrInfo& ai) {  // (2, 1, 6, '', ('192.0.2.1', 80))
  return "(" + std::to_string(ai.family) + ", " + std::to_string(ai.type) + ", " + std::to_string(ai.proto) + ", " +
         repr(ai.canonname) + ", " + repr(ai.sockaddr) + ")";
}

inline std::string repr(const std::vector<socket::AddrInfo>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + repr(v[i]);
  return out + "]";
}

inline std::string repr(const socket::socket& s) { return "<socket fileno=" + std::to_string(s.fileno()) + ">"; }

inline std::string repr(const std::optional<socket::Buffer>& b) { return b ? repr(*b) : "None"; }

// print(a, b, ...): space-separated, newline, flushed (the examples' output is read through pipes).
inline void print() {
  std::fputs("\n", stdout);
  std::fflush(stdout);
}
template <class... T>
void print(std::string_view first, const T&... rest) {
  std::string line{first};
  ((line += " " + repr(rest)), ...);
  line += "\n";
  std::fputs(line.c_str(), stdout);
  std::fflush(stdout);
}
inline void print(const socket::Buffer& b) { print(std::string_view{repr(b)}); }
inline void print(const std::optional<socket::Buffer>& b) { print(std::string_view{repr(b)}); }

// A program's entry with MicroPython's behaviour on an uncaught OSError: the message, and a non-zero exit.
template <class F>
int run_example(int argc, char** argv, F&& body) {
  try {
    ExampleNet net{argc, argv};
    body(argc, argv);
    return 0;
  } catch (const socket::OSError& e) {
    std::fprintf(stderr, "OSError: %d (%s)\n", e.errno_value(), e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return 1;
}

}  // namespace tapstack::examples
