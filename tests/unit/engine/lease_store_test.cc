// The store's failover part, run against SQLite and a real mariadbd
// (tests/support/mariadb_server.h): the lease row and its epoch, the history,
// clearing, the fencing of scheduling writes, and the migration to schema
// version 3. Expiry
// is by the database's clock, so the tests wait real time with short ttls.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <barrier>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/mysql_store.h"
#include "engine/mysql_url.h"
#include "engine/schema.h"
#include "engine/store.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

using ::baton::testing::IsOk;
using ::baton::testing::MariaDbServer;
using ::baton::testing::TempFolder;

constexpr Duration kLongTtl = seconds(60);
constexpr Duration kShortTtl = milliseconds(200);
// Longer than kShortTtl by more than the SQLite clock's millisecond.
constexpr Duration kPastShortTtl = milliseconds(300);

constexpr int64_t kJob1 = 101;
constexpr int64_t kJob2 = 102;
constexpr int64_t kJob3 = 103;

// Held by nobody, and nothing planned: as migrated, or as cleared.
void ExpectFree(const Lease& lease, int64_t epoch) {
  EXPECT_EQ(lease.holder, "");
  EXPECT_EQ(lease.holder_job_id, 0);
  EXPECT_EQ(lease.epoch, epoch);
  EXPECT_LE(lease.remaining, Duration(0));
  EXPECT_EQ(lease.scheduler_node, "");
  EXPECT_EQ(lease.promote_to, "");
  EXPECT_FALSE(lease.maintenance);
}

// Without blocks: MariaDB, written to as a MySQL server is.
enum class Backend { kSqlite, kMariaDb, kMariaDbWithoutBlocks };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kSqlite:
      return "Sqlite";
    case Backend::kMariaDb:
      return "MariaDb";
    case Backend::kMariaDbWithoutBlocks:
      return "MariaDbWithoutBlocks";
  }
  return "";
}

class LeaseStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() != Backend::kSqlite) {
      BATON_ASSIGN_MARIADB_OR_SKIP(server_, MariaDbServer::Shared());
      // The password comes from the server's file; the variable would take precedence.
      ::unsetenv("BATON_STORE_PASSWORD");
    }
    config_ = NewDatabase();
    store_ = Connect();
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(IsOk(store_->Migrate()));
  }

  // A fresh, empty database on this test's backend, not migrated.
  StoreConfig NewDatabase() {
    StoreConfig config;
    if (GetParam() == Backend::kSqlite) {
      config.url = "sqlite://" + (folder_.path() / ("db" + std::to_string(++databases_))).string();
      return config;
    }
    auto database = server_->CreateDatabase("lease_store_test");
    EXPECT_TRUE(IsOk(database));
    config.url = server_->Url(database.ok() ? *database : "");
    config.password_file = server_->password_file();
    return config;
  }

  // A new connection to the test's database (or `config`'s), as another process holds.
  std::unique_ptr<Store> Connect(const std::optional<StoreConfig>& config = std::nullopt) {
    if (GetParam() == Backend::kMariaDbWithoutBlocks) {
      const StoreConfig& chosen = config.value_or(config_);
      return std::make_unique<MySqlStore>(ParseMySqlUrl(chosen.url).value(), server_->password(),
                                          chosen, /*blocks=*/false);
    }
    auto store = OpenStore(config.value_or(config_), folder_.path());
    EXPECT_TRUE(IsOk(store));
    return store.ok() ? std::move(*store) : nullptr;
  }

  // Runs SQL on the database behind the store's back.
  void ExecuteDirectly(const StoreConfig& config, const std::string& sql) {
    if (GetParam() != Backend::kSqlite) {
      const std::string database = config.url.substr(config.url.rfind('/') + 1);
      ASSERT_TRUE(IsOk(server_->Execute(sql, database)));
      return;
    }
    const std::string path = config.url.substr(std::string("sqlite://").size());
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int code = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error != nullptr ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(code, SQLITE_OK) << message;
  }

  SqlDialect Dialect() const {
    return GetParam() == Backend::kSqlite ? SqlDialect::kSqlite : SqlDialect::kMariaDb;
  }

  // A new database at schema version 2, as Baton left it before the lease.
  StoreConfig VersionTwoDatabase() {
    const StoreConfig old = NewDatabase();
    ExecuteDirectly(old, SchemaVersionTableStatement(Dialect()));
    for (const Migration& migration : SchemaMigrations(Dialect())) {
      if (migration.version > 2) break;
      for (const std::string& statement : migration.statements) ExecuteDirectly(old, statement);
      ExecuteDirectly(old, "INSERT INTO baton_schema (version) VALUES (" +
                               std::to_string(migration.version) + ")");
    }
    return old;
  }

  Lease GetLease(Store& store) {
    auto lease = store.GetLease();
    EXPECT_TRUE(IsOk(lease));
    return lease.ok() ? *lease : Lease();
  }
  Lease GetLease() { return GetLease(*store_); }

  std::optional<int64_t> Acquire(const std::string& node, int64_t job_id, Duration ttl = kLongTtl) {
    auto epoch = store_->AcquireLease(node, job_id, ttl);
    EXPECT_TRUE(IsOk(epoch));
    return epoch.ok() ? *epoch : std::nullopt;
  }

  bool Renew(int64_t job_id, int64_t epoch, Duration ttl = kLongTtl) {
    auto renewed = store_->RenewLease(job_id, epoch, ttl);
    EXPECT_TRUE(IsOk(renewed));
    return renewed.ok() && *renewed;
  }

  std::optional<int64_t> Advance(int64_t job_id, int64_t epoch) {
    auto advanced = store_->AdvanceEpoch(job_id, epoch);
    EXPECT_TRUE(IsOk(advanced));
    return advanced.ok() ? *advanced : std::nullopt;
  }

  TempFolder folder_;
  MariaDbServer* server_ = nullptr;
  int databases_ = 0;
  StoreConfig config_;
  std::unique_ptr<Store> store_;
};

