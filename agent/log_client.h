// Fetching a try's log from the agent that ran it (its log server), for
// `baton tasks log` on a host that does not have the file.
#pragma once

#include <string>

#include "common/status.h"
#include "common/time.h"
#include "engine/store.h"

namespace baton {

// GET /log/... from the log server at `endpoint` ("host:port"). NotFound when
// the agent has no such log; Unavailable when it cannot be reached or does not
// answer within `timeout`; InvalidInput for an endpoint that is not host:port.
Result<std::string> FetchTaskLog(const std::string& endpoint, const TaskInstanceKey& key,
                                 int try_number, Duration timeout);

}  // namespace baton
