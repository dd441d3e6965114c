// The Store contract, run against every backend listed in StoreBackends(), plus
// the parts that belong to SQLite alone (its file, its URL forms). The MariaDB
// backend runs on a real mariadbd (tests/support/mariadb_server.h), once as it
// is and once without the compound statements MySQL servers lack; its cases
// are skipped where MariaDB is not installed.
#include "engine/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <ostream>
#include <thread>

#include "engine/mysql_store.h"
#include "engine/mysql_url.h"
#include "engine/schema.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;

using ::baton::testing::IsOk;
using ::baton::testing::TempFolder;

StoreConfig ConfigFor(const std::string& url) {
  StoreConfig config;
  config.url = url;
  return config;
}

// One test's database on one backend: fresh and empty when made.
class StoreDatabase {
 public:
  virtual ~StoreDatabase() = default;
  // A new connection to this database, not yet migrated.
  virtual Result<std::unique_ptr<Store>> Connect() = 0;
};

class SqliteDatabase final : public StoreDatabase {
 public:
  Result<std::unique_ptr<Store>> Connect() override {
    return OpenStore(ConfigFor("sqlite://" + (folder_.path() / "baton.db").string()),
                     folder_.path());
  }

 private:
  TempFolder folder_;
};

// A database of its own on the MariaDB server the test binary shares. Without
// blocks, the store writes transitions as it does on a MySQL server.
class MariaDbDatabase final : public StoreDatabase {
 public:
  MariaDbDatabase(::baton::testing::MariaDbServer* server, std::string database, bool blocks)
      : server_(server), database_(std::move(database)), blocks_(blocks) {}

  Result<std::unique_ptr<Store>> Connect() override {
    StoreConfig config = ConfigFor(server_->Url(database_));
    config.password_file = server_->password_file();
    if (blocks_) return OpenStore(config, "/nonexistent/home");
    auto url = ParseMySqlUrl(config.url);
    if (!url.ok()) return url.status();
    return std::unique_ptr<Store>(
        std::make_unique<MySqlStore>(*url, server_->password(), config, /*blocks=*/false));
  }

 private:
  ::baton::testing::MariaDbServer* server_;
  std::string database_;
  bool blocks_;
};

Result<std::unique_ptr<StoreDatabase>> MakeMariaDbDatabase(bool blocks) {
  auto server = ::baton::testing::MariaDbServer::Shared();
  if (!server.ok()) return server.status();
  auto database = (*server)->CreateDatabase("store_test");
  if (!database.ok()) return database.status();
  // The password comes from the server's file; the variable would take precedence.
  ::unsetenv("BATON_STORE_PASSWORD");
  return std::unique_ptr<StoreDatabase>(
      std::make_unique<MariaDbDatabase>(*server, *database, blocks));
}

struct StoreBackend {
  std::string name;
  // A fresh database, or Unavailable when the backend's server is not set up
  // here (its tests are then skipped).
  std::function<Result<std::unique_ptr<StoreDatabase>>()> make_database;
};

void PrintTo(const StoreBackend& backend, std::ostream* out) { *out << backend.name; }

std::vector<StoreBackend> StoreBackends() {
  return {
      {"Sqlite",
       [] { return Result<std::unique_ptr<StoreDatabase>>(std::make_unique<SqliteDatabase>()); }},
      {"MariaDb", [] { return MakeMariaDbDatabase(/*blocks=*/true); }},
      {"MariaDbWithoutBlocks", [] { return MakeMariaDbDatabase(/*blocks=*/false); }},
  };
}

const TimePoint kDay = FromEpochMicros(1'794'960'000'000'000);  // 2026-11-18T00:00:00Z

DagRun MakeRun(const std::string& dag_id, const std::string& run_id, TimePoint logical_date,
               RunType run_type = RunType::kScheduled) {
  DagRun run;
  run.dag_id = dag_id;
  run.run_id = run_id;
  run.run_type = run_type;
  run.logical_date = logical_date;
  run.data_interval_start = logical_date;
  run.data_interval_end = logical_date + hours(24);
  return run;
}

std::vector<TaskInstance> MakeTaskInstances(const DagRun& run,
                                            const std::vector<std::string>& task_ids) {
  std::vector<TaskInstance> task_instances;
  for (const std::string& task_id : task_ids) {
    TaskInstance& ti = task_instances.emplace_back();
    ti.key = {run.dag_id, run.run_id, task_id};
    ti.pool = "default_pool";
    ti.queue = "default";
  }
  return task_instances;
}

TaskTransition Move(const TaskInstance& current, TaskState to) {
  TaskTransition transition{current.state, current.try_number, current};
  transition.updated.state = to;
  return transition;
}

class StoreTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    auto database = GetParam().make_database();
    if (database.status().code() == Status::Code::kUnavailable) {
      GTEST_SKIP() << database.status().message();
    }
    ASSERT_TRUE(IsOk(database));
    database_ = std::move(*database);
    auto store = database_->Connect();
    ASSERT_TRUE(IsOk(store));
    store_ = std::move(*store);
    ASSERT_TRUE(IsOk(store_->Migrate()));
  }

  // Creates a run (in `state`) with task instances in the given states.
  DagRun CreateRun(const std::string& run_id, TimePoint logical_date,
                   const std::vector<std::pair<std::string, TaskState>>& tasks,
                   RunState state = RunState::kRunning) {
    DagRun run = MakeRun("etl", run_id, logical_date);
    run.state = state;
    std::vector<TaskInstance> task_instances;
    for (const auto& [task_id, task_state] : tasks) {
      TaskInstance& ti = task_instances.emplace_back(MakeTaskInstances(run, {task_id})[0]);
      ti.state = task_state;
    }
    auto created = store_->CreateDagRun(run, task_instances);
    EXPECT_TRUE(IsOk(created));
    EXPECT_TRUE(created.ok() && *created);
    return run;
  }

  TaskInstance Get(const TaskInstanceKey& key) {
    auto all = store_->ListTaskInstances(key.dag_id, key.run_id);
    EXPECT_TRUE(IsOk(all));
    if (all.ok()) {
      for (const TaskInstance& ti : *all) {
        if (ti.key == key) return ti;
      }
    }
    ADD_FAILURE() << "no task instance " << key.ToString();
    return TaskInstance();
  }

  // Applies one transition; whether it was applied.
  bool Apply(const TaskTransition& transition) {
    auto applied = store_->ApplyTransitions({transition});
    EXPECT_TRUE(IsOk(applied));
    return applied.ok() && applied->size() == 1 && (*applied)[0];
  }

  // Moves a queued task instance into its next try, running on `hostname`.
  TaskTransition StartNextTry(const TaskInstance& queued, const std::string& hostname = "worker1") {
    TaskTransition transition = Move(queued, TaskState::kRunning);
    transition.updated.try_number = queued.try_number + 1;
    transition.updated.start_date = kDay + hours(1);
    transition.updated.hostname = hostname;
    transition.updated.pid = 4242;
    transition.updated.owner_job_id = 7;
    return transition;
  }

  std::unique_ptr<StoreDatabase> database_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, MigrateTwiceKeepsSchemaAndData) {
  ASSERT_TRUE(
      IsOk(store_->SyncDag({"etl", "dags/etl.toml", "@daily", false, std::nullopt}, false)));
  ASSERT_TRUE(IsOk(store_->Migrate()));
  auto version = store_->SchemaVersion();
  ASSERT_TRUE(IsOk(version));
  EXPECT_EQ(*version, Store::kSchemaVersion);
  auto dag = store_->GetDag("etl");
  ASSERT_TRUE(IsOk(dag));
  EXPECT_TRUE(dag->has_value());
}

