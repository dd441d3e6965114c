// `baton agent`: a worker daemon in the foreground. It takes task messages from
// Redis queues, runs them, records them in the store, and serves task logs and
// health over HTTP. It handles SIGTERM and SIGINT itself and logs where
// baton.toml's [logging] says.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent_daemon.h"
#include "cli/commands.h"

namespace baton::cli {
namespace {

// "q1, q2" -> {"q1", "q2"}; empty names are kept, for the daemon to refuse.
std::vector<std::string> SplitQueues(const std::string& text) {
  std::vector<std::string> queues;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string queue = text.substr(start, comma == std::string::npos ? comma : comma - start);
    const size_t first = queue.find_first_not_of(' ');
    const size_t last = queue.find_last_not_of(' ');
    queues.push_back(first == std::string::npos ? "" : queue.substr(first, last - first + 1));
    if (comma == std::string::npos) return queues;
    start = comma + 1;
  }
}

struct AgentCommandOptions {
  std::string queues;
  int concurrency = 0;
  std::string name;
  CLI::Option* queues_option = nullptr;
  CLI::Option* concurrency_option = nullptr;
  CLI::Option* name_option = nullptr;

  // Only what was given on the command line overrides baton.toml.
  AgentDaemonOptions ToDaemonOptions() const {
    AgentDaemonOptions options;
    if (queues_option->count() > 0) options.queues = SplitQueues(queues);
    if (concurrency_option->count() > 0) options.concurrency = concurrency;
    if (name_option->count() > 0) options.name = name;
    return options;
  }
};

}  // namespace

void AddAgentCommand(CLI::App& app, CliContext& context) {
  auto options = std::make_shared<AgentCommandOptions>();
  CLI::App* agent = app.add_subcommand(
      "agent",
      "Run a worker in the foreground until SIGTERM or SIGINT: it takes tasks from Redis "
      "queues, runs them and records them in the store");
  options->queues_option =
      agent->add_option("--queues", options->queues,
                        "Comma-separated queues to take tasks from (default: agent.queues)");
  options->concurrency_option = agent
                                    ->add_option("--concurrency", options->concurrency,
                                                 "Tasks run at once (default: agent.concurrency)")
                                    ->check(CLI::Range(1, 4096));
  options->name_option = agent->add_option(
      "--name", options->name,
      "This agent's name, unique in the cluster (default: agent.name, or the host name)");
  OnCommand(
      agent, context,
      [options](CliContext& c) { return RunAgentDaemon(c.config(), options->ToDaemonOptions()); },
      LogMode::kConfigured);
}

}  // namespace baton::cli
