// `baton dags ...`: list, show and validate DAG files; trigger, pause, unpause
// and backfill DAGs; show when their next runs fall due.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/clock.h"
#include "engine/run_planner.h"

namespace baton::cli {
namespace {

namespace fs = std::filesystem;

std::string ScheduleText(const Dag& dag) {
  return dag.schedule.kind() == Schedule::Kind::kNone ? "none" : dag.schedule.spec();
}

void WarnIfPaused(CliContext& context, const Dag& dag) {
  auto paused = context.IsPaused(dag);
  if (paused.ok() && *paused) {
    PrintWarning("DAG '" + dag.dag_id + "' is paused: its runs wait until `baton dags unpause " +
                 dag.dag_id + "`");
  }
}

struct ListOptions {
  bool json = false;
};

Status ListDags(CliContext& context, const ListOptions& options) {
  auto bag = context.dag_bag();
  if (!bag.ok()) return bag.status();
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto records = (*store)->ListDags();
  if (!records.ok()) return records.status();
  std::map<std::string, bool> paused;
  for (const DagRecord& record : *records) paused[record.dag_id] = record.is_paused;

  Json dags = Json::array();
  Table table({"DAG_ID", "SCHEDULE", "PAUSED", "FILE"});
  for (const auto& [dag_id, dag] : (*bag)->dags()) {
    auto known = paused.find(dag_id);
    const bool is_paused = known != paused.end() ? known->second : dag->paused_on_create;
    const bool scheduled = dag->schedule.kind() != Schedule::Kind::kNone;
    dags.push_back({{"dag_id", dag_id},
                    {"file", dag->file},
                    {"schedule", scheduled ? Json(dag->schedule.spec()) : Json(nullptr)},
                    {"is_paused", is_paused}});
    table.AddRow({dag_id, ScheduleText(*dag), is_paused ? "yes" : "no", dag->file});
  }
  const std::vector<ImportError>& errors = (*bag)->errors();
  if (options.json) {
    Json import_errors = Json::array();
    for (const ImportError& error : errors) {
      import_errors.push_back({{"file", error.file}, {"message", error.message}});
    }
    PrintJson({{"dags", dags}, {"import_errors", import_errors}});
  } else {
    table.Print(std::cout);
    for (const ImportError& error : errors) PrintError(error.message);
  }
  return Status::Ok();
}

Status ShowDag(CliContext& context, const std::string& dag_id) {
  auto found = context.FindDag(dag_id);
  if (!found.ok()) return found.status();
  const Dag& dag = **found;
  Table about({"dag_id", dag.dag_id});
  about.AddRow({"file", dag.file});
  about.AddRow({"schedule", ScheduleText(dag)});
  about.AddRow({"timezone", dag.schedule.time_zone_name()});
  about.AddRow({"start_date", TextTime(dag.start_date)});
  about.AddRow({"end_date", TextTime(dag.end_date)});
  about.AddRow({"catchup", dag.catchup ? "true" : "false"});
  about.AddRow({"max_active_runs", std::to_string(dag.max_active_runs)});
  about.AddRow({"max_active_tasks", std::to_string(dag.max_active_tasks)});
  about.AddRow({"paused_on_create", dag.paused_on_create ? "true" : "false"});
  about.Print(std::cout);
  std::cout << '\n';
  Table tasks({"TASK_ID", "UPSTREAM", "TRIGGER_RULE", "RETRIES", "POOL", "PRIORITY"});
  for (const TaskSpec& task : dag.tasks) {
    tasks.AddRow({task.id,
                  task.upstream.empty() ? "-" : fmt::format("{}", fmt::join(task.upstream, ",")),
                  std::string(ToString(task.trigger_rule)), std::to_string(task.retries), task.pool,
                  std::to_string(task.priority)});
  }
  tasks.Print(std::cout);
  return Status::Ok();
}

// The *.toml files of a folder, sorted, as the scheduler reads them; or the one
// file named.
Result<std::vector<std::string>> DagFilesAt(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    if (fs::exists(path, error)) return std::vector<std::string>{path};
    return Status::InvalidInput("no such file or folder: " + path);
  }
  auto files = ListDagFiles(path);
  if (!files) return Status::IoError("cannot list " + path);
  return *files;
}

Status ValidateDags(CliContext& context, const std::string& path_option) {
  const std::string path = path_option.empty() ? context.config().core.dags_folder : path_option;
  auto files = DagFilesAt(path);
  if (!files.ok()) return files.status();
  if (files->empty()) {
    std::cout << "no DAG files (*.toml) in " << path << '\n';
    return Status::Ok();
  }
  const DagFileContext dag_file_context = context.dag_file_context();
  std::map<std::string, std::string> file_of_dag;
  int invalid = 0;
  for (const std::string& file : *files) {
    auto dag = LoadDagFile(file, dag_file_context);
    if (!dag.ok()) {
      PrintError(dag.status().message());
      ++invalid;
      continue;
    }
    auto [defined, inserted] = file_of_dag.emplace(dag->dag_id, file);
    if (!inserted) {
      PrintError(file + ": dag_id '" + dag->dag_id + "' is already defined in " + defined->second);
      ++invalid;
      continue;
    }
    std::cout << "OK " << file << '\n';
  }
  if (invalid > 0) {
    return Status::InvalidInput(std::to_string(invalid) + " of " + std::to_string(files->size()) +
                                " DAG file(s) are invalid");
  }
  return Status::Ok();
}

// The --conf text as a normalized JSON object.
Result<std::string> ParseConf(const std::string& text) {
  if (text.empty()) return std::string("{}");
  Json conf;
  try {
    conf = Json::parse(text);
  } catch (const Json::parse_error& error) {
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    std::string message = error.what();
    if (auto end = message.find("] "); message.starts_with("[") && end != std::string::npos) {
      message.erase(0, end + 2);
    }
    return Status::InvalidInput("--conf is not valid JSON: " + message);
  }
  if (!conf.is_object()) {
    return Status::InvalidInput(
        "--conf must be a JSON object such as '{\"key\": \"value\"}', got " +
        std::string(conf.type_name()));
  }
  return conf.dump(-1, ' ', false, Json::error_handler_t::replace);
}

struct TriggerOptions {
  std::string dag_id;
  std::optional<std::string> run_id;
  std::string conf;
};

Status TriggerDag(CliContext& context, const TriggerOptions& options) {
  auto conf = ParseConf(options.conf);
  if (!conf.ok()) return conf.status();
  if (options.run_id && options.run_id->empty()) {
    return Status::InvalidInput("--run-id must not be empty");
  }
  auto found = context.FindDag(options.dag_id);
  if (!found.ok()) return found.status();
  const Dag& dag = **found;
  auto store = context.store();
  if (!store.ok()) return store.status();
  BATON_RETURN_IF_ERROR(context.SyncDag(dag));
  auto now = (*store)->Now();
  if (!now.ok()) return now.status();
  const std::string run_id = options.run_id.value_or(MakeRunId(RunType::kManual, *now));
  auto existing = (*store)->GetDagRun(dag.dag_id, run_id);
  if (!existing.ok()) return existing.status();
  if (*existing) {
    return Status::Conflict("DAG '" + dag.dag_id + "' already has a run '" + run_id +
                            "'; choose another --run-id");
  }
  PlannedRun planned = PlanRun(dag, RunType::kManual, run_id, {*now, *now}, *conf);
  auto created = (*store)->CreateDagRun(planned.run, planned.task_instances);
  if (!created.ok()) return created.status();
  if (!*created) {
    return Status::Conflict("DAG '" + dag.dag_id + "' already has a run '" + run_id +
                            "' or a run with logical date " + FormatIso8601(*now));
  }
  WarnIfPaused(context, dag);
  std::cout << run_id << '\n';
  return Status::Ok();
}

Status SetPaused(CliContext& context, const std::string& dag_id, bool paused) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto record = (*store)->GetDag(dag_id);
  if (!record.ok()) return record.status();
  if (!*record) {
    auto found = context.FindDag(dag_id);
    if (!found.ok()) return found.status();
    BATON_RETURN_IF_ERROR(context.SyncDag(**found));
  }
  BATON_RETURN_IF_ERROR((*store)->SetDagPaused(dag_id, paused));
  std::cout << "DAG " << dag_id << (paused ? " paused" : " unpaused") << '\n';
  return Status::Ok();
}

