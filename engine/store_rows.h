// The mapping between the store's structs and the rows of its tables, shared by
// the SQL backends. Each struct's columns are listed once, next to the one
// function that reads them and the one that binds them, in the same order.
//
// A backend's statement type provides what these templates use: Bind(values...)
// (parameters in order), Step() (true while a row is ready), and the current
// row's columns read left to right with Text(), Int(), Int32(), Time(),
// OptionalInt32() and OptionalTime().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/store.h"

namespace baton {

// Replaces the column-list placeholders ({dag_columns}, {task_instance_columns},
// {job_columns}, {registered_job_columns}, {lease_columns}, ...) and {now}, the
// database's clock in epoch microseconds, spelled `now`.
std::string ExpandStoreSql(std::string_view sql, std::string_view now);

// An Internal error for a stored name no enum value has.
template <typename T>
Result<T> ParseStored(std::optional<T> value, std::string_view what, const std::string& text) {
  if (!value) {
    return Status::Internal("the store holds an unknown " + std::string(what) + " '" + text + "'");
  }
  return *value;
}

struct DagRows {
  using Value = DagRecord;
  static constexpr std::string_view kColumns = "dag_id, file, schedule, is_paused, last_parsed";

  template <typename Row>
  static Result<DagRecord> Read(Row& row) {
    DagRecord dag;
    dag.dag_id = row.Text();
    dag.file = row.Text();
    dag.schedule = row.Text();
    dag.is_paused = row.Int() != 0;
    dag.last_parsed = row.OptionalTime();
    return dag;
  }
  template <typename Statement>
  static void Bind(Statement& statement, const DagRecord& dag) {
    statement.Bind(dag.dag_id, dag.file, dag.schedule, dag.is_paused ? 1 : 0, dag.last_parsed);
  }
};

struct ImportErrorRows {
  using Value = ImportError;
  static constexpr std::string_view kColumns = "file, message, recorded_at";

  template <typename Row>
  static Result<ImportError> Read(Row& row) {
    ImportError error;
    error.file = row.Text();
    error.message = row.Text();
    error.recorded_at = row.Time();
    return error;
  }
  template <typename Statement>
  static void Bind(Statement& statement, const ImportError& error) {
    statement.Bind(error.file, error.message, error.recorded_at);
  }
};

struct DagRunRows {
  using Value = DagRun;
  static constexpr std::string_view kColumns =
      "dag_id, run_id, state, run_type, logical_date, data_interval_start, data_interval_end, "
      "start_date, end_date, conf";

  template <typename Row>
  static Result<DagRun> Read(Row& row) {
    DagRun run;
    run.dag_id = row.Text();
    run.run_id = row.Text();
    const std::string state = row.Text();
    const std::string run_type = row.Text();
    run.logical_date = row.Time();
    run.data_interval_start = row.Time();
    run.data_interval_end = row.Time();
    run.start_date = row.OptionalTime();
    run.end_date = row.OptionalTime();
    run.conf_json = row.Text();
    auto parsed_state = ParseStored(ParseRunState(state), "run state", state);
    if (!parsed_state.ok()) return parsed_state.status();
    auto parsed_type = ParseStored(ParseRunType(run_type), "run type", run_type);
    if (!parsed_type.ok()) return parsed_type.status();
    run.state = *parsed_state;
    run.run_type = *parsed_type;
    return run;
  }
  template <typename Statement>
  static void Bind(Statement& statement, const DagRun& run) {
    statement.Bind(run.dag_id, run.run_id, ToString(run.state), ToString(run.run_type),
                   run.logical_date, run.data_interval_start, run.data_interval_end, run.start_date,
                   run.end_date, run.conf_json);
  }
};

struct TaskInstanceRows {
  using Value = TaskInstance;
  // The key's three columns, then kFieldColumns.
  static constexpr std::string_view kColumns =
      "dag_id, run_id, task_id, state, try_number, start_date, end_date, exit_code, "
      "next_retry_at, pool, priority, queue, hostname, pid, owner_job_id";
  // What a transition may change, as "column = ?" in the order BindFields binds.
  static constexpr std::string_view kFieldAssignments =
      "state = ?, try_number = ?, start_date = ?, end_date = ?, exit_code = ?, "
      "next_retry_at = ?, pool = ?, priority = ?, queue = ?, hostname = ?, pid = ?, "
      "owner_job_id = ?";

