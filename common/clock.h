// Clock: the one way Baton code asks for the time, so that timer-driven state
// machines can be driven by a fake clock in tests.
#pragma once

#include <chrono>

#include "common/time.h"

namespace baton {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in UTC. Never used to decide liveness across hosts.
  virtual TimePoint Now() const = 0;
  // A monotonic clock that keeps counting through a suspend (CLOCK_BOOTTIME).
  virtual std::chrono::nanoseconds Monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  std::chrono::nanoseconds Monotonic() const override;
};

// A process-wide SystemClock for code that is not under test.
const Clock& DefaultClock();

}  // namespace baton
