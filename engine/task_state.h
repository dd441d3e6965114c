// The states of task instances and DAG runs, and their names in files, the store
// and the CLI. They follow Airflow's, which operators already know.
#pragma once

#include <optional>
#include <string_view>

namespace baton {

enum class TaskState {
  kNone,       // created with its run, waiting for its upstream tasks
  kScheduled,  // its trigger rule is met; waiting for a slot
  kQueued,     // handed to an executor
  kRunning,    // its process has started
  kSuccess,
  kFailed,
  kUpForRetry,      // failed with retries left; waiting for retry_delay
  kUpstreamFailed,  // will not run: an upstream failed
  kSkipped,         // will not run: its trigger rule says so
};

enum class RunState { kQueued, kRunning, kSuccess, kFailed };

std::string_view ToString(TaskState state);
std::string_view ToString(RunState state);
std::optional<TaskState> ParseTaskState(std::string_view name);
std::optional<RunState> ParseRunState(std::string_view name);

// success, failed, upstream_failed and skipped: nothing will move it again
// (but an operator's `tasks clear`).
bool IsFinished(TaskState state);
bool IsFinished(RunState state);

}  // namespace baton
