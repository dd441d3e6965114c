// How the controller reaches a master and what it runs there: the commands that
// start, stop and check the scheduler on a node, with their placeholders
// filled in, and the shell (local or SSH) that runs them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "failover/node_shell.h"

namespace baton {

// This controller's node: [failover] node_name, or the host name.
std::string CurrentNodeName(const Config& config);

// InvalidInput naming baton.toml when `node` is not in [failover] nodes (or the
// list is empty), so a controller or command aimed at an unknown master stops.
Status CheckNodeListed(const Config& config, const std::string& node);

struct NodeCommands {
  std::string start;  // starts the scheduler detached and returns
  std::string stop;   // stops it (SIGTERM, then SIGKILL after a grace); OK when none runs
  std::string check;  // exits 0 when the scheduler's process runs on the node
};

// The commands for `node` serving `epoch`: the node's overrides, else
// [failover]'s, else the defaults (systemctl when systemd runs the node, else a
// detached `baton scheduler` with a pidfile). {baton}, {config}, {home},
// {node}, {epoch}, {pidfile} and {log} are replaced, each quoted for /bin/sh;
// pidfile and scheduler_log may themselves hold {node}.
NodeCommands CommandsFor(const Config& config, const std::string& node, int64_t epoch);

// The pidfile of `node`'s scheduler ([failover] pidfile with {node} replaced).
std::string PidfileFor(const Config& config, const std::string& node);

// The shell that reaches `node`: local for this controller's own node and for
// nodes marked `local`, SSH (with the node's host, port and user) for the others.
std::unique_ptr<NodeShell> ShellFor(const Config& config, const std::string& node);

}  // namespace baton