TEST_P(LeaseStoreTest, FreshLeaseIsFree) {
  ExpectFree(GetLease(), 0);
  EXPECT_EQ(Acquire("node1", kJob1), 1);
}

TEST_P(LeaseStoreTest, AcquireRaisesTheEpochAndHoldsForTheTtlByTheDatabaseClock) {
  EXPECT_EQ(Acquire("node1", kJob1), 1);
  auto now = store_->Now();
  ASSERT_TRUE(IsOk(now));
  const Lease lease = GetLease();
  EXPECT_EQ(lease.holder, "node1");
  EXPECT_EQ(lease.holder_job_id, kJob1);
  EXPECT_EQ(lease.epoch, 1);
  EXPECT_GT(lease.remaining, kLongTtl - seconds(5));
  EXPECT_LE(lease.remaining, kLongTtl);
  EXPECT_GT(lease.expires_at - *now, kLongTtl - seconds(5));
  EXPECT_LE(lease.expires_at - *now, kLongTtl);
}

TEST_P(LeaseStoreTest, LeaseHeldIsNotAcquiredAgain) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  EXPECT_EQ(Acquire("node2", kJob2), std::nullopt);
  EXPECT_EQ(Acquire("node1", kJob3), std::nullopt);  // the same node, another process
  const Lease lease = GetLease();
  EXPECT_EQ(lease.holder_job_id, kJob1);
  EXPECT_EQ(lease.epoch, 1);
}

TEST_P(LeaseStoreTest, OnlyTheHolderWithItsEpochRenews) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  const TimePoint first_expiry = GetLease().expires_at;
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(Renew(kJob1, 1));
  EXPECT_GT(GetLease().expires_at, first_expiry);
  EXPECT_FALSE(Renew(kJob2, 1));
  EXPECT_FALSE(Renew(kJob1, 0));
  EXPECT_FALSE(Renew(kJob1, 2));
  EXPECT_EQ(GetLease().holder_job_id, kJob1);
}

TEST_P(LeaseStoreTest, ExpiredLeaseGoesToAnotherWithANewerEpoch) {
  ASSERT_EQ(Acquire("node1", kJob1, kShortTtl), 1);
  std::this_thread::sleep_for(kPastShortTtl);
  EXPECT_LE(GetLease().remaining, Duration(0));

  EXPECT_EQ(Acquire("node2", kJob2), 2);
  EXPECT_FALSE(Renew(kJob1, 1));
  const Lease lease = GetLease();
  EXPECT_EQ(lease.holder, "node2");
  EXPECT_EQ(lease.holder_job_id, kJob2);
  EXPECT_EQ(lease.epoch, 2);
}

