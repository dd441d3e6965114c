// The lease keeper's decisions, driven by a fake clock. The store is an
// in-memory lease that follows engine/store.h's contract by the same fake
// clock (its wall time plays the database's clock), so a test can make a call
// fail, commit without answering, or take time; the last tests run the keeper
// on the real SQLite store. Acquire, renew and release are Step()'s and
// Release()'s; advancing the epoch for a scheduler start is AdvanceEpoch()'s.
#include "failover/lease_keeper.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "tests/support/fake_clock.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = LeaseChange::Kind;
using ::baton::testing::FakeClock;
using ::baton::testing::IsOk;

const TimePoint kStart = FromEpochMicros(1'800'000'000'000'000);

// The lease row and its conditional updates, in memory. Everything else a
// Store does is refused: the keeper must not need it.
class InMemoryLeaseStore final : public Store {
 public:
  explicit InMemoryLeaseStore(FakeClock& clock) : clock_(clock) {}

  // Hooks: every lease call fails while `unavailable`; `during_call` runs inside
  // each lease call before it is decided (a slow network: advance the clock);
  // `commit_then_fail` applies the next acquire, renew or advance and then
  // reports a lost connection.
  bool unavailable = false;
  bool commit_then_fail = false;
  std::function<void()> during_call;
  int acquire_calls = 0;
  int advance_calls = 0;
  int release_calls = 0;
  Lease row;

  Result<Lease> GetLease() override {
    BATON_RETURN_IF_ERROR(Call());
    Lease lease = row;
    lease.remaining = std::chrono::duration_cast<Duration>(row.expires_at - clock_.Now());
    return lease;
  }
  Result<std::optional<int64_t>> AcquireLease(const std::string& node, int64_t job_id,
                                              Duration ttl) override {
    ++acquire_calls;
    BATON_RETURN_IF_ERROR(Call());
    const TimePoint now = clock_.Now();
    if (row.expires_at > now) return std::optional<int64_t>();
    // A switchover's target keeps its claim for one more ttl after the lease ended.
    if (!row.promote_to.empty() && row.promote_to != node && now < row.expires_at + ttl) {
      return std::optional<int64_t>();
    }
    row.holder = node;
    row.holder_job_id = job_id;
    row.epoch += 1;
    row.expires_at = now + ttl;
    row.promote_to.clear();
    BATON_RETURN_IF_ERROR(Answer());
    return std::optional<int64_t>(row.epoch);
  }
  Result<bool> RenewLease(int64_t job_id, int64_t epoch, Duration ttl) override {
    BATON_RETURN_IF_ERROR(Call());
    if (row.holder_job_id != job_id || row.epoch != epoch) return false;
    row.expires_at = clock_.Now() + ttl;
    BATON_RETURN_IF_ERROR(Answer());
    return true;
  }
  Result<std::optional<int64_t>> AdvanceEpoch(int64_t job_id, int64_t epoch) override {
    ++advance_calls;
    BATON_RETURN_IF_ERROR(Call());
    if (row.holder_job_id != job_id || row.epoch != epoch) return std::optional<int64_t>();
    row.epoch += 1;
    BATON_RETURN_IF_ERROR(Answer());
    return std::optional<int64_t>(row.epoch);
  }
  Status ReleaseLease(int64_t job_id, int64_t epoch) override {
    ++release_calls;
    BATON_RETURN_IF_ERROR(Call());
    if (row.holder_job_id == job_id && row.epoch == epoch) row.expires_at = clock_.Now();
    return Status::Ok();
  }

  Status Migrate() override { return Unused(); }
  Result<int> SchemaVersion() override { return Unused(); }
  Result<TimePoint> Now() override { return clock_.Now(); }
  Status SyncDag(const DagRecord&, bool) override { return Unused(); }
  Result<std::optional<DagRecord>> GetDag(const std::string&) override { return Unused(); }
  Result<std::vector<DagRecord>> ListDags() override { return Unused(); }
  Status SetDagPaused(const std::string&, bool) override { return Unused(); }
  Status ReplaceImportErrors(const std::vector<ImportError>&) override { return Unused(); }
  Result<std::vector<ImportError>> ListImportErrors() override { return Unused(); }
  Result<bool> CreateDagRun(const DagRun&, const std::vector<TaskInstance>&) override {
    return Unused();
  }
  Result<std::optional<DagRun>> GetDagRun(const std::string&, const std::string&) override {
    return Unused();
  }
  Result<std::vector<DagRun>> ListDagRuns(const RunFilter&) override { return Unused(); }
  Status SetDagRunState(const std::string&, const std::string&, RunState, RunState,
                        std::optional<TimePoint>, std::optional<TimePoint>) override {
    return Unused();
  }
  Result<std::optional<TimePoint>> LatestScheduledLogicalDate(const std::string&) override {
    return Unused();
  }
  Result<std::vector<TaskInstance>> ListTaskInstances(const std::string&,
                                                      const std::string&) override {
    return Unused();
  }
  Result<std::optional<TaskInstance>> GetTaskInstance(const TaskInstanceKey&) override {
    return Unused();
  }
  Result<std::vector<TaskInstance>> ListTaskInstancesOfActiveRuns() override { return Unused(); }
  Result<std::vector<bool>> ApplyTransitions(const std::vector<TaskTransition>&) override {
    return Unused();
  }
  Result<int> ClearTaskInstances(const std::string&, const std::string&,
                                 const std::vector<std::string>&) override {
    return Unused();
  }
  Result<std::vector<TaskTry>> ListTaskTries(const TaskInstanceKey&) override { return Unused(); }
  Result<int64_t> RegisterJob(const JobRecord&) override { return Unused(); }
  Status HeartbeatJob(int64_t, int) override { return Unused(); }
  Status EndJob(int64_t) override { return Unused(); }
  Result<std::vector<JobRecord>> ListRunningJobs(const std::string&) override { return Unused(); }
  Result<std::optional<JobRecord>> GetJob(int64_t) override { return Unused(); }
  Status SetSchedulerNode(int64_t, const std::string&) override { return Unused(); }
  Status SetPromoteTo(const std::string&) override { return Unused(); }
  Status SetMaintenance(bool) override { return Unused(); }
  Status RecordFailoverEvent(const FailoverEvent&) override { return Unused(); }
  Result<std::vector<FailoverEvent>> ListFailoverEvents(int) override { return Unused(); }
  Status ClearFailoverMetadata() override { return Unused(); }
  void SetFencingEpoch(int64_t) override {}

 private:
  static Status Unused() { return Status::Internal("not part of the lease keeper's contract"); }
  Status Call() {
    if (during_call) during_call();
    if (unavailable) return Status::Unavailable("store: connection refused");
    return Status::Ok();
  }
  Status Answer() {
    if (!std::exchange(commit_then_fail, false)) return Status::Ok();
    return Status::Unavailable("store: lost connection during the query");
  }

  FakeClock& clock_;
};

constexpr Duration kHeartbeat = seconds(2);
constexpr Duration kTtl = seconds(10);

class LeaseKeeperTest : public ::testing::Test {
 protected:
  LeaseKeeperTest() : clock_(kStart), store_(clock_) {}

  LeaseKeeper Keeper(const std::string& node, int64_t job_id) {
    return LeaseKeeper(store_, clock_, LeaseKeeperSettings{node, job_id, kHeartbeat, kTtl});
  }

  static LeaseChange Step(LeaseKeeper& keeper) {
    Result<LeaseChange> change = keeper.Step();
    EXPECT_TRUE(IsOk(change));
    return change.ok() ? *change : LeaseChange{};
  }

  FakeClock clock_;
  InMemoryLeaseStore store_;
};

TEST_F(LeaseKeeperTest, SafetyMarginIsAHeartbeatCappedAtAQuarterOfTheTtl) {
  EXPECT_EQ(LeaseKeeper::SafetyMargin(seconds(2), seconds(10)), seconds(2));
  EXPECT_EQ(LeaseKeeper::SafetyMargin(seconds(2), seconds(4)), seconds(1));
  EXPECT_EQ(LeaseKeeper::SafetyMargin(seconds(1), seconds(60)), seconds(1));
}

TEST_F(LeaseKeeperTest, StandbyAcquiresAFreeLeaseWithTheFirstEpoch) {
  LeaseKeeper keeper = Keeper("master1", 7);
  clock_.Advance(seconds(100));
  LeaseChange change = Step(keeper);
  EXPECT_EQ(change.kind, Kind::kAcquired);
  EXPECT_EQ(change.epoch, 1);
  EXPECT_EQ(change.previous_holder, "");
  EXPECT_FALSE(change.planned);
  EXPECT_TRUE(keeper.active());
  EXPECT_EQ(keeper.epoch(), 1);
  EXPECT_EQ(store_.row.holder, "master1");
  EXPECT_EQ(store_.row.holder_job_id, 7);
  // ttl minus the 2 s margin, from the send.
  EXPECT_EQ(keeper.deadline(), seconds(108));
}

TEST_F(LeaseKeeperTest, HolderRenewsOnTimeWithoutNews) {
  LeaseKeeper keeper = Keeper("master1", 7);
  ASSERT_EQ(Step(keeper).kind, Kind::kAcquired);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(kHeartbeat);
    EXPECT_EQ(Step(keeper).kind, Kind::kNone);
  }
  EXPECT_EQ(keeper.epoch(), 1);
  EXPECT_EQ(keeper.deadline(), seconds(10 + 8));
  EXPECT_EQ(store_.row.expires_at, clock_.Now() + kTtl);
}