TEST_P(StoreTest, MigrateFromAnotherConnectionIsHarmless) {
  auto other = database_->Connect();
  ASSERT_TRUE(IsOk(other));
  ASSERT_TRUE(IsOk((*other)->Migrate()));
  auto version = (*other)->SchemaVersion();
  ASSERT_TRUE(IsOk(version));
  EXPECT_EQ(*version, Store::kSchemaVersion);
}

TEST_P(StoreTest, NowIsTheDatabaseClockNearThisHost) {
  auto now = store_->Now();
  ASSERT_TRUE(IsOk(now));
  const auto host_now = std::chrono::time_point_cast<Micros>(std::chrono::system_clock::now());
  EXPECT_LT(std::chrono::abs(*now - host_now), std::chrono::minutes(1));
}

TEST_P(StoreTest, SyncDagKeepsPausedStateOnUpdate) {
  DagRecord dag{"etl", "dags/etl.toml", "@daily", false, kDay};
  ASSERT_TRUE(IsOk(store_->SyncDag(dag, /*paused_on_create=*/true)));
  auto created = store_->GetDag("etl");
  ASSERT_TRUE(IsOk(created));
  ASSERT_TRUE(created->has_value());
  EXPECT_TRUE((*created)->is_paused);
  EXPECT_EQ((*created)->last_parsed, kDay);

  ASSERT_TRUE(IsOk(store_->SetDagPaused("etl", false)));
  dag.schedule = "@hourly";
  dag.file = "dags/etl2.toml";
  dag.last_parsed = kDay + hours(1);
  dag.is_paused = true;
  ASSERT_TRUE(IsOk(store_->SyncDag(dag, /*paused_on_create=*/true)));
  auto updated = store_->GetDag("etl");
  ASSERT_TRUE(IsOk(updated));
  ASSERT_TRUE(updated->has_value());
  EXPECT_FALSE((*updated)->is_paused);
  EXPECT_EQ((*updated)->schedule, "@hourly");
  EXPECT_EQ((*updated)->file, "dags/etl2.toml");
  EXPECT_EQ((*updated)->last_parsed, kDay + hours(1));
}

TEST_P(StoreTest, PauseAndUnpause) {
  ASSERT_TRUE(
      IsOk(store_->SyncDag({"etl", "dags/etl.toml", "@daily", false, std::nullopt}, false)));
  ASSERT_TRUE(IsOk(store_->SetDagPaused("etl", true)));
  EXPECT_TRUE(store_->GetDag("etl")->value().is_paused);
  ASSERT_TRUE(IsOk(store_->SetDagPaused("etl", true)));  // already paused: still fine
  ASSERT_TRUE(IsOk(store_->SetDagPaused("etl", false)));
  EXPECT_FALSE(store_->GetDag("etl")->value().is_paused);
  EXPECT_EQ(store_->SetDagPaused("nope", true).code(), Status::Code::kNotFound);
}

TEST_P(StoreTest, ListDagsByIdAndUnknownDagIsEmpty) {
  ASSERT_TRUE(IsOk(store_->SyncDag({"zeta", "z.toml", "@daily", false, kDay}, false)));
  ASSERT_TRUE(IsOk(store_->SyncDag({"alpha", "a.toml", "", false, std::nullopt}, false)));
  auto dags = store_->ListDags();
  ASSERT_TRUE(IsOk(dags));
  ASSERT_EQ(dags->size(), 2u);
  EXPECT_EQ((*dags)[0].dag_id, "alpha");
  EXPECT_EQ((*dags)[0].last_parsed, std::nullopt);
  EXPECT_EQ((*dags)[1].dag_id, "zeta");
  auto missing = store_->GetDag("missing");
  ASSERT_TRUE(IsOk(missing));
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreTest, ImportErrorsAreReplacedAsAWhole) {
  ASSERT_TRUE(IsOk(store_->ReplaceImportErrors(
      {{"b.toml", "b.toml:1:1: bad", kDay}, {"a.toml", "a.toml:2:3: worse", kDay + hours(1)}})));
  auto first = store_->ListImportErrors();
  ASSERT_TRUE(IsOk(first));
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].file, "a.toml");
  EXPECT_EQ((*first)[0].message, "a.toml:2:3: worse");
  EXPECT_EQ((*first)[0].recorded_at, kDay + hours(1));

  ASSERT_TRUE(IsOk(store_->ReplaceImportErrors({{"c.toml", "c.toml:9:1: oops", kDay}})));
  auto second = store_->ListImportErrors();
  ASSERT_TRUE(IsOk(second));
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].file, "c.toml");

  ASSERT_TRUE(IsOk(store_->ReplaceImportErrors({})));
  EXPECT_TRUE(store_->ListImportErrors()->empty());
}

