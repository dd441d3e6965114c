#include "engine/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/process.h"
#include "engine/local_leftovers.h"
#include "engine/run_planner.h"
#include "engine/task_launch.h"
#include "engine/try_outcome.h"

namespace baton {
namespace {

bool IsActive(TaskState state) {
  return state == TaskState::kQueued || state == TaskState::kRunning;
}

// How far along its try an instance is: a worker's row only ever moves it forward.
int Progress(TaskState state) {
  switch (state) {
    case TaskState::kQueued:
      return 1;
    case TaskState::kRunning:
      return 2;
    case TaskState::kSuccess:
    case TaskState::kFailed:
    case TaskState::kUpForRetry:
      return 3;
    default:
      return 0;
  }
}

std::string DescribeFailure(const TaskOutcome& outcome) {
  if (!outcome.error.empty()) return "could not start: " + outcome.error;
  if (outcome.timed_out) return "timed out";
  if (outcome.signal != 0) return "killed by signal " + std::to_string(outcome.signal);
  return "exit code " + std::to_string(outcome.exit_code);
}

}  // namespace

Scheduler::Scheduler(Store& store, Executor& executor, const Clock& clock,
                     SchedulerSettings settings)
    : store_(store), executor_(executor), clock_(clock), settings_(std::move(settings)) {}

Scheduler::~Scheduler() = default;

void Scheduler::SetDags(std::map<std::string, std::shared_ptr<const Dag>> dags) {
  dags_ = std::move(dags);
  next_due_.clear();  // a schedule may have changed
}

ActiveRun* Scheduler::FindRun(const RunKey& key) {
  auto it = runs_.find(key);
  return it == runs_.end() ? nullptr : it->second.get();
}

void Scheduler::Account(ActiveRun& run, int index, int sign) {
  const TaskInstance& instance = run.instance(index);
  const RunKey key{run.run().dag_id, run.run().run_id};
  switch (instance.state) {
    case TaskState::kScheduled:
      if (sign > 0) {
        ready_.insert({instance.priority, run.run().logical_date, key, index});
      } else {
        ready_.erase({instance.priority, run.run().logical_date, key, index});
      }
      break;
    case TaskState::kQueued:
    case TaskState::kRunning:
      active_total_ += sign;
      active_by_pool_[instance.pool] += sign;
      active_by_dag_[instance.key.dag_id] += sign;
      break;
    case TaskState::kUpForRetry: {
      TimePoint due = instance.next_retry_at.value_or(TimePoint{});
      if (sign > 0) {
        retries_.insert({due, instance.key});
      } else {
        retries_.erase({due, instance.key});
      }
      break;
    }
    default:
      break;
  }
}

void Scheduler::AdoptRun(std::unique_ptr<ActiveRun> run) {
  const RunKey key{run->run().dag_id, run->run().run_id};
  ForgetRun(key);
  ++running_runs_by_dag_[key.first];
  ActiveRun& adopted = *run;
  runs_[key] = std::move(run);
  for (int index = 0; index < adopted.size(); ++index) {
    if (adopted.HasInstance(index)) Account(adopted, index, +1);
  }
}

void Scheduler::ForgetRun(const RunKey& key) {
  ActiveRun* run = FindRun(key);
  if (run == nullptr) return;
  for (int index = 0; index < run->size(); ++index) {
    if (run->HasInstance(index)) Account(*run, index, -1);
  }
  --running_runs_by_dag_[key.first];
  runs_.erase(key);
}

Status Scheduler::LoadRunIntoMemory(const DagRun& dag_run) {
  auto dag = dags_.find(dag_run.dag_id);
  if (dag == dags_.end()) {
    return Status::NotFound("run " + dag_run.run_id + " of DAG '" + dag_run.dag_id +
                            "' is active, but no DAG file defines that DAG");
  }
  auto instances = store_.ListTaskInstances(dag_run.dag_id, dag_run.run_id);
  if (!instances.ok()) return instances.status();
  auto run = std::make_unique<ActiveRun>(dag->second, dag_run, std::move(instances).value());
  ActiveRun& loaded = *run;
  AdoptRun(std::move(run));
  PropagateFrom(loaded, loaded.DecidableInstances());
  return Status::Ok();
}

Status Scheduler::ReloadRun(const RunKey& key) {
  ForgetRun(key);
  auto run = store_.GetDagRun(key.first, key.second);
  if (!run.ok()) return run.status();
  if (!run->has_value() || (*run)->state != RunState::kRunning) return Status::Ok();
  return LoadRunIntoMemory(**run);
}

std::vector<int> Scheduler::Transition(ActiveRun& run, int index, TaskInstance updated) {
  const TaskInstance& current = run.instance(index);
  // Scheduled and queued in one batch: the store goes from the state it holds
  // straight to queued, one write instead of two. The compare-and-set still
  // names the state and try the store has. Nothing else is folded, as entering
  // or leaving running also writes the try's row.
  auto scheduled = scheduled_in_batch_.end();
  if (current.state == TaskState::kScheduled) scheduled = scheduled_in_batch_.find(current.key);
  if (scheduled != scheduled_in_batch_.end()) {
    batch_[scheduled->second].updated = updated;
    scheduled_in_batch_.erase(scheduled);
  } else {
    if (updated.state == TaskState::kScheduled) scheduled_in_batch_[updated.key] = batch_.size();
    batch_.push_back({current.state, current.try_number, updated});
  }
  return Follow(run, index, std::move(updated));
}

std::vector<int> Scheduler::Follow(ActiveRun& run, int index, TaskInstance updated) {
  TaskInstance& current = run.instance(index);
  Account(run, index, -1);
  const TaskState new_state = updated.state;
  updated.state = current.state;  // SetState moves it, so that tallies see the change
  current = std::move(updated);
  std::vector<int> downstream = run.SetState(index, new_state);
  Account(run, index, +1);
  return downstream;
}

void Scheduler::PropagateFrom(ActiveRun& run, std::vector<int> pending) {
  const TimePoint now = clock_.Now();
  while (!pending.empty()) {
    const int index = pending.back();
    pending.pop_back();
    if (!run.HasInstance(index) || run.instance(index).state != TaskState::kNone) continue;
    TaskInstance updated = run.instance(index);
    switch (run.Evaluate(index)) {
      case TriggerDecision::kWait:
        continue;
      case TriggerDecision::kRun:
        updated.state = TaskState::kScheduled;
        break;
      case TriggerDecision::kSkip:
        updated.state = TaskState::kSkipped;
        updated.start_date = updated.end_date = now;
        break;
      case TriggerDecision::kUpstreamFailed:
        updated.state = TaskState::kUpstreamFailed;
        updated.start_date = updated.end_date = now;
        break;
    }
    std::vector<int> downstream = Transition(run, index, std::move(updated));
    pending.insert(pending.end(), downstream.begin(), downstream.end());
  }
}

TaskInstance Scheduler::FailedTry(const ActiveRun& run, int index,
                                  std::optional<int> exit_code) const {
  const TaskSpec& spec = run.spec(index);
  const TaskInstance& instance = run.instance(index);
  return AfterFailedTry(instance, spec.retries + 1, spec.RetryDelayBefore(instance.try_number + 1),
                        exit_code, clock_.Now());
}

TaskLaunch Scheduler::LaunchOf(const ActiveRun& run, int index) const {
  const TaskInstance& instance = run.instance(index);
  TaskLaunch launch = BuildTaskLaunch(run.dag(), run.spec(index), run.run(), instance.try_number,
                                      settings_.logs_folder);
  // The row's own columns, not the DAG file's: the file may have changed since
  // the run was created.
  launch.queued_columns =
      TaskLaunch::QueuedColumns{instance.pool, instance.priority, instance.queue};
  return launch;
}

void Scheduler::OnTaskStarted(const TaskInstanceKey& key, int try_number, int pid) {
  started_.push_back({key, try_number, pid});
}

void Scheduler::OnTaskFinished(const TaskOutcome& outcome) { finished_.push_back(outcome); }

void Scheduler::OnInstanceChanged(const TaskInstance& current) { changed_.push_back(current); }

void Scheduler::ApplyChanged(const TaskInstance& current) {
  const RunKey key{current.key.dag_id, current.key.run_id};
  ActiveRun* run = FindRun(key);
  int index = run ? run->IndexOf(current.key.task_id) : -1;
  if (index < 0) return;
  const TaskInstance& known = run->instance(index);
  if (current.try_number > known.try_number) {
    // Only this scheduler starts new tries; someone else did: trust the store.
    runs_to_reload_.insert(key);
    return;
  }
  if (current.try_number < known.try_number || Progress(current.state) <= Progress(known.state)) {
    return;  // an older event, or one already applied
  }
  if (!IsActive(known.state)) {
    runs_to_reload_.insert(key);
    return;
  }
  if (current.state == TaskState::kFailed || current.state == TaskState::kUpForRetry) {
    spdlog::warn("task {} try {} failed on {}; now {}", current.key.ToString(), current.try_number,
                 current.hostname, ToString(current.state));
  }
  PropagateFrom(*run, Follow(*run, index, current));
}

Status Scheduler::ReconcileWithStore() {
  auto rows = store_.ListTaskInstancesOfActiveRuns();
  if (!rows.ok()) return rows.status();
  for (const TaskInstance& row : *rows) ApplyChanged(row);
  return Status::Ok();
}

Status Scheduler::EnsureQueuedReachWorkers(const std::set<std::string>& live_workers) {
  last_requeue_check_ = clock_.Monotonic();
  // Only tries queued at the previous check too: one queued a moment ago may be
  // claimed, run and acknowledged between this scheduler's view and the
  // executor's look at Redis, and would look lost.
  std::map<TaskInstanceKey, int> queued_now;
  std::vector<TaskLaunch> launches;
  for (const auto& [key, run] : runs_) {
    for (int index = 0; index < run->size(); ++index) {
      if (!run->HasInstance(index)) continue;
      const TaskInstance& instance = run->instance(index);
      if (instance.state != TaskState::kQueued) continue;
      queued_now[instance.key] = instance.try_number;
      auto before = queued_at_last_check_.find(instance.key);
      if (before == queued_at_last_check_.end() || before->second != instance.try_number) continue;
      launches.push_back(LaunchOf(*run, index));
    }
  }
  queued_at_last_check_ = std::move(queued_now);
  if (!launches.empty()) executor_.EnsureQueued(launches, live_workers);
  return Status::Ok();
}

void Scheduler::ApplyStarted(const Started& started) {
  ActiveRun* run = FindRun({started.key.dag_id, started.key.run_id});
  int index = run ? run->IndexOf(started.key.task_id) : -1;
  if (index < 0) return;
  const TaskInstance& instance = run->instance(index);
  if (instance.state != TaskState::kQueued || instance.try_number != started.try_number) return;
  TaskInstance updated = instance;
  updated.state = TaskState::kRunning;
  updated.pid = started.pid;
  updated.hostname = settings_.hostname;
  updated.start_date = clock_.Now();
  Transition(*run, index, std::move(updated));
}

void Scheduler::ApplyFinished(const TaskOutcome& outcome) {
  ActiveRun* run = FindRun({outcome.key.dag_id, outcome.key.run_id});
  int index = run ? run->IndexOf(outcome.key.task_id) : -1;
  if (index < 0) {
    spdlog::warn("task {} try {} ended, but its run is not active here; result ignored",
                 outcome.key.ToString(), outcome.try_number);
    return;
  }
  const TaskInstance& instance = run->instance(index);
  if (!IsActive(instance.state) || instance.try_number != outcome.try_number) return;
  TaskInstance updated;
  if (outcome.succeeded()) {
    updated = AfterSucceededTry(instance, clock_.Now());
  } else {
    std::optional<int> exit_code;
    if (outcome.exit_code >= 0) exit_code = outcome.exit_code;
    updated = FailedTry(*run, index, exit_code);
    spdlog::warn("task {} try {} failed ({}); now {}", outcome.key.ToString(), outcome.try_number,
                 DescribeFailure(outcome), ToString(updated.state));
  }
  PropagateFrom(*run, Transition(*run, index, std::move(updated)));
}

bool Scheduler::FitsLimits(const ActiveRun& run, int index) const {
  const TaskInstance& instance = run.instance(index);
  auto slots = settings_.pools.find(instance.pool);
  if (slots == settings_.pools.end()) return false;  // pool removed from the config
  auto used_in_pool = active_by_pool_.find(instance.pool);
  if (used_in_pool != active_by_pool_.end() && used_in_pool->second >= slots->second) return false;
  auto used_by_dag = active_by_dag_.find(instance.key.dag_id);
  return used_by_dag == active_by_dag_.end() || used_by_dag->second < run.dag().max_active_tasks;
}

void Scheduler::Dispatch() {
  if (!dispatching_) return;
  for (auto it = ready_.begin(); it != ready_.end() && active_total_ < settings_.parallelism;) {
    const RunKey key = it->run;
    const int index = it->index;
    ++it;  // Transition below erases the entry we came from
    ActiveRun* run = FindRun(key);
    if (run == nullptr || paused_[key.first] || !FitsLimits(*run, index)) continue;
    TaskInstance updated = run->instance(index);
    updated.state = TaskState::kQueued;
    updated.try_number += 1;
    updated.owner_job_id = settings_.job_id;
    updated.hostname = settings_.hostname;
    updated.pid = 0;
    updated.start_date.reset();
    updated.end_date.reset();
    updated.exit_code.reset();
    updated.next_retry_at.reset();
    Transition(*run, index, std::move(updated));
    to_launch_.push_back({key, index});
  }
}

Status Scheduler::Persist() {
  if (!batch_.empty()) {
    auto applied = store_.ApplyTransitions(batch_);
    // On a store error the batch stays, and memory stays ahead of the store until
    // a later Persist() gets it through; nothing is launched before that.
    if (!applied.ok()) return applied.status();
    for (size_t i = 0; i < batch_.size(); ++i) {
      if ((*applied)[i]) continue;
      const TaskInstance& wanted = batch_[i].updated;
      spdlog::warn(
          "task {} moved in the store behind this scheduler's back (wanted {} -> {}); "
          "reloading its run",
          wanted.key.ToString(), ToString(batch_[i].expected_state), ToString(wanted.state));
      runs_to_reload_.insert({wanted.key.dag_id, wanted.key.run_id});
    }
    batch_.clear();
    scheduled_in_batch_.clear();
  }
  std::vector<std::pair<RunKey, int>> launches;
  launches.swap(to_launch_);
  for (const auto& [key, index] : launches) {
    ActiveRun* run = FindRun(key);
    if (run == nullptr || runs_to_reload_.count(key) > 0) continue;
    const TaskInstance& instance = run->instance(index);
    if (instance.state != TaskState::kQueued) continue;
    Status launched = executor_.Launch(LaunchOf(*run, index));
    if (!launched.ok()) {
      TaskOutcome outcome;
      outcome.key = instance.key;
      outcome.try_number = instance.try_number;
      outcome.error = launched.message();
      finished_.push_back(std::move(outcome));
    }
  }
  std::set<RunKey> reload;
  reload.swap(runs_to_reload_);
  for (const RunKey& key : reload) {
    Status reloaded = ReloadRun(key);
    if (!reloaded.ok()) {
      spdlog::error("cannot reload run {} of {}: {}", key.second, key.first, reloaded.message());
      runs_to_reload_.insert(key);
    }
  }
  return Status::Ok();
}

Status Scheduler::FinishCompletedRuns() {
  std::vector<RunKey> completed;
  for (const auto& [key, run] : runs_) {
    if (run->unfinished_count() == 0) completed.push_back(key);
  }
  for (const RunKey& key : completed) {
    ActiveRun& run = *runs_[key];
    const RunState final_state = run.FinalState();
    Status status = store_.SetDagRunState(key.first, key.second, RunState::kRunning, final_state,
                                          std::nullopt, clock_.Now());
    if (status.code() == Status::Code::kConflict) {
      runs_to_reload_.insert(key);
      continue;
    }
    BATON_RETURN_IF_ERROR(status);
    spdlog::info("run {} of {} finished: {}", key.second, key.first, ToString(final_state));
    ForgetRun(key);
  }
  if (!completed.empty()) return StartQueuedRuns();
  return Status::Ok();
}

Status Scheduler::Flush() { return NotingStoreTrouble(FlushSteps()); }

Status Scheduler::FlushSteps() {
  for (;;) {
    std::vector<Started> started;
    std::vector<TaskOutcome> finished;
    std::vector<TaskInstance> changed;
    started.swap(started_);
    finished.swap(finished_);
    changed.swap(changed_);
    for (const Started& event : started) ApplyStarted(event);
    for (const TaskOutcome& outcome : finished) ApplyFinished(outcome);
    for (const TaskInstance& row : changed) ApplyChanged(row);
    Dispatch();
    BATON_RETURN_IF_ERROR(Persist());
    // Launch failures come back as outcomes; finish them in the same flush.
    if (!started_.empty() || !finished_.empty() || !changed_.empty()) continue;
    // A finished run may let a queued one start; dispatch its first tasks now
    // rather than at the next tick.
    BATON_RETURN_IF_ERROR(FinishCompletedRuns());
    if (batch_.empty()) return Status::Ok();
  }
}

Status Scheduler::CreateDueRuns(TimePoint now) {
  for (const auto& [dag_id, dag] : dags_) {
    if (paused_[dag_id] || dag->schedule.kind() == Schedule::Kind::kNone) continue;
    auto cached_due = next_due_.find(dag_id);
    if (cached_due != next_due_.end() && (!cached_due->second || *cached_due->second > now)) {
      continue;
    }
    if (!latest_logical_date_.count(dag_id)) {
      auto latest = store_.LatestScheduledLogicalDate(dag_id);
      if (!latest.ok()) return latest.status();
      latest_logical_date_[dag_id] = *latest;
    }
    std::optional<TimePoint>& latest = latest_logical_date_[dag_id];
    for (const DataInterval& interval :
         DueIntervals(*dag, latest, now, settings_.max_new_runs_per_dag)) {
      PlannedRun planned = PlanRun(*dag, RunType::kScheduled,
                                   MakeRunId(RunType::kScheduled, interval.start), interval, "{}");
      auto created = store_.CreateDagRun(planned.run, planned.task_instances);
      if (!created.ok()) return created.status();
      if (*created) {
        spdlog::info("created run {} of {} (data interval {} to {})", planned.run.run_id, dag_id,
                     FormatIso8601(interval.start), FormatIso8601(interval.end));
      }
      latest = interval.start;
    }
    next_due_[dag_id] = NextDueTime(*dag, latest);
  }
  return Status::Ok();
}

Result<std::vector<DagRun>> Scheduler::RunsInState(RunState state) {
  RunFilter filter;
  filter.state = state;
  return store_.ListDagRuns(filter);
}

Status Scheduler::StartQueuedRuns() {
  auto queued = RunsInState(RunState::kQueued);
  if (!queued.ok()) return queued.status();
  // Newest first from the store; start the oldest first.
  for (auto it = queued->rbegin(); it != queued->rend(); ++it) {
    DagRun& run = *it;
    auto dag = dags_.find(run.dag_id);
    if (dag == dags_.end() || paused_[run.dag_id]) continue;
    const RunKey key{run.dag_id, run.run_id};
    ForgetRun(key);  // a run cleared while active comes back through the queue
    if (running_runs_by_dag_[run.dag_id] >= dag->second->max_active_runs) continue;
    std::optional<TimePoint> start_date;
    if (!run.start_date) start_date = run.start_date = clock_.Now();
    Status status = store_.SetDagRunState(run.dag_id, run.run_id, RunState::kQueued,
                                          RunState::kRunning, start_date, std::nullopt);
    if (status.code() == Status::Code::kConflict) continue;
    BATON_RETURN_IF_ERROR(status);
    run.state = RunState::kRunning;
    run.end_date.reset();
    BATON_RETURN_IF_ERROR(LoadRunIntoMemory(run));
  }
  return Status::Ok();
}

void Scheduler::ScheduleDueRetries(TimePoint now) {
  std::vector<TaskInstanceKey> due;
  for (const auto& [when, key] : retries_) {
    if (when > now) break;
    due.push_back(key);
  }
  for (const TaskInstanceKey& key : due) {
    ActiveRun* run = FindRun({key.dag_id, key.run_id});
    int index = run ? run->IndexOf(key.task_id) : -1;
    if (index < 0 || run->instance(index).state != TaskState::kUpForRetry) continue;
    TaskInstance updated = run->instance(index);
    updated.state = TaskState::kScheduled;
    updated.next_retry_at.reset();
    Transition(*run, index, std::move(updated));
  }
}

void Scheduler::Sweep() {
  for (auto& [key, run] : runs_) PropagateFrom(*run, run->DecidableInstances());
}

Status Scheduler::Tick() { return NotingStoreTrouble(TickSteps()); }

Status Scheduler::TickSteps() {
  const TimePoint now = clock_.Now();
  auto dags = store_.ListDags();
  if (!dags.ok()) return dags.status();
  for (const DagRecord& record : *dags) paused_[record.dag_id] = record.is_paused;
  if (dispatching_) {
    BATON_RETURN_IF_ERROR(CreateDueRuns(now));
    BATON_RETURN_IF_ERROR(StartQueuedRuns());
  }
  ScheduleDueRetries(now);
  if (!last_orphan_check_ ||
      clock_.Monotonic() - *last_orphan_check_ >= settings_.orphan_check_interval) {
    BATON_RETURN_IF_ERROR(FailOrphanedInstances());
  }
  Sweep();
  return Flush();
}

Status Scheduler::NotingStoreTrouble(Status status) {
  if (!status.ok()) store_trouble_at_ = clock_.Monotonic();
  return status;
}

Result<Scheduler::LiveJobs> Scheduler::FindLiveJobs() {
  LiveJobs live;
  live.ids.insert(settings_.job_id);
  // While this scheduler could not reach the store, nobody else could beat
  // either: heartbeat ages mean nothing until they have had owner_timeout to
  // catch up. Only a process known dead on this host is judged meanwhile.
  const bool ages_tell =
      !store_trouble_at_ || clock_.Monotonic() - *store_trouble_at_ >= settings_.owner_timeout;
  for (const char* kind : kJobKinds) {
    auto jobs = store_.ListRunningJobs(kind);
    if (!jobs.ok()) return jobs.status();
    for (const JobRecord& job : *jobs) {
      if (ages_tell && job.heartbeat_age >= settings_.owner_timeout) continue;
      // On this host a dead process is known at once, without waiting for its
      // heartbeat to age: its pid is gone or now names another process.
      if (job.hostname == settings_.hostname && job.pid > 0 &&
          ProcessStartTicks(job.pid) != job.process_start_ticks) {
        continue;
      }
      live.ids.insert(job.id);
      if (job.kind == kAgentJob) live.agent_names.insert(job.name);
    }
  }
  return live;
}

void Scheduler::AdoptQueued(ActiveRun& run, int index) {
  TaskInstance adopted = run.instance(index);
  spdlog::info("task {} try {} was queued by job {}, which is gone; queueing it again",
               adopted.key.ToString(), adopted.try_number, adopted.owner_job_id);
  adopted.owner_job_id = settings_.job_id;
  adopted.hostname = settings_.hostname;
  Transition(run, index, std::move(adopted));
  to_launch_.push_back({{run.run().dag_id, run.run().run_id}, index});
}

Status Scheduler::FailOrphanedInstances() {
  last_orphan_check_ = clock_.Monotonic();
  const bool workers_record_state = executor_.WorkersRecordState();
  // Workers' changes may have outrun their events: judge owners by the store.
  if (workers_record_state) BATON_RETURN_IF_ERROR(ReconcileWithStore());
  auto live = FindLiveJobs();
  if (!live.ok()) return live.status();
  for (auto& [key, run] : runs_) {
    for (int index = 0; index < run->size(); ++index) {
      if (!run->HasInstance(index)) continue;
      const TaskInstance& instance = run->instance(index);
      if (!IsActive(instance.state) || live->ids.count(instance.owner_job_id) > 0) continue;
      if (workers_record_state && instance.state == TaskState::kQueued) {
        AdoptQueued(*run, index);
        continue;
      }
      if (instance.hostname == settings_.hostname && instance.pid > 0) {
        KillLeftoverProcesses(instance.key, instance.try_number, instance.pid);
      }
      TaskInstance updated = FailedTry(*run, index, std::nullopt);
      spdlog::warn("task {} try {} was left {} by job {}, which is gone; now {}",
                   instance.key.ToString(), instance.try_number, ToString(instance.state),
                   instance.owner_job_id, ToString(updated.state));
      PropagateFrom(*run, Transition(*run, index, std::move(updated)));
    }
  }
  if (workers_record_state && (!last_requeue_check_ || clock_.Monotonic() - *last_requeue_check_ >=
                                                           settings_.requeue_check_interval)) {
    BATON_RETURN_IF_ERROR(EnsureQueuedReachWorkers(live->agent_names));
  }
  return Status::Ok();
}

Status Scheduler::Recover() {
  auto running = RunsInState(RunState::kRunning);
  if (!running.ok()) return running.status();
  for (const DagRun& run : *running) {
    Status loaded = LoadRunIntoMemory(run);
    if (!loaded.ok()) spdlog::warn("{}", loaded.message());
  }
  BATON_RETURN_IF_ERROR(FailOrphanedInstances());
  return Flush();
}

std::optional<TimePoint> Scheduler::NextWakeup() const {
  std::optional<TimePoint> earliest;
  if (!retries_.empty()) earliest = retries_.begin()->first;
  for (const auto& [dag_id, due] : next_due_) {
    if (due && (!earliest || *due < *earliest)) earliest = due;
  }
  return earliest;
}

}  // namespace baton