TEST_F(LeaseKeeperTest, StandbyWaitsWithoutWritingWhileTheLeaseIsHeld) {
  LeaseKeeper holder = Keeper("master1", 1);
  LeaseKeeper standby = Keeper("master2", 2);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  const int acquires = store_.acquire_calls;
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(kHeartbeat);
    EXPECT_EQ(Step(holder).kind, Kind::kNone);
    EXPECT_EQ(Step(standby).kind, Kind::kNone);
  }
  EXPECT_FALSE(standby.active());
  EXPECT_EQ(store_.acquire_calls, acquires);
}

TEST_F(LeaseKeeperTest, StandbyTakesOverOnlyAfterExpiryWithTheNextEpoch) {
  LeaseKeeper holder = Keeper("master1", 1);
  LeaseKeeper standby = Keeper("master2", 2);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  EXPECT_EQ(standby.standby_wait(), std::nullopt);  // not looked yet
  clock_.Advance(kTtl - milliseconds(1));
  EXPECT_EQ(Step(standby).kind, Kind::kNone);
  // The store said 1 ms was left: the next try need not wait a heartbeat.
  EXPECT_EQ(standby.standby_wait(), milliseconds(1));
  clock_.Advance(milliseconds(1));
  LeaseChange change = Step(standby);
  EXPECT_EQ(change.kind, Kind::kAcquired);
  EXPECT_EQ(change.epoch, 2);
  EXPECT_EQ(change.previous_holder, "master1");
  EXPECT_FALSE(change.planned);
  EXPECT_EQ(standby.standby_wait(), std::nullopt);
}

