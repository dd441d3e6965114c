// `baton jobs check`: is a scheduler alive, by its heartbeat in the store? The
// failover controller and health checks ask this through the exit status.
// `baton jobs list`: the daemons (schedulers, agents) that have not ended, each
// alive or stale by its heartbeat (a daemon killed with -9 never ends its row).
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/host.h"

namespace baton::cli {
namespace {

struct CheckOptions {
  bool local = false;
};

struct ListOptions {
  std::string kind;  // empty: every kind
  bool json = false;
};

Status ListJobs(CliContext& context, const ListOptions& options) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  std::vector<JobRecord> listed;
  for (const char* kind : kJobKinds) {
    if (!options.kind.empty() && options.kind != kind) continue;
    auto jobs = (*store)->ListRunningJobs(kind);
    if (!jobs.ok()) return jobs.status();
    listed.insert(listed.end(), jobs->begin(), jobs->end());
  }
  // The threshold the scheduler judges agents by, and `jobs check` schedulers.
  const Duration threshold = context.config().scheduler.health_threshold;
  auto state_of = [&](const JobRecord& job) {
    return job.heartbeat_age < threshold ? "alive" : "stale";
  };
  if (options.json) {
    Json out = Json::array();
    for (const JobRecord& job : listed) {
      out.push_back({{"id", job.id},
                     {"kind", job.kind},
                     {"state", state_of(job)},
                     {"name", job.name},
                     {"hostname", job.hostname},
                     {"pid", job.pid},
                     {"queues", job.queues},
                     {"running", job.running_count},
                     {"endpoint", job.endpoint},
                     {"start_date", JsonTime(job.start_date)},
                     {"latest_heartbeat", JsonTime(job.latest_heartbeat)},
                     {"heartbeat_age_ms", job.heartbeat_age.count()}});
    }
    PrintJson(out);
    return Status::Ok();
  }
  Table table({"ID", "KIND", "STATE", "NAME", "HOST", "PID", "QUEUES", "RUNNING", "HEARTBEAT AGE"});
  for (const JobRecord& job : listed) {
    table.AddRow({std::to_string(job.id), job.kind, state_of(job),
                  job.name.empty() ? "-" : job.name, job.hostname, std::to_string(job.pid),
                  job.queues.empty() ? "-" : job.queues, std::to_string(job.running_count),
                  FormatDuration(job.heartbeat_age)});
  }
  table.Print(std::cout);
  return Status::Ok();
}

std::string DescribeJob(const JobRecord& job) {
  return "scheduler job " + std::to_string(job.id) + " on " + job.hostname + " (pid " +
         std::to_string(job.pid) + "), last heartbeat " + FormatDuration(job.heartbeat_age) +
         " ago";
}

Status CheckJobs(CliContext& context, const CheckOptions& options) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto jobs = (*store)->ListRunningJobs(kSchedulerJob);
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

  auto list_options = std::make_shared<ListOptions>();
  CLI::App* list = jobs->add_subcommand("list", "The schedulers and agents that have not ended");
  list->add_option("--kind", list_options->kind, "Only jobs of this kind")
      ->check(CLI::IsMember({kSchedulerJob, kAgentJob}));
  list->add_flag("--json", list_options->json, "Print a JSON array");
  OnCommand(list, context, [list_options](CliContext& c) { return ListJobs(c, *list_options); });

  auto options = std::make_shared<CheckOptions>();
  CLI::App* check = jobs->add_subcommand(
      "check",
      "Exit 0 when a scheduler's heartbeat is newer than scheduler.health_threshold, 1 otherwise");
  check->add_flag("--local", options->local, "Only a scheduler on this host");
  OnCommand(check, context, [options](CliContext& c) { return CheckJobs(c, *options); });
}

}  // namespace baton::cli
