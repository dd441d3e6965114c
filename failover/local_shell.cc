// The NodeShell of the controller's own node: /bin/sh -c in a process group of
// its own (common/process.h), its output in a temporary file without a name, the
// whole group killed at the time limit.
//
// The output goes to a file rather than a pipe because a start command detaches
// the scheduler (setsid -f), and a detached child that inherited a pipe would
// keep it open: the reader would wait for it, or, once the reader gave up and
// closed the pipe, the scheduler's next write would raise SIGPIPE. A file lets
// Run stop at the shell's exit; a detached child that keeps writing to it writes
// into a file nobody can see, which is why start commands redirect their
// daemon's output to a log of its own.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <optional>
#include <system_error>
#include <thread>

#include "common/process.h"
#include "failover/node_shell.h"

namespace baton {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kOutputLimit = 64 * 1024;  // the last bytes of output kept
// How often the exit is polled where the kernel has no pidfd_open (before 5.3).
constexpr auto kExitPollInterval = std::chrono::milliseconds(10);

// A temporary file for a command's output, read back at the end. It has no
// name (O_TMPFILE; the command opens it through /proc/self/fd), so nothing is
// left behind even when this process is killed halfway; where the filesystem
// cannot make such a file, a named one is unlinked once the command has it open.
class OutputFile {
 public:
  OutputFile() = default;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    Unlink();
    if (fd_ >= 0) close(fd_);
  }

  Status Create() {
    std::error_code error;
    std::filesystem::path folder = std::filesystem::temp_directory_path(error);
    if (error) folder = "/tmp";
    fd_ = open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ >= 0) {
      path_ = "/proc/self/fd/" + std::to_string(fd_);
      return Status::Ok();
    }
    name_ = (folder / "baton-shell-XXXXXX").string();
    fd_ = mkostemp(name_.data(), O_CLOEXEC);
    if (fd_ < 0) {
      std::string reason = std::generic_category().message(errno);
      name_.clear();
      return Status::IoError("cannot create a file for the output in " + folder.string() + ": " +
                             reason);
    }
    path_ = name_;
    return Status::Ok();
  }

  // Where the command opens the file.
  const std::string& path() const { return path_; }

  void Unlink() {
    if (!name_.empty()) unlink(name_.c_str());
    name_.clear();
  }

  // The last kOutputLimit bytes written so far.
  std::string Tail() const {
    struct stat info {};
    if (fstat(fd_, &info) != 0) return "";
    off_t start = std::max<off_t>(0, info.st_size - static_cast<off_t>(kOutputLimit));
    std::string text(static_cast<size_t>(info.st_size - start), '\0');
    size_t filled = 0;
    while (filled < text.size()) {
      ssize_t n = pread(fd_, text.data() + filled, text.size() - filled,
                        start + static_cast<off_t>(filled));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      filled += static_cast<size_t>(n);
    }
    text.resize(filled);
    return text;
  }

 private:
  std::string path_;
  std::string name_;  // the named file's, while it has a name
  int fd_ = -1;
};

// Waits for child `pid` to exit, at most until `deadline`; its wait status, or
// nothing at the deadline (the child then still runs). Only this child is
// reaped: the controller's other children are not this function's business.
Result<std::optional<int>> WaitForChild(pid_t pid, SteadyClock::time_point deadline) {
  // A pidfd becomes readable when the child exits, so the wait needs no polling.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  Result<std::optional<int>> exit = std::optional<int>();
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      exit = std::optional<int>(status);
      break;
    }
    if (done < 0 && errno != EINTR) {
      std::string reason = std::generic_category().message(errno);
      exit = Status::Internal("cannot wait for the shell (pid " + std::to_string(pid) +
                              "): " + reason);
      break;
    }
    auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (remaining.count() <= 0) break;
    if (pidfd >= 0) {
      pollfd exited{pidfd, POLLIN, 0};
      poll(&exited, 1, static_cast<int>(std::min<int64_t>(remaining.count(), INT32_MAX)));
    } else {
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(remaining, kExitPollInterval));
    }
  }
  if (pidfd >= 0) close(pidfd);
  return exit;
}

class LocalShell : public NodeShell {
 public:
  Result<CommandOutcome> Run(const std::string& command, Duration timeout) override;
  std::string Describe() const override { return "local"; }
};

Result<CommandOutcome> LocalShell::Run(const std::string& command, Duration timeout) {
  const auto start = SteadyClock::now();
  OutputFile output;
  BATON_RETURN_IF_ERROR(output.Create().WithContext(Describe()));
  SpawnRequest request;
  request.command = command;
  request.log_path = output.path();
  // Run waits for the shell on the calling thread, which therefore outlives it.
  request.die_with_parent = true;
  Result<pid_t> pid = SpawnProcessGroup(request);
  output.Unlink();  // the shell has it open by now, or never will
  if (!pid.ok()) return pid.status().WithContext(Describe());

  Result<std::optional<int>> exit = WaitForChild(*pid, start + timeout);
  if (!exit.ok()) return exit.status().WithContext(Describe());
  if (!exit->has_value()) {
    // What the command started in its group goes too; what it detached stays.
    SignalProcessGroup(*pid, SIGKILL);
    while (waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return Status::Unavailable("'" + command + "' timed out after " + FormatDuration(timeout))
        .WithContext(Describe());
  }
  CommandOutcome outcome;
  int status = **exit;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.output = output.Tail();
  outcome.elapsed = std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
  return outcome;
}

}  // namespace

std::unique_ptr<NodeShell> MakeLocalShell() { return std::make_unique<LocalShell>(); }

}  // namespace baton