TEST_F(LeaseKeeperTest, HolderLosesAtOnceWhenTheRenewIsRefused) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  // Somebody else holds epoch 2 (the store's view, however it came about).
  store_.row.holder = "master2";
  store_.row.holder_job_id = 2;
  store_.row.epoch = 2;
  clock_.Advance(kHeartbeat);
  LeaseChange change = Step(holder);
  EXPECT_EQ(change.kind, Kind::kLost);
  EXPECT_EQ(change.epoch, 1);
  EXPECT_FALSE(holder.active());
}

TEST_F(LeaseKeeperTest, StoreFailuresKeepTheLeaseUntilTheDeadlineThenLoseIt) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);  // sent at 0: deadline 8 s
  store_.unavailable = true;
  for (int i = 1; i <= 3; ++i) {
    clock_.Advance(kHeartbeat);  // 2, 4, 6 s
    Result<LeaseChange> change = holder.Step();
    EXPECT_EQ(change.status().code(), Status::Code::kUnavailable);
    EXPECT_TRUE(holder.active());
  }
  clock_.Advance(kHeartbeat);  // 8 s: the deadline
  Result<LeaseChange> change = holder.Step();
  ASSERT_TRUE(IsOk(change));
  EXPECT_EQ(change->kind, Kind::kLost);
  EXPECT_FALSE(holder.active());
  // Still 2 s before any standby could take it by the store's clock.
  EXPECT_EQ(store_.row.expires_at - clock_.Now(), seconds(2));
}

