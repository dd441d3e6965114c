// Tests for the Redis executor against a real redis-server: task messages reach
// the queue of their try, in order and all of them; instance events come back
// through on_changed in order; lost messages are pushed again, and only those;
// an outage delays messages without losing them; shutdown is prompt.
#include "engine/redis_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/redis_keys.h"
#include "engine/task_message.h"
#include "tests/support/redis_server.h"

namespace baton {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::RedisServer;

constexpr auto kDeadline = std::chrono::seconds(20);
constexpr char kPrefix[] = "test";

TaskLaunch MakeLaunch(int number, const std::string& queue = "default") {
  TaskLaunch launch;
  launch.key = {"dag", "run_1", "task_" + std::to_string(number)};
  launch.try_number = 1 + number % 3;
  launch.command = "echo " + std::to_string(number);
  launch.env = {{"NUMBER", std::to_string(number)}};
  launch.queue = queue;
  launch.max_tries = 3;
  launch.retry_delay = milliseconds(1000);
  return launch;
}

TaskInstance MakeInstance(int number) {
  TaskInstance instance;
  instance.key = {"dag", "run_1", "task_" + std::to_string(number)};
  instance.state = number % 2 == 0 ? TaskState::kRunning : TaskState::kSuccess;
  instance.try_number = 1;
  instance.queue = "default";
  instance.hostname = "worker-1";
  instance.pid = 1000 + number;
  instance.owner_job_id = 7;
  return instance;
}

// "task_N/T": how the tests tell messages apart.
std::string Name(const TaskInstanceKey& key, int try_number) {
  return key.task_id + "/" + std::to_string(try_number);
}
std::string Name(const TaskLaunch& launch) { return Name(launch.key, launch.try_number); }

class RedisExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_SKIP_WITHOUT_REDIS_SERVER();
    server_ = std::make_unique<RedisServer>(ServerOptions());
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
    RedisOptions options;
    options.url = server_->Url();
    options.connect_timeout = milliseconds(500);
    options.command_timeout = milliseconds(2000);
    Result<std::unique_ptr<RedisClient>> client = ConnectRedis(options);
    ASSERT_TRUE(client.ok()) << client.status().message();
    redis_ = std::move(*client);
    executor_options_.redis = options;
    executor_options_.key_prefix = kPrefix;
    executor_options_.event_wait = milliseconds(1000);
    Executor::Callbacks callbacks;
    callbacks.on_changed = [this](const TaskInstance& current) { changed_.push_back(current); };
    callbacks.on_started = [this](const TaskInstanceKey&, int, int) { ++unexpected_calls_; };
    callbacks.on_finished = [this](const TaskOutcome&) { ++unexpected_calls_; };
    executor_ = MakeRedisExecutor(io_, callbacks, executor_options_);
  }

  virtual RedisServer::Options ServerOptions() const { return {}; }

  void TearDown() override {
    executor_.reset();
    EXPECT_EQ(unexpected_calls_, 0) << "on_started or on_finished was called";
  }

  // Runs the loop until `done` holds or the deadline passes.
  bool RunLoopUntil(const std::function<bool()>& done) {
    const auto deadline = steady_clock::now() + kDeadline;
    while (!done()) {
      if (steady_clock::now() > deadline) return false;
      io_.run_for(milliseconds(5));
    }
    return true;
  }

  // Polls Redis (with the test's own connection) until `done` holds.
  bool WaitFor(const std::function<bool()>& done) {
    const auto deadline = steady_clock::now() + kDeadline;
    while (!done()) {
      if (steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return true;
  }

  std::vector<std::string> List(const std::string& key) {
    Result<RedisReply> reply = redis_->Command({"LRANGE", key, "0", "-1"});
    if (!reply.ok()) reply = redis_->Command({"LRANGE", key, "0", "-1"});  // after a restart
    EXPECT_TRUE(reply.ok()) << reply.status().message();
    std::vector<std::string> values;
    if (reply.ok()) {
      for (const RedisReply& element : reply->elements) values.push_back(element.text);
    }
    return values;
  }

  size_t Length(const std::string& key) { return List(key).size(); }

  // The names of the test's messages in a list, in the order agents take them
  // (from the right); the barrier's messages are left out.
  std::vector<std::string> MessagesIn(const std::string& key) {
    std::vector<std::string> names;
    std::vector<std::string> values = List(key);
    for (auto it = values.rbegin(); it != values.rend(); ++it) {
      Result<TaskLaunch> launch = DecodeTaskMessage(*it);
      EXPECT_TRUE(launch.ok()) << launch.status().message();
      if (launch.ok() && launch->key.dag_id != "barrier") names.push_back(Name(*launch));
    }
    return names;
  }

  std::string QueueKey(const std::string& queue = "default") {
    return RedisQueueKey(kPrefix, queue);
  }

  void Push(const std::string& key, const std::string& value) {
    Result<RedisReply> pushed = redis_->Command({"LPUSH", key, value});
    if (!pushed.ok()) pushed = redis_->Command({"LPUSH", key, value});  // after a restart
    ASSERT_TRUE(pushed.ok()) << pushed.status().message();
  }

  // Returns once everything the executor was asked before has reached Redis,
  // including what a queue check pushed again: a check asked for before a
  // launch is made no later than the batch that sends it, and what it finds
  // lost counts as waiting to be sent before that batch stops counting.
  void Barrier() {
    for (int round = 0; round < 2; ++round) {
      TaskLaunch marker = MakeLaunch(barriers_++);
      marker.key.dag_id = "barrier";
      ASSERT_TRUE(executor_->Launch(marker).ok());
      const std::string message = EncodeTaskMessage(marker);
      ASSERT_TRUE(WaitFor([&] {
        std::vector<std::string> queued = List(QueueKey());
        return std::find(queued.begin(), queued.end(), message) != queued.end();
      }));
    }
    ASSERT_TRUE(WaitFor([&] { return executor_->RunningCount() == 0; }));
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisClient> redis_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  RedisExecutorOptions executor_options_;
  std::unique_ptr<Executor> executor_;
  std::vector<TaskInstance> changed_;
  int unexpected_calls_ = 0;
  int barriers_ = 0;
};

TEST_F(RedisExecutorTest, LaunchPushesTheMessageOntoTheQueueOfTheTry) {
  EXPECT_TRUE(executor_->WorkersRecordState());
  TaskLaunch launch = MakeLaunch(1, "gpu");
  launch.timeout = milliseconds(60'000);
  ASSERT_TRUE(executor_->Launch(launch).ok());
  ASSERT_TRUE(WaitFor([&] { return Length(QueueKey("gpu")) == 1; }));
  EXPECT_TRUE(WaitFor([&] { return executor_->RunningCount() == 0; }));
  EXPECT_EQ(Length(QueueKey("default")), 0u);

  Result<RedisReply> taken = redis_->Command({"RPOP", QueueKey("gpu")});
  ASSERT_TRUE(taken.ok());
  Result<TaskLaunch> decoded = DecodeTaskMessage(taken->text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->key, launch.key);
  EXPECT_EQ(decoded->try_number, launch.try_number);
  EXPECT_EQ(decoded->command, launch.command);
  EXPECT_EQ(decoded->env, launch.env);
  EXPECT_EQ(decoded->queue, "gpu");
  EXPECT_EQ(decoded->max_tries, 3);
  EXPECT_EQ(decoded->retry_delay, milliseconds(1000));
  EXPECT_EQ(decoded->timeout, std::optional<Duration>(milliseconds(60'000)));
}

TEST_F(RedisExecutorTest, ManyLaunchesAllArriveInLaunchOrder) {
  constexpr int kLaunches = 2500;
  std::map<std::string, std::vector<std::string>> expected;
  for (int i = 0; i < kLaunches; ++i) {
    TaskLaunch launch = MakeLaunch(i, i % 3 == 0 ? "other" : "default");
    expected[launch.queue].push_back(Name(launch));
    ASSERT_TRUE(executor_->Launch(launch).ok());
  }
  ASSERT_TRUE(WaitFor([&] {
    return Length(QueueKey("default")) + Length(QueueKey("other")) == kLaunches;
  })) << Length(QueueKey("default")) + Length(QueueKey("other"));
  EXPECT_EQ(MessagesIn(QueueKey("default")), expected["default"]);
  EXPECT_EQ(MessagesIn(QueueKey("other")), expected["other"]);
  EXPECT_TRUE(WaitFor([&] { return executor_->RunningCount() == 0; }));
}

TEST_F(RedisExecutorTest, EventsArriveThroughOnChangedInOrder) {
  const std::string events = RedisEventsKey(kPrefix);
  std::vector<std::vector<std::string>> burst;
  for (int i = 0; i < 2300; ++i) {
    burst.push_back({"RPUSH", events, EncodeInstanceEvent(MakeInstance(i))});
  }
  ASSERT_TRUE(redis_->Pipeline(burst).ok());
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() >= 2300; })) << changed_.size();
  // And one more on its own, after the burst.
  ASSERT_TRUE(redis_->Command({"RPUSH", events, EncodeInstanceEvent(MakeInstance(2300))}).ok());
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() >= 2301; }));
  ASSERT_EQ(changed_.size(), 2301u);
  for (int i = 0; i <= 2300; ++i) {
    const TaskInstance expected = MakeInstance(i);
    ASSERT_EQ(changed_[i].key, expected.key) << i;
    EXPECT_EQ(changed_[i].state, expected.state) << i;
    EXPECT_EQ(changed_[i].pid, expected.pid) << i;
  }
  EXPECT_EQ(Length(events), 0u);
}

