// Tests for the DAG model's computations: retry waits and the graph's shape.
#include "engine/dag.h"

#include <gtest/gtest.h>

#include <limits>

namespace baton {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(TaskSpecTest, RetryDelayIsConstantWithoutBackoff) {
  TaskSpec task;
  task.retry_delay = seconds(30);
  EXPECT_EQ(task.RetryDelayBefore(2), seconds(30));
  EXPECT_EQ(task.RetryDelayBefore(7), seconds(30));
}

TEST(TaskSpecTest, BackoffDoublesFromTheSecondTry) {
  TaskSpec task;
  task.retry_delay = seconds(10);
  task.retry_exponential_backoff = true;
  EXPECT_EQ(task.RetryDelayBefore(2), seconds(10));
  EXPECT_EQ(task.RetryDelayBefore(3), seconds(20));
  EXPECT_EQ(task.RetryDelayBefore(4), seconds(40));
  EXPECT_EQ(task.RetryDelayBefore(5), seconds(80));
}

TEST(TaskSpecTest, BackoffStopsAtMaxRetryDelay) {
  TaskSpec task;
  task.retry_delay = seconds(10);
  task.retry_exponential_backoff = true;
  task.max_retry_delay = seconds(25);
  EXPECT_EQ(task.RetryDelayBefore(3), seconds(20));
  EXPECT_EQ(task.RetryDelayBefore(4), seconds(25));
  EXPECT_EQ(task.RetryDelayBefore(1000), seconds(25));
}

TEST(TaskSpecTest, BackoffIsCappedAtADayByDefault) {
  TaskSpec task;
  task.retry_delay = minutes(5);
  task.retry_exponential_backoff = true;
  EXPECT_EQ(task.RetryDelayBefore(100), hours(24));
  EXPECT_EQ(task.RetryDelayBefore(std::numeric_limits<int>::max()), hours(24));
}

// a -> b, a -> c, {b, c} -> d, e alone.
Dag DiamondDag() {
  Dag dag;
  dag.dag_id = "diamond";
  for (const char* id : {"a", "b", "c", "d", "e"}) {
    TaskSpec task;
    task.id = id;
    dag.tasks.push_back(task);
  }
  dag.tasks[1].upstream = {"a"};
  dag.tasks[2].upstream = {"a"};
  dag.tasks[3].upstream = {"b", "c"};
  return dag;
}

TEST(DagTest, TaskIndexFindsTasksById) {
  Dag dag = DiamondDag();
  EXPECT_EQ(dag.TaskIndex("a"), 0);
  EXPECT_EQ(dag.TaskIndex("d"), 3);
  EXPECT_EQ(dag.TaskIndex("missing"), -1);
}

TEST(DagTest, DownstreamIndexesInvertUpstream) {
  Dag dag = DiamondDag();
  EXPECT_EQ(dag.DownstreamIndexes(), (std::vector<std::vector<int>>{{1, 2}, {3}, {3}, {}, {}}));
}

TEST(DagTest, LeavesAreTasksNothingDependsOn) {
  Dag dag = DiamondDag();
  EXPECT_EQ(dag.LeafIndexes(), (std::vector<int>{3, 4}));
}

}  // namespace
}  // namespace baton