TEST_P(StoreTest, CreateDagRunWritesTheRunAndItsTaskInstances) {
  DagRun run = MakeRun("etl", "manual__1", kDay, RunType::kManual);
  run.conf_json = R"({"table": "sales"})";
  std::vector<TaskInstance> tis = MakeTaskInstances(run, {"load", "extract"});
  tis[0].priority = 5;
  tis[0].pool = "db";
  tis[0].queue = "heavy";
  auto created = store_->CreateDagRun(run, tis);
  ASSERT_TRUE(IsOk(created));
  EXPECT_TRUE(*created);

  auto read = store_->GetDagRun("etl", "manual__1");
  ASSERT_TRUE(IsOk(read));
  ASSERT_TRUE(read->has_value());
  const DagRun& stored = **read;
  EXPECT_EQ(stored.state, RunState::kQueued);
  EXPECT_EQ(stored.run_type, RunType::kManual);
  EXPECT_EQ(stored.logical_date, kDay);
  EXPECT_EQ(stored.data_interval_start, kDay);
  EXPECT_EQ(stored.data_interval_end, kDay + hours(24));
  EXPECT_EQ(stored.start_date, std::nullopt);
  EXPECT_EQ(stored.end_date, std::nullopt);
  EXPECT_EQ(stored.conf_json, R"({"table": "sales"})");

  auto listed = store_->ListTaskInstances("etl", "manual__1");
  ASSERT_TRUE(IsOk(listed));
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key.task_id, "extract");
  const TaskInstance& load = (*listed)[1];
  EXPECT_EQ(load.key, (TaskInstanceKey{"etl", "manual__1", "load"}));
  EXPECT_EQ(load.state, TaskState::kNone);
  EXPECT_EQ(load.try_number, 0);
  EXPECT_EQ(load.priority, 5);
  EXPECT_EQ(load.pool, "db");
  EXPECT_EQ(load.queue, "heavy");
  EXPECT_EQ(load.exit_code, std::nullopt);
  EXPECT_EQ(load.owner_job_id, 0);

  auto missing = store_->GetDagRun("etl", "manual__2");
  ASSERT_TRUE(IsOk(missing));
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreTest, LongAndNonAsciiTextRoundTrips) {
  const std::string file = "dags/übersicht/🚀 launch.toml";
  std::string message = file + ":1:1: ";
  while (message.size() < 20000) message += "ünïcödé and a long explanation; ";
  ASSERT_TRUE(IsOk(store_->SyncDag({"étl_🚀", file, "@daily", false, kDay}, false)));
  ASSERT_TRUE(IsOk(store_->ReplaceImportErrors({{file, message, kDay}})));
  auto dag = store_->GetDag("étl_🚀");
  ASSERT_TRUE(IsOk(dag));
  ASSERT_TRUE(dag->has_value());
  EXPECT_EQ((*dag)->file, file);
  auto errors = store_->ListImportErrors();
  ASSERT_TRUE(IsOk(errors));
  ASSERT_EQ(errors->size(), 1u);
  EXPECT_EQ((*errors)[0].message, message);
  // Keys compare byte for byte: a differently cased id is another DAG.
  EXPECT_FALSE(store_->GetDag("ÉTL_🚀")->has_value());
}

TEST_P(StoreTest, CreateDagRunWithTakenRunIdWritesNothing) {
  CreateRun("run1", kDay, {{"extract", TaskState::kNone}});
  DagRun again = MakeRun("etl", "run1", kDay + hours(24));
  auto created = store_->CreateDagRun(again, MakeTaskInstances(again, {"extract", "report"}));
  ASSERT_TRUE(IsOk(created));
  EXPECT_FALSE(*created);
  EXPECT_EQ(store_->GetDagRun("etl", "run1")->value().logical_date, kDay);
  EXPECT_EQ(store_->ListTaskInstances("etl", "run1")->size(), 1u);
}

TEST_P(StoreTest, CreateDagRunWithTakenLogicalDateWritesNothing) {
  CreateRun("run1", kDay, {{"extract", TaskState::kNone}});
  DagRun again = MakeRun("etl", "run2", kDay);
  auto created = store_->CreateDagRun(again, MakeTaskInstances(again, {"extract"}));
  ASSERT_TRUE(IsOk(created));
  EXPECT_FALSE(*created);
  EXPECT_FALSE(store_->GetDagRun("etl", "run2")->has_value());
  EXPECT_TRUE(store_->ListTaskInstances("etl", "run2")->empty());

  // The same logical date in another DAG is no conflict.
  DagRun other = MakeRun("other", "run2", kDay);
  EXPECT_TRUE(store_->CreateDagRun(other, MakeTaskInstances(other, {"extract"})).value());
}

TEST_P(StoreTest, CreateDagRunRefusesTaskInstancesItCannotHold) {
  DagRun run = MakeRun("etl", "run1", kDay);
  std::vector<TaskInstance> foreign = MakeTaskInstances(MakeRun("etl", "run9", kDay), {"a"});
  EXPECT_EQ(store_->CreateDagRun(run, foreign).status().code(), Status::Code::kInvalidInput);
  auto twice = store_->CreateDagRun(run, MakeTaskInstances(run, {"a", "a"}));
  EXPECT_FALSE(twice.ok());
  EXPECT_FALSE(store_->GetDagRun("etl", "run1")->has_value());
  EXPECT_TRUE(store_->ListTaskInstances("etl", "run1")->empty());
}

