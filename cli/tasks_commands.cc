// `baton tasks ...`: the task instances of one run: their states, their logs,
// clearing them to run again, and why one is not running. A log that is not on
// this host is fetched from the log server of the agent that ran the try.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/log_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/host.h"
#include "engine/dependency_report.h"
#include "engine/task_launch.h"

namespace baton::cli {
namespace {

struct RunOptions {
  std::string dag_id;
  std::string run_id;
};

void AddRunArguments(CLI::App* command, RunOptions& options) {
  command->add_option("DAG_ID", options.dag_id, "The DAG")->required();
  command->add_option("RUN_ID", options.run_id, "The run (see `baton runs list`)")->required();
}

Result<DagRun> FindRun(Store& store, const RunOptions& options) {
  auto run = store.GetDagRun(options.dag_id, options.run_id);
  if (!run.ok()) return run.status();
  if (!*run) {
    return Status::NotFound("DAG '" + options.dag_id + "' has no run '" + options.run_id +
                            "' (see `baton runs list --dag " + options.dag_id + "`)");
  }
  return **run;
}

Result<std::vector<TaskInstance>> RunInstances(CliContext& context, const RunOptions& options) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto run = FindRun(**store, options);
  if (!run.ok()) return run.status();
  return (*store)->ListTaskInstances(options.dag_id, options.run_id);
}

// Puts the instances in the DAG's task order (upstream before downstream) when
// its file loads; they stay in the store's order otherwise.
void SortInTaskOrder(CliContext& context, const std::string& dag_id,
                     std::vector<TaskInstance>* instances) {
  auto dag = context.FindDag(dag_id);
  if (!dag.ok()) return;
  auto position = [&](const TaskInstance& instance) {
    const int index = (*dag)->TaskIndex(instance.key.task_id);
    return index < 0 ? static_cast<int>((*dag)->tasks.size()) : index;
  };
  std::stable_sort(
      instances->begin(), instances->end(),
      [&](const TaskInstance& a, const TaskInstance& b) { return position(a) < position(b); });
}

struct StatesOptions {
  RunOptions run;
  bool json = false;
};

Status ShowStates(CliContext& context, const StatesOptions& options) {
  auto instances = RunInstances(context, options.run);
  if (!instances.ok()) return instances.status();
  SortInTaskOrder(context, options.run.dag_id, &*instances);
  if (options.json) {
    Json out = Json::array();
    for (const TaskInstance& instance : *instances) {
      out.push_back(
          {{"task_id", instance.key.task_id},
           {"state", std::string(ToString(instance.state))},
           {"try_number", instance.try_number},
           {"start_date", JsonTime(instance.start_date)},
           {"end_date", JsonTime(instance.end_date)},
           {"exit_code", instance.exit_code ? Json(*instance.exit_code) : Json(nullptr)}});
    }
    PrintJson(out);
    return Status::Ok();
  }
  Table table({"TASK_ID", "STATE", "TRY", "START_DATE", "END_DATE", "EXIT_CODE"});
  for (const TaskInstance& instance : *instances) {
    table.AddRow({instance.key.task_id, std::string(ToString(instance.state)),
                  std::to_string(instance.try_number), TextTime(instance.start_date),
                  TextTime(instance.end_date),
                  instance.exit_code ? std::to_string(*instance.exit_code) : "-"});
  }
  table.Print(std::cout);
  return Status::Ok();
}

struct LogOptions {
  RunOptions run;
  std::string task_id;
  int try_number = 0;  // 0: the instance's current try
};

// How long `tasks log` waits for an agent's log server.
constexpr Duration kLogFetchTimeout = std::chrono::seconds(10);

std::string DescribeJobForLog(const JobRecord& job) {
  std::string text = job.kind == kAgentJob ? "agent '" + job.name + "'" : job.kind;
  text += " (job " + std::to_string(job.id) + ") on " + job.hostname;
  if (!job.endpoint.empty()) text += " at " + job.endpoint;
  return text;
}

// The log of a try whose file is not on this host, from the log server of the
// agent that ran it: the instance's owner for its current try, otherwise an
// agent running on the host the try ran on. Nullopt when the try wrote nothing:
// that agent has no file for it, or it ran on this host, whose file was looked
// for already (a log file is made at a try's first byte of output).
Result<std::optional<std::string>> FetchLogFromAgent(Store& store, const TaskInstance& instance,
                                                     int try_number) {
  std::string host = try_number == instance.try_number ? instance.hostname : std::string();
  std::vector<JobRecord> servers;
  std::string not_serving;
  if (try_number == instance.try_number && instance.owner_job_id != 0) {
    auto owner = store.GetJob(instance.owner_job_id);
    if (!owner.ok()) return owner.status();
    if (*owner && !(*owner)->endpoint.empty()) {
      servers.push_back(**owner);
    } else if (*owner) {
      not_serving = DescribeJobForLog(**owner) + " serves no logs";
      host = (*owner)->hostname;
    }
  }
  if (servers.empty()) {
    auto tries = store.ListTaskTries(instance.key);
    if (!tries.ok()) return tries.status();
    for (const TaskTry& task_try : *tries) {
      if (task_try.try_number == try_number) host = task_try.hostname;
    }
    if (host.empty()) return Status::NotFound("the store does not say on which host it ran");
    auto agents = store.ListRunningJobs(kAgentJob);
    if (!agents.ok()) return agents.status();
    for (const JobRecord& agent : *agents) {
      if (agent.hostname == host && !agent.endpoint.empty()) servers.push_back(agent);
    }
  }
  if (servers.empty() && host == HostName()) return std::optional<std::string>();
  if (servers.empty()) {
    return Status::NotFound("it ran on " + host + ", where no running agent serves logs" +
                            (not_serving.empty() ? "" : " (" + not_serving + ")") +
                            ": read it on that host");
  }
  std::string errors;
  bool none_there = false;
  for (const JobRecord& server : servers) {
    auto log = FetchTaskLog(server.endpoint, instance.key, try_number, kLogFetchTimeout);
    if (log.ok()) return std::optional<std::string>(std::move(log).value());
    none_there = none_there || log.status().code() == Status::Code::kNotFound;
    errors +=
        (errors.empty() ? "" : "; ") + DescribeJobForLog(server) + ": " + log.status().message();
  }
  if (none_there) return std::optional<std::string>();
  return Status::Unavailable("it ran on " + host + ", and " + errors);
}

Status ShowLog(CliContext& context, const LogOptions& options) {
  auto instances = RunInstances(context, options.run);
  if (!instances.ok()) return instances.status();
  const TaskInstance* instance = nullptr;
  for (const TaskInstance& candidate : *instances) {
    if (candidate.key.task_id == options.task_id) instance = &candidate;
  }
  if (instance == nullptr) {
    return Status::NotFound("run '" + options.run.run_id + "' of DAG '" + options.run.dag_id +
                            "' has no task '" + options.task_id + "'");
  }
  const int try_number = options.try_number > 0 ? options.try_number : instance->try_number;
  // The try number grows as a try is queued: the current one has not started
  // while it is queued.
  const bool not_started =
      try_number == instance->try_number && instance->state == TaskState::kQueued;
  if (try_number > instance->try_number) {
    return Status::NotFound("task " + instance->key.ToString() + " has no try " +
                            std::to_string(try_number) + " (its latest is try " +
                            std::to_string(instance->try_number) + ")");
  }
  if (try_number == 0 || not_started) {
    return Status::NotFound(
        "task " + instance->key.ToString() +
        (try_number == 0 ? " has not run yet"
                         : " has not started try " + std::to_string(try_number)) +
        " (state " + std::string(ToString(instance->state)) + "), so it has no log");
  }
  const std::string path =
      TaskLogPath(context.config().core.logs_folder, instance->key, try_number);
  std::ifstream log(path, std::ios::binary);
  if (!log) {
    // Not on this host: the agent that ran it may serve it.
    auto store = context.store();
    if (!store.ok()) return store.status();
    auto fetched = FetchLogFromAgent(**store, *instance, try_number);
    if (fetched.ok() && *fetched) {
      std::cout << **fetched << std::flush;
      return Status::Ok();
    }
    if (fetched.ok()) {
      std::cerr << "try " << try_number << " of task " << instance->key.ToString()
                << " wrote no output: it has no log file\n";
      return Status::Ok();
    }
    const std::string problem = "no log of try " + std::to_string(try_number) + " of task " +
                                instance->key.ToString() + ": " + path + " is not on this host; " +
                                fetched.status().message();
    return fetched.status().code() == Status::Code::kUnavailable ? Status::Unavailable(problem)
                                                                 : Status::NotFound(problem);
  }
  char buffer[1 << 16];
  while (log.read(buffer, sizeof buffer) || log.gcount() > 0) std::cout.write(buffer, log.gcount());
  if (log.bad()) return Status::IoError("cannot read " + path);
  return Status::Ok();
}

struct ClearOptions {
  RunOptions run;
  std::vector<std::string> task_ids;  // empty: all
};

// The named tasks and everything downstream of them, in the DAG's task order.
Result<std::vector<std::string>> TasksToClear(const Dag& dag,
                                              const std::vector<std::string>& task_ids) {
  std::vector<bool> selected(dag.tasks.size(), task_ids.empty());
  std::vector<int> pending;
  for (const std::string& task_id : task_ids) {
    const int index = dag.TaskIndex(task_id);
    if (index < 0)
      return Status::InvalidInput("DAG '" + dag.dag_id + "' has no task '" + task_id + "'");
    pending.push_back(index);
  }
  const std::vector<std::vector<int>> downstream = dag.DownstreamIndexes();
  while (!pending.empty()) {
    const int index = pending.back();
    pending.pop_back();
    if (selected[index]) continue;
    selected[index] = true;
    pending.insert(pending.end(), downstream[index].begin(), downstream[index].end());
  }
  std::vector<std::string> ids;
  for (size_t i = 0; i < dag.tasks.size(); ++i) {
    if (selected[i]) ids.push_back(dag.tasks[i].id);
  }
  return ids;
}

Status ClearTasks(CliContext& context, const ClearOptions& options) {
  auto dag = context.FindDag(options.run.dag_id);
  if (!dag.ok()) return dag.status();
  auto task_ids = TasksToClear(**dag, options.task_ids);
  if (!task_ids.ok()) return task_ids.status();
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto run = FindRun(**store, options.run);
  if (!run.ok()) return run.status();
  auto cleared = (*store)->ClearTaskInstances(options.run.dag_id, options.run.run_id, *task_ids);
  if (!cleared.ok()) return cleared.status();
  std::cout << "cleared " << *cleared << " of " << task_ids->size() << " task instance(s) of run "
            << options.run.run_id << " of DAG " << options.run.dag_id;
  if (*cleared < static_cast<int>(task_ids->size())) {
    std::cout << " (only finished ones are cleared; queued, running and waiting ones are left "
                 "alone)";
  }
  std::cout << '\n';
  return Status::Ok();
}

struct FailedDepsOptions {
  RunOptions run;
  std::string task_id;
};

Status ShowFailedDeps(CliContext& context, const FailedDepsOptions& options) {
  auto dag = context.FindDag(options.run.dag_id);
  if (!dag.ok()) return dag.status();
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto run = FindRun(**store, options.run);
  if (!run.ok()) return run.status();

  DependencyFacts facts;
  facts.run = *run;
  auto run_instances = (*store)->ListTaskInstances(options.run.dag_id, options.run.run_id);
  if (!run_instances.ok()) return run_instances.status();
  facts.run_instances = std::move(run_instances).value();
  auto active_instances = (*store)->ListTaskInstancesOfActiveRuns();
  if (!active_instances.ok()) return active_instances.status();
  facts.active_instances = std::move(active_instances).value();
  RunFilter running;
  running.dag_id = options.run.dag_id;
  running.state = RunState::kRunning;
  auto running_runs = (*store)->ListDagRuns(running);
  if (!running_runs.ok()) return running_runs.status();
  facts.running_runs = static_cast<int>(running_runs->size());
  auto paused = context.IsPaused(**dag);
  if (!paused.ok()) return paused.status();
  facts.dag_paused = *paused;
  facts.parallelism = context.config().core.parallelism;
  facts.pools = context.config().pools;
  // The scheduler sets retry times by its host's clock; compare with the same kind.
  facts.now = DefaultClock().Now();

  auto reasons = ExplainWhyNotRunning(**dag, facts, options.task_id);
  if (!reasons.ok()) return reasons.status();
  if (reasons->empty()) {
    std::cout << "nothing holds back task " << options.task_id
              << ": the scheduler should queue it on its next pass (is one running? `baton jobs "
                 "check`)\n";
    return Status::Ok();
  }
  for (const std::string& reason : *reasons) std::cout << "- " << reason << '\n';
  return Status::Ok();
}

}  // namespace

