// Child: fork/execvp with stdout+stderr on a pipe; poll(2)-bounded reads; waitpid(WNOHANG) with a deadline.
#include "child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace tapstack::test {

std::string tapstack_bin() {
  const char* p = std::getenv("TAPSTACK_BIN");
  return p ? p : "tapstack";
}

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Child::Child(const std::vector<std::string>& argv) {
  int fds[2];
  if (argv.empty() || pipe2(fds, O_CLOEXEC) != 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid_ < 0) {
    close(fds[0]);
    return;
  }
  out_fd_ = fds[0];
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

bool Child::read_some(milliseconds timeout) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  if (poll(&p, 1, int(timeout.count())) <= 0) return false;
  char buf[4096];
  const ssize_t n = read(out_fd_, buf, sizeof buf);
  if (n <= 0) return false;
  output_.append(buf, std::size_t(n));
  return true;
}

bool Child::wait_for_output(const std::string& needle, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (output_.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !read_some(left)) return output_.find(needle) != std::string::npos;
  }
  return true;
}

int Child::wait_exit(milliseconds timeout) {
  if (pid_ <= 0 || reaped_) return -1;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (Clock::now() < deadline) {
    read_some(milliseconds{50});
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      while (read_some(milliseconds{100})) {
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
  }
  return -1;
}

int Child::terminate(milliseconds timeout) {
  if (pid_ <= 0 || reaped_) return -1;
  kill(pid_, SIGTERM);
  return wait_exit(timeout);
}

}  // namespace tapstack::test
