// The scheduler's decisions, driven by hand: a real SQLite store in a temporary
// folder, a fake clock, and an executor that only records what it was asked.
#include "engine/scheduler.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/dag_bag.h"
#include "engine/dag_file.h"
#include "engine/run_planner.h"
#include "engine/store.h"
#include "engine/try_outcome.h"
#include "tests/support/fake_clock.h"

namespace baton {
namespace {

class RecordingExecutor final : public Executor {
 public:
  Status Launch(const TaskLaunch& launch) override {
    if (fail_launches) return Status::IoError("no such shell");
    launched.push_back(launch);
    return Status::Ok();
  }
  size_t RunningCount() const override { return launched.size(); }
  void Shutdown(Duration, std::function<void()> done) override { done(); }
  bool WorkersRecordState() const override { return workers_record_state; }
  void EnsureQueued(const std::vector<TaskLaunch>& launches,
                    const std::set<std::string>& live_workers) override {
    ensured.push_back(launches);
    ensured_live_workers = live_workers;
  }

  std::vector<std::string> LaunchedTasks() const {
    std::vector<std::string> ids;
    for (const auto& launch : launched) ids.push_back(launch.key.task_id);
    return ids;
  }

  std::vector<TaskLaunch> launched;
  bool fail_launches = false;
  bool workers_record_state = false;
  std::vector<std::vector<TaskLaunch>> ensured;
  std::set<std::string> ensured_live_workers;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = std::filesystem::temp_directory_path() /
              ("scheduler_test_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(folder_);
    std::filesystem::create_directories(folder_);
    StoreConfig store_config;
    store_config.url = "sqlite:///" + (folder_ / "baton.db").string();
    auto store = OpenStore(store_config, folder_.string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(store).value();
    ASSERT_TRUE(store_->Migrate().ok());
    JobRecord job;
    job.kind = "scheduler";
    job.hostname = "test-host";
    job.pid = 1;
    job_id_ = store_->RegisterJob(job).value();
  }

  void TearDown() override { std::filesystem::remove_all(folder_); }

  // Builds the scheduler over the DAGs given as TOML texts.
  void Start(const std::vector<std::string>& dag_texts, int parallelism = 32,
             std::map<std::string, int> pools = {{"default_pool", 128}}) {
    DagFileContext context;
    for (const auto& [pool, slots] : pools) context.pools.insert(pool);
    std::map<std::string, std::shared_ptr<const Dag>> dags;
    for (const std::string& text : dag_texts) {
      auto dag = ParseDagText(text, "test.toml", context);
      ASSERT_TRUE(dag.ok()) << dag.status().message();
      ASSERT_TRUE(store_->SyncDag(DagRecordOf(*dag, clock_.Now()), false).ok());
      const std::string dag_id = dag->dag_id;
      dags[dag_id] = std::make_shared<const Dag>(std::move(dag).value());
    }
    dags_ = dags;
    SchedulerSettings settings;
    settings.parallelism = parallelism;
    settings.pools = pools;
    settings.logs_folder = (folder_ / "logs").string();
    settings.hostname = "test-host";
    settings.job_id = job_id_;
    scheduler_ = std::make_unique<Scheduler>(*store_, executor_, clock_, settings);
    scheduler_->SetDags(dags);
  }

  // Settings of a second scheduler sharing the store, as after a restart.
  SchedulerSettings OtherSchedulerSettings(const std::string& hostname, int64_t job_id) {
    SchedulerSettings settings;
    settings.pools = {{"default_pool", 128}};
    settings.logs_folder = (folder_ / "logs").string();
    settings.hostname = hostname;
    settings.job_id = job_id;
    return settings;
  }

  std::string Trigger(const std::string& dag_id, const std::string& run_id = "run1") {
    PlannedRun planned =
        PlanRun(*dags_.at(dag_id), RunType::kManual, run_id, {clock_.Now(), clock_.Now()}, "{}");
    EXPECT_TRUE(store_->CreateDagRun(planned.run, planned.task_instances).value());
    return run_id;
  }

  // Reports the launched try of `task_id` as started and then ended with `exit_code`.
  void Complete(const std::string& task_id, int exit_code) {
    for (auto it = executor_.launched.begin(); it != executor_.launched.end(); ++it) {
      if (it->key.task_id != task_id) continue;
      TaskLaunch launch = *it;
      executor_.launched.erase(it);
      scheduler_->OnTaskStarted(launch.key, launch.try_number, 4242);
      ASSERT_TRUE(scheduler_->Flush().ok());
      TaskOutcome outcome;
      outcome.key = launch.key;
      outcome.try_number = launch.try_number;
      outcome.exit_code = exit_code;
      scheduler_->OnTaskFinished(outcome);
      ASSERT_TRUE(scheduler_->Flush().ok());
      return;
    }
    FAIL() << task_id << " was not launched";
  }

  std::map<std::string, std::string> States(const std::string& dag_id, const std::string& run_id) {
    std::map<std::string, std::string> states;
    std::vector<TaskInstance> instances = store_->ListTaskInstances(dag_id, run_id).value();
    for (const TaskInstance& instance : instances) {
      states[instance.key.task_id] = std::string(ToString(instance.state));
    }
    return states;
  }

  RunState StateOfRun(const std::string& dag_id, const std::string& run_id) {
    return store_->GetDagRun(dag_id, run_id).value()->state;
  }

  std::filesystem::path folder_;
  std::unique_ptr<Store> store_;
  int64_t job_id_ = 0;
  testing::FakeClock clock_{ParseIso8601("2026-06-01T12:00:00Z").value()};
  RecordingExecutor executor_;
  std::map<std::string, std::shared_ptr<const Dag>> dags_;
  std::unique_ptr<Scheduler> scheduler_;
};

const char* kChain = R"(
dag_id = "chain"
[[task]]
id = "a"
command = "true"
[[task]]
id = "b"
command = "true"
upstream = ["a"]
[[task]]
id = "c"
command = "true"
upstream = ["b"]
)";

TEST_F(SchedulerTest, ChainRunsInOrderAndSucceeds) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_EQ(executor_.LaunchedTasks(), std::vector<std::string>{"a"});
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kRunning);
  Complete("a", 0);
  EXPECT_EQ(executor_.LaunchedTasks(), std::vector<std::string>{"b"});
  Complete("b", 0);
  Complete("c", 0);
  EXPECT_EQ(States("chain", "run1"), (std::map<std::string, std::string>{
                                         {"a", "success"}, {"b", "success"}, {"c", "success"}}));
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kSuccess);
  EXPECT_EQ(scheduler_->active_run_count(), 0u);
}

