// `baton scheduler`: the scheduler daemon in the foreground. It handles SIGTERM
// and SIGINT itself and logs where baton.toml's [logging] says.
#include <CLI/CLI.hpp>
#include <limits>
#include <memory>

#include "cli/commands.h"
#include "engine/scheduler_daemon.h"

namespace baton::cli {

void AddSchedulerCommand(CLI::App& app, CliContext& context) {
  auto options = std::make_shared<SchedulerDaemonOptions>();
  CLI::App* scheduler = app.add_subcommand(
      "scheduler", "Run the scheduler daemon in the foreground until SIGTERM or SIGINT");
  scheduler
      ->add_option("--num-runs", options->num_ticks,
                   "Stop after this many scheduling loops (default: run until signalled)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  OnCommand(
      scheduler, context,
      [options](CliContext& c) { return RunSchedulerDaemon(c.config(), *options); },
      LogMode::kConfigured);
}

}  // namespace baton::cli
