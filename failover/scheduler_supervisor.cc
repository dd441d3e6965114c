#include "failover/scheduler_supervisor.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace baton {
namespace {

using Kind = SupervisorDecision::Kind;

SchedulerCommand Stop(const std::string& node) { return {SchedulerCommand::Kind::kStop, node}; }
SchedulerCommand Start(const std::string& node) { return {SchedulerCommand::Kind::kStart, node}; }

SupervisorDecision Decision(Kind kind, std::string message,
                            std::vector<SchedulerCommand> commands = {}) {
  SupervisorDecision decision;
  decision.kind = kind;
  decision.message = std::move(message);
  decision.commands = std::move(commands);
  return decision;
}

}  // namespace

SchedulerSupervisor::SchedulerSupervisor(SupervisorSettings settings)
    : settings_(std::move(settings)) {}

void SchedulerSupervisor::BeginEpoch(const std::string& previous_node) {
  Reset();
  phase_ = Phase::kTakeover;
  previous_node_ = previous_node;
}

void SchedulerSupervisor::Reset() {
  phase_ = Phase::kIdle;
  in_maintenance_ = false;
  previous_node_.clear();
  node_.clear();
  restarts_ = 0;
  move_failed_alerted_ = false;
  start_failed_ = false;
  baseline_job_id_ = 0;
}

SupervisorDecision SchedulerSupervisor::Decide(const SupervisorPoll& poll) {
  if (phase_ == Phase::kIdle || phase_ == Phase::kPromoting) return {};
  if (poll.maintenance) {
    if (in_maintenance_) return {};
    in_maintenance_ = true;
    return Decision(Kind::kMaintenanceOn, "maintenance on: the scheduler is left alone");
  }
  if (in_maintenance_) {
    in_maintenance_ = false;
    // The operator may have stopped or restarted it meanwhile: give it the grace
    // of a fresh start, and a fresh count of restarts.
    if (phase_ != Phase::kTakeover) {
      phase_ = Phase::kStarting;
      started_at_ = poll.now;
      judge_after_ = poll.now;
      start_failed_ = false;
      restarts_ = 0;
    }
    return Decision(Kind::kMaintenanceOff, "maintenance off: the scheduler is watched again");
  }
  if (!poll.promote_to.empty()) {
    if (poll.promote_to == settings_.node) {
      return Decision(Kind::kPromoteRefused,
                      "switchover to " + poll.promote_to + " ignored: it already holds the lease");
    }
    if (!poll.live_nodes.contains(poll.promote_to)) {
      return Decision(Kind::kPromoteRefused,
                      "switchover to " + poll.promote_to + " refused: its controller is not alive");
    }
    std::vector<SchedulerCommand> commands;
    if (!node_.empty()) commands.push_back(Stop(node_));
    phase_ = Phase::kPromoting;
    std::string message = "switchover to " + poll.promote_to + ": ";
    message += node_.empty() ? "no scheduler to stop" : "stopping the scheduler on " + node_;
    message += ", then releasing the lease";
    node_.clear();
    return Decision(Kind::kPromote, std::move(message), std::move(commands));
  }
  if (phase_ == Phase::kTakeover) return TakeOver(poll);
  return Judge(poll);
}

void SchedulerSupervisor::OnStartResult(bool started) {
  if (!started) start_failed_ = true;
}

SupervisorDecision SchedulerSupervisor::TakeOver(const SupervisorPoll& poll) {
  const std::string& here = settings_.node;
  std::vector<SchedulerCommand> commands;
  std::string message;
  if (previous_node_.empty()) {
    commands = {Start(here)};
    message = "no scheduler ran for an earlier epoch: starting one on " + here;
  } else if (previous_node_ == here) {
    commands = {Stop(here), Start(here)};
    message = "restarting the scheduler on " + here + " for the new epoch (the old one is fenced)";
  } else {
    commands = {Start(here), Stop(previous_node_)};
    message = "starting the scheduler on " + here + " for the new epoch; the one on " +
              previous_node_ + " is fenced and stopped";
  }
  StartingOn(here, poll);
  return Decision(Kind::kStart, std::move(message), std::move(commands));
}

