// What belongs to the MySQL/MariaDB store alone: its URL, its password, its
// database and migrations, and what it does when the server goes away. The
// Store contract itself runs on MariaDB in store_test.
#include "engine/mysql_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/mysql_connection.h"
#include "engine/mysql_url.h"
#include "engine/schema.h"
#include "engine/store.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/status_assertions.h"
#include "tests/support/tcp_relay.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using ::baton::testing::IsOk;
using ::baton::testing::MariaDbServer;
using ::baton::testing::TcpRelay;
using ::baton::testing::TempFolder;
using std::chrono::hours;

TEST(MySqlUrlTest, ReadsUserHostPortAndDatabase) {
  auto url = ParseMySqlUrl("mysql://baton@db1.example.com:3307/baton_prod");
  ASSERT_TRUE(IsOk(url));
  EXPECT_EQ(url->user, "baton");
  EXPECT_EQ(url->host, "db1.example.com");
  EXPECT_EQ(url->port, 3307u);
  EXPECT_EQ(url->database, "baton_prod");
  EXPECT_EQ(url->Name(), "baton@db1.example.com:3307/baton_prod");
}

TEST(MySqlUrlTest, PortDefaultsTo3306AndIpv6NeedsBrackets) {
  auto plain = ParseMySqlUrl("mysql://baton@db1/baton");
  ASSERT_TRUE(IsOk(plain));
  EXPECT_EQ(plain->port, 3306u);
  EXPECT_EQ(plain->Name(), "baton@db1:3306/baton");

  auto ipv6 = ParseMySqlUrl("mysql://baton@[::1]:3310/baton");
  ASSERT_TRUE(IsOk(ipv6));
  EXPECT_EQ(ipv6->host, "::1");
  EXPECT_EQ(ipv6->port, 3310u);
  EXPECT_EQ(ipv6->Name(), "baton@[::1]:3310/baton");
}

TEST(MySqlUrlTest, SaysWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"mysql://db1/baton", "no user"},
      {"mysql://@db1/baton", "no user"},
      {"mysql://baton@db1", "no database"},
      {"mysql://baton@db1/", "no database"},
      {"mysql://baton@/baton", "no host"},
      {"mysql://baton@db1:/baton", "port is empty"},
      {"mysql://baton@db1:http/baton", "'http' is not a number"},
      {"mysql://baton@db1:70000/baton", "'70000' is not a number"},
      {"mysql://baton@db1/baton/more", "followed by more path"},
      {"mysql://baton@db1/baton?ssl=1", "followed by more path or by options"},
      {"mysql://baton@[::1/baton", "lacks its ']'"},
  };
  for (const auto& [url, problem] : cases) {
    SCOPED_TRACE(url);
    auto parsed = ParseMySqlUrl(url);
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidInput);
    EXPECT_NE(parsed.status().message().find(problem), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("mysql://USER@HOST[:PORT]/DATABASE"),
              std::string::npos);
  }
}

TEST(MySqlUrlTest, RefusesAPasswordWithoutRepeatingIt) {
  for (const std::string url :
       {"mysql://baton:hunter2@db1/baton", "mysql://baton:hun@ter2@db1:3306/baton",
        "mysql://baton:hunter2/x@db1/baton", "mysql://baton:@db1/baton"}) {
    SCOPED_TRACE(url);
    auto parsed = ParseMySqlUrl(url);
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidInput);
    const std::string& message = parsed.status().message();
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_EQ(message.find("ter2"), std::string::npos) << message;
    EXPECT_NE(message.find("password_file"), std::string::npos) << message;
    EXPECT_NE(message.find("BATON_STORE_PASSWORD"), std::string::npos) << message;
  }
}

TEST(MySqlUrlTest, HidePasswordLeavesOtherTextAlone) {
  EXPECT_EQ(HidePassword("mysql://baton@db1:3306/baton"), "mysql://baton@db1:3306/baton");
  EXPECT_EQ(HidePassword("sqlite:///var/lib/baton.db"), "sqlite:///var/lib/baton.db");
  EXPECT_EQ(HidePassword("redis://:pw@host/0"), "redis://:****@host/0");
}

