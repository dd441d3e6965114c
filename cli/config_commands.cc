// `baton config check` and `baton config reference`: validate a baton.toml
// before a daemon reads it, and print the reference of every key.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "config/config_reference.h"

namespace baton::cli {
namespace {

// CliContext has loaded the file before any command runs, so a mistake has
// already ended the command with its FILE:LINE:COL and exit status 2.
Status CheckConfig(CliContext& context) {
  if (!context.config_file_exists()) {
    return Status::InvalidInput(context.config_path() +
                                " does not exist (`baton db init` writes a default one)");
  }
  std::cout << context.config_path() << ": ok\n";
  return Status::Ok();
}

Status PrintReference(CliContext&) {
  std::cout << ConfigReferenceMarkdown();
  return Status::Ok();
}

}  // namespace

void AddConfigCommands(CLI::App& app, CliContext& context) {
  CLI::App* config = app.add_subcommand("config", "Check baton.toml and describe its keys");
  config->require_subcommand(1);

  OnCommand(config->add_subcommand(
                "check",
                "Load baton.toml (or --config FILE) and print FILE: ok, or the first mistake "
                "as FILE:LINE:COL with exit status 2"),
            context, CheckConfig);
  OnCommand(config->add_subcommand(
                "reference", "Print every key of baton.toml as Markdown (docs/configuration.md)"),
            context, PrintReference);
}

}  // namespace baton::cli
