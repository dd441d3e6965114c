// The supervisor's decisions about the scheduler, poll by poll: pure logic,
// observations written by hand, time given as the monotonic clock's reading.
#include "failover/scheduler_supervisor.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

using std::chrono::seconds;
using Kind = SupervisorDecision::Kind;

const std::vector<std::string> kNodes = {"master1", "master2", "master3"};

SchedulerCommand Stop(const std::string& node) { return {SchedulerCommand::Kind::kStop, node}; }
SchedulerCommand Start(const std::string& node) { return {SchedulerCommand::Kind::kStart, node}; }

class SchedulerSupervisorTest : public ::testing::Test {
 protected:
  SchedulerSupervisor Supervisor(const std::string& node = "master1", int restart_retries = 2) {
    return SchedulerSupervisor(
        SupervisorSettings{node, kNodes, seconds(30), restart_retries, seconds(5)});
  }

  // A poll at `at` seconds with every master's controller alive.
  SupervisorPoll At(int at, ProcessState process = ProcessState::kNotRunning) {
    SupervisorPoll poll;
    poll.now = seconds(at);
    poll.process = process;
    poll.live_nodes = {kNodes.begin(), kNodes.end()};
    poll.schedulers = rows_;
    return poll;
  }

  // A scheduler registers on `node` (a new job row) and beats.
  void Registers(const std::string& node) {
    rows_[node].newest_job_id = ++last_job_id_;
    rows_[node].newest_fresh_job_id = last_job_id_;
  }
  // Its heartbeats stop being fresh.
  void GoesStale(const std::string& node) { rows_[node].newest_fresh_job_id = 0; }

  // Starts the first scheduler of an epoch on master1 at `at` and sees it healthy.
  void StartHealthy(SchedulerSupervisor& supervisor, int at = 0) {
    supervisor.BeginEpoch("");
    ASSERT_EQ(supervisor.Decide(At(at)).kind, Kind::kStart);
    supervisor.OnStartResult(true);
    Registers(supervisor.node());
    ASSERT_EQ(supervisor.Decide(At(at + 5, ProcessState::kRunning)).kind, Kind::kHealthy);
  }

  std::map<std::string, NodeSchedulerRows> rows_;
  int64_t last_job_id_ = 10;
};

TEST_F(SchedulerSupervisorTest, NothingToDecideWithoutAnEpoch) {
  SchedulerSupervisor supervisor = Supervisor();
  EXPECT_EQ(supervisor.Decide(At(0)).kind, Kind::kNothing);
  EXPECT_EQ(supervisor.node(), "");
}

TEST_F(SchedulerSupervisorTest, FirstEpochStartsTheSchedulerHere) {
  SchedulerSupervisor supervisor = Supervisor();
  supervisor.BeginEpoch("");
  SupervisorDecision decision = supervisor.Decide(At(0));
  EXPECT_EQ(decision.kind, Kind::kStart);
  EXPECT_EQ(decision.commands, std::vector<SchedulerCommand>{Start("master1")});
  EXPECT_EQ(supervisor.node(), "master1");
}

TEST_F(SchedulerSupervisorTest, TakeoverReplacesTheFencedSchedulerThatRanHere) {
  SchedulerSupervisor supervisor = Supervisor();
  Registers("master1");  // healthy, but serving the previous epoch
  supervisor.BeginEpoch("master1");
  SupervisorDecision decision = supervisor.Decide(At(0, ProcessState::kRunning));
  EXPECT_EQ(decision.kind, Kind::kStart);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master1"), Start("master1")}));
}

TEST_F(SchedulerSupervisorTest, TakeoverStartsHereFirstThenStopsTheOldOneElsewhere) {
  SchedulerSupervisor supervisor = Supervisor();
  Registers("master2");
  supervisor.BeginEpoch("master2");
  SupervisorDecision decision = supervisor.Decide(At(0));
  EXPECT_EQ(decision.kind, Kind::kStart);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Start("master1"), Stop("master2")}));
  EXPECT_EQ(supervisor.node(), "master1");
}