  template <typename Row>
  static Result<TaskInstance> Read(Row& row) {
    TaskInstance ti;
    ti.key.dag_id = row.Text();
    ti.key.run_id = row.Text();
    ti.key.task_id = row.Text();
    const std::string state = row.Text();
    ti.try_number = row.Int32();
    ti.start_date = row.OptionalTime();
    ti.end_date = row.OptionalTime();
    ti.exit_code = row.OptionalInt32();
    ti.next_retry_at = row.OptionalTime();
    ti.pool = row.Text();
    ti.priority = row.Int32();
    ti.queue = row.Text();
    ti.hostname = row.Text();
    ti.pid = row.Int32();
    ti.owner_job_id = row.Int();
    auto parsed_state = ParseStored(ParseTaskState(state), "task state", state);
    if (!parsed_state.ok()) return parsed_state.status();
    ti.state = *parsed_state;
    return ti;
  }
  template <typename Statement>
  static void BindKey(Statement& statement, const TaskInstanceKey& key) {
    statement.Bind(key.dag_id, key.run_id, key.task_id);
  }
  template <typename Statement>
  static void BindFields(Statement& statement, const TaskInstance& ti) {
    statement.Bind(ToString(ti.state), ti.try_number, ti.start_date, ti.end_date, ti.exit_code,
                   ti.next_retry_at, ti.pool, ti.priority, ti.queue, ti.hostname, ti.pid,
                   ti.owner_job_id);
  }
  template <typename Statement>
  static void Bind(Statement& statement, const TaskInstance& ti) {
    BindKey(statement, ti.key);
    BindFields(statement, ti);
  }
};

struct TaskTryRows {
  using Value = TaskTry;
  static constexpr std::string_view kColumns =
      "dag_id, run_id, task_id, try_number, state, hostname, pid, start_date, end_date, exit_code";

  template <typename Row>
  static Result<TaskTry> Read(Row& row) {
    TaskTry task_try;
    task_try.key.dag_id = row.Text();
    task_try.key.run_id = row.Text();
    task_try.key.task_id = row.Text();
    task_try.try_number = row.Int32();
    const std::string state = row.Text();
    task_try.hostname = row.Text();
    task_try.pid = row.Int32();
    task_try.start_date = row.Time();
    task_try.end_date = row.OptionalTime();
    task_try.exit_code = row.OptionalInt32();
    auto parsed_state = ParseStored(ParseTaskState(state), "task state", state);
    if (!parsed_state.ok()) return parsed_state.status();
    task_try.state = *parsed_state;
    return task_try;
  }
  template <typename Statement>
  static void Bind(Statement& statement, const TaskTry& task_try) {
    statement.Bind(task_try.key.dag_id, task_try.key.run_id, task_try.key.task_id,
                   task_try.try_number, ToString(task_try.state), task_try.hostname, task_try.pid,
                   task_try.start_date, task_try.end_date, task_try.exit_code);
  }
};

// A job's row followed by the age of its heartbeat in microseconds, by the
// database's clock ("SELECT {job_columns}, {now} - latest_heartbeat ...").
struct JobRows {
  using Value = JobRecord;
  // The id and both dates are the database's.
  static constexpr std::string_view kColumns =
      "id, kind, name, queues, endpoint, running_count, hostname, pid, process_start_ticks, "
      "state, start_date, latest_heartbeat";
  // What RegisterJob writes, in the order Bind binds.
  static constexpr std::string_view kRegisteredColumns =
      "kind, name, queues, endpoint, running_count, hostname, pid, process_start_ticks, state";

  template <typename Row>
  static Result<JobRecord> Read(Row& row) {
    JobRecord job;
    job.id = row.Int();
    job.kind = row.Text();
    job.name = row.Text();
    job.queues = row.Text();
    job.endpoint = row.Text();
    job.running_count = row.Int32();
    job.hostname = row.Text();
    job.pid = row.Int32();
    job.process_start_ticks = row.Int();
    job.state = row.Text();
    job.start_date = row.Time();
    job.latest_heartbeat = row.Time();
    job.heartbeat_age = std::chrono::duration_cast<Duration>(Micros(row.Int()));
    return job;
  }
  // A new job, registered as running.
  template <typename Statement>
  static void Bind(Statement& statement, const JobRecord& job) {
    statement.Bind(job.kind, job.name, job.queues, job.endpoint, job.running_count, job.hostname,
                   job.pid, job.process_start_ticks, kJobRunning);
  }
};

// The lease row followed by the time it has left in microseconds, by the
// database's clock ("SELECT {lease_columns}, expires_at - {now} ...").
struct LeaseRows {
  using Value = Lease;
  static constexpr std::string_view kColumns =
      "holder, holder_job_id, epoch, expires_at, scheduler_node, promote_to, maintenance";