// Stores on a database of their own, on the shared server unless a test starts one.
DagRun MakeRun(const std::string& run_id, int day);
std::vector<TaskInstance> MakeTaskInstances(const DagRun& run, int count, TaskState state);

class MySqlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_ASSIGN_MARIADB_OR_SKIP(server_, MariaDbServer::Shared());
    ::unsetenv("BATON_STORE_PASSWORD");
  }

  // A server of this test's own, for tests that stop it or kill connections.
  void UseOwnServer() {
    auto server = MariaDbServer::Start();
    ASSERT_TRUE(IsOk(server));
    own_server_ = std::move(*server);
    server_ = own_server_.get();
  }

  std::string NewDatabase() {
    auto database = server_->CreateDatabase("mysql_store_test");
    EXPECT_TRUE(IsOk(database));
    return database.ok() ? *database : "";
  }

  StoreConfig ConfigFor(const std::string& database) {
    StoreConfig config;
    config.url = server_->Url(database);
    config.password_file = server_->password_file();
    config.connect_timeout = std::chrono::seconds(2);
    config.io_timeout = std::chrono::seconds(10);
    return config;
  }

  std::unique_ptr<Store> Open(const StoreConfig& config) {
    auto store = OpenStore(config, folder_.path());
    EXPECT_TRUE(IsOk(store));
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A migrated store on a new database, holding run `run_id` of `tasks` queued
  // task instances (task0, task1, ...).
  std::unique_ptr<Store> StoreWithRun(const std::string& run_id, int tasks);

  TempFolder folder_;
  // A migrated store in a new database with one run of `tasks` task instances
  // in state none, which `instances` gets, in key order.
  std::unique_ptr<Store> StoreWithRun(const std::string& run_id, int tasks,
                                      std::vector<TaskInstance>& instances) {
    auto store = Open(ConfigFor(NewDatabase()));
    if (store == nullptr || !IsOk(store->Migrate())) return nullptr;
    DagRun run = MakeRun(run_id, 0);
    if (!store->CreateDagRun(run, MakeTaskInstances(run, tasks, TaskState::kNone)).value()) {
      return nullptr;
    }
    auto all = store->ListTaskInstances("etl", run_id);
    if (!IsOk(all) || all->size() != static_cast<size_t>(tasks)) return nullptr;
    instances = std::move(all).value();
    return store;
  }

  // From none to `to` for each instance.
  static std::vector<TaskTransition> MoveAll(const std::vector<TaskInstance>& instances,
                                             TaskState to) {
    std::vector<TaskTransition> batch;
    for (const TaskInstance& ti : instances) {
      TaskTransition move{TaskState::kNone, 0, ti};
      move.updated.state = to;
      batch.push_back(move);
    }
    return batch;
  }

  MariaDbServer* server_ = nullptr;
  std::unique_ptr<MariaDbServer> own_server_;
};

