// What the real servers tests start (mariadbd, redis-server) need of the
// system: finding the program, a free port, and a child process that dies with
// the test and is stopped politely first.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace baton::testing {

// The first of `names` that is an executable in $PATH or in the bin and sbin
// folders under /usr and /usr/local (sbin is often not in a user's $PATH);
// empty when there is none.
std::string FindProgram(const std::vector<std::string>& names);

// A TCP port on 127.0.0.1 that nobody listens on right now; 0 when none was
// found. Another process may take it before the server binds it, so a caller
// tries again on another when the server fails to start.
int FreePort();

// Starts `argv` (argv[0] a path) with stdin from /dev/null and stdout and
// stderr appended to `log`. It dies with the thread that started it
// (PR_SET_PDEATHSIG), so a crashed test leaves no server behind.
Result<pid_t> SpawnServer(const std::vector<std::string>& argv, const std::filesystem::path& log);

// Waits for `pid` to exit; its wait status, or nothing after `timeout` (at
// once when it is zero).
std::optional<int> WaitForExit(pid_t pid, std::chrono::steady_clock::duration timeout);

// Stops `pid`: SIGTERM, then SIGKILL when it is still running after `grace`;
// returns once it has exited.
void StopServer(pid_t pid, std::chrono::steady_clock::duration grace);

// The last `bytes` of `file`, to show in an error; a note when it cannot be read.
std::string ReadTail(const std::filesystem::path& file, size_t bytes);

}  // namespace baton::testing
