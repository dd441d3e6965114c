// Why a task instance is not running: the checks the scheduler makes before it
// queues a task (run state, pause flag, upstream tasks and trigger rule, retry
// wait, pool slots, max_active_tasks, parallelism), restated as sentences for
// `baton tasks failed-deps`. Pure: the caller reads the facts from the store and
// the configuration, so the reasoning is testable without either.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "engine/dag.h"
#include "engine/store.h"

namespace baton {

// What the scheduler would look at when deciding about one run's tasks.
struct DependencyFacts {
  DagRun run;
  std::vector<TaskInstance> run_instances;     // every task instance of `run`
  std::vector<TaskInstance> active_instances;  // of every queued or running run
  int running_runs = 0;                        // runs of the DAG in state running
  bool dag_paused = false;
  int parallelism = 32;
  std::map<std::string, int> pools;  // slots by pool name, as configured
  TimePoint now;
};

// The reasons why `task_id` of facts.run is not running, one sentence each,
// those about the run first. Empty when nothing holds it back: the scheduler
// should queue it on its next pass. InvalidInput when the DAG has no such task,
// NotFound when the run has no instance of it.
Result<std::vector<std::string>> ExplainWhyNotRunning(const Dag& dag, const DependencyFacts& facts,
                                                      const std::string& task_id);

}  // namespace baton
