#include "failover/failover_controller.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

namespace baton {
namespace {

// How often the deadline guard looks at the clock besides waking at the deadline.
constexpr Duration kGuardCheckInterval = std::chrono::milliseconds(100);

// The end of a command's output, for one log line or history row.
std::string Tail(const std::string& output) {
  constexpr size_t kMaxChars = 300;
  std::string tail =
      output.size() > kMaxChars ? "..." + output.substr(output.size() - kMaxChars) : output;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail;
}

std::string DescribeOutcome(const Result<CommandOutcome>& ran) {
  if (!ran.ok()) return ran.status().message();
  std::string text =
      ran->exit_code == -1 ? "ended by a signal" : fmt::format("exit status {}", ran->exit_code);
  const std::string output = Tail(ran->output);
  if (!output.empty()) text += ": " + output;
  return text;
}

bool Succeeded(const Result<CommandOutcome>& ran) { return ran.ok() && ran->exit_code == 0; }

}  // namespace

FailoverController::FailoverController(const FailoverConfig& config, std::string node,
                                       int64_t job_id, ControllerServices services)
    : config_(config),
      node_(std::move(node)),
      job_id_(job_id),
      services_(std::move(services)),
      keeper_(services_.lease_store, services_.clock,
              LeaseKeeperSettings{node_, job_id_, config_.heartbeat_interval, config_.lease_ttl}),
      supervisor_(SupervisorSettings{node_, config_.nodes, config_.scheduler_health_threshold,
                                     config_.restart_retries, config_.retry_wait}),
      local_shell_(services_.shell_for(node_)),
      guard_(services_.clock, std::min(kGuardCheckInterval, config_.heartbeat_interval),
             [this] { OnDeadline(); }) {}

FailoverController::~FailoverController() = default;

bool FailoverController::active() const {
  std::lock_guard lock(mutex_);
  return acting_;
}

int64_t FailoverController::epoch() const {
  std::lock_guard lock(mutex_);
  return epoch_;
}

bool FailoverController::StillActive(int64_t epoch) const {
  std::lock_guard lock(mutex_);
  return acting_ && epoch_ == epoch;
}

// ---- The lease ----

Duration FailoverController::LeaseTick() {
  // A standby retries just after the expiry the store reported; the margin
  // covers the time between that read and this tick's start.
  constexpr Duration kAfterExpiry = std::chrono::milliseconds(25);
  Duration wait = config_.heartbeat_interval;
  {
    std::lock_guard keeper_lock(keeper_mutex_);
    StepLease();
    if (!keeper_.active() && keeper_.standby_wait()) {
      wait = std::min(wait, *keeper_.standby_wait() + kAfterExpiry);
    }
  }
  BeatRow();
  return wait;
}

void FailoverController::StepLease() {
  int64_t release = 0;
  bool acting = false;
  {
    std::lock_guard lock(mutex_);
    release = std::exchange(release_requested_, 0);
    acting = acting_;
  }
  if (keeper_.active() && release == keeper_.epoch()) {
    ReleaseForSwitchover(release);
    return;
  }
  if (keeper_.active() && !acting) {
    // The guard fired, or a write was fenced: the keeper learns it here.
    LeaseChange lost = keeper_.MarkLost("its deadline passed, or a write was fenced");
    OnLost(lost.message, lost.epoch);
    return;
  }
  Result<LeaseChange> change = keeper_.Step();
  if (!change.ok()) {
    if (!std::exchange(lease_store_failing_, true)) {
      spdlog::error("lease: the store call failed: {}{}", change.status().message(),
                    keeper_.active() ? "; keeping the lease until its deadline" : "");
    }
    return;
  }
  // A loss at the deadline comes back as a value while the store still fails.
  if (change->kind != LeaseChange::Kind::kLost && std::exchange(lease_store_failing_, false)) {
    spdlog::info("lease: the store answers again");
  }
  switch (change->kind) {
    case LeaseChange::Kind::kAcquired:
      OnAcquired(*change);
      return;
    case LeaseChange::Kind::kLost:
      OnLost(change->message, change->epoch);
      return;
    case LeaseChange::Kind::kRenewedLate:
    case LeaseChange::Kind::kNone:
      if (!keeper_.active()) return;
      if (!guard_.Extend(keeper_.deadline())) {
        // The guard reached the deadline while the renew was on its way back.
        LeaseChange lost = keeper_.MarkLost("the deadline passed while renewing");
        OnLost(lost.message, lost.epoch);
        return;
      }
      if (change->kind == LeaseChange::Kind::kRenewedLate) {
        spdlog::warn("lease: {}", change->message);
        Record(services_.lease_store, kEventRenewedLate, change->epoch, change->message);
      }
      FollowKeeperEpoch();
      return;
  }
}

void FailoverController::FollowKeeperEpoch() {
  const int64_t held = keeper_.epoch();
  {
    std::lock_guard lock(mutex_);
    if (!acting_ || epoch_ == held) return;
    epoch_ = held;
  }
  spdlog::info(
      "lease: the store holds the lease for this controller with epoch {}: a move to a new "
      "epoch whose answer was lost had applied; no scheduler serves it yet",
      held);
}

void FailoverController::OnAcquired(const LeaseChange& change) {
  guard_.Arm(keeper_.deadline());
  {
    std::lock_guard lock(mutex_);
    acting_ = true;
    epoch_ = change.epoch;
    takeover_ = Takeover{change.epoch, change.previous_holder, change.planned};
    release_requested_ = 0;
  }
  spdlog::info("lease: {}: this controller is active", change.message);
  Record(services_.lease_store, kEventAcquired, change.epoch, change.message);
  if (services_.on_acquired) services_.on_acquired();
}

void FailoverController::OnLost(const std::string& message, int64_t epoch) {
  {
    std::lock_guard lock(mutex_);
    acting_ = false;
  }
  // The guard's thread runs the local stop (unless it already has), so this
  // thread goes on renewing its row and trying the lease.
  guard_.ExpireNow();
  spdlog::error("lease: {}: this controller stops acting", message);
  Record(services_.lease_store, kEventLostLease, epoch, message);
}

void FailoverController::ReleaseForSwitchover(int64_t epoch) {
  guard_.Disarm();
  {
    std::lock_guard lock(mutex_);
    acting_ = false;
  }
  Status released = keeper_.Release();
  const std::string message =
      released.ok() ? "released the lease for the switchover"
                    : "could not release the lease for the switchover (it expires in at most " +
                          FormatDuration(config_.lease_ttl) + "): " + released.message();
  spdlog::info("lease: {} (epoch {})", message, epoch);
  Record(services_.lease_store, kEventReleased, epoch, message);
}

void FailoverController::BeatRow() {
  Status beat = services_.lease_store.HeartbeatJob(job_id_, 0);
  if (!beat.ok()) {
    if (!std::exchange(row_beat_failing_, true)) {
      spdlog::error("heartbeat of controller job {} failed: {}", job_id_, beat.message());
    }
  } else if (std::exchange(row_beat_failing_, false)) {
    spdlog::info("heartbeat of controller job {} recorded again", job_id_);
  }
}

void FailoverController::Shutdown() {
  std::lock_guard keeper_lock(keeper_mutex_);
  // Leaving on purpose: the scheduler keeps running until the next holder
  // replaces it, so the guard must not stop it.
  guard_.Disarm();
  {
    std::lock_guard lock(mutex_);
    acting_ = false;
  }
  if (!keeper_.active()) return;
  const int64_t epoch = keeper_.epoch();
  Status released = keeper_.Release();
  if (!released.ok()) {
    spdlog::warn(
        "lease: could not release epoch {} on the way out ({}); a standby takes over "
        "when it expires",
        epoch, released.message());
    return;
  }
  const std::string message =
      "controller stopping: released the lease; the scheduler runs on until the next holder "
      "replaces it";
  spdlog::info("lease: {} (epoch {})", message, epoch);
  Record(services_.lease_store, kEventReleased, epoch, message);
}

// ---- The deadline ----

void FailoverController::OnDeadline() {
  int64_t stop_epoch = 0;
  bool was_acting = false;
  int64_t epoch = 0;
  {
    std::lock_guard lock(mutex_);
    was_acting = std::exchange(acting_, false);
    epoch = epoch_;
    stop_epoch = std::exchange(local_scheduler_epoch_, 0);
  }
  // When the lease side found the loss first, it has said so already.
  if (was_acting) {
    spdlog::error(
        "lease: the deadline of epoch {} passed without a successful renew: this "
        "controller stops acting",
        epoch);
  }
  if (stop_epoch == 0) return;
  const std::string command = services_.commands_for(node_, stop_epoch).stop;
  spdlog::warn(
      "stopping the scheduler this controller started here (epoch {}): it no longer "
      "holds the lease",
      stop_epoch);
  Result<CommandOutcome> ran = local_shell_->Run(command, config_.ssh_command_timeout);
  if (Succeeded(ran)) {
    spdlog::info("stopped the local scheduler of epoch {}", stop_epoch);
  } else {
    spdlog::error(
        "stopping the local scheduler of epoch {} failed ({}); the store fences it "
        "once a newer epoch exists",
        stop_epoch, DescribeOutcome(ran));
  }
}

// ---- The scheduler ----

void FailoverController::SchedulerTick() {
  int64_t epoch = 0;
  std::optional<Takeover> takeover;
  {
    std::lock_guard lock(mutex_);
    if (!acting_) {
      takeover_.reset();
    } else {
      epoch = epoch_;
      takeover = takeover_;
    }
  }
  if (epoch == 0) {
    supervisor_.Reset();
    return;
  }
  Result<Lease> lease = services_.scheduler_store.GetLease();
  if (!lease.ok()) {
    spdlog::warn("scheduler poll skipped: cannot read the lease: {}", lease.status().message());
    return;
  }
  if (lease->epoch != epoch || lease->holder_job_id != job_id_) {
    // The lease side finds out at its next tick; do nothing meanwhile.
    spdlog::warn(
        "scheduler poll skipped: the store names epoch {} of {}, not epoch {} of this "
        "controller",
        lease->epoch, lease->holder.empty() ? "nobody" : lease->holder, epoch);
    return;
  }
  if (takeover && takeover->epoch == epoch) {
    {
      std::lock_guard lock(mutex_);
      if (takeover_ && takeover_->epoch == epoch) takeover_.reset();
    }
    supervisor_.BeginEpoch(lease->scheduler_node);
  }
  Result<SupervisorPoll> poll = Observe(*lease);
  if (!poll.ok()) {
    spdlog::warn("scheduler poll skipped: {}", poll.status().message());
  } else {
    if (!supervisor_.node().empty()) poll->process = CheckProcess(supervisor_.node(), epoch);
    if (StillActive(epoch)) Carry(supervisor_.Decide(*poll), epoch);
  }
  // After the start: an alert may take a while to deliver.
  if (takeover && takeover->epoch == epoch && !takeover->previous_holder.empty() &&
      takeover->previous_holder != node_ && !takeover->planned) {
    Alert(kEventAcquired, epoch,
          "the failover controller on " + node_ + " took over from " + takeover->previous_holder,
          fmt::format("The controller on {} acquired the lease with epoch {}: the controller on "
                      "{} stopped renewing it. The scheduler{} is replaced by one started for the "
                      "new epoch.",
                      node_, epoch, takeover->previous_holder,
                      lease->scheduler_node.empty() ? "" : " on " + lease->scheduler_node));
  }
}

Result<SupervisorPoll> FailoverController::Observe(const Lease& lease) {
  SupervisorPoll poll;
  poll.now = services_.clock.Monotonic();
  poll.maintenance = lease.maintenance;
  poll.promote_to = lease.promote_to;
  poll.live_nodes.insert(node_);
  auto controllers = services_.scheduler_store.ListRunningJobs(kControllerJob);
  if (!controllers.ok()) return controllers.status().WithContext("listing the controllers");
  // A controller beats every heartbeat_interval; one silent for a whole lease
  // ttl would have lost a lease too.
  for (const JobRecord& controller : *controllers) {
    if (controller.heartbeat_age < config_.lease_ttl) poll.live_nodes.insert(controller.name);
  }
  auto schedulers = services_.scheduler_store.ListRunningJobs(kSchedulerJob);
  if (!schedulers.ok()) return schedulers.status().WithContext("listing the schedulers");
  for (const JobRecord& scheduler : *schedulers) {
    if (scheduler.name.empty()) continue;
    NodeSchedulerRows& rows = poll.schedulers[scheduler.name];
    rows.newest_job_id = std::max(rows.newest_job_id, scheduler.id);
    if (scheduler.heartbeat_age < config_.scheduler_health_threshold) {
      rows.newest_fresh_job_id = std::max(rows.newest_fresh_job_id, scheduler.id);
    }
  }
  return poll;
}

ProcessState FailoverController::CheckProcess(const std::string& node, int64_t epoch) {
  Result<CommandOutcome> ran = RunOn(node, services_.commands_for(node, epoch).check);
  if (!ran.ok() || ran->exit_code < 0) {
    spdlog::warn("cannot check the scheduler on {}: {}", node, DescribeOutcome(ran));
    return ProcessState::kUnreachable;
  }
  return ran->exit_code == 0 ? ProcessState::kRunning : ProcessState::kNotRunning;
}

void FailoverController::Carry(const SupervisorDecision& decision, int64_t epoch) {
  using Kind = SupervisorDecision::Kind;
  Store& store = services_.scheduler_store;
  switch (decision.kind) {
    case Kind::kNothing:
      return;
    case Kind::kHealthy:
      spdlog::info("{}", decision.message);
      return;
    case Kind::kMaintenanceOn:
    case Kind::kMaintenanceOff:
      spdlog::info("{}", decision.message);
      Record(store, kEventMaintenance, epoch, decision.message);
      return;
    case Kind::kPromoteRefused: {
      spdlog::warn("{}", decision.message);
      Record(store, kEventPromote, epoch, decision.message);
      Status cleared = store.SetPromoteTo("");
      if (!cleared.ok()) spdlog::warn("cannot clear the switchover: {}", cleared.message());
      return;
    }
    case Kind::kPromote: {
      spdlog::info("{}", decision.message);
      const std::string outcome = RunCommands(decision.commands, &epoch);
      Record(store, kEventPromote, epoch, decision.message + outcome);
      std::lock_guard lock(mutex_);
      if (acting_ && epoch_ == epoch) release_requested_ = epoch;
      return;
    }
    case Kind::kStart: {
      spdlog::info("epoch {}: {}", epoch, decision.message);
      const std::string outcome = RunCommands(decision.commands, &epoch);
      Record(store, kEventSchedulerStarted, epoch, decision.message + outcome);
      return;
    }
    case Kind::kRestart: {
      spdlog::warn("{}", decision.message);
      Record(store, kEventSchedulerUnhealthy, epoch, decision.message);
      const std::string outcome = RunCommands(decision.commands, &epoch);
      Record(store, kEventSchedulerRestarted, epoch,
             "restarted on " + supervisor_.node() + outcome);
      return;
    }
    case Kind::kMove: {
      spdlog::error("{}", decision.message);
      Record(store, kEventSchedulerUnhealthy, epoch, decision.message);
      const std::string outcome = RunCommands(decision.commands, &epoch);
      Record(store, kEventMoved, epoch, decision.message + outcome);
      Alert(kEventMoved, epoch, "the scheduler moved to " + supervisor_.node(),
            decision.message + outcome);
      return;
    }
    case Kind::kMoveFailed: {
      spdlog::error("{}", decision.message);
      Record(store, kEventSchedulerUnhealthy, epoch, decision.message);
      const std::string outcome = RunCommands(decision.commands, &epoch);
      Record(store, kEventMoveFailed, epoch, decision.message + outcome);
      if (decision.alert) {
        Alert(kEventMoveFailed, epoch,
              "the scheduler on " + supervisor_.node() +
                  " keeps failing and no other master can take it",
              decision.message + outcome);
      }
      return;
    }
  }
}

std::string FailoverController::RunCommands(const std::vector<SchedulerCommand>& commands,
                                            int64_t* epoch) {
  std::string outcome;
  // The epoch the scheduler being stopped was started with (for a takeover,
  // the previous holder's is not known: the acquired one stands in).
  const int64_t stop_epoch = *epoch;
  const bool starts = std::any_of(commands.begin(), commands.end(), [](const auto& command) {
    return command.kind == SchedulerCommand::Kind::kStart;
  });
  if (starts && started_epoch_ == *epoch) {
    // Before the stops too: a scheduler that does not answer them is fenced
    // from the moment the new epoch exists.
    if (!StillActive(*epoch)) return "; not carried on: the lease was lost";
    Result<int64_t> advanced = AdvanceEpoch();
    if (!advanced.ok()) {
      const std::string& message = advanced.status().message();
      if (advanced.status().code() == Status::Code::kFenced) {
        if (StillActive(*epoch)) FencedWhileActive(*epoch, message);
        return "; not carried out: " + message;
      }
      // Judged as a failed start once retry_wait has passed; the next start
      // reads back whether the lease moved.
      supervisor_.OnStartResult(false);
      spdlog::warn("epoch {}: cannot move the lease to a new epoch for the scheduler start: {}",
                   *epoch, message);
      return "; not carried out: cannot move the lease to a new epoch for the start: " + message;
    }
    const std::string moved = fmt::format(
        "moved the lease to epoch {} for the start (schedulers of epoch {} and before are fenced)",
        *advanced, *epoch);
    spdlog::info("{}", moved);
    outcome += "; " + moved;
    *epoch = *advanced;
  }
  for (const SchedulerCommand& command : commands) {
    if (!StillActive(*epoch)) {
      outcome += "; not carried on: the lease was lost";
      break;
    }
    if (command.kind == SchedulerCommand::Kind::kStop) {
      Result<CommandOutcome> ran =
          RunOn(command.node, services_.commands_for(command.node, stop_epoch).stop);
      outcome += "; stop on " + command.node + ": " + DescribeOutcome(ran);
      if (!Succeeded(ran)) {
        spdlog::warn("the stop command on {} failed: {}", command.node, DescribeOutcome(ran));
      }
      if (Succeeded(ran) && command.node == node_) {
        std::lock_guard lock(mutex_);
        local_scheduler_epoch_ = 0;
      }
      continue;
    }
    const NodeCommands node_commands = services_.commands_for(command.node, *epoch);
    // Recorded before the start, so that a successor learns where to stop it
    // even when this controller dies halfway.
    Status recorded = services_.scheduler_store.SetSchedulerNode(*epoch, command.node);
    if (recorded.code() == Status::Code::kFenced) {
      FencedWhileActive(*epoch, recorded.message());
      outcome += "; not started: " + recorded.message();
      break;
    }
    if (!recorded.ok()) {
      spdlog::warn("cannot record {} as the scheduler's node: {}", command.node,
                   recorded.message());
    }
    if (command.node == node_) {
      std::lock_guard lock(mutex_);
      local_scheduler_epoch_ = *epoch;
    }
    started_epoch_ = *epoch;
    Result<CommandOutcome> ran = RunOn(command.node, node_commands.start);
    supervisor_.OnStartResult(Succeeded(ran));
    // The supervisor's next decision only says that it failed; the why is here.
    if (!Succeeded(ran)) {
      spdlog::warn("epoch {}: the start command on {} failed: {}", *epoch, command.node,
                   DescribeOutcome(ran));
    }
    outcome += "; start on " + command.node + ": " + DescribeOutcome(ran);
    if (command.node == node_ && !StillActive(*epoch)) {
      // The guard may have stopped it before this start had finished.
      Result<CommandOutcome> stopped = RunOn(node_, node_commands.stop);
      outcome +=
          "; the lease was lost meanwhile, stop on " + node_ + ": " + DescribeOutcome(stopped);
      if (Succeeded(stopped)) {
        std::lock_guard lock(mutex_);
        if (local_scheduler_epoch_ == *epoch) local_scheduler_epoch_ = 0;
      }
    }
  }
  return outcome;
}

Result<int64_t> FailoverController::AdvanceEpoch() {
  std::lock_guard keeper_lock(keeper_mutex_);
  Result<int64_t> advanced = keeper_.AdvanceEpoch(services_.scheduler_store);
  if (!advanced.ok()) return advanced;
  {
    std::lock_guard lock(mutex_);
    // acting_ turns true only under keeper_mutex_ (OnAcquired): here it means
    // acting for the keeper's lease.
    if (acting_) {
      epoch_ = *advanced;
      return advanced;
    }
  }
  // The guard fired meanwhile; the lease side gives the new epoch up.
  return Status::Fenced(fmt::format("the lease was lost while it moved to epoch {}", *advanced));
}

Result<CommandOutcome> FailoverController::RunOn(const std::string& node,
                                                 const std::string& command) {
  std::unique_ptr<NodeShell>& shell = shells_[node];
  if (!shell) shell = services_.shell_for(node);
  Result<CommandOutcome> ran = shell->Run(command, config_.ssh_command_timeout);
  spdlog::debug("ran on {} ({}): {}: {}", node, shell->Describe(), command, DescribeOutcome(ran));
  return ran;
}

void FailoverController::FencedWhileActive(int64_t epoch, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (epoch_ == epoch) acting_ = false;
  }
  guard_.ExpireNow();
  spdlog::error("epoch {} is fenced: {}", epoch, message);
  Record(services_.scheduler_store, kEventFenced, epoch, message);
}

// ---- History and alerts ----

void FailoverController::Record(Store& store, const char* kind, int64_t epoch,
                                const std::string& message) {
  FailoverEvent event;
  event.node = node_;
  event.epoch = epoch;
  event.kind = kind;
  event.message = message;
  Status recorded = store.RecordFailoverEvent(event);
  if (!recorded.ok()) {
    spdlog::warn("cannot record the failover event '{}' ({}): {}", kind, message,
                 recorded.message());
  }
}

void FailoverController::Alert(const char* kind, int64_t epoch, const std::string& subject,
                               const std::string& message) {
  baton::Alert alert;
  alert.kind = kind;
  alert.node = node_;
  alert.epoch = epoch;
  alert.subject = subject;
  alert.message = message;
  Status sent = services_.alerter.Send(alert);
  if (!sent.ok()) spdlog::error("alert '{}' not delivered everywhere: {}", subject, sent.message());
}

}  // namespace baton
