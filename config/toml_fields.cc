// Parsing and typed reading of TOML files, with errors that point at the
// offending value. toml++ throws; nothing thrown leaves this file.
#include "config/toml_fields.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace baton {
namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so "retires" is one edit away from "retries".
size_t EditDistance(std::string_view a, std::string_view b) {
  const size_t rows = a.size() + 1;
  const size_t cols = b.size() + 1;
  std::vector<size_t> d(rows * cols);
  auto at = [&](size_t i, size_t j) -> size_t& { return d[i * cols + j]; };
  for (size_t i = 0; i < rows; ++i) at(i, 0) = i;
  for (size_t j = 0; j < cols; ++j) at(0, j) = j;
  for (size_t i = 1; i < rows; ++i) {
    for (size_t j = 1; j < cols; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, cols - 1);
}

TimePoint FromTomlDate(const toml::date& d) {
  date::year_month_day ymd{date::year(d.year), date::month(d.month), date::day(d.day)};
  return TimePoint(date::sys_days(ymd).time_since_epoch());
}

Micros FromTomlTime(const toml::time& t) {
  return std::chrono::hours(t.hour) + std::chrono::minutes(t.minute) +
         std::chrono::seconds(t.second) +
         std::chrono::duration_cast<Micros>(std::chrono::nanoseconds(t.nanosecond));
}

std::string SuggestionText(const std::optional<std::string>& match) {
  return match ? " (did you mean '" + *match + "'?)" : "";
}

}  // namespace

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    std::string message = path + ": cannot read: " + std::strerror(error);
    if (error == ENOENT) return Status::NotFound(message);
    return Status::IoError(message);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Status::IoError(path + ": read failed");
  return contents.str();
}

Result<toml::table> ParseToml(const std::string& text, const std::string& display_name) {
  try {
    return toml::parse(std::string_view(text), std::string_view(display_name));
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return Status::InvalidInput(display_name + ":" + std::to_string(begin.line) + ":" +
                                std::to_string(begin.column) + ": " +
                                std::string(error.description()));
  } catch (const std::exception& error) {
    // toml++ allocates; anything else it throws is still this file's problem.
    return Status::InvalidInput(display_name + ": " + error.what());
  }
}

std::string SourcePosition(const toml::source_region& source) {
  std::string file = source.path ? *source.path : "<input>";
  return file + ":" + std::to_string(source.begin.line) + ":" + std::to_string(source.begin.column);
}

Status FieldError(const toml::source_region& where, std::string_view field,
                  std::string_view problem) {
  return Status::InvalidInput(SourcePosition(where) + ": field '" + std::string(field) +
                              "': " + std::string(problem));
}

