// `baton failover ...`: the failover controller daemon and the commands that
// set it up, watch it and steer it. The read-only views are in failover_views.cc.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "cli/failover_views.h"
#include "common/host.h"
#include "common/pidfile.h"
#include "failover/alerts.h"
#include "failover/controller.h"
#include "failover/node_commands.h"

namespace baton::cli {
namespace {

// Adds this host to baton.toml: fills an empty `nodes = []` of an existing
// [failover] section (the default file has one), or appends a section.
Status InitFailover(CliContext& context) {
  const std::string& path = context.config_path();
  if (!context.config_file_exists()) {
    return Status::NotFound(path + " does not exist: run `baton db init` first");
  }
  const Config& config = context.config();
  const std::string node = CurrentNodeName(config);
  if (!config.failover.nodes.empty()) {
    std::string listed;
    for (const std::string& name : config.failover.nodes) listed += " " + name;
    std::cout << path << " already lists failover nodes:" << listed << '\n';
    return Status::Ok();
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string contents = text.str();
  const std::string nodes_line = "nodes = [\"" + node + "\"]";
  static const std::regex kEmptyNodes(R"((^|\n)(\[failover\][^\[]*?\n)nodes\s*=\s*\[\s*\])");
  std::smatch match;
  if (std::regex_search(contents, match, kEmptyNodes)) {
    contents.replace(match.position(0), match.length(0),
                     match[1].str() + match[2].str() + nodes_line);
  } else if (contents.find("\n[failover]") != std::string::npos ||
             contents.starts_with("[failover]")) {
    return Status::InvalidInput(path +
                                ": the [failover] section has no `nodes = []` line to fill; "
                                "add `" +
                                nodes_line + "` to it by hand");
  } else {
    contents += "\n[failover]\n" + nodes_line + "\n";
  }
  // Written next to the file and renamed over it: never half a config.
  const std::string temporary = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << contents;
    if (!out.flush()) return Status::IoError("cannot write " + temporary);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return Status::IoError("cannot replace " + path);
  }
  std::cout << "added failover node " << node << " to " << path
            << "; list every master there, on every master\n";
  return Status::Ok();
}

Status Promote(CliContext& context, const std::string& node) {
  BATON_RETURN_IF_ERROR(CheckNodeListed(context.config(), node));
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto lease = (*store)->GetLease();
  if (!lease.ok()) return lease.status();
  BATON_RETURN_IF_ERROR((*store)->SetPromoteTo(node));
  FailoverEvent event{0,
                      {},
                      CurrentNodeName(context.config()),
                      lease->epoch,
                      kEventPromote,
                      "switchover to " + node + " requested"};
  BATON_RETURN_IF_ERROR((*store)->RecordFailoverEvent(event));
  std::cout << "switchover to " << node << " requested; the active controller ("
            << (lease->holder.empty() ? "none" : lease->holder)
            << ") hands over at its next check\n";
  return Status::Ok();
}

Status SetMaintenance(CliContext& context, const std::string& mode) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  const bool on = mode == "on";
  BATON_RETURN_IF_ERROR((*store)->SetMaintenance(on));
  auto lease = (*store)->GetLease();
  FailoverEvent event{0,
                      {},
                      CurrentNodeName(context.config()),
                      lease.ok() ? lease->epoch : 0,
                      kEventMaintenance,
                      std::string("maintenance ") + (on ? "on" : "off")};
  BATON_RETURN_IF_ERROR((*store)->RecordFailoverEvent(event));
  std::cout << "maintenance " << mode
            << (on ? ": the active controller keeps the lease and leaves the scheduler alone\n"
                   : ": the active controller watches the scheduler again\n");
  return Status::Ok();
}

Status ClearMetadata(CliContext& context, bool yes) {
  if (!yes) {
    return Status::InvalidInput(
        "clear_metadata forgets the lease holder, the scheduler node and the failover history; "
        "stop every controller first and run it again with --yes");
  }
  auto store = context.store();
  if (!store.ok()) return store.status();
  BATON_RETURN_IF_ERROR((*store)->ClearFailoverMetadata());
  std::cout << "failover metadata cleared (the epoch is kept, so fencing still holds)\n";
  return Status::Ok();
}

Status SendTestMessage(CliContext& context) {
  const std::string node = CurrentNodeName(context.config());
  BATON_RETURN_IF_ERROR(
      SendTestEmail(context.config().alerts, node).WithContext(context.config().source_path));
  std::cout << "test email sent to";
  for (const std::string& to : context.config().alerts.email_to) std::cout << ' ' << to;
  std::cout << '\n';
  return Status::Ok();
}

Result<PidfileEntry> RunningScheduler(const std::string& pidfile) {
  auto entry = ReadPidfile(pidfile);
  if (!entry.ok()) return entry.status();
  if (!*entry || !IsRunning(**entry)) {
    return Status::Unavailable("no scheduler runs here (pidfile " + pidfile + ")");
  }
  return **entry;
}

Status CheckLocalScheduler(const std::string& pidfile) {
  auto running = RunningScheduler(pidfile);
  if (!running.ok()) return running.status();
  std::cout << "scheduler running, pid " << running->pid << '\n';
  return Status::Ok();
}

// SIGTERM, then SIGKILL after `grace`: the pid is only signalled while its start
// time still matches the pidfile, so a reused pid is never hit.
Status StopLocalScheduler(const std::string& pidfile, Duration grace) {
  auto running = RunningScheduler(pidfile);
  if (!running.ok()) {
    std::cout << running.status().message() << '\n';
    return Status::Ok();
  }
  kill(running->pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (IsRunning(*running)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(running->pid, SIGKILL);
      std::cout << "scheduler pid " << running->pid << " killed after " << FormatDuration(grace)
                << '\n';
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cout << "scheduler pid " << running->pid << " stopped\n";
  return Status::Ok();
}

struct LocalSchedulerOptions {
  std::string pidfile;
  std::string grace_text;  // empty: the scheduler's kill_grace_period and 5 s for its own exit
};

void AddLocalSchedulerCommands(CLI::App& failover, CliContext& context) {
  CLI::App* local = failover.add_subcommand(
      "local_scheduler", "Check or stop the scheduler of this machine by its pidfile");
  local->group("");  // run by the controller's default commands, not by people
  local->require_subcommand(1);
  auto options = std::make_shared<LocalSchedulerOptions>();
  local->add_option("--pidfile", options->pidfile, "Default: failover.pidfile of this node");
  local->fallthrough();
  auto pidfile_of = [options](CliContext& c) {
    return options->pidfile.empty() ? PidfileFor(c.config(), CurrentNodeName(c.config()))
                                    : options->pidfile;
  };
  CLI::App* check = local->add_subcommand("check", "Exit 0 when the scheduler's process runs");
  OnCommand(check, context,
            [pidfile_of](CliContext& c) { return CheckLocalScheduler(pidfile_of(c)); });
  CLI::App* stop = local->add_subcommand("stop", "SIGTERM the scheduler, SIGKILL after a grace");
  stop->add_option("--grace", options->grace_text,
                   "Default: scheduler.kill_grace_period plus 5s, so its tasks get their grace");
  OnCommand(stop, context, [options, pidfile_of](CliContext& c) {
    Duration grace = c.config().scheduler.kill_grace_period + std::chrono::seconds(5);
    if (!options->grace_text.empty()) {
      auto parsed = ParseDuration(options->grace_text);
      if (!parsed.ok()) return Status::InvalidInput("--grace: " + parsed.status().message());
      grace = *parsed;
    }
    return StopLocalScheduler(pidfile_of(c), grace);
  });
}

}  // namespace

void AddFailoverCommands(CLI::App& app, CliContext& context) {
  CLI::App* failover = app.add_subcommand(
      "failover", "The failover controller: one active scheduler in the cluster");
  failover->require_subcommand(1);

  OnCommand(failover->add_subcommand("init", "Add this host to [failover] nodes in baton.toml"),
            context, InitFailover);
  OnCommand(failover->add_subcommand("get_current_host", "Print this controller's node name"),
            context, [](CliContext& c) {
              std::cout << CurrentNodeName(c.config()) << '\n';
              return Status::Ok();
            });
  OnCommand(failover->add_subcommand(
                "test_connection",
                "Reach the store and every listed master (over SSH); non-zero if any fails"),
            context, TestConnections);

  auto node = std::make_shared<std::string>();
  CLI::App* running = failover->add_subcommand(
      "is_scheduler_running", "Whether a scheduler runs on NODE (default: on each listed node)");
  running->add_option("node", *node, "A node of failover.nodes");
  OnCommand(running, context, [node](CliContext& c) { return CheckSchedulerRunning(c, *node); });

  auto json = std::make_shared<bool>(false);
  CLI::App* metadata = failover->add_subcommand(
      "metadata", "The lease, the controllers and schedulers, and the last events");
  metadata->add_flag("--json", *json, "Print JSON");
  OnCommand(metadata, context, [json](CliContext& c) { return ShowFailoverMetadata(c, *json); });
  CLI::App* status =
      failover->add_subcommand("status", "This node's role and the scheduler's health");
  status->add_flag("--json", *json, "Print JSON");
  OnCommand(status, context, [json](CliContext& c) { return ShowFailoverStatus(c, *json); });

  auto yes = std::make_shared<bool>(false);
  CLI::App* clear = failover->add_subcommand(
      "clear_metadata", "Forget the lease holder, scheduler node and history (keeps the epoch)");
  clear->add_flag("--yes", *yes, "Really clear");
  OnCommand(clear, context, [yes](CliContext& c) { return ClearMetadata(c, *yes); });

  OnCommand(failover->add_subcommand("send_test_email", "Send a test message to alerts.email_to"),
            context, SendTestMessage);
  OnCommand(
      failover->add_subcommand("start", "Run the failover controller in the foreground"), context,
      [](CliContext& c) { return RunFailoverController(c.config()); }, LogMode::kConfigured);

  auto target = std::make_shared<std::string>();
  CLI::App* promote =
      failover->add_subcommand("promote", "Move the scheduler to NODE now (a planned switchover)");
  promote->add_option("node", *target, "A node of failover.nodes")->required();
  OnCommand(promote, context, [target](CliContext& c) { return Promote(c, *target); });

  auto mode = std::make_shared<std::string>();
  CLI::App* maintenance = failover->add_subcommand(
      "maintenance", "on: the active controller keeps the lease but leaves the scheduler alone");
  maintenance->add_option("mode", *mode, "on or off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  OnCommand(maintenance, context, [mode](CliContext& c) { return SetMaintenance(c, *mode); });

  AddLocalSchedulerCommands(*failover, context);
}

}  // namespace baton::cli
