// Two failover controllers on one real SQLite store, driven step by step: each
// with a fake clock of its own (its lease deadline, the supervisor's waits) and
// fake masters that record commands ("start NODE EPOCH": every start serves an
// epoch of its own). The lease expires by the database's clock, which is real,
// hence the short ttl and the real sleeps where expiry matters.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

#include "failover/failover_controller.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_shell.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using ::baton::testing::FakeClock;
using ::baton::testing::FakeNodeCommands;
using ::baton::testing::FakeNodes;
using ::baton::testing::IsOk;
using ::baton::testing::TempFolder;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const TimePoint kStart = FromEpochMicros(1'800'000'000'000'000);
constexpr Duration kHeartbeat = milliseconds(100);
constexpr Duration kTtl = milliseconds(500);  // by the database's (real) clock
constexpr milliseconds kGuardWait(5000);      // real time for the guard's thread to act

// A FakeClock that the controller's deadline guard may read from its thread
// while the test moves it.
class SharedFakeClock final : public Clock {
 public:
  TimePoint Now() const override {
    std::lock_guard lock(mutex_);
    return clock_.Now();
  }
  std::chrono::nanoseconds Monotonic() const override {
    std::lock_guard lock(mutex_);
    return clock_.Monotonic();
  }
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mutex_);
    clock_.Advance(d);
  }

 private:
  mutable std::mutex mutex_;
  FakeClock clock_{kStart};
};

class RecordingAlerter final : public Alerter {
 public:
  Status Send(const Alert& alert) override {
    std::lock_guard lock(mutex_);
    kinds_.push_back(alert.kind);
    return Status::Ok();
  }
  std::vector<std::string> kinds() const {
    std::lock_guard lock(mutex_);
    return kinds_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> kinds_;
};

FailoverConfig TestConfig() {
  FailoverConfig config;
  config.nodes = {"master1", "master2"};
  config.heartbeat_interval = kHeartbeat;
  config.lease_ttl = kTtl;
  config.poll_frequency = seconds(1);
  config.scheduler_health_threshold = seconds(2);
  config.restart_retries = 1;
  config.retry_wait = milliseconds(500);
  config.ssh_command_timeout = seconds(1);
  return config;
}

// One master's controller: its own store connection, clock and job row.
struct Master {
  std::string node;
  std::unique_ptr<Store> store;
  SharedFakeClock clock;
  int64_t job_id = 0;
  std::unique_ptr<FailoverController> controller;
};

class FailoverControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto setup = Connect();
    ASSERT_TRUE(IsOk(setup));
    store_ = std::move(setup).value();
    ASSERT_TRUE(IsOk(store_->Migrate()));
    for (Master* master : {&master1_, &master2_}) {
      master->node = master == &master1_ ? "master1" : "master2";
      auto store = Connect();
      ASSERT_TRUE(IsOk(store));
      master->store = std::move(store).value();
      JobRecord job;
      job.kind = kControllerJob;
      job.name = master->node;
      job.hostname = master->node;
      job.pid = 100;
      auto job_id = store_->RegisterJob(job);
      ASSERT_TRUE(IsOk(job_id));
      master->job_id = *job_id;
      master->controller = std::make_unique<FailoverController>(
          config_, master->node, master->job_id,
          ControllerServices{*master->store, *master->store, master->clock,
                             [this](const std::string& node) { return nodes_.ShellFor(node); },
                             FakeNodeCommands, alerter_, nullptr});
    }
  }

  Result<std::unique_ptr<Store>> Connect() {
    StoreConfig config;
    config.url = "sqlite://" + (folder_.path() / "baton.db").string();
    return OpenStore(config, folder_.path());
  }

  // Lets `duration` pass on the master's clock one heartbeat at a time, renewing
  // as the daemon would.
  void Pass(Master& master, Duration duration) {
    for (Duration passed(0); passed < duration; passed += kHeartbeat) {
      master.clock.Advance(kHeartbeat);
      master.controller->LeaseTick();
    }
  }

  // A scheduler registers its row on `node` (as `baton scheduler` does) and beats.
  int64_t SchedulerRegisters(const std::string& node) {
    JobRecord job;
    job.kind = kSchedulerJob;
    job.name = node;
    job.hostname = node;
    job.pid = 200;
    auto job_id = store_->RegisterJob(job);
    EXPECT_TRUE(IsOk(job_id));
    return job_id.ok() ? *job_id : 0;
  }

  // The failover history's kinds, oldest first.
  std::vector<std::string> History() {
    auto events = store_->ListFailoverEvents(100);
    EXPECT_TRUE(IsOk(events));
    std::vector<std::string> kinds;
    if (!events.ok()) return kinds;
    for (const FailoverEvent& event : *events) kinds.push_back(event.kind);
    std::reverse(kinds.begin(), kinds.end());
    return kinds;
  }

  // The failover history as (kind, epoch), oldest first.
  std::vector<std::pair<std::string, int64_t>> HistoryWithEpochs() {
    auto events = store_->ListFailoverEvents(100);
    EXPECT_TRUE(IsOk(events));
    std::vector<std::pair<std::string, int64_t>> entries;
    if (!events.ok()) return entries;
    for (const FailoverEvent& event : *events) entries.emplace_back(event.kind, event.epoch);
    std::reverse(entries.begin(), entries.end());
    return entries;
  }

  Lease CurrentLease() {
    auto lease = store_->GetLease();
    EXPECT_TRUE(IsOk(lease));
    return lease.ok() ? *lease : Lease{};
  }

  // One scheduling write by a scheduler started for `epoch` (as `baton
  // scheduler --epoch` fences its store), on a connection of its own.
  Status WriteAsSchedulerOf(int64_t epoch) {
    auto scheduler = Connect();
    if (!scheduler.ok()) return scheduler.status();
    (*scheduler)->SetFencingEpoch(epoch);
    DagRun run;
    run.dag_id = "etl";
    run.run_id = "run" + std::to_string(++runs_);
    run.logical_date = FromEpochMicros(1'794'960'000'000'000) + std::chrono::hours(runs_);
    auto created = (*scheduler)->CreateDagRun(run, {});
    if (!created.ok()) return created.status();
    return *created ? Status::Ok() : Status::Conflict("run " + run.run_id + " exists");
  }

  // Makes master1 active and its scheduler started and healthy.
  void Master1RunsTheScheduler() {
    master1_.controller->LeaseTick();
    ASSERT_TRUE(master1_.controller->active());
    master1_.controller->SchedulerTick();
    ASSERT_THAT(nodes_.Commands(), ElementsAre("master1: start master1 1"));
    SchedulerRegisters("master1");
    Pass(master1_, config_.retry_wait);
    master1_.controller->SchedulerTick();
    nodes_.ClearCommands();
  }

  TempFolder folder_;
  FailoverConfig config_ = TestConfig();
  FakeNodes nodes_;
  RecordingAlerter alerter_;
  std::unique_ptr<Store> store_;  // the test's own look at the store
  int runs_ = 0;
  Master master1_;
  Master master2_;
};