DagRun MakeRun(const std::string& run_id, int day) {
  DagRun run;
  run.dag_id = "etl";
  run.run_id = run_id;
  run.run_type = RunType::kScheduled;
  run.logical_date = FromEpochMicros(1'794'960'000'000'000) + hours(24 * day);
  run.data_interval_start = run.logical_date;
  run.data_interval_end = run.logical_date + hours(24);
  return run;
}

std::vector<TaskInstance> MakeTaskInstances(const DagRun& run, int count, TaskState state) {
  std::vector<TaskInstance> task_instances;
  for (int i = 0; i < count; ++i) {
    TaskInstance& ti = task_instances.emplace_back();
    ti.key = {run.dag_id, run.run_id, "task" + std::to_string(i)};
    ti.state = state;
    ti.pool = "default_pool";
    ti.queue = "default";
  }
  return task_instances;
}

TaskTransition StartTry(const TaskInstanceKey& key, const std::string& hostname) {
  TaskTransition start{TaskState::kQueued, 0, TaskInstance()};
  start.updated.key = key;
  start.updated.state = TaskState::kRunning;
  start.updated.try_number = 1;
  start.updated.hostname = hostname;
  start.updated.pid = 100;
  return start;
}

std::unique_ptr<Store> MySqlStoreTest::StoreWithRun(const std::string& run_id, int tasks) {
  auto store = Open(ConfigFor(NewDatabase()));
  if (store == nullptr) return nullptr;
  EXPECT_TRUE(IsOk(store->Migrate()));
  DagRun run = MakeRun(run_id, 0);
  auto created = store->CreateDagRun(run, MakeTaskInstances(run, tasks, TaskState::kQueued));
  EXPECT_TRUE(IsOk(created));
  return store;
}

TEST_F(MySqlStoreTest, WrongPasswordIsRefusedWithoutShowingIt) {
  const std::string database = NewDatabase();
  const std::string wrong = "not-the-password-5f2a";
  const std::string file = (folder_.path() / "wrong.password").string();
  std::ofstream(file) << wrong << "\n";
  StoreConfig config = ConfigFor(database);
  config.password_file = file;
  auto store = Open(config);
  ASSERT_NE(store, nullptr);

  for (const Status& status : {store->Migrate(), store->ListDags().status()}) {
    EXPECT_EQ(status.code(), Status::Code::kInvalidInput) << status.message();
    EXPECT_EQ(status.message().find(wrong), std::string::npos) << status.message();
    EXPECT_EQ(status.message().find(server_->password()), std::string::npos) << status.message();
    EXPECT_NE(status.message().find(server_->user() + "@" + server_->host() + ":" +
                                    std::to_string(server_->port()) + "/" + database),
              std::string::npos)
        << status.message();
  }
}

TEST_F(MySqlStoreTest, PasswordVariableComesBeforeTheFile) {
  const std::string database = NewDatabase();
  StoreConfig config = ConfigFor(database);
  config.password_file = (folder_.path() / "missing.password").string();
  ::setenv("BATON_STORE_PASSWORD", server_->password().c_str(), 1);
  auto store = Open(config);
  ::unsetenv("BATON_STORE_PASSWORD");
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(IsOk(store->Migrate()));
}

TEST_F(MySqlStoreTest, UnreadablePasswordFileIsNamed) {
  StoreConfig config = ConfigFor("any");
  config.password_file = (folder_.path() / "missing.password").string();
  auto store = OpenStore(config, folder_.path());
  EXPECT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("missing.password"), std::string::npos)
      << store.status().message();
}

TEST_F(MySqlStoreTest, MigrateCreatesAMissingDatabase) {
  const std::string database = "mysql_store_test_created_" + std::to_string(::getpid());
  ASSERT_TRUE(IsOk(server_->Execute("DROP DATABASE IF EXISTS " + database)));
  auto store = Open(ConfigFor(database));
  ASSERT_NE(store, nullptr);
  auto before = store->SchemaVersion();
  ASSERT_TRUE(IsOk(before));
  EXPECT_EQ(*before, 0);
  Status listed = store->ListDags().status();
  EXPECT_EQ(listed.code(), Status::Code::kNotFound) << listed.message();
  EXPECT_NE(listed.message().find("baton db init"), std::string::npos) << listed.message();

  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_EQ(store->SchemaVersion().value(), Store::kSchemaVersion);
  EXPECT_TRUE(IsOk(store->ListDags()));
  EXPECT_TRUE(IsOk(server_->Execute("DROP DATABASE " + database)));
}

TEST_F(MySqlStoreTest, MigrateFinishesAMigrationCutOffHalfway) {
  const std::string database = NewDatabase();
  // Version 1, and the first statement of version 2 without its record: as if
  // the process had died between two DDL statements, which MariaDB commits one by one.
  std::vector<std::string> statements = {SchemaVersionTableStatement(SqlDialect::kMariaDb)};
  const std::vector<Migration> migrations = SchemaMigrations(SqlDialect::kMariaDb);
  for (const std::string& statement : migrations[0].statements) statements.push_back(statement);
  statements.push_back("INSERT INTO baton_schema (version) VALUES (1)");
  statements.push_back(migrations[1].statements[0]);
  for (const std::string& statement : statements) {
    ASSERT_TRUE(IsOk(server_->Execute(statement, database)));
  }
  auto store = Open(ConfigFor(database));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->SchemaVersion().value(), 1);
  ASSERT_TRUE(IsOk(store->Migrate()));
  EXPECT_EQ(store->SchemaVersion().value(), Store::kSchemaVersion);
  JobRecord agent;
  agent.kind = "agent";
  agent.name = "worker-1";
  agent.queues = "default";
  auto id = store->RegisterJob(agent);
  ASSERT_TRUE(IsOk(id));
  EXPECT_EQ(store->GetJob(*id)->value().name, "worker-1");
}

