// SchedulerSupervisor: what the active controller does about the scheduler at
// each poll (start, restart, move, stand aside for maintenance or a
// switchover), decided from what the controller observed. Pure logic: the
// controller runs the commands and reports how the start went.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/time.h"

namespace baton {

// The scheduler's process on a node, per the node's check command.
enum class ProcessState { kRunning, kNotRunning, kUnreachable };

// The scheduler job rows named after one node, as the store lists them.
struct NodeSchedulerRows {
  int64_t newest_job_id = 0;  // the newest running row; 0: none
  // The newest whose heartbeat is younger than scheduler_health_threshold; 0: none.
  int64_t newest_fresh_job_id = 0;
};

// One poll's observations.
struct SupervisorPoll {
  std::chrono::nanoseconds now{0};   // Clock::Monotonic()
  bool maintenance = false;          // from the lease row
  std::string promote_to;            // from the lease row; empty: no switchover
  std::set<std::string> live_nodes;  // nodes whose controller beats, this one included
  std::map<std::string, NodeSchedulerRows> schedulers;  // by node
  // The check on node()'s scheduler; not looked at while node() is empty.
  ProcessState process = ProcessState::kUnreachable;
};

// One command the controller runs on a node, in the order given.
struct SchedulerCommand {
  enum class Kind { kStop, kStart };
  Kind kind = Kind::kStop;
  std::string node;
  bool operator==(const SchedulerCommand&) const = default;
};

struct SupervisorDecision {
  enum class Kind {
    kNothing,
    kHealthy,         // the scheduler just proved healthy (first fresh beat, or recovered)
    kStart,           // a new epoch: start the scheduler that serves it
    kRestart,         // unhealthy: restart it where it runs
    kMove,            // restarts there kept failing: move it to the next live master
    kMoveFailed,      // the same, but no other master has a live controller: restart in place
    kPromote,         // a switchover: stop the scheduler, then release the lease
    kPromoteRefused,  // a switchover to this node or to one without a live controller
    kMaintenanceOn,   // from now on, hands off until maintenance ends
    kMaintenanceOff,
  };
  Kind kind = Kind::kNothing;
  std::vector<SchedulerCommand> commands;
  std::string message;  // for the log, the failover history and alerts
  bool alert = false;   // worth an alert (a move, or the first failed move of an outage)
};

struct SupervisorSettings {
  std::string node;                // this controller's node
  std::vector<std::string> nodes;  // [failover] nodes: the order a move follows
  Duration health_threshold = std::chrono::seconds(30);
  int restart_retries = 3;
  Duration retry_wait = std::chrono::seconds(5);
};

// Keeps one healthy scheduler serving this controller's epoch.
//
// Takeover: a scheduler already running serves an older epoch, which the store
// fences, so it cannot be adopted. A new epoch always starts a scheduler of its
// own on this controller's node (stopping the old one first when it ran here,
// so a `systemctl start` cannot be a no-op, and afterwards elsewhere, so a dead
// host does not delay the start).
//
// Health: the scheduler is healthy when a job row named after its node,
// registered after the latest start (a higher job id than the newest row seen
// at that start), has a fresh heartbeat, and its process is not known to be
// down. A freshly started scheduler gets health_threshold to beat for the
// first time, and nothing is judged within retry_wait of a start. An unhealthy
// scheduler is restarted in place up to restart_retries times; then it moves to
// the next master in [failover] nodes (after the current one, wrapping) whose
// controller is alive; with none, it is restarted in place and the move is
// tried again at the next failure.
class SchedulerSupervisor {
 public:
  explicit SchedulerSupervisor(SupervisorSettings settings);

  // This controller begins an epoch; `previous_node` is where the previous
  // epoch's scheduler ran (the lease's scheduler_node; empty: none).
  void BeginEpoch(const std::string& previous_node);
  // The lease is gone (lost or released): nothing more to decide.
  void Reset();

  SupervisorDecision Decide(const SupervisorPoll& poll);
  // How the start command of the latest decision ended.
  void OnStartResult(bool started);

  // Where this epoch's scheduler runs or is being started; empty: none yet.
  const std::string& node() const { return node_; }

 private:
  enum class Phase { kIdle, kTakeover, kStarting, kHealthy, kPromoting };

  SupervisorDecision TakeOver(const SupervisorPoll& poll);
  SupervisorDecision Judge(const SupervisorPoll& poll);
  std::string Unhealthiness(const SupervisorPoll& poll) const;
  // The next master after node_ in [failover] nodes, wrapping, whose controller
  // is alive; empty when there is none.
  std::string NextLiveNode(const std::set<std::string>& live_nodes) const;
  void StartingOn(const std::string& node, const SupervisorPoll& poll);

  const SupervisorSettings settings_;
  Phase phase_ = Phase::kIdle;
  bool in_maintenance_ = false;
  std::string previous_node_;  // kTakeover only
  std::string node_;
  int restarts_ = 0;  // restarts on node_ since it was last healthy
  bool move_failed_alerted_ = false;
  std::chrono::nanoseconds started_at_{0};
  std::chrono::nanoseconds judge_after_{0};
  bool start_failed_ = false;
  int64_t baseline_job_id_ = 0;  // node_'s newest row when the latest start was decided
};

}  // namespace baton