TEST_P(StoreTest, ListDagRunsNewestFirstWithFilters) {
  CreateRun("d1", kDay, {}, RunState::kSuccess);
  CreateRun("d3", kDay + hours(48), {}, RunState::kRunning);
  CreateRun("d2", kDay + hours(24), {}, RunState::kRunning);
  DagRun other = MakeRun("other", "o1", kDay + hours(12));
  ASSERT_TRUE(store_->CreateDagRun(other, {}).value());

  auto ids = [](const Result<std::vector<DagRun>>& runs) {
    std::vector<std::string> names;
    for (const DagRun& run : runs.value()) names.push_back(run.run_id);
    return names;
  };
  EXPECT_EQ(ids(store_->ListDagRuns({})), (std::vector<std::string>{"d3", "d2", "o1", "d1"}));
  EXPECT_EQ(ids(store_->ListDagRuns({"etl", std::nullopt, 0})),
            (std::vector<std::string>{"d3", "d2", "d1"}));
  EXPECT_EQ(ids(store_->ListDagRuns({"etl", RunState::kRunning, 0})),
            (std::vector<std::string>{"d3", "d2"}));
  EXPECT_EQ(ids(store_->ListDagRuns({std::nullopt, RunState::kQueued, 0})),
            (std::vector<std::string>{"o1"}));
  EXPECT_EQ(ids(store_->ListDagRuns({std::nullopt, std::nullopt, 2})),
            (std::vector<std::string>{"d3", "d2"}));
  EXPECT_TRUE(store_->ListDagRuns({"missing", std::nullopt, 0})->empty());
}

TEST_P(StoreTest, SetDagRunStateIsACompareAndSet) {
  CreateRun("run1", kDay, {}, RunState::kQueued);
  Status lost = store_->SetDagRunState("etl", "run1", RunState::kRunning, RunState::kSuccess,
                                       std::nullopt, kDay);
  EXPECT_EQ(lost.code(), Status::Code::kConflict);

  ASSERT_TRUE(IsOk(store_->SetDagRunState("etl", "run1", RunState::kQueued, RunState::kRunning,
                                          kDay + hours(1), std::nullopt)));
  ASSERT_TRUE(IsOk(store_->SetDagRunState("etl", "run1", RunState::kRunning, RunState::kFailed,
                                          std::nullopt, kDay + hours(2))));
  DagRun run = store_->GetDagRun("etl", "run1")->value();
  EXPECT_EQ(run.state, RunState::kFailed);
  EXPECT_EQ(run.start_date, kDay + hours(1));  // kept: not given
  EXPECT_EQ(run.end_date, kDay + hours(2));

  EXPECT_EQ(store_
                ->SetDagRunState("etl", "nope", RunState::kQueued, RunState::kRunning, std::nullopt,
                                 std::nullopt)
                .code(),
            Status::Code::kNotFound);
}

TEST_P(StoreTest, LatestScheduledLogicalDateIgnoresOtherRunTypes) {
  auto none = store_->LatestScheduledLogicalDate("etl");
  ASSERT_TRUE(IsOk(none));
  EXPECT_EQ(*none, std::nullopt);
  CreateRun("s1", kDay, {});
  CreateRun("s2", kDay + hours(24), {});
  DagRun manual = MakeRun("etl", "m1", kDay + hours(72), RunType::kManual);
  ASSERT_TRUE(store_->CreateDagRun(manual, {}).value());
  auto latest = store_->LatestScheduledLogicalDate("etl");
  ASSERT_TRUE(IsOk(latest));
  EXPECT_EQ(*latest, kDay + hours(24));
}

TEST_P(StoreTest, TransitionAppliesOnlyFromTheExpectedStateAndTry) {
  CreateRun("run1", kDay, {{"extract", TaskState::kScheduled}});
  const TaskInstance scheduled = Get({"etl", "run1", "extract"});

  TaskTransition stale_state = Move(scheduled, TaskState::kQueued);
  stale_state.expected_state = TaskState::kNone;
  EXPECT_FALSE(Apply(stale_state));
  TaskTransition stale_try = Move(scheduled, TaskState::kQueued);
  stale_try.expected_try = 3;
  EXPECT_FALSE(Apply(stale_try));
  EXPECT_EQ(Get(scheduled.key).state, TaskState::kScheduled);

  TaskTransition good = Move(scheduled, TaskState::kQueued);
  good.updated.owner_job_id = 12;
  good.updated.priority = 9;
  EXPECT_TRUE(Apply(good));
  const TaskInstance queued = Get(scheduled.key);
  EXPECT_EQ(queued.state, TaskState::kQueued);
  EXPECT_EQ(queued.owner_job_id, 12);
  EXPECT_EQ(queued.priority, 9);

  // The same transition again finds the row moved: it lost.
  EXPECT_FALSE(Apply(good));
}

TEST_P(StoreTest, BatchAppliesOnlyTheTransitionsThatStillMatch) {
  CreateRun("run1", kDay,
            {{"a", TaskState::kScheduled}, {"b", TaskState::kScheduled}, {"c", TaskState::kNone}});
  TaskTransition a = Move(Get({"etl", "run1", "a"}), TaskState::kQueued);
  TaskTransition b = Move(Get({"etl", "run1", "b"}), TaskState::kQueued);
  b.expected_state = TaskState::kNone;  // stale
  TaskTransition c = Move(Get({"etl", "run1", "c"}), TaskState::kSkipped);
  auto applied = store_->ApplyTransitions({a, b, c});
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(Get(a.updated.key).state, TaskState::kQueued);
  EXPECT_EQ(Get(b.updated.key).state, TaskState::kScheduled);
  EXPECT_EQ(Get(c.updated.key).state, TaskState::kSkipped);

  auto empty = store_->ApplyTransitions({});
  ASSERT_TRUE(IsOk(empty));
  EXPECT_TRUE(empty->empty());
}

