// The agent's row in the store's job table: registered at start with its name,
// queues and log server endpoint, heartbeated with its running count, ended at
// exit. A row of an earlier life of the same agent (same name, this host) whose
// process is gone is ended at start, so the scheduler at once treats what that
// life held as orphaned.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "agent/agent_settings.h"
#include "common/status.h"
#include "engine/store.h"

namespace baton {

inline constexpr char kAgentJobKind[] = "agent";

// Ends the running agent jobs named settings.name on this host whose process
// (pid and start time) is gone. Conflict when one is still alive: two agents of
// one name would share a processing list.
Status EndEarlierLives(Store& store, const AgentSettings& settings);

Result<int64_t> RegisterAgentJob(Store& store, const AgentSettings& settings,
                                 const std::string& endpoint);

// Heartbeats the job every `interval` with running_count(), on a thread of its
// own with its own store connection, until Stop().
class Heartbeat {
 public:
  Heartbeat(Store& store, int64_t job_id, Duration interval, std::function<int()> running_count);
  ~Heartbeat();
  void Start();
  void Stop();

 private:
  void Run();

  Store& store_;
  const int64_t job_id_;
  const Duration interval_;
  const std::function<int()> running_count_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace baton
