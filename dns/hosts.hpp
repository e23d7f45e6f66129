// Static name -> address entries (an /etc/hosts equivalent) that the resolver consults before its cache and
// before any DNS traffic. Setup-path code: it allocates, and it is filled before lookups begin.
#pragma once
#include <cstddef>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/message.hpp"
#include "dns/name.hpp"
#include "ip/address.hpp"

namespace tapstack::dns {

class HostsTable {
 public:
  // What lookup() says about a name the table holds: the addresses of the asked family, in the order
  // they were added (empty when the table knows the name only with the other family).
  struct Entry {
    Name canonical_name;  // the name as first added (the table's spelling)
    std::vector<ip::IpAddress> addresses;
  };

  // Adds `address` to `name` (duplicates are ignored). False when `name` is not a valid name (Name::from_text).
  bool add(std::string_view name, const ip::IpAddress& address);
  void add(const Name& name, const ip::IpAddress& address);
  // Removes every address of `name`; false when it was not there.
  bool remove(const Name& name) noexcept;
  void clear() noexcept { entries_.clear(); }
  std::size_t size() const noexcept { return entries_.size(); }  // names held

  // /etc/hosts text (hosts(5)): "address name [aliases...]" per line, '#' starts a comment, blank lines and
  // lines whose address does not parse (a zone suffix "fe80::1%eth0", garbage) are skipped. Returns the
  // number of valid (name, address) pairs read (a duplicate counts, is stored once).
  std::size_t load(std::string_view text);

  // nullopt when the table does not know `name` at all. Otherwise the addresses of the family `type` asks
  // for (A: IPv4, AAAA: IPv6; any other type gets none). Names compare ASCII case-insensitively.
  std::optional<Entry> lookup(const Name& name, Type type) const;

 private:
  struct Stored {
    Name canonical_name;
    std::vector<ip::IpAddress> addresses;
  };
  std::unordered_map<Name, Stored> entries_;
};

}  // namespace tapstack::dns
