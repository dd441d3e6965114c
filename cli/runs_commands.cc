// `baton runs list`: the DAG runs in the store, newest first.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"

namespace baton::cli {
namespace {

struct ListRunsOptions {
  std::string dag_id;
  std::string state;
  bool json = false;
};

Status ListRuns(CliContext& context, const ListRunsOptions& options) {
  RunFilter filter;
  if (!options.dag_id.empty()) filter.dag_id = options.dag_id;
  if (!options.state.empty()) {
    filter.state = ParseRunState(options.state);
    if (!filter.state) {
      return Status::InvalidInput("unknown run state '" + options.state +
                                  "' (expected queued, running, success or failed)");
    }
  }
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto runs = (*store)->ListDagRuns(filter);
  if (!runs.ok()) return runs.status();

  if (options.json) {
    Json out = Json::array();
    for (const DagRun& run : *runs) {
      out.push_back({{"dag_id", run.dag_id},
                     {"run_id", run.run_id},
                     {"state", std::string(ToString(run.state))},
                     {"run_type", std::string(ToString(run.run_type))},
                     {"logical_date", JsonTime(run.logical_date)},
                     {"start_date", JsonTime(run.start_date)},
                     {"end_date", JsonTime(run.end_date)}});
    }
    PrintJson(out);
    return Status::Ok();
  }
  Table table({"DAG_ID", "RUN_ID", "STATE", "LOGICAL_DATE", "START_DATE", "END_DATE"});
  for (const DagRun& run : *runs) {
    table.AddRow({run.dag_id, run.run_id, std::string(ToString(run.state)),
                  FormatIso8601(run.logical_date), TextTime(run.start_date),
                  TextTime(run.end_date)});
  }
  table.Print(std::cout);
  return Status::Ok();
}

}  // namespace

void AddRunsCommands(CLI::App& app, CliContext& context) {
  CLI::App* runs = app.add_subcommand("runs", "DAG runs in the store");
  runs->require_subcommand(1);

  auto options = std::make_shared<ListRunsOptions>();
  CLI::App* list = runs->add_subcommand("list", "DAG runs, newest first");
  list->add_option("--dag", options->dag_id, "Only the runs of this DAG");
  list->add_option("--state", options->state,
                   "Only runs in this state: queued, running, success, failed");
  list->add_flag("--json", options->json, "Print a JSON array");
  OnCommand(list, context, [options](CliContext& c) { return ListRuns(c, *options); });
}

}  // namespace baton::cli
