// JobHeartbeat: records that a daemon is alive, on a thread of its own with a
// store connection of its own, so that a long scheduling step or a slow store
// call on the daemon's loop never delays a heartbeat. It beats only while the
// daemon says its loop is making progress: a hung loop must look dead.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/time.h"
#include "engine/store.h"

namespace baton {

class JobHeartbeat {
 public:
  // What the daemon reports at each beat (called from the heartbeat's thread:
  // it must be safe to call concurrently). nullopt: the loop is stuck, skip the beat.
  using Report = std::function<std::optional<int>()>;  // the running count

  // Beats every `interval` until destroyed. A null `report` beats with 0.
  JobHeartbeat(std::unique_ptr<Store> store, int64_t job_id, Duration interval, Report report);
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
  Report report_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::atomic<bool> healthy_{true};
  std::thread thread_;
};

}  // namespace baton
