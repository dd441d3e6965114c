// Tests for TaskTaker against a real redis-server: what one take moves from the
// queues to the processing list, with one queue and with several.
#include "agent/task_taker.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/support/status_assertions.h"
#include "tests/unit/agent/agent_fixture.h"

namespace baton::agent_testing {
namespace {

using ::baton::testing::IsOk;
using std::chrono::milliseconds;

class TaskTakerTest : public AgentFixture {
 protected:
  TaskTaker MakeTaker(RedisClient& redis, std::vector<std::string> queues) {
    return TaskTaker(redis, kPrefix, std::move(queues), kAgent, milliseconds(2000),
                     std::chrono::seconds(2));
  }
};

TEST_F(TaskTakerTest, TakesWhatIsQueuedUpToItsFreeSlotsOldestFirst) {
  auto redis = Connect();
  TaskTaker taker = MakeTaker(*redis, {"default"});
  for (const char* message : {"m1", "m2", "m3"}) Push(QueueKey(), message);
  auto taken = taker.Take(2);
  ASSERT_TRUE(IsOk(taken));
  EXPECT_EQ(*taken, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(List(QueueKey()), std::vector<std::string>{"m3"});
  EXPECT_EQ(List(ProcessingKey()), (std::vector<std::string>{"m2", "m1"}));
}

// A take that waited on an empty queue also brings what arrived with the
// message it waited for, up to its free slots.
TEST_F(TaskTakerTest, AWaitingTakeBringsWhatCameWithTheFirstMessage) {
  auto redis = Connect();
  TaskTaker taker = MakeTaker(*redis, {"default"});
  std::thread producer([&] {
    std::this_thread::sleep_for(milliseconds(200));
    auto pusher = Connect();
    EXPECT_TRUE(IsOk(pusher->Command({"LPUSH", QueueKey(), "m1", "m2", "m3", "m4"})));
  });
  auto taken = taker.Take(3);
  producer.join();
  ASSERT_TRUE(IsOk(taken));
  EXPECT_EQ(*taken, (std::vector<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(List(QueueKey()), std::vector<std::string>{"m4"});
}

TEST_F(TaskTakerTest, AnEmptyQueueGivesNothingAfterTheBlock) {
  auto redis = Connect();
  TaskTaker taker(*redis, kPrefix, {"default"}, kAgent, milliseconds(100), std::chrono::seconds(2));
  auto taken = taker.Take(2);
  ASSERT_TRUE(IsOk(taken));
  EXPECT_TRUE(taken->empty());
}

TEST_F(TaskTakerTest, SeveralQueuesAreEachTriedBeforeItWaits) {
  auto redis = Connect();
  TaskTaker taker = MakeTaker(*redis, {"default", "gpu"});
  const std::string gpu = RedisQueueKey(kPrefix, "gpu");
  Push(gpu, "g1");
  auto taken = taker.Take(1);
  ASSERT_TRUE(IsOk(taken));
  EXPECT_EQ(*taken, std::vector<std::string>{"g1"});
  Push(QueueKey(), "d1");
  Push(gpu, "g2");
  taken = taker.Take(2);
  ASSERT_TRUE(IsOk(taken));
  EXPECT_EQ(taken->size(), 2u);
  EXPECT_TRUE(List(QueueKey()).empty());
  EXPECT_TRUE(List(gpu).empty());
}

}  // namespace
}  // namespace baton::agent_testing
