// JobHeartbeat: records that a daemon is alive, on a thread of its own with a
// store connection of its own, so that a long scheduling step or a slow store
// call on the daemon's loop never delays a heartbeat (and a hung store delays
// only the heartbeat).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/time.h"
#include "engine/store.h"

namespace baton {

class JobHeartbeat {
 public:
  // Beats every `interval` until destroyed; `running_count` is read at each beat
  // (from this thread: it must be safe to call concurrently).
  JobHeartbeat(std::unique_ptr<Store> store, int64_t job_id, Duration interval,
               std::function<int()> running_count);
  ~JobHeartbeat();
  JobHeartbeat(const JobHeartbeat&) = delete;
  JobHeartbeat& operator=(const JobHeartbeat&) = delete;

  // Whether the latest beat reached the store.
  bool healthy() const { return healthy_; }

 private:
  void Loop();

  std::unique_ptr<Store> store_;
  const int64_t job_id_;
  const Duration interval_;
  std::function<int()> running_count_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> healthy_{true};
  std::thread thread_;
};

}  // namespace baton
