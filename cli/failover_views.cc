#include "cli/failover_views.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

#include "cli/output.h"
#include "engine/mysql_url.h"
#include "failover/node_commands.h"

namespace baton::cli {
namespace {

constexpr int kHistoryShown = 10;

struct ClusterView {
  Lease lease;
  std::vector<JobRecord> controllers;
  std::vector<JobRecord> schedulers;
  std::vector<FailoverEvent> events;
};

Result<ClusterView> ReadCluster(Store& store, int history) {
  ClusterView view;
  auto lease = store.GetLease();
  if (!lease.ok()) return lease.status();
  view.lease = std::move(lease).value();
  auto controllers = store.ListRunningJobs(kControllerJob);
  if (!controllers.ok()) return controllers.status();
  view.controllers = std::move(controllers).value();
  auto schedulers = store.ListRunningJobs(kSchedulerJob);
  if (!schedulers.ok()) return schedulers.status();
  view.schedulers = std::move(schedulers).value();
  auto events = store.ListFailoverEvents(history);
  if (!events.ok()) return events.status();
  view.events = std::move(events).value();
  return view;
}

bool LeaseHeld(const Lease& lease) { return !lease.holder.empty() && lease.remaining.count() > 0; }

Json LeaseJson(const Lease& lease) {
  return {{"holder", lease.holder},
          {"holder_job_id", lease.holder_job_id},
          {"epoch", lease.epoch},
          {"held", LeaseHeld(lease)},
          {"expires_at", JsonTime(lease.expires_at)},
          {"remaining_ms", lease.remaining.count()},
          {"scheduler_node", lease.scheduler_node},
          {"promote_to", lease.promote_to},
          {"maintenance", lease.maintenance}};
}

Json JobJson(const JobRecord& job, Duration threshold) {
  return {{"id", job.id},
          {"node", job.name},
          {"hostname", job.hostname},
          {"pid", job.pid},
          {"start_date", JsonTime(job.start_date)},
          {"heartbeat_age_ms", job.heartbeat_age.count()},
          {"healthy", job.heartbeat_age < threshold}};
}

Json EventJson(const FailoverEvent& event) {
  return {{"at", JsonTime(event.at)},
          {"node", event.node},
          {"epoch", event.epoch},
          {"kind", event.kind},
          {"message", event.message}};
}

void PrintJobs(const std::string& title, const std::vector<JobRecord>& jobs, Duration threshold) {
  std::cout << title << ":\n";
  if (jobs.empty()) std::cout << "  none\n";
  Table table({"  NODE", "HOST", "PID", "JOB", "HEARTBEAT AGE", "HEALTHY"});
  for (const JobRecord& job : jobs) {
    table.AddRow({"  " + (job.name.empty() ? "-" : job.name), job.hostname, std::to_string(job.pid),
                  std::to_string(job.id), FormatDuration(job.heartbeat_age),
                  job.heartbeat_age < threshold ? "yes" : "no"});
  }
  if (!jobs.empty()) table.Print(std::cout);
}

std::string DescribeLease(const Lease& lease) {
  if (lease.holder.empty()) return "nobody holds it (epoch " + std::to_string(lease.epoch) + ")";
  std::string text = lease.holder + ", epoch " + std::to_string(lease.epoch) + ", ";
  text += LeaseHeld(lease) ? "expires in " + FormatDuration(lease.remaining)
                           : "expired " + FormatDuration(-lease.remaining) + " ago";
  return text;
}

std::optional<JobRecord> SchedulerOf(const ClusterView& view, const std::string& node) {
  for (const JobRecord& job : view.schedulers) {
    if (job.name == node) return job;  // newest heartbeat first
  }
  return std::nullopt;
}

}  // namespace

Status ShowFailoverMetadata(CliContext& context, bool json) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto view = ReadCluster(**store, kHistoryShown);
  if (!view.ok()) return view.status();
  const FailoverConfig& failover = context.config().failover;
  const Duration controller_threshold = failover.lease_ttl;
  const Duration scheduler_threshold = failover.scheduler_health_threshold;
  if (json) {
    Json out = {{"lease", LeaseJson(view->lease)},
                {"controllers", Json::array()},
                {"schedulers", Json::array()},
                {"events", Json::array()}};
    for (const JobRecord& job : view->controllers) {
      out["controllers"].push_back(JobJson(job, controller_threshold));
    }
    for (const JobRecord& job : view->schedulers) {
      out["schedulers"].push_back(JobJson(job, scheduler_threshold));
    }
    for (const FailoverEvent& event : view->events) out["events"].push_back(EventJson(event));
    PrintJson(out);
    return Status::Ok();
  }
  const Lease& lease = view->lease;
  std::cout << "lease: " << DescribeLease(lease) << '\n'
            << "scheduler node: " << (lease.scheduler_node.empty() ? "-" : lease.scheduler_node)
            << '\n'
            << "maintenance: " << (lease.maintenance ? "on" : "off") << '\n';
  if (!lease.promote_to.empty())
    std::cout << "switchover requested to: " << lease.promote_to << '\n';
  PrintJobs("controllers", view->controllers, controller_threshold);
  PrintJobs("schedulers", view->schedulers, scheduler_threshold);
  std::cout << "last events:\n";
  if (view->events.empty()) std::cout << "  none\n";
  for (const FailoverEvent& event : view->events) {
    std::cout << "  " << TextTime(event.at) << "  " << event.node << "  epoch " << event.epoch
              << "  " << event.kind << ": " << event.message << '\n';
  }
  return Status::Ok();
}

