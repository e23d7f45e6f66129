// Test support for the `tap` suites: a private network namespace per test process, a CAP_NET_ADMIN gate
// that skips locally and fails in CI, and a shell runner for `ip ...` set-up commands.
// Addresses used with these helpers: 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32, fe80::/10, loopback only.
#pragma once
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

namespace tapstack::test {

// Moves this process into a new, private network namespace (unshare(CLONE_NEWNET)) and brings `lo` up.
// Done once per process; later calls return the first call's result. Call it before any thread starts
// (at the start of main or of the first test): threads created afterwards inherit the namespace, threads
// that already exist keep the old one. Returns nullopt on success, else a description of the failure.
std::optional<std::string> enter_private_netns();

// True when this process has CAP_NET_ADMIN in its effective set.
bool has_net_admin();

// Without CAP_NET_ADMIN: FAIL() when env CI == "true" (a CI run must not silently skip), else GTEST_SKIP()
// with a message. In a fixture's SetUp() a bare call is enough (gtest does not run the body after a fatal
// failure or a skip); in a test body use TAPSTACK_REQUIRE_NET_ADMIN(), which also returns from the body.
void require_net_admin();
#define TAPSTACK_REQUIRE_NET_ADMIN()                                                \
  do {                                                                              \
    ::tapstack::test::require_net_admin();                                          \
    if (::testing::Test::HasFatalFailure() || ::testing::Test::IsSkipped()) return; \
  } while (0)

// env CI == "true".
bool in_ci();

// A fixture base for the `tap` suites: the test process enters its private network namespace once, before the
// suite's first test (only with CAP_NET_ADMIN; without it SetUp's TAPSTACK_REQUIRE_NET_ADMIN fails or skips).
class PrivateNetnsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (has_net_admin()) {
      if (auto err = enter_private_netns()) FAIL() << *err;
    }
  }
};

struct RunResult {
  int status = -1;     // exit status of the shell (127: not found, -1: could not start or killed)
  std::string output;  // stdout and stderr, interleaved
  bool ok() const noexcept { return status == 0; }
};
// Runs `cmd` with /bin/sh -c under coreutils `timeout` (status 124 when it ran out of time), capturing its
// output (at most 1 MiB is kept). For set-up commands such as `ip addr add 192.0.2.1/24 dev tap0` and for
// reading a capture back with `tcpdump -nn -r FILE`.
RunResult run(const std::string& cmd, std::chrono::seconds timeout = std::chrono::seconds{20});

}  // namespace tapstack::test