TEST_F(SchedulerTest, EveryTryIsRecordedOnceWithItsNumber) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  Complete("a", 0);
  auto tries = store_->ListTaskTries({"chain", "run1", "a"}).value();
  ASSERT_EQ(tries.size(), 1u);
  EXPECT_EQ(tries[0].try_number, 1);
  EXPECT_EQ(tries[0].state, TaskState::kSuccess);
  EXPECT_EQ(tries[0].pid, 4242);
}

TEST_F(SchedulerTest, FailureMarksDownstreamUpstreamFailedAndFailsTheRun) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  Complete("a", 3);
  EXPECT_EQ(States("chain", "run1"),
            (std::map<std::string, std::string>{
                {"a", "failed"}, {"b", "upstream_failed"}, {"c", "upstream_failed"}}));
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kFailed);
  auto instances = store_->ListTaskInstances("chain", "run1").value();
  for (const auto& instance : instances) {
    if (instance.key.task_id == "a") {
      EXPECT_EQ(instance.exit_code, 3);
    }
  }
}

TEST_F(SchedulerTest, RetryWaitsForItsDelayAndGetsTheNextTryNumber) {
  Start({R"(
dag_id = "flaky"
[[task]]
id = "only"
command = "true"
retries = 1
retry_delay = "10s"
)"});
  Trigger("flaky");
  ASSERT_TRUE(scheduler_->Tick().ok());
  Complete("only", 1);
  EXPECT_EQ(States("flaky", "run1")["only"], "up_for_retry");
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_TRUE(executor_.launched.empty()) << "retried before retry_delay";
  ASSERT_TRUE(scheduler_->NextWakeup().has_value());
  EXPECT_EQ(*scheduler_->NextWakeup(), clock_.Now() + std::chrono::seconds(10));
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_EQ(executor_.launched.size(), 1u);
  EXPECT_EQ(executor_.launched[0].try_number, 2);
  Complete("only", 1);
  EXPECT_EQ(States("flaky", "run1")["only"], "failed");
  EXPECT_EQ(StateOfRun("flaky", "run1"), RunState::kFailed);
}

const char* kWide = R"(
dag_id = "wide"
max_active_tasks = 100
[[task]]
id = "t1"
command = "true"
[[task]]
id = "t2"
command = "true"
[[task]]
id = "t3"
command = "true"
priority = 5
[[task]]
id = "t4"
command = "true"
pool = "small"
[[task]]
id = "t5"
command = "true"
pool = "small"
)";

