// Tests for what an agent does with a message given the store's row: claim,
// drop, reclaim or abandon, and the row it writes when a try ends.
#include "agent/claim_rules.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

constexpr int64_t kJob = 42;

TaskInstance Row(TaskState state, int try_number, int64_t owner = 0) {
  TaskInstance row;
  row.key = {"etl", "run_1", "load"};
  row.state = state;
  row.try_number = try_number;
  row.owner_job_id = owner;
  row.pool = "default_pool";
  row.queue = "default";
  row.hostname = "scheduler-host";
  return row;
}

TimePoint At(int seconds) { return TimePoint(std::chrono::seconds(seconds)); }

TEST(ClaimRulesTest, ClaimsAnInstanceQueuedAtTheMessagesTry) {
  EXPECT_EQ(DecideClaim(Row(TaskState::kQueued, 2, 7), 2, kJob, false).decision,
            ClaimDecision::kClaim);
}

TEST(ClaimRulesTest, DropsWhatIsNotQueuedAtTheMessagesTry) {
  struct Case {
    std::optional<TaskInstance> row;
    const char* reason;
  };
  const Case cases[] = {
      {std::nullopt, "does not exist"},
      {Row(TaskState::kNone, 0), "is none at try 0"},
      {Row(TaskState::kQueued, 3), "is queued at try 3"},
      {Row(TaskState::kRunning, 2, 9), "is running at try 2 (job 9 on scheduler-host)"},
      {Row(TaskState::kSuccess, 2), "is success at try 2"},
      {Row(TaskState::kUpForRetry, 2), "is up_for_retry at try 2"},
  };
  for (const Case& c : cases) {
    const ClaimVerdict verdict = DecideClaim(c.row, 2, kJob, false);
    EXPECT_EQ(verdict.decision, ClaimDecision::kDrop) << c.reason;
    EXPECT_NE(verdict.reason.find(c.reason), std::string::npos) << verdict.reason;
  }
}

TEST(ClaimRulesTest, TheQueuedRowComesFromTheMessagesColumnsWhenItCarriesThem) {
  TaskLaunch launch;
  launch.key = {"etl", "run_1", "load"};
  launch.try_number = 2;
  EXPECT_FALSE(QueuedRowOf(launch).has_value());

  launch.queued_columns = TaskLaunch::QueuedColumns{"big_pool", 5, "gpu"};
  const std::optional<TaskInstance> row = QueuedRowOf(launch);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->key, launch.key);
  EXPECT_EQ(row->state, TaskState::kQueued);
  EXPECT_EQ(row->try_number, 2);
  EXPECT_EQ(row->pool, "big_pool");
  EXPECT_EQ(row->priority, 5);
  EXPECT_EQ(row->queue, "gpu");
  EXPECT_EQ(DecideClaim(row, 2, kJob, false).decision, ClaimDecision::kClaim);
}

TEST(ClaimRulesTest, ARunningRowOfOursIsOurLostClaimOnlyAfterAnAttempt) {
  const TaskInstance ours = Row(TaskState::kRunning, 2, kJob);
  EXPECT_EQ(DecideClaim(ours, 2, kJob, true).decision, ClaimDecision::kAlreadyOurs);
  // Without an attempt it is a duplicate of a try this agent runs.
  EXPECT_EQ(DecideClaim(ours, 2, kJob, false).decision, ClaimDecision::kDrop);
  // Another job's, or another try: not ours.
  EXPECT_EQ(DecideClaim(Row(TaskState::kRunning, 2, 9), 2, kJob, true).decision,
            ClaimDecision::kDrop);
  EXPECT_EQ(DecideClaim(Row(TaskState::kRunning, 3, kJob), 2, kJob, true).decision,
            ClaimDecision::kDrop);
}

TEST(ClaimRulesTest, TheClaimedRowIsRunningHereUnderTheAgentsJob) {
  TaskInstance queued = Row(TaskState::kQueued, 2, 7);
  queued.exit_code = 1;
  queued.end_date = At(5);
  queued.next_retry_at = At(6);
  queued.pid = 99;
  const TaskInstance claimed = ClaimedRow(queued, "worker-1", kJob, At(10));
  EXPECT_EQ(claimed.state, TaskState::kRunning);
  EXPECT_EQ(claimed.try_number, 2);
  EXPECT_EQ(claimed.hostname, "worker-1");
  EXPECT_EQ(claimed.owner_job_id, kJob);
  EXPECT_EQ(claimed.start_date, At(10));
  EXPECT_EQ(claimed.pid, 0);
  EXPECT_FALSE(claimed.end_date || claimed.exit_code || claimed.next_retry_at);
  EXPECT_EQ(claimed.pool, "default_pool");
}

TaskLaunch Launch(int max_tries) {
  TaskLaunch launch;
  launch.key = {"etl", "run_1", "load"};
  launch.try_number = 2;
  launch.max_tries = max_tries;
  launch.retry_delay = std::chrono::seconds(30);
  return launch;
}

TaskOutcome Outcome(int exit_code, int signal = 0) {
  TaskOutcome outcome;
  outcome.key = {"etl", "run_1", "load"};
  outcome.try_number = 2;
  outcome.exit_code = exit_code;
  outcome.signal = signal;
  return outcome;
}