TEST_F(SchedulerSupervisorTest, HealthySchedulerIsReportedOnceThenLeftAlone) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  for (int at = 10; at <= 100; at += 10) {
    EXPECT_EQ(supervisor.Decide(At(at, ProcessState::kRunning)).kind, Kind::kNothing);
  }
}

TEST_F(SchedulerSupervisorTest, FreshlyStartedSchedulerGetsItsGracePeriod) {
  SchedulerSupervisor supervisor = Supervisor();
  supervisor.BeginEpoch("");
  ASSERT_EQ(supervisor.Decide(At(0)).kind, Kind::kStart);
  supervisor.OnStartResult(true);
  // Its process runs but it has not beaten yet.
  EXPECT_EQ(supervisor.Decide(At(10, ProcessState::kRunning)).kind, Kind::kNothing);
  EXPECT_EQ(supervisor.Decide(At(29, ProcessState::kRunning)).kind, Kind::kNothing);
  SupervisorDecision decision = supervisor.Decide(At(30, ProcessState::kRunning));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_NE(decision.message.find("no heartbeat within 30s of its start"), std::string::npos)
      << decision.message;
}

TEST_F(SchedulerSupervisorTest, AHeartbeatOfAnEarlierLifeDoesNotCount) {
  SchedulerSupervisor supervisor = Supervisor();
  Registers("master1");  // an earlier life whose row is still fresh
  supervisor.BeginEpoch("master1");
  ASSERT_EQ(supervisor.Decide(At(0, ProcessState::kRunning)).kind, Kind::kStart);
  supervisor.OnStartResult(true);
  EXPECT_EQ(supervisor.Decide(At(10, ProcessState::kRunning)).kind, Kind::kNothing);
  EXPECT_EQ(supervisor.Decide(At(30, ProcessState::kRunning)).kind, Kind::kRestart);
}

TEST_F(SchedulerSupervisorTest, NothingIsJudgedWithinRetryWaitOfAStart) {
  SchedulerSupervisor supervisor = Supervisor();
  supervisor.BeginEpoch("");
  ASSERT_EQ(supervisor.Decide(At(0)).kind, Kind::kStart);
  supervisor.OnStartResult(true);
  EXPECT_EQ(supervisor.Decide(At(4, ProcessState::kNotRunning)).kind, Kind::kNothing);
  // Past retry_wait, a process that is gone gets no grace.
  SupervisorDecision decision = supervisor.Decide(At(5, ProcessState::kNotRunning));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master1"), Start("master1")}));
  EXPECT_NE(decision.message.find("not running"), std::string::npos) << decision.message;
}

TEST_F(SchedulerSupervisorTest, AFailedStartCommandGetsNoGrace) {
  SchedulerSupervisor supervisor = Supervisor();
  supervisor.BeginEpoch("");
  ASSERT_EQ(supervisor.Decide(At(0)).kind, Kind::kStart);
  supervisor.OnStartResult(false);
  SupervisorDecision decision = supervisor.Decide(At(5, ProcessState::kRunning));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_NE(decision.message.find("start command failed"), std::string::npos) << decision.message;
}

TEST_F(SchedulerSupervisorTest, UnhealthySchedulerIsRestartedWhereItRuns) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  GoesStale("master1");
  SupervisorDecision decision = supervisor.Decide(At(40, ProcessState::kRunning));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master1"), Start("master1")}));
  EXPECT_NE(decision.message.find("restart 1 of 2"), std::string::npos) << decision.message;
  EXPECT_FALSE(decision.alert);
}

TEST_F(SchedulerSupervisorTest, RecoveryResetsTheCountOfRestarts) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  GoesStale("master1");
  ASSERT_EQ(supervisor.Decide(At(40, ProcessState::kNotRunning)).kind, Kind::kRestart);
  Registers("master1");
  ASSERT_EQ(supervisor.Decide(At(50, ProcessState::kRunning)).kind, Kind::kHealthy);
  GoesStale("master1");
  SupervisorDecision decision = supervisor.Decide(At(60, ProcessState::kNotRunning));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_NE(decision.message.find("restart 1 of 2"), std::string::npos) << decision.message;
}

