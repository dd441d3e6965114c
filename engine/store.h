// Store: the metadata database, the single source of truth for DAGs, runs, task
// instances, their tries and the daemons' heartbeats. SQLite is the embedded
// backend; MySQL/MariaDB sits behind the same interface for a cluster.
//
// Every state change is a compare-and-set on the row's current state and try
// number, so two actors can never both move the same task instance; unique keys
// on (dag_id, run_id), (dag_id, logical_date) and (dag_id, run_id, task_id,
// try_number) back that up. Times that decide liveness (heartbeat ages) come
// from the database's clock, never from a comparison of two hosts' clocks.
//
// A Store object is used by one thread at a time; open one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "config/config.h"
#include "engine/task_state.h"

namespace baton {

struct DagRecord {
  std::string dag_id;
  std::string file;
  std::string schedule;
  bool is_paused = false;
  std::optional<TimePoint> last_parsed;
};

// A DAG file that could not be loaded; `message` already reads
// "file:line:col: what is wrong".
struct ImportError {
  std::string file;
  std::string message;
  TimePoint recorded_at;
};

enum class RunType { kScheduled, kManual, kBackfill };
std::string_view ToString(RunType type);  // "scheduled", "manual", "backfill"
std::optional<RunType> ParseRunType(std::string_view name);

struct DagRun {
  std::string dag_id;
  std::string run_id;
  RunState state = RunState::kQueued;
  RunType run_type = RunType::kManual;
  TimePoint logical_date;
  TimePoint data_interval_start;
  TimePoint data_interval_end;
  std::optional<TimePoint> start_date;
  std::optional<TimePoint> end_date;
  std::string conf_json = "{}";  // a JSON object given at trigger time
};

struct TaskInstanceKey {
  std::string dag_id;
  std::string run_id;
  std::string task_id;
  bool operator==(const TaskInstanceKey&) const = default;
  bool operator<(const TaskInstanceKey& other) const;
  std::string ToString() const;  // "dag_id/run_id/task_id"
};

struct TaskInstance {
  TaskInstanceKey key;
  TaskState state = TaskState::kNone;
  int try_number = 0;  // the current or last try; 0 before the first
  std::optional<TimePoint> start_date;
  std::optional<TimePoint> end_date;
  std::optional<int> exit_code;
  std::optional<TimePoint> next_retry_at;  // set while up_for_retry
  std::string pool;
  int priority = 1;
  std::string queue;
  std::string hostname;      // where the current try runs or ran
  int pid = 0;               // its process (and process group) id there
  int64_t owner_job_id = 0;  // the job (scheduler or agent) that runs it; 0: none
};

// One try of a task instance: a row is inserted when the try starts running (the
// unique key refuses a second start of the same try) and closed when it ends.
struct TaskTry {
  TaskInstanceKey key;
  int try_number = 0;
  TaskState state = TaskState::kRunning;
  std::string hostname;
  int pid = 0;
  TimePoint start_date;
  std::optional<TimePoint> end_date;
  std::optional<int> exit_code;
};

// A compare-and-set on one task instance: applied only when the row is still in
// `expected_state` with `expected_try`; then every mutable column takes the value
// in `updated`. Moving to running inserts the TaskTry row; moving from running
// closes it.
struct TaskTransition {
  TaskState expected_state;
  int expected_try;
  TaskInstance updated;
};

// JobRecord::kind values.
inline constexpr const char* kSchedulerJob = "scheduler";
inline constexpr const char* kAgentJob = "agent";
inline constexpr const char* kControllerJob = "controller";  // a failover controller
// The kinds whose jobs own task instances, in the order they are listed.
inline constexpr const char* kJobKinds[] = {kSchedulerJob, kAgentJob};

// JobRecord::state values.
inline constexpr std::string_view kJobRunning = "running";
inline constexpr std::string_view kJobEnded = "ended";

// A daemon's row: the scheduler, agents and failover controllers.
struct JobRecord {
  int64_t id = 0;
  std::string kind;       // kSchedulerJob, kAgentJob, kControllerJob
  // An agent's name (unique among agents); a controller's or scheduler's failover
  // node name; empty for a scheduler outside a failover cluster.
  std::string name;
  std::string queues;     // an agent's queues, comma-separated
  std::string endpoint;   // "host:port" of an agent's log server; empty: none
  int running_count = 0;  // tries an agent runs, as of its latest heartbeat
  std::string hostname;
  int pid = 0;
  int64_t process_start_ticks = 0;  // from /proc/PID/stat, with pid it names the process
  std::string state;                // "running" or "ended"
  TimePoint start_date;
  TimePoint latest_heartbeat;
  Duration heartbeat_age{0};  // by the database's clock, when listed
};

// The failover lease: one row that names the active controller. Its epoch grows
// by one with every new holder and with every scheduler start after the first of
// a holder, and never decreases, not even when cleared.
struct Lease {
  std::string holder;         // the holder's node name; empty: never held or cleared
  int64_t holder_job_id = 0;  // its controller job row: node name plus process life
  int64_t epoch = 0;
  TimePoint expires_at;
  Duration remaining{0};        // expires_at minus the database's now; <= 0: expired
  std::string scheduler_node;   // where the holder last started the scheduler
  std::string promote_to;       // a planned switchover's target node; empty: none
  bool maintenance = false;     // set: the active controller keeps the lease, does nothing else
};

// FailoverEvent::kind values: every decision a controller takes.
inline constexpr const char* kEventAcquired = "acquired";
inline constexpr const char* kEventRenewedLate = "renewed_late";
inline constexpr const char* kEventLostLease = "lost_lease";
inline constexpr const char* kEventReleased = "released";
inline constexpr const char* kEventSchedulerStarted = "scheduler_started";
inline constexpr const char* kEventSchedulerRestarted = "scheduler_restarted";
inline constexpr const char* kEventSchedulerUnhealthy = "scheduler_unhealthy";
inline constexpr const char* kEventMoved = "moved";
inline constexpr const char* kEventMoveFailed = "move_failed";
inline constexpr const char* kEventFenced = "fenced";
inline constexpr const char* kEventPromote = "promote";
inline constexpr const char* kEventMaintenance = "maintenance";

// One row of the failover history.
struct FailoverEvent {
  int64_t id = 0;
  TimePoint at;  // the database's clock when recorded
  std::string node;
  int64_t epoch = 0;
  std::string kind;
  std::string message;
};

struct RunFilter {
  std::optional<std::string> dag_id;
  std::optional<RunState> state;
  int limit = 0;  // 0: no limit; newest first
};

class Store {
 public:
  virtual ~Store() = default;

