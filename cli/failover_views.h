// What the `baton failover` commands show of the cluster: the lease, the
// controllers, the schedulers and the history (metadata, status), and checks
// that reach every node (is_scheduler_running, test_connection).
#pragma once

#include <optional>
#include <string>

#include "cli/cli_context.h"

namespace baton::cli {

Status ShowFailoverMetadata(CliContext& context, bool json);
Status ShowFailoverStatus(CliContext& context, bool json);
// Every listed node when `node` is empty; exit 0 when a scheduler runs on one.
Status CheckSchedulerRunning(CliContext& context, const std::string& node);
// The store and every listed node over SSH (this node locally); a line each.
Status TestConnections(CliContext& context);

}  // namespace baton::cli
