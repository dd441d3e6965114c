// What the agent's thread tests share: a SQLite store in a folder of its own
// with one run of tasks, a real redis-server, and a store wrapper that fails on
// demand (an outage, or a commit whose reply is lost).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/redis_client.h"
#include "engine/redis_keys.h"
#include "engine/store.h"
#include "engine/task_message.h"
#include "tests/support/redis_server.h"
#include "tests/support/temp_folder.h"

namespace baton::agent_testing {

inline constexpr char kPrefix[] = "test";
inline constexpr char kAgent[] = "worker-a";
inline constexpr char kDag[] = "etl";
inline constexpr char kRun[] = "run_1";
inline constexpr int64_t kJob = 7;

// Delegates to a real store; while `outage` is set every call fails as an
// unreachable server would, and with `lose_next_commit_reply` the next
// ApplyTransitions is applied but answered with an error.
class FlakyStore final : public Store {
 public:
  explicit FlakyStore(Store& inner) : inner_(inner) {}

  std::atomic<bool> outage{false};
  std::atomic<bool> lose_next_commit_reply{false};
  std::atomic<int> transitions_applied{0};
  std::atomic<int> rows_read{0};  // GetTaskInstance calls

  Status Migrate() override { return Down().ok() ? inner_.Migrate() : Down(); }
  Result<int> SchemaVersion() override {
    return Pass([&] { return inner_.SchemaVersion(); });
  }
  Result<TimePoint> Now() override {
    return Pass([&] { return inner_.Now(); });
  }
  Status SyncDag(const DagRecord& dag, bool paused) override {
    return Down().ok() ? inner_.SyncDag(dag, paused) : Down();
  }
  Result<std::optional<DagRecord>> GetDag(const std::string& id) override {
    return Pass([&] { return inner_.GetDag(id); });
  }
  Result<std::vector<DagRecord>> ListDags() override {
    return Pass([&] { return inner_.ListDags(); });
  }
  Status SetDagPaused(const std::string& id, bool paused) override {
    return Down().ok() ? inner_.SetDagPaused(id, paused) : Down();
  }
  Status ReplaceImportErrors(const std::vector<ImportError>& errors) override {
    return Down().ok() ? inner_.ReplaceImportErrors(errors) : Down();
  }
  Result<std::vector<ImportError>> ListImportErrors() override {
    return Pass([&] { return inner_.ListImportErrors(); });
  }
  Result<bool> CreateDagRun(const DagRun& run, const std::vector<TaskInstance>& tis) override {
    return Pass([&] { return inner_.CreateDagRun(run, tis); });
  }
  Result<std::optional<DagRun>> GetDagRun(const std::string& dag, const std::string& run) override {
    return Pass([&] { return inner_.GetDagRun(dag, run); });
  }
  Result<std::vector<DagRun>> ListDagRuns(const RunFilter& filter) override {
    return Pass([&] { return inner_.ListDagRuns(filter); });
  }
  Status SetDagRunState(const std::string& dag, const std::string& run, RunState from, RunState to,
                        std::optional<TimePoint> start, std::optional<TimePoint> end) override {
    return Down().ok() ? inner_.SetDagRunState(dag, run, from, to, start, end) : Down();
  }
  Result<std::optional<TimePoint>> LatestScheduledLogicalDate(const std::string& dag) override {
    return Pass([&] { return inner_.LatestScheduledLogicalDate(dag); });
  }
  Result<std::vector<TaskInstance>> ListTaskInstances(const std::string& dag,
                                                      const std::string& run) override {
    return Pass([&] { return inner_.ListTaskInstances(dag, run); });
  }
  Result<std::optional<TaskInstance>> GetTaskInstance(const TaskInstanceKey& key) override {
    ++rows_read;
    return Pass([&] { return inner_.GetTaskInstance(key); });
  }
  Result<std::vector<TaskInstance>> ListTaskInstancesOfActiveRuns() override {
    return Pass([&] { return inner_.ListTaskInstancesOfActiveRuns(); });
  }
  Result<std::vector<bool>> ApplyTransitions(
      const std::vector<TaskTransition>& transitions) override {
    if (!Down().ok()) return Down();
    auto applied = inner_.ApplyTransitions(transitions);
    if (applied.ok()) {
      for (bool one : *applied) transitions_applied += one ? 1 : 0;
    }
    if (lose_next_commit_reply.exchange(false)) {
      return Status::Unavailable("lost connection to the store during the commit");
    }
    return applied;
  }
  Result<int> ClearTaskInstances(const std::string& dag, const std::string& run,
                                 const std::vector<std::string>& ids) override {
    return Pass([&] { return inner_.ClearTaskInstances(dag, run, ids); });
  }
  Result<std::vector<TaskTry>> ListTaskTries(const TaskInstanceKey& key) override {
    return Pass([&] { return inner_.ListTaskTries(key); });
  }
  Result<int64_t> RegisterJob(const JobRecord& job) override {
    return Pass([&] { return inner_.RegisterJob(job); });
  }
  Status HeartbeatJob(int64_t id, int running) override {
    return Down().ok() ? inner_.HeartbeatJob(id, running) : Down();
  }
  Status EndJob(int64_t id) override { return Down().ok() ? inner_.EndJob(id) : Down(); }
  Result<std::vector<JobRecord>> ListRunningJobs(const std::string& kind) override {
    return Pass([&] { return inner_.ListRunningJobs(kind); });
  }
  Result<std::optional<JobRecord>> GetJob(int64_t id) override {
    return Pass([&] { return inner_.GetJob(id); });
  }
  Result<Lease> GetLease() override {
    return Pass([&] { return inner_.GetLease(); });
  }
  Result<std::optional<int64_t>> AcquireLease(const std::string& node, int64_t job,
                                              Duration ttl) override {
    return Pass([&] { return inner_.AcquireLease(node, job, ttl); });
  }
  Result<bool> RenewLease(int64_t job, int64_t epoch, Duration ttl) override {
    return Pass([&] { return inner_.RenewLease(job, epoch, ttl); });
  }
  Result<std::optional<int64_t>> AdvanceEpoch(int64_t job, int64_t epoch) override {
    return Pass([&] { return inner_.AdvanceEpoch(job, epoch); });
  }
  Status ReleaseLease(int64_t job, int64_t epoch) override {
    return Down().ok() ? inner_.ReleaseLease(job, epoch) : Down();
  }
  Status SetSchedulerNode(int64_t epoch, const std::string& node) override {
    return Down().ok() ? inner_.SetSchedulerNode(epoch, node) : Down();
  }
  Status SetPromoteTo(const std::string& node) override {
    return Down().ok() ? inner_.SetPromoteTo(node) : Down();
  }
  Status SetMaintenance(bool on) override {
    return Down().ok() ? inner_.SetMaintenance(on) : Down();
  }
  Status RecordFailoverEvent(const FailoverEvent& event) override {
    return Down().ok() ? inner_.RecordFailoverEvent(event) : Down();
  }
  Result<std::vector<FailoverEvent>> ListFailoverEvents(int limit) override {
    return Pass([&] { return inner_.ListFailoverEvents(limit); });
  }
  Status ClearFailoverMetadata() override {
    return Down().ok() ? inner_.ClearFailoverMetadata() : Down();
  }
  void SetFencingEpoch(int64_t epoch) override { inner_.SetFencingEpoch(epoch); }

