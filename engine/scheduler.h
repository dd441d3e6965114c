// Scheduler: the decisions of the scheduler daemon, without its event loop. It
// creates due runs, moves task instances through their states as their upstreams
// finish, and hands ready ones to the executor within the limits (parallelism,
// max_active_runs, max_active_tasks, pools; higher priority first).
//
// Every transition is persisted in the store (one transaction per batch of
// events) before it takes effect: a try is launched only once its queued state
// is committed. Readiness is event-driven: a finishing task re-evaluates only its
// downstream tasks; Tick() adds a cheap sweep over the active runs as a safety net.
//
// Not thread-safe: the daemon calls it from its event loop only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/active_run.h"
#include "engine/dag.h"
#include "engine/executor.h"
#include "engine/store.h"

namespace baton {

struct SchedulerSettings {
  int parallelism = 32;
  std::map<std::string, int> pools;  // slots by pool name
  std::string logs_folder;
  std::string hostname;
  int64_t job_id = 0;  // this scheduler's job row; owner of what it launches
  // A job whose heartbeat is older than this is gone, and so is one on this host
  // whose process (pid and start time) no longer exists: what it ran is failed
  // or retried. Checked at start-up and every orphan_check_interval.
  Duration owner_timeout = std::chrono::seconds(30);
  Duration orphan_check_interval = std::chrono::seconds(5);
  // With an executor whose workers record state (Redis): how often every queued
  // instance is checked to still have its message on the way to a worker.
  Duration requeue_check_interval = std::chrono::seconds(10);
  int max_new_runs_per_dag = 16;  // per Tick, so a long catchup cannot stall the loop
};

class Scheduler {
 public:
  Scheduler(Store& store, Executor& executor, const Clock& clock, SchedulerSettings settings);
  ~Scheduler();

  // The DAGs as last read from the dags folder (by dag_id).
  void SetDags(std::map<std::string, std::shared_ptr<const Dag>> dags);

  // At start-up: loads the active runs and fails or retries the task instances
  // whose owner is gone (killing what is left of their processes on this host).
  // Instances owned by a live job are adopted: left to finish.
  Status Recover();

  // Periodic work: pause flags, due runs, queued runs to start, due retries,
  // instances whose owner died, the safety sweep, then dispatch.
  Status Tick();

  // Executor events, applied by the next Flush().
  void OnTaskStarted(const TaskInstanceKey& key, int try_number, int pid);
  void OnTaskFinished(const TaskOutcome& outcome);
  // A worker moved an instance in the store (executors whose workers record
  // state); `current` is the row it wrote. Applied by the next Flush().
  void OnInstanceChanged(const TaskInstance& current);

  // Applies pending events, propagates their effects downstream and dispatches.
  Status Flush();

  // From now on nothing new is queued (shutdown).
  void StopDispatching() { dispatching_ = false; }

  // When the next retry or scheduled run falls due, if any is known.
  std::optional<TimePoint> NextWakeup() const;

  int active_task_count() const { return active_total_; }
  size_t active_run_count() const { return runs_.size(); }

 private:
  using RunKey = std::pair<std::string, std::string>;  // dag_id, run_id
  struct ReadyEntry {
    int priority;
    TimePoint logical_date;
    RunKey run;
    int index;
    // Higher priority first, then older runs, then task order.
    bool operator<(const ReadyEntry& other) const {
      if (priority != other.priority) return priority > other.priority;
      return std::tie(logical_date, run, index) <
             std::tie(other.logical_date, other.run, other.index);
    }
  };
  struct Started {
    TaskInstanceKey key;
    int try_number;
    int pid;
  };

  Status TickSteps();
  Status FlushSteps();
  // Remembers when a step failed (the store was unreachable, most likely).
  Status NotingStoreTrouble(Status status);
  ActiveRun* FindRun(const RunKey& key);
  // Puts a run (re)loaded from the store into memory and indexes its instances.
  void AdoptRun(std::unique_ptr<ActiveRun> run);
  void ForgetRun(const RunKey& key);
  Status ReloadRun(const RunKey& key);
  void Account(ActiveRun& run, int index, int sign);

