// Unit tests of ExplainWhyNotRunning: one test per reason a task can be held back.
#include "engine/dependency_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace baton {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const TimePoint kNow = FromEpochMicros(1'800'000'000'000'000);

TaskSpec Task(const std::string& id, std::vector<std::string> upstream = {}) {
  TaskSpec task;
  task.id = id;
  task.command = "true";
  task.upstream = std::move(upstream);
  return task;
}

// extract -> transform -> load, one run of it running with every instance in state none.
class DependencyReportTest : public ::testing::Test {
 protected:
  DependencyReportTest() {
    dag_.dag_id = "etl";
    dag_.tasks = {Task("extract"), Task("transform", {"extract"}), Task("load", {"transform"})};
    facts_.run.dag_id = "etl";
    facts_.run.run_id = "manual__1";
    facts_.run.state = RunState::kRunning;
    for (const TaskSpec& task : dag_.tasks) {
      TaskInstance instance;
      instance.key = {"etl", "manual__1", task.id};
      instance.pool = kDefaultPool;
      facts_.run_instances.push_back(instance);
    }
    facts_.running_runs = 1;
    facts_.pools = {{kDefaultPool, 128}};
    facts_.parallelism = 32;
    facts_.now = kNow;
  }

  TaskInstance& Instance(const std::string& task_id) {
    return facts_.run_instances[dag_.TaskIndex(task_id)];
  }

  // Task instances of other runs (of `dag_id`) holding a slot in `pool`.
  void AddActive(int count, const std::string& dag_id, const std::string& pool) {
    for (int i = 0; i < count; ++i) {
      TaskInstance instance;
      instance.key = {dag_id, "other_run", "task" + std::to_string(i)};
      instance.state = TaskState::kRunning;
      instance.pool = pool;
      facts_.active_instances.push_back(instance);
    }
  }

  std::vector<std::string> Explain(const std::string& task_id) {
    auto reasons = ExplainWhyNotRunning(dag_, facts_, task_id);
    EXPECT_TRUE(reasons.ok()) << reasons.status().message();
    return reasons.ok() ? *reasons : std::vector<std::string>{};
  }

  Dag dag_;
  DependencyFacts facts_;
};

TEST_F(DependencyReportTest, UnknownTaskIsInvalidInput) {
  auto reasons = ExplainWhyNotRunning(dag_, facts_, "nope");
  ASSERT_FALSE(reasons.ok());
  EXPECT_EQ(reasons.status().code(), Status::Code::kInvalidInput);
  EXPECT_THAT(reasons.status().message(), HasSubstr("'nope'"));
}

TEST_F(DependencyReportTest, TaskWithoutInstanceIsNotFound) {
  dag_.tasks.push_back(Task("added_later"));
  auto reasons = ExplainWhyNotRunning(dag_, facts_, "added_later");
  ASSERT_FALSE(reasons.ok());
  EXPECT_EQ(reasons.status().code(), Status::Code::kNotFound);
}

TEST_F(DependencyReportTest, ReadyTaskHasNoReason) { EXPECT_THAT(Explain("extract"), IsEmpty()); }

TEST_F(DependencyReportTest, FinishedTaskSaysSoAndNothingElse) {
  Instance("extract").state = TaskState::kFailed;
  facts_.dag_paused = true;
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("already finished"), HasSubstr("failed"))));
}

TEST_F(DependencyReportTest, RunningTaskNamesItsTryHostAndPid) {
  TaskInstance& extract = Instance("extract");
  extract.state = TaskState::kRunning;
  extract.try_number = 2;
  extract.hostname = "worker1";
  extract.pid = 4242;
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("already running"), HasSubstr("try 2"),
                                HasSubstr("worker1"), HasSubstr("4242"))));
}

TEST_F(DependencyReportTest, QueuedTaskSaysItWaitsForTheExecutor) {
  Instance("extract").state = TaskState::kQueued;
  EXPECT_THAT(Explain("extract"), ElementsAre(HasSubstr("already queued")));
}

TEST_F(DependencyReportTest, UnfinishedUpstreamIsNamedWithItsState) {
  Instance("extract").state = TaskState::kRunning;
  EXPECT_THAT(Explain("transform"),
              ElementsAre(AllOf(HasSubstr("waiting for upstream"), HasSubstr("all_success"),
                                HasSubstr("'extract' (running)"))));
}

