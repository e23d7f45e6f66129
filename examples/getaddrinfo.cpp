// Prints socket.getaddrinfo() for each name on the command line, as MicroPython would print the list (the
// canonical name asked for with AI_CANONNAME), or the OSError with its negative number. Not one of
// MicroPython's examples: the smallest program that shows the resolver driver at work.
//
//   getaddrinfo NAME... [--port N]      network: --tap, --ip4, --gw4, --dns ADDR, --hosts FILE (or TAPSTACK_*)
//
// In MicroPython:
//   for name in names:
//       try:
//           print(name, socket.getaddrinfo(name, 80, 0, 0, 0, AI_CANONNAME))
//       except OSError as e:
//           print(name, "OSError:", e.args[0])
#include <string>
#include <string_view>
#include <vector>

#include "example_net.hpp"

using namespace tapstack::socket;
using tapstack::examples::print;

int main(int argc, char** argv) {
  return tapstack::examples::run_example(argc, argv, [](int n, char** args) {
    int port = 80;
    std::vector<std::string_view> names;
    for (int i = 1; i < n; ++i) {
      if (std::string_view{args[i]} == "--port" && i + 1 < n) {
        port = std::stoi(args[++i]);
      } else {
        names.emplace_back(args[i]);
      }
    }
    for (std::string_view name : names) {
      try {
        print(std::string{name}, getaddrinfo(name, port, 0, 0, 0, AI_CANONNAME));
      } catch (const OSError& e) {
        print(std::string{name} + " OSError: " + std::to_string(e.errno_value()));
      }
    }
  });
}
