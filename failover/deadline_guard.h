// DeadlineGuard: acts on the lease deadline from a thread of its own, so that a
// controller whose loop hangs in a store or SSH call still stops its scheduler
// before a standby can take the lease.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/time.h"

namespace baton {

// Calls `on_expired` once per arming, on the guard's thread, as soon as the
// clock's Monotonic() reaches the armed deadline or ExpireNow() is called.
// The deadline is looked at every `check_interval` at least (besides waking at
// the deadline itself), so a suspend, which the steady clock of a condition
// variable does not count but CLOCK_BOOTTIME does, is noticed within one
// interval of resuming, and a fake clock in tests is followed too.
class DeadlineGuard {
 public:
  DeadlineGuard(const Clock& clock, Duration check_interval, std::function<void()> on_expired);
  ~DeadlineGuard();  // waits for a running `on_expired` to return
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;

  // Arms the guard for `deadline` (a Monotonic() time), whatever its state.
  void Arm(std::chrono::nanoseconds deadline);
  // Moves the deadline of an armed guard; false, changing nothing, when it has
  // fired (or was never armed) since the latest Arm: the caller has lost.
  bool Extend(std::chrono::nanoseconds deadline);
  // No deadline any more (the lease was released).
  void Disarm();
  // Fires now if armed, without waiting for the deadline.
  void ExpireNow();

 private:
  enum class State { kDisarmed, kArmed, kFired };

  void Loop();

  const Clock& clock_;
  const Duration check_interval_;
  std::function<void()> on_expired_;
  std::mutex mutex_;
  std::condition_variable wake_;
  State state_ = State::kDisarmed;
  std::chrono::nanoseconds deadline_{0};
  bool expire_now_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above are ready
};

}  // namespace baton
