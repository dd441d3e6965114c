// The commented default baton.toml that `baton db init` writes, generated from
// the schema so that it shows every key, and every default as the reader has it.
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/config_schema.h"

namespace baton {
namespace {

constexpr size_t kLineWidth = 80;

// `text` as "# " comment lines of at most kLineWidth columns; a longer word
// gets a line of its own.
std::string Comment(std::string_view text) {
  const std::string lead = "# ";
  std::string out;
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view word = text.substr(start, end - start);
    start = end + 1;
    if (word.empty()) continue;
    if (!line.empty() && lead.size() + line.size() + 1 + word.size() > kLineWidth) {
      out += lead + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + std::string(word);
  }
  if (!line.empty()) out += lead + line + "\n";
  return out;
}

std::string KeyText(const KeySchema& key, std::string_view prefix) {
  std::string description(key.description);
  const std::string allowed = AllowedValues(key);
  if (!allowed.empty()) description += " Allowed: " + allowed + ".";
  return Comment(description) + std::string(prefix) + std::string(key.name) + " = " +
         std::string(key.default_value) + "\n";
}

// The header and keys of a section whose NAME the operator chooses are
// commented out: with its placeholder name, the section would not load.
std::string SectionText(const SectionSchema& section) {
  const std::string_view prefix = section.kind == SectionKind::kPerName ? "# " : "";
  std::string out = std::string(prefix) + "[" + std::string(section.name) + "]\n";
  out += Comment(section.description);
  for (const KeySchema& key : section.keys) out += "\n" + KeyText(key, prefix);
  return out;
}

}  // namespace

std::string DefaultConfigText() {
  std::string out = Comment(
      "baton.toml: the configuration of Baton's scheduler, agents and failover controller. "
      "Every key is shown at its default; change what you need and delete the rest, since a "
      "key left out has its default. " +
      std::string(ConfigFileNotes()) +
      " `baton config check` validates this file; `baton config reference` describes every "
      "key.");
  for (const SectionSchema& section : ConfigSchema()) out += "\n" + SectionText(section);
  return out;
}

}  // namespace baton
