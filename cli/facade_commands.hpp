// `tapstack resolve` and `tapstack get`: two subcommands written only on the MicroPython-style socket facade
// (getaddrinfo, socket, connect, sendall, recv), over a threaded socket::Runtime on the TAP device. They are what
// a user program on the facade looks like; main.cpp wires them in with add_facade_commands / run_facade_command.
#pragma once
#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/node.hpp"

namespace tapstack::cli {

struct ResolveOptions {
  std::string name;
  std::vector<std::string> dns;  // servers ("ADDR" or "ADDR:PORT"); empty: TAPSTACK_DNS
  std::string hosts;             // a hosts(5) file consulted first; empty: TAPSTACK_HOSTS
  int family = 0;                // 0 (any), 4 or 6
};

struct GetOptions {
  std::string url;  // http://HOST[:PORT]/PATH
  std::vector<std::string> dns;
  std::string hosts;
  double timeout_s = 10;  // per blocking call (connect, each recv)
};

// Prints one "AF_INET 192.0.2.1" line per address and "canonical name: NAME"; exit 0, or 1 with the negative
// getaddrinfo error on stderr ("tapstack resolve: NAME: -2 (Name or service not known)").
int resolve_command(const NodeOptions& net, const ResolveOptions& o);
// HTTP/1.0 GET (http:// only): the body to stdout; with -v the status line and headers to stderr. Exit 0 for
// HTTP < 400, 22 for HTTP >= 400 (curl --fail's code), 1 for a network or DNS error, 2 for a bad URL.
int get_command(const NodeOptions& net, const GetOptions& o);

// CLI11 wiring: two subcommands and their options, and their dispatch (nullopt when neither was given).
struct FacadeCommands {
  ResolveOptions resolve;
  GetOptions get;
  CLI::App* resolve_cmd = nullptr;
  CLI::App* get_cmd = nullptr;
};
void add_facade_commands(CLI::App& app, FacadeCommands& fc);
std::optional<int> run_facade_command(const NodeOptions& net, const FacadeCommands& fc);

}  // namespace tapstack::cli