  // Schema. Migrate() brings the schema to kSchemaVersion and is idempotent.
  static constexpr int kSchemaVersion = 3;
  virtual Status Migrate() = 0;
  virtual Result<int> SchemaVersion() = 0;
  // The database's own clock.
  virtual Result<TimePoint> Now() = 0;

  // DAGs. SyncDag inserts a DAG with is_paused = paused_on_create, or updates its
  // file, schedule and last_parsed without touching is_paused.
  virtual Status SyncDag(const DagRecord& dag, bool paused_on_create) = 0;
  virtual Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) = 0;
  virtual Result<std::vector<DagRecord>> ListDags() = 0;
  virtual Status SetDagPaused(const std::string& dag_id, bool paused) = 0;  // NotFound
  virtual Status ReplaceImportErrors(const std::vector<ImportError>& errors) = 0;
  virtual Result<std::vector<ImportError>> ListImportErrors() = 0;

  // Runs. CreateDagRun inserts the run and its task instances in one
  // transaction; false (and nothing written) when the run id or the logical date
  // is taken.
  virtual Result<bool> CreateDagRun(const DagRun& run,
                                    const std::vector<TaskInstance>& task_instances) = 0;
  virtual Result<std::optional<DagRun>> GetDagRun(const std::string& dag_id,
                                                  const std::string& run_id) = 0;
  virtual Result<std::vector<DagRun>> ListDagRuns(const RunFilter& filter) = 0;
  // Compare-and-set of a run's state; Conflict when it is no longer `from`,
  // NotFound when there is no such run. A date left empty keeps its value.
  virtual Status SetDagRunState(const std::string& dag_id, const std::string& run_id, RunState from,
                                RunState to, std::optional<TimePoint> start_date,
                                std::optional<TimePoint> end_date) = 0;
  // The latest logical date of the DAG's scheduled runs.
  virtual Result<std::optional<TimePoint>> LatestScheduledLogicalDate(
      const std::string& dag_id) = 0;

  // Task instances.
  virtual Result<std::vector<TaskInstance>> ListTaskInstances(const std::string& dag_id,
                                                              const std::string& run_id) = 0;
  virtual Result<std::optional<TaskInstance>> GetTaskInstance(const TaskInstanceKey& key) = 0;
  // Every task instance of every queued or running run.
  virtual Result<std::vector<TaskInstance>> ListTaskInstancesOfActiveRuns() = 0;
  // Applies the transitions in one transaction; result[i] tells whether
  // transitions[i] matched its expected state and try and was applied.
  virtual Result<std::vector<bool>> ApplyTransitions(
      const std::vector<TaskTransition>& transitions) = 0;
  // Resets the named finished task instances to none (keeping their try number,
  // so the next try gets a new one) and moves their run back to queued. Returns
  // how many were cleared; queued or running ones are left alone.
  virtual Result<int> ClearTaskInstances(const std::string& dag_id, const std::string& run_id,
                                         const std::vector<std::string>& task_ids) = 0;
  virtual Result<std::vector<TaskTry>> ListTaskTries(const TaskInstanceKey& key) = 0;