// Before Redis 7 there is no BLMPOP: the listener falls back to BLPOP and LPOP.
class RedisExecutorOnOlderRedisTest : public RedisExecutorTest {
 protected:
  RedisServer::Options ServerOptions() const override {
    RedisServer::Options options;
    options.missing_commands = {"BLMPOP"};
    return options;
  }
};

TEST_F(RedisExecutorOnOlderRedisTest, EventsStillArriveInOrder) {
  Result<RedisReply> refused = redis_->Command({"BLMPOP", "0.1", "1", "x", "LEFT"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("unknown command"), std::string::npos)
      << refused.status().message();
  const std::string events = RedisEventsKey(kPrefix);
  std::vector<std::string> push = {"RPUSH", events};
  for (int i = 0; i < 1500; ++i) push.push_back(EncodeInstanceEvent(MakeInstance(i)));
  ASSERT_TRUE(redis_->Command(push).ok());
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() >= 1500; })) << changed_.size();
  ASSERT_TRUE(redis_->Command({"RPUSH", events, EncodeInstanceEvent(MakeInstance(1500))}).ok());
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() >= 1501; }));
  ASSERT_EQ(changed_.size(), 1501u);
  for (int i = 0; i <= 1500; ++i) ASSERT_EQ(changed_[i].key, MakeInstance(i).key) << i;
  EXPECT_EQ(Length(events), 0u);
}

