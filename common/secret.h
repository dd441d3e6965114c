// Secrets (database and Redis passwords): read from an environment variable or a
// file, never from the configuration itself, and never logged.
#pragma once

#include <string>

#include "common/status.h"

namespace baton {

// The value of `env_var` when it is set; otherwise the first line of `file`
// (without its line end) when a file is named; otherwise an empty string. The
// error names the file, not its contents.
Result<std::string> ReadSecret(const std::string& env_var, const std::string& file);

}  // namespace baton
