// `baton scheduler`: the scheduler daemon in the foreground. It handles SIGTERM
// and SIGINT itself and logs where baton.toml's [logging] says. A failover
// controller starts it with --epoch, --node and --pidfile.
#include <CLI/CLI.hpp>
#include <limits>
#include <memory>

#include "cli/commands.h"
#include "engine/scheduler_daemon.h"
#include "failover/node_commands.h"

namespace baton::cli {

void AddSchedulerCommand(CLI::App& app, CliContext& context) {
  auto options = std::make_shared<SchedulerDaemonOptions>();
  auto epoch = std::make_shared<int64_t>(0);
  CLI::App* scheduler = app.add_subcommand(
      "scheduler", "Run the scheduler daemon in the foreground until SIGTERM or SIGINT");
  scheduler
      ->add_option("--num-runs", options->num_ticks,
                   "Stop after this many scheduling loops (default: run until signalled)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  CLI::Option* epoch_option =
      scheduler
          ->add_option("--epoch", *epoch,
                       "Serve this failover lease epoch: refuse to start unless it is the "
                       "lease's, and exit once a newer one exists")
          ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  scheduler->add_option("--node", options->node,
                        "The failover node this scheduler runs on (default: failover.node_name "
                        "or the host name, when failover.nodes is set)");
  scheduler->add_option("--pidfile", options->pidfile,
                        "Write \"PID START_TICKS\" here while running");
  OnCommand(
      scheduler, context,
      [options, epoch, epoch_option](CliContext& c) {
        SchedulerDaemonOptions chosen = *options;
        if (epoch_option->count() > 0) chosen.epoch = *epoch;
        if (chosen.node.empty() && !c.config().failover.nodes.empty()) {
          chosen.node = CurrentNodeName(c.config());
        }
        return RunSchedulerDaemon(c.config(), chosen);
      },
      LogMode::kConfigured);
}

}  // namespace baton::cli
