// Tests for the agent's intake thread against a real redis-server and a SQLite
// store: it claims what is queued at the message's try and drops the rest,
// waits out a store outage with the message held, recognises its own claim
// whose reply was lost, and gives back what it took when it stops.
#include "agent/task_intake.h"

#include <gtest/gtest.h>

#include <mutex>

#include "tests/unit/agent/agent_fixture.h"

namespace baton::agent_testing {
namespace {

class TaskIntakeTest : public AgentFixture {
 protected:
  void StartIntake(int concurrency) {
    held_ = std::make_unique<HeldMessages>(concurrency);
    AgentSettings settings;
    settings.name = kAgent;
    settings.queues = {"default"};
    settings.concurrency = concurrency;
    settings.hostname = "worker-host";
    TaskIntake::Options options;
    options.key_prefix = kPrefix;
    options.job_id = kJob;
    options.block = std::chrono::milliseconds(100);
    options.reply_margin = std::chrono::seconds(2);
    intake_ = std::make_unique<TaskIntake>(
        FlakyThreadStore(), Connect(), settings, options, *held_,
        [this](ClaimedTry claimed) {
          std::lock_guard lock(mutex_);
          claimed_.push_back(std::move(claimed));
        },
        [this] { stopped_ = true; });
    intake_->Start();
  }

  void TearDown() override {
    if (intake_) {
      held_->Stop();
      intake_->Join();
    }
  }

  // The claim of `message` (task 1, try 1) goes through but its reply is lost:
  // the row read back shows it ours, and the try is handed on once.
  void ExpectALostClaimReplyToBeReadBack(const std::string& message, int rows_read) {
    SetState(1, TaskState::kQueued, 1);
    StartIntake(2);
    flaky_->lose_next_commit_reply = true;
    Push(QueueKey(), message);
    ASSERT_TRUE(WaitFor([&] { return Claimed().size() == 1; }));
    EXPECT_EQ(flaky_->transitions_applied, 1);
    EXPECT_EQ(flaky_->rows_read, rows_read);
    EXPECT_EQ(Row(1).state, TaskState::kRunning);
    EXPECT_EQ(List(ProcessingKey()), std::vector<std::string>{message});
  }

  std::vector<ClaimedTry> Claimed() {
    std::lock_guard lock(mutex_);
    return claimed_;
  }

