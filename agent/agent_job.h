// The agent's row in the store's job table: registered at start with its name,
// queues and log server endpoint (engine/job_heartbeat.h beats it), ended at
// exit. A row of an earlier life of the same agent (same name, this host) whose
// process is gone is ended at start, so the scheduler at once treats what that
// life held as orphaned.
#pragma once

#include <string>

#include "agent/agent_settings.h"
#include "common/status.h"
#include "engine/store.h"

namespace baton {

// Ends the running agent jobs named settings.name on this host whose process
// (pid and start time) is gone. Conflict when one is still alive: two agents of
// one name would share a processing list.
Status EndEarlierLives(Store& store, const AgentSettings& settings);

Result<int64_t> RegisterAgentJob(Store& store, const AgentSettings& settings,
                                 const std::string& endpoint);

}  // namespace baton
