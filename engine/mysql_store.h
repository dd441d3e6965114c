// MySqlStore: the Store on a MySQL/MariaDB database (InnoDB), the store a
// cluster's masters and agents share.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/mysql_connection.h"
#include "engine/store.h"

namespace baton {

class MySqlStatement;

// One connection, opened on first use and kept; prepared statements are cached
// on it. Every query with parameters is a prepared statement.
//
// Retries (the policy is MySqlRetryPolicy's): a read, and a write that is
// harmless to repeat (SyncDag, SetDagPaused, HeartbeatJob, EndJob, and of the
// failover lease RenewLease, ReleaseLease, SetSchedulerNode, SetPromoteTo,
// SetMaintenance: one statement each), simply runs again on a new connection
// when the connection is lost; a renew that runs again is its own read-back, as
// it matches exactly when the lease is still held by that job with that epoch.
// Every other write is one transaction, run again from the start when it
// deadlocks, times out waiting for a lock, or loses the connection before
// COMMIT was sent (the server rolls back what was not committed).
//
// A COMMIT whose reply is lost may or may not have applied. After reconnecting,
// the write reads its rows back to decide:
// - CreateDagRun: applied when the run is there with the same logical date and
//   run type.
// - ApplyTransitions: applied when a row it moved now holds exactly the values
//   of its transition (with owner, host and pid, another actor's row does not);
//   when none does, it runs again, and a row that another actor moved on in the
//   meantime is then reported as not applied.
// - SetDagRunState: applied when the run is in the target state.
// - ClearTaskInstances: applied when the task instances it cleared are in none.
// - RegisterJob: applied when the row with the id the INSERT returned is there
//   (a job's row names its process, so it cannot be another's).
// - ReplaceImportErrors, ClearFailoverMetadata: run again, to the same end.
// - RecordFailoverEvent: applied when the row with the id the INSERT returned is
//   there with the same node, epoch and kind.
//   On MariaDB a batch that fits a block (engine/mysql_transition_sql.h)
//   is one compound statement that commits by itself; when its reply is lost,
//   each transition whose row now holds exactly its values is taken as applied,
//   and when none does, the block runs again.
// When the rows cannot be read back within the retry budget, the call fails
// with Unavailable, saying the outcome is unknown.
//
// AcquireLease is one UPDATE, outside a transaction so that it holds the lease
// row for no longer than itself. When its reply is lost, the next attempt first
// reads the lease back: held by this job and not expired, the lost UPDATE took
// it (with the epoch the row holds); anything else, and the UPDATE runs again,
// its condition deciding afresh. AdvanceEpoch is read back the same way: held by
// this job with the next epoch, the lost UPDATE applied; anything else, and it
// runs again (it matches nothing once the lease has moved on).
//
// Times that decide liveness come from the server's clock (UTC_TIMESTAMP(6)).
class MySqlStore final : public Store {
 public:
  // `blocks` false: never sends a batch of transitions as one compound
  // statement, as with a MySQL server, where MariaDB would run it.
  MySqlStore(MySqlUrl url, std::string password, const StoreConfig& config, bool blocks = true);
  ~MySqlStore() override;

  MySqlStore(const MySqlStore&) = delete;
  MySqlStore& operator=(const MySqlStore&) = delete;

  // Creates the database when it does not exist yet (with utf8mb4 and binary
  // collation), then applies the missing migrations while holding a named lock,
  // so two processes migrating at once take turns. MariaDB commits each DDL
  // statement on its own: a migration cut off halfway is finished by the next
  // Migrate(), which passes over the tables, columns and indexes already there.
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
  Status MigrateOnce();
  Status CreateDatabase();
  Result<int> ReadSchemaVersion();
  Status ApplyMigrations();

  // Within a transaction: the transitions in `order`, except those whose try
  // start was already refused; `refused` gains the next refused start, which
  // ends this pass (its updates must be rolled back). With `shared`, transitions
  // that write the same values go in shared UPDATEs; one that matches fewer rows
  // than it names clears `shared` and ends this pass the same way.
  Result<std::vector<bool>> ApplyTransitionsOnce(const std::vector<TaskTransition>& transitions,
                                                 const std::vector<size_t>& order,
                                                 std::vector<bool>& refused, bool& shared,
                                                 bool& restart);
  // The batch as one block (engine/mysql_transition_sql.h), one round trip;
  // for servers that run blocks and batches that fit one.
  Result<std::vector<bool>> ApplyTransitionsInBlock(const std::vector<TaskTransition>& transitions,
                                                    const std::vector<size_t>& order);
  // The compare-and-set of the instance's row alone: whether it matched.
  Result<bool> MoveTaskInstance(const TaskTransition& transition);
  Result<bool> TransitionsCommitted(const std::vector<TaskTransition>& transitions,
                                    const std::vector<bool>& applied);
  Status InsertTaskInstances(const std::vector<TaskInstance>& task_instances);

  // Within a scheduling write's transaction: Fenced when the lease has moved on
  // from the epoch set by SetFencingEpoch. It reads the lease row with a shared
  // lock, which an acquire's UPDATE waits for until this transaction ends.
  Status CheckFencing();

  Result<MySqlStatement*> Prepare(std::string_view sql) { return connection_.Prepare(sql); }

  MySqlConnection connection_;
  std::optional<int64_t> fencing_epoch_;  // unset: unfenced
};

}  // namespace baton
