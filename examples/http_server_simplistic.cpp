// MicroPython's examples/network/http_server_simplistic.py in C++ on the tapstack socket facade, line for line.
// As the original says: do not use this in real projects (one recv() is not one HTTP request; see
// http_server.cpp for readline()).
//
//   http_server_simplistic [--port N]      (port 8080 as the original)
//   network: --tap tap0 --ip4 192.0.2.2/24 [--gw4 ADDR], or TAPSTACK_* variables. Runs until killed.
//
// The MicroPython original (examples/network/http_server_simplistic.py), for comparison (in a block comment, since
// its first line ends with a backslash):
/*
   CONTENT = b"""\
   HTTP/1.0 200 OK

   Hello #%d from MicroPython!
   """

   def main():
       s = socket.socket()
       ai = socket.getaddrinfo("0.0.0.0", 8080)
       addr = ai[0][-1]

       s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

       s.bind(addr)
       s.listen(5)
       print("Listening, connect your browser to http://<this_host>:8080/")

       counter = 0
       while True:
           res = s.accept()
           client_s = res[0]
           req = client_s.recv(4096)
           print("Request:")
           print(req)
           client_s.send(CONTENT % counter)
           client_s.close()
           counter += 1
           print()

   main()
*/
#include <string>
#include <string_view>

#include "example_net.hpp"

using namespace tapstack::socket;
using tapstack::examples::print;

namespace {

std::string content(int counter) {  // CONTENT % counter
  return "HTTP/1.0 200 OK\n\nHello #" + std::to_string(counter) + " from MicroPython!\n";
}

void main_(int port = 8080) {
  socket s;
  std::vector<AddrInfo> ai = getaddrinfo("0.0.0.0", port);
  const SockAddr addr = ai[0].sockaddr;

  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);

  s.bind(addr);
  s.listen(5);
  print("Listening, connect your browser to http://<this_host>:" + std::to_string(port) + "/");

  int counter = 0;
  while (true) {
    auto res = s.accept();
    socket client_s = std::move(res.first);
    Buffer req = client_s.recv(4096);
    print("Request:");
    print(req);
    client_s.send(content(counter));
    client_s.close();
    counter += 1;
    print();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return tapstack::examples::run_example(argc, argv, [](int n, char** args) {
    int port = 8080;
    for (int i = 1; i + 1 < n; ++i) {
      if (std::string_view{args[i]} == "--port") port = std::stoi(args[++i]);
    }
    main_(port);
  });
}