TEST_F(SchedulerTest, ParallelismCapsQueuedTasksAndPriorityGoesFirst) {
  Start({kWide}, /*parallelism=*/2, {{"default_pool", 128}, {"small", 1}});
  Trigger("wide");
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_EQ(executor_.launched.size(), 2u);
  EXPECT_EQ(executor_.launched[0].key.task_id, "t3");
  EXPECT_EQ(scheduler_->active_task_count(), 2);
}

// Every state written to a task instance's row from now on, per task, in order:
// a trigger in the SQLite file logs each UPDATE of the state column.
class StateWriteLog {
 public:
  explicit StateWriteLog(const std::filesystem::path& database) {
    EXPECT_EQ(sqlite3_open(database.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db_,
                           "CREATE TABLE state_write (id INTEGER PRIMARY KEY, task_id TEXT, "
                           "state TEXT);"
                           "CREATE TRIGGER log_state_write AFTER UPDATE OF state ON task_instance "
                           "BEGIN INSERT INTO state_write (task_id, state) "
                           "VALUES (NEW.task_id, NEW.state); END;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
  }
  ~StateWriteLog() { sqlite3_close(db_); }

  std::vector<std::string> For(const std::string& task_id) {
    std::vector<std::string> states;
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT state FROM state_write WHERE task_id = ? ORDER BY id",
                                 -1, &statement, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(statement, 1, task_id.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(statement) == SQLITE_ROW) {
      states.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
    }
    sqlite3_finalize(statement);
    return states;
  }

 private:
  sqlite3* db_ = nullptr;
};

TEST_F(SchedulerTest, ScheduledAndQueuedInOneTickIsOneWrite) {
  Start({kWide}, /*parallelism=*/1, {{"default_pool", 128}, {"small", 1}});
  Trigger("wide");
  StateWriteLog log(folder_ / "baton.db");
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_EQ(executor_.LaunchedTasks(), std::vector<std::string>{"t3"});
  EXPECT_EQ(log.For("t3"), std::vector<std::string>{"queued"});
  // Left waiting for a slot: scheduled now, queued in a later tick.
  EXPECT_EQ(log.For("t1"), std::vector<std::string>{"scheduled"});
  Complete("t3", 0);
  EXPECT_EQ(log.For("t3"), (std::vector<std::string>{"queued", "running", "success"}));
  ASSERT_EQ(executor_.LaunchedTasks().size(), 1u);
  const std::string next = executor_.LaunchedTasks()[0];
  EXPECT_EQ(log.For(next), (std::vector<std::string>{"scheduled", "queued"}));
  EXPECT_EQ(States("wide", "run1")[next], "queued");
}

TEST_F(SchedulerTest, LaunchesCarryTheRowsColumnsForWorkers) {
  Start({kWide}, /*parallelism=*/32, {{"default_pool", 128}, {"small", 1}});
  Trigger("wide");
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_FALSE(executor_.launched.empty());
  for (const TaskLaunch& launch : executor_.launched) {
    const TaskInstance row = store_->GetTaskInstance(launch.key).value().value();
    ASSERT_TRUE(launch.queued_columns.has_value()) << launch.key.task_id;
    EXPECT_EQ(launch.queued_columns->pool, row.pool);
    EXPECT_EQ(launch.queued_columns->priority, row.priority);
    EXPECT_EQ(launch.queued_columns->queue, row.queue);
  }
}

TEST_F(SchedulerTest, PoolSlotsLimitTheirTasks) {
  Start({kWide}, /*parallelism=*/32, {{"default_pool", 128}, {"small", 1}});
  Trigger("wide");
  ASSERT_TRUE(scheduler_->Tick().ok());
  auto launched = executor_.LaunchedTasks();
  EXPECT_EQ(launched.size(), 4u);
  EXPECT_EQ(std::count(launched.begin(), launched.end(), "t4") +
                std::count(launched.begin(), launched.end(), "t5"),
            1);
  const std::string first_small = std::count(launched.begin(), launched.end(), "t4") ? "t4" : "t5";
  Complete(first_small, 0);
  EXPECT_EQ(executor_.LaunchedTasks().size(), 4u) << "the freed slot goes to the other small task";
}

TEST_F(SchedulerTest, TriggerRulesSkipAndCascade) {
  Start({R"(
dag_id = "rules"
[[task]]
id = "work"
command = "true"
[[task]]
id = "on_failure"
command = "true"
upstream = ["work"]
trigger_rule = "one_failed"
[[task]]
id = "after_failure"
command = "true"
upstream = ["on_failure"]
[[task]]
id = "cleanup"
command = "true"
upstream = ["work", "on_failure"]
trigger_rule = "all_done"
)"});
  Trigger("rules");
  ASSERT_TRUE(scheduler_->Tick().ok());
  Complete("work", 0);
  auto states = States("rules", "run1");
  EXPECT_EQ(states["on_failure"], "skipped");
  EXPECT_EQ(states["after_failure"], "skipped");
  EXPECT_EQ(states["work"], "success");
  EXPECT_EQ(executor_.LaunchedTasks(), std::vector<std::string>{"cleanup"});
  Complete("cleanup", 0);
  EXPECT_EQ(StateOfRun("rules", "run1"), RunState::kSuccess);
}

TEST_F(SchedulerTest, LaunchFailureCountsAsAFailedTry) {
  Start({kChain});
  executor_.fail_launches = true;
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_EQ(States("chain", "run1")["a"], "failed");
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kFailed);
}

TEST_F(SchedulerTest, MaxActiveRunsKeepsLaterRunsQueued) {
  Start({R"(
dag_id = "one_at_a_time"
max_active_runs = 1
[[task]]
id = "only"
command = "true"
)"});
  Trigger("one_at_a_time", "first");
  clock_.Advance(std::chrono::seconds(1));
  Trigger("one_at_a_time", "second");
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_EQ(StateOfRun("one_at_a_time", "first"), RunState::kRunning);
  EXPECT_EQ(StateOfRun("one_at_a_time", "second"), RunState::kQueued);
  Complete("only", 0);
  EXPECT_EQ(StateOfRun("one_at_a_time", "first"), RunState::kSuccess);
  EXPECT_EQ(StateOfRun("one_at_a_time", "second"), RunState::kRunning);
  ASSERT_EQ(executor_.launched.size(), 1u)
      << "the next run's first task starts at once, not a tick later";
  EXPECT_EQ(executor_.launched[0].key.run_id, "second");
}

TEST_F(SchedulerTest, PausedDagStartsNothing) {
  Start({kChain});
  ASSERT_TRUE(store_->SetDagPaused("chain", true).ok());
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_TRUE(executor_.launched.empty());
  ASSERT_TRUE(store_->SetDagPaused("chain", false).ok());
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_EQ(executor_.LaunchedTasks(), std::vector<std::string>{"a"});
}

TEST_F(SchedulerTest, CreatesEachDueScheduledRunOnceWithCatchup) {
  Start({R"(
dag_id = "daily"
schedule = "@daily"
start_date = "2026-05-29"
catchup = true
max_active_runs = 10
[[task]]
id = "only"
command = "true"
)"});
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_TRUE(scheduler_->Tick().ok());
  RunFilter filter;
  filter.dag_id = "daily";
  auto runs = store_->ListDagRuns(filter).value();
  // Intervals starting 05-29, 05-30 and 05-31 have ended by 06-01 12:00.
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].run_id, "scheduled__2026-05-31T00:00:00Z");
  EXPECT_EQ(FormatIso8601(runs[0].data_interval_end), "2026-06-01T00:00:00Z");
  ASSERT_TRUE(scheduler_->NextWakeup().has_value());
  EXPECT_EQ(FormatIso8601(*scheduler_->NextWakeup()), "2026-06-02T00:00:00Z");
}

TEST_F(SchedulerTest, WithoutCatchupOnlyTheLatestIntervalRuns) {
  Start({R"(
dag_id = "daily"
schedule = "@daily"
start_date = "2026-01-01"
[[task]]
id = "only"
command = "true"
)"});
  ASSERT_TRUE(scheduler_->Tick().ok());
  RunFilter filter;
  filter.dag_id = "daily";
  auto runs = store_->ListDagRuns(filter).value();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].run_id, "scheduled__2026-05-31T00:00:00Z");
}

TEST_F(SchedulerTest, RecoveryRetriesWhatADeadSchedulerLeftRunning) {
  Start({R"(
dag_id = "survivor"
[[task]]
id = "long"
command = "sleep 1"
retries = 2
retry_delay = "0s"
)"});
  Trigger("survivor");
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_EQ(executor_.launched.size(), 1u);
  scheduler_->OnTaskStarted(executor_.launched[0].key, 1, 999999);
  ASSERT_TRUE(scheduler_->Flush().ok());
  ASSERT_TRUE(store_->EndJob(job_id_).ok());  // the old scheduler is gone

  JobRecord job;
  job.kind = "scheduler";
  job.hostname = "other-host";
  int64_t new_job = store_->RegisterJob(job).value();
  RecordingExecutor new_executor;
  Scheduler restarted(*store_, new_executor, clock_, OtherSchedulerSettings("other-host", new_job));
  restarted.SetDags(dags_);
  ASSERT_TRUE(restarted.Recover().ok());
  ASSERT_TRUE(restarted.Tick().ok());
  ASSERT_EQ(new_executor.launched.size(), 1u);
  EXPECT_EQ(new_executor.launched[0].try_number, 2) << "a new try, never the same one again";
}

TEST_F(SchedulerTest, RecoveryLeavesTasksOfALiveOwnerAlone) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  scheduler_->OnTaskStarted(executor_.launched[0].key, 1, 999999);
  ASSERT_TRUE(scheduler_->Flush().ok());
  ASSERT_TRUE(store_->HeartbeatJob(job_id_, 0).ok());  // still alive

  JobRecord job;
  job.kind = "scheduler";
  int64_t other_job = store_->RegisterJob(job).value();
  RecordingExecutor other_executor;
  Scheduler other(*store_, other_executor, clock_, OtherSchedulerSettings("", other_job));
  other.SetDags(dags_);
  ASSERT_TRUE(other.Recover().ok());
  EXPECT_EQ(States("chain", "run1")["a"], "running");
  EXPECT_TRUE(other_executor.launched.empty());
}

TEST_F(SchedulerTest, RecoveryKnowsAtOnceThatAProcessOnThisHostIsGone) {
  // The owner's heartbeat is fresh, but its process on this host has exited.
  pid_t dead_pid = ::fork();
  if (dead_pid == 0) ::_exit(0);
  ::waitpid(dead_pid, nullptr, 0);
  JobRecord crashed;
  crashed.kind = "scheduler";
  crashed.hostname = "test-host";
  crashed.pid = dead_pid;
  crashed.process_start_ticks = 12345;
  int64_t crashed_job = store_->RegisterJob(crashed).value();
  Start({kChain});
  Trigger("chain");
  RecordingExecutor old_executor;
  Scheduler old_scheduler(*store_, old_executor, clock_,
                          OtherSchedulerSettings("test-host", crashed_job));
  old_scheduler.SetDags(dags_);
  ASSERT_TRUE(old_scheduler.Tick().ok());
  ASSERT_EQ(old_executor.launched.size(), 1u);

  ASSERT_TRUE(scheduler_->Recover().ok());
  EXPECT_EQ(States("chain", "run1")["a"], "failed") << "no retries left: failed, not left running";
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kFailed);
}