TEST_P(LeaseStoreTest, ExpiredLeaseNobodyTookIsStillRenewedByItsHolder) {
  ASSERT_EQ(Acquire("node1", kJob1, kShortTtl), 1);
  std::this_thread::sleep_for(kPastShortTtl);
  EXPECT_TRUE(Renew(kJob1, 1));
  EXPECT_GT(GetLease().remaining, kLongTtl - seconds(5));
  EXPECT_EQ(Acquire("node2", kJob2), std::nullopt);
}

TEST_P(LeaseStoreTest, ReleasedLeaseIsTakenAtOnce) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  // Not the holder, or not its epoch: nothing happens.
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob2, 1)));
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 0)));
  EXPECT_EQ(Acquire("node2", kJob2), std::nullopt);

  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));
  EXPECT_LE(GetLease().remaining, Duration(0));
  EXPECT_EQ(Acquire("node2", kJob2), 2);
  // Releasing again, now that another holds it, leaves the new holder alone.
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));
  EXPECT_EQ(GetLease().holder_job_id, kJob2);
  EXPECT_GT(GetLease().remaining, Duration(0));
}

TEST_P(LeaseStoreTest, SwitchoverTargetTakesTheLeaseAndOthersWait) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  ASSERT_TRUE(IsOk(store_->SetPromoteTo("node2")));
  EXPECT_EQ(GetLease().promote_to, "node2");
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));

  EXPECT_EQ(Acquire("node3", kJob3), std::nullopt);
  EXPECT_EQ(Acquire("node1", kJob1), std::nullopt);
  EXPECT_EQ(Acquire("node2", kJob2), 2);
  const Lease lease = GetLease();
  EXPECT_EQ(lease.holder, "node2");
  EXPECT_EQ(lease.promote_to, "");
}

TEST_P(LeaseStoreTest, SwitchoverTargetLosesItsClaimOneTtlAfterExpiry) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  ASSERT_TRUE(IsOk(store_->SetPromoteTo("node2")));
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));
  // Blocked while the lease ended less than the acquirer's ttl ago.
  EXPECT_EQ(Acquire("node3", kJob3, kLongTtl), std::nullopt);

  std::this_thread::sleep_for(kPastShortTtl);
  EXPECT_EQ(Acquire("node3", kJob3, kShortTtl), 2);
  EXPECT_EQ(GetLease().promote_to, "");
}

TEST_P(LeaseStoreTest, CancelledSwitchoverBlocksNobody) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  ASSERT_TRUE(IsOk(store_->SetPromoteTo("node2")));
  ASSERT_TRUE(IsOk(store_->SetPromoteTo("")));
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));
  EXPECT_EQ(Acquire("node3", kJob3), 2);
}

TEST_P(LeaseStoreTest, MaintenanceFlagRoundTripsAndLeavesTheLeaseAlone) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  ASSERT_TRUE(IsOk(store_->SetMaintenance(true)));
  EXPECT_TRUE(GetLease().maintenance);
  EXPECT_TRUE(Renew(kJob1, 1));
  ASSERT_TRUE(IsOk(store_->SetMaintenance(false)));
  const Lease lease = GetLease();
  EXPECT_FALSE(lease.maintenance);
  EXPECT_EQ(lease.holder_job_id, kJob1);
  EXPECT_EQ(lease.epoch, 1);
}

TEST_P(LeaseStoreTest, SchedulerNodeOfAStaleEpochIsFenced) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  ASSERT_TRUE(IsOk(store_->SetSchedulerNode(1, "node1")));
  EXPECT_EQ(GetLease().scheduler_node, "node1");
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));
  ASSERT_EQ(Acquire("node2", kJob2), 2);

  Status stale = store_->SetSchedulerNode(1, "node3");
  EXPECT_EQ(stale.code(), Status::Code::kFenced) << stale.message();
  EXPECT_NE(stale.message().find("epoch 2"), std::string::npos) << stale.message();
  EXPECT_NE(stale.message().find("epoch 1"), std::string::npos) << stale.message();
  EXPECT_EQ(GetLease().scheduler_node, "node1");
  ASSERT_TRUE(IsOk(store_->SetSchedulerNode(2, "node2")));
  EXPECT_EQ(GetLease().scheduler_node, "node2");
}