TEST_F(RedisExecutorTest, ABurstOfEventsReachesTheLoopInOneHandler) {
  std::vector<std::string> push = {"RPUSH", RedisEventsKey(kPrefix)};
  for (int i = 0; i < 500; ++i) push.push_back(EncodeInstanceEvent(MakeInstance(i)));
  ASSERT_TRUE(redis_->Command(push).ok());
  const auto deadline = steady_clock::now() + kDeadline;
  while (changed_.empty() && steady_clock::now() < deadline) io_.run_one_for(milliseconds(5));
  EXPECT_EQ(changed_.size(), 500u);
}

TEST_F(RedisExecutorTest, MalformedEventsAreDropped) {
  const std::string events = RedisEventsKey(kPrefix);
  std::string missing_field = EncodeInstanceEvent(MakeInstance(9));
  missing_field.replace(missing_field.find("\"state\""), 7, "\"status\"");
  ASSERT_TRUE(redis_
                  ->Pipeline({{"RPUSH", events, "not json"},
                              {"RPUSH", events, EncodeInstanceEvent(MakeInstance(1))},
                              {"RPUSH", events, missing_field},
                              {"RPUSH", events, "[1,2,3]"},
                              {"RPUSH", events, EncodeInstanceEvent(MakeInstance(2))}})
                  .ok());
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() >= 2; }));
  ASSERT_TRUE(WaitFor([&] { return Length(events) == 0; }));
  io_.run_for(milliseconds(50));
  ASSERT_EQ(changed_.size(), 2u);
  EXPECT_EQ(changed_[0].key.task_id, "task_1");
  EXPECT_EQ(changed_[1].key.task_id, "task_2");
}

