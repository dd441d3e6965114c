// TaskTaker: the Redis side of taking work. A message moves atomically from one
// of the agent's queues to its processing list (LMOVE/BLMOVE queue processing
// RIGHT LEFT), so a message is always in exactly one list and an agent that
// dies holding it finds it again under its name.
//
// One queue: each take is one round trip, a blocking move for the first free
// slot and a plain move for each other one, pipelined; Redis runs those only
// once the blocking move returns, so they take what came with it.
//
// Several queues: each take first tries every queue without blocking, starting
// one further along each time (round-robin), and only when all are empty blocks
// on one queue at a time, in turn, for `block` (1 s). The cost: while the agent
// blocks on one queue, a message arriving on another waits until that block
// ends, up to `block` of extra latency on an idle agent. Redis has no blocking
// move from several lists at once (BLMPOP pops, it does not move).
//
// One connection, used from one thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "engine/redis_client.h"

namespace baton {

class TaskTaker {
 public:
  // `reply_margin` is added to `block` for the client's own timeout on a
  // blocking move.
  TaskTaker(RedisClient& redis, const std::string& key_prefix, std::vector<std::string> queues,
            const std::string& agent_name, Duration block, Duration reply_margin);

  // Up to `max` messages moved into the processing list: as many as the queues
  // hold right now; when they are all empty, waits up to `block` for one.
  // Empty when none came. On an error some messages may have
  // moved without this agent knowing: read ProcessingList() before trusting it.
  Result<std::vector<std::string>> Take(int max);

  // The processing list, oldest first.
  Result<std::vector<std::string>> ProcessingList();

  const std::string& processing_key() const { return processing_key_; }

 private:
  const std::string& QueueKeyAt(size_t offset) const;

  RedisClient& redis_;
  std::vector<std::string> queue_keys_;
  std::string processing_key_;
  std::string block_argument_;  // BLMOVE's timeout in seconds
  Duration blocking_timeout_;
  size_t next_queue_ = 0;
};

// Puts `message` back at the right end of `queue_key` (the end agents take
// from, so it is taken next) and removes it from `processing_key`, in one
// MULTI/EXEC.
Status ReturnToQueue(RedisClient& redis, const std::string& processing_key,
                     const std::string& queue_key, const std::string& message);

}  // namespace baton