TEST_P(StoreTest, EnteringRunningStartsATryAndTheSameTryCannotStartTwice) {
  CreateRun("run1", kDay, {{"extract", TaskState::kQueued}});
  const TaskTransition start = StartNextTry(Get({"etl", "run1", "extract"}));
  ASSERT_TRUE(Apply(start));
  auto tries = store_->ListTaskTries(start.updated.key);
  ASSERT_TRUE(IsOk(tries));
  ASSERT_EQ(tries->size(), 1u);
  const TaskTry& task_try = (*tries)[0];
  EXPECT_EQ(task_try.key, start.updated.key);
  EXPECT_EQ(task_try.try_number, 1);
  EXPECT_EQ(task_try.state, TaskState::kRunning);
  EXPECT_EQ(task_try.hostname, "worker1");
  EXPECT_EQ(task_try.pid, 4242);
  EXPECT_EQ(task_try.start_date, kDay + hours(1));
  EXPECT_EQ(task_try.end_date, std::nullopt);

  // Put back in the queue without a new try number, then started again
  // elsewhere: the try's row refuses it and the task instance stays as it was.
  TaskTransition requeue = Move(Get(start.updated.key), TaskState::kQueued);
  ASSERT_TRUE(Apply(requeue));
  const TaskInstance before = Get(start.updated.key);
  TaskTransition again = Move(before, TaskState::kRunning);
  again.updated.hostname = "worker2";
  again.updated.pid = 99;
  EXPECT_FALSE(Apply(again));
  const TaskInstance after = Get(start.updated.key);
  EXPECT_EQ(after.state, TaskState::kQueued);
  EXPECT_EQ(after.try_number, 1);
  EXPECT_EQ(after.hostname, before.hostname);
  EXPECT_EQ(after.pid, before.pid);
  EXPECT_EQ(store_->ListTaskTries(start.updated.key)->size(), 1u);
}

TEST_P(StoreTest, RefusedStartDoesNotSpoilTheRestOfTheBatch) {
  CreateRun("run1", kDay, {{"a", TaskState::kQueued}, {"b", TaskState::kQueued}});
  ASSERT_TRUE(Apply(StartNextTry(Get({"etl", "run1", "a"}))));
  ASSERT_TRUE(Apply(Move(Get({"etl", "run1", "a"}), TaskState::kQueued)));

  TaskTransition a_again = Move(Get({"etl", "run1", "a"}), TaskState::kRunning);
  TaskTransition b_start = StartNextTry(Get({"etl", "run1", "b"}));
  auto applied = store_->ApplyTransitions({a_again, b_start});
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, (std::vector<bool>{false, true}));
  EXPECT_EQ(Get(a_again.updated.key).state, TaskState::kQueued);
  EXPECT_EQ(Get(b_start.updated.key).state, TaskState::kRunning);
}

TEST_P(StoreTest, LeavingRunningClosesTheTry) {
  CreateRun("run1", kDay, {{"extract", TaskState::kQueued}});
  const TaskInstanceKey key{"etl", "run1", "extract"};
  ASSERT_TRUE(Apply(StartNextTry(Get(key))));

  TaskTransition failed = Move(Get(key), TaskState::kUpForRetry);
  failed.updated.end_date = kDay + hours(2);
  failed.updated.exit_code = 3;
  failed.updated.next_retry_at = kDay + hours(3);
  ASSERT_TRUE(Apply(failed));
  TaskInstance retry = Get(key);
  EXPECT_EQ(retry.state, TaskState::kUpForRetry);
  EXPECT_EQ(retry.next_retry_at, kDay + hours(3));
  EXPECT_EQ(retry.exit_code, 3);

  ASSERT_TRUE(Apply(Move(retry, TaskState::kQueued)));
  TaskTransition second = StartNextTry(Get(key), "worker2");
  ASSERT_TRUE(Apply(second));
  TaskTransition succeeded = Move(Get(key), TaskState::kSuccess);
  succeeded.updated.end_date = kDay + hours(4);
  succeeded.updated.exit_code = 0;
  succeeded.updated.pid = 4343;  // a worker learns it after its claim
  ASSERT_TRUE(Apply(succeeded));

  auto tries = store_->ListTaskTries(key);
  ASSERT_TRUE(IsOk(tries));
  ASSERT_EQ(tries->size(), 2u);
  EXPECT_EQ((*tries)[0].try_number, 1);
  EXPECT_EQ((*tries)[0].state, TaskState::kUpForRetry);
  EXPECT_EQ((*tries)[0].end_date, kDay + hours(2));
  EXPECT_EQ((*tries)[0].exit_code, 3);
  EXPECT_EQ((*tries)[1].try_number, 2);
  EXPECT_EQ((*tries)[1].hostname, "worker2");
  EXPECT_EQ((*tries)[1].state, TaskState::kSuccess);
  EXPECT_EQ((*tries)[1].end_date, kDay + hours(4));
  EXPECT_EQ((*tries)[1].exit_code, 0);
  EXPECT_EQ((*tries)[1].pid, 4343);
}

TEST_P(StoreTest, GetTaskInstanceReadsOneRow) {
  CreateRun("run1", kDay, {{"extract", TaskState::kQueued}, {"load", TaskState::kNone}});
  const TaskTransition start = StartNextTry(Get({"etl", "run1", "extract"}));
  ASSERT_TRUE(Apply(start));

  auto ti = store_->GetTaskInstance(start.updated.key);
  ASSERT_TRUE(IsOk(ti));
  ASSERT_TRUE(ti->has_value());
  EXPECT_EQ((*ti)->key, start.updated.key);
  EXPECT_EQ((*ti)->state, TaskState::kRunning);
  EXPECT_EQ((*ti)->try_number, 1);
  EXPECT_EQ((*ti)->start_date, kDay + hours(1));
  EXPECT_EQ((*ti)->hostname, "worker1");
  EXPECT_EQ((*ti)->pid, 4242);
  EXPECT_EQ((*ti)->owner_job_id, 7);
  EXPECT_EQ((*ti)->pool, "default_pool");
  EXPECT_EQ((*ti)->queue, "default");

  for (const TaskInstanceKey& key :
       {TaskInstanceKey{"etl", "run1", "nope"}, TaskInstanceKey{"etl", "run2", "extract"},
        TaskInstanceKey{"other", "run1", "extract"}}) {
    SCOPED_TRACE(key.ToString());
    auto missing = store_->GetTaskInstance(key);
    ASSERT_TRUE(IsOk(missing));
    EXPECT_FALSE(missing->has_value());
  }
}

TEST_P(StoreTest, TaskInstancesOfActiveRunsOnly) {
  CreateRun("queued", kDay, {{"a", TaskState::kNone}}, RunState::kQueued);
  CreateRun("running", kDay + hours(24), {{"a", TaskState::kRunning}, {"b", TaskState::kNone}});
  CreateRun("done", kDay + hours(48), {{"a", TaskState::kSuccess}}, RunState::kSuccess);
  CreateRun("failed", kDay + hours(72), {{"a", TaskState::kFailed}}, RunState::kFailed);
  auto active = store_->ListTaskInstancesOfActiveRuns();
  ASSERT_TRUE(IsOk(active));
  std::vector<std::string> keys;
  for (const TaskInstance& ti : *active) keys.push_back(ti.key.ToString());
  EXPECT_EQ(keys, (std::vector<std::string>{"etl/queued/a", "etl/running/a", "etl/running/b"}));
}

