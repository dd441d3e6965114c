#include "agent/claim_rules.h"

#include "engine/try_outcome.h"

namespace baton {

bool TryId::operator<(const TryId& other) const {
  if (key == other.key) return try_number < other.try_number;
  return key < other.key;
}

std::string TryId::ToString() const {
  return key.ToString() + " try " + std::to_string(try_number);
}

ClaimVerdict DecideClaim(const std::optional<TaskInstance>& row, int message_try, int64_t job_id,
                         bool claim_was_attempted) {
  if (!row) return {ClaimDecision::kDrop, "the task instance does not exist"};
  if (row->state == TaskState::kQueued && row->try_number == message_try) {
    return {ClaimDecision::kClaim, ""};
  }
  if (claim_was_attempted && row->state == TaskState::kRunning && row->try_number == message_try &&
      row->owner_job_id == job_id) {
    return {ClaimDecision::kAlreadyOurs, ""};
  }
  std::string reason = "the task instance is " + std::string(ToString(row->state)) + " at try " +
                       std::to_string(row->try_number);
  if (row->owner_job_id != 0 && row->state == TaskState::kRunning) {
    reason += " (job " + std::to_string(row->owner_job_id) + " on " + row->hostname + ")";
  }
  return {ClaimDecision::kDrop, reason};
}

std::optional<TaskInstance> QueuedRowOf(const TaskLaunch& launch) {
  if (!launch.queued_columns) return std::nullopt;
  TaskInstance row;
  row.key = launch.key;
  row.state = TaskState::kQueued;
  row.try_number = launch.try_number;
  row.pool = launch.queued_columns->pool;
  row.priority = launch.queued_columns->priority;
  row.queue = launch.queued_columns->queue;
  return row;
}

TaskInstance ClaimedRow(TaskInstance row, const std::string& hostname, int64_t job_id,
                        TimePoint now) {
  row.state = TaskState::kRunning;
  row.hostname = hostname;
  row.owner_job_id = job_id;
  row.start_date = now;
  row.pid = 0;
  row.end_date.reset();
  row.exit_code.reset();
  row.next_retry_at.reset();
  return row;
}

TaskInstance EndedRow(const TaskInstance& claimed, const TaskLaunch& launch,
                      const TaskOutcome& outcome, int pid, TimePoint now) {
  TaskInstance row = claimed;
  row.pid = pid;
  if (outcome.succeeded()) return AfterSucceededTry(std::move(row), now);
  std::optional<int> exit_code;
  if (outcome.exit_code >= 0) exit_code = outcome.exit_code;
  return AfterFailedTry(std::move(row), launch.max_tries, launch.retry_delay, exit_code, now);
}

bool EndAlreadyRecorded(const std::optional<TaskInstance>& row, const TaskInstance& intended) {
  return row && row->state == intended.state && row->try_number == intended.try_number &&
         row->owner_job_id == intended.owner_job_id && row->end_date == intended.end_date;
}

RecoveryDecision DecideRecovery(const std::optional<TaskInstance>& row, int message_try) {
  if (row && row->state == TaskState::kQueued && row->try_number == message_try) {
    return RecoveryDecision::kReclaim;
  }
  return RecoveryDecision::kAbandon;
}

std::string DescribeOutcome(const TaskOutcome& outcome) {
  if (!outcome.error.empty()) return "could not start: " + outcome.error;
  if (outcome.timed_out) return "timed out";
  if (outcome.signal != 0) return "killed by signal " + std::to_string(outcome.signal);
  return "exit code " + std::to_string(outcome.exit_code);
}

}  // namespace baton