TEST_F(LeaseKeeperTest, AFailedRenewThatOutlastsTheDeadlineLosesTheLease) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  clock_.Advance(seconds(6));
  store_.unavailable = true;
  store_.during_call = [this] { clock_.Advance(seconds(3)); };  // a call that hangs, then fails
  Result<LeaseChange> change = holder.Step();
  ASSERT_TRUE(IsOk(change));
  EXPECT_EQ(change->kind, Kind::kLost);
}

TEST_F(LeaseKeeperTest, DeadlineCountsFromWhenTheRenewWasSent) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  clock_.Advance(kHeartbeat);
  const std::chrono::nanoseconds sent = clock_.Monotonic();
  store_.during_call = [this] { clock_.Advance(milliseconds(1500)); };  // a slow renew
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  EXPECT_EQ(holder.deadline(), sent + kTtl - seconds(2));
  // The store counted from later: the holder always gives up before it expires.
  EXPECT_GT(store_.row.expires_at, kStart + std::chrono::duration_cast<Micros>(holder.deadline()));
}

TEST_F(LeaseKeeperTest, ARenewAnsweredAfterTheDeadlineStillLosesAndIsHandedBack) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  clock_.Advance(seconds(7));
  store_.during_call = [this] { clock_.Advance(seconds(2)); };  // answered at 9 s, deadline 8 s
  LeaseChange change = Step(holder);
  EXPECT_EQ(change.kind, Kind::kLost);
  store_.during_call = nullptr;
  // The store says yes and still names it; the next (standby) step gives it back.
  ASSERT_GT(store_.row.expires_at, clock_.Now());
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  EXPECT_EQ(store_.release_calls, 1);
  EXPECT_LE(store_.row.expires_at, clock_.Now());
  EXPECT_FALSE(holder.active());
}

TEST_F(LeaseKeeperTest, ARenewSentLateIsReported) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  clock_.Advance(seconds(3));  // exactly 1.5 intervals: not late yet
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  clock_.Advance(milliseconds(3500));
  LeaseChange change = Step(holder);
  EXPECT_EQ(change.kind, Kind::kRenewedLate);
  EXPECT_EQ(change.epoch, 1);
  EXPECT_NE(change.message.find("3s500ms"), std::string::npos) << change.message;
  EXPECT_TRUE(holder.active());
  EXPECT_EQ(holder.deadline(), clock_.Monotonic() + seconds(8));
}

TEST_F(LeaseKeeperTest, LateMeansSinceTheLastSuccessfulRenew) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.unavailable = true;
  clock_.Advance(kHeartbeat);
  EXPECT_FALSE(holder.Step().ok());
  store_.unavailable = false;
  clock_.Advance(kHeartbeat);
  EXPECT_EQ(Step(holder).kind, Kind::kRenewedLate);
}

TEST_F(LeaseKeeperTest, AnAcquireWhoseReplyWasLostIsReadBackAndKept) {
  LeaseKeeper keeper = Keeper("master1", 1);
  store_.commit_then_fail = true;
  EXPECT_FALSE(keeper.Step().ok());
  EXPECT_FALSE(keeper.active());
  ASSERT_EQ(store_.row.holder_job_id, 1);  // it did commit
  clock_.Advance(kHeartbeat);
  LeaseChange change = Step(keeper);
  EXPECT_EQ(change.kind, Kind::kAcquired);
  EXPECT_EQ(change.epoch, 1);
  // Counted from the renew that confirmed it.
  EXPECT_EQ(keeper.deadline(), clock_.Monotonic() + seconds(8));
}

TEST_F(LeaseKeeperTest, MarkLostGivesUpWithoutTheStoreAndNeverRenewsThatEpoch) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  LeaseChange change = holder.MarkLost("the guard fired");
  EXPECT_EQ(change.kind, Kind::kLost);
  EXPECT_FALSE(holder.active());
  EXPECT_EQ(holder.MarkLost("again").kind, Kind::kNone);
  clock_.Advance(kHeartbeat);
  EXPECT_EQ(Step(holder).kind, Kind::kNone);  // released, not renewed
  clock_.Advance(kHeartbeat);
  change = Step(holder);  // a fresh acquire, with a new epoch
  EXPECT_EQ(change.kind, Kind::kAcquired);
  EXPECT_EQ(change.epoch, 2);
}

