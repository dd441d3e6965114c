// The agent's effective settings: the [agent] section of baton.toml with the
// command line's overrides on top, checked once at start-up.
#pragma once

#include <string>
#include <vector>

#include "agent/agent_daemon.h"
#include "common/status.h"
#include "config/config.h"

namespace baton {

struct AgentSettings {
  std::string name;                 // the agent's name; its processing list is keyed by it
  std::vector<std::string> queues;  // taken from in turn
  int concurrency = 1;              // tries run at once
  std::string hostname;             // this host, as recorded with each claimed try
};

// InvalidInput naming the option when a name or queue is empty or holds
// whitespace, a comma or a control character, or when concurrency is below 1.
// An empty name means `hostname`.
Result<AgentSettings> ResolveAgentSettings(const AgentConfig& config,
                                           const AgentDaemonOptions& options,
                                           const std::string& hostname);

// "host:port" as other hosts should reach the log server: the bind address, or
// this host's name when it listens on every address.
std::string LogServerEndpoint(const std::string& bind_address, int port,
                              const std::string& hostname);

}  // namespace baton