Status ShowFailoverStatus(CliContext& context, bool json) {
  auto store = context.store();
  if (!store.ok()) return store.status();
  auto view = ReadCluster(**store, 1);
  if (!view.ok()) return view.status();
  const Config& config = context.config();
  const std::string node = CurrentNodeName(config);
  const Lease& lease = view->lease;
  const bool active = LeaseHeld(lease) && lease.holder == node;
  std::optional<JobRecord> scheduler = SchedulerOf(*view, lease.scheduler_node);
  const bool healthy =
      scheduler && scheduler->heartbeat_age < config.failover.scheduler_health_threshold;
  if (json) {
    PrintJson({{"node", node},
               {"role", active ? "active" : "standby"},
               {"active_node", LeaseHeld(lease) ? lease.holder : ""},
               {"epoch", lease.epoch},
               {"maintenance", lease.maintenance},
               {"scheduler_node", lease.scheduler_node},
               {"scheduler_healthy", healthy},
               {"scheduler_heartbeat_age_ms",
                scheduler ? Json(scheduler->heartbeat_age.count()) : Json(nullptr)}});
    return Status::Ok();
  }
  std::cout << "this node: " << node << " (" << (active ? "active" : "standby") << ")\n"
            << "lease: " << DescribeLease(lease) << '\n'
            << "scheduler: ";
  if (lease.scheduler_node.empty()) {
    std::cout << "not started by a controller\n";
  } else if (!scheduler) {
    std::cout << "none running on " << lease.scheduler_node << '\n';
  } else {
    std::cout << lease.scheduler_node << ", last heartbeat "
              << FormatDuration(scheduler->heartbeat_age) << " ago ("
              << (healthy ? "healthy" : "stale") << ")\n";
  }
  std::cout << "maintenance: " << (lease.maintenance ? "on" : "off") << '\n';
  return Status::Ok();
}

Status CheckSchedulerRunning(CliContext& context, const std::string& node) {
  const Config& config = context.config();
  std::vector<std::string> nodes = config.failover.nodes;
  if (!node.empty()) {
    BATON_RETURN_IF_ERROR(CheckNodeListed(config, node));
    nodes = {node};
  } else {
    BATON_RETURN_IF_ERROR(CheckNodeListed(config, CurrentNodeName(config)));
  }
  int running = 0;
  for (const std::string& name : nodes) {
    auto shell = ShellFor(config, name);
    // The epoch does not matter to the check command.
    auto outcome =
        shell->Run(CommandsFor(config, name, 0).check, config.failover.ssh_command_timeout);
    if (!outcome.ok()) {
      std::cout << name << ": unknown: " << outcome.status().message() << '\n';
    } else if (outcome->exit_code == 0) {
      std::cout << name << ": running" << '\n';
      ++running;
    } else {
      std::cout << name << ": not running" << '\n';
    }
  }
  if (running > 0) return Status::Ok();
  return Status::Unavailable("no scheduler runs on " +
                             (node.empty() ? std::string("any listed node") : node));
}

Status TestConnections(CliContext& context) {
  const Config& config = context.config();
  BATON_RETURN_IF_ERROR(CheckNodeListed(config, CurrentNodeName(config)));
  int failed = 0;
  auto report = [&](const std::string& target, const Status& status, Duration latency) {
    if (status.ok()) {
      std::cout << target << ": OK ("
                << std::chrono::duration_cast<std::chrono::milliseconds>(latency).count()
                << " ms)\n";
    } else {
      std::cout << target << ": FAILED: " << status.message() << '\n';
      ++failed;
    }
  };
  const auto store_begin = std::chrono::steady_clock::now();
  Status store_status;
  auto store = context.store();
  if (!store.ok()) {
    store_status = store.status();
  } else {
    store_status = (*store)->GetLease().status();
  }
  report("store " + HidePassword(config.store.url), store_status,
         std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - store_begin));
  for (const std::string& node : config.failover.nodes) {
    auto shell = ShellFor(config, node);
    auto outcome = shell->Run("true", config.failover.ssh_command_timeout);
    Status status = outcome.status();
    if (outcome.ok() && outcome->exit_code != 0) {
      status = Status::Unavailable("`true` exited with " + std::to_string(outcome->exit_code));
    }
    report("node " + node + " (" + shell->Describe() + ")", status,
           outcome.ok() ? outcome->elapsed : Duration(0));
  }
  if (failed == 0) return Status::Ok();
  return Status::Unavailable(std::to_string(failed) + " connection(s) failed");
}

}  // namespace baton::cli
