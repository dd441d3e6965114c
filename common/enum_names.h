// Names of enum values as they appear in files, the store and the CLI: one
// table of (value, name) pairs per enum, read both ways.
#pragma once

#include <optional>
#include <string_view>

namespace baton {

template <typename Names, typename Enum>
std::string_view EnumName(const Names& names, Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <typename Enum, typename Names>
std::optional<Enum> EnumValue(const Names& names, std::string_view wanted) {
  for (const auto& [value, name] : names) {
    if (name == wanted) return value;
  }
  return std::nullopt;
}

}  // namespace baton
