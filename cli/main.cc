// The `baton` command: one binary, subcommands wired to the libraries. This file
// owns the global options and the exit status: 0 on success, 1 when an
// operation failed, 2 on bad usage or bad input.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <utility>

#include "cli/cli_context.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace baton::cli {

void OnCommand(CLI::App* subcommand, CliContext& context, Command command, LogMode mode) {
  subcommand->callback(
      [&context, command = std::move(command), mode] { context.SetCommand(command, mode); });
}

namespace {

constexpr int kUsageExitCode = 2;

int Main(int argc, char** argv) {
  CliContext context;
  std::string config_option;
  CLI::App app{"Baton: a workflow scheduler with a failover controller.", "baton"};
  app.set_version_flag("--version", std::string("baton ") + BATON_VERSION);
  app.add_option("--config", config_option,
                 "The baton.toml to read (default: $BATON_HOME/baton.toml, where BATON_HOME "
                 "defaults to ~/baton; a missing default file means all defaults)")
      ->envname("BATON_CONFIG");
  app.require_subcommand(1);
  // Global options may come after the subcommand: `baton dags list --config x`.
  app.fallthrough();

  AddDbCommands(app, context);
  AddDagsCommands(app, context);
  AddRunsCommands(app, context);
  AddTasksCommands(app, context);
  AddJobsCommands(app, context);
  AddSchedulerCommand(app, context);
  AddAgentCommand(app, context);
  AddFailoverCommands(app, context);
  AddConfigCommands(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version come this way too, with a success exit code.
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);
    PrintError(std::string(error.what()) + "\nRun with --help for usage.");
    return kUsageExitCode;
  }
  const Status status = context.RunCommand(config_option);
  if (!status.ok()) PrintError(status.message());
  return ExitCodeFor(status);
}

}  // namespace
}  // namespace baton::cli

int main(int argc, char** argv) {
  // Commands report failures as Status values; an exception reaching here is a
  // library's (CLI11, nlohmann, the standard library) and still ends cleanly.
  try {
    return baton::cli::Main(argc, argv);
  } catch (const std::exception& error) {
    baton::cli::PrintError(std::string("internal error: ") + error.what());
    return 1;
  }
}
