// What the real servers tests start (mariadbd, redis-server, sshd) need of the
// system: finding the program, a free port, and a child process that dies with
// the test, is waited for until it answers, and is stopped politely first.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
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
// tries again on another when the server fails to start (StartOnPort).
int FreePort();

// A socket connected to 127.0.0.1:`port` whose sends and receives give up
// after a second, to ask a server whether it answers; -1 when nobody accepts.
// The caller closes it.
int ConnectToLocalPort(int port);

// Calls `start`, which starts a server on `port`. When `port` is 0, it is set
// to a free one first, and to another after each failure, for a few attempts;
// it is 0 again when all failed. A port that was set is tried once and kept.
Status StartOnPort(int& port, const std::function<Status()>& start);

// Starts `argv` (argv[0] a path) with stdin from /dev/null and stdout and
// stderr appended to `log`. It dies with the thread that started it
// (PR_SET_PDEATHSIG), so a crashed test leaves no server behind.
Result<pid_t> SpawnServer(const std::vector<std::string>& argv, const std::filesystem::path& log);

// Waits for `pid` to exit; its wait status, or nothing after `timeout` (at
// once when it is zero).
std::optional<int> WaitForExit(pid_t pid, std::chrono::steady_clock::duration timeout);

// Polls `answers` until the server `pid` just started answers. An error when
// the server exits first or `timeout` passes, naming `server` ("redis-server on
// port 6380") and ending with the tail of its `log`; when it exited, it has
// been reaped and `pid` is set to 0, so that nobody signals that number again.
Status WaitUntilAnswering(pid_t& pid, const std::string& server,
                          const std::function<bool()>& answers,
                          std::chrono::steady_clock::duration timeout,
                          const std::filesystem::path& log);

// Stops `pid`: SIGTERM, then SIGKILL when it is still running after `grace`;
// returns once it has exited.
void StopServer(pid_t pid, std::chrono::steady_clock::duration grace);

// The last `bytes` of `file`, to show in an error; a note when it cannot be read.
std::string ReadTail(const std::filesystem::path& file, size_t bytes);

}  // namespace baton::testing