// A restart or a move of the scheduler: the holder moves its lease to the next
// epoch, and the scheduler started for the previous one is fenced like one of
// an earlier holder.
TEST_P(LeaseStoreTest, AdvanceByTheHolderFencesTheSchedulerOfThePreviousEpoch) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  ASSERT_TRUE(IsOk(store_->SetSchedulerNode(1, "node1")));
  const Lease before = GetLease();
  DagRun run;
  run.dag_id = "etl";
  run.run_id = "run1";
  run.logical_date = FromEpochMicros(1'794'960'000'000'000);
  run.data_interval_start = run.logical_date;
  run.data_interval_end = run.logical_date + hours(24);
  std::unique_ptr<Store> old_scheduler = Connect();
  ASSERT_NE(old_scheduler, nullptr);
  old_scheduler->SetFencingEpoch(1);
  ASSERT_TRUE(old_scheduler->CreateDagRun(run, {}).value());

  EXPECT_EQ(Advance(kJob1, 1), 2);
  const Lease after = GetLease();
  EXPECT_EQ(after.epoch, 2);
  EXPECT_EQ(after.holder, "node1");
  EXPECT_EQ(after.holder_job_id, kJob1);
  EXPECT_EQ(after.expires_at, before.expires_at);  // an advance is no renew
  EXPECT_EQ(after.scheduler_node, "node1");

  // The scheduler of epoch 1, hung or cut off until now, writes nothing.
  DagRun late = run;
  late.run_id = "run2";
  late.logical_date += hours(24);
  Status refused = old_scheduler->CreateDagRun(late, {}).status();
  EXPECT_EQ(refused.code(), Status::Code::kFenced) << refused.message();
  EXPECT_NE(refused.message().find("epoch 2 exists"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("serves epoch 1"), std::string::npos) << refused.message();
  EXPECT_FALSE(store_->GetDagRun("etl", "run2")->has_value());
  EXPECT_EQ(store_->SetSchedulerNode(1, "node2").code(), Status::Code::kFenced);

  // The holder renews with the new epoch only; the new scheduler writes.
  EXPECT_FALSE(Renew(kJob1, 1));
  // SQLite's clock counts milliseconds: the renew must come a tick after `before`.
  std::this_thread::sleep_for(milliseconds(2));
  EXPECT_TRUE(Renew(kJob1, 2));
  EXPECT_GT(GetLease().expires_at, before.expires_at);
  ASSERT_TRUE(IsOk(store_->SetSchedulerNode(2, "node2")));
  std::unique_ptr<Store> new_scheduler = Connect();
  ASSERT_NE(new_scheduler, nullptr);
  new_scheduler->SetFencingEpoch(2);
  EXPECT_TRUE(new_scheduler->CreateDagRun(late, {}).value());
  // And again, for the next start.
  EXPECT_EQ(Advance(kJob1, 2), 3);
  EXPECT_TRUE(Renew(kJob1, 3));
  EXPECT_EQ(GetLease().epoch, 3);
}

TEST_P(LeaseStoreTest, AdvanceByANonHolderOrWithAStaleEpochChangesNothing) {
  ASSERT_EQ(Acquire("node1", kJob1), 1);
  EXPECT_EQ(Advance(kJob2, 1), std::nullopt);
  EXPECT_EQ(Advance(kJob1, 0), std::nullopt);
  EXPECT_EQ(Advance(kJob1, 2), std::nullopt);
  EXPECT_EQ(GetLease().epoch, 1);

  ASSERT_EQ(Advance(kJob1, 1), 2);
  EXPECT_EQ(Advance(kJob1, 1), std::nullopt);  // the epoch it left behind
  EXPECT_EQ(GetLease().epoch, 2);

  // Taken by another since: the old holder moves nothing.
  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 2)));
  ASSERT_EQ(Acquire("node2", kJob2), 3);
  EXPECT_EQ(Advance(kJob1, 2), std::nullopt);
  Lease lease = GetLease();
  EXPECT_EQ(lease.holder_job_id, kJob2);
  EXPECT_EQ(lease.epoch, 3);

  // Cleared: nobody holds it, and the epoch stays.
  ASSERT_TRUE(IsOk(store_->ClearFailoverMetadata()));
  EXPECT_EQ(Advance(kJob2, 3), std::nullopt);
  ExpectFree(GetLease(), 3);
  EXPECT_EQ(Acquire("node1", kJob1), 4);
}

