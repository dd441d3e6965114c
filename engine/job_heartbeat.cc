#include "engine/job_heartbeat.h"

#include <spdlog/spdlog.h>

namespace baton {

JobHeartbeat::JobHeartbeat(std::unique_ptr<Store> store, int64_t job_id, Duration interval,
                           Report report)
    : store_(std::move(store)),
      job_id_(job_id),
      interval_(interval),
      report_(std::move(report)),
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
    std::optional<int> running = report_ ? report_() : std::optional<int>(0);
    if (!running) {
      if (healthy_.exchange(false)) {
        spdlog::error("job {}: its loop has made no progress lately; heartbeats stop until it does",
                      job_id_);
      }
      lock.lock();
      continue;
    }
    Status beat = store_->HeartbeatJob(job_id_, *running);
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
