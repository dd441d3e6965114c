// SqliteStore: the Store on an SQLite database file, the embedded default.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace baton {

class SqliteStatement;

// A connection to one SQLite file in WAL mode. Several SqliteStore objects (in
// threads or processes) may share the file: every write is one BEGIN IMMEDIATE
// transaction, and a writer waits up to five seconds for another to finish.
// The connection opens on first use; only Migrate() creates the file (and its
// folder), so a mistyped path is reported rather than silently made empty.
class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path);
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Migrate() override;
  Result<int> SchemaVersion() override;
  Result<TimePoint> Now() override;

  Status SyncDag(const DagRecord& dag, bool paused_on_create) override;
  Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) override;
  Result<std::vector<DagRecord>> ListDags() override;
  Status SetDagPaused(const std::string& dag_id, bool paused) override;
  Status ReplaceImportErrors(const std::vector<ImportError>& errors) override;
  Result<std::vector<ImportError>> ListImportErrors() override;

  Result<bool> CreateDagRun(const DagRun& run,
                            const std::vector<TaskInstance>& task_instances) override;
  Result<std::optional<DagRun>> GetDagRun(const std::string& dag_id,
                                          const std::string& run_id) override;
  Result<std::vector<DagRun>> ListDagRuns(const RunFilter& filter) override;
  Status SetDagRunState(const std::string& dag_id, const std::string& run_id, RunState from,
                        RunState to, std::optional<TimePoint> start_date,
                        std::optional<TimePoint> end_date) override;
  Result<std::optional<TimePoint>> LatestScheduledLogicalDate(const std::string& dag_id) override;

  Result<std::vector<TaskInstance>> ListTaskInstances(const std::string& dag_id,
                                                      const std::string& run_id) override;
  Result<std::optional<TaskInstance>> GetTaskInstance(const TaskInstanceKey& key) override;
  Result<std::vector<TaskInstance>> ListTaskInstancesOfActiveRuns() override;
  Result<std::vector<bool>> ApplyTransitions(
      const std::vector<TaskTransition>& transitions) override;
  Result<int> ClearTaskInstances(const std::string& dag_id, const std::string& run_id,
                                 const std::vector<std::string>& task_ids) override;
  Result<std::vector<TaskTry>> ListTaskTries(const TaskInstanceKey& key) override;

  Result<int64_t> RegisterJob(const JobRecord& job) override;
  Status HeartbeatJob(int64_t job_id, int running_count) override;
  Status EndJob(int64_t job_id) override;
  Result<std::vector<JobRecord>> ListRunningJobs(const std::string& kind) override;
  Result<std::optional<JobRecord>> GetJob(int64_t job_id) override;

  Result<Lease> GetLease() override;
  Result<std::optional<int64_t>> AcquireLease(const std::string& node, int64_t job_id,
                                              Duration ttl) override;
  Result<bool> RenewLease(int64_t job_id, int64_t epoch, Duration ttl) override;
  Result<std::optional<int64_t>> AdvanceEpoch(int64_t job_id, int64_t epoch) override;
  Status ReleaseLease(int64_t job_id, int64_t epoch) override;
  Status SetSchedulerNode(int64_t epoch, const std::string& node) override;
  Status SetPromoteTo(const std::string& node) override;
  Status SetMaintenance(bool on) override;
  Status RecordFailoverEvent(const FailoverEvent& event) override;
  Result<std::vector<FailoverEvent>> ListFailoverEvents(int limit) override;
  Status ClearFailoverMetadata() override;

  void SetFencingEpoch(int64_t epoch) override { fencing_epoch_ = epoch; }

 private:
  // Opens the connection if it is not open yet; `create` makes the file.
  Status Connect(bool create);
  // WAL, synchronous=NORMAL, foreign keys and the busy timeout.
  Status Configure();
  // A cached prepared statement for `sql`, in which {now} stands for the
  // database's clock in epoch microseconds and {dag_run_columns} and the like
  // for the column lists the row mapping reads and binds.
  Result<SqliteStatement> Prepare(std::string_view sql);
  // Runs `sql` (no parameters, no rows) through the statement cache.
  Status Execute(std::string_view sql);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back when it fails.
  template <typename Body>
  auto WriteTransaction(Body body) -> decltype(body());
  // Within a transaction: applies one transition, reporting whether it matched.
  Result<bool> ApplyTransition(const TaskTransition& transition);
  // Its steps: the compare-and-set, then the try's row when the transition
  // enters running (false: that try already started) or leaves it.
  Result<bool> UpdateTaskInstance(const TaskTransition& transition);
  Result<bool> StartTry(const TaskInstance& ti);
  Result<bool> CloseTry(const TaskTransition& transition);
  // Within a scheduling write's transaction: Fenced when the lease has moved on
  // from the epoch set by SetFencingEpoch (BEGIN IMMEDIATE already keeps every
  // other writer, an acquire too, out until it commits).
  Status CheckFencing();
  // An IoError naming the file, `what` failed, and SQLite's last message.
  Status Error(std::string_view what) const;

  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
  std::optional<int64_t> fencing_epoch_;  // unset: unfenced
};

}  // namespace baton