TEST_F(MySqlStoreTest, ConcurrentMigrationsTakeTurns) {
  const std::string database = NewDatabase();
  constexpr int kMigrators = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kMigrators; ++i) stores.push_back(Open(ConfigFor(database)));
  std::vector<Status> results(kMigrators);
  std::barrier start_line(kMigrators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      start_line.arrive_and_wait();
      results[i] = stores[i]->Migrate();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const Status& result : results) EXPECT_TRUE(IsOk(result));
  EXPECT_EQ(stores[0]->SchemaVersion().value(), Store::kSchemaVersion);
}

// Several stores (as several schedulers and agents would hold) try the same
// compare-and-set on one row at the same moment: exactly one wins.
TEST_F(MySqlStoreTest, ConcurrentTransitionsOnOneRowHaveOneWinner) {
  const std::string database = NewDatabase();
  constexpr int kRacers = 4;
  constexpr int kRounds = 25;
  auto setup = Open(ConfigFor(database));
  ASSERT_NE(setup, nullptr);
  ASSERT_TRUE(IsOk(setup->Migrate()));
  DagRun run = MakeRun("race", 0);
  ASSERT_TRUE(IsOk(setup->CreateDagRun(run, MakeTaskInstances(run, kRounds, TaskState::kQueued))));

  std::vector<std::unique_ptr<Store>> racers;
  for (int i = 0; i < kRacers; ++i) racers.push_back(Open(ConfigFor(database)));
  std::vector<std::vector<int>> won(kRacers, std::vector<int>(kRounds, 0));
  std::vector<std::string> errors(kRacers);
  std::barrier start_line(kRacers);
  std::vector<std::thread> threads;
  for (int racer = 0; racer < kRacers; ++racer) {
    threads.emplace_back([&, racer] {
      for (int round = 0; round < kRounds; ++round) {
        const TaskInstanceKey key{"etl", "race", "task" + std::to_string(round)};
        start_line.arrive_and_wait();
        auto applied =
            racers[racer]->ApplyTransitions({StartTry(key, "host" + std::to_string(racer))});
        if (!applied.ok()) {
          errors[racer] = applied.status().message();
        } else {
          won[racer][round] = (*applied)[0] ? 1 : 0;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  for (int racer = 0; racer < kRacers; ++racer) EXPECT_EQ(errors[racer], "");
  for (int round = 0; round < kRounds; ++round) {
    int winners = 0;
    int winner = -1;
    for (int racer = 0; racer < kRacers; ++racer) {
      winners += won[racer][round];
      if (won[racer][round]) winner = racer;
    }
    EXPECT_EQ(winners, 1) << "round " << round;
    const TaskInstanceKey key{"etl", "race", "task" + std::to_string(round)};
    auto ti = setup->GetTaskInstance(key);
    ASSERT_TRUE(IsOk(ti));
    EXPECT_EQ((*ti)->hostname, "host" + std::to_string(winner));
    EXPECT_EQ(setup->ListTaskTries(key)->size(), 1u);
  }
}

TEST_F(MySqlStoreTest, LargeBatchesInsertAndMoveEveryRow) {
  // 77 = 64 + 8 + 4 + 1: every size of multi-row INSERT but two.
  std::vector<TaskInstance> all;
  auto store = StoreWithRun("big", 77, all);
  ASSERT_NE(store, nullptr);
  std::vector<TaskTransition> batch = MoveAll(all, TaskState::kScheduled);
  // The batch is applied in key order; results come back in the caller's order.
  std::reverse(batch.begin(), batch.end());
  batch[5].expected_state = TaskState::kQueued;  // stale
  auto applied = store->ApplyTransitions(batch);
  ASSERT_TRUE(IsOk(applied));
  std::vector<bool> expected(batch.size(), true);
  expected[5] = false;
  EXPECT_EQ(*applied, expected);
  EXPECT_EQ(store->GetTaskInstance(batch[5].updated.key)->value().state, TaskState::kNone);
  EXPECT_EQ(store->GetTaskInstance(batch[6].updated.key)->value().state, TaskState::kScheduled);
}

TEST_F(MySqlStoreTest, AlikeTransitionsShareUpdatesAndFallBackToRowsWhenOneNoLongerMatches) {
  std::vector<TaskInstance> all;
  auto store = StoreWithRun("wide", 77, all);
  ASSERT_NE(store, nullptr);
  // UPDATE statements the server has run, prepared ones among them.
  auto updates_so_far = [&]() -> long {
    auto value = server_->QueryValue(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
        "WHERE VARIABLE_NAME = 'COM_UPDATE'");
    EXPECT_TRUE(IsOk(value));
    return value.ok() ? std::stol(*value) : 0;
  };

  // One row moves on first; the batch still expects it where it was: the
  // shared UPDATE of its group matches one row less, and the batch is applied
  // again row by row, with the exact result for each.
  std::vector<TaskTransition> skip_one = MoveAll(all, TaskState::kSkipped);
  ASSERT_TRUE(store->ApplyTransitions({skip_one[40]}).value()[0]);
  std::vector<TaskTransition> batch = MoveAll(all, TaskState::kScheduled);
  auto applied = store->ApplyTransitions(batch);
  ASSERT_TRUE(IsOk(applied));
  std::vector<bool> expected(batch.size(), true);
  expected[40] = false;
  EXPECT_EQ(*applied, expected);
  EXPECT_EQ(store->GetTaskInstance(batch[40].updated.key)->value().state, TaskState::kSkipped);
  for (size_t i : {size_t{0}, size_t{39}, size_t{41}, size_t{76}}) {
    EXPECT_EQ(store->GetTaskInstance(batch[i].updated.key)->value().state, TaskState::kScheduled);
  }

  // All matching: a handful of UPDATEs (64 + 8 + 4 + 1 ids), not one per row.
  for (TaskTransition& move : batch) {
    move.expected_state = TaskState::kScheduled;
    move.updated.state = TaskState::kNone;
  }
  batch.erase(batch.begin() + 40);
  const long before = updates_so_far();
  applied = store->ApplyTransitions(batch);
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, std::vector<bool>(batch.size(), true));
  EXPECT_LE(updates_so_far() - before, 10);
  for (const TaskTransition& move : batch) {
    EXPECT_EQ(store->GetTaskInstance(move.updated.key)->value().state, TaskState::kNone);
  }
}

// A batch that starts tries, and one that ends them, are each one statement
// sent to MariaDB (a block, with its transaction inside); without blocks, as
// on MySQL, they take a statement per row and per try.
TEST_F(MySqlStoreTest, BatchesOfTryStartsAndEndsAreOneStatementEach) {
  UseOwnServer();
  // Prepared statements the server has executed.
  auto executed_so_far = [&]() -> long {
    auto value = server_->QueryValue(
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
        "WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'");
    EXPECT_TRUE(IsOk(value));
    return value.ok() ? std::stol(*value) : 0;
  };
  for (bool blocks : {true, false}) {
    SCOPED_TRACE(blocks ? "with blocks" : "without blocks");
    const std::string database = NewDatabase();
    StoreConfig config = ConfigFor(database);
    auto store = std::make_unique<MySqlStore>(ParseMySqlUrl(config.url).value(),
                                              server_->password(), config, blocks);
    ASSERT_TRUE(IsOk(store->Migrate()));
    DagRun run = MakeRun("run1", 0);
    ASSERT_TRUE(store->CreateDagRun(run, MakeTaskInstances(run, 3, TaskState::kQueued)).value());
    ASSERT_TRUE(IsOk(store->GetTaskInstance({"etl", "run1", "task0"})));  // connected

    std::vector<TaskTransition> starts;
    for (int i = 0; i < 3; ++i) {
      starts.push_back(StartTry({"etl", "run1", "task" + std::to_string(i)}, "worker1"));
    }
    long before = executed_so_far();
    auto started = store->ApplyTransitions(starts);
    ASSERT_TRUE(IsOk(started));
    EXPECT_EQ(*started, std::vector<bool>(3, true));
    if (blocks) {
      EXPECT_EQ(executed_so_far() - before, 1);
    } else {
      EXPECT_GE(executed_so_far() - before, 6);
    }

    std::vector<TaskTransition> ends;
    for (const TaskTransition& start : starts) {
      TaskTransition end{TaskState::kRunning, 1, start.updated};
      end.updated.state = TaskState::kSuccess;
      end.updated.exit_code = 0;
      ends.push_back(end);
    }
    ends[1].expected_try = 2;  // stale: neither its row nor its try changes
    before = executed_so_far();
    auto ended = store->ApplyTransitions(ends);
    ASSERT_TRUE(IsOk(ended));
    EXPECT_EQ(*ended, (std::vector<bool>{true, false, true}));
    if (blocks) {
      EXPECT_EQ(executed_so_far() - before, 1);
    } else {
      EXPECT_GE(executed_so_far() - before, 5);
    }
    for (int i = 0; i < 3; ++i) {
      const TaskInstanceKey key{"etl", "run1", "task" + std::to_string(i)};
      const TaskState state = i == 1 ? TaskState::kRunning : TaskState::kSuccess;
      EXPECT_EQ(store->GetTaskInstance(key)->value().state, state);
      auto tries = store->ListTaskTries(key);
      ASSERT_TRUE(IsOk(tries));
      ASSERT_EQ(tries->size(), 1u);
      EXPECT_EQ((*tries)[0].state, state);
    }
  }
}

// The connection is killed while a block runs, before it commits: the server
// rolls it back, and the store runs it again on a new connection.
TEST_F(MySqlStoreTest, BlockCutOffBeforeItsCommitRunsAgain) {
  UseOwnServer();
  const std::string database = NewDatabase();
  const StoreConfig config = ConfigFor(database);
  auto store = Open(config);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(IsOk(store->Migrate()));
  DagRun run = MakeRun("run1", 0);
  ASSERT_TRUE(store->CreateDagRun(run, MakeTaskInstances(run, 2, TaskState::kQueued)).value());
  // Another connection holds task1's row: the block moves task0, then waits
  // for that lock, and is killed waiting (the holder with it, as the same user).
  MySqlOptions holder_options;
  holder_options.url = ParseMySqlUrl(config.url).value();
  holder_options.password = server_->password();
  MySqlConnection holder(holder_options);
  ASSERT_TRUE(IsOk(holder.Connect()));
  ASSERT_TRUE(IsOk(holder.Execute("START TRANSACTION")));
  ASSERT_TRUE(
      IsOk(holder.Execute("SELECT state FROM task_instance WHERE task_id = 'task1' FOR UPDATE")));
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(IsOk(server_->Execute("KILL CONNECTION USER '" + server_->user() + "'")));
  });
  auto applied = store->ApplyTransitions({StartTry({"etl", "run1", "task0"}, "worker1"),
                                          StartTry({"etl", "run1", "task1"}, "worker1")});
  killer.join();
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, (std::vector<bool>{true, true}));
  for (const char* task : {"task0", "task1"}) {
    EXPECT_EQ(store->ListTaskTries({"etl", "run1", task})->size(), 1u) << task;
    EXPECT_EQ(store->GetTaskInstance({"etl", "run1", task})->value().state, TaskState::kRunning);
  }
  // The holder's connection went with the kill.
  EXPECT_FALSE(IsOk(holder.Execute("COMMIT")));
}

// A block commits, and its reply is lost on the way back: the store
// reconnects, reads the rows back and reports what they show, rather than run
// the block again (which would now find every row moved on).
TEST_F(MySqlStoreTest, BlockWhoseReplyIsLostIsReadBack) {
  auto relay = TcpRelay::Start(server_->host(), server_->port());
  ASSERT_TRUE(IsOk(relay));
  const std::string database = NewDatabase();
  StoreConfig config = ConfigFor(database);
  config.url = "mysql://" + server_->user() + "@127.0.0.1:" + std::to_string((*relay)->port()) +
               "/" + database;
  auto store = Open(config);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(IsOk(store->Migrate()));
  DagRun run = MakeRun("run1", 0);
  ASSERT_TRUE(store->CreateDagRun(run, MakeTaskInstances(run, 3, TaskState::kQueued)).value());
  // A first block of the same shape prepares it: the reply dropped is the block's own.
  ASSERT_EQ(store
                ->ApplyTransitions({StartTry({"etl", "run1", "task0"}, "worker1"),
                                    StartTry({"etl", "run1", "task1"}, "worker1")})
                .value(),
            (std::vector<bool>{true, true}));

  (*relay)->DropNextReply();
  // task2 starts; task0 runs already (on worker1), so its start on worker2 matches nothing.
  auto applied = store->ApplyTransitions({StartTry({"etl", "run1", "task2"}, "worker2"),
                                          StartTry({"etl", "run1", "task0"}, "worker2")});
  EXPECT_TRUE((*relay)->dropped());
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, (std::vector<bool>{true, false}));
  EXPECT_EQ(store->GetTaskInstance({"etl", "run1", "task2"})->value().hostname, "worker2");
  EXPECT_EQ(store->GetTaskInstance({"etl", "run1", "task0"})->value().hostname, "worker1");
  EXPECT_EQ(store->ListTaskTries({"etl", "run1", "task2"})->size(), 1u);
}

