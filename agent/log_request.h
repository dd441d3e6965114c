// The one log request an agent's log server answers, GET
// /log/DAG_ID/RUN_ID/TASK_ID/TRY, each id percent-encoded: how the client
// spells the path and how the server reads it back. A component that could
// leave the logs folder is refused, never rewritten.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/store.h"

namespace baton {

inline constexpr std::string_view kLogRequestPrefix = "/log/";

struct LogRequest {
  TaskInstanceKey key;
  int try_number = 0;
};

// "/log/etl/manual__2024-06-01T00%3A00%3A00%2B00%3A00/load/1"
std::string LogRequestPath(const TaskInstanceKey& key, int try_number);

// Reads a path that starts with kLogRequestPrefix. InvalidInput (an HTTP 400)
// when it does not hold exactly four components, when one does not decode or
// decodes to an empty string, ".", "..", or holds '/' or NUL, or when TRY is not
// a positive integer.
Result<LogRequest> ParseLogRequestPath(std::string_view path);

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string PercentEncode(std::string_view text);
// InvalidInput on a '%' not followed by two hex digits.
Result<std::string> PercentDecode(std::string_view text);

}  // namespace baton