  template <typename Row>
  static Result<Lease> Read(Row& row) {
    Lease lease;
    lease.holder = row.Text();
    lease.holder_job_id = row.Int();
    lease.epoch = row.Int();
    lease.expires_at = row.Time();
    lease.scheduler_node = row.Text();
    lease.promote_to = row.Text();
    lease.maintenance = row.Int() != 0;
    lease.remaining = std::chrono::duration_cast<Duration>(Micros(row.Int()));
    return lease;
  }
};

struct FailoverEventRows {
  using Value = FailoverEvent;
  // The id and `at` are the database's.
  static constexpr std::string_view kColumns = "id, at, node, epoch, kind, message";
  // What RecordFailoverEvent writes, in the order Bind binds.
  static constexpr std::string_view kRecordedColumns = "node, epoch, kind, message";

  template <typename Row>
  static Result<FailoverEvent> Read(Row& row) {
    FailoverEvent event;
    event.id = row.Int();
    event.at = row.Time();
    event.node = row.Text();
    event.epoch = row.Int();
    event.kind = row.Text();
    event.message = row.Text();
    return event;
  }
  template <typename Statement>
  static void Bind(Statement& statement, const FailoverEvent& event) {
    statement.Bind(event.node, event.epoch, event.kind, event.message);
  }
};

// Every row the statement returns.
template <typename Rows, typename Statement>
Result<std::vector<typename Rows::Value>> ReadAll(Statement& statement) {
  std::vector<typename Rows::Value> rows;
  for (;;) {
    auto more = statement.Step();
    if (!more.ok()) return more.status();
    if (!*more) return rows;
    auto row = Rows::Read(statement);
    if (!row.ok()) return row.status();
    rows.push_back(std::move(*row));
  }
}

// The one row the statement returns, or nothing.
template <typename Rows, typename Statement>
Result<std::optional<typename Rows::Value>> ReadOptional(Statement& statement) {
  auto more = statement.Step();
  if (!more.ok()) return more.status();
  if (!*more) return std::optional<typename Rows::Value>();
  auto row = Rows::Read(statement);
  if (!row.ok()) return row.status();
  return std::optional(std::move(*row));
}

// The status of a Status or a Result.
inline const Status& StatusOf(const Status& status) { return status; }
template <typename T>
const Status& StatusOf(const Result<T>& result) {
  return result.status();
}

// A transition that starts a try (and inserts its row) or ends one (and closes it).
bool EntersRunning(const TaskTransition& transition);
bool LeavesRunning(const TaskTransition& transition);

// InvalidInput unless every task instance belongs to `run` and no task is listed twice.
Status CheckTaskInstancesOfRun(const DagRun& run, const std::vector<TaskInstance>& task_instances);

// The states ClearTaskInstances resets.
inline constexpr TaskState kClearableStates[] = {TaskState::kSuccess, TaskState::kFailed,
                                                 TaskState::kUpstreamFailed, TaskState::kSkipped,
                                                 TaskState::kUpForRetry};

// Internal: a store migrated to version 3 always has the lease row.
Status MissingLeaseRow();

// The lease, which the statement (engine/lease_sql.h's kSelectLease) returns.
template <typename Statement>
Result<Lease> ReadLease(Statement& statement) {
  auto lease = ReadOptional<LeaseRows>(statement);
  if (!lease.ok()) return lease.status();
  if (!lease->has_value()) return MissingLeaseRow();
  return std::move(**lease);
}

// Fenced: the lease has moved on to `lease_epoch` while `who` ("this
// scheduler") still serves `served_epoch`.
Status StaleEpoch(int64_t lease_epoch, int64_t served_epoch, std::string_view who);

// The lease's epoch, which the statement (kSelectLeaseEpoch) returns.
template <typename Statement>
Result<int64_t> ReadLeaseEpoch(Statement& statement) {
  auto row = statement.Step();
  if (!row.ok()) return row.status();
  if (!*row) return MissingLeaseRow();
  return statement.Int();
}

// Runs the statement that reads the lease's epoch: Ok when it is still
// `served_epoch`, else StaleEpoch.
template <typename Statement>
Status CheckLeaseEpoch(Statement& statement, int64_t served_epoch, std::string_view who) {
  auto lease_epoch = ReadLeaseEpoch(statement);
  if (!lease_epoch.ok()) return lease_epoch.status();
  if (*lease_epoch == served_epoch) return Status::Ok();
  return StaleEpoch(*lease_epoch, served_epoch, who);
}

// A lease duration as the store adds it to its clock.
inline int64_t MicrosOf(Duration duration) {
  return std::chrono::duration_cast<Micros>(duration).count();
}

Status JobNotFound(int64_t job_id);
std::string RunName(const std::string& dag_id, const std::string& run_id);

}  // namespace baton
