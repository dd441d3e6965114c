// Start-up recovery of an agent's processing list: the messages its previous
// life (same name) took and never acknowledged. Each is decided by the store:
// a task instance still queued with the message's try was never claimed, so the
// message goes back to the right end of its queue (taken next); any other was
// claimed, by that life or another agent, or has moved on, so the message is
// removed (abandoned): the scheduler fails or retries what a dead agent held.
#pragma once

#include <string>

#include "common/status.h"
#include "engine/redis_client.h"
#include "engine/store.h"

namespace baton {

struct RecoveryCounts {
  int reclaimed = 0;
  int abandoned = 0;
  int malformed = 0;  // removed: not a task message
};

// Runs before the agent takes any work. An error (store or Redis) leaves the
// messages not yet handled where they were.
Result<RecoveryCounts> RecoverProcessingList(Store& store, RedisClient& redis,
                                             const std::string& key_prefix,
                                             const std::string& agent_name);

}  // namespace baton
