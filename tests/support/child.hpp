// Child: a program the test starts (fork + execvp) whose stdout and stderr it reads, with every wait bounded,
// and which it ends by its own PID only (SIGTERM, then SIGKILL in the destructor if it is still running).
// The e2e tests run the `tapstack` command and the examples through it.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tapstack::test {

// The `tapstack` command under test: env TAPSTACK_BIN (meson sets it), else `tapstack` from PATH.
std::string tapstack_bin();

class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);  // argv[0]: a path, or a name looked up in PATH
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Reads output until `needle` appears (true) or the deadline passes or the output ends (false).
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits (bounded) for the exit, reading output meanwhile; the exit status, or -1 (killed by a signal, or
  // still running when the timeout passed).
  int wait_exit(std::chrono::milliseconds timeout);
  // Sends SIGTERM and waits (bounded) for the exit; the exit status, or -1.
  int terminate(std::chrono::milliseconds timeout = std::chrono::milliseconds{5000});
  const std::string& output() const { return output_; }

 private:
  bool read_some(std::chrono::milliseconds timeout);  // false on timeout or end of output

  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool reaped_ = false;
  std::string output_;
};

// The value of a counter as `tapstack ... -v` prints it ("  tap.tx_gso_writes 123" on a line of its own);
// nullopt when it is not printed (the command prints only counters that are not zero).
inline std::optional<std::uint64_t> printed_counter(const std::string& output, const std::string& name) {
  const std::string key = "  " + name + " ";
  for (std::size_t at = output.find(key); at != std::string::npos; at = output.find(key, at + 1)) {
    if (at != 0 && output[at - 1] != '\n') continue;
    return std::stoull(output.substr(at + key.size()));
  }
  return std::nullopt;
}

}  // namespace tapstack::test
