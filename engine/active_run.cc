#include "engine/active_run.h"

namespace baton {

ActiveRun::ActiveRun(std::shared_ptr<const Dag> dag, DagRun run,
                     std::vector<TaskInstance> task_instances)
    : dag_(std::move(dag)), run_(std::move(run)) {
  const size_t count = dag_->tasks.size();
  task_instances_.resize(count);
  present_.assign(count, false);
  for (auto& instance : task_instances) {
    int index = dag_->TaskIndex(instance.key.task_id);
    if (index < 0) continue;
    present_[index] = true;
    task_instances_[index] = std::move(instance);
  }
  downstream_ = dag_->DownstreamIndexes();
  RebuildTallies();
}

void ActiveRun::RebuildTallies() {
  tallies_.assign(task_instances_.size(), UpstreamTally{});
  unfinished_ = 0;
  for (int index = 0; index < size(); ++index) {
    tallies_[index].total = static_cast<int>(dag_->tasks[index].upstream.size());
  }
  for (int index = 0; index < size(); ++index) {
    // A task missing from an older run counts as skipped for its downstreams.
    TaskState state = present_[index] ? task_instances_[index].state : TaskState::kSkipped;
    if (present_[index] && !IsFinished(state)) ++unfinished_;
    if (!IsFinished(state)) continue;
    for (int downstream : downstream_[index]) tallies_[downstream].Add(state);
  }
}

int ActiveRun::IndexOf(const std::string& task_id) const {
  int index = dag_->TaskIndex(task_id);
  return (index >= 0 && present_[index]) ? index : -1;
}

std::vector<int> ActiveRun::SetState(int index, TaskState state) {
  TaskInstance& instance = task_instances_[index];
  const bool was_finished = IsFinished(instance.state);
  instance.state = state;
  if (was_finished || !IsFinished(state)) {
    if (was_finished && !IsFinished(state)) RebuildTallies();  // a cleared task
    return {};
  }
  --unfinished_;
  for (int downstream : downstream_[index]) tallies_[downstream].Add(state);
  return downstream_[index];
}

TriggerDecision ActiveRun::Evaluate(int index) const {
  return EvaluateTriggerRule(dag_->tasks[index].trigger_rule, tallies_[index]);
}

std::vector<int> ActiveRun::DecidableInstances() const {
  std::vector<int> decidable;
  for (int index = 0; index < size(); ++index) {
    if (present_[index] && task_instances_[index].state == TaskState::kNone &&
        Evaluate(index) != TriggerDecision::kWait) {
      decidable.push_back(index);
    }
  }
  return decidable;
}

RunState ActiveRun::FinalState() const {
  for (int leaf : dag_->LeafIndexes()) {
    if (!present_[leaf]) continue;
    TaskState state = task_instances_[leaf].state;
    if (state == TaskState::kFailed || state == TaskState::kUpstreamFailed)
      return RunState::kFailed;
  }
  return RunState::kSuccess;
}

}  // namespace baton
