// The MySQL/MariaDB store's URL: "mysql://USER@HOST[:PORT]/DATABASE". The
// password never appears in it: it comes from $BATON_STORE_PASSWORD or the
// [store] password_file, so the URL can be shown and logged as it is.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace baton {

inline constexpr unsigned int kDefaultMySqlPort = 3306;

struct MySqlUrl {
  std::string user;
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  unsigned int port = kDefaultMySqlPort;
  std::string database;

  // "user@host:port/database": how messages name the store.
  std::string Name() const;
};

// `url` with the password of a "scheme://user:password@..." URL masked as
// "****"; any other text as it is.
std::string HidePassword(std::string_view url);

// InvalidInput naming what is wrong. A URL that carries a password is refused,
// and the message shows it with the password masked.
Result<MySqlUrl> ParseMySqlUrl(std::string_view url);

}  // namespace baton
