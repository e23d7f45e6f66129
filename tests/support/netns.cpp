// Network-namespace test support: unshare(CLONE_NEWNET) + `ip link set lo up`, a capget(2) check, popen.
#include "netns.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace tapstack::test {

std::optional<std::string> enter_private_netns() {
  static std::once_flag once;
  static std::optional<std::string> result;
  std::call_once(once, [] {
    if (::unshare(CLONE_NEWNET) != 0) {
      const int err = errno;
      result = std::string{"unshare(CLONE_NEWNET) failed: "} + std::strerror(err) +
               (err == EPERM ? " (needs CAP_SYS_ADMIN / root)" : "");
      return;
    }
    const RunResult up = run("ip link set lo up");
    if (!up.ok())
      result =
          "`ip link set lo up` in the new namespace failed (status " + std::to_string(up.status) + "): " + up.output;
  });
  return result;
}

bool has_net_admin() {
  // capget(2) directly: no libcap dependency for one bit.
  __user_cap_header_struct hdr{};
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &hdr, data) != 0) return false;
  const unsigned bit = CAP_NET_ADMIN;
  return (data[bit / 32].effective & (1u << (bit % 32))) != 0;
}

bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

void require_net_admin() {
  if (has_net_admin()) return;
  if (in_ci()) {
    FAIL() << "CAP_NET_ADMIN is required and CI=true, so this is a failure, not a skip: run the tap suite "
              "as root or with CAP_NET_ADMIN";
  }
  GTEST_SKIP() << "needs CAP_NET_ADMIN (run as root, e.g. `sudo meson test -C <builddir> --suite tap`); "
                  "skipped because CI is not \"true\"";
}

RunResult run(const std::string& cmd, std::chrono::seconds timeout) {
  RunResult r;
  std::string quoted = "'";
  for (char c : cmd) quoted += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  quoted += "'";
  const std::string full = "exec 2>&1; timeout -k 2 " + std::to_string(timeout.count()) + " /bin/sh -c " + quoted;
  FILE* p = ::popen(full.c_str(), "r");
  if (p == nullptr) {
    r.output = std::string{"popen failed: "} + std::strerror(errno);
    return r;
  }
  constexpr std::size_t kMaxOutput = 1 << 20;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    if (r.output.size() < kMaxOutput) r.output.append(buf, std::min(n, kMaxOutput - r.output.size()));
  }
  const int st = ::pclose(p);
  if (st != -1 && WIFEXITED(st)) r.status = WEXITSTATUS(st);
  return r;
}

}  // namespace tapstack::test