TEST_F(MySqlStoreTest, ReconnectsAfterItsConnectionIsKilled) {
  UseOwnServer();
  auto store = StoreWithRun("run1", 3);
  ASSERT_NE(store, nullptr);

  ASSERT_TRUE(IsOk(server_->Execute("KILL CONNECTION USER '" + server_->user() + "'")));
  auto applied = store->ApplyTransitions({StartTry({"etl", "run1", "task0"}, "worker1")});
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, std::vector<bool>{true});

  ASSERT_TRUE(IsOk(server_->Execute("KILL CONNECTION USER '" + server_->user() + "'")));
  auto listed = store->ListTaskInstances("etl", "run1");
  ASSERT_TRUE(IsOk(listed));
  EXPECT_EQ((*listed)[0].state, TaskState::kRunning);
}

TEST_F(MySqlStoreTest, CallsSucceedAgainAfterTheServerRestarts) {
  UseOwnServer();
  auto store = StoreWithRun("run1", 2);
  ASSERT_NE(store, nullptr);
  JobRecord job;
  job.kind = "scheduler";
  job.hostname = "master1";
  job.pid = 10;
  auto job_id = store->RegisterJob(job);
  ASSERT_TRUE(IsOk(job_id));

  // Restarted between two calls: the next call finds its connection gone,
  // reconnects and goes on.
  ASSERT_TRUE(IsOk(server_->Restart()));
  EXPECT_TRUE(IsOk(store->HeartbeatJob(*job_id, 1)));
  auto applied = store->ApplyTransitions({StartTry({"etl", "run1", "task0"}, "worker1")});
  ASSERT_TRUE(IsOk(applied));
  EXPECT_EQ(*applied, std::vector<bool>{true});
  auto stored = store->GetDagRun("etl", "run1");
  ASSERT_TRUE(IsOk(stored));
  EXPECT_TRUE(stored->has_value());

  // Down: a call gives up after the connect timeout, says so, and names the
  // store but not the password.
  ASSERT_TRUE(IsOk(server_->Stop()));
  Status down = store->HeartbeatJob(*job_id, 1);
  EXPECT_EQ(down.code(), Status::Code::kUnavailable) << down.message();
  EXPECT_NE(down.message().find(server_->user() + "@" + server_->host() + ":" +
                                std::to_string(server_->port()) + "/mysql_store_test_"),
            std::string::npos)
      << down.message();
  EXPECT_EQ(down.message().find(server_->password()), std::string::npos) << down.message();

  // Back: the same store object carries on.
  ASSERT_TRUE(IsOk(server_->Restart()));
  EXPECT_TRUE(IsOk(store->HeartbeatJob(*job_id, 2)));
  EXPECT_EQ(store->GetJob(*job_id)->value().running_count, 2);
  EXPECT_EQ(store->ListTaskTries({"etl", "run1", "task0"})->size(), 1u);
}

}  // namespace
}  // namespace baton
