// Reading DAG files: TOML in, a validated Dag out. Every problem is reported as
// "file:line:col: field: problem" (cycles name the cycle, unknown keys suggest the
// key that was probably meant), and nothing is half-loaded.
#pragma once

#include <set>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "engine/dag.h"

namespace baton {

struct DagFileContext {
  std::string default_timezone = "UTC";
  std::set<std::string> pools;  // pool names declared in baton.toml
};

// The context the configuration gives: default time zone and declared pools.
DagFileContext MakeDagFileContext(const Config& config);

Result<Dag> LoadDagFile(const std::string& path, const DagFileContext& context);
// Parses TOML text as if it were read from `display_name`.
Result<Dag> ParseDagText(const std::string& text, const std::string& display_name,
                         const DagFileContext& context);

}  // namespace baton
