// TaskIntake: the agent's thread that takes work. While a slot is free and the
// agent is not stopping, it moves messages from the queues to the processing
// list (TaskTaker), then claims each in the store with a compare-and-set,
// queued -> running at the message's try, owned by this agent's job; the row
// comes from the message when it carries the queued row's columns, else it is
// read first. Claimed tries are published as instance events and handed to
// `on_claimed`; the rest (malformed, duplicates, already claimed, cleared or
// moved on) are removed from the processing list and logged. A store that
// cannot be reached is retried with backoff; the messages stay in the
// processing list meanwhile.
//
// The thread owns its store and Redis connections.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_settings.h"
#include "agent/claimed_try.h"
#include "agent/held_messages.h"
#include "agent/task_taker.h"
#include "engine/redis_client.h"
#include "engine/store.h"

namespace baton {

class TaskIntake {
 public:
  struct Options {
    std::string key_prefix;
    int64_t job_id = 0;
    Duration block = std::chrono::seconds(1);  // a blocking take waits this long
    Duration reply_margin = std::chrono::seconds(10);
  };

  // `on_claimed` runs on the intake thread; `on_stopped` once, as it ends.
  TaskIntake(std::unique_ptr<Store> store, std::unique_ptr<RedisClient> redis,
             const AgentSettings& settings, Options options, HeldMessages& held,
             std::function<void(ClaimedTry)> on_claimed, std::function<void()> on_stopped);
  ~TaskIntake();

  // Starts the thread; it runs until held.Stop().
  void Start();
  void Join();

 private:
  struct Candidate;

  void Run();
  void ClaimAll(const std::vector<std::string>& messages);
  // One pass over the candidates: decided ones leave `candidates`. An error
  // leaves the undecided ones for another pass.
  Status ClaimOnce(std::vector<Candidate>& candidates, std::vector<ClaimedTry>& claimed,
                   std::vector<std::string>& dropped);
  // Why the store refused a claim made from the message's row, for the log.
  std::string RefusedClaimReason(const Candidate& candidate);
  void RemoveDropped(const std::vector<std::string>& dropped);
  void PutBack(const std::string& message, const std::string& queue);

  std::unique_ptr<Store> store_;
  std::unique_ptr<RedisClient> redis_;
  const AgentSettings settings_;
  const Options options_;
  HeldMessages& held_;
  std::function<void(ClaimedTry)> on_claimed_;
  std::function<void()> on_stopped_;
  TaskTaker taker_;
  bool rescan_ = false;  // a take failed: the processing list may hold untracked messages
  std::thread thread_;
};

}  // namespace baton
