// Placeholders in task commands: one scanner shared by validation (at DAG load
// time, so a typo is an import error) and rendering (before each try).
#include "engine/template.h"

#include <algorithm>

namespace baton {
namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";
constexpr std::string_view kConfPrefix = "conf.";

// A piece of a command: literal text, or a placeholder's trimmed name.
struct Segment {
  bool is_placeholder = false;
  std::string_view text;
  size_t offset = 0;  // where the piece (for a placeholder, its "{{") starts
};

std::string_view Trim(std::string_view text) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Splits `command` into segments. On a malformed placeholder it stops there,
// with `segments` covering everything before it, and says what is wrong.
Status Scan(std::string_view command, std::vector<Segment>* segments, size_t* scanned) {
  size_t pos = 0;
  while (pos < command.size()) {
    const size_t open = command.find(kOpen, pos);
    if (open == std::string_view::npos) break;
    if (open > pos) segments->push_back({false, command.substr(pos, open - pos), pos});
    *scanned = open;
    const size_t close = command.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) {
      return Status::InvalidInput("unterminated placeholder '" + std::string(command.substr(open)) +
                                  "' at offset " + std::to_string(open) + " (missing '}}')");
    }
    const std::string_view name =
        Trim(command.substr(open + kOpen.size(), close - open - kOpen.size()));
    if (name.empty()) {
      return Status::InvalidInput("empty placeholder '" +
                                  std::string(command.substr(open, close + kClose.size() - open)) +
                                  "' at offset " + std::to_string(open));
    }
    segments->push_back({true, name, open});
    pos = close + kClose.size();
  }
  if (pos < command.size()) segments->push_back({false, command.substr(pos), pos});
  *scanned = command.size();
  return Status::Ok();
}

bool IsKnownName(std::string_view name) {
  if (name.starts_with(kConfPrefix)) {
    const std::string_view key = name.substr(kConfPrefix.size());
    return !key.empty() &&
           std::none_of(key.begin(), key.end(), [](char c) { return c == ' ' || c == '\t'; });
  }
  const auto& names = TemplateVariableNames();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

const std::vector<std::string>& TemplateVariableNames() {
  static const std::vector<std::string> names = {
      "ds",     "ds_nodash", "ts",      "logical_date", "data_interval_start", "data_interval_end",
      "run_id", "dag_id",    "task_id", "try_number",
  };
  return names;
}

Status ValidateTemplate(const std::string& command) {
  std::vector<Segment> segments;
  size_t scanned = 0;
  BATON_RETURN_IF_ERROR(Scan(command, &segments, &scanned));
  for (const auto& segment : segments) {
    if (!segment.is_placeholder || IsKnownName(segment.text)) continue;
    std::string known;
    for (const auto& name : TemplateVariableNames()) known += name + ", ";
    return Status::InvalidInput("unknown placeholder '{{ " + std::string(segment.text) +
                                " }}' at offset " + std::to_string(segment.offset) +
                                " (known: " + known + "conf.KEY)");
  }
  return Status::Ok();
}

std::string RenderTemplate(const std::string& command,
                           const std::map<std::string, std::string>& variables) {
  std::vector<Segment> segments;
  size_t scanned = 0;
  // Commands are validated when their DAG is loaded; should one still be
  // malformed, what follows the bad placeholder is kept as written.
  const bool complete = Scan(command, &segments, &scanned).ok();
  std::string out;
  for (const auto& segment : segments) {
    if (!segment.is_placeholder) {
      out += segment.text;
      continue;
    }
    auto it = variables.find(std::string(segment.text));
    if (it != variables.end()) out += it->second;
  }
  if (!complete) out += command.substr(scanned);
  return out;
}

}  // namespace baton