TEST_F(LeaseKeeperTest, ReleaseLetsAStandbyAcquireAtItsNextTry) {
  LeaseKeeper holder = Keeper("master1", 1);
  LeaseKeeper standby = Keeper("master2", 2);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  ASSERT_TRUE(IsOk(holder.Release()));
  EXPECT_FALSE(holder.active());
  LeaseChange change = Step(standby);
  EXPECT_EQ(change.kind, Kind::kAcquired);
  EXPECT_EQ(change.epoch, 2);
}

TEST_F(LeaseKeeperTest, SwitchoverTargetAcquiresAsPlannedAndOthersWait) {
  LeaseKeeper holder = Keeper("master1", 1);
  LeaseKeeper target = Keeper("master2", 2);
  LeaseKeeper other = Keeper("master3", 3);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.row.promote_to = "master2";
  ASSERT_TRUE(IsOk(holder.Release()));
  EXPECT_EQ(Step(other).kind, Kind::kNone);
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  LeaseChange change = Step(target);
  EXPECT_EQ(change.kind, Kind::kAcquired);
  EXPECT_TRUE(change.planned);
  EXPECT_EQ(change.previous_holder, "master1");
}

// A scheduler restart or move: the holder moves its lease to the next epoch.

TEST_F(LeaseKeeperTest, AdvanceMovesTheHeldEpochAndRenewsCarryOnWithIt) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);  // sent at 0: deadline 8 s
  const TimePoint expiry = store_.row.expires_at;
  clock_.Advance(seconds(1));
  Result<int64_t> advanced = holder.AdvanceEpoch(store_);
  ASSERT_TRUE(IsOk(advanced));
  EXPECT_EQ(*advanced, 2);
  EXPECT_EQ(holder.epoch(), 2);
  EXPECT_TRUE(holder.active());
  // Neither the deadline nor the store's expiry moves: an advance is no renew.
  EXPECT_EQ(holder.deadline(), seconds(8));
  EXPECT_EQ(store_.row.expires_at, expiry);
  EXPECT_EQ(store_.row.epoch, 2);
  EXPECT_EQ(store_.row.holder_job_id, 1);

  clock_.Advance(seconds(1));
  EXPECT_EQ(Step(holder).kind, Kind::kNone);  // renewed with epoch 2
  EXPECT_EQ(holder.deadline(), clock_.Monotonic() + seconds(8));
  ASSERT_TRUE(IsOk(holder.AdvanceEpoch(store_)));
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(kHeartbeat);
    EXPECT_EQ(Step(holder).kind, Kind::kNone);
  }
  EXPECT_TRUE(holder.active());
  EXPECT_EQ(holder.epoch(), 3);
  EXPECT_EQ(store_.row.epoch, 3);
  EXPECT_EQ(store_.row.expires_at, clock_.Now() + kTtl);
}

TEST_F(LeaseKeeperTest, AdvanceIsRefusedWithoutTheLeaseOrPastTheDeadline) {
  LeaseKeeper standby = Keeper("master2", 2);
  EXPECT_EQ(standby.AdvanceEpoch(store_).status().code(), Status::Code::kFenced);

  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  clock_.Advance(seconds(8));  // the deadline, with no renew since the acquire
  Result<int64_t> late = holder.AdvanceEpoch(store_);
  EXPECT_EQ(late.status().code(), Status::Code::kFenced);
  EXPECT_EQ(store_.advance_calls, 0);
  EXPECT_EQ(holder.epoch(), 1);
}

