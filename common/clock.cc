#include "common/clock.h"

#include <time.h>

namespace baton {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
}

std::chrono::nanoseconds SystemClock::Monotonic() const {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

const Clock& DefaultClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace baton
