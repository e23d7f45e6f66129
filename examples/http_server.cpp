// MicroPython's examples/network/http_server.py in C++ on the tapstack socket facade, line for line:
// SO_REUSEADDR, bind, listen(5), accept, makefile("rwb"), readline() until an empty line, a reply, a counter.
//
//   http_server [--optimize] [--port N]      (port 8080 as the original; --optimize: micropython_optimize)
//   network: --tap tap0 --ip4 192.0.2.2/24 [--gw4 ADDR], or TAPSTACK_* variables. Runs until killed.
//
// The MicroPython original (examples/network/http_server.py), for comparison (in a block comment, since
// its first line ends with a backslash):
/*
   CONTENT = b"""\
   HTTP/1.0 200 OK

   Hello #%d from MicroPython!
   """

   def main(micropython_optimize=False):
       s = socket.socket()

       # Binding to all interfaces - server will be accessible to other hosts!
       ai = socket.getaddrinfo("0.0.0.0", 8080)
       print("Bind address info:", ai)
       addr = ai[0][-1]

       s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
       s.bind(addr)
       s.listen(5)
       print("Listening, connect your browser to http://<this_host>:8080/")

       counter = 0
       while True:
           res = s.accept()
           client_sock = res[0]
           client_addr = res[1]
           print("Client address:", client_addr)
           print("Client socket:", client_sock)

           if not micropython_optimize:
               # To read line-oriented protocol (like HTTP) from a socket (and
               # avoid short read problem), it must be wrapped in a stream (aka
               # file-like) object. That's how you do it in CPython:
               client_stream = client_sock.makefile("rwb")
           else:
               # .. but MicroPython socket objects support stream interface
               # directly, so calling .makefile() method is not required. ...
               client_stream = client_sock

           print("Request:")
           req = client_stream.readline()
           print(req)
           while True:
               h = client_stream.readline()
               if h == b"" or h == b"\r\n":
                   break
               print(h)
           client_stream.write(CONTENT % counter)

           client_stream.close()
           if not micropython_optimize:
               client_sock.close()
           counter += 1
           print()

   main()
*/
#include <string>
#include <string_view>
#include <variant>

#include "example_net.hpp"

using namespace tapstack::socket;
using tapstack::examples::print;

namespace {

std::string content(int counter) {  // CONTENT % counter
  return "HTTP/1.0 200 OK\n\nHello #" + std::to_string(counter) + " from MicroPython!\n";
}

// MicroPython's client_stream is either the file from makefile() or the socket itself: both have readline(),
// write() and close().
template <class Stream>
void serve_request(Stream& client_stream, int counter) {
  print("Request:");
  std::optional<Buffer> req = client_stream.readline();
  print(req);
  while (true) {
    std::optional<Buffer> h = client_stream.readline();
    if (!h || h->empty() || *h == to_buffer("\r\n")) break;
    print(h);
  }
  client_stream.write(content(counter));

  client_stream.close();
}

void main_(bool micropython_optimize = false, int port = 8080) {
  socket s;

  // Binding to all interfaces - server will be accessible to other hosts!
  std::vector<AddrInfo> ai = getaddrinfo("0.0.0.0", port);
  print("Bind address info:", ai);
  const SockAddr addr = ai[0].sockaddr;

  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(addr);
  s.listen(5);
  print("Listening, connect your browser to http://<this_host>:" + std::to_string(port) + "/");

  int counter = 0;
  while (true) {
    auto res = s.accept();
    socket client_sock = std::move(res.first);
    const SockAddr client_addr = res.second;
    print("Client address:", client_addr);
    print("Client socket:", client_sock);

    if (!micropython_optimize) {
      // To read a line-oriented protocol (like HTTP) from a socket (and avoid the short read problem), CPython
      // wraps it in a stream (file-like) object:
      SocketFile client_stream = client_sock.makefile("rwb");
      serve_request(client_stream, counter);
      client_sock.close();
    } else {
      // .. but the facade's sockets have the stream interface directly, so makefile() is not required.
      serve_request(client_sock, counter);
    }
    counter += 1;
    print();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return tapstack::examples::run_example(argc, argv, [](int n, char** args) {
    bool optimize = false;
    int port = 8080;
    for (int i = 1; i < n; ++i) {
      const std::string_view a = args[i];
      if (a == "--optimize") optimize = true;
      if (a == "--port" && i + 1 < n) port = std::stoi(args[++i]);
    }
    main_(optimize, port);
  });
}