TEST_F(LeaseKeeperTest, AdvanceRefusedByTheStoreIsFencedAndTheEpochStays) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.row.holder = "master2";
  store_.row.holder_job_id = 2;
  store_.row.epoch = 2;
  Result<int64_t> refused = holder.AdvanceEpoch(store_);
  EXPECT_EQ(refused.status().code(), Status::Code::kFenced);
  EXPECT_NE(refused.status().message().find("epoch 1"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(holder.epoch(), 1);
  EXPECT_EQ(store_.row.epoch, 2);
  // The caller stops acting and tells the keeper, which does not renew again.
  EXPECT_EQ(holder.MarkLost("fenced").kind, Kind::kLost);
}

TEST_F(LeaseKeeperTest, AnAdvanceAnsweredAfterTheDeadlineIsFencedAndHandedBack) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  clock_.Advance(seconds(7));
  store_.during_call = [this] { clock_.Advance(seconds(2)); };  // answered at 9 s, deadline 8 s
  EXPECT_EQ(holder.AdvanceEpoch(store_).status().code(), Status::Code::kFenced);
  store_.during_call = nullptr;
  EXPECT_EQ(holder.epoch(), 2);  // what the store holds for it now
  EXPECT_EQ(holder.MarkLost("fenced").epoch, 2);
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  EXPECT_EQ(store_.release_calls, 1);
  EXPECT_LE(store_.row.expires_at, clock_.Now());
}

TEST_F(LeaseKeeperTest, AnAdvanceWhoseReplyWasLostIsReadBackByTheNextRenew) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.commit_then_fail = true;
  EXPECT_EQ(holder.AdvanceEpoch(store_).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(holder.epoch(), 1);
  ASSERT_EQ(store_.row.epoch, 2);  // it did apply
  clock_.Advance(kHeartbeat);
  EXPECT_EQ(Step(holder).kind, Kind::kNone);  // not lost: renewed with epoch 2
  EXPECT_TRUE(holder.active());
  EXPECT_EQ(holder.epoch(), 2);
  EXPECT_EQ(store_.row.expires_at, clock_.Now() + kTtl);
}

TEST_F(LeaseKeeperTest, AnAdvanceWhoseReplyWasLostIsReadBackByTheNextAdvance) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.commit_then_fail = true;
  EXPECT_FALSE(holder.AdvanceEpoch(store_).ok());
  Result<int64_t> advanced = holder.AdvanceEpoch(store_);
  ASSERT_TRUE(IsOk(advanced));
  EXPECT_EQ(*advanced, 3);  // from the 2 the lost one had reached
  EXPECT_EQ(store_.row.epoch, 3);
}

TEST_F(LeaseKeeperTest, AFailedAdvanceThatDidNotApplyKeepsTheEpoch) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.unavailable = true;
  EXPECT_FALSE(holder.AdvanceEpoch(store_).ok());
  store_.unavailable = false;
  clock_.Advance(kHeartbeat);
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  EXPECT_EQ(holder.epoch(), 1);
  Result<int64_t> advanced = holder.AdvanceEpoch(store_);
  ASSERT_TRUE(IsOk(advanced));
  EXPECT_EQ(*advanced, 2);
}

TEST_F(LeaseKeeperTest, ALeaseGivenUpWithAnAdvanceOfUnknownOutcomeIsHandedBack) {
  LeaseKeeper holder = Keeper("master1", 1);
  ASSERT_EQ(Step(holder).kind, Kind::kAcquired);
  store_.commit_then_fail = true;
  EXPECT_FALSE(holder.AdvanceEpoch(store_).ok());
  EXPECT_EQ(holder.MarkLost("the guard fired").epoch, 1);
  EXPECT_EQ(Step(holder).kind, Kind::kNone);
  EXPECT_EQ(store_.release_calls, 1);
  EXPECT_LE(store_.row.expires_at, clock_.Now());  // epoch 2, released
}

// The same keeper on the real SQLite store and its clock.
class LeaseKeeperOnSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreConfig config;
    config.url = "sqlite://" + (folder_.path() / "baton.db").string();
    for (auto* store : {&first_, &second_}) {
      auto opened = OpenStore(config, folder_.path());
      ASSERT_TRUE(IsOk(opened));
      *store = std::move(opened).value();
    }
    ASSERT_TRUE(IsOk(first_->Migrate()));
  }

  ::baton::testing::TempFolder folder_;
  FakeClock clock_{kStart};
  std::unique_ptr<Store> first_;
  std::unique_ptr<Store> second_;
};