std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  // Short words are only one typo away from too much; allow more edits as
  // words grow so that "dependancies" still finds "dependencies". A longer or
  // shorter spelling of the same word ("warning" for "warn") is also a match.
  const size_t limit = word.size() <= 3 ? 1 : std::max<size_t>(2, word.size() / 3);
  std::optional<std::string> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& candidate : candidates) {
    const size_t distance = EditDistance(word, candidate);
    const std::string_view shorter = word.size() < candidate.size() ? word : candidate;
    const std::string_view longer = word.size() < candidate.size() ? candidate : word;
    const bool close = (distance <= limit && distance < candidate.size()) ||
                       (shorter.size() >= 3 && longer.starts_with(shorter));
    if (close && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  return SuggestionText(ClosestMatch(word, candidates));
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string_view TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Status ValidateTimeZone(std::string_view name) {
  try {
    date::locate_zone(name);
    return Status::Ok();
  } catch (const std::exception&) {
    return Status::InvalidInput("unknown time zone '" + std::string(name) +
                                "' (expected an IANA name such as \"UTC\" or \"Europe/Paris\")");
  }
}

FieldReader::FieldReader(const toml::table& table, std::string prefix)
    : table_(table), prefix_(std::move(prefix)) {}

const toml::node* FieldReader::Find(std::string_view key) const { return table_.get(key); }

Status FieldReader::Error(std::string_view key, std::string_view problem) const {
  const toml::node* node = Find(key);
  return FieldError(node ? node->source() : table_.source(), FieldName(key), problem);
}

Status FieldReader::MissingError(std::string_view key) const {
  return FieldError(table_.source(), FieldName(key), "is required");
}

Status FieldReader::TypeError(std::string_view key, const toml::node& node,
                              std::string_view expected) const {
  return FieldError(
      node.source(), FieldName(key),
      "expected " + std::string(expected) + ", got " + std::string(TomlTypeName(node)));
}

Status FieldReader::ReadString(std::string_view key, std::string* out) const {
  const toml::node* node = Find(key);
  if (!node) return Status::Ok();
  const auto* value = node->as_string();
  if (!value) return TypeError(key, *node, "a string");
  *out = value->get();
  return Status::Ok();
}

Status FieldReader::ReadNonEmptyString(std::string_view key, std::string* out) const {
  std::string value = *out;
  BATON_RETURN_IF_ERROR(ReadString(key, &value));
  if (Find(key) && value.empty()) return Error(key, "must not be empty");
  *out = std::move(value);
  return Status::Ok();
}

Status FieldReader::ReadBool(std::string_view key, bool* out) const {
  const toml::node* node = Find(key);
  if (!node) return Status::Ok();
  const auto* value = node->as_boolean();
  if (!value) return TypeError(key, *node, "a boolean (true or false)");
  *out = value->get();
  return Status::Ok();
}

Status FieldReader::ReadInt(std::string_view key, int* out, int64_t min, int64_t max) const {
  const toml::node* node = Find(key);
  if (!node) return Status::Ok();
  const auto* value = node->as_integer();
  if (!value) return TypeError(key, *node, "an integer");
  const int64_t number = value->get();
  if (number < min) {
    return Error(key,
                 "must be at least " + std::to_string(min) + ", got " + std::to_string(number));
  }
  if (number > max) {
    return Error(key, "must be at most " + std::to_string(max) + ", got " + std::to_string(number));
  }
  *out = static_cast<int>(number);
  return Status::Ok();
}

Status FieldReader::ReadDuration(std::string_view key, Duration* out, Duration min) const {
  std::optional<Duration> value;
  BATON_RETURN_IF_ERROR(ReadDuration(key, &value));
  if (!value) return Status::Ok();
  if (*value < min) {
    return Error(key,
                 "must be at least " + FormatDuration(min) + ", got " + FormatDuration(*value));
  }
  *out = *value;
  return Status::Ok();
}

Status FieldReader::ReadDuration(std::string_view key, std::optional<Duration>* out) const {
  const toml::node* node = Find(key);
  if (!node) return Status::Ok();
  if (const auto* seconds = node->as_integer()) {
    if (seconds->get() < 0) return Error(key, "must not be negative");
    *out = std::chrono::seconds(seconds->get());
    return Status::Ok();
  }
  const auto* text = node->as_string();
  if (!text) return TypeError(key, *node, "a duration such as \"30s\" or \"1h30m\"");
  Result<Duration> parsed = ParseDuration(text->get());
  if (!parsed.ok()) return Error(key, parsed.status().message());
  *out = *parsed;
  return Status::Ok();
}

Status FieldReader::ReadTime(std::string_view key, std::optional<TimePoint>* out) const {
  const toml::node* node = Find(key);
  if (!node) return Status::Ok();
  if (const auto* text = node->as_string()) {
    Result<TimePoint> parsed = ParseIso8601(text->get());
    if (!parsed.ok()) return Error(key, parsed.status().message());
    *out = *parsed;
    return Status::Ok();
  }
  if (const auto* day = node->as_date()) {
    *out = FromTomlDate(day->get());
    return Status::Ok();
  }
  if (const auto* moment = node->as_date_time()) {
    const toml::date_time& value = moment->get();
    TimePoint t = FromTomlDate(value.date) + FromTomlTime(value.time);
    if (value.offset) t -= std::chrono::minutes(value.offset->minutes);
    *out = t;
    return Status::Ok();
  }
  return TypeError(key, *node, "a date or date-time (e.g. 2024-01-01 or \"2024-01-01T00:00:00Z\")");
}

Status FieldReader::ReadTimeZone(std::string_view key, std::string* out) const {
  std::string name = *out;
  BATON_RETURN_IF_ERROR(ReadString(key, &name));
  if (!Find(key)) return Status::Ok();
  Status valid = ValidateTimeZone(name);
  if (!valid.ok()) return Error(key, valid.message());
  *out = std::move(name);
  return Status::Ok();
}

Status FieldReader::ReadChoice(std::string_view key, const std::vector<std::string>& choices,
                               std::string* out) const {
  std::string value = *out;
  BATON_RETURN_IF_ERROR(ReadString(key, &value));
  if (!Find(key)) return Status::Ok();
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    return Error(
        key, "'" + value + "' is not one of " + JoinNames(choices) + DidYouMean(value, choices));
  }
  *out = std::move(value);
  return Status::Ok();
}

Status FieldReader::ReadStringArray(std::string_view key, std::vector<std::string>* out) const {
  const toml::node* node = Find(key);
  if (!node) return Status::Ok();
  const auto* array = node->as_array();
  if (!array) return TypeError(key, *node, "an array of strings");
  std::vector<std::string> values;
  for (const toml::node& element : *array) {
    const auto* text = element.as_string();
    if (!text) {
      return FieldError(element.source(), FieldName(key),
                        "expected an array of strings, got an element that is " +
                            std::string(TomlTypeName(element)));
    }
    values.push_back(text->get());
  }
  *out = std::move(values);
  return Status::Ok();
}

Status FieldReader::ReadStringMap(std::string_view key,
                                  std::map<std::string, std::string>* out) const {
  Result<const toml::table*> table = ReadTable(key);
  if (!table.ok()) return table.status();
  if (!*table) return Status::Ok();
  std::map<std::string, std::string> values;
  for (const auto& [name, value] : **table) {
    const auto* text = value.as_string();
    if (!text) {
      return FieldError(value.source(), FieldName(key) + "." + std::string(name.str()),
                        "expected a string, got " + std::string(TomlTypeName(value)));
    }
    values[std::string(name.str())] = text->get();
  }
  for (auto& [name, value] : values) (*out)[name] = std::move(value);
  return Status::Ok();
}

Result<const toml::table*> FieldReader::ReadTable(std::string_view key) const {
  const toml::node* node = Find(key);
  if (!node) return static_cast<const toml::table*>(nullptr);
  const auto* table = node->as_table();
  if (!table) return TypeError(key, *node, "a table");
  return table;
}

Status FieldReader::CheckKnownKeys(const std::vector<std::string>& known,
                                   std::string_view noun) const {
  // toml++ keeps keys sorted by name; report the one the reader meets first.
  const toml::key* first_unknown = nullptr;
  for (const auto& [name, value] : table_) {
    if (std::find(known.begin(), known.end(), name.str()) != known.end()) continue;
    const auto& here = name.source().begin;
    if (!first_unknown || here < first_unknown->source().begin) first_unknown = &name;
  }
  if (!first_unknown) return Status::Ok();
  // Matched without the prefix: it is common to all and would only dilute the distance.
  std::optional<std::string> match = ClosestMatch(first_unknown->str(), known);
  if (match) match = FieldName(*match);
  return Status::InvalidInput(SourcePosition(first_unknown->source()) + ": unknown " +
                              std::string(noun) + " '" + FieldName(first_unknown->str()) + "'" +
                              SuggestionText(match));
}

}  // namespace baton
