// The scheduler daemon: creates due runs, moves task instances through their
// states as their upstreams finish, hands ready ones to the executor within the
// limits (parallelism, max_active_runs, max_active_tasks, pools, priority), and
// heartbeats its job row. Every transition is persisted before it takes effect.
#pragma once

#include "common/status.h"
#include "config/config.h"

namespace baton {

struct SchedulerOptions {
  int num_runs = -1;  // stop after this many loop iterations; -1: until signalled
};

// Runs until SIGTERM or SIGINT (then drains as configured). Returns the reason it
// stopped when that was not a signal.
Status RunScheduler(const Config& config, const SchedulerOptions& options);

}  // namespace baton