struct NextRunOptions {
  std::string dag_id;
  int count = 1;
};

Status NextRuns(CliContext& context, const NextRunOptions& options) {
  auto found = context.FindDag(options.dag_id);
  if (!found.ok()) return found.status();
  const Dag& dag = **found;
  if (dag.schedule.kind() == Schedule::Kind::kNone) {
    PrintWarning("DAG '" + dag.dag_id + "' has no schedule: it runs only when triggered");
    return Status::Ok();
  }
  if (!dag.start_date) {
    PrintWarning("DAG '" + dag.dag_id + "' has no start_date: it is never scheduled");
    return Status::Ok();
  }
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto latest = (*store)->LatestScheduledLogicalDate(dag.dag_id);
  if (!latest.ok()) return latest.status();
  for (const DataInterval& interval :
       UpcomingIntervals(dag, *latest, DefaultClock().Now(), options.count)) {
    std::cout << FormatIso8601(interval.start) << '\n';
  }
  return Status::Ok();
}

struct BackfillOptions {
  std::string dag_id;
  std::string start;
  std::string end;
  bool dry_run = false;
};

Status Backfill(CliContext& context, const BackfillOptions& options) {
  auto start = ParseIso8601(options.start);
  if (!start.ok()) return start.status().WithContext("--start");
  auto end = ParseIso8601(options.end);
  if (!end.ok()) return end.status().WithContext("--end");
  if (*start > *end) {
    return Status::InvalidInput("--start " + FormatIso8601(*start) + " is after --end " +
                                FormatIso8601(*end));
  }
  auto found = context.FindDag(options.dag_id);
  if (!found.ok()) return found.status();
  const Dag& dag = **found;
  if (dag.schedule.kind() != Schedule::Kind::kCron) {
    return Status::InvalidInput("DAG '" + dag.dag_id + "' has schedule '" + ScheduleText(dag) +
                                "': only a cron schedule or preset has intervals to backfill");
  }
  const std::vector<DataInterval> intervals = BackfillIntervals(dag, *start, *end);
  if (intervals.empty()) {
    std::cout << "no interval of DAG " << dag.dag_id << " starts between " << FormatIso8601(*start)
              << " and " << FormatIso8601(*end) << '\n';
    return Status::Ok();
  }
  if (options.dry_run) {
    for (const DataInterval& interval : intervals) {
      std::cout << FormatIso8601(interval.start) << ' ' << FormatIso8601(interval.end) << '\n';
    }
    return Status::Ok();
  }

  auto store = context.store();
  if (!store.ok()) return store.status();
  BATON_RETURN_IF_ERROR(context.SyncDag(dag));
  RunFilter filter;
  filter.dag_id = dag.dag_id;
  auto runs = (*store)->ListDagRuns(filter);
  if (!runs.ok()) return runs.status();
  std::map<TimePoint, std::string> run_at;
  for (const DagRun& run : *runs) run_at[run.logical_date] = run.run_id;

  int created_count = 0;
  for (const DataInterval& interval : intervals) {
    const std::string logical_date = FormatIso8601(interval.start);
    if (auto existing = run_at.find(interval.start); existing != run_at.end()) {
      std::cout << "skipped " << logical_date << ": run " << existing->second
                << " has that logical date\n";
      continue;
    }
    PlannedRun planned = PlanRun(dag, RunType::kBackfill,
                                 MakeRunId(RunType::kBackfill, interval.start), interval, "{}");
    auto created = (*store)->CreateDagRun(planned.run, planned.task_instances);
    if (!created.ok()) return created.status();
    if (!*created) {
      std::cout << "skipped " << logical_date << ": run " << planned.run.run_id
                << " or another run with that logical date exists\n";
      continue;
    }
    std::cout << "created " << planned.run.run_id << '\n';
    ++created_count;
  }
  std::cout << created_count << " of " << intervals.size() << " backfill run(s) created\n";
  if (created_count > 0) WarnIfPaused(context, dag);
  return Status::Ok();
}

}  // namespace

