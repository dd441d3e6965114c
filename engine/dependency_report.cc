// The reasoning behind `baton tasks failed-deps`. It mirrors the order of the
// scheduler's own decisions: a finished or active task needs nothing; otherwise
// the run must be running and the DAG unpaused, the trigger rule must be met or
// the retry wait over, and then a slot must be free in the pool, in the DAG's
// max_active_tasks and in the global parallelism.
#include "engine/dependency_report.h"

#include <fmt/format.h>

#include "engine/trigger_rule.h"

namespace baton {
namespace {

const TaskInstance* FindInstance(const std::vector<TaskInstance>& instances,
                                 const std::string& task_id) {
  for (const TaskInstance& instance : instances) {
    if (instance.key.task_id == task_id) return &instance;
  }
  return nullptr;
}

bool HoldsSlot(TaskState state) {
  return state == TaskState::kQueued || state == TaskState::kRunning;
}

// Reasons that hold back every task of the run, not only this one.
void ExplainRun(const Dag& dag, const DependencyFacts& facts, std::vector<std::string>* reasons) {
  if (facts.dag_paused) {
    reasons->push_back("DAG '" + dag.dag_id +
                       "' is paused: nothing of it is queued until `baton dags unpause " +
                       dag.dag_id + "`");
  }
  if (facts.run.state != RunState::kQueued) return;
  if (facts.running_runs >= dag.max_active_runs) {
    reasons->push_back("run '" + facts.run.run_id + "' is still queued: DAG '" + dag.dag_id +
                       "' has " + std::to_string(facts.running_runs) +
                       " running run(s) (max_active_runs = " + std::to_string(dag.max_active_runs) +
                       ")");
  } else {
    reasons->push_back("run '" + facts.run.run_id +
                       "' is still queued: the scheduler has not started it yet (is it running? "
                       "`baton jobs check`)");
  }
}

// Adds why the trigger rule does not let the task run yet; returns whether it does.
bool ExplainUpstream(const TaskSpec& task, const DependencyFacts& facts,
                     std::vector<std::string>* reasons) {
  UpstreamTally tally;
  tally.total = static_cast<int>(task.upstream.size());
  std::vector<std::string> unfinished;
  std::vector<std::string> all;
  for (const std::string& upstream_id : task.upstream) {
    const TaskInstance* upstream = FindInstance(facts.run_instances, upstream_id);
    const std::string state =
        upstream ? std::string(ToString(upstream->state)) : "no instance in this run";
    const std::string described = "'" + upstream_id + "' (" + state + ")";
    all.push_back(described);
    if (upstream && IsFinished(upstream->state)) {
      tally.Add(upstream->state);
    } else {
      unfinished.push_back(described);
    }
  }
  const std::string rule = "trigger rule " + std::string(ToString(task.trigger_rule));
  switch (EvaluateTriggerRule(task.trigger_rule, tally)) {
    case TriggerDecision::kRun:
      return true;
    case TriggerDecision::kWait:
      reasons->push_back("waiting for upstream tasks to finish (" + rule +
                         "): " + fmt::format("{}", fmt::join(unfinished, ", ")));
      break;
    case TriggerDecision::kSkip:
      reasons->push_back(rule + " is not met by its upstream tasks, so it will be skipped: " +
                         fmt::format("{}", fmt::join(all, ", ")));
      break;
    case TriggerDecision::kUpstreamFailed:
      reasons->push_back(rule +
                         " is not met by its upstream tasks, so it will be marked "
                         "upstream_failed: " +
                         fmt::format("{}", fmt::join(all, ", ")));
      break;
  }
  return false;
}

// Adds every limit that leaves no slot for the instance.
void ExplainSlots(const Dag& dag, const TaskInstance& instance, const DependencyFacts& facts,
                  std::vector<std::string>* reasons) {
  int in_total = 0;
  int in_pool = 0;
  int in_dag = 0;
  for (const TaskInstance& active : facts.active_instances) {
    if (!HoldsSlot(active.state)) continue;
    ++in_total;
    if (active.pool == instance.pool) ++in_pool;
    if (active.key.dag_id == dag.dag_id) ++in_dag;
  }
  auto slots = facts.pools.find(instance.pool);
  if (slots == facts.pools.end()) {
    reasons->push_back("pool '" + instance.pool +
                       "' is not configured in baton.toml: nothing in it is queued");
  } else if (in_pool >= slots->second) {
    reasons->push_back("pool '" + instance.pool + "' is full: " + std::to_string(in_pool) + "/" +
                       std::to_string(slots->second) + " slots in use");
  }
  if (in_dag >= dag.max_active_tasks) {
    reasons->push_back("max_active_tasks reached: " + std::to_string(in_dag) +
                       " task instances of DAG '" + dag.dag_id +
                       "' are queued or running (max_active_tasks = " +
                       std::to_string(dag.max_active_tasks) + ")");
  }
  if (in_total >= facts.parallelism) {
    reasons->push_back("parallelism reached: " + std::to_string(in_total) +
                       " task instances are queued or running (core.parallelism = " +
                       std::to_string(facts.parallelism) + ")");
  }
}

}  // namespace

Result<std::vector<std::string>> ExplainWhyNotRunning(const Dag& dag, const DependencyFacts& facts,
                                                      const std::string& task_id) {
  const int index = dag.TaskIndex(task_id);
  if (index < 0)
    return Status::InvalidInput("DAG '" + dag.dag_id + "' has no task '" + task_id + "'");
  const TaskInstance* instance = FindInstance(facts.run_instances, task_id);
  if (instance == nullptr) {
    return Status::NotFound("run '" + facts.run.run_id + "' of DAG '" + dag.dag_id +
                            "' has no instance of task '" + task_id +
                            "' (the task was added after the run was created)");
  }
  const std::string try_text = "try " + std::to_string(instance->try_number);
  std::vector<std::string> reasons;
  if (IsFinished(instance->state)) {
    reasons.push_back("task '" + task_id +
                      "' already finished: " + std::string(ToString(instance->state)) +
                      " (`baton tasks clear` runs it again)");
    return reasons;
  }
  if (instance->state == TaskState::kRunning) {
    reasons.push_back("task '" + task_id + "' is already running: " + try_text + " on " +
                      instance->hostname + ", pid " + std::to_string(instance->pid));
    return reasons;
  }
  if (instance->state == TaskState::kQueued) {
    reasons.push_back("task '" + task_id + "' is already queued: " + try_text +
                      " was handed to the executor and has not started yet");
    return reasons;
  }
  if (IsFinished(facts.run.state)) {
    reasons.push_back("run '" + facts.run.run_id + "' is finished (" +
                      std::string(ToString(facts.run.state)) + "): nothing in it is scheduled");
    return reasons;
  }

  ExplainRun(dag, facts, &reasons);
  bool ready = true;
  if (instance->state == TaskState::kNone) {
    ready = ExplainUpstream(dag.tasks[index], facts, &reasons);
  } else if (instance->state == TaskState::kUpForRetry && instance->next_retry_at &&
             *instance->next_retry_at > facts.now) {
    reasons.push_back("waiting for retry: " + try_text + " failed; the next try starts at " +
                      FormatIso8601(*instance->next_retry_at));
    ready = false;
  }
  if (ready) ExplainSlots(dag, *instance, facts, &reasons);
  return reasons;
}

}  // namespace baton
