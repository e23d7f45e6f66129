// A non-blocking HTTP client driven by select.poll, in C++ on the tapstack socket facade: MicroPython's
// examples/network/https_client_nonblocking.py line for line, without the TLS layer (plain http://), and reading
// until EOF where the original reads one 1000-byte chunk (an HTTP/1.0 reply may take several).
//
//   http_client_poll [URL]      (default URL: http://www.example.test/; "host:port" is accepted)
//   network: --tap tap0 --ip4 192.0.2.2/24 [--gw4 ADDR] [--dns ADDR] [--hosts FILE], or TAPSTACK_* variables
//
// The MicroPython original (examples/network/https_client_nonblocking.py), for comparison:
//
//   from errno import EINPROGRESS
//   import select
//   import socket
//   import ssl
//
//   def connect_nonblocking(sock, addr):
//       sock.setblocking(False)
//       try:
//           sock.connect(addr)
//       except OSError as er:
//           if er.errno != EINPROGRESS:
//               raise er
//
//   def write_nonblocking(poller, sock, data):
//       poller.register(sock, select.POLLOUT)
//       while data:
//           poller.poll()
//           n = sock.write(data)
//           print("Wrote:", n)
//           if n is not None:
//               data = data[n:]
//
//   def read_nonblocking(poller, sock, n):
//       poller.register(sock, select.POLLIN)
//       poller.poll()
//       data = sock.read(n)
//       print("Read:", len(data))
//       return data
//
//   def main(url, addr_family=0):
//       # Split the given URL into components.
//       proto, _, host, path = url.split(b"/", 3)
//       assert proto == b"https:"
//
//       # Note: this getaddrinfo() call is blocking!
//       ai = socket.getaddrinfo(host, 443, addr_family, socket.SOCK_STREAM)[0]
//       addr = ai[-1]
//       print("Connect address:", addr)
//
//       # Create a TCP socket and connect to the server in non-blocking mode.
//       sock = socket.socket(ai[0], ai[1], ai[2])
//       connect_nonblocking(sock, addr)
//
//       # Wrap the TCP socket in an SSL stream in non-blocking mode.
//       ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
//       sock = ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
//       sock.setblocking(False)
//
//       # Create an object to poll the SSL stream for readability/writability.
//       poller = select.poll()
//
//       # Send the HTTP request on the SSL stream.
//       request = b"GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)
//       write_nonblocking(poller, sock, request)
//
//       # Receive the HTTP response from the SSL stream.
//       response = read_nonblocking(poller, sock, 1000)
//       for line in response.split(b"\n"):
//           print(line)
//
//       # Close the SSL stream.  This will also close the underlying TCP socket.
//       sock.close()
//
//   main(b"https://micropython.org/ks/test.html")
#include <cerrno>
#include <string>
#include <string_view>

#include "example_net.hpp"

using namespace tapstack::socket;
using tapstack::examples::print;

namespace {

void connect_nonblocking(socket& sock, const SockAddr& addr) {
  sock.setblocking(false);
  try {
    sock.connect(addr);
  } catch (const OSError& er) {
    if (er.errno_value() != EINPROGRESS) throw;
  }
}

void write_nonblocking(poll& poller, socket& sock, tapstack::Bytes data) {
  poller.register_(sock, POLLOUT);
  while (!data.empty()) {
    poller.poll_();
    const std::optional<std::size_t> n = sock.write(data);
    print("Wrote: " + (n ? std::to_string(*n) : std::string{"None"}));
    if (n) data = data.subspan(*n);
  }
}

Buffer read_nonblocking(poll& poller, socket& sock, std::size_t n) {
  poller.register_(sock, POLLIN);
  poller.poll_();
  const Buffer data = sock.read(n).value_or(Buffer{});  // None (nothing yet) reads as no bytes
  print("Read: " + std::to_string(data.size()));
  return data;
}

void main_(std::string_view url, int addr_family = 0) {
  // Split the given URL into components: url.split("/", 3), plus an optional ":port" after the host.
  std::string_view rest = url;
  std::string_view parts[3];
  for (auto& p : parts) {
    const std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos) throw std::invalid_argument("not a URL: expected http://host/path");
    p = rest.substr(0, slash);
    rest.remove_prefix(slash + 1);
  }
  if (parts[0] != "http:") throw std::invalid_argument("only http:// URLs");  // assert proto == b"http:"
  std::string host{parts[2]};
  const std::string path{rest};
  int port = 80;
  if (const std::size_t colon = host.rfind(':'); colon != std::string::npos) {
    port = std::stoi(host.substr(colon + 1));
    host.resize(colon);
  }

  // Note: this getaddrinfo() call is blocking!
  const AddrInfo ai = getaddrinfo(host, port, addr_family, SOCK_STREAM)[0];
  const SockAddr addr = ai.sockaddr;
  print("Connect address:", addr);

  // Create a TCP socket and connect to the server in non-blocking mode.
  socket sock{ai.family, ai.type, ai.proto};
  connect_nonblocking(sock, addr);

  // Create an object to poll the socket for readability/writability.
  poll poller;

  // Send the HTTP request.
  const std::string request = "GET /" + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  write_nonblocking(poller, sock, tapstack::as_bytes(request));

  // Receive the HTTP response, chunk by chunk until EOF.
  Buffer response;
  for (Buffer chunk; !(chunk = read_nonblocking(poller, sock, 1000)).empty();)
    response.insert(response.end(), chunk.begin(), chunk.end());
  std::size_t start = 0;
  for (std::size_t i = 0; i <= response.size(); ++i) {  // for line in response.split(b"\n")
    if (i == response.size() || response[i] == std::byte{'\n'}) {
      print(Buffer(response.begin() + long(start), response.begin() + long(i)));
      start = i + 1;
    }
  }

  // Close the socket.
  sock.close();
}

}  // namespace

int main(int argc, char** argv) {
  return tapstack::examples::run_example(argc, argv, [](int n, char** args) {
    main_(n > 1 ? std::string_view{args[1]} : std::string_view{"http://www.example.test/"});
  });
}
