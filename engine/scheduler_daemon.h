// The scheduler daemon: an event loop (Boost.Asio) around the Scheduler, with
// its heartbeat, the DAG folder re-reads, signals and the local executor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"
#include "config/config.h"

namespace baton {

struct SchedulerDaemonOptions {
  int num_ticks = -1;  // stop after this many periodic ticks; -1: until signalled
  // The failover lease epoch this scheduler serves. When set, the scheduler
  // refuses to start unless it is the lease's current epoch, and every scheduling
  // write is fenced by it: once a newer epoch exists the scheduler kills its
  // tasks and exits with a Fenced status, leaving their instances to the new one.
  std::optional<int64_t> epoch;
  std::string node;     // the failover node it runs on, recorded as its job's name
  std::string pidfile;  // written at start ("PID START_TICKS"), removed at exit; empty: none
};

// Runs until SIGTERM or SIGINT, then stops queueing, gives running tasks
// kill_grace_period to finish, kills the rest and records them.
Status RunSchedulerDaemon(const Config& config, const SchedulerDaemonOptions& options);

}  // namespace baton
