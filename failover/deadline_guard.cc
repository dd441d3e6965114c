#include "failover/deadline_guard.h"

#include <algorithm>
#include <utility>

namespace baton {

DeadlineGuard::DeadlineGuard(const Clock& clock, Duration check_interval,
                             std::function<void()> on_expired)
    : clock_(clock),
      check_interval_(check_interval),
      on_expired_(std::move(on_expired)),
      thread_([this] { Loop(); }) {}

DeadlineGuard::~DeadlineGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void DeadlineGuard::Arm(std::chrono::nanoseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    state_ = State::kArmed;
    deadline_ = deadline;
    expire_now_ = false;
  }
  wake_.notify_all();
}

bool DeadlineGuard::Extend(std::chrono::nanoseconds deadline) {
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kArmed || expire_now_) return false;
    deadline_ = deadline;
  }
  wake_.notify_all();
  return true;
}

void DeadlineGuard::Disarm() {
  std::lock_guard lock(mutex_);
  state_ = State::kDisarmed;
  expire_now_ = false;
}

void DeadlineGuard::ExpireNow() {
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kArmed) return;
    expire_now_ = true;
  }
  wake_.notify_all();
}

void DeadlineGuard::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (state_ == State::kArmed && (expire_now_ || clock_.Monotonic() >= deadline_)) {
      state_ = State::kFired;
      expire_now_ = false;
      lock.unlock();
      on_expired_();
      lock.lock();
      continue;
    }
    if (state_ != State::kArmed) {
      wake_.wait(lock);
      continue;
    }
    const std::chrono::nanoseconds left = deadline_ - clock_.Monotonic();
    wake_.wait_for(lock, std::clamp(left, std::chrono::nanoseconds(0),
                                    std::chrono::nanoseconds(check_interval_)));
  }
}

}  // namespace baton
