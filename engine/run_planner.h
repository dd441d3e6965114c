// Which runs a DAG is due, and how a new run and its task instances look. Shared
// by the scheduler (scheduled runs), `dags trigger` and `dags backfill`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/time.h"
#include "engine/dag.h"
#include "engine/store.h"

namespace baton {

// The data intervals of scheduled runs due at `now`, oldest first, after the run
// with `latest_logical_date` (none: the DAG's first). Without catchup only the
// latest complete interval is due, and only if it is newer than the latest run.
// At most `max_count` intervals.
std::vector<DataInterval> DueIntervals(const Dag& dag, std::optional<TimePoint> latest_logical_date,
                                       TimePoint now, int max_count);

// The data intervals of the DAG's next `count` scheduled runs after the run with
// `latest_logical_date`, due or not: without catchup the first is the latest
// interval complete at `now` (older ones are never run).
std::vector<DataInterval> UpcomingIntervals(const Dag& dag,
                                            std::optional<TimePoint> latest_logical_date,
                                            TimePoint now, int count);

// The instant the next scheduled run falls due, if any.
std::optional<TimePoint> NextDueTime(const Dag& dag, std::optional<TimePoint> latest_logical_date);

// The data intervals whose logical date lies in [start, end], for a backfill.
std::vector<DataInterval> BackfillIntervals(const Dag& dag, TimePoint start, TimePoint end);

// "scheduled__2026-11-23T00:00:00Z", "manual__…", "backfill__…".
std::string MakeRunId(RunType type, TimePoint logical_date);

struct PlannedRun {
  DagRun run;
  std::vector<TaskInstance> task_instances;
};

// A queued run with one task instance (state none) per task.
PlannedRun PlanRun(const Dag& dag, RunType type, const std::string& run_id,
                   const DataInterval& interval, const std::string& conf_json);

}  // namespace baton