TEST_P(LeaseStoreTest, HistoryIsListedNewestFirst) {
  auto before = store_->Now();
  ASSERT_TRUE(IsOk(before));
  for (int i = 1; i <= 3; ++i) {
    FailoverEvent event;
    event.node = "node" + std::to_string(i);
    event.epoch = i;
    event.kind = i == 1 ? kEventAcquired : kEventSchedulerStarted;
    event.message = "event " + std::to_string(i) + ": caf\xc3\xa9";
    ASSERT_TRUE(IsOk(store_->RecordFailoverEvent(event)));
  }
  auto newest = store_->ListFailoverEvents(2);
  ASSERT_TRUE(IsOk(newest));
  ASSERT_EQ(newest->size(), 2u);
  EXPECT_EQ((*newest)[0].node, "node3");
  EXPECT_EQ((*newest)[1].node, "node2");
  EXPECT_EQ((*newest)[0].epoch, 3);
  EXPECT_EQ((*newest)[0].kind, kEventSchedulerStarted);
  EXPECT_EQ((*newest)[0].message, "event 3: caf\xc3\xa9");
  EXPECT_GT((*newest)[0].id, (*newest)[1].id);
  EXPECT_GE((*newest)[1].at, *before - seconds(1));
  EXPECT_GE((*newest)[0].at, (*newest)[1].at);

  auto all = store_->ListFailoverEvents(0);
  ASSERT_TRUE(IsOk(all));
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].node, "node1");
  EXPECT_EQ((*all)[2].kind, kEventAcquired);
}

JobRecord MakeJob(const std::string& kind, const std::string& name) {
  JobRecord job;
  job.kind = kind;
  job.name = name;
  job.hostname = name;
  job.pid = 10;
  job.process_start_ticks = 123;
  return job;
}

TEST_P(LeaseStoreTest, ClearForgetsAllButTheEpochAndEndsControllerJobs) {
  auto controller = store_->RegisterJob(MakeJob(kControllerJob, "node1"));
  auto scheduler = store_->RegisterJob(MakeJob(kSchedulerJob, "node1"));
  ASSERT_TRUE(IsOk(controller));
  ASSERT_TRUE(IsOk(scheduler));
  ASSERT_EQ(Acquire("node1", *controller), 1);
  ASSERT_TRUE(IsOk(store_->SetSchedulerNode(1, "node1")));
  ASSERT_TRUE(IsOk(store_->SetPromoteTo("node2")));
  ASSERT_TRUE(IsOk(store_->SetMaintenance(true)));
  ASSERT_TRUE(IsOk(store_->RecordFailoverEvent({0, {}, "node1", 1, kEventAcquired, "took it"})));

  ASSERT_TRUE(IsOk(store_->ClearFailoverMetadata()));
  ExpectFree(GetLease(), 1);
  EXPECT_TRUE(store_->ListFailoverEvents(0)->empty());
  EXPECT_TRUE(store_->ListRunningJobs(kControllerJob)->empty());
  EXPECT_EQ(store_->GetJob(*controller)->value().state, kJobEnded);
  EXPECT_EQ(store_->ListRunningJobs(kSchedulerJob)->size(), 1u);

  EXPECT_FALSE(Renew(*controller, 1));
  EXPECT_EQ(Acquire("node2", kJob2), 2);
}

