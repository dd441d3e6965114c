// What an agent does with a task message, given the task instance's row in the
// store: claim it, drop it, reclaim or abandon it after a restart, and the row
// it writes when the try ends. Pure functions: the threads that talk to the
// store and Redis apply them.
#pragma once

#include <optional>
#include <string>

#include "common/time.h"
#include "engine/executor.h"
#include "engine/store.h"

namespace baton {

// One try of one task instance: what a message names.
struct TryId {
  TaskInstanceKey key;
  int try_number = 0;
  bool operator==(const TryId&) const = default;
  bool operator<(const TryId& other) const;
  std::string ToString() const;  // "dag_id/run_id/task_id try N"
};

enum class ClaimDecision {
  kClaim,        // queued with the message's try: compare-and-set it to running
  kAlreadyOurs,  // our own claim went through although its reply was lost
  kDrop,         // claimed elsewhere, cleared, moved on, or a stale duplicate
};

struct ClaimVerdict {
  ClaimDecision decision = ClaimDecision::kDrop;
  std::string reason;  // for kDrop, what the row says, for the log
};

// `row` is the instance as the store has it now (empty: no such instance).
// `claim_was_attempted`: an earlier compare-and-set for this message failed
// without an answer, so a running row owned by `job_id` is that claim's.
ClaimVerdict DecideClaim(const std::optional<TaskInstance>& row, int message_try, int64_t job_id,
                         bool claim_was_attempted);

// The row as the scheduler queued the try, from the columns its message
// carries; nullopt when the message carries none (an older scheduler's).
std::optional<TaskInstance> QueuedRowOf(const TaskLaunch& launch);

// The row a claim writes: running, on `hostname`, owned by `job_id`, started
// `now`, pid 0 until the end is recorded.
TaskInstance ClaimedRow(TaskInstance row, const std::string& hostname, int64_t job_id,
                        TimePoint now);

// The row written when the try ended at `now`: success, up_for_retry or failed
// by the message's max_tries and retry_delay, with the process's pid.
TaskInstance EndedRow(const TaskInstance& claimed, const TaskLaunch& launch,
                      const TaskOutcome& outcome, int pid, TimePoint now);

// Whether an end-row compare-and-set that failed after an unanswered attempt
// had in fact been applied: the store already holds what we meant to write.
bool EndAlreadyRecorded(const std::optional<TaskInstance>& row, const TaskInstance& intended);

enum class RecoveryDecision {
  kReclaim,  // still queued with that try: back to its queue, taken next
  kAbandon,  // claimed (by this agent's previous life or another) or moved on
};

// A message found in the agent's processing list at start-up.
RecoveryDecision DecideRecovery(const std::optional<TaskInstance>& row, int message_try);

// "exit code 3", "killed by signal 9", "timed out", "could not start: ..."
std::string DescribeOutcome(const TaskOutcome& outcome);

}  // namespace baton