TEST_F(FailoverControllerTest, OneControllerBecomesActiveAndStartsTheSchedulerOnItsNode) {
  master1_.controller->LeaseTick();
  master2_.controller->LeaseTick();
  EXPECT_TRUE(master1_.controller->active());
  EXPECT_EQ(master1_.controller->epoch(), 1);
  EXPECT_FALSE(master2_.controller->active());

  master1_.controller->SchedulerTick();
  master2_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(), ElementsAre("master1: start master1 1"));
  Lease lease = CurrentLease();
  EXPECT_EQ(lease.holder, "master1");
  EXPECT_EQ(lease.epoch, 1);
  EXPECT_EQ(lease.scheduler_node, "master1");
  EXPECT_THAT(History(), ElementsAre(kEventAcquired, kEventSchedulerStarted));
  EXPECT_TRUE(alerter_.kinds().empty());  // a first acquire is no takeover

  // Healthy once its row beats: nothing more to do, on either side.
  SchedulerRegisters("master1");
  Pass(master1_, config_.retry_wait);
  master1_.controller->SchedulerTick();
  master2_.controller->LeaseTick();
  master2_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(), ElementsAre("master1: start master1 1"));
  EXPECT_TRUE(master1_.controller->active());
}

TEST_F(FailoverControllerTest, StandbyTakesOverWithTheNextEpochOnceTheLeaseExpires) {
  Master1RunsTheScheduler();
  // master1 stops renewing (its host froze); the store's clock runs on.
  master2_.controller->LeaseTick();
  EXPECT_FALSE(master2_.controller->active());
  std::this_thread::sleep_for(kTtl + milliseconds(100));
  master2_.controller->LeaseTick();
  ASSERT_TRUE(master2_.controller->active());
  EXPECT_EQ(master2_.controller->epoch(), 2);

  // The old scheduler serves epoch 1 and is fenced: one of epoch 2 starts on
  // master2, then the old one is stopped.
  master2_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(),
              ElementsAre("master2: start master2 2", "master1: stop master1 2"));
  EXPECT_EQ(CurrentLease().scheduler_node, "master2");
  EXPECT_THAT(alerter_.kinds(), ElementsAre(kEventAcquired));

  // master1 wakes up: its renew is refused, it stops acting and, from the
  // guard's thread, stops the scheduler it started on its own node.
  master1_.controller->LeaseTick();
  EXPECT_FALSE(master1_.controller->active());
  EXPECT_TRUE(nodes_.WaitForCommand("master1: stop master1 1", kGuardWait));
  master1_.controller->SchedulerTick();  // does nothing any more
  EXPECT_THAT(History(), ElementsAre(kEventAcquired, kEventSchedulerStarted, kEventAcquired,
                                     kEventSchedulerStarted, kEventLostLease));
}

