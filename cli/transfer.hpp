// `tapstack send` and `tapstack recv`: one TCP transfer through the stack (bulk sender of the cli/pattern.hpp
// stream, or a sink that hashes what it reads), with a throughput line at the end. Run by main.cpp on a Node.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "cli/node.hpp"

namespace tapstack::cli {

// Exit statuses shared by the subcommands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // refused, reset, timed out, wrong byte count
inline constexpr int kExitUsage = 2;   // a bad option or a setup failure (main prints the message)
inline constexpr int kExitInterrupted = 130;

struct SendOptions {
  std::string host;
  std::uint16_t port = 0;
  std::uint64_t bytes = 0;
  std::optional<std::uint64_t> abort_after;  // send this many bytes, wait for their ACK, then RST
  double timeout_s = 0;                      // the whole run, 0: none
};

struct RecvOptions {
  std::uint16_t port = 0;
  std::optional<std::uint64_t> bytes;  // fail unless exactly this many bytes arrive
  double timeout_s = 0;
};

// Both print errors to stderr and the result line to stdout, and return an exit status (kExit*).
int run_send(const NodeOptions& common, const SendOptions& so);
int run_recv(const NodeOptions& common, const RecvOptions& ro);

}  // namespace tapstack::cli