SupervisorDecision SchedulerSupervisor::Judge(const SupervisorPoll& poll) {
  if (poll.now < judge_after_) return {};
  auto rows = poll.schedulers.find(node_);
  const int64_t fresh_job_id = rows == poll.schedulers.end() ? 0 : rows->second.newest_fresh_job_id;
  const bool beating = fresh_job_id > baseline_job_id_;
  if (beating && poll.process != ProcessState::kNotRunning) {
    if (phase_ == Phase::kHealthy) return {};
    phase_ = Phase::kHealthy;
    restarts_ = 0;
    move_failed_alerted_ = false;
    return Decision(Kind::kHealthy,
                    fmt::format("the scheduler on {} is healthy (job {})", node_, fresh_job_id));
  }
  if (phase_ == Phase::kStarting && !start_failed_ && poll.process != ProcessState::kNotRunning &&
      poll.now < started_at_ + settings_.health_threshold) {
    return {};  // still starting: its first heartbeat may take a while
  }

  const std::string unhealthy =
      "the scheduler on " + node_ + " is unhealthy (" + Unhealthiness(poll) + ")";
  if (restarts_ < settings_.restart_retries) {
    ++restarts_;
    std::string message =
        fmt::format("{}: restart {} of {} there", unhealthy, restarts_, settings_.restart_retries);
    std::vector<SchedulerCommand> commands = {Stop(node_), Start(node_)};
    StartingOn(node_, poll);
    return Decision(Kind::kRestart, std::move(message), std::move(commands));
  }
  const std::string failed_restarts =
      fmt::format("{} restart(s) there did not help", settings_.restart_retries);
  const std::string target = NextLiveNode(poll.live_nodes);
  if (!target.empty()) {
    std::string message =
        fmt::format("{}; {}: moving it to {}", unhealthy, failed_restarts, target);
    std::vector<SchedulerCommand> commands = {Stop(node_), Start(target)};
    restarts_ = 0;
    StartingOn(target, poll);
    SupervisorDecision decision = Decision(Kind::kMove, std::move(message), std::move(commands));
    decision.alert = true;
    return decision;
  }
  std::string message = fmt::format(
      "{}; {}, and no other master has a live controller to take it: restarting it on {} again",
      unhealthy, failed_restarts, node_);
  std::vector<SchedulerCommand> commands = {Stop(node_), Start(node_)};
  StartingOn(node_, poll);
  SupervisorDecision decision =
      Decision(Kind::kMoveFailed, std::move(message), std::move(commands));
  // One alert per outage; the history and the log get every try.
  decision.alert = !move_failed_alerted_;
  move_failed_alerted_ = true;
  return decision;
}

std::string SchedulerSupervisor::Unhealthiness(const SupervisorPoll& poll) const {
  const std::string threshold = FormatDuration(settings_.health_threshold);
  if (start_failed_) return "its start command failed";
  switch (poll.process) {
    case ProcessState::kNotRunning:
      return "its process is not running";
    case ProcessState::kUnreachable:
      return "the node cannot be reached and no heartbeat is younger than " + threshold;
    case ProcessState::kRunning:
      break;
  }
  if (phase_ == Phase::kStarting) return "no heartbeat within " + threshold + " of its start";
  return "its process runs but no heartbeat is younger than " + threshold;
}

std::string SchedulerSupervisor::NextLiveNode(const std::set<std::string>& live_nodes) const {
  const std::vector<std::string>& nodes = settings_.nodes;
  const auto current = std::find(nodes.begin(), nodes.end(), node_);
  // A node missing from the list (the configuration changed) moves to the first.
  const size_t first = current == nodes.end() ? 0 : (current - nodes.begin()) + 1;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string& candidate = nodes[(first + i) % nodes.size()];
    if (candidate != node_ && live_nodes.contains(candidate)) return candidate;
  }
  return "";
}

void SchedulerSupervisor::StartingOn(const std::string& node, const SupervisorPoll& poll) {
  auto rows = poll.schedulers.find(node);
  baseline_job_id_ = rows == poll.schedulers.end() ? 0 : rows->second.newest_job_id;
  node_ = node;
  phase_ = Phase::kStarting;
  started_at_ = poll.now;
  judge_after_ = poll.now + settings_.retry_wait;
  start_failed_ = false;
}

}  // namespace baton
