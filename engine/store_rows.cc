// The non-template parts of the row mapping the SQL backends share.
#include "engine/store_rows.h"

#include <array>
#include <set>
#include <utility>

namespace baton {

std::string ExpandStoreSql(std::string_view sql, std::string_view now) {
  const std::array<std::pair<std::string_view, std::string_view>, 11> placeholders{{
      {"{now}", now},
      {"{dag_columns}", DagRows::kColumns},
      {"{import_error_columns}", ImportErrorRows::kColumns},
      {"{dag_run_columns}", DagRunRows::kColumns},
      {"{task_instance_columns}", TaskInstanceRows::kColumns},
      {"{task_try_columns}", TaskTryRows::kColumns},
      {"{job_columns}", JobRows::kColumns},
      {"{registered_job_columns}", JobRows::kRegisteredColumns},
      {"{lease_columns}", LeaseRows::kColumns},
      {"{failover_event_columns}", FailoverEventRows::kColumns},
      {"{recorded_failover_event_columns}", FailoverEventRows::kRecordedColumns},
  }};
  std::string text(sql);
  for (const auto& [placeholder, replacement] : placeholders) {
    for (size_t at = text.find(placeholder); at != std::string::npos;
         at = text.find(placeholder, at + replacement.size())) {
      text.replace(at, placeholder.size(), replacement);
    }
  }
  return text;
}

bool EntersRunning(const TaskTransition& transition) {
  return transition.updated.state == TaskState::kRunning &&
         transition.expected_state != TaskState::kRunning;
}

bool LeavesRunning(const TaskTransition& transition) {
  return transition.expected_state == TaskState::kRunning &&
         transition.updated.state != TaskState::kRunning;
}

Status CheckTaskInstancesOfRun(const DagRun& run, const std::vector<TaskInstance>& task_instances) {
  std::set<std::string_view> task_ids;
  for (const TaskInstance& ti : task_instances) {
    if (ti.key.dag_id != run.dag_id || ti.key.run_id != run.run_id) {
      return Status::InvalidInput("task instance " + ti.key.ToString() + " does not belong to " +
                                  RunName(run.dag_id, run.run_id));
    }
    if (!task_ids.insert(ti.key.task_id).second) {
      return Status::InvalidInput("task '" + ti.key.task_id + "' is listed twice for " +
                                  RunName(run.dag_id, run.run_id));
    }
  }
  return Status::Ok();
}

Status MissingLeaseRow() {
  return Status::Internal(
      "the store has no failover lease row (schema version 3 creates it): migrate the store "
      "(`baton db init`)");
}

Status StaleEpoch(int64_t lease_epoch, int64_t served_epoch, std::string_view who) {
  const std::string served = std::string(who) + " serves epoch " + std::to_string(served_epoch);
  if (lease_epoch > served_epoch) {
    return Status::Fenced("a newer failover epoch " + std::to_string(lease_epoch) + " exists, " +
                          served);
  }
  // Not newer: an epoch given by mistake, or a store restored from an older backup.
  return Status::Fenced("the failover lease is at epoch " + std::to_string(lease_epoch) + ", " +
                        served);
}

Status JobNotFound(int64_t job_id) {
  return Status::NotFound("job " + std::to_string(job_id) + " is not in the store");
}

std::string RunName(const std::string& dag_id, const std::string& run_id) {
  return "dag run '" + run_id + "' of '" + dag_id + "'";
}

}  // namespace baton