 private:
  Status Down() const {
    return outage ? Status::Unavailable("cannot reach the store (outage)") : Status::Ok();
  }
  template <typename Call>
  auto Pass(Call call) -> decltype(call()) {
    if (!Down().ok()) return Down();
    return call();
  }

  Store& inner_;
};

// A store with run kRun of DAG kDag holding tasks "t1".."tN" in state none, a
// redis-server, and helpers to queue tries and read the lists.
class AgentFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_SKIP_WITHOUT_REDIS_SERVER();
    StoreConfig config;
    config.url = "sqlite://" + (folder_.path() / "baton.db").string();
    store_ = OpenOrDie(config);
    ASSERT_TRUE(store_->Migrate().ok());
    DagRun run;
    run.dag_id = kDag;
    run.run_id = kRun;
    std::vector<TaskInstance> instances;
    for (int i = 1; i <= 6; ++i) {
      TaskInstance instance;
      instance.key = Key(i);
      instance.pool = "default_pool";
      instance.queue = "default";
      instances.push_back(instance);
    }
    auto created = store_->CreateDagRun(run, instances);
    ASSERT_TRUE(created.ok() && *created) << created.status().message();

    Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started.message();
    redis_ = Connect();
  }

  std::unique_ptr<Store> OpenOrDie(const StoreConfig& config) {
    auto store = OpenStore(config, folder_.path().string());
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Another connection to the test's SQLite file, for a thread of its own.
  std::unique_ptr<Store> AnotherStore() {
    StoreConfig config;
    config.url = "sqlite://" + (folder_.path() / "baton.db").string();
    return OpenOrDie(config);
  }

  // A FlakyStore on another connection to the test's SQLite file, for the
  // thread under test to own; the test drives its failures through flaky_.
  std::unique_ptr<FlakyStore> FlakyThreadStore() {
    thread_store_ = AnotherStore();
    auto flaky = std::make_unique<FlakyStore>(*thread_store_);
    flaky_ = flaky.get();
    return flaky;
  }

  std::unique_ptr<RedisClient> Connect() {
    RedisOptions options;
    options.url = server_.Url();
    options.connect_timeout = std::chrono::milliseconds(500);
    options.command_timeout = std::chrono::milliseconds(3000);
    auto client = ConnectRedis(options);
    EXPECT_TRUE(client.ok()) << client.status().message();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static TaskInstanceKey Key(int task) { return {kDag, kRun, "t" + std::to_string(task)}; }

  TaskInstance Row(int task) {
    auto row = store_->GetTaskInstance(Key(task));
    EXPECT_TRUE(row.ok() && row->has_value());
    return row.ok() && row->has_value() ? **row : TaskInstance{};
  }

  // Moves the instance from its current state to `state` at `try_number`, as
  // the scheduler would.
  void SetState(int task, TaskState state, int try_number, int64_t owner = 0) {
    TaskInstance current = Row(task);
    TaskInstance updated = current;
    updated.state = state;
    updated.try_number = try_number;
    updated.owner_job_id = owner;
    auto applied = store_->ApplyTransitions({{current.state, current.try_number, updated}});
    ASSERT_TRUE(applied.ok() && (*applied)[0]) << applied.status().message();
  }

  static TaskLaunch Launch(int task, int try_number, int max_tries = 1) {
    TaskLaunch launch;
    launch.key = Key(task);
    launch.try_number = try_number;
    launch.command = "true";
    launch.max_tries = max_tries;
    return launch;
  }

  // A message without the queued row's columns, as older schedulers sent it.
  static std::string Message(int task, int try_number, int max_tries = 1) {
    return EncodeTaskMessage(Launch(task, try_number, max_tries));
  }

  // A message with the columns of the fixture's rows, as the scheduler sends it.
  static std::string QueuedMessage(int task, int try_number) {
    TaskLaunch launch = Launch(task, try_number);
    launch.queued_columns = TaskLaunch::QueuedColumns{"default_pool", 1, "default"};
    return EncodeTaskMessage(launch);
  }

  std::vector<std::string> List(const std::string& key) {
    auto reply = redis_->Command({"LRANGE", key, "0", "-1"});
    EXPECT_TRUE(reply.ok()) << reply.status().message();
    std::vector<std::string> values;
    if (reply.ok()) {
      for (const RedisReply& element : reply->elements) values.push_back(element.text);
    }
    return values;
  }

  void Push(const std::string& key, const std::string& value) {
    ASSERT_TRUE(redis_->Command({"LPUSH", key, value}).ok());
  }

  std::vector<TaskInstance> Events() {
    std::vector<TaskInstance> events;
    for (const std::string& text : List(RedisEventsKey(kPrefix))) {
      auto event = DecodeInstanceEvent(text);
      EXPECT_TRUE(event.ok());
      if (event.ok()) events.push_back(*event);  // RPUSH order: oldest first
    }
    return events;
  }

  static std::string QueueKey() { return RedisQueueKey(kPrefix, "default"); }
  static std::string ProcessingKey() { return RedisProcessingKey(kPrefix, kAgent); }

  static bool WaitFor(const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  ::baton::testing::TempFolder folder_;
  std::unique_ptr<Store> store_;
  ::baton::testing::RedisServer server_;
  std::unique_ptr<RedisClient> redis_;
  // Set by FlakyThreadStore(): the connection the flaky store delegates to,
  // which outlives the thread that owns the flaky store.
  std::unique_ptr<Store> thread_store_;
  FlakyStore* flaky_ = nullptr;
};

}  // namespace baton::agent_testing