TEST(ClaimRulesTest, EndedRowOfASuccessCarriesThePid) {
  const TaskInstance claimed = ClaimedRow(Row(TaskState::kQueued, 2), "w", kJob, At(10));
  const TaskInstance ended = EndedRow(claimed, Launch(1), Outcome(0), 1234, At(20));
  EXPECT_EQ(ended.state, TaskState::kSuccess);
  EXPECT_EQ(ended.exit_code, 0);
  EXPECT_EQ(ended.pid, 1234);
  EXPECT_EQ(ended.end_date, At(20));
  EXPECT_EQ(ended.start_date, At(10));
  EXPECT_EQ(ended.owner_job_id, kJob);
}

TEST(ClaimRulesTest, AFailureWithTriesLeftIsUpForRetryAfterTheDelay) {
  const TaskInstance claimed = ClaimedRow(Row(TaskState::kQueued, 2), "w", kJob, At(10));
  const TaskInstance ended = EndedRow(claimed, Launch(3), Outcome(3), 1234, At(20));
  EXPECT_EQ(ended.state, TaskState::kUpForRetry);
  EXPECT_EQ(ended.exit_code, 3);
  EXPECT_EQ(ended.next_retry_at, At(50));
}

TEST(ClaimRulesTest, AFailureOfTheLastTryIsFailed) {
  const TaskInstance claimed = ClaimedRow(Row(TaskState::kQueued, 2), "w", kJob, At(10));
  EXPECT_EQ(EndedRow(claimed, Launch(2), Outcome(3), 1234, At(20)).state, TaskState::kFailed);
}

TEST(ClaimRulesTest, AKilledOrUnstartedTryHasNoExitCode) {
  const TaskInstance claimed = ClaimedRow(Row(TaskState::kQueued, 2), "w", kJob, At(10));
  EXPECT_FALSE(EndedRow(claimed, Launch(2), Outcome(-1, 9), 1234, At(20)).exit_code);
  TaskOutcome never_started = Outcome(-1);
  never_started.error = "cannot chdir";
  const TaskInstance ended = EndedRow(claimed, Launch(2), never_started, 0, At(20));
  EXPECT_EQ(ended.state, TaskState::kFailed);
  EXPECT_FALSE(ended.exit_code);
  EXPECT_EQ(DescribeOutcome(never_started), "could not start: cannot chdir");
}

TEST(ClaimRulesTest, ATimedOutTryFailsEvenWithExitCodeZero) {
  const TaskInstance claimed = ClaimedRow(Row(TaskState::kQueued, 2), "w", kJob, At(10));
  TaskOutcome timed_out = Outcome(0);
  timed_out.timed_out = true;
  EXPECT_EQ(EndedRow(claimed, Launch(2), timed_out, 1, At(20)).state, TaskState::kFailed);
  EXPECT_EQ(DescribeOutcome(timed_out), "timed out");
}

TEST(ClaimRulesTest, AnEndIsKnownRecordedOnlyWhenTheStoreHoldsExactlyIt) {
  const TaskInstance claimed = ClaimedRow(Row(TaskState::kQueued, 2), "w", kJob, At(10));
  const TaskInstance intended = EndedRow(claimed, Launch(1), Outcome(0), 1, At(20));
  EXPECT_TRUE(EndAlreadyRecorded(intended, intended));
  TaskInstance failed_by_scheduler = intended;
  failed_by_scheduler.state = TaskState::kFailed;
  EXPECT_FALSE(EndAlreadyRecorded(failed_by_scheduler, intended));
  TaskInstance other_end = intended;
  other_end.end_date = At(21);
  EXPECT_FALSE(EndAlreadyRecorded(other_end, intended));
  EXPECT_FALSE(EndAlreadyRecorded(std::nullopt, intended));
}

TEST(ClaimRulesTest, RecoveryReclaimsOnlyWhatIsStillQueuedAtItsTry) {
  EXPECT_EQ(DecideRecovery(Row(TaskState::kQueued, 2), 2), RecoveryDecision::kReclaim);
  EXPECT_EQ(DecideRecovery(Row(TaskState::kQueued, 3), 2), RecoveryDecision::kAbandon);
  EXPECT_EQ(DecideRecovery(Row(TaskState::kRunning, 2, kJob), 2), RecoveryDecision::kAbandon);
  EXPECT_EQ(DecideRecovery(Row(TaskState::kSuccess, 2), 2), RecoveryDecision::kAbandon);
  EXPECT_EQ(DecideRecovery(std::nullopt, 2), RecoveryDecision::kAbandon);
}

TEST(ClaimRulesTest, TryIdsOrderByKeyThenTry) {
  const TryId a{{"etl", "run_1", "load"}, 1};
  const TryId b{{"etl", "run_1", "load"}, 2};
  const TryId c{{"etl", "run_1", "zzz"}, 1};
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(b < c);
  EXPECT_FALSE(b < a);
  EXPECT_EQ(a.ToString(), "etl/run_1/load try 1");
}

}  // namespace
}  // namespace baton