  std::unique_ptr<HeldMessages> held_;
  std::unique_ptr<TaskIntake> intake_;
  std::mutex mutex_;
  std::vector<ClaimedTry> claimed_;
  std::atomic<bool> stopped_{false};
};

TEST_F(TaskIntakeTest, ClaimsWhatIsQueuedAtItsTryAndDropsTheRest) {
  SetState(1, TaskState::kQueued, 1);
  SetState(3, TaskState::kQueued, 2);
  SetState(4, TaskState::kRunning, 1, 99);
  for (const std::string& message : {Message(1, 1), Message(1, 1), Message(2, 1), Message(3, 1),
                                     Message(4, 1), std::string("{not json"), Message(1, 1)}) {
    Push(QueueKey(), message);
  }
  StartIntake(8);
  ASSERT_TRUE(WaitFor([&] {
    return List(QueueKey()).empty() && List(ProcessingKey()).size() == 1;
  })) << List(ProcessingKey()).size();
  ASSERT_TRUE(WaitFor([&] { return Claimed().size() == 1; }));

  const ClaimedTry claimed = Claimed()[0];
  EXPECT_EQ(claimed.message, Message(1, 1));
  EXPECT_EQ(claimed.launch.key, Key(1));
  EXPECT_EQ(claimed.row.state, TaskState::kRunning);
  EXPECT_EQ(claimed.row.owner_job_id, kJob);
  EXPECT_EQ(claimed.row.hostname, "worker-host");
  EXPECT_EQ(List(ProcessingKey()), std::vector<std::string>{Message(1, 1)});
  EXPECT_EQ(held_->size(), 1u);

  const TaskInstance row = Row(1);
  EXPECT_EQ(row.state, TaskState::kRunning);
  EXPECT_EQ(row.owner_job_id, kJob);
  EXPECT_TRUE(row.start_date.has_value());
  auto tries = store_->ListTaskTries(Key(1));
  ASSERT_TRUE(tries.ok());
  EXPECT_EQ(tries->size(), 1u);

  // The others are untouched; a claim publishes no event (only ends do).
  EXPECT_EQ(Row(2).state, TaskState::kNone);
  EXPECT_EQ(Row(3).state, TaskState::kQueued);
  EXPECT_EQ(Row(4).owner_job_id, 99);
  EXPECT_TRUE(Events().empty());
}

TEST_F(TaskIntakeTest, AStoreOutageHoldsTheMessageUntilTheClaimGoesThrough) {
  SetState(1, TaskState::kQueued, 1);
  StartIntake(2);
  flaky_->outage = true;
  Push(QueueKey(), Message(1, 1));
  ASSERT_TRUE(WaitFor([&] { return List(ProcessingKey()).size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(Claimed().empty());
  EXPECT_EQ(Row(1).state, TaskState::kQueued);

  flaky_->outage = false;
  ASSERT_TRUE(WaitFor([&] { return Claimed().size() == 1; }));
  EXPECT_EQ(Row(1).state, TaskState::kRunning);
  EXPECT_EQ(List(ProcessingKey()), std::vector<std::string>{Message(1, 1)});
}

TEST_F(TaskIntakeTest, AClaimWhoseReplyWasLostIsRecognisedAsOurs) {
  ExpectALostClaimReplyToBeReadBack(Message(1, 1), /*rows_read=*/2);
}

TEST_F(TaskIntakeTest, ClaimsFromTheMessagesColumnsWithoutReadingTheRow) {
  SetState(1, TaskState::kQueued, 1);
  SetState(2, TaskState::kQueued, 2);
  Push(QueueKey(), QueuedMessage(1, 1));
  Push(QueueKey(), QueuedMessage(2, 1));  // stale: the row is at try 2
  StartIntake(8);
  ASSERT_TRUE(WaitFor([&] {
    return Claimed().size() == 1 && List(QueueKey()).empty() && List(ProcessingKey()).size() == 1;
  }));

  const ClaimedTry claimed = Claimed()[0];
  EXPECT_EQ(claimed.launch.key, Key(1));
  EXPECT_EQ(claimed.row.state, TaskState::kRunning);
  EXPECT_EQ(claimed.row.pool, "default_pool");
  EXPECT_EQ(claimed.row.queue, "default");
  const TaskInstance row = Row(1);
  EXPECT_EQ(row.state, TaskState::kRunning);
  EXPECT_EQ(row.owner_job_id, kJob);
  EXPECT_EQ(row.hostname, "worker-host");
  EXPECT_EQ(row.pool, "default_pool");
  EXPECT_EQ(Row(2).state, TaskState::kQueued);
  EXPECT_EQ(Row(2).try_number, 2);
  // Only the refused claim's row was read, to say why in the log.
  EXPECT_EQ(flaky_->rows_read, 1);
}

TEST_F(TaskIntakeTest, AClaimFromTheMessageWhoseReplyWasLostIsReadBackAndRecognised) {
  ExpectALostClaimReplyToBeReadBack(QueuedMessage(1, 1), /*rows_read=*/1);
}

TEST_F(TaskIntakeTest, StoppingGivesBackWhatWasTakenButNotClaimed) {
  SetState(1, TaskState::kQueued, 1);
  StartIntake(2);
  flaky_->outage = true;
  Push(QueueKey(), Message(1, 1));
  ASSERT_TRUE(WaitFor([&] { return List(ProcessingKey()).size() == 1; }));
  held_->Stop();
  intake_->Join();
  EXPECT_TRUE(stopped_);
  EXPECT_TRUE(Claimed().empty());
  EXPECT_TRUE(List(ProcessingKey()).empty());
  EXPECT_EQ(List(QueueKey()), std::vector<std::string>{Message(1, 1)});
  EXPECT_EQ(held_->size(), 0u);
}

TEST_F(TaskIntakeTest, TakesNoMoreThanItsConcurrency) {
  for (int task = 1; task <= 5; ++task) {
    SetState(task, TaskState::kQueued, 1);
    Push(QueueKey(), Message(task, 1));
  }
  StartIntake(2);
  ASSERT_TRUE(WaitFor([&] { return Claimed().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Claimed().size(), 2u);
  EXPECT_EQ(List(ProcessingKey()).size(), 2u);
  EXPECT_EQ(List(QueueKey()).size(), 3u);

  // Acknowledging one frees its slot for the next message.
  const ClaimedTry first = Claimed()[0];
  ASSERT_TRUE(redis_->Command({"LREM", ProcessingKey(), "1", first.message}).ok());
  held_->ReleaseTry(first.id());
  held_->Remove(first.message);
  ASSERT_TRUE(WaitFor([&] { return Claimed().size() == 3; }));
  EXPECT_EQ(List(QueueKey()).size(), 2u);
}

}  // namespace
}  // namespace baton::agent_testing