TEST_P(StoreTest, ClearResetsFinishedTaskInstancesAndRequeuesTheRun) {
  CreateRun("run1", kDay,
            {{"success", TaskState::kSuccess},
             {"failed", TaskState::kFailed},
             {"upstream_failed", TaskState::kUpstreamFailed},
             {"skipped", TaskState::kSkipped},
             {"up_for_retry", TaskState::kUpForRetry},
             {"queued", TaskState::kQueued},
             {"running", TaskState::kRunning},
             {"none", TaskState::kNone}},
            RunState::kRunning);
  ASSERT_TRUE(IsOk(store_->SetDagRunState("etl", "run1", RunState::kRunning, RunState::kFailed,
                                          kDay, kDay + hours(5))));
  // Give every task instance the traces of a finished try.
  auto all = store_->ListTaskInstances("etl", "run1").value();
  std::vector<TaskTransition> traces;
  for (const TaskInstance& ti : all) {
    TaskTransition trace = Move(ti, ti.state);
    trace.updated.try_number = 2;
    trace.updated.start_date = kDay + hours(1);
    trace.updated.end_date = kDay + hours(2);
    trace.updated.exit_code = 1;
    trace.updated.next_retry_at = kDay + hours(3);
    trace.updated.hostname = "worker1";
    trace.updated.pid = 77;
    trace.updated.owner_job_id = 5;
    traces.push_back(trace);
  }
  ASSERT_EQ(store_->ApplyTransitions(traces).value(), std::vector<bool>(all.size(), true));

  std::vector<std::string> task_ids;
  for (const TaskInstance& ti : all) task_ids.push_back(ti.key.task_id);
  task_ids.push_back("no_such_task");
  auto cleared = store_->ClearTaskInstances("etl", "run1", task_ids);
  ASSERT_TRUE(IsOk(cleared));
  EXPECT_EQ(*cleared, 5);

  const std::vector<TaskInstance> after = store_->ListTaskInstances("etl", "run1").value();
  for (const TaskInstance& ti : after) {
    SCOPED_TRACE(ti.key.task_id);
    EXPECT_EQ(ti.try_number, 2);
    const bool left_alone =
        ti.key.task_id == "queued" || ti.key.task_id == "running" || ti.key.task_id == "none";
    if (left_alone) {
      EXPECT_EQ(ToString(ti.state), ti.key.task_id);
      EXPECT_EQ(ti.hostname, "worker1");
      EXPECT_EQ(ti.exit_code, 1);
      continue;
    }
    EXPECT_EQ(ti.state, TaskState::kNone);
    EXPECT_EQ(ti.start_date, std::nullopt);
    EXPECT_EQ(ti.end_date, std::nullopt);
    EXPECT_EQ(ti.exit_code, std::nullopt);
    EXPECT_EQ(ti.next_retry_at, std::nullopt);
    EXPECT_EQ(ti.hostname, "");
    EXPECT_EQ(ti.pid, 0);
    EXPECT_EQ(ti.owner_job_id, 0);
  }
  DagRun run = store_->GetDagRun("etl", "run1")->value();
  EXPECT_EQ(run.state, RunState::kQueued);
  EXPECT_EQ(run.end_date, std::nullopt);
  EXPECT_EQ(run.start_date, kDay);
}

TEST_P(StoreTest, ClearOfNothingClearableLeavesTheRunAlone) {
  CreateRun("run1", kDay, {{"a", TaskState::kRunning}, {"b", TaskState::kQueued}});
  auto cleared = store_->ClearTaskInstances("etl", "run1", {"a", "b", "c"});
  ASSERT_TRUE(IsOk(cleared));
  EXPECT_EQ(*cleared, 0);
  EXPECT_EQ(store_->GetDagRun("etl", "run1")->value().state, RunState::kRunning);
  EXPECT_EQ(Get({"etl", "run1", "a"}).state, TaskState::kRunning);
}

JobRecord MakeJob(const std::string& kind, int pid) {
  JobRecord job;
  job.kind = kind;
  job.hostname = "master1";
  job.pid = pid;
  job.process_start_ticks = 123456;
  return job;
}

TEST_P(StoreTest, RegisteredJobsAreListedUntilEnded) {
  auto scheduler = store_->RegisterJob(MakeJob("scheduler", 10));
  auto agent = store_->RegisterJob(MakeJob("agent", 11));
  ASSERT_TRUE(IsOk(scheduler));
  ASSERT_TRUE(IsOk(agent));
  EXPECT_NE(*scheduler, *agent);

  auto jobs = store_->ListRunningJobs("scheduler");
  ASSERT_TRUE(IsOk(jobs));
  ASSERT_EQ(jobs->size(), 1u);
  const JobRecord& job = (*jobs)[0];
  EXPECT_EQ(job.id, *scheduler);
  EXPECT_EQ(job.kind, "scheduler");
  EXPECT_EQ(job.hostname, "master1");
  EXPECT_EQ(job.pid, 10);
  EXPECT_EQ(job.process_start_ticks, 123456);
  EXPECT_EQ(job.state, kJobRunning);
  EXPECT_EQ(job.start_date, job.latest_heartbeat);
  EXPECT_GE(job.heartbeat_age, Duration(0));

  ASSERT_TRUE(IsOk(store_->EndJob(*scheduler)));
  EXPECT_TRUE(store_->ListRunningJobs("scheduler")->empty());
  EXPECT_EQ(store_->ListRunningJobs("agent")->size(), 1u);
}

