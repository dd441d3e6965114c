// The Markdown reference of baton.toml: an intro, then one table per section,
// all from the schema. docs/configuration.md is this output, checked in; a unit
// test fails when the two differ.
#include "config/config_reference.h"

#include <string_view>

#include "config/config_schema.h"

namespace baton {
namespace {

// A table cell: a '|' would end the cell early.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string Code(std::string_view text) { return "`" + std::string(text) + "`"; }

std::string Allowed(const KeySchema& key) {
  const std::string allowed = AllowedValues(key);
  return allowed.empty() ? "any" : allowed;
}

std::string SectionReference(const SectionSchema& section) {
  std::string out = "## " + Code("[" + std::string(section.name) + "]") + "\n\n";
  out += std::string(section.description) + "\n\n";
  out += "| key | type | default | allowed | description |\n";
  out += "| --- | --- | --- | --- | --- |\n";
  for (const KeySchema& key : section.keys) {
    out += "| " + Code(key.name) + " | " + std::string(TypeName(key.type)) + " | " +
           Cell(Code(key.default_value)) + " | " + Cell(Allowed(key)) + " | " +
           Cell(key.description) + " |\n";
  }
  return out;
}

}  // namespace

std::string ConfigReferenceMarkdown() {
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated from config/config_schema.cc by `baton config reference > "
      "docs/configuration.md`: edit the schema, not this file. -->\n\n"
      "Baton reads `$BATON_HOME/baton.toml` (`$BATON_HOME` defaults to `~/baton`), or the file "
      "named by `--config` or `$BATON_CONFIG`. A key left out has its default. `baton db init` "
      "writes a file that shows every key below at its default, and `baton config check` "
      "validates a file, reporting a mistake as `FILE:LINE:COLUMN` with the key's name. " +
      std::string(ConfigFileNotes()) + "\n";
  for (const SectionSchema& section : ConfigSchema()) out += "\n" + SectionReference(section);
  return out;
}

}  // namespace baton