void AddTasksCommands(CLI::App& app, CliContext& context) {
  CLI::App* tasks = app.add_subcommand("tasks", "The task instances of a DAG run");
  tasks->require_subcommand(1);

  auto states_options = std::make_shared<StatesOptions>();
  CLI::App* states = tasks->add_subcommand("states", "The state of each task instance of a run");
  AddRunArguments(states, states_options->run);
  states->add_flag("--json", states_options->json, "Print a JSON array");
  OnCommand(states, context,
            [states_options](CliContext& c) { return ShowStates(c, *states_options); });

  auto log_options = std::make_shared<LogOptions>();
  CLI::App* log = tasks->add_subcommand("log", "Print the log of one try of a task instance");
  AddRunArguments(log, log_options->run);
  log->add_option("TASK_ID", log_options->task_id, "The task")->required();
  log->add_option("--try", log_options->try_number, "The try (default: the latest)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  OnCommand(log, context, [log_options](CliContext& c) { return ShowLog(c, *log_options); });

  auto clear_options = std::make_shared<ClearOptions>();
  CLI::App* clear = tasks->add_subcommand(
      "clear",
      "Reset finished task instances and all their downstream tasks so that they run again "
      "(all tasks when none is named)");
  AddRunArguments(clear, clear_options->run);
  clear->add_option("TASK_ID", clear_options->task_ids, "Tasks to clear, with their downstream");
  OnCommand(clear, context,
            [clear_options](CliContext& c) { return ClearTasks(c, *clear_options); });

  auto failed_deps_options = std::make_shared<FailedDepsOptions>();
  CLI::App* failed_deps =
      tasks->add_subcommand("failed-deps", "Why a task instance is not running");
  AddRunArguments(failed_deps, failed_deps_options->run);
  failed_deps->add_option("TASK_ID", failed_deps_options->task_id, "The task")->required();
  OnCommand(failed_deps, context, [failed_deps_options](CliContext& c) {
    return ShowFailedDeps(c, *failed_deps_options);
  });
}

}  // namespace baton::cli