TEST_F(SchedulerTest, ClearedTaskRunsAgainWithANewTry) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  Complete("a", 0);
  Complete("b", 0);
  Complete("c", 1);
  ASSERT_EQ(StateOfRun("chain", "run1"), RunState::kFailed);
  ASSERT_EQ(store_->ClearTaskInstances("chain", "run1", {"c"}).value(), 1);
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_EQ(executor_.launched.size(), 1u);
  EXPECT_EQ(executor_.launched[0].key.task_id, "c");
  EXPECT_EQ(executor_.launched[0].try_number, 2);
  Complete("c", 0);
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kSuccess);
}

// Executors whose workers record state (Redis agents): the worker claims and
// ends tries in the store and the scheduler follows.
class WorkerRecordedSchedulerTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerTest::SetUp();
    executor_.workers_record_state = true;
    JobRecord agent;
    agent.kind = "agent";
    agent.name = "agent-1";
    agent.hostname = "worker-host";
    agent_job_ = store_->RegisterJob(agent).value();
  }

  // What an agent writes: a compare-and-set from `from` to `to`; returns the row.
  TaskInstance WorkerMoves(const std::string& task_id, TaskState from, TaskState to) {
    TaskInstance row = store_->GetTaskInstance({"chain", "run1", task_id}).value().value();
    TaskTransition transition{from, row.try_number, row};
    if (to == TaskState::kRunning) {
      transition.updated.state = to;
      transition.updated.owner_job_id = agent_job_;
      transition.updated.hostname = "worker-host";
      transition.updated.start_date = clock_.Now();
    } else if (to == TaskState::kSuccess) {
      transition.updated = AfterSucceededTry(row, clock_.Now());
    } else {
      transition.updated = AfterFailedTry(row, 1, Duration(0), 1, clock_.Now());
    }
    EXPECT_EQ(store_->ApplyTransitions({transition}).value(), std::vector<bool>{true});
    return transition.updated;
  }

  int64_t agent_job_ = 0;
};

