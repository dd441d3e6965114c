// The command groups of `baton`, one file each, and the one way they attach a
// command to a CLI11 subcommand. Only the cli/*.cc files include CLI11.
#pragma once

#include "cli/cli_context.h"

namespace CLI {
class App;
}

namespace baton::cli {

void AddDbCommands(CLI::App& app, CliContext& context);
void AddDagsCommands(CLI::App& app, CliContext& context);
void AddRunsCommands(CLI::App& app, CliContext& context);
void AddTasksCommands(CLI::App& app, CliContext& context);
void AddJobsCommands(CLI::App& app, CliContext& context);
void AddSchedulerCommand(CLI::App& app, CliContext& context);
void AddAgentCommand(CLI::App& app, CliContext& context);
void AddFailoverCommands(CLI::App& app, CliContext& context);
void AddConfigCommands(CLI::App& app, CliContext& context);

// Makes `command` what `baton` runs, once the whole command line has parsed,
// when `subcommand` is the one given.
void OnCommand(CLI::App* subcommand, CliContext& context, Command command,
               LogMode mode = LogMode::kWarningsToStderr);

}  // namespace baton::cli