TEST_F(FailoverControllerTest, AtTheDeadlineTheGuardStopsTheLocalSchedulerWithoutTheLoop) {
  Master1RunsTheScheduler();
  // No LeaseTick returns (a store call hangs) while the monotonic clock reaches
  // the deadline: the guard acts on its own.
  master1_.clock.Advance(kTtl);
  EXPECT_TRUE(nodes_.WaitForCommand("master1: stop master1 1", kGuardWait));
  EXPECT_FALSE(master1_.controller->active());
  EXPECT_FALSE(nodes_.IsRunning("master1"));

  // When the loop comes back it records the loss, hands back the lease the
  // store may still give it, and later competes again for a new epoch.
  master1_.controller->LeaseTick();
  EXPECT_EQ(History().back(), kEventLostLease);
  std::this_thread::sleep_for(kTtl + milliseconds(100));
  for (int i = 0; i < 3 && !master1_.controller->active(); ++i) Pass(master1_, kHeartbeat);
  EXPECT_TRUE(master1_.controller->active());
  EXPECT_EQ(master1_.controller->epoch(), 2);
  master1_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(), ElementsAre("master1: stop master1 1", "master1: stop master1 2",
                                             "master1: start master1 2"));
}

TEST_F(FailoverControllerTest, FailedRestartsMoveTheSchedulerToTheOtherMaster) {
  Master1RunsTheScheduler();
  nodes_.SetRunning("master1", false);  // the scheduler crashed
  nodes_.SetStartFails("master1", true);
  master2_.controller->LeaseTick();  // master2's controller beats: it can take the scheduler
  master1_.controller->SchedulerTick();
  // Each start serves an epoch of its own.
  EXPECT_THAT(nodes_.Commands(),
              ElementsAre("master1: stop master1 1", "master1: start master1 2"));
  EXPECT_EQ(master1_.controller->epoch(), 2);
  nodes_.ClearCommands();

  Pass(master1_, config_.retry_wait);
  master2_.controller->LeaseTick();
  master1_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(),
              ElementsAre("master1: stop master1 2", "master2: start master2 3"));
  EXPECT_EQ(master1_.controller->epoch(), 3);
  Lease lease = CurrentLease();
  EXPECT_EQ(lease.holder, "master1");
  EXPECT_EQ(lease.epoch, 3);
  EXPECT_EQ(lease.scheduler_node, "master2");
  EXPECT_THAT(alerter_.kinds(), ElementsAre(kEventMoved));
  using Event = std::pair<std::string, int64_t>;
  EXPECT_THAT(HistoryWithEpochs(),
              ElementsAre(Event(kEventAcquired, 1), Event(kEventSchedulerStarted, 1),
                          Event(kEventSchedulerUnhealthy, 1), Event(kEventSchedulerRestarted, 2),
                          Event(kEventSchedulerUnhealthy, 2), Event(kEventMoved, 3)));
  // A scheduler left on master1 (its stop did not reach it) is fenced.
  EXPECT_EQ(WriteAsSchedulerOf(2).code(), Status::Code::kFenced);
  EXPECT_TRUE(IsOk(WriteAsSchedulerOf(3)));

  // The scheduler now runs elsewhere: a lost lease stops nothing locally.
  nodes_.ClearCommands();
  master1_.clock.Advance(kTtl);
  for (int i = 0; i < 100 && master1_.controller->active(); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_FALSE(master1_.controller->active());
  EXPECT_FALSE(nodes_.WaitForCommand("master1: stop master1 3", milliseconds(300)));
  EXPECT_THAT(nodes_.Commands(), IsEmpty());
}

