// What tests that start real processes ask of them from outside: wait until a
// condition holds, whether a pid still runs, and what a process wrote to a
// file (its output, the pid of a child it started).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace baton::testing {

// Generous, so that a loaded machine or a sanitizer build does not fail a test
// that would pass; a test that expects a quick answer passes its own.
inline constexpr std::chrono::seconds kEventuallyTimeout(10);

// Polls `condition` every few milliseconds until it holds; false when
// `timeout` passed first.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::steady_clock::duration timeout = kEventuallyTimeout);

// Alive and not a zombie (from /proc/PID/stat): an orphan is reparented to
// PID 1, which in a container may never reap it.
bool IsRunning(pid_t pid);

// The whole file; empty when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

// The pid a command wrote to `path` (`echo $! > FILE`), once the whole line,
// newline included, is there; nothing when it is not within `timeout`.
std::optional<pid_t> WaitForPid(const std::filesystem::path& path,
                                std::chrono::steady_clock::duration timeout = kEventuallyTimeout);

}  // namespace baton::testing