TEST_F(SchedulerSupervisorTest, ExhaustedRestartsMoveItToTheNextMasterInOrder) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  GoesStale("master1");
  EXPECT_EQ(supervisor.Decide(At(40, ProcessState::kNotRunning)).kind, Kind::kRestart);
  EXPECT_EQ(supervisor.Decide(At(50, ProcessState::kNotRunning)).kind, Kind::kRestart);
  SupervisorDecision decision = supervisor.Decide(At(60, ProcessState::kNotRunning));
  EXPECT_EQ(decision.kind, Kind::kMove);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master1"), Start("master2")}));
  EXPECT_TRUE(decision.alert);
  EXPECT_EQ(supervisor.node(), "master2");
  // On its new node it gets the grace of a fresh start and a fresh count.
  supervisor.OnStartResult(true);
  EXPECT_EQ(supervisor.Decide(At(70, ProcessState::kRunning)).kind, Kind::kNothing);
  Registers("master2");
  EXPECT_EQ(supervisor.Decide(At(80, ProcessState::kRunning)).kind, Kind::kHealthy);
}

TEST_F(SchedulerSupervisorTest, ZeroRetriesMoveAtTheFirstFailure) {
  SchedulerSupervisor supervisor = Supervisor("master1", 0);
  StartHealthy(supervisor);
  GoesStale("master1");
  EXPECT_EQ(supervisor.Decide(At(40, ProcessState::kNotRunning)).kind, Kind::kMove);
}

TEST_F(SchedulerSupervisorTest, MoveSkipsMastersWhoseControllerIsDead) {
  SchedulerSupervisor supervisor = Supervisor("master1", 0);
  StartHealthy(supervisor);
  GoesStale("master1");
  SupervisorPoll poll = At(40, ProcessState::kNotRunning);
  poll.live_nodes = {"master1", "master3"};
  SupervisorDecision decision = supervisor.Decide(poll);
  EXPECT_EQ(decision.kind, Kind::kMove);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master1"), Start("master3")}));
}

TEST_F(SchedulerSupervisorTest, MoveWrapsAroundTheListOfMasters) {
  SchedulerSupervisor supervisor = Supervisor("master3", 0);
  StartHealthy(supervisor);
  ASSERT_EQ(supervisor.node(), "master3");
  GoesStale("master3");
  SupervisorDecision decision = supervisor.Decide(At(40, ProcessState::kNotRunning));
  EXPECT_EQ(decision.kind, Kind::kMove);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master3"), Start("master1")}));
}

TEST_F(SchedulerSupervisorTest, WithNoLiveMasterToTakeItTheMoveFailsAlertsOnceAndRetries) {
  SchedulerSupervisor supervisor = Supervisor("master1", 0);
  StartHealthy(supervisor);
  GoesStale("master1");
  SupervisorPoll alone = At(40, ProcessState::kNotRunning);
  alone.live_nodes = {"master1"};
  SupervisorDecision decision = supervisor.Decide(alone);
  EXPECT_EQ(decision.kind, Kind::kMoveFailed);
  EXPECT_TRUE(decision.alert);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Stop("master1"), Start("master1")}));
  supervisor.OnStartResult(false);

  alone.now = seconds(50);
  decision = supervisor.Decide(alone);
  EXPECT_EQ(decision.kind, Kind::kMoveFailed);
  EXPECT_FALSE(decision.alert);  // one alert per outage
  supervisor.OnStartResult(false);

  // A master comes back: the next failure moves it there.
  SupervisorPoll back = At(60, ProcessState::kNotRunning);
  back.live_nodes = {"master1", "master2"};
  decision = supervisor.Decide(back);
  EXPECT_EQ(decision.kind, Kind::kMove);
  EXPECT_EQ(supervisor.node(), "master2");
}

