// What one try of a task needs to run, built the same way for every executor:
// the rendered command, the BATON_* environment, the per-try log file.
#pragma once

#include <string>

#include "engine/dag.h"
#include "engine/executor.h"
#include "engine/store.h"

namespace baton {

// logs_folder/DAG_ID/RUN_ID/TASK_ID/TRY.log
std::string TaskLogPath(const std::string& logs_folder, const TaskInstanceKey& key,
                        int try_number);

// The environment holds BATON_DAG_ID, BATON_TASK_ID, BATON_RUN_ID,
// BATON_LOGICAL_DATE, BATON_DS, BATON_TRY_NUMBER, BATON_CONF (the run's conf as
// JSON) and BATON_CONF_<KEY> for each top-level scalar of it, then the task's env.
TaskLaunch BuildTaskLaunch(const Dag& dag, const TaskSpec& task, const DagRun& run,
                           int try_number, const std::string& logs_folder);

}  // namespace baton