TEST_F(LeaseKeeperOnSqliteTest, EachHolderGetsTheNextEpochAfterExpiry) {
  const Duration ttl = milliseconds(300);
  LeaseKeeper a(*first_, clock_, {"master1", 1, milliseconds(100), ttl});
  LeaseKeeper b(*second_, clock_, {"master2", 2, milliseconds(100), ttl});
  Result<LeaseChange> acquired = a.Step();
  ASSERT_TRUE(IsOk(acquired));
  EXPECT_EQ(acquired->kind, Kind::kAcquired);
  const int64_t first_epoch = acquired->epoch;
  Result<LeaseChange> refused = b.Step();
  ASSERT_TRUE(IsOk(refused));
  EXPECT_EQ(refused->kind, Kind::kNone);

  std::this_thread::sleep_for(ttl + milliseconds(100));  // the database's clock decides expiry
  Result<LeaseChange> taken = b.Step();
  ASSERT_TRUE(IsOk(taken));
  EXPECT_EQ(taken->kind, Kind::kAcquired);
  EXPECT_EQ(taken->epoch, first_epoch + 1);
  EXPECT_EQ(taken->previous_holder, "master1");
  Result<LeaseChange> lost = a.Step();  // its own clock has not reached the deadline
  ASSERT_TRUE(IsOk(lost));
  EXPECT_EQ(lost->kind, Kind::kLost);
}

// The controller advances through its scheduler side's own connection; the
// renews on the lease side's go on with the new epoch, and a scheduler of the
// old one is fenced.
TEST_F(LeaseKeeperOnSqliteTest, AdvanceFencesTheOldEpochAndRenewsGoOn) {
  const Duration ttl = milliseconds(300);
  LeaseKeeper a(*first_, clock_, {"master1", 1, milliseconds(100), ttl});
  Result<LeaseChange> acquired = a.Step();
  ASSERT_TRUE(IsOk(acquired));
  ASSERT_EQ(acquired->kind, Kind::kAcquired);
  Result<int64_t> advanced = a.AdvanceEpoch(*second_);
  ASSERT_TRUE(IsOk(advanced));
  EXPECT_EQ(*advanced, acquired->epoch + 1);

  StoreConfig config;
  config.url = "sqlite://" + (folder_.path() / "baton.db").string();
  auto old_scheduler = OpenStore(config, folder_.path());
  ASSERT_TRUE(IsOk(old_scheduler));
  (*old_scheduler)->SetFencingEpoch(acquired->epoch);
  DagRun run;
  run.dag_id = "etl";
  run.run_id = "run1";
  EXPECT_EQ((*old_scheduler)->CreateDagRun(run, {}).status().code(), Status::Code::kFenced);

  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    clock_.Advance(milliseconds(100));
    Result<LeaseChange> renewed = a.Step();
    ASSERT_TRUE(IsOk(renewed));
    EXPECT_EQ(renewed->kind, Kind::kNone);
  }
  EXPECT_TRUE(a.active());
  EXPECT_EQ(a.epoch(), *advanced);
  auto lease = first_->GetLease();
  ASSERT_TRUE(IsOk(lease));
  EXPECT_EQ(lease->epoch, *advanced);
  EXPECT_GT(lease->remaining, Duration(0));
}

TEST_F(LeaseKeeperOnSqliteTest, RenewsKeepTheLeaseAcrossManyTtls) {
  const Duration ttl = milliseconds(300);
  LeaseKeeper a(*first_, clock_, {"master1", 1, milliseconds(100), ttl});
  LeaseKeeper b(*second_, clock_, {"master2", 2, milliseconds(100), ttl});
  ASSERT_EQ(a.Step()->kind, Kind::kAcquired);
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(milliseconds(100));
    clock_.Advance(milliseconds(100));
    Result<LeaseChange> renewed = a.Step();
    ASSERT_TRUE(IsOk(renewed));
    EXPECT_EQ(renewed->kind, Kind::kNone);
    Result<LeaseChange> waiting = b.Step();
    ASSERT_TRUE(IsOk(waiting));
    EXPECT_EQ(waiting->kind, Kind::kNone);
  }
  EXPECT_TRUE(a.active());
}

}  // namespace
}  // namespace baton
