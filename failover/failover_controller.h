// FailoverController: one master's failover controller as a set of steps that
// the daemon (failover/controller.cc) calls from its threads and a unit test
// calls by hand: LeaseTick holds or waits for the lease and beats the
// controller's row, SchedulerTick keeps the scheduler healthy while this
// controller is active, and a deadline guard stops acting on its own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/clock.h"
#include "config/config.h"
#include "engine/store.h"
#include "failover/alerts.h"
#include "failover/deadline_guard.h"
#include "failover/lease_keeper.h"
#include "failover/node_commands.h"
#include "failover/node_shell.h"
#include "failover/scheduler_supervisor.h"

namespace baton {

// What the controller reaches the world through.
struct ControllerServices {
  Store& lease_store;      // LeaseTick's and Shutdown's
  Store& scheduler_store;  // SchedulerTick's; may be lease_store when both run on one thread
  const Clock& clock;
  // A shell for a node; called once per node by SchedulerTick's thread and once
  // for this controller's own node at construction (the guard's own shell).
  std::function<std::unique_ptr<NodeShell>(const std::string& node)> shell_for;
  // The start, stop and check commands of a node for an epoch (CommandsFor).
  std::function<NodeCommands(const std::string& node, int64_t epoch)> commands_for;
  Alerter& alerter;
  // Called when the lease is acquired, so the daemon runs SchedulerTick at once
  // rather than at the next poll. May be empty.
  std::function<void()> on_acquired;
};

// Guarantees, for one controller process (job `job_id` on node `node`):
// - it acts on the scheduler only while it holds the lease and its deadline
//   (LeaseKeeper) has not passed; between commands it checks again;
// - at the deadline, or as soon as the store says the lease is gone, it runs
//   the local stop command for a scheduler it started on its own node, from the
//   guard's thread, even while LeaseTick or SchedulerTick hang in a call;
// - every scheduler it starts serves an epoch of its own: the first start
//   after an acquire takes the acquired epoch, every later one (a restart in
//   place, a move) first moves the lease to the next epoch, so that a scheduler
//   started before, even one that was only hung or cut off and comes back, is
//   fenced;
// - every decision is logged and recorded in the failover history.
//
// LeaseTick and SchedulerTick may run on two threads (the daemon does so, so a
// slow SSH command never delays a renew), each with its own Store.
class FailoverController {
 public:
  FailoverController(const FailoverConfig& config, std::string node, int64_t job_id,
                     ControllerServices services);
  ~FailoverController();
  FailoverController(const FailoverController&) = delete;
  FailoverController& operator=(const FailoverController&) = delete;

  // Every heartbeat_interval: renews or acquires the lease, then beats the
  // controller's row. The renew goes first, so a slow beat never delays it.
  // Returns the wait until the next call: heartbeat_interval, or less when a
  // standby saw the lease expire sooner (it tries again right after).
  Duration LeaseTick();
  // Every poll_frequency, and at once after an acquire: while active, observes
  // the scheduler and carries out the supervisor's decision.
  void SchedulerTick();
  // On the way out, once neither tick runs any more: releases a lease held, so
  // a standby takes over at its next try, and leaves the scheduler running
  // until the new holder replaces it with one of its own epoch.
  void Shutdown();

  // Holds the lease, and its deadline has not passed.
  bool active() const;
  int64_t epoch() const;

 private:
  struct Takeover {
    int64_t epoch = 0;
    std::string previous_holder;
    bool planned = false;
  };

  // Lease side (LeaseTick's thread).
  void StepLease();
  void OnAcquired(const LeaseChange& change);
  // After a renew: acts for the epoch the keeper holds, which differs only once
  // a move to a new epoch whose answer was lost turned out to have applied.
  void FollowKeeperEpoch();
  void OnLost(const std::string& message, int64_t epoch);
  void ReleaseForSwitchover(int64_t epoch);
  void BeatRow();

  // Scheduler side (SchedulerTick's thread).
  Result<SupervisorPoll> Observe(const Lease& lease);
  ProcessState CheckProcess(const std::string& node, int64_t epoch);
  void Carry(const SupervisorDecision& decision, int64_t epoch);
  // Runs the decision's commands in order while still active; returns what
  // happened. When they start a scheduler and `*epoch` has already served a
  // start, first moves the lease to a new epoch, which `*epoch` then names: the
  // start serves it, a stop names the epoch the stopped scheduler was started
  // with.
  std::string RunCommands(const std::vector<SchedulerCommand>& commands, int64_t* epoch);
  // Moves the lease to the next epoch (LeaseKeeper::AdvanceEpoch) and makes it
  // the one this controller acts for. Fenced when it may no longer act.
  Result<int64_t> AdvanceEpoch();
  Result<CommandOutcome> RunOn(const std::string& node, const std::string& command);
  void FencedWhileActive(int64_t epoch, const std::string& message);

  // Deadline side (the guard's thread).
  void OnDeadline();

  bool StillActive(int64_t epoch) const;
  void Record(Store& store, const char* kind, int64_t epoch, const std::string& message);
  void Alert(const char* kind, int64_t epoch, const std::string& subject,
             const std::string& message);

  const FailoverConfig config_;
  const std::string node_;
  const int64_t job_id_;
  ControllerServices services_;
  // Serializes the keeper's calls, which come from LeaseTick's thread (acquire,
  // renew, release) and SchedulerTick's (advancing the epoch), so that a renew
  // never carries an epoch that an advance is replacing. Held across store
  // calls, hence never taken by the guard's thread; taken before mutex_, never
  // while holding it.
  std::mutex keeper_mutex_;
  LeaseKeeper keeper_;                                        // under keeper_mutex_
  SchedulerSupervisor supervisor_;                            // SchedulerTick's thread
  std::map<std::string, std::unique_ptr<NodeShell>> shells_;  // SchedulerTick's thread
  // SchedulerTick's thread: the epoch of the latest scheduler start; an epoch
  // serves one start at most.
  int64_t started_epoch_ = 0;
  std::unique_ptr<NodeShell> local_shell_;  // the guard's thread
  bool lease_store_failing_ = false;        // LeaseTick's thread: log a change, not every failure
  bool row_beat_failing_ = false;

  mutable std::mutex mutex_;
  bool acting_ = false;               // holds the lease, deadline not passed
  int64_t epoch_ = 0;                 // the epoch acted for: the keeper's, once acting
  std::optional<Takeover> takeover_;  // an acquire SchedulerTick has not taken in yet
  int64_t release_requested_ = 0;     // an epoch to release at the next LeaseTick (switchover)
  // The epoch of a scheduler this controller started on its own node and has
  // not stopped since; 0: none. The guard stops it on loss.
  int64_t local_scheduler_epoch_ = 0;

  DeadlineGuard guard_;  // last: its thread calls into the members above
};

}  // namespace baton