TEST_F(FailoverControllerTest, RestartInPlaceServesTheNextEpochAndFencesTheOldScheduler) {
  Master1RunsTheScheduler();
  EXPECT_TRUE(IsOk(WriteAsSchedulerOf(1)));
  // Its check fails: crashed, or hung (SIGSTOP) so that it may come back.
  nodes_.SetRunning("master1", false);
  master1_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(),
              ElementsAre("master1: stop master1 1", "master1: start master1 2"));
  EXPECT_EQ(master1_.controller->epoch(), 2);
  Lease lease = CurrentLease();
  EXPECT_EQ(lease.holder, "master1");
  EXPECT_EQ(lease.holder_job_id, master1_.job_id);
  EXPECT_EQ(lease.epoch, 2);
  EXPECT_EQ(lease.scheduler_node, "master1");
  using Event = std::pair<std::string, int64_t>;
  EXPECT_THAT(HistoryWithEpochs(),
              ElementsAre(Event(kEventAcquired, 1), Event(kEventSchedulerStarted, 1),
                          Event(kEventSchedulerUnhealthy, 1), Event(kEventSchedulerRestarted, 2)));
  // The old scheduler coming back writes nothing; the new one does.
  Status refused = WriteAsSchedulerOf(1);
  EXPECT_EQ(refused.code(), Status::Code::kFenced) << refused.message();
  EXPECT_TRUE(IsOk(WriteAsSchedulerOf(2)));

  // Renews carry on with epoch 2 well past one ttl of the database's clock,
  // and the standby keeps out.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(kTtl / 3);
    Pass(master1_, kHeartbeat);
    master2_.controller->LeaseTick();
  }
  EXPECT_TRUE(master1_.controller->active());
  EXPECT_FALSE(master2_.controller->active());
  EXPECT_EQ(CurrentLease().epoch, 2);
  EXPECT_GT(CurrentLease().remaining, Duration(0));
  EXPECT_EQ(History().back(), kEventSchedulerRestarted);

  // At the deadline the guard stops the local scheduler it started, by its epoch.
  nodes_.ClearCommands();
  master1_.clock.Advance(kTtl);
  EXPECT_TRUE(nodes_.WaitForCommand("master1: stop master1 2", kGuardWait));
}

// The daemon renews on one thread while the other restarts the scheduler: a
// renew never carries an epoch that an advance has just replaced, so the lease
// is never lost for it.
TEST_F(FailoverControllerTest, RenewsAndEpochAdvancesOnTwoThreadsKeepTheLease) {
  ASSERT_TRUE(IsOk(store_->EndJob(master2_.job_id)));  // every restart stays on master1
  auto lease_store = Connect();
  auto scheduler_store = Connect();
  ASSERT_TRUE(IsOk(lease_store));
  ASSERT_TRUE(IsOk(scheduler_store));
  SharedFakeClock clock;
  FailoverController controller(
      config_, "master1", master1_.job_id,
      ControllerServices{**lease_store, **scheduler_store, clock,
                         [this](const std::string& node) { return nodes_.ShellFor(node); },
                         FakeNodeCommands, alerter_, nullptr});
  controller.LeaseTick();
  ASSERT_TRUE(controller.active());

  std::atomic<bool> done = false;
  std::thread lease_side([&] {
    while (!done) {
      clock.Advance(kHeartbeat);
      controller.LeaseTick();
    }
  });
  constexpr int64_t kStarts = 40;
  const auto give_up = std::chrono::steady_clock::now() + seconds(30);
  while (controller.active() && controller.epoch() < kStarts &&
         std::chrono::steady_clock::now() < give_up) {
    nodes_.SetRunning("master1", false);  // never healthy: restarted at every judgement
    controller.SchedulerTick();
  }
  done = true;
  lease_side.join();

  EXPECT_TRUE(controller.active());
  EXPECT_GE(controller.epoch(), kStarts);
  const std::vector<std::string> history = History();
  EXPECT_EQ(std::count(history.begin(), history.end(), kEventLostLease), 0);
  EXPECT_EQ(std::count(history.begin(), history.end(), kEventFenced), 0);
  EXPECT_EQ(CurrentLease().epoch, controller.epoch());
  const std::vector<std::string> commands = nodes_.Commands();
  ASSERT_FALSE(commands.empty());
  EXPECT_EQ(commands.back(), "master1: start master1 " + std::to_string(controller.epoch()));
}

