// NodeShell: runs a shell command on one master, locally or over SSH, with a
// time limit, so the controller can start, stop and check the scheduler there.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "common/time.h"

namespace baton {

struct CommandOutcome {
  int exit_code = -1;  // -1 when ended by a signal or cut off by the time limit
  std::string output;  // stdout and stderr together, at most the last 64 KiB
  Duration elapsed{0};
};

class NodeShell {
 public:
  virtual ~NodeShell() = default;
  // Runs `command` with /bin/sh -c on the node. A command that does not end
  // within `timeout` is killed and reported as Unavailable ("... timed out after
  // 30s"); a host that cannot be reached (refused, unknown host key, failed
  // authentication) is Unavailable with the reason and how to fix it. A command
  // that ran is OK whatever its exit code.
  virtual Result<CommandOutcome> Run(const std::string& command, Duration timeout) = 0;
  // What the shell reaches, for messages: "local" or "user@host:port".
  virtual std::string Describe() const = 0;
};

// Runs commands on this machine. A command's detached children (setsid -f)
// outlive both the command and the controller.
std::unique_ptr<NodeShell> MakeLocalShell();

}  // namespace baton
