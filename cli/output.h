// How the `baton` commands print: JSON for scripts (one line, keys in the order
// written, times as ISO 8601 UTC or null), aligned tables for people, and
// "baton: message" on stderr for errors.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/time.h"

namespace baton::cli {

using Json = nlohmann::ordered_json;

// ISO 8601 UTC, or null when absent.
Json JsonTime(const std::optional<TimePoint>& time);
// ISO 8601 UTC, or "-" when absent.
std::string TextTime(const std::optional<TimePoint>& time);

// Writes `value` and a newline to stdout. Never throws: invalid UTF-8 in a
// string (a task id, a log path) is replaced rather than refused.
void PrintJson(const Json& value);

// "baton: message" on stderr.
void PrintError(const std::string& message);
// "baton: warning: message" on stderr: worth knowing, but the command goes on.
void PrintWarning(const std::string& message);

// Columns padded to their widest cell, two spaces apart.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;  // the headers first
};

}  // namespace baton::cli
