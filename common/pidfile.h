// Pidfiles that name one process life: "PID START_TICKS", so a pid reused by
// another process after a crash is never taken for the one that wrote it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace baton {

struct PidfileEntry {
  pid_t pid = 0;
  int64_t start_ticks = 0;  // ProcessStartTicks(pid) when it was written
};

// Writes this process's entry to `path` atomically (a temporary file renamed
// over it), creating parent folders.
Status WritePidfile(const std::string& path);
// Removes `path` when it still names this process.
void RemovePidfile(const std::string& path);
// nullopt when the file does not exist; InvalidInput when it is not a pidfile.
Result<std::optional<PidfileEntry>> ReadPidfile(const std::string& path);
// Whether the process the entry names still runs: same pid, same start time,
// and not a zombie.
bool IsRunning(const PidfileEntry& entry);

}  // namespace baton
