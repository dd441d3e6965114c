#include "common/pidfile.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/process.h"

namespace baton {

Status WritePidfile(const std::string& path) {
  std::error_code error;
  std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), error);
  if (error)
    return Status::IoError("cannot create the folder of pidfile " + path + ": " + error.message());
  pid_t pid = getpid();
  // Renamed into place, so a reader never sees half a line.
  std::string temporary = path + ".tmp" + std::to_string(pid);
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << pid << ' ' << ProcessStartTicks(pid) << '\n';
    if (!out.flush()) return Status::IoError("cannot write pidfile " + temporary);
  }
  std::filesystem::rename(temporary, target, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    return Status::IoError("cannot write pidfile " + path + ": " + error.message());
  }
  return Status::Ok();
}

void RemovePidfile(const std::string& path) {
  Result<std::optional<PidfileEntry>> entry = ReadPidfile(path);
  if (entry.ok() && *entry && (*entry)->pid == getpid()) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
}

Result<std::optional<PidfileEntry>> ReadPidfile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) return std::optional<PidfileEntry>();
    return Status::IoError("cannot read pidfile " + path);
  }
  PidfileEntry entry;
  if (!(in >> entry.pid >> entry.start_ticks) || entry.pid <= 0) {
    return Status::InvalidInput(path + ":1: expected \"PID START_TICKS\"");
  }
  return std::optional<PidfileEntry>(entry);
}

bool IsRunning(const PidfileEntry& entry) {
  int64_t ticks = ProcessStartTicks(entry.pid);
  return ticks != 0 && ticks == entry.start_ticks && IsProcessAlive(entry.pid);
}

}  // namespace baton