void AddDagsCommands(CLI::App& app, CliContext& context) {
  CLI::App* dags = app.add_subcommand("dags", "List, check, trigger and pause DAGs");
  dags->require_subcommand(1);

  auto list_options = std::make_shared<ListOptions>();
  CLI::App* list = dags->add_subcommand(
      "list", "The DAGs of the dags folder with their pause flags, and the files that do not load");
  list->add_flag("--json", list_options->json,
                 "Print JSON: {\"dags\": [...], \"import_errors\": [...]}");
  OnCommand(list, context, [list_options](CliContext& c) { return ListDags(c, *list_options); });

  auto show_dag_id = std::make_shared<std::string>();
  CLI::App* show = dags->add_subcommand("show", "A DAG's settings and its tasks in order");
  show->add_option("DAG_ID", *show_dag_id, "The DAG")->required();
  OnCommand(show, context, [show_dag_id](CliContext& c) { return ShowDag(c, *show_dag_id); });

  auto validate_path = std::make_shared<std::string>();
  CLI::App* validate = dags->add_subcommand(
      "validate", "Check DAG files without touching the store; exit status 2 if any is invalid");
  validate->add_option("FILE_OR_DIR", *validate_path,
                       "A DAG file, or a folder of *.toml files (default: the dags folder)");
  OnCommand(validate, context,
            [validate_path](CliContext& c) { return ValidateDags(c, *validate_path); });

  auto trigger_options = std::make_shared<TriggerOptions>();
  CLI::App* trigger =
      dags->add_subcommand("trigger", "Create a manual run of a DAG now and print its run id");
  trigger->add_option("DAG_ID", trigger_options->dag_id, "The DAG")->required();
  trigger->add_option("--run-id", trigger_options->run_id,
                      "The run id (default: manual__<logical date>)");
  trigger->add_option("--conf", trigger_options->conf,
                      "A JSON object handed to the tasks as BATON_CONF");
  OnCommand(trigger, context,
            [trigger_options](CliContext& c) { return TriggerDag(c, *trigger_options); });

  auto pause_dag_id = std::make_shared<std::string>();
  CLI::App* pause = dags->add_subcommand("pause", "Stop scheduling a DAG's runs and tasks");
  pause->add_option("DAG_ID", *pause_dag_id, "The DAG")->required();
  OnCommand(pause, context,
            [pause_dag_id](CliContext& c) { return SetPaused(c, *pause_dag_id, true); });

  auto unpause_dag_id = std::make_shared<std::string>();
  CLI::App* unpause = dags->add_subcommand("unpause", "Resume scheduling a DAG");
  unpause->add_option("DAG_ID", *unpause_dag_id, "The DAG")->required();
  OnCommand(unpause, context,
            [unpause_dag_id](CliContext& c) { return SetPaused(c, *unpause_dag_id, false); });

  auto next_run_options = std::make_shared<NextRunOptions>();
  CLI::App* next_run = dags->add_subcommand(
      "next-run",
      "The logical dates (ISO 8601, UTC) of the DAG's next scheduled runs, one per line");
  next_run->add_option("DAG_ID", next_run_options->dag_id, "The DAG")->required();
  next_run->add_option("-n", next_run_options->count, "How many (default 1)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  OnCommand(next_run, context,
            [next_run_options](CliContext& c) { return NextRuns(c, *next_run_options); });

  auto backfill_options = std::make_shared<BackfillOptions>();
  CLI::App* backfill = dags->add_subcommand(
      "backfill",
      "Create a backfill run for each schedule interval whose logical date lies in [start, end]");
  backfill->add_option("DAG_ID", backfill_options->dag_id, "The DAG")->required();
  backfill
      ->add_option("--start", backfill_options->start,
                   "The first logical date, e.g. 2026-01-01 or 2026-01-01T06:00:00Z")
      ->required();
  backfill->add_option("--end", backfill_options->end, "The last logical date")->required();
  backfill->add_flag("--dry-run", backfill_options->dry_run,
                     "Print the intervals (start end), create nothing");
  OnCommand(backfill, context,
            [backfill_options](CliContext& c) { return Backfill(c, *backfill_options); });
}

}  // namespace baton::cli