TEST_P(StoreTest, HeartbeatAgeGrowsByTheDatabaseClock) {
  auto first = store_->RegisterJob(MakeJob("scheduler", 10));
  ASSERT_TRUE(IsOk(first));
  std::this_thread::sleep_for(milliseconds(120));
  auto second = store_->RegisterJob(MakeJob("scheduler", 20));
  ASSERT_TRUE(IsOk(second));

  auto jobs = store_->ListRunningJobs("scheduler");
  ASSERT_TRUE(IsOk(jobs));
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].id, *second);  // newest heartbeat first
  EXPECT_GE((*jobs)[1].heartbeat_age, milliseconds(100));
  EXPECT_LT((*jobs)[0].heartbeat_age, (*jobs)[1].heartbeat_age);

  // The database clock counts milliseconds: let it tick past the second's start.
  std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(IsOk(store_->HeartbeatJob(*first, 0)));
  auto after = store_->ListRunningJobs("scheduler");
  ASSERT_TRUE(IsOk(after));
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].id, *first);
  EXPECT_LT((*after)[0].heartbeat_age, milliseconds(100));
  EXPECT_GT((*after)[0].latest_heartbeat, (*jobs)[1].latest_heartbeat);
}

TEST_P(StoreTest, HeartbeatOfAMissingJobIsNotFound) {
  EXPECT_EQ(store_->HeartbeatJob(424242, 0).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->EndJob(424242).code(), Status::Code::kNotFound);
}

TEST_P(StoreTest, AgentJobKeepsItsNameQueuesAndEndpoint) {
  JobRecord agent = MakeJob("agent", 11);
  agent.name = "worker-7";
  agent.queues = "default,heavy";
  agent.endpoint = "10.0.0.7:8793";
  agent.running_count = 2;
  auto id = store_->RegisterJob(agent);
  ASSERT_TRUE(IsOk(id));

  auto listed = store_->ListRunningJobs("agent");
  ASSERT_TRUE(IsOk(listed));
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "worker-7");
  EXPECT_EQ((*listed)[0].queues, "default,heavy");
  EXPECT_EQ((*listed)[0].endpoint, "10.0.0.7:8793");
  EXPECT_EQ((*listed)[0].running_count, 2);

  ASSERT_TRUE(IsOk(store_->HeartbeatJob(*id, 5)));
  auto job = store_->GetJob(*id);
  ASSERT_TRUE(IsOk(job));
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->running_count, 5);
  EXPECT_EQ((*job)->name, "worker-7");
}

TEST_P(StoreTest, GetJobFindsEndedJobsWithTheirHeartbeatAge) {
  auto id = store_->RegisterJob(MakeJob("scheduler", 10));
  ASSERT_TRUE(IsOk(id));
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_TRUE(IsOk(store_->EndJob(*id)));

  auto job = store_->GetJob(*id);
  ASSERT_TRUE(IsOk(job));
  ASSERT_TRUE(job->has_value());
  EXPECT_EQ((*job)->id, *id);
  EXPECT_EQ((*job)->kind, "scheduler");
  EXPECT_EQ((*job)->hostname, "master1");
  EXPECT_EQ((*job)->pid, 10);
  EXPECT_EQ((*job)->process_start_ticks, 123456);
  EXPECT_EQ((*job)->state, kJobEnded);
  EXPECT_EQ((*job)->name, "");
  EXPECT_GE((*job)->heartbeat_age, milliseconds(40));

  auto missing = store_->GetJob(*id + 1000);
  ASSERT_TRUE(IsOk(missing));
  EXPECT_FALSE(missing->has_value());
}

// Two connections (as two schedulers would hold) race to start the same try
// of each task instance: the compare-and-set lets exactly one of them win.
TEST_P(StoreTest, RacingConnectionsStartEachTryOnce) {
  constexpr int kRounds = 200;
  std::vector<std::pair<std::string, TaskState>> tasks;
  for (int i = 0; i < kRounds; ++i)
    tasks.emplace_back("task" + std::to_string(i), TaskState::kQueued);
  CreateRun("race", kDay, tasks);

  std::vector<std::unique_ptr<Store>> racers;
  for (int i = 0; i < 2; ++i) {
    auto store = database_->Connect();
    ASSERT_TRUE(IsOk(store));
    racers.push_back(std::move(*store));
  }
  std::vector<std::vector<int>> won(2, std::vector<int>(kRounds, 0));
  std::vector<std::string> errors(2);
  std::barrier start_line(2);
  auto race = [&](int racer) {
    for (int round = 0; round < kRounds; ++round) {
      TaskInstance queued;
      queued.key = {"etl", "race", "task" + std::to_string(round)};
      queued.state = TaskState::kQueued;
      TaskTransition start = StartNextTry(queued, "racer" + std::to_string(racer));
      start_line.arrive_and_wait();
      auto applied = racers[racer]->ApplyTransitions({start});
      if (!applied.ok()) {
        errors[racer] = applied.status().message();
      } else {
        won[racer][round] = (*applied)[0] ? 1 : 0;
      }
    }
  };
  std::thread first(race, 0);
  std::thread second(race, 1);
  first.join();
  second.join();

  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_EQ(won[0][round] + won[1][round], 1) << "round " << round;
    const TaskInstanceKey key{"etl", "race", "task" + std::to_string(round)};
    auto tries = store_->ListTaskTries(key);
    ASSERT_TRUE(IsOk(tries));
    ASSERT_EQ(tries->size(), 1u);
    EXPECT_EQ((*tries)[0].hostname, won[0][round] ? "racer0" : "racer1");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::ValuesIn(StoreBackends()),
                         [](const ::testing::TestParamInfo<StoreBackend>& info) {
                           return info.param.name;
                         });

// What follows is SQLite's own: its file, its settings and its URL forms.

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string Url(const std::filesystem::path& path) { return "sqlite://" + path.string(); }

  std::unique_ptr<Store> Open(const std::filesystem::path& path) {
    auto store = OpenStore(ConfigFor(Url(path)), folder_.path());
    EXPECT_TRUE(IsOk(store));
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Runs SQL on the file behind the store's back; the first column of the first row.
  std::string Query(const std::filesystem::path& path, const std::string& sql) {
    sqlite3* db = nullptr;
    std::string value;
    if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
      sqlite3_exec(
          db, sql.c_str(),
          [](void* out, int columns, char** values, char**) {
            if (columns > 0 && values[0] != nullptr) *static_cast<std::string*>(out) = values[0];
            return 0;
          },
          &value, nullptr);
    }
    sqlite3_close(db);
    return value;
  }

  TempFolder folder_;
};

