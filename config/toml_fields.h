// Reading Baton's TOML files (baton.toml and DAG files): the one place that runs
// toml++'s parser and turns its exceptions into a Status, and typed field
// readers whose errors all read "FILE:LINE:COL: field 'NAME': problem".
// Internal to config.cc and engine/dag_file.cc; include it from .cc files only,
// since it pulls in toml++.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace baton {

// The whole contents of `path`; NotFound when it does not exist, IoError when it
// cannot be read.
Result<std::string> ReadTextFile(const std::string& path);

// Parses TOML `text` read from `display_name`, which the nodes' positions (and
// so every later error) carry. A syntax error reads "NAME:LINE:COL: what".
Result<toml::table> ParseToml(const std::string& text, const std::string& display_name);

// "FILE:LINE:COL" of a node or a key.
std::string SourcePosition(const toml::source_region& source);

// An error at `where`: "FILE:LINE:COL: field 'FIELD': PROBLEM".
Status FieldError(const toml::source_region& where, std::string_view field,
                  std::string_view problem);

// The candidate a mistyped `word` most probably meant (smallest edit distance,
// transpositions counting once), or nullopt when none is close enough.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);
// " (did you mean 'X'?)" when ClosestMatch finds one, otherwise "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c".
std::string JoinNames(const std::vector<std::string>& names);

// Typed access to the fields of one TOML table. Every Read* leaves its output
// untouched when the key is absent, so callers preset defaults; a value of the
// wrong type or an invalid value is an error at the value's position naming the
// field as prefix + key (e.g. "scheduler.loop_interval").
class FieldReader {
 public:
  FieldReader(const toml::table& table, std::string prefix);

  const toml::table& table() const { return table_; }
  const toml::node* Find(std::string_view key) const;
  std::string FieldName(std::string_view key) const { return prefix_ + std::string(key); }

  // An error at the value of `key` (or at the table when the key is absent).
  Status Error(std::string_view key, std::string_view problem) const;
  // "field 'KEY': is required", at the table.
  Status MissingError(std::string_view key) const;

  Status ReadString(std::string_view key, std::string* out) const;
  Status ReadNonEmptyString(std::string_view key, std::string* out) const;
  Status ReadBool(std::string_view key, bool* out) const;
  Status ReadInt(std::string_view key, int* out, int64_t min = std::numeric_limits<int>::min(),
                 int64_t max = std::numeric_limits<int>::max()) const;
  // A duration string ("30s", "1h30m") or an integer number of seconds.
  Status ReadDuration(std::string_view key, Duration* out, Duration min = Duration(0)) const;
  Status ReadDuration(std::string_view key, std::optional<Duration>* out) const;
  // An ISO 8601 string or a TOML date or date-time; without an offset it is UTC.
  Status ReadTime(std::string_view key, std::optional<TimePoint>* out) const;
  // An IANA time zone name known to the system's time zone database.
  Status ReadTimeZone(std::string_view key, std::string* out) const;
  // A string that must be one of `choices`.
  Status ReadChoice(std::string_view key, const std::vector<std::string>& choices,
                    std::string* out) const;
  Status ReadStringArray(std::string_view key, std::vector<std::string>* out) const;
  // A table whose values are all strings; entries are added to `out`.
  Status ReadStringMap(std::string_view key, std::map<std::string, std::string>* out) const;
  // The sub-table at `key`; nullptr when absent.
  Result<const toml::table*> ReadTable(std::string_view key) const;

  // An error for the first key (in file order) that is not in `known`,
  // suggesting the closest known one. `noun` is "key" or "section".
  Status CheckKnownKeys(const std::vector<std::string>& known, std::string_view noun = "key") const;

 private:
  Status TypeError(std::string_view key, const toml::node& node, std::string_view expected) const;

  const toml::table& table_;
  std::string prefix_;
};

// "a string", "an integer", ...: how a TOML value's type reads in errors.
std::string_view TomlTypeName(const toml::node& node);

// Checks `name` against the system's time zone database.
Status ValidateTimeZone(std::string_view name);

}  // namespace baton
