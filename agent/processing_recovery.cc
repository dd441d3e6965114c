#include "agent/processing_recovery.h"

#include <spdlog/spdlog.h>

#include "agent/claim_rules.h"
#include "agent/task_taker.h"
#include "engine/redis_keys.h"
#include "engine/task_message.h"

namespace baton {

Result<RecoveryCounts> RecoverProcessingList(Store& store, RedisClient& redis,
                                             const std::string& key_prefix,
                                             const std::string& agent_name) {
  const std::string processing_key = RedisProcessingKey(key_prefix, agent_name);
  auto listed = redis.Command({"LRANGE", processing_key, "0", "-1"});
  if (!listed.ok()) return listed.status().WithContext("reading " + processing_key);
  RecoveryCounts counts;
  // The list is newest first. Each reclaimed message is pushed onto the
  // taking end of its queue, so handling the newest first leaves the oldest
  // there: they are taken again in the order they were first taken.
  for (const RedisReply& element : listed->elements) {
    if (element.type != RedisReply::Type::kString) continue;
    const std::string& message = element.text;
    auto launch = DecodeTaskMessage(message);
    if (!launch.ok()) {
      spdlog::warn("recovery: removing a malformed message from {}: {}", processing_key,
                   launch.status().message());
      auto removed = redis.Command({"LREM", processing_key, "1", message});
      if (!removed.ok()) return removed.status().WithContext("removing a message");
      ++counts.malformed;
      continue;
    }
    const TryId id{launch->key, launch->try_number};
    auto row = store.GetTaskInstance(launch->key);
    if (!row.ok()) return row.status().WithContext("reading " + launch->key.ToString());
    if (DecideRecovery(*row, launch->try_number) == RecoveryDecision::kReclaim) {
      BATON_RETURN_IF_ERROR(
          ReturnToQueue(redis, processing_key, RedisQueueKey(key_prefix, launch->queue), message)
              .WithContext("reclaiming " + id.ToString()));
      spdlog::info("recovery: {} was taken but not claimed; back to queue {}", id.ToString(),
                   launch->queue);
      ++counts.reclaimed;
    } else {
      auto removed = redis.Command({"LREM", processing_key, "1", message});
      if (!removed.ok()) return removed.status().WithContext("abandoning " + id.ToString());
      spdlog::info("recovery: abandoning {}: {}", id.ToString(),
                   *row ? "it is " + std::string(ToString((*row)->state)) + " at try " +
                              std::to_string((*row)->try_number)
                        : std::string("no such task instance"));
      ++counts.abandoned;
    }
  }
  return counts;
}

}  // namespace baton