TEST_F(FailoverControllerTest, WithNoOtherLiveControllerTheMoveFailsAndAlertsOnce) {
  Master1RunsTheScheduler();
  ASSERT_TRUE(IsOk(store_->EndJob(master2_.job_id)));  // master2's controller is gone
  nodes_.SetRunning("master1", false);
  nodes_.SetStartFails("master1", true);
  master1_.controller->SchedulerTick();  // restart 1 of 1
  for (int i = 0; i < 2; ++i) {
    Pass(master1_, config_.retry_wait);
    master1_.controller->SchedulerTick();
  }
  EXPECT_THAT(alerter_.kinds(), ElementsAre(kEventMoveFailed));
  std::vector<std::string> history = History();
  EXPECT_EQ(std::count(history.begin(), history.end(), kEventMoveFailed), 2);
  // A restart, then two failed moves: each start with an epoch of its own.
  EXPECT_EQ(nodes_.Commands().back(), "master1: start master1 4");
  EXPECT_EQ(CurrentLease().epoch, 4);
}

TEST_F(FailoverControllerTest, SwitchoverHandsTheLeaseToTheTarget) {
  Master1RunsTheScheduler();
  ASSERT_TRUE(IsOk(store_->SetPromoteTo("master2")));
  master2_.controller->LeaseTick();
  master1_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(), ElementsAre("master1: stop master1 1"));
  master1_.controller->LeaseTick();  // releases
  EXPECT_FALSE(master1_.controller->active());
  master1_.controller->LeaseTick();  // the target's claim keeps it out
  EXPECT_FALSE(master1_.controller->active());

  master2_.controller->LeaseTick();
  ASSERT_TRUE(master2_.controller->active());
  EXPECT_EQ(master2_.controller->epoch(), 2);
  master2_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(), ElementsAre("master1: stop master1 1", "master2: start master2 2",
                                             "master1: stop master1 2"));
  EXPECT_TRUE(alerter_.kinds().empty());  // planned
  EXPECT_THAT(History(), ElementsAre(kEventAcquired, kEventSchedulerStarted, kEventPromote,
                                     kEventReleased, kEventAcquired, kEventSchedulerStarted));
}

TEST_F(FailoverControllerTest, MaintenanceKeepsTheLeaseAndTouchesNothing) {
  ASSERT_TRUE(IsOk(store_->SetMaintenance(true)));
  master1_.controller->LeaseTick();
  master1_.controller->SchedulerTick();
  Pass(master1_, seconds(1));
  master1_.controller->SchedulerTick();
  EXPECT_TRUE(nodes_.Commands().empty());
  EXPECT_TRUE(master1_.controller->active());

  ASSERT_TRUE(IsOk(store_->SetMaintenance(false)));
  master1_.controller->SchedulerTick();
  master1_.controller->SchedulerTick();
  EXPECT_THAT(nodes_.Commands(), ElementsAre("master1: start master1 1"));
  EXPECT_THAT(History(), ElementsAre(kEventAcquired, kEventMaintenance, kEventMaintenance,
                                     kEventSchedulerStarted));
}

TEST_F(FailoverControllerTest, GracefulStopReleasesTheLeaseAndLeavesTheSchedulerRunning) {
  Master1RunsTheScheduler();
  master1_.controller->Shutdown();
  EXPECT_FALSE(master1_.controller->active());
  master2_.controller->LeaseTick();  // at once, no expiry to wait for
  EXPECT_TRUE(master2_.controller->active());
  EXPECT_EQ(History().back(), kEventAcquired);
  // The guard was disarmed: nothing stops master1's scheduler but its successor.
  master1_.clock.Advance(kTtl);
  EXPECT_FALSE(nodes_.WaitForCommand("master1: stop master1 1", milliseconds(300)));
  EXPECT_TRUE(nodes_.IsRunning("master1"));
}

}  // namespace
}  // namespace baton