TEST_F(WorkerRecordedSchedulerTest, FollowsWhatWorkersRecordWithoutWritingItAgain) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_EQ(executor_.LaunchedTasks(), std::vector<std::string>{"a"});
  scheduler_->OnInstanceChanged(WorkerMoves("a", TaskState::kQueued, TaskState::kRunning));
  ASSERT_TRUE(scheduler_->Flush().ok());
  EXPECT_EQ(scheduler_->active_task_count(), 1);
  scheduler_->OnInstanceChanged(WorkerMoves("a", TaskState::kRunning, TaskState::kSuccess));
  ASSERT_TRUE(scheduler_->Flush().ok());
  EXPECT_EQ(executor_.LaunchedTasks(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(States("chain", "run1")["a"], "success");
  EXPECT_EQ(States("chain", "run1")["b"], "queued");
  EXPECT_EQ(store_->ListTaskTries({"chain", "run1", "a"}).value().size(), 1u);
}

TEST_F(WorkerRecordedSchedulerTest, AnOldOrRepeatedEventChangesNothing) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  TaskInstance running = WorkerMoves("a", TaskState::kQueued, TaskState::kRunning);
  scheduler_->OnInstanceChanged(WorkerMoves("a", TaskState::kRunning, TaskState::kSuccess));
  scheduler_->OnInstanceChanged(running);  // late, out of order
  ASSERT_TRUE(scheduler_->Flush().ok());
  EXPECT_EQ(executor_.LaunchedTasks(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(States("chain", "run1")["a"], "success");
}

TEST_F(WorkerRecordedSchedulerTest, AFailedTryRecordedByAWorkerFailsDownstream) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  WorkerMoves("a", TaskState::kQueued, TaskState::kRunning);
  scheduler_->OnInstanceChanged(WorkerMoves("a", TaskState::kRunning, TaskState::kFailed));
  ASSERT_TRUE(scheduler_->Flush().ok());
  EXPECT_EQ(States("chain", "run1"),
            (std::map<std::string, std::string>{
                {"a", "failed"}, {"b", "upstream_failed"}, {"c", "upstream_failed"}}));
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kFailed);
}