TEST_F(SqliteStoreTest, MigrateCreatesTheFolderAndUsesWal) {
  const auto path = folder_.path() / "deep" / "er" / "baton.db";
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(Query(path, "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, NothingButMigrateCreatesTheFile) {
  const auto path = folder_.path() / "missing.db";
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->ListDags().status().code(), Status::Code::kNotFound);
  EXPECT_EQ(store->RegisterJob(MakeJob("scheduler", 1)).status().code(), Status::Code::kNotFound);
  auto version = store->SchemaVersion();
  ASSERT_TRUE(IsOk(version));
  EXPECT_EQ(*version, 0);
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(SqliteStoreTest, EmptyDatabaseHasSchemaVersionZero) {
  const auto path = folder_.path() / "empty.db";
  Query(path, "CREATE TABLE unrelated (x INTEGER)");
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion().value(), 0);
  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_EQ(store->SchemaVersion().value(), Store::kSchemaVersion);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefused) {
  const auto path = folder_.path() / "baton.db";
  ASSERT_TRUE(IsOk(Open(path)->Migrate()));
  Query(path, "INSERT INTO baton_schema (version) VALUES (" +
                  std::to_string(Store::kSchemaVersion + 1) + ")");
  Status migrated = Open(path)->Migrate();
  EXPECT_FALSE(migrated.ok());
  EXPECT_NE(migrated.message().find("newer than this binary"), std::string::npos)
      << migrated.message();
}

TEST_F(SqliteStoreTest, MigratesAVersionOneDatabaseKeepingItsJobs) {
  const auto path = folder_.path() / "old.db";
  std::string version_one = SchemaVersionTableStatement(SqlDialect::kSqlite) + ";";
  const std::vector<Migration> migrations = SchemaMigrations(SqlDialect::kSqlite);
  for (const std::string& statement : migrations[0].statements) {
    version_one += statement + ";";
  }
  version_one +=
      "INSERT INTO baton_schema (version) VALUES (1);"
      "INSERT INTO job (kind, hostname, pid, process_start_ticks, state, start_date, "
      "latest_heartbeat) VALUES ('scheduler', 'master1', 10, 5, 'running', 1, 1);";
  Query(path, version_one);
  auto store = Open(path);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion().value(), 1);
  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_EQ(store->SchemaVersion().value(), Store::kSchemaVersion);
  auto jobs = store->ListRunningJobs("scheduler");
  ASSERT_TRUE(IsOk(jobs));
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].hostname, "master1");
  EXPECT_EQ((*jobs)[0].name, "");
  EXPECT_EQ((*jobs)[0].running_count, 0);
}

TEST_F(SqliteStoreTest, RelativeUrlIsBelowHome) {
  auto store = OpenStore(ConfigFor("sqlite:data/baton.db"), folder_.path());
  ASSERT_TRUE(IsOk(store));
  ASSERT_TRUE(IsOk((*store)->Migrate()));
  EXPECT_TRUE(std::filesystem::exists(folder_.path() / "data" / "baton.db"));
}

TEST_F(SqliteStoreTest, AbsoluteUrlIgnoresHome) {
  const auto path = folder_.path() / "abs.db";
  auto store = OpenStore(ConfigFor("sqlite://" + path.string()), "/nonexistent/home");
  ASSERT_TRUE(IsOk(store));
  ASSERT_TRUE(IsOk((*store)->Migrate()));
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(OpenStoreTest, RefusesUrlsItCannotServe) {
  for (const std::string url : {"postgres://db/baton", "sqlite:", "sqlite://host/baton.db",
                                "sqlite:///", "baton.db", "", "mysql://db1/baton"}) {
    SCOPED_TRACE(url);
    auto store = OpenStore(ConfigFor(url), "/home");
    EXPECT_EQ(store.status().code(), Status::Code::kInvalidInput);
    EXPECT_NE(store.status().message().find("'" + url + "'"), std::string::npos)
        << store.status().message();
    EXPECT_NE(store.status().message().find(url.starts_with("mysql") ? "mysql://USER@HOST"
                                                                     : "sqlite:///"),
              std::string::npos)
        << store.status().message();
  }
}

TEST(OpenStoreTest, NeverRepeatsAPasswordGivenInTheUrl) {
  for (const std::string url : {"mysql://baton:s3cr3t@db1/baton", "postgres://baton:s3cr3t@db1/x",
                                "mysql://baton:s3cr3t@with@at@db1:3306/baton"}) {
    SCOPED_TRACE(url);
    auto store = OpenStore(ConfigFor(url), "/home");
    EXPECT_EQ(store.status().code(), Status::Code::kInvalidInput);
    EXPECT_EQ(store.status().message().find("s3cr3t"), std::string::npos)
        << store.status().message();
    EXPECT_NE(store.status().message().find("baton:****@"), std::string::npos)
        << store.status().message();
  }
}

TEST(OpenStoreTest, MySqlUrlOpensWithoutConnecting) {
  auto store = OpenStore(ConfigFor("mysql://baton@db1.invalid/baton"), "/home");
  EXPECT_TRUE(IsOk(store));
}

TEST(RunTypeTest, NamesRoundTrip) {
  for (RunType type : {RunType::kScheduled, RunType::kManual, RunType::kBackfill}) {
    EXPECT_EQ(ParseRunType(ToString(type)), type);
  }
  EXPECT_EQ(ToString(RunType::kBackfill), "backfill");
  EXPECT_EQ(ParseRunType("Manual"), std::nullopt);
}

TEST(TaskInstanceKeyTest, OrdersByDagThenRunThenTask) {
  const TaskInstanceKey a{"etl", "run1", "z"};
  const TaskInstanceKey b{"etl", "run2", "a"};
  const TaskInstanceKey c{"fin", "run0", "a"};
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(b < c);
  EXPECT_FALSE(b < a);
  EXPECT_FALSE(a < a);
  EXPECT_EQ(a.ToString(), "etl/run1/z");
}

}  // namespace
}  // namespace baton
