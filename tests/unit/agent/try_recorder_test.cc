// Tests for the agent's recorder thread against a real redis-server and a
// SQLite store: an end is written, published and acknowledged; a store outage
// keeps the message until the end is recorded; an end whose reply was lost is
// recognised; an end the scheduler overtook is logged and acknowledged; and
// Finish gives up at its deadline.
#include "agent/try_recorder.h"

#include <gtest/gtest.h>

#include "agent/claim_rules.h"
#include "tests/unit/agent/agent_fixture.h"

namespace baton::agent_testing {
namespace {

TimePoint At(int seconds) { return TimePoint(std::chrono::seconds(1'700'000'000 + seconds)); }

class TryRecorderTest : public AgentFixture {
 protected:
  void SetUp() override {
    AgentFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    recorder_ =
        std::make_unique<TryRecorder>(FlakyThreadStore(), Connect(), kPrefix, kAgent, held_);
    recorder_->Start();
  }

  void TearDown() override {
    if (recorder_) recorder_->Finish(std::chrono::steady_clock::now());
  }

  // Claims task `task` at try 1 as the intake would, with its message held.
  ClaimedTry Claim(int task, int max_tries = 1) {
    SetState(task, TaskState::kQueued, 1);
    const TaskInstance queued = Row(task);
    ClaimedTry claimed;
    claimed.message = Message(task, 1, max_tries);
    claimed.launch = *DecodeTaskMessage(claimed.message);
    claimed.row = ClaimedRow(queued, "worker-host", kJob, At(0));
    auto applied = store_->ApplyTransitions({{TaskState::kQueued, 1, claimed.row}});
    EXPECT_TRUE(applied.ok() && (*applied)[0]);
    Push(ProcessingKey(), claimed.message);
    held_.Add(claimed.message);
    EXPECT_TRUE(held_.HoldTry(claimed.id()));
    return claimed;
  }

  static EndedTry Ended(ClaimedTry claimed, int exit_code, int pid = 4321) {
    EndedTry ended;
    ended.outcome.key = claimed.launch.key;
    ended.outcome.try_number = claimed.launch.try_number;
    ended.outcome.exit_code = exit_code;
    ended.claimed = std::move(claimed);
    ended.pid = pid;
    ended.ended_at = At(10);
    return ended;
  }

  HeldMessages held_{8};
  std::unique_ptr<TryRecorder> recorder_;
};

TEST_F(TryRecorderTest, RecordsPublishesAndAcknowledges) {
  recorder_->Submit(Ended(Claim(1), 0));
  recorder_->Submit(Ended(Claim(2, 2), 3));
  ASSERT_TRUE(WaitFor([&] { return List(ProcessingKey()).empty() && held_.size() == 0; }));

  const TaskInstance success = Row(1);
  EXPECT_EQ(success.state, TaskState::kSuccess);
  EXPECT_EQ(success.pid, 4321);
  EXPECT_EQ(success.end_date, At(10));
  const TaskInstance retry = Row(2);
  EXPECT_EQ(retry.state, TaskState::kUpForRetry);
  EXPECT_EQ(retry.exit_code, 3);
  auto tries = store_->ListTaskTries(Key(2));
  ASSERT_TRUE(tries.ok());
  ASSERT_EQ(tries->size(), 1u);
  EXPECT_EQ((*tries)[0].state, TaskState::kUpForRetry);

  std::vector<TaskState> states;
  for (const TaskInstance& event : Events()) states.push_back(event.state);
  EXPECT_EQ(states, (std::vector<TaskState>{TaskState::kSuccess, TaskState::kUpForRetry}));
  // The tries are no longer held: a new message of them would be claimed.
  EXPECT_TRUE(held_.HoldTry({Key(1), 1}));
}

TEST_F(TryRecorderTest, AStoreOutageKeepsTheMessageUntilTheEndIsRecorded) {
  flaky_->outage = true;
  recorder_->Submit(Ended(Claim(1), 0));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(List(ProcessingKey()).size(), 1u);
  EXPECT_EQ(held_.size(), 1u);
  EXPECT_EQ(Row(1).state, TaskState::kRunning);

  flaky_->outage = false;
  ASSERT_TRUE(WaitFor([&] { return List(ProcessingKey()).empty(); }));
  EXPECT_EQ(Row(1).state, TaskState::kSuccess);
  EXPECT_EQ(Events().size(), 1u);
}

TEST_F(TryRecorderTest, AnEndWhoseReplyWasLostIsRecognisedAsRecorded) {
  flaky_->lose_next_commit_reply = true;
  recorder_->Submit(Ended(Claim(1), 0));
  ASSERT_TRUE(WaitFor([&] { return List(ProcessingKey()).empty(); }));
  EXPECT_EQ(flaky_->transitions_applied, 1);
  EXPECT_EQ(Row(1).state, TaskState::kSuccess);
  ASSERT_EQ(Events().size(), 1u);
  EXPECT_EQ(Events()[0].state, TaskState::kSuccess);
}

TEST_F(TryRecorderTest, AnEndTheSchedulerOvertookIsAcknowledgedWithoutAnEvent) {
  ClaimedTry claimed = Claim(1);
  // The scheduler failed it as a zombie first.
  TaskInstance failed = claimed.row;
  failed.state = TaskState::kFailed;
  auto applied = store_->ApplyTransitions({{TaskState::kRunning, 1, failed}});
  ASSERT_TRUE(applied.ok() && (*applied)[0]);

  recorder_->Submit(Ended(claimed, 0));
  // The message leaves Redis first, then the agent's memory.
  ASSERT_TRUE(WaitFor([&] { return List(ProcessingKey()).empty() && held_.size() == 0; }));
  EXPECT_EQ(Row(1).state, TaskState::kFailed);
  EXPECT_TRUE(Events().empty());
}

TEST_F(TryRecorderTest, FinishGivesUpAtItsDeadlineLeavingTheMessage) {
  flaky_->outage = true;
  recorder_->Submit(Ended(Claim(1), 0));
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(recorder_->Finish(started + std::chrono::milliseconds(400)), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_EQ(List(ProcessingKey()).size(), 1u);
  EXPECT_EQ(Row(1).state, TaskState::kRunning);
}

TEST_F(TryRecorderTest, FinishRecordsWhatWasSubmittedBeforeIt) {
  for (int task = 1; task <= 4; ++task) recorder_->Submit(Ended(Claim(task), 0));
  EXPECT_EQ(recorder_->Finish(std::chrono::steady_clock::now() + std::chrono::seconds(10)), 0);
  EXPECT_TRUE(List(ProcessingKey()).empty());
  for (int task = 1; task <= 4; ++task) EXPECT_EQ(Row(task).state, TaskState::kSuccess);
}

}  // namespace
}  // namespace baton::agent_testing
