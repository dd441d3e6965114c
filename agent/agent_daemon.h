// The agent daemon (`baton agent`): takes task messages from Redis, claims each
// task instance in the store, runs it as the local executor does, records its
// end, heartbeats its own job row and serves task logs and health over HTTP.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace baton {

// Command-line overrides of the [agent] section.
struct AgentDaemonOptions {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> queues;
  std::optional<int> concurrency;
};

// Runs until SIGTERM or SIGINT: then takes no more work, gives running tasks
// agent.kill_grace_period to finish, kills the rest and records them.
Status RunAgentDaemon(const Config& config, const AgentDaemonOptions& options);

}  // namespace baton
