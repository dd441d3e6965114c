#include "engine/try_outcome.h"

namespace baton {

TaskInstance AfterSucceededTry(TaskInstance instance, TimePoint now) {
  instance.state = TaskState::kSuccess;
  instance.end_date = now;
  instance.exit_code = 0;
  return instance;
}

TaskInstance AfterFailedTry(TaskInstance instance, int max_tries, Duration retry_delay,
                            std::optional<int> exit_code, TimePoint now) {
  instance.end_date = now;
  instance.exit_code = exit_code;
  if (instance.try_number < max_tries) {
    instance.state = TaskState::kUpForRetry;
    instance.next_retry_at = now + std::chrono::duration_cast<Micros>(retry_delay);
  } else {
    instance.state = TaskState::kFailed;
  }
  return instance;
}

}  // namespace baton
