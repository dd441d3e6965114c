// ActiveRun: the scheduler's in-memory picture of one queued or running DAG run:
// its task instances as last persisted, and for each task a tally of how its
// upstream tasks finished, so that a finishing task re-evaluates only its own
// downstream tasks instead of the whole run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/dag.h"
#include "engine/store.h"
#include "engine/trigger_rule.h"

namespace baton {

class ActiveRun {
 public:
  // `task_instances` may come in any order; instances of tasks the DAG no longer
  // has are kept out of the picture.
  ActiveRun(std::shared_ptr<const Dag> dag, DagRun run, std::vector<TaskInstance> task_instances);

  const Dag& dag() const { return *dag_; }
  const std::shared_ptr<const Dag>& dag_ptr() const { return dag_; }
  DagRun& run() { return run_; }
  const DagRun& run() const { return run_; }

  int size() const { return static_cast<int>(task_instances_.size()); }
  // Index of a task (as in dag().tasks), or -1; a task without an instance is -1 too.
  int IndexOf(const std::string& task_id) const;
  bool HasInstance(int index) const { return present_[index]; }
  TaskInstance& instance(int index) { return task_instances_[index]; }
  const TaskInstance& instance(int index) const { return task_instances_[index]; }
  const TaskSpec& spec(int index) const { return dag_->tasks[index]; }

  // Records a new state of one instance (already persisted). When it is a
  // finished state, its downstream tallies count it and the downstream indexes
  // are returned for re-evaluation.
  std::vector<int> SetState(int index, TaskState state);

  // What the task's trigger rule says now, given its upstreams' finished states.
  TriggerDecision Evaluate(int index) const;

  // Instances in state none whose trigger rule is decided, in task order.
  std::vector<int> DecidableInstances() const;

  int unfinished_count() const { return unfinished_; }
  // The run's final state from its leaf tasks; meaningful once nothing is unfinished.
  RunState FinalState() const;

 private:
  void RebuildTallies();

  std::shared_ptr<const Dag> dag_;
  DagRun run_;
  std::vector<TaskInstance> task_instances_;  // by task index
  std::vector<bool> present_;
  std::vector<UpstreamTally> tallies_;
  std::vector<std::vector<int>> downstream_;
  int unfinished_ = 0;
};

}  // namespace baton
