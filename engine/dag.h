// The DAG model: what a DAG file declares, after parsing and validation. A Dag is
// immutable once built; the scheduler shares it between runs.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/time.h"
#include "config/config.h"
#include "engine/schedule.h"
#include "engine/trigger_rule.h"

namespace baton {

inline constexpr const char* kDefaultQueue = "default";

struct TaskSpec {
  std::string id;
  std::string command;  // run by /bin/sh -c after placeholders are rendered
  std::vector<std::string> upstream;
  TriggerRule trigger_rule = TriggerRule::kAllSuccess;
  int retries = 0;
  Duration retry_delay = std::chrono::minutes(5);
  bool retry_exponential_backoff = false;
  std::optional<Duration> max_retry_delay;
  std::optional<Duration> timeout;
  std::string pool = kDefaultPool;
  int priority = 1;  // higher runs first among ready tasks
  std::string queue = kDefaultQueue;
  std::map<std::string, std::string> env;
  std::string cwd;  // empty: the scheduler's working directory

  // Wait before try `next_try` (2, 3, ...), with backoff and cap as configured.
  Duration RetryDelayBefore(int next_try) const;
};

struct Dag {
  std::string dag_id;
  std::string file;  // the DAG file it came from
  Schedule schedule;
  std::optional<TimePoint> start_date;
  std::optional<TimePoint> end_date;
  bool catchup = false;
  int max_active_runs = 16;
  int max_active_tasks = 16;
  bool paused_on_create = false;
  // In topological order: every task comes after all of its upstream tasks.
  std::vector<TaskSpec> tasks;

  // Index of a task in `tasks`, or -1. Constant time once IndexTasks() has run
  // on the final `tasks` (the DAG file parser does it); a linear search before.
  int TaskIndex(const std::string& task_id) const;
  void IndexTasks();
  // For each task index, the indexes of its downstream tasks.
  std::vector<std::vector<int>> DownstreamIndexes() const;
  // Tasks no other task depends on; a run's state is decided by them.
  std::vector<int> LeafIndexes() const;

 private:
  std::unordered_map<std::string, int> index_by_id_;
};

}  // namespace baton
