// The schema of baton.toml as data: every section, every key with its type, its
// default as written in TOML, what the reader accepts and what it means. The
// reader takes its known-key lists and choices from here, and the default file
// (`baton db init`) and the reference (`baton config reference`) are generated
// from it, so a key cannot be read without being documented, nor documented
// without being read.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

// A key's type as an operator writes it in TOML.
enum class ValueType {
  kString,
  kInteger,
  kBoolean,
  kDuration,  // "30s", "1h30m", "500ms", or an integer number of seconds
  kStringArray,
};

struct KeySchema {
  std::string_view name;
  ValueType type;
  std::string_view default_value;  // TOML text: "\"5s\"", "32", "[\"default\"]"
  // The inclusive bounds the reader enforces on an integer; for a duration,
  // min only, in milliseconds. Absent: any value of the type.
  std::optional<int64_t> min = std::nullopt;
  std::optional<int64_t> max = std::nullopt;
  // A string that must be one of these; the reader checks against this list.
  std::span<const std::string_view> choices = {};
  // Further rules the reader enforces, in words ("not empty").
  std::string_view rule = {};
  std::string_view description;
};

enum class SectionKind {
  kFixedKeys,    // only the keys listed; any other is an error
  kNamedValues,  // every key is a name the operator chooses ([pools])
  kPerName,      // one table per NAME, e.g. [failover.node.NAME]
};

struct SectionSchema {
  std::string_view name;  // "core", "failover.node.NAME"
  SectionKind kind;
  std::string_view description;
  std::span<const KeySchema> keys;
};

// Every section, in the order the default file and the reference show them.
std::span<const SectionSchema> ConfigSchema();

// The section named `name` ("agent", "failover.node.NAME"); nullptr when none.
const SectionSchema* FindSection(std::string_view name);
// The key of that section; nullptr when none.
const KeySchema* FindKey(std::string_view section, std::string_view key);

// The keys a table of `section` may hold: its keys, then the names of its
// sub-tables ("node" in [failover]). The root ("") holds the top-level sections.
std::vector<std::string> KnownKeys(std::string_view section);
// The choices of a key, as the reader compares them.
std::vector<std::string> ChoicesOf(std::string_view section, std::string_view key);

// "string", "integer", "duration", ...: the type as the reference names it.
std::string_view TypeName(ValueType type);
// What the reader accepts beyond the type ("1 to 4096", "one of local, redis;
// not empty"), or "" when it accepts any value of the type.
std::string AllowedValues(const KeySchema& key);

// What holds for the whole file: relative paths, durations, secrets.
std::string_view ConfigFileNotes();

}  // namespace baton
