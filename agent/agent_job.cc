#include "agent/agent_job.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "common/process.h"

namespace baton {
namespace {

std::string JoinQueues(const std::vector<std::string>& queues) {
  std::string joined;
  for (const std::string& queue : queues) {
    if (!joined.empty()) joined += ',';
    joined += queue;
  }
  return joined;
}

}  // namespace

Status EndEarlierLives(Store& store, const AgentSettings& settings) {
  auto jobs = store.ListRunningJobs(kAgentJob);
  if (!jobs.ok()) return jobs.status().WithContext("listing agent jobs");
  for (const JobRecord& job : *jobs) {
    if (job.name != settings.name) continue;
    if (job.hostname != settings.hostname) {
      spdlog::warn(
          "agent job {} of the same name '{}' runs on {} (last heartbeat {} ago): agent "
          "names should be unique",
          job.id, job.name, job.hostname, FormatDuration(job.heartbeat_age));
      continue;
    }
    if (job.pid > 0 && ProcessStartTicks(job.pid) == job.process_start_ticks) {
      return Status::Conflict("agent '" + settings.name + "' already runs on " + job.hostname +
                              " (pid " + std::to_string(job.pid) + ", job " +
                              std::to_string(job.id) + "): give this one another --name");
    }
    BATON_RETURN_IF_ERROR(
        store.EndJob(job.id).WithContext("ending agent job " + std::to_string(job.id)));
    spdlog::info("ended job {} of an earlier life of agent '{}' (pid {} is gone)", job.id, job.name,
                 job.pid);
  }
  return Status::Ok();
}

Result<int64_t> RegisterAgentJob(Store& store, const AgentSettings& settings,
                                 const std::string& endpoint) {
  JobRecord job;
  job.kind = kAgentJob;
  job.name = settings.name;
  job.queues = JoinQueues(settings.queues);
  job.endpoint = endpoint;
  job.hostname = settings.hostname;
  job.pid = getpid();
  job.process_start_ticks = ProcessStartTicks(job.pid);
  return store.RegisterJob(job);
}

}  // namespace baton