  // Moves run.instance(index) to `updated` in memory and adds the compare-and-set
  // to the batch that Persist() commits. Returns the downstream indexes to
  // re-evaluate when the instance finished.
  std::vector<int> Transition(ActiveRun& run, int index, TaskInstance updated);
  // The same, for a change already in the store (made by a worker): memory only.
  std::vector<int> Follow(ActiveRun& run, int index, TaskInstance current);
  // Decides every instance in `pending` (and, transitively, their downstreams).
  void PropagateFrom(ActiveRun& run, std::vector<int> pending);
  TaskInstance FailedTry(const ActiveRun& run, int index, std::optional<int> exit_code) const;
  // The launch of the instance's current (queued) try.
  TaskLaunch LaunchOf(const ActiveRun& run, int index) const;
  void ApplyStarted(const Started& started);
  void ApplyFinished(const TaskOutcome& outcome);
  void ApplyChanged(const TaskInstance& current);
  // Brings memory up to what workers wrote to the store, in case an event was lost.
  Status ReconcileWithStore();
  // Hands the launch of each instance queued since the previous check to the
  // executor again, to check that it still reaches a worker.
  Status EnsureQueuedReachWorkers(const std::set<std::string>& live_workers);
  void Dispatch();
  bool FitsLimits(const ActiveRun& run, int index) const;
  Status Persist();
  Status FinishCompletedRuns();
  Status CreateDueRuns(TimePoint now);
  Result<std::vector<DagRun>> RunsInState(RunState state);
  Status StartQueuedRuns();
  void ScheduleDueRetries(TimePoint now);
  void Sweep();
  Status LoadRunIntoMemory(const DagRun& run);
  struct LiveJobs {
    std::set<int64_t> ids;
    std::set<std::string> agent_names;
  };
  Result<LiveJobs> FindLiveJobs();
  // Takes over a queued instance whose owner is gone and launches it again
  // (executors whose workers record state: a duplicate message is dropped).
  void AdoptQueued(ActiveRun& run, int index);
  Status FailOrphanedInstances();

  Store& store_;
  Executor& executor_;
  const Clock& clock_;
  SchedulerSettings settings_;
  bool dispatching_ = true;
  std::optional<std::chrono::nanoseconds> last_orphan_check_;
  std::optional<std::chrono::nanoseconds> last_requeue_check_;
  std::map<TaskInstanceKey, int> queued_at_last_check_;       // their try numbers
  std::optional<std::chrono::nanoseconds> store_trouble_at_;  // Monotonic

  std::map<std::string, std::shared_ptr<const Dag>> dags_;
  std::map<std::string, bool> paused_;
  std::map<std::string, std::optional<TimePoint>> latest_logical_date_;  // cache, by dag_id
  std::map<std::string, std::optional<TimePoint>> next_due_;             // cache, by dag_id

  std::map<RunKey, std::unique_ptr<ActiveRun>> runs_;
  std::set<ReadyEntry> ready_;
  std::set<std::pair<TimePoint, TaskInstanceKey>> retries_;
  std::set<RunKey> runs_to_reload_;

  int active_total_ = 0;
  std::map<std::string, int> active_by_pool_;
  std::map<std::string, int> active_by_dag_;
  std::map<std::string, int> running_runs_by_dag_;

  std::vector<Started> started_;
  std::vector<TaskOutcome> finished_;
  std::vector<TaskInstance> changed_;
  std::vector<TaskTransition> batch_;
  // The entries of batch_ that move an instance to scheduled, by instance.
  std::map<TaskInstanceKey, size_t> scheduled_in_batch_;
  std::vector<std::pair<RunKey, int>> to_launch_;  // queued in this batch
};

}  // namespace baton
