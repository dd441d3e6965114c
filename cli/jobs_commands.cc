// `baton jobs check`: is a scheduler alive, by its heartbeat in the store? The
// failover controller and health checks ask this through the exit status.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "common/host.h"

namespace baton::cli {
namespace {

struct CheckOptions {
  bool local = false;
};

std::string DescribeJob(const JobRecord& job) {
  return "scheduler job " + std::to_string(job.id) + " on " + job.hostname + " (pid " +
         std::to_string(job.pid) + "), last heartbeat " + FormatDuration(job.heartbeat_age) +
         " ago";
}

Status CheckJobs(CliContext& context, const CheckOptions& options) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto jobs = (*store)->ListRunningJobs("scheduler");
  if (!jobs.ok()) return jobs.status();
  const Duration threshold = context.config().scheduler.health_threshold;
  const std::string host = HostName();
  int alive = 0;
  std::string stale;
  for (const JobRecord& job : *jobs) {
    if (options.local && job.hostname != host) continue;
    if (job.heartbeat_age < threshold) {
      std::cout << "alive: " << DescribeJob(job) << '\n';
      ++alive;
    } else {
      stale += "\n  " + DescribeJob(job);
    }
  }
  if (alive > 0) return Status::Ok();
  return Status::Unavailable("no scheduler job" + (options.local ? " on " + host : std::string()) +
                             " has a heartbeat newer than health_threshold (" +
                             FormatDuration(threshold) + ")" +
                             (stale.empty() ? "" : "; stale ones:" + stale));
}

}  // namespace

void AddJobsCommands(CLI::App& app, CliContext& context) {
  CLI::App* jobs = app.add_subcommand("jobs", "The daemons recorded in the store");
  jobs->require_subcommand(1);

  auto options = std::make_shared<CheckOptions>();
  CLI::App* check = jobs->add_subcommand(
      "check",
      "Exit 0 when a scheduler's heartbeat is newer than scheduler.health_threshold, 1 otherwise");
  check->add_flag("--local", options->local, "Only a scheduler on this host");
  OnCommand(check, context, [options](CliContext& c) { return CheckJobs(c, *options); });
}

}  // namespace baton::cli
