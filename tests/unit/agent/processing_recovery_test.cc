// Tests for the start-up recovery of an agent's processing list against a real
// redis-server and a SQLite store: reclaim what is still queued at its try,
// abandon the rest, remove what is not a task message.
#include "agent/processing_recovery.h"

#include <gtest/gtest.h>

#include "tests/unit/agent/agent_fixture.h"

namespace baton::agent_testing {
namespace {

class ProcessingRecoveryTest : public AgentFixture {};

TEST_F(ProcessingRecoveryTest, ReclaimsQueuedTriesAndAbandonsTheRest) {
  SetState(1, TaskState::kQueued, 1);       // never claimed: reclaim
  SetState(2, TaskState::kRunning, 1, 99);  // claimed by the previous life: abandon
  SetState(3, TaskState::kQueued, 2);       // queued again at a later try: abandon
  SetState(4, TaskState::kQueued, 1);       // never claimed either: reclaim
  Push(QueueKey(), Message(5, 1));          // already waiting in the queue
  for (const std::string& message :
       {Message(1, 1), Message(2, 1), Message(3, 1), std::string("garbage"), Message(4, 1)}) {
    Push(ProcessingKey(), message);
  }
  // Task 6 has no message; an unknown task has one.
  TaskLaunch unknown;
  unknown.key = {"etl", "run_1", "no_such_task"};
  unknown.try_number = 1;
  Push(ProcessingKey(), EncodeTaskMessage(unknown));

  auto counts = RecoverProcessingList(*store_, *redis_, kPrefix, kAgent);
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  EXPECT_EQ(counts->reclaimed, 2);
  EXPECT_EQ(counts->abandoned, 3);
  EXPECT_EQ(counts->malformed, 1);
  EXPECT_TRUE(List(ProcessingKey()).empty());

  // Agents take from the right: the reclaimed ones first, oldest taken first.
  std::vector<std::string> queue = List(QueueKey());
  ASSERT_EQ(queue.size(), 3u);
  EXPECT_EQ(queue[2], Message(1, 1));
  EXPECT_EQ(queue[1], Message(4, 1));
  EXPECT_EQ(queue[0], Message(5, 1));

  // The store is left alone: what a dead agent held is the scheduler's to fail.
  EXPECT_EQ(Row(2).state, TaskState::kRunning);
  EXPECT_EQ(Row(1).state, TaskState::kQueued);
}

TEST_F(ProcessingRecoveryTest, AnEmptyListIsNothingToDo) {
  auto counts = RecoverProcessingList(*store_, *redis_, kPrefix, kAgent);
  ASSERT_TRUE(counts.ok()) << counts.status().message();
  EXPECT_EQ(counts->reclaimed + counts->abandoned + counts->malformed, 0);
}

TEST_F(ProcessingRecoveryTest, AStoreOutageLeavesTheMessagesWhereTheyAre) {
  SetState(1, TaskState::kQueued, 1);
  Push(ProcessingKey(), Message(1, 1));
  FlakyStore flaky(*store_);
  flaky.outage = true;
  auto counts = RecoverProcessingList(flaky, *redis_, kPrefix, kAgent);
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(List(ProcessingKey()), std::vector<std::string>{Message(1, 1)});
  EXPECT_TRUE(List(QueueKey()).empty());
}

}  // namespace
}  // namespace baton::agent_testing
