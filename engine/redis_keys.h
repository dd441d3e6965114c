// The names of Baton's Redis keys, all under the configured prefix.
#pragma once

#include <string>

namespace baton {

// A list of task messages: the scheduler pushes on the left, agents move from
// the right into their processing list.
inline std::string RedisQueueKey(const std::string& prefix, const std::string& queue) {
  return prefix + ":queue:" + queue;
}

// One agent's messages taken but not yet acknowledged, by agent name: an agent
// restarted under the same name finds what it held.
inline std::string RedisProcessingKey(const std::string& prefix, const std::string& agent_name) {
  return prefix + ":processing:" + agent_name;
}

// Instance events from agents to the scheduler.
inline std::string RedisEventsKey(const std::string& prefix) { return prefix + ":events"; }

}  // namespace baton
