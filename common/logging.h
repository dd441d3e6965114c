// Logging setup for the daemons and the CLI (spdlog). Code logs through spdlog's
// default logger; this file decides where that logger writes.
#pragma once

#include <string>

#include "common/status.h"

namespace baton {

// level: trace, debug, info, warn, error, critical or off. An empty file logs to
// stderr; otherwise to that file (appending), created with its parent folders.
Status SetupLogging(const std::string& level, const std::string& file);

}  // namespace baton
