// Truth tables for every trigger rule: given how a task's upstreams finished so
// far, does it wait, run, skip, or become upstream_failed.
#include "engine/trigger_rule.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

using D = TriggerDecision;

// Upstream tallies as "total success failed upstream_failed skipped".
UpstreamTally Tally(int total, int success, int failed, int upstream_failed, int skipped) {
  UpstreamTally tally;
  tally.total = total;
  tally.success = success;
  tally.failed = failed;
  tally.upstream_failed = upstream_failed;
  tally.skipped = skipped;
  return tally;
}

struct Row {
  TriggerRule rule;
  UpstreamTally tally;
  TriggerDecision expected;
};

// total=3 throughout; columns: success, failed, upstream_failed, skipped.
const Row kTruthTable[] = {
    // all_success: fails as soon as one upstream failed, skips when one skipped.
    {TriggerRule::kAllSuccess, Tally(3, 0, 0, 0, 0), D::kWait},
    {TriggerRule::kAllSuccess, Tally(3, 2, 0, 0, 0), D::kWait},
    {TriggerRule::kAllSuccess, Tally(3, 3, 0, 0, 0), D::kRun},
    {TriggerRule::kAllSuccess, Tally(3, 1, 1, 0, 0), D::kUpstreamFailed},
    {TriggerRule::kAllSuccess, Tally(3, 1, 0, 1, 0), D::kUpstreamFailed},
    {TriggerRule::kAllSuccess, Tally(3, 1, 0, 0, 1), D::kSkip},
    {TriggerRule::kAllSuccess, Tally(3, 0, 1, 0, 1), D::kUpstreamFailed},
    // all_failed: runs when every upstream failed; a success or skip skips it.
    {TriggerRule::kAllFailed, Tally(3, 0, 2, 0, 0), D::kWait},
    {TriggerRule::kAllFailed, Tally(3, 0, 2, 1, 0), D::kRun},
    {TriggerRule::kAllFailed, Tally(3, 1, 0, 0, 0), D::kSkip},
    {TriggerRule::kAllFailed, Tally(3, 0, 1, 0, 1), D::kSkip},
    // all_done: runs once everything finished, whatever the outcome.
    {TriggerRule::kAllDone, Tally(3, 1, 1, 0, 0), D::kWait},
    {TriggerRule::kAllDone, Tally(3, 1, 1, 1, 0), D::kRun},
    {TriggerRule::kAllDone, Tally(3, 0, 0, 0, 3), D::kRun},
    // one_success: runs on the first success; otherwise decided when all are done.
    {TriggerRule::kOneSuccess, Tally(3, 0, 0, 0, 0), D::kWait},
    {TriggerRule::kOneSuccess, Tally(3, 1, 0, 0, 0), D::kRun},
    {TriggerRule::kOneSuccess, Tally(3, 0, 2, 0, 0), D::kWait},
    {TriggerRule::kOneSuccess, Tally(3, 0, 2, 1, 0), D::kUpstreamFailed},
    {TriggerRule::kOneSuccess, Tally(3, 0, 0, 0, 3), D::kSkip},
    // one_failed: runs on the first failure; skipped when all are done without one.
    {TriggerRule::kOneFailed, Tally(3, 2, 0, 0, 0), D::kWait},
    {TriggerRule::kOneFailed, Tally(3, 0, 1, 0, 0), D::kRun},
    {TriggerRule::kOneFailed, Tally(3, 0, 0, 1, 0), D::kRun},
    {TriggerRule::kOneFailed, Tally(3, 2, 0, 0, 1), D::kSkip},
    // none_failed: skips count as fine; any failure fails it.
    {TriggerRule::kNoneFailed, Tally(3, 1, 0, 0, 1), D::kWait},
    {TriggerRule::kNoneFailed, Tally(3, 1, 0, 0, 2), D::kRun},
    {TriggerRule::kNoneFailed, Tally(3, 0, 0, 0, 3), D::kRun},
    {TriggerRule::kNoneFailed, Tally(3, 1, 1, 0, 0), D::kUpstreamFailed},
    // none_failed_min_one_success: like none_failed, but all skipped skips it.
    {TriggerRule::kNoneFailedMinOneSuccess, Tally(3, 1, 0, 0, 1), D::kWait},
    {TriggerRule::kNoneFailedMinOneSuccess, Tally(3, 1, 0, 0, 2), D::kRun},
    {TriggerRule::kNoneFailedMinOneSuccess, Tally(3, 0, 0, 0, 3), D::kSkip},
    {TriggerRule::kNoneFailedMinOneSuccess, Tally(3, 0, 0, 1, 0), D::kUpstreamFailed},
    // always: runs at once.
    {TriggerRule::kAlways, Tally(3, 0, 0, 0, 0), D::kRun},
    {TriggerRule::kAlways, Tally(3, 0, 3, 0, 0), D::kRun},
};

TEST(TriggerRuleTest, TruthTable) {
  for (const Row& row : kTruthTable) {
    const UpstreamTally& t = row.tally;
    EXPECT_EQ(EvaluateTriggerRule(row.rule, t), row.expected)
        << ToString(row.rule) << " with success=" << t.success << " failed=" << t.failed
        << " upstream_failed=" << t.upstream_failed << " skipped=" << t.skipped << " of "
        << t.total;
  }
}

TEST(TriggerRuleTest, EveryRuleRunsATaskWithoutUpstreams) {
  for (TriggerRule rule :
       {TriggerRule::kAllSuccess, TriggerRule::kAllFailed, TriggerRule::kAllDone,
        TriggerRule::kOneSuccess, TriggerRule::kOneFailed, TriggerRule::kNoneFailed,
        TriggerRule::kNoneFailedMinOneSuccess, TriggerRule::kAlways}) {
    EXPECT_EQ(EvaluateTriggerRule(rule, Tally(0, 0, 0, 0, 0)), D::kRun) << ToString(rule);
  }
}

TEST(TriggerRuleTest, NamesRoundTrip) {
  for (const char* name : {"all_success", "all_failed", "all_done", "one_success", "one_failed",
                           "none_failed", "none_failed_min_one_success", "always"}) {
    auto rule = ParseTriggerRule(name);
    ASSERT_TRUE(rule.has_value()) << name;
    EXPECT_EQ(ToString(*rule), name);
  }
  EXPECT_FALSE(ParseTriggerRule("all_sucess").has_value());
}

TEST(TriggerRuleTest, TallyCountsOnlyFinishedStates) {
  UpstreamTally tally;
  tally.total = 4;
  for (TaskState state : {TaskState::kSuccess, TaskState::kFailed, TaskState::kRunning,
                          TaskState::kSkipped, TaskState::kUpstreamFailed}) {
    tally.Add(state);
  }
  EXPECT_EQ(tally.done(), 4);
  EXPECT_EQ(tally.success, 1);
  EXPECT_EQ(tally.failed, 1);
  EXPECT_EQ(tally.skipped, 1);
  EXPECT_EQ(tally.upstream_failed, 1);
}

}  // namespace
}  // namespace baton
