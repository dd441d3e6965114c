// Spawning and ending task processes. Each task runs as the leader of a process
// group of its own, so a timeout or shutdown kills everything it started, and
// dies with the process that spawned it (PR_SET_PDEATHSIG), so no try outlives
// the executor that owns it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace baton {

struct SpawnRequest {
  std::string command;                     // run by /bin/sh -c
  std::map<std::string, std::string> env;  // set on top of the caller's environment
  std::string cwd;                         // empty: the caller's
  // stdout and stderr are appended here (parent folders created); empty: /dev/null.
  std::string log_path;
  // When set (>= 0), stdout and stderr are this descriptor instead, and log_path
  // must be empty: the write end of a pipe the caller reads, say. It stays open,
  // the caller's to close.
  int output_fd = -1;
  // The kernel ties the death signal to the spawning *thread*: spawn from a
  // thread that lives as long as the process (the event loop's), or the task is
  // killed when that thread ends.
  bool die_with_parent = true;
};

// Starts the process; its pid is also its process group id. It inherits the
// caller's environment but for systemd's notification variables
// (IsServiceManagerVariable), which are the caller's alone. Returns only once
// the command has been handed to /bin/sh, so a bad cwd or an unwritable log is
// an error here ("cannot chdir to '/nope': No such file or directory"), not an
// exit code later.
Result<pid_t> SpawnProcessGroup(const SpawnRequest& request);

// Opens `path` to append to (created 0644 with its missing folders), close-on-exec
// and above the standard streams. The error names the file and the reason.
Result<int> OpenFileToAppend(const std::string& path);

// A pipe for a child's output: both ends close-on-exec and above the standard
// streams, the read end non-blocking (the write end blocks, as a task expects of
// its stdout).
struct OutputPipe {
  int read_end = -1;
  int write_end = -1;
};
Result<OutputPipe> OpenOutputPipe();

// Sends `signal` to every process in the group; false when the group is gone.
bool SignalProcessGroup(pid_t process_group, int signal);

struct ExitedChild {
  pid_t pid = 0;
  int exit_code = -1;  // -1 when ended by a signal
  int signal = 0;
};

// Reaps every child that has exited, without blocking.
std::vector<ExitedChild> ReapExitedChildren();

// The same, calling `before_reap(pid)` for each exited child while it is still a
// zombie. Until it is reaped its pid cannot be reused, so signalling its process
// group from `before_reap` can only reach what that child left behind.
std::vector<ExitedChild> ReapExitedChildren(const std::function<void(pid_t)>& before_reap);

// The start time of a process in clock ticks since boot (field 22 of
// /proc/PID/stat), or 0 when there is no such process. With the pid it names one
// process: a pid reused later has another start time.
int64_t ProcessStartTicks(pid_t pid);

// The CPU time a process has used, user plus system, in clock ticks (fields 14
// and 15 of /proc/PID/stat), or 0 when there is no such process.
int64_t ProcessCpuTicks(pid_t pid);

// Whether `pid` names a live process: false when there is none and for a
// zombie, which keeps its pid and start time until its parent reaps it (a
// parent that never does, like some container inits, would keep it "running").
bool IsProcessAlive(pid_t pid);

// Pids of processes in process group `process_group` whose environment holds
// `marker` ("NAME=value"). Finds the leftovers of a try whose leader is gone
// without touching an unrelated group that reused the id.
std::vector<pid_t> FindProcessesWithMarker(pid_t process_group, const std::string& marker);

}  // namespace baton
