// Spawning and ending task processes. Each task runs as the leader of a process
// group of its own, so a timeout or shutdown kills everything it started, and
// dies with the process that spawned it (PR_SET_PDEATHSIG), so no try outlives
// the executor that owns it.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace baton {

struct SpawnRequest {
  std::string command;  // run by /bin/sh -c
  std::map<std::string, std::string> env;  // set on top of the caller's environment
  std::string cwd;       // empty: the caller's
  std::string log_path;  // stdout and stderr appended here (parent folders created); empty: /dev/null
  bool die_with_parent = true;
};

// Starts the process; its pid is also its process group id.
Result<pid_t> SpawnProcessGroup(const SpawnRequest& request);

// Sends `signal` to every process in the group; false when the group is gone.
bool SignalProcessGroup(pid_t process_group, int signal);

struct ExitedChild {
  pid_t pid = 0;
  int exit_code = -1;  // -1 when ended by a signal
  int signal = 0;
};

// Reaps every child that has exited, without blocking.
std::vector<ExitedChild> ReapExitedChildren();

// The start time of a process in clock ticks since boot (field 22 of
// /proc/PID/stat), or 0 when there is no such process. With the pid it names one
// process: a pid reused later has another start time.
int64_t ProcessStartTicks(pid_t pid);

// Pids of processes in process group `process_group` whose environment holds
// `marker` ("NAME=value"). Finds the leftovers of a try whose leader is gone
// without touching an unrelated group that reused the id.
std::vector<pid_t> FindProcessesWithMarker(pid_t process_group, const std::string& marker);

}  // namespace baton