// A scheduler started for epoch 1 keeps working while epoch 1 lasts, and writes
// nothing at all once a newer holder exists; unfenced stores are not affected.
TEST_P(LeaseStoreTest, FencedStoreWritesNothingOnceANewerEpochExists) {
  DagRun run1;
  run1.dag_id = "etl";
  run1.run_id = "run1";
  run1.logical_date = FromEpochMicros(1'794'960'000'000'000);
  run1.data_interval_start = run1.logical_date;
  run1.data_interval_end = run1.logical_date + hours(24);
  std::vector<TaskInstance> task_instances(2);
  for (size_t i = 0; i < task_instances.size(); ++i) {
    task_instances[i].key = {"etl", "run1", "task" + std::to_string(i)};
  }
  ASSERT_TRUE(store_->CreateDagRun(run1, task_instances).value());
  auto schedule = [](const TaskInstance& ti) {
    TaskTransition transition{TaskState::kNone, 0, ti};
    transition.updated.state = TaskState::kScheduled;
    return transition;
  };
  DagRun run2 = run1;
  run2.run_id = "run2";
  run2.logical_date += hours(24);
  DagRun run3 = run2;
  run3.run_id = "run3";
  run3.logical_date += hours(24);

  ASSERT_EQ(Acquire("node1", kJob1), 1);
  std::unique_ptr<Store> scheduler = Connect();
  ASSERT_NE(scheduler, nullptr);
  scheduler->SetFencingEpoch(1);
  auto applied = scheduler->ApplyTransitions({schedule(task_instances[0])});
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, std::vector<bool>{true});
  EXPECT_TRUE(IsOk(scheduler->SetDagRunState("etl", "run1", RunState::kQueued, RunState::kRunning,
                                             std::nullopt, std::nullopt)));
  EXPECT_TRUE(scheduler->CreateDagRun(run2, {}).value());

  ASSERT_TRUE(IsOk(store_->ReleaseLease(kJob1, 1)));
  ASSERT_EQ(Acquire("node2", kJob2), 2);
  const std::vector<Status> refused = {
      scheduler->ApplyTransitions({schedule(task_instances[1])}).status(),
      scheduler->SetDagRunState("etl", "run1", RunState::kRunning, RunState::kSuccess, std::nullopt,
                                std::nullopt),
      scheduler->CreateDagRun(run3, {}).status(),
  };
  for (const Status& status : refused) {
    EXPECT_EQ(status.code(), Status::Code::kFenced) << status.message();
    EXPECT_NE(status.message().find("epoch 2 exists"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("serves epoch 1"), std::string::npos) << status.message();
  }
  auto second = store_->GetTaskInstance(task_instances[1].key);
  ASSERT_TRUE(IsOk(second));
  EXPECT_EQ((*second)->state, TaskState::kNone);
  EXPECT_EQ(store_->GetDagRun("etl", "run1")->value().state, RunState::kRunning);
  EXPECT_FALSE(store_->GetDagRun("etl", "run3")->has_value());

  // Reads are not fenced, and neither is a store without an epoch.
  EXPECT_TRUE(IsOk(scheduler->ListTaskInstances("etl", "run1")));
  EXPECT_EQ(store_->ApplyTransitions({schedule(task_instances[1])}).value(),
            std::vector<bool>{true});
  // A scheduler started for the new epoch writes again.
  scheduler->SetFencingEpoch(2);
  EXPECT_TRUE(scheduler->CreateDagRun(run3, {}).value());
}

// Controllers on several nodes, each with its own connection, try to take a
// free lease at the same moment: every round has exactly one winner, and every
// epoch exactly one holder.
TEST_P(LeaseStoreTest, RacingAcquiresHaveOneWinnerPerEpoch) {
  constexpr int kRacers = 4;
  constexpr int kRounds = 25;
  std::vector<std::unique_ptr<Store>> racers;
  for (int i = 0; i < kRacers; ++i) {
    racers.push_back(Connect());
    ASSERT_NE(racers.back(), nullptr);
  }
  std::vector<std::vector<std::optional<int64_t>>> won(
      kRacers, std::vector<std::optional<int64_t>>(kRounds));
  std::vector<std::string> errors(kRacers);
  std::barrier start_line(kRacers);
  std::vector<std::thread> threads;
  for (int racer = 0; racer < kRacers; ++racer) {
    threads.emplace_back([&, racer] {
      Store& store = *racers[racer];
      const int64_t job_id = 1000 + racer;
      for (int round = 0; round < kRounds; ++round) {
        start_line.arrive_and_wait();
        auto epoch = store.AcquireLease("node" + std::to_string(racer), job_id, kLongTtl);
        if (!epoch.ok()) {
          errors[racer] = epoch.status().message();
        } else {
          won[racer][round] = *epoch;
        }
        // Everyone has tried before the winner lets go for the next round.
        start_line.arrive_and_wait();
        if (won[racer][round]) {
          Status released = store.ReleaseLease(job_id, *won[racer][round]);
          if (!released.ok()) errors[racer] = released.message();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int racer = 0; racer < kRacers; ++racer) EXPECT_EQ(errors[racer], "");
  std::map<int64_t, int> winners_per_epoch;
  for (int round = 0; round < kRounds; ++round) {
    int winners = 0;
    for (int racer = 0; racer < kRacers; ++racer) {
      if (!won[racer][round]) continue;
      ++winners;
      ++winners_per_epoch[*won[racer][round]];
    }
    EXPECT_EQ(winners, 1) << "round " << round;
  }
  EXPECT_EQ(winners_per_epoch.size(), static_cast<size_t>(kRounds));
  for (const auto& [epoch, winners] : winners_per_epoch) {
    EXPECT_EQ(winners, 1) << "epoch " << epoch;
  }
  EXPECT_EQ(GetLease().epoch, kRounds);
}

TEST_P(LeaseStoreTest, MigratesAVersionTwoDatabaseToAFreeLease) {
  const StoreConfig old = VersionTwoDatabase();
  ExecuteDirectly(old,
                  "INSERT INTO job (kind, name, hostname, pid, process_start_ticks, state, "
                  "start_date, latest_heartbeat) VALUES ('scheduler', 'node1', 'master1', 10, 5, "
                  "'running', 1, 1)");
  std::unique_ptr<Store> store = Connect(old);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion().value(), 2);

  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_EQ(store->SchemaVersion().value(), Store::kSchemaVersion);
  ExpectFree(GetLease(*store), 0);
  EXPECT_EQ(store->ListRunningJobs(kSchedulerJob)->size(), 1u);
  EXPECT_EQ(store->AcquireLease("node1", kJob1, kLongTtl).value(), 1);
  ASSERT_TRUE(IsOk(store->Migrate()));  // again: the lease is kept
  EXPECT_EQ(GetLease(*store).epoch, 1);
}

TEST_P(LeaseStoreTest, LeaseTableWithoutItsRowSaysToMigrate) {
  const StoreConfig broken = NewDatabase();
  ASSERT_TRUE(IsOk(Connect(broken)->Migrate()));
  ExecuteDirectly(broken, "DELETE FROM failover_lease");
  std::unique_ptr<Store> store = Connect(broken);
  ASSERT_NE(store, nullptr);
  for (const Status& status : {store->GetLease().status(), store->SetMaintenance(true)}) {
    EXPECT_EQ(status.code(), Status::Code::kInternal) << status.message();
    EXPECT_NE(status.message().find("baton db init"), std::string::npos) << status.message();
  }
  store->SetFencingEpoch(0);
  EXPECT_EQ(store->CreateDagRun(DagRun(), {}).status().code(), Status::Code::kInternal);
}

// MariaDB commits each DDL statement on its own; SQLite migrates in one
// transaction, which cannot be cut off halfway.
TEST_P(LeaseStoreTest, MigrateFinishesAVersionThreeMigrationCutOffHalfway) {
  if (GetParam() == Backend::kSqlite) GTEST_SKIP() << "SQLite migrates in one transaction";
  const StoreConfig old = VersionTwoDatabase();
  const std::vector<Migration> migrations = SchemaMigrations(SqlDialect::kMariaDb);
  // Version 3's table and its row, but not the history table, nor the record.
  ExecuteDirectly(old, migrations[2].statements[0]);
  ExecuteDirectly(old, migrations[2].statements[1]);
  std::unique_ptr<Store> store = Connect(old);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_EQ(store->SchemaVersion().value(), Store::kSchemaVersion);
  EXPECT_EQ(GetLease(*store).epoch, 0);
  EXPECT_TRUE(IsOk(store->RecordFailoverEvent({0, {}, "node1", 0, kEventPromote, "node2"})));
}

INSTANTIATE_TEST_SUITE_P(Backends, LeaseStoreTest,
                         ::testing::Values(Backend::kSqlite, Backend::kMariaDb,
                                           Backend::kMariaDbWithoutBlocks),
                         BackendName);

// What the MariaDB store does when a connection goes away mid-lease.
class MariaDbLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_ASSIGN_MARIADB_OR_SKIP(server_, MariaDbServer::Start());
    ::unsetenv("BATON_STORE_PASSWORD");
    auto database = server_->CreateDatabase("lease_store_test");
    ASSERT_TRUE(IsOk(database));
    StoreConfig config;
    config.url = server_->Url(*database);
    config.password_file = server_->password_file();
    config.connect_timeout = seconds(2);
    auto store = OpenStore(config, folder_.path());
    ASSERT_TRUE(IsOk(store));
    store_ = std::move(*store);
    ASSERT_TRUE(IsOk(store_->Migrate()));
  }

  Status KillConnections() {
    return server_->Execute("KILL CONNECTION USER '" + server_->user() + "'");
  }

  TempFolder folder_;
  std::unique_ptr<MariaDbServer> server_;
  std::unique_ptr<Store> store_;
};

TEST_F(MariaDbLeaseTest, AcquireAndRenewCarryOnAfterTheConnectionIsKilled) {
  ASSERT_TRUE(IsOk(KillConnections()));
  auto epoch = store_->AcquireLease("node1", kJob1, kLongTtl);
  ASSERT_TRUE(IsOk(epoch));
  EXPECT_EQ(*epoch, 1);

  ASSERT_TRUE(IsOk(KillConnections()));
  auto renewed = store_->RenewLease(kJob1, 1, kLongTtl);
  ASSERT_TRUE(IsOk(renewed));
  EXPECT_TRUE(*renewed);
  EXPECT_EQ(store_->GetLease().value().epoch, 1);
}

// An attempt that dies with its connection is read back as if its reply had
// been lost: the lease this job holds is reported, not taken a second time.
TEST_F(MariaDbLeaseTest, AcquireAfterALostConnectionReadsTheLeaseBack) {
  ASSERT_EQ(store_->AcquireLease("node1", kJob1, kLongTtl).value(), 1);
  ASSERT_TRUE(IsOk(KillConnections()));
  auto epoch = store_->AcquireLease("node1", kJob1, kLongTtl);
  ASSERT_TRUE(IsOk(epoch));
  EXPECT_EQ(*epoch, 1);
  EXPECT_EQ(store_->GetLease().value().epoch, 1);

  // Somebody else's lease is not mistaken for this job's.
  ASSERT_TRUE(IsOk(KillConnections()));
  auto other = store_->AcquireLease("node2", kJob2, kLongTtl);
  ASSERT_TRUE(IsOk(other));
  EXPECT_EQ(*other, std::nullopt);
}

// An advance that dies with its connection is read back: held by this job
// with the next epoch, it had applied and is not applied a second time.
TEST_F(MariaDbLeaseTest, AdvanceAfterALostConnectionReadsTheLeaseBack) {
  ASSERT_EQ(store_->AcquireLease("node1", kJob1, kLongTtl).value(), 1);
  ASSERT_TRUE(IsOk(KillConnections()));
  auto advanced = store_->AdvanceEpoch(kJob1, 1);
  ASSERT_TRUE(IsOk(advanced));
  EXPECT_EQ(*advanced, 2);

  // As if the reply to that advance had been lost: the same call again.
  ASSERT_TRUE(IsOk(KillConnections()));
  auto again = store_->AdvanceEpoch(kJob1, 1);
  ASSERT_TRUE(IsOk(again));
  EXPECT_EQ(*again, 2);
  EXPECT_EQ(store_->GetLease().value().epoch, 2);

  // Another job's call is not mistaken for this job's.
  ASSERT_TRUE(IsOk(KillConnections()));
  auto other = store_->AdvanceEpoch(kJob2, 1);
  ASSERT_TRUE(IsOk(other));
  EXPECT_EQ(*other, std::nullopt);
  EXPECT_EQ(store_->GetLease().value().epoch, 2);
}

TEST_F(MariaDbLeaseTest, HistoryRecordedAfterTheConnectionIsKilledIsKeptOnce) {
  ASSERT_TRUE(IsOk(KillConnections()));
  ASSERT_TRUE(IsOk(store_->RecordFailoverEvent({0, {}, "node1", 1, kEventMoved, "to node2"})));
  auto events = store_->ListFailoverEvents(0);
  ASSERT_TRUE(IsOk(events));
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].kind, kEventMoved);
}

}  // namespace
}  // namespace baton
