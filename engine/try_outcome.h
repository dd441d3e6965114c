// How a task instance moves when one of its tries ends, decided the same way by
// the scheduler (local executor) and by an agent (Redis executor).
#pragma once

#include <optional>

#include "common/time.h"
#include "engine/store.h"

namespace baton {

// The instance after a successful try ended at `now`.
TaskInstance AfterSucceededTry(TaskInstance instance, TimePoint now);

// The instance after a failed try ended at `now`: up_for_retry (due after
// `retry_delay`) while tries remain out of `max_tries`, failed otherwise.
// `exit_code` is empty when the try was killed or never ran.
TaskInstance AfterFailedTry(TaskInstance instance, int max_tries, Duration retry_delay,
                            std::optional<int> exit_code, TimePoint now);

}  // namespace baton
