// A Clock whose time moves only when a test says so.
#pragma once

#include "common/clock.h"

namespace baton::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start) {}
  TimePoint Now() const override { return now_; }
  std::chrono::nanoseconds Monotonic() const override { return monotonic_; }
  void Advance(std::chrono::nanoseconds d) {
    now_ += std::chrono::duration_cast<Micros>(d);
    monotonic_ += d;
  }
  void SetWallTime(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
  std::chrono::nanoseconds monotonic_{0};
};

}  // namespace baton::testing
