// HostsTable: static entries consulted by the resolver ahead of its cache and the network.
#include "dns/hosts.hpp"

#include <algorithm>

namespace tapstack::dns {

bool HostsTable::add(std::string_view name, const ip::IpAddress& address) {
  const auto n = Name::from_text(name);
  if (!n || n->is_root()) return false;
  add(*n, address);
  return true;
}

void HostsTable::add(const Name& name, const ip::IpAddress& address) {
  auto [it, inserted] = entries_.try_emplace(name);
  if (inserted) it->second.canonical_name = name;
  auto& v = it->second.addresses;
  if (std::find(v.begin(), v.end(), address) == v.end()) v.push_back(address);
}

bool HostsTable::remove(const Name& name) noexcept { return entries_.erase(name) != 0; }

std::size_t HostsTable::load(std::string_view text) {
  std::size_t added = 0;
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    std::vector<std::string_view> tokens;
    while (!line.empty()) {
      std::size_t i = 0;
      while (i < line.size() && is_space(line[i])) ++i;
      std::size_t j = i;
      while (j < line.size() && !is_space(line[j])) ++j;
      if (j > i) tokens.push_back(line.substr(i, j - i));
      line.remove_prefix(j);
    }
    if (tokens.size() < 2) continue;
    const auto address = ip::IpAddress::parse(tokens[0]);
    if (!address) continue;
    for (std::size_t k = 1; k < tokens.size(); ++k) {
      if (add(tokens[k], *address)) ++added;
    }
  }
  return added;
}

std::optional<HostsTable::Entry> HostsTable::lookup(const Name& name, Type type) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  Entry e{it->second.canonical_name, {}};
  for (const auto& a : it->second.addresses) {
    if ((type == Type::kA && a.is_v4()) || (type == Type::kAaaa && a.is_v6())) e.addresses.push_back(a);
  }
  return e;
}

}  // namespace tapstack::dns
