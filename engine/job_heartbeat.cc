#include "engine/job_heartbeat.h"

#include <spdlog/spdlog.h>

namespace baton {

JobHeartbeat::JobHeartbeat(std::unique_ptr<Store> store, int64_t job_id, Duration interval,
                           std::function<int()> running_count)
    : store_(std::move(store)),
      job_id_(job_id),
      interval_(interval),
      running_count_(std::move(running_count)),
      thread_([this] { Loop(); }) {}

JobHeartbeat::~JobHeartbeat() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JobHeartbeat::Loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    Status beat = store_->HeartbeatJob(job_id_, running_count_ ? running_count_() : 0);
    if (!beat.ok()) {
      // Log the change of state, not every failed beat of an outage.
      if (healthy_.exchange(false))
        spdlog::error("heartbeat of job {} failed: {}", job_id_, beat.message());
    } else if (!healthy_.exchange(true)) {
      spdlog::info("heartbeat of job {} recorded again", job_id_);
    }
    lock.lock();
  }
}

}  // namespace baton
