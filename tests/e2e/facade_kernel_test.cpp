// End to end for the socket facade's programs over a real TAP device, in a private network namespace, with the
// Linux kernel's side running real servers: dnsmasq (DNS, with a CNAME) and `python3 -m http.server`. The
// examples/ programs (MicroPython's examples/network, in C++) resolve names through the stack's resolver and
// fetch pages; the kernel's curl talks to the example HTTP servers; `tapstack resolve` / `tapstack get` when the
// CLI has them. Kernel 192.0.2.1/24 and 2001:db8::1/64 on tap0, stack 192.0.2.2/24 (RFC 5737) and, with --ip6,
// 2001:db8::2/64. Children are ended by PID.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "child.hpp"
#include "netns.hpp"

namespace {

using namespace std::chrono_literals;
using tapstack::test::run;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}
std::string example(const std::string& name) { return env_or("TAPSTACK_EXAMPLES_DIR", "examples") + "/" + name; }
using tapstack::test::tapstack_bin;

using tapstack::test::Child;

// Runs a program to its end (bounded); its exit status and output.
struct Ran {
  int status;
  std::string output;
};
Ran run_program(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = 30000ms) {
  Child c{argv};
  const int st = c.wait_exit(timeout);
  return {st, c.output()};
}

const std::string kPage = "hello from the kernel's http.server\n";
const std::vector<std::string> kNet = {"--tap", "tap0", "--ip4", "192.0.2.2/24", "--dns", "192.0.2.1"};

std::vector<std::string> with_net(std::vector<std::string> argv) {
  argv.insert(argv.begin() + 1, kNet.begin(), kNet.end());
  return argv;
}

class FacadeKernel : public tapstack::test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    TAPSTACK_REQUIRE_NET_ADMIN();
    ASSERT_TRUE(run("command -v dnsmasq").ok()) << "dnsmasq is not installed (scripts/setup installs it)";
    ASSERT_TRUE(
        run("ip tuntap add dev tap0 mode tap && ip link set tap0 up && ip addr add 192.0.2.1/24 dev tap0").ok());
    // IPv6 too (RFC 3849), without DAD so that dnsmasq can bind it at once.
    ASSERT_TRUE(run("ip -6 addr add 2001:db8::1/64 dev tap0 nodad").ok());
    dir_ = std::filesystem::temp_directory_path() / ("tapstack-facade-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream{dir_ / "hosts"} << "192.0.2.1 www.example.test\n";
    std::ofstream{dir_ / "index.html"} << kPage;

    dnsmasq_ = std::make_unique<Child>(std::vector<std::string>{
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--addn-hosts=" + (dir_ / "hosts").string(), "--listen-address=192.0.2.1", "--listen-address=2001:db8::1", "--bind-interfaces",
        "--port=53", "--local=/example.test/", "--cname=alias.example.test,www.example.test",
        "--host-record=www6.example.test,2001:db8::1", "--log-queries"});
    ASSERT_TRUE(dnsmasq_->wait_for_output("read " + (dir_ / "hosts").string(), 5000ms)) << dnsmasq_->output();
    http_ = std::make_unique<Child>(std::vector<std::string>{"python3", "-m", "http.server", "--bind", "192.0.2.1",
                                                             "8000", "--directory", dir_.string()});
    // Ready once the kernel accepts connections on it.
    ASSERT_TRUE(run("for i in $(seq 50); do curl -s -o /dev/null -m 1 http://192.0.2.1:8000/ && exit 0; sleep 0.1; "
                    "done; exit 1",
                    10s)
                    .ok());
  }
  void TearDown() override {
    http_.reset();  // SIGKILL by PID
    dnsmasq_.reset();
    run("ip link del tap0");
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Child> dnsmasq_, http_;
};