TEST_F(DependencyReportTest, FailedUpstreamRejectedByTriggerRule) {
  Instance("extract").state = TaskState::kFailed;
  EXPECT_THAT(Explain("transform"),
              ElementsAre(AllOf(HasSubstr("all_success is not met"), HasSubstr("upstream_failed"),
                                HasSubstr("'extract' (failed)"))));
}

TEST_F(DependencyReportTest, SuccessfulUpstreamSkipsAllFailedTask) {
  dag_.tasks[dag_.TaskIndex("transform")].trigger_rule = TriggerRule::kAllFailed;
  Instance("extract").state = TaskState::kSuccess;
  EXPECT_THAT(Explain("transform"),
              ElementsAre(AllOf(HasSubstr("all_failed is not met"), HasSubstr("skipped"),
                                HasSubstr("'extract' (success)"))));
}

TEST_F(DependencyReportTest, MetTriggerRuleLeavesNoReason) {
  Instance("extract").state = TaskState::kSuccess;
  EXPECT_THAT(Explain("transform"), IsEmpty());
}

TEST_F(DependencyReportTest, PausedDag) {
  facts_.dag_paused = true;
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("paused"), HasSubstr("unpause etl"))));
}

TEST_F(DependencyReportTest, QueuedRunAtMaxActiveRuns) {
  facts_.run.state = RunState::kQueued;
  dag_.max_active_runs = 1;
  facts_.running_runs = 1;
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("still queued"), HasSubstr("max_active_runs = 1"))));
}

TEST_F(DependencyReportTest, QueuedRunBelowMaxActiveRunsWaitsForTheScheduler) {
  facts_.run.state = RunState::kQueued;
  facts_.running_runs = 0;
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("still queued"), HasSubstr("not started"))));
}

TEST_F(DependencyReportTest, FinishedRun) {
  facts_.run.state = RunState::kFailed;
  EXPECT_THAT(Explain("extract"), ElementsAre(HasSubstr("is finished (failed)")));
}

TEST_F(DependencyReportTest, RetryWaitNamesTheTimeOfTheNextTry) {
  TaskInstance& extract = Instance("extract");
  extract.state = TaskState::kUpForRetry;
  extract.try_number = 1;
  extract.next_retry_at = kNow + std::chrono::minutes(5);
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("waiting for retry"), HasSubstr("try 1"),
                                HasSubstr(FormatIso8601(*extract.next_retry_at)))));
}

TEST_F(DependencyReportTest, DueRetryLeavesNoReason) {
  TaskInstance& extract = Instance("extract");
  extract.state = TaskState::kUpForRetry;
  extract.next_retry_at = kNow - std::chrono::seconds(1);
  EXPECT_THAT(Explain("extract"), IsEmpty());
}

TEST_F(DependencyReportTest, FullPoolShowsUsedAndSlots) {
  facts_.pools["small"] = 2;
  Instance("extract").pool = "small";
  AddActive(2, "other_dag", "small");
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("pool 'small' is full"), HasSubstr("2/2"))));
}

TEST_F(DependencyReportTest, UnconfiguredPool) {
  Instance("extract").pool = "gone";
  EXPECT_THAT(Explain("extract"), ElementsAre(HasSubstr("pool 'gone' is not configured")));
}

TEST_F(DependencyReportTest, MaxActiveTasksReached) {
  dag_.max_active_tasks = 3;
  AddActive(3, "etl", kDefaultPool);
  EXPECT_THAT(Explain("extract"), ElementsAre(AllOf(HasSubstr("max_active_tasks reached"),
                                                    HasSubstr("max_active_tasks = 3"))));
}

TEST_F(DependencyReportTest, ParallelismReached) {
  facts_.parallelism = 4;
  AddActive(4, "other_dag", kDefaultPool);
  EXPECT_THAT(Explain("extract"),
              ElementsAre(AllOf(HasSubstr("parallelism reached"), HasSubstr("parallelism = 4"))));
}

TEST_F(DependencyReportTest, SeveralReasonsAreAllReported) {
  facts_.dag_paused = true;
  facts_.parallelism = 1;
  AddActive(1, "other_dag", kDefaultPool);
  EXPECT_THAT(Explain("extract"),
              ElementsAre(HasSubstr("paused"), HasSubstr("parallelism reached")));
}

TEST_F(DependencyReportTest, WaitingTaskDoesNotReportSlots) {
  facts_.parallelism = 1;
  AddActive(1, "other_dag", kDefaultPool);
  EXPECT_THAT(Explain("transform"), ElementsAre(HasSubstr("waiting for upstream")));
}

}  // namespace
}  // namespace baton
