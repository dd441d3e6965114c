// Killing what a dead local executor left of its tries (see local_leftovers.h).
#include "engine/local_leftovers.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include "common/process.h"
#include "engine/local_executor.h"

namespace baton {

int KillLeftoverProcesses(const TaskInstanceKey& key, int try_number, int pid) {
  std::vector<pid_t> leftovers = FindProcessesWithMarker(pid, TryMarker(key, try_number));
  for (pid_t leftover : leftovers) kill(leftover, SIGKILL);
  if (!leftovers.empty()) {
    spdlog::warn("killed {} leftover process(es) of task {} try {}", leftovers.size(),
                 key.ToString(), try_number);
  }
  return static_cast<int>(leftovers.size());
}

}  // namespace baton