TEST_F(FacadeKernel, Getaddrinfo_NameCnameAndNxdomainFromDnsmasq) {
  const Ran r =
      run_program(with_net({example("getaddrinfo"), "www.example.test", "alias.example.test", "nope.example.test"}));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("www.example.test [(2, 1, 6, 'www.example.test', ('192.0.2.1', 80)), "
                          "(2, 2, 17, '', ('192.0.2.1', 80))]\n"),
            std::string::npos)
      << r.output;
  // The CNAME is followed; the canonical name is where it led.
  EXPECT_NE(r.output.find("alias.example.test [(2, 1, 6, 'www.example.test', ('192.0.2.1', 80)), "
                          "(2, 2, 17, '', ('192.0.2.1', 80))]\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("nope.example.test OSError: -2\n"), std::string::npos) << r.output;
  // dnsmasq saw our queries, from the stack's address.
  dnsmasq_->wait_for_output("query[A] nope.example.test from 192.0.2.2", 2000ms);
  EXPECT_NE(dnsmasq_->output().find("query[A] alias.example.test from 192.0.2.2"), std::string::npos)
      << dnsmasq_->output();
}

TEST_F(FacadeKernel, HttpClient_FetchesAPageByNameFromPythonHttpServer) {
  // The makefile variant reads to EOF: the whole reply.
  const Ran s =
      run_program(with_net({example("http_client"), "--stream", "http://alias.example.test:8000/index.html"}));
  EXPECT_EQ(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("Address infos: [(2, 1, 6, '', ('192.0.2.1', 8000))]\n"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("Connect address: ('192.0.2.1', 8000)\n"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("b'HTTP/1.0 200 OK\\r\\n"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("Content-Length: 36\\r\\n"), std::string::npos) << s.output;
  EXPECT_NE(s.output.find("\\r\\n\\r\\nhello from the kernel\\'s http.server\\n'\n"), std::string::npos) << s.output;

  // send/recv(4096): at least the status line (as in MicroPython, one recv is one segment's worth).
  const Ran r = run_program(with_net({example("http_client"), "http://www.example.test:8000/index.html"}));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("b'HTTP/1.0 200 OK\\r\\n"), std::string::npos) << r.output;
}

TEST_F(FacadeKernel, HttpClientPoll_NonBlockingFetch) {
  const Ran r = run_program(with_net({example("http_client_poll"), "http://www.example.test:8000/index.html"}));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Connect address: ('192.0.2.1', 8000)\n"), std::string::npos) << r.output;
  // The request: "GET /index.html HTTP/1.0\r\nHost: www.example.test\r\n\r\n".
  EXPECT_NE(r.output.find("Wrote: 52\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("b'HTTP/1.0 200 OK\\r'\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("b'hello from the kernel\\'s http.server'\nb''\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Read: 0\n"), std::string::npos) << r.output;  // EOF ends the loop
}

TEST_F(FacadeKernel, KernelCurl_TalksToTheHttpServerExample) {
  for (const bool optimize : {false, true}) {
    SCOPED_TRACE(optimize ? "micropython_optimize" : "makefile");
    run("ip neigh flush dev tap0");
    std::vector<std::string> argv = with_net({example("http_server")});
    if (optimize) argv.push_back("--optimize");
    Child server{argv};
    ASSERT_TRUE(server.wait_for_output("Listening, connect your browser to http://<this_host>:8080/", 5000ms))
        << server.output();
    const auto first = run("curl -s -m 5 http://192.0.2.2:8080/");
    EXPECT_TRUE(first.ok()) << first.output;
    EXPECT_EQ(first.output, "Hello #0 from MicroPython!\n");
    const auto second = run("curl -s -m 5 -H 'X-Test: yes' http://192.0.2.2:8080/second");
    EXPECT_TRUE(second.ok()) << second.output;
    EXPECT_EQ(second.output, "Hello #1 from MicroPython!\n");
    server.wait_for_output("b'X-Test: yes\\r\\n'", 2000ms);
    server.terminate();
    const std::string& out = server.output();
    EXPECT_NE(out.find("Bind address info: [(2, 1, 6, '', ('0.0.0.0', 8080)), (2, 2, 17, '', ('0.0.0.0', 8080))]"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("Client address: ('192.0.2.1', "), std::string::npos) << out;
    EXPECT_NE(out.find("Request:\nb'GET / HTTP/1.1\\r\\n'\nb'Host: 192.0.2.2:8080\\r\\n'\n"), std::string::npos) << out;
    EXPECT_NE(out.find("b'GET /second HTTP/1.1\\r\\n'"), std::string::npos) << out;
    EXPECT_NE(out.find("b'X-Test: yes\\r\\n'"), std::string::npos) << out;
  }
}

TEST_F(FacadeKernel, KernelCurl_TalksToTheSimplisticServer) {
  Child server{with_net({example("http_server_simplistic")})};
  ASSERT_TRUE(server.wait_for_output("Listening", 5000ms)) << server.output();
  const auto r = run("curl -s -m 5 http://192.0.2.2:8080/");
  EXPECT_TRUE(r.ok()) << r.output;
  EXPECT_EQ(r.output, "Hello #0 from MicroPython!\n");
  server.wait_for_output("Request:\nb'GET / HTTP/1.1\\r\\n", 2000ms);
  server.terminate();
  EXPECT_NE(server.output().find("Request:\nb'GET / HTTP/1.1\\r\\nHost: 192.0.2.2:8080\\r\\n"), std::string::npos)
      << server.output();
}

TEST_F(FacadeKernel, TapstackResolveAndGet) {
  const Ran alias = run_program({tapstack_bin(), "resolve", "alias.example.test", "--tap", "tap0", "--ip4",
                                 "192.0.2.2/24", "--dns", "192.0.2.1"});
  EXPECT_EQ(alias.status, 0) << alias.output;
  EXPECT_EQ(alias.output, "AF_INET 192.0.2.1\ncanonical name: www.example.test\n");
  const Ran nx = run_program(
      {tapstack_bin(), "resolve", "nope.example.test", "--tap", "tap0", "--ip4", "192.0.2.2/24", "--dns", "192.0.2.1"});
  EXPECT_EQ(nx.status, 1) << nx.output;
  EXPECT_EQ(nx.output, "tapstack resolve: nope.example.test: -2 (Name or service not known)\n");

  const Ran page = run_program({tapstack_bin(), "get", "http://www.example.test:8000/index.html", "--tap", "tap0",
                                "--ip4", "192.0.2.2/24", "--dns", "192.0.2.1"});
  EXPECT_EQ(page.status, 0) << page.output;
  EXPECT_EQ(page.output, kPage);
  const Ran missing = run_program({tapstack_bin(), "get", "http://www.example.test:8000/missing", "--tap", "tap0",
                                   "--ip4", "192.0.2.2/24", "--dns", "192.0.2.1"});
  EXPECT_EQ(missing.status, 22) << missing.output;
}

// `tapstack resolve --ip6`: the facade's runtime gets the IPv6 address, waits for DAD, and asks dnsmasq for the
// AAAA over IPv6 transport (the only server is 2001:db8::1).
TEST_F(FacadeKernel, TapstackResolve_AaaaOverIpv6Transport) {
  const std::vector<std::string> net6 = {"--tap", "tap0", "--ip4", "192.0.2.2/24", "--ip6", "2001:db8::2/64",
                                         "--dns", "2001:db8::1"};
  std::vector<std::string> argv = {tapstack_bin(), "resolve", "www6.example.test", "--family", "6"};
  argv.insert(argv.end(), net6.begin(), net6.end());
  const Ran r = run_program(argv);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "AF_INET6 2001:db8::1\ncanonical name: www6.example.test\n");
  dnsmasq_->wait_for_output("query[AAAA] www6.example.test from 2001:db8::2", 2000ms);
  EXPECT_NE(dnsmasq_->output().find("query[AAAA] www6.example.test from 2001:db8::2"), std::string::npos)
      << dnsmasq_->output();
  EXPECT_EQ(dnsmasq_->output().find("query[A] www6.example.test"), std::string::npos);  // --family 6: AAAA only

  // Any family: A (NODATA) and AAAA; only the AAAA is printed.
  argv = {tapstack_bin(), "resolve", "www6.example.test"};
  argv.insert(argv.end(), net6.begin(), net6.end());
  const Ran any = run_program(argv);
  EXPECT_EQ(any.status, 0) << any.output;
  EXPECT_EQ(any.output, "AF_INET6 2001:db8::1\ncanonical name: www6.example.test\n");
}

}  // namespace
