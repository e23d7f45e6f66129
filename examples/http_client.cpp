// MicroPython's examples/network/http_client.py in C++ on the tapstack socket facade, line for line: getaddrinfo,
// socket(family, type, proto), connect, then send/recv, or (--stream) makefile + write + read to EOF.
//
//   http_client [--stream] [URL]      (default URL: http://www.example.test/; "host:port" is accepted)
//   network: --tap tap0 --ip4 192.0.2.2/24 [--gw4 ADDR] [--dns ADDR] [--hosts FILE], or TAPSTACK_* variables
//
// The MicroPython original (examples/network/http_client.py), for comparison:
//
//   import socket
//
//   def main(url, addr_family=0, use_stream=False):
//       # Split the given URL into components.
//       proto, _, host, path = url.split(b"/", 3)
//       assert proto == b"http:"
//
//       # Lookup the server address, for the given family and socket type.
//       ai = socket.getaddrinfo(host, 80, addr_family, socket.SOCK_STREAM)
//       print("Address infos:", ai)
//
//       # Select the first address.
//       ai = ai[0]
//
//       # Create a socket with the server's family, type and proto.
//       s = socket.socket(ai[0], ai[1], ai[2])
//
//       # Connect to the server.
//       addr = ai[-1]
//       print("Connect address:", addr)
//       s.connect(addr)
//
//       # Send request and read response.
//       request = b"GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)
//       if use_stream:
//           # MicroPython socket objects support stream (aka file) interface
//           # directly, but the line below is needed for CPython.
//           s = s.makefile("rwb", 0)
//           s.write(request)
//           print(s.read())
//       else:
//           s.send(request)
//           print(s.recv(4096))
//
//       # Close the socket.
//       s.close()
//
//   main(b"http://www.google.com/")
#include <stdexcept>
#include <string>
#include <string_view>

#include "example_net.hpp"

using namespace tapstack::socket;
using tapstack::examples::print;

namespace {

// url.split("/", 3), plus an optional ":port" after the host (the original always uses 80).
struct Url {
  std::string proto, host, path;
  int port = 80;
};
Url split_url(std::string_view url) {
  Url u;
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const std::size_t slash = url.find('/');
    if (slash == std::string_view::npos) throw std::invalid_argument("not a URL: expected http://host/path");
    parts[i] = url.substr(0, slash);
    url.remove_prefix(slash + 1);
  }
  parts[3] = url;
  u.proto = parts[0];
  u.host = parts[2];
  u.path = parts[3];
  if (const std::size_t colon = u.host.rfind(':');
      colon != std::string::npos && u.host.find(']') == std::string::npos) {
    u.port = std::stoi(u.host.substr(colon + 1));
    u.host.resize(colon);
  }
  return u;
}

void main_(std::string_view url, int addr_family = 0, bool use_stream = false) {
  // Split the given URL into components.
  const Url u = split_url(url);
  if (u.proto != "http:") throw std::invalid_argument("only http:// URLs");  // assert proto == b"http:"

  // Lookup the server address, for the given family and socket type.
  std::vector<AddrInfo> ais = getaddrinfo(u.host, u.port, addr_family, SOCK_STREAM);
  print("Address infos:", ais);

  // Select the first address.
  const AddrInfo ai = ais[0];

  // Create a socket with the server's family, type and proto.
  socket s{ai.family, ai.type, ai.proto};

  // Connect to the server.
  const SockAddr addr = ai.sockaddr;
  print("Connect address:", addr);
  s.connect(addr);

  // Send request and read response.
  const std::string request = "GET /" + u.path + " HTTP/1.0\r\nHost: " + u.host + "\r\n\r\n";
  if (use_stream) {
    // The facade's sockets have the stream interface directly too; makefile() is the CPython way.
    SocketFile f = s.makefile("rwb", 0);
    f.write(request);
    print(f.read());
    f.close();
  } else {
    s.send(request);
    print(s.recv(4096));
  }

  // Close the socket.
  s.close();
}

}  // namespace

int main(int argc, char** argv) {
  return tapstack::examples::run_example(argc, argv, [](int n, char** args) {
    bool use_stream = false;
    std::string_view url = "http://www.example.test/";
    for (int i = 1; i < n; ++i) {
      const std::string_view a = args[i];
      if (a == "--stream") {
        use_stream = true;
      } else {
        url = a;
      }
    }
    main_(url, 0, use_stream);
  });
}
