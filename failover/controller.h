// The failover controller daemon (`baton failover start`): one per master. It
// beats its own row, holds or waits for the lease, and while it holds the lease
// (and maintenance is off) keeps exactly one healthy scheduler running in the
// cluster: checks it every poll_frequency, restarts it where it runs, moves it
// to the next live master after restart_retries failures, and alerts.
#pragma once

#include "common/status.h"
#include "config/config.h"

namespace baton {

// Runs until SIGTERM or SIGINT. On the way out an active controller releases
// the lease (so a standby takes over at its next try) and leaves the scheduler
// running: it keeps scheduling until the next holder, whose new epoch fences
// it, replaces it with a scheduler of its own epoch (see SchedulerSupervisor).
// InvalidInput when this node is not in [failover] nodes.
Status RunFailoverController(const Config& config);

}  // namespace baton
