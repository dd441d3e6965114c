// Printing JSON, tables and errors for the `baton` commands.
#include "cli/output.h"

#include <algorithm>
#include <iostream>
#include <utility>

namespace baton::cli {

Json JsonTime(const std::optional<TimePoint>& time) {
  return time ? Json(FormatIso8601(*time)) : Json(nullptr);
}

std::string TextTime(const std::optional<TimePoint>& time) {
  return time ? FormatIso8601(*time) : "-";
}

void PrintJson(const Json& value) {
  std::cout << value.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

void PrintError(const std::string& message) { std::cerr << "baton: " << message << '\n'; }

void PrintWarning(const std::string& message) { PrintError("warning: " + message); }

Table::Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }

void Table::AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << line << '\n';
  }
}

}  // namespace baton::cli
