#include "engine/run_planner.h"

#include <algorithm>

namespace baton {
namespace {

bool WithinEndDate(const Dag& dag, TimePoint logical_date) {
  return !dag.end_date || logical_date <= *dag.end_date;
}

}  // namespace

std::vector<DataInterval> UpcomingIntervals(const Dag& dag,
                                            std::optional<TimePoint> latest_logical_date,
                                            TimePoint now, int count) {
  std::vector<DataInterval> upcoming;
  if (!dag.start_date) return upcoming;
  const TimePoint start_date = *dag.start_date;
  std::optional<TimePoint> previous = latest_logical_date;
  if (!dag.catchup && dag.schedule.kind() == Schedule::Kind::kCron) {
    auto complete = dag.schedule.LatestCompleteInterval(now, start_date);
    if (complete && (!previous || complete->start > *previous) &&
        WithinEndDate(dag, complete->start)) {
      upcoming.push_back(*complete);
      previous = complete->start;
    }
  }
  while (static_cast<int>(upcoming.size()) < count) {
    auto next = dag.schedule.NextInterval(previous, start_date);
    if (!next || !WithinEndDate(dag, next->start)) break;
    upcoming.push_back(*next);
    previous = next->start;
  }
  return upcoming;
}

std::vector<DataInterval> DueIntervals(const Dag& dag, std::optional<TimePoint> latest_logical_date,
                                       TimePoint now, int max_count) {
  std::vector<DataInterval> due = UpcomingIntervals(dag, latest_logical_date, now, max_count);
  auto not_yet_due = std::find_if(due.begin(), due.end(),
                                  [&](const DataInterval& interval) { return interval.end > now; });
  due.erase(not_yet_due, due.end());
  return due;
}

std::optional<TimePoint> NextDueTime(const Dag& dag, std::optional<TimePoint> latest_logical_date) {
  if (!dag.start_date) return std::nullopt;
  auto next = dag.schedule.NextInterval(latest_logical_date, *dag.start_date);
  if (!next || !WithinEndDate(dag, next->start)) return std::nullopt;
  return next->end;
}

std::vector<DataInterval> BackfillIntervals(const Dag& dag, TimePoint start, TimePoint end) {
  std::vector<DataInterval> intervals;
  if (dag.schedule.kind() != Schedule::Kind::kCron) return intervals;
  std::optional<TimePoint> previous;
  for (;;) {
    auto next = dag.schedule.NextInterval(previous, start);
    if (!next || next->start > end) break;
    intervals.push_back(*next);
    previous = next->start;
  }
  return intervals;
}

std::string MakeRunId(RunType type, TimePoint logical_date) {
  return std::string(ToString(type)) + "__" + FormatIso8601(logical_date);
}

PlannedRun PlanRun(const Dag& dag, RunType type, const std::string& run_id,
                   const DataInterval& interval, const std::string& conf_json) {
  PlannedRun planned;
  planned.run.dag_id = dag.dag_id;
  planned.run.run_id = run_id;
  planned.run.state = RunState::kQueued;
  planned.run.run_type = type;
  planned.run.logical_date = interval.start;
  planned.run.data_interval_start = interval.start;
  planned.run.data_interval_end = interval.end;
  planned.run.conf_json = conf_json.empty() ? "{}" : conf_json;
  planned.task_instances.reserve(dag.tasks.size());
  for (const TaskSpec& task : dag.tasks) {
    TaskInstance instance;
    instance.key = {dag.dag_id, run_id, task.id};
    instance.pool = task.pool;
    instance.priority = task.priority;
    instance.queue = task.queue;
    planned.task_instances.push_back(std::move(instance));
  }
  return planned;
}

}  // namespace baton