  // Jobs and their heartbeats (by the database's clock).
  virtual Result<int64_t> RegisterJob(const JobRecord& job) = 0;
  // NotFound when the row is gone. `running_count` is stored with the beat.
  virtual Status HeartbeatJob(int64_t job_id, int running_count) = 0;
  virtual Status EndJob(int64_t job_id) = 0;
  // Jobs of a kind that are not ended, newest heartbeat first, with heartbeat_age set.
  virtual Result<std::vector<JobRecord>> ListRunningJobs(const std::string& kind) = 0;
  // Any job, ended or not, with heartbeat_age set.
  virtual Result<std::optional<JobRecord>> GetJob(int64_t job_id) = 0;

  // Failover. The lease row exists once migrated. Acquire and renew are each one
  // conditional UPDATE decided by its affected-row count, by the database's clock.
  virtual Result<Lease> GetLease() = 0;
  // Takes the lease for `node` (controller job `job_id`) when it has expired and
  // no switchover names another node (a switchover's target that does not take it
  // within one more `ttl` loses its claim): epoch + 1, expires now + ttl,
  // promote_to cleared. The new epoch, or nullopt when somebody else holds it.
  virtual Result<std::optional<int64_t>> AcquireLease(const std::string& node, int64_t job_id,
                                                      Duration ttl) = 0;
  // Extends the lease held by `job_id` with `epoch` to now + ttl; false when it is
  // no longer held so (expired and taken, or cleared). A lease that expired but
  // that nobody took yet is still held so, and renewing it succeeds: nobody can
  // have acted on it, since taking it raises the epoch.
  virtual Result<bool> RenewLease(int64_t job_id, int64_t epoch, Duration ttl) = 0;
  // While the lease is held by `job_id` with `epoch` (as RenewLease means it),
  // moves it to epoch + 1 in one conditional UPDATE, keeping the holder and the
  // expiry, so that every scheduler started for an earlier epoch is fenced. The
  // holder calls it before each scheduler start but the first. The new epoch, or
  // nullopt when the lease is no longer held so.
  virtual Result<std::optional<int64_t>> AdvanceEpoch(int64_t job_id, int64_t epoch) = 0;
  // Ends the lease now when it is still held by `job_id` with `epoch` and has
  // not expired, so a standby takes it at its next try; otherwise does nothing.
  // The holder's name stays, as the last holder's.
  virtual Status ReleaseLease(int64_t job_id, int64_t epoch) = 0;
  // Records where the scheduler of `epoch` runs; Fenced when the epoch moved on.
  virtual Status SetSchedulerNode(int64_t epoch, const std::string& node) = 0;
  virtual Status SetPromoteTo(const std::string& node) = 0;  // empty: cancel
  virtual Status SetMaintenance(bool on) = 0;
  virtual Status RecordFailoverEvent(const FailoverEvent& event) = 0;  // `id`, `at` ignored
  // Newest first (by the database's clock); limit <= 0: all of them.
  virtual Result<std::vector<FailoverEvent>> ListFailoverEvents(int limit) = 0;
  // Forgets the holder, scheduler node, switchover, maintenance and history, and
  // ends every controller job row; the epoch stays, so fencing still holds. The
  // lease is free at once.
  virtual Status ClearFailoverMetadata() = 0;

  // Fencing. Once set, every scheduling write (ApplyTransitions, CreateDagRun,
  // SetDagRunState) first checks in its own transaction that the lease epoch is
  // still `epoch` (holding the lease row against a concurrent acquire until it
  // commits) and returns Fenced, writing nothing, when it is not.
  virtual void SetFencingEpoch(int64_t epoch) = 0;
};

// Opens the store named by config.url: "sqlite:///absolute/path.db",
// "sqlite:relative.db" (relative to `home`) or "mysql://USER@HOST:PORT/DB" (its
// password from $BATON_STORE_PASSWORD or config.password_file).
Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config, const std::string& home);

// Ok when `store` (opened from `url`) is at Store::kSchemaVersion; Unavailable,
// saying what to run, when it is older or newer. A daemon or command checks
// this once before it uses the store.
Status CheckSchemaCurrent(Store& store, const std::string& url);

}  // namespace baton
