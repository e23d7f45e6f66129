// Small bounded tables of entries that expire (path MTUs, redirects, DNS servers): each entry has an `expires`
// member, the owner drops expired ones in its poll().
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

namespace tapstack::ip {

// Replaces the entry `same` finds with `e`, or adds `e`, first dropping the entry that expires soonest when the
// table holds `max` already. Returns false (keeping nothing) only when max is 0. The caller reserves capacity
// for `max` entries, so that adding never allocates.
template <class Entry, class Same>
bool put_expiring(std::vector<Entry>& table, std::size_t max, const Entry& e, Same same) noexcept {
  if (const auto it = std::find_if(table.begin(), table.end(), same); it != table.end()) {
    *it = e;
    return true;
  }
  if (max == 0) return false;
  if (table.size() >= max) {
    table.erase(std::min_element(table.begin(), table.end(),
                                 [](const Entry& a, const Entry& b) { return a.expires < b.expires; }));
  }
  table.push_back(e);  // within the reserved capacity
  return true;
}

}  // namespace tapstack::ip