TEST_F(WorkerRecordedSchedulerTest, LostEventsAreMadeUpFromTheStore) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  WorkerMoves("a", TaskState::kQueued, TaskState::kRunning);
  WorkerMoves("a", TaskState::kRunning, TaskState::kSuccess);  // no event arrives
  clock_.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_EQ(executor_.LaunchedTasks(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(WorkerRecordedSchedulerTest, ATryOfADeadWorkerIsRetriedOrFailed) {
  pid_t dead_pid = ::fork();
  if (dead_pid == 0) ::_exit(0);
  ::waitpid(dead_pid, nullptr, 0);
  JobRecord crashed;
  crashed.kind = "agent";
  crashed.name = "agent-2";
  crashed.hostname = "test-host";  // this host: its death is known at once
  crashed.pid = dead_pid;
  crashed.process_start_ticks = 12345;
  agent_job_ = store_->RegisterJob(crashed).value();
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  WorkerMoves("a", TaskState::kQueued, TaskState::kRunning);  // no event arrives either
  clock_.Advance(std::chrono::seconds(6));
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_EQ(States("chain", "run1")["a"], "failed") << "its agent is gone; no retries left";
  EXPECT_EQ(StateOfRun("chain", "run1"), RunState::kFailed);
}

TEST_F(WorkerRecordedSchedulerTest, QueuedTriesOfADeadSchedulerAreQueuedAgainNotFailed) {
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_TRUE(store_->EndJob(job_id_).ok());  // the scheduler that queued "a" is gone

  JobRecord job;
  job.kind = "scheduler";
  job.hostname = "other-host";
  int64_t new_job = store_->RegisterJob(job).value();
  RecordingExecutor new_executor;
  new_executor.workers_record_state = true;
  Scheduler restarted(*store_, new_executor, clock_, OtherSchedulerSettings("other-host", new_job));
  restarted.SetDags(dags_);
  ASSERT_TRUE(restarted.Recover().ok());
  ASSERT_EQ(new_executor.launched.size(), 1u);
  EXPECT_EQ(new_executor.launched[0].try_number, 1) << "the same try: an agent claims it once";
  TaskInstance a = store_->GetTaskInstance({"chain", "run1", "a"}).value().value();
  EXPECT_EQ(a.state, TaskState::kQueued);
  EXPECT_EQ(a.owner_job_id, new_job);
}

TEST_F(WorkerRecordedSchedulerTest, QueuedTriesAreCheckedAgainstLiveWorkers) {
  ASSERT_TRUE(store_->HeartbeatJob(agent_job_, 0).ok());
  Start({kChain});
  Trigger("chain");
  ASSERT_TRUE(scheduler_->Tick().ok());
  clock_.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(scheduler_->Tick().ok());
  EXPECT_TRUE(executor_.ensured.empty()) << "queued since the previous check only";
  clock_.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(scheduler_->Tick().ok());
  ASSERT_FALSE(executor_.ensured.empty());
  ASSERT_EQ(executor_.ensured.back().size(), 1u);
  EXPECT_EQ(executor_.ensured.back()[0].key.task_id, "a");
  EXPECT_EQ(executor_.ensured_live_workers, std::set<std::string>{"agent-1"});
}

TEST_F(WorkerRecordedSchedulerTest, AfterAStoreOutageHeartbeatsGetTimeToCatchUp) {
  Start({kChain});
  SchedulerSettings settings = OtherSchedulerSettings("test-host", job_id_);
  settings.owner_timeout = std::chrono::milliseconds(100);
  settings.orphan_check_interval = Duration(0);
  Scheduler scheduler(*store_, executor_, clock_, settings);
  scheduler.SetDags(dags_);
  Trigger("chain");
  ASSERT_TRUE(scheduler.Tick().ok());
  WorkerMoves("a", TaskState::kQueued, TaskState::kRunning);
  ASSERT_TRUE(store_->HeartbeatJob(job_id_, 0).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // the agent's beat is now stale

  // The store goes away for a while: nobody could beat meanwhile.
  const std::string db = (folder_ / "baton.db").string();
  ASSERT_EQ(std::system(("sqlite3 " + db + " 'ALTER TABLE dag RENAME TO dag_away'").c_str()), 0);
  EXPECT_FALSE(scheduler.Tick().ok());
  ASSERT_EQ(std::system(("sqlite3 " + db + " 'ALTER TABLE dag_away RENAME TO dag'").c_str()), 0);
  ASSERT_TRUE(scheduler.Tick().ok());
  EXPECT_EQ(States("chain", "run1")["a"], "running") << "judged before its agent could beat";

  clock_.Advance(std::chrono::milliseconds(150));  // time enough to catch up, and it did not
  ASSERT_TRUE(scheduler.Tick().ok());
  EXPECT_EQ(States("chain", "run1")["a"], "failed");
}

}  // namespace
}  // namespace baton
