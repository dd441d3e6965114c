// The scheduler daemon: an event loop (Boost.Asio) around the Scheduler, with
// its heartbeat, the DAG folder re-reads, signals and the local executor.
#pragma once

#include "common/status.h"
#include "config/config.h"

namespace baton {

struct SchedulerDaemonOptions {
  int num_ticks = -1;  // stop after this many periodic ticks; -1: until signalled
};

// Runs until SIGTERM or SIGINT, then stops queueing, gives running tasks
// kill_grace_period to finish, kills the rest and records them.
Status RunSchedulerDaemon(const Config& config, const SchedulerDaemonOptions& options);

}  // namespace baton