TEST_F(SchedulerSupervisorTest, AnUnreachableNodeWhoseSchedulerBeatsIsHealthy) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  EXPECT_EQ(supervisor.Decide(At(40, ProcessState::kUnreachable)).kind, Kind::kNothing);
  GoesStale("master1");
  SupervisorDecision decision = supervisor.Decide(At(50, ProcessState::kUnreachable));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_NE(decision.message.find("cannot be reached"), std::string::npos) << decision.message;
}

TEST_F(SchedulerSupervisorTest, MaintenanceLeavesTheSchedulerAloneUntilItEnds) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  GoesStale("master1");
  SupervisorPoll poll = At(40, ProcessState::kNotRunning);
  poll.maintenance = true;
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kMaintenanceOn);
  for (int at = 50; at < 200; at += 10) {
    poll.now = seconds(at);
    EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kNothing);
  }
  EXPECT_EQ(supervisor.Decide(At(200, ProcessState::kRunning)).kind, Kind::kMaintenanceOff);
  // Whatever the operator started meanwhile gets the grace of a fresh start.
  EXPECT_EQ(supervisor.Decide(At(210, ProcessState::kRunning)).kind, Kind::kNothing);
  SupervisorDecision decision = supervisor.Decide(At(230, ProcessState::kRunning));
  EXPECT_EQ(decision.kind, Kind::kRestart);
  EXPECT_NE(decision.message.find("restart 1 of 2"), std::string::npos) << decision.message;
}

TEST_F(SchedulerSupervisorTest, ATakeoverDuringMaintenanceStartsWhenItEnds) {
  SchedulerSupervisor supervisor = Supervisor();
  supervisor.BeginEpoch("master2");
  SupervisorPoll poll = At(0);
  poll.maintenance = true;
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kMaintenanceOn);
  poll.now = seconds(10);
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kNothing);
  EXPECT_EQ(supervisor.Decide(At(20)).kind, Kind::kMaintenanceOff);
  SupervisorDecision decision = supervisor.Decide(At(30));
  EXPECT_EQ(decision.kind, Kind::kStart);
  EXPECT_EQ(decision.commands, (std::vector<SchedulerCommand>{Start("master1"), Stop("master2")}));
}

TEST_F(SchedulerSupervisorTest, PromoteStopsTheSchedulerAndThenDecidesNothing) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  SupervisorPoll poll = At(40, ProcessState::kRunning);
  poll.promote_to = "master2";
  SupervisorDecision decision = supervisor.Decide(poll);
  EXPECT_EQ(decision.kind, Kind::kPromote);
  EXPECT_EQ(decision.commands, std::vector<SchedulerCommand>{Stop("master1")});
  EXPECT_EQ(supervisor.node(), "");
  // Until the lease is released and the supervisor reset, hands off.
  GoesStale("master1");
  EXPECT_EQ(supervisor.Decide(At(50, ProcessState::kNotRunning)).kind, Kind::kNothing);
  supervisor.Reset();
  EXPECT_EQ(supervisor.Decide(At(60)).kind, Kind::kNothing);
}

TEST_F(SchedulerSupervisorTest, PromoteToADeadControllerOrToThisNodeIsRefused) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  SupervisorPoll poll = At(40, ProcessState::kRunning);
  poll.promote_to = "master3";
  poll.live_nodes = {"master1", "master2"};
  SupervisorDecision decision = supervisor.Decide(poll);
  EXPECT_EQ(decision.kind, Kind::kPromoteRefused);
  EXPECT_TRUE(decision.commands.empty());
  poll.promote_to = "master1";
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kPromoteRefused);
  EXPECT_EQ(supervisor.node(), "master1");
  poll.promote_to.clear();
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kNothing);
}

TEST_F(SchedulerSupervisorTest, MaintenanceWinsOverASwitchover) {
  SchedulerSupervisor supervisor = Supervisor();
  StartHealthy(supervisor);
  SupervisorPoll poll = At(40, ProcessState::kRunning);
  poll.maintenance = true;
  poll.promote_to = "master2";
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kMaintenanceOn);
  poll.now = seconds(50);
  EXPECT_EQ(supervisor.Decide(poll).kind, Kind::kNothing);
}

}  // namespace
}  // namespace baton