TEST_F(RedisExecutorTest, EnsureQueuedPushesAgainExactlyTheLostMessages) {
  std::vector<TaskLaunch> launches;
  for (int i = 0; i < 6; ++i) launches.push_back(MakeLaunch(i, i % 2 == 0 ? "default" : "other"));
  for (const TaskLaunch& launch : launches) ASSERT_TRUE(executor_->Launch(launch).ok());
  ASSERT_TRUE(WaitFor([&] { return Length(QueueKey()) + Length(QueueKey("other")) == 6; }));

  // Redis loses everything; two messages come back as if never lost.
  Status flushed = server_->FlushByRestart();
  ASSERT_TRUE(flushed.ok()) << flushed.message();
  Push(QueueKey(), EncodeTaskMessage(launches[0]));
  Push(QueueKey("other"), EncodeTaskMessage(launches[1]));

  executor_->EnsureQueued(launches, {});
  Barrier();
  EXPECT_EQ(MessagesIn(QueueKey()),
            (std::vector<std::string>{Name(launches[0]), Name(launches[2]), Name(launches[4])}));
  EXPECT_EQ(MessagesIn(QueueKey("other")),
            (std::vector<std::string>{Name(launches[1]), Name(launches[3]), Name(launches[5])}));

  // Nothing is lost now: a second check pushes nothing.
  executor_->EnsureQueued(launches, {});
  Barrier();
  EXPECT_EQ(MessagesIn(QueueKey()).size(), 3u);
  EXPECT_EQ(MessagesIn(QueueKey("other")).size(), 3u);
  EXPECT_TRUE(WaitFor([&] { return executor_->RunningCount() == 0; }));
}

TEST_F(RedisExecutorTest, MessagesHeldByALiveWorkerAreNotPushedAgain) {
  const std::vector<TaskLaunch> launches = {MakeLaunch(0), MakeLaunch(1), MakeLaunch(2)};
  // An agent took launch 0 and launch 1 into its processing list; launch 2 was
  // taken by an agent that has died since.
  Push(RedisProcessingKey(kPrefix, "agent-a"), EncodeTaskMessage(launches[0]));
  Push(RedisProcessingKey(kPrefix, "agent-a"), EncodeTaskMessage(launches[1]));
  Push(RedisProcessingKey(kPrefix, "agent-gone"), EncodeTaskMessage(launches[2]));

  executor_->EnsureQueued(launches, {"agent-a", "agent-b"});
  Barrier();
  EXPECT_EQ(MessagesIn(QueueKey()), std::vector<std::string>{Name(launches[2])});
  EXPECT_EQ(Length(RedisProcessingKey(kPrefix, "agent-a")), 2u);
}

TEST_F(RedisExecutorTest, MessagesHeldByAWorkerNotLiveArePushedAgain) {
  const std::vector<TaskLaunch> launches = {MakeLaunch(0), MakeLaunch(1)};
  Push(RedisProcessingKey(kPrefix, "agent-a"), EncodeTaskMessage(launches[0]));
  Push(RedisProcessingKey(kPrefix, "agent-a"), EncodeTaskMessage(launches[1]));

  executor_->EnsureQueued(launches, {"agent-b"});
  Barrier();
  EXPECT_EQ(MessagesIn(QueueKey()),
            (std::vector<std::string>{Name(launches[0]), Name(launches[1])}));
}

TEST_F(RedisExecutorTest, AnotherTryOfTheSameTaskDoesNotCountAsPresent) {
  TaskLaunch first = MakeLaunch(0);
  first.try_number = 1;
  TaskLaunch second = first;
  second.try_number = 2;
  Push(QueueKey(), EncodeTaskMessage(first));
  executor_->EnsureQueued({second}, {});
  Barrier();
  EXPECT_EQ(MessagesIn(QueueKey()), (std::vector<std::string>{Name(first), Name(second)}));
}

