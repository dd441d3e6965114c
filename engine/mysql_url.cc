#include "engine/mysql_url.h"

#include <charconv>

namespace baton {
namespace {

constexpr std::string_view kScheme = "mysql://";

Status BadUrl(std::string_view url, std::string_view problem) {
  return Status::InvalidInput("store url '" + HidePassword(url) + "': " + std::string(problem) +
                              "; expected mysql://USER@HOST[:PORT]/DATABASE");
}

}  // namespace

std::string HidePassword(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::string_view scheme = url.substr(0, scheme_end + 3);
  const std::string_view rest = url.substr(scheme.size());
  // The user part ends at the first '@'; a password may itself hold '@', '/' or
  // ':', so everything up to the last '@' is masked: too much rather than too little.
  const size_t first_at = rest.find('@');
  if (first_at == std::string_view::npos) return std::string(url);
  const size_t colon = rest.substr(0, first_at).find(':');
  if (colon == std::string_view::npos) return std::string(url);
  return std::string(scheme) + std::string(rest.substr(0, colon)) + ":****" +
         std::string(rest.substr(rest.rfind('@')));
}

std::string MySqlUrl::Name() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return user + "@" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" +
         database;
}

Result<MySqlUrl> ParseMySqlUrl(std::string_view url) {
  if (!url.starts_with(kScheme)) return BadUrl(url, "it does not start with mysql://");
  const std::string shown = HidePassword(url);
  if (shown != url) {
    return BadUrl(shown,
                  "a password does not belong in the URL; put it in the file that "
                  "[store] password_file names, or in $BATON_STORE_PASSWORD");
  }

  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return BadUrl(url, "no database is named");
  std::string_view authority = rest.substr(0, slash);
  std::string_view database = rest.substr(slash + 1);

  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return BadUrl(url, "no user is named (USER@HOST)");
  std::string_view user = authority.substr(0, at);
  std::string_view host_port = authority.substr(at + 1);
  if (user.empty()) return BadUrl(url, "no user is named (USER@HOST)");

  MySqlUrl parsed;
  parsed.user = user;
  std::string_view port;
  if (host_port.starts_with('[')) {
    const size_t close = host_port.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "an IPv6 address lacks its ']'");
    parsed.host = host_port.substr(1, close - 1);
    std::string_view after = host_port.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return BadUrl(url, "junk after the host");
    if (!after.empty()) port = after.substr(1);
    if (after == ":") return BadUrl(url, "the port is empty");
  } else {
    const size_t colon = host_port.find(':');
    parsed.host = host_port.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = host_port.substr(colon + 1);
      if (port.empty()) return BadUrl(url, "the port is empty");
    }
  }
  if (parsed.host.empty()) return BadUrl(url, "no host is named");
  if (!port.empty()) {
    unsigned int number = 0;
    const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (error != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
      return BadUrl(url, "the port '" + std::string(port) + "' is not a number from 1 to 65535");
    }
    parsed.port = number;
  }

  if (database.empty()) return BadUrl(url, "no database is named");
  if (database.find_first_of("/?#") != std::string_view::npos) {
    return BadUrl(url, "the database name is followed by more path or by options");
  }
  parsed.database = database;
  return parsed;
}

}  // namespace baton