TEST_F(RedisExecutorTest, MessagesWaitThroughAnOutageAndArriveAfterIt) {
  server_->Stop();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(executor_->Launch(MakeLaunch(i)).ok());
  EXPECT_EQ(executor_->RunningCount(), 10u);
  std::this_thread::sleep_for(milliseconds(300));  // a few failed attempts
  EXPECT_EQ(executor_->RunningCount(), 10u);
  Status restarted = server_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  ASSERT_TRUE(WaitFor([&] { return executor_->RunningCount() == 0; }));
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(Name(MakeLaunch(i)));
  EXPECT_EQ(MessagesIn(QueueKey()), expected);
}

TEST_F(RedisExecutorTest, EventsFlowAgainAfterARestart) {
  const std::string events = RedisEventsKey(kPrefix);
  ASSERT_TRUE(redis_->Command({"RPUSH", events, EncodeInstanceEvent(MakeInstance(1))}).ok());
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() == 1; }));
  Status restarted = server_->FlushByRestart();
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  Result<RedisReply> pushed =
      redis_->Command({"RPUSH", events, EncodeInstanceEvent(MakeInstance(2))});
  if (!pushed.ok()) {
    pushed = redis_->Command({"RPUSH", events, EncodeInstanceEvent(MakeInstance(2))});
  }
  ASSERT_TRUE(pushed.ok()) << pushed.status().message();
  ASSERT_TRUE(RunLoopUntil([&] { return changed_.size() == 2; }));
  EXPECT_EQ(changed_[1].key.task_id, "task_2");
}

TEST_F(RedisExecutorTest, ShutdownIsPromptCallsDoneAndRefusesLaunches) {
  ASSERT_TRUE(executor_->Launch(MakeLaunch(1)).ok());
  ASSERT_TRUE(WaitFor([&] { return Length(QueueKey()) == 1; }));
  bool done = false;
  const auto start = steady_clock::now();
  executor_->Shutdown(milliseconds(0), [&] { done = true; });
  ASSERT_TRUE(RunLoopUntil([&] { return done; }));
  // The listener was blocked in BLPOP: shutdown interrupted it.
  EXPECT_LT(steady_clock::now() - start, milliseconds(900));
  Status refused = executor_->Launch(MakeLaunch(2));
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  // The message already sent stays for the agents.
  EXPECT_EQ(Length(QueueKey()), 1u);
}

TEST_F(RedisExecutorTest, ShutdownSendsWhatIsPendingWhenRedisAnswers) {
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(executor_->Launch(MakeLaunch(i)).ok());
  bool done = false;
  executor_->Shutdown(milliseconds(0), [&] { done = true; });
  ASSERT_TRUE(RunLoopUntil([&] { return done; }));
  EXPECT_EQ(Length(QueueKey()), 200u);
  EXPECT_EQ(executor_->RunningCount(), 0u);
}

TEST_F(RedisExecutorTest, ShutdownDuringAnOutageIsPrompt) {
  server_->Stop();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(executor_->Launch(MakeLaunch(i)).ok());
  std::this_thread::sleep_for(milliseconds(200));
  bool done = false;
  const auto start = steady_clock::now();
  executor_->Shutdown(milliseconds(0), [&] { done = true; });
  ASSERT_TRUE(RunLoopUntil([&] { return done; }));
  EXPECT_LT(steady_clock::now() - start, milliseconds(900));
  // Those tries are still queued in the store; the next scheduler's check
  // pushes them.
  EXPECT_EQ(executor_->RunningCount(), 5u);
}

TEST_F(RedisExecutorTest, DestructionIsPromptWithRedisUpOrDown) {
  auto start = steady_clock::now();
  executor_.reset();
  EXPECT_LT(steady_clock::now() - start, milliseconds(900));

  server_->Stop();
  executor_ = MakeRedisExecutor(io_, {}, executor_options_);
  ASSERT_TRUE(executor_->Launch(MakeLaunch(1)).ok());
  std::this_thread::sleep_for(milliseconds(200));
  start = steady_clock::now();
  executor_.reset();
  EXPECT_LT(steady_clock::now() - start, milliseconds(900));
}

}  // namespace
}  // namespace baton
