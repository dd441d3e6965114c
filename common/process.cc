// Spawning task processes in process groups of their own, reaping them, and
// finding what a try left behind through /proc. Everything the child needs is
// prepared before the clone: between clone and exec the child makes only
// async-signal-safe calls, because the parent may have other threads.
#include "common/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

#include "common/systemd_notify.h"

extern char** environ;

namespace baton {
namespace {

constexpr char kShell[] = "/bin/sh";
// The child's stack between clone and exec; it only makes a few system calls.
constexpr size_t kChildStackSize = 64 * 1024;

// What the child was doing when it failed; sent to the parent with errno.
enum class ChildStep : int { kSetProcessGroup = 1, kDeathSignal, kRedirect, kChdir, kExec };

struct ChildFailure {
  int step = 0;
  int error = 0;
};

std::string ErrorText(int error) {
  char buffer[256];
  // The GNU strerror_r returns the message, which may not be in `buffer`.
  return strerror_r(error, buffer, sizeof(buffer));
}

// Owns one file descriptor.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  void Release() { fd_ = -1; }  // the descriptor stays open, owned elsewhere

 private:
  int fd_ = -1;
};

// The child dup2()s onto 0, 1 and 2, so none of the descriptors it reads from
// may sit there (they can when the daemon was started with a standard stream
// closed).
bool MoveAboveStandardStreams(FileDescriptor& fd) {
  if (fd.get() > STDERR_FILENO) return true;
  int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return false;
  fd.Reset(moved);
  return true;
}

Status OpenForChild(const std::string& path, int flags, FileDescriptor& fd) {
  fd.Reset(open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (!fd.valid() || !MoveAboveStandardStreams(fd)) {
    return Status::IoError("cannot open '" + path + "': " + ErrorText(errno));
  }
  return Status::Ok();
}

// Every child's standard input: /dev/null, opened once for the process's life
// rather than opened and closed on each spawn. A failed open is tried again at
// the next spawn.
Result<int> NullInput() {
  static std::atomic<int> shared{-1};
  int fd = shared.load();
  if (fd >= 0) return fd;
  FileDescriptor opened;
  BATON_RETURN_IF_ERROR(OpenForChild("/dev/null", O_RDONLY, opened));
  fd = opened.get();
  int expected = -1;
  if (!shared.compare_exchange_strong(expected, fd)) return expected;  // another thread's won
  opened.Release();
  return fd;
}

// Each try's log sits in a folder of its own whose parent usually exists
// already (the run's folder), so one mkdir is tried first: walking every level
// costs a system call per level on each spawn.
Status CreateLogFolder(const std::filesystem::path& folder, const std::string& log_path) {
  if (folder.empty()) return Status::Ok();
  if (mkdir(folder.c_str(), 0755) == 0 || errno == EEXIST) return Status::Ok();
  std::error_code error;
  if (errno == ENOENT) {
    std::filesystem::create_directories(folder, error);
  } else {
    error.assign(errno, std::generic_category());
  }
  if (error) {
    return Status::IoError("cannot create folder '" + folder.string() + "' for log file '" +
                           log_path + "': " + error.message());
  }
  return Status::Ok();
}

Status OpenLogFile(const std::string& log_path, FileDescriptor& fd) {
  if (log_path.empty()) return OpenForChild("/dev/null", O_WRONLY, fd);
  BATON_RETURN_IF_ERROR(CreateLogFolder(std::filesystem::path(log_path).parent_path(), log_path));
  Status status = OpenForChild(log_path, O_WRONLY | O_APPEND | O_CREAT, fd);
  if (!status.ok()) return status.WithContext("log file");
  return status;
}

Status MoveAboveStandardStreams(FileDescriptor& fd, const char* what) {
  if (MoveAboveStandardStreams(fd)) return Status::Ok();
  return Status::IoError(std::string("cannot move ") + what + ": " + ErrorText(errno));
}

bool ContainsNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// The caller's environment with request.env set on top, as "NAME=value" entries.
// What systemd handed the daemon to notify it stays the daemon's own.
Result<std::vector<std::string>> BuildEnvironment(const std::map<std::string, std::string>& env) {
  std::vector<std::string> entries;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    if (env.count(std::string(name)) == 0 && !IsServiceManagerVariable(name)) {
      entries.emplace_back(text);
    }
  }
  for (const auto& [name, value] : env) {
    if (name.empty() || name.find('=') != std::string::npos || ContainsNul(name) ||
        ContainsNul(value)) {
      return Status::InvalidInput("invalid environment variable '" + name + "'");
    }
    entries.push_back(name + "=" + value);
  }
  return entries;
}

std::vector<char*> PointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  return pointers;
}

Status DescribeChildFailure(const ChildFailure& failure, const SpawnRequest& request) {
  std::string reason = ErrorText(failure.error);
  switch (static_cast<ChildStep>(failure.step)) {
    case ChildStep::kSetProcessGroup:
      return Status::Internal("cannot start a process group: " + reason);
    case ChildStep::kDeathSignal:
      return Status::Internal("cannot set the parent-death signal: " + reason);
    case ChildStep::kRedirect:
      return Status::IoError("cannot redirect standard streams: " + reason);
    case ChildStep::kChdir:
      return Status::IoError("cannot chdir to '" + request.cwd + "': " + reason);
    case ChildStep::kExec:
      return Status::IoError(std::string("cannot run ") + kShell + ": " + reason);
  }
  return Status::Internal("the child process failed before running the command");
}

// What the child needs, all prepared by the parent. The child runs in the
// parent's memory until it execs (CLONE_VM), so it writes nothing but `failure`
// and makes only async-signal-safe calls: another thread may have held a lock
// at the moment of the clone.
struct ChildContext {
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;  // null: stay in the parent's
  int stdin_fd = -1;
  int output_fd = -1;
  bool die_with_parent = true;
  pid_t parent_pid = 0;
  struct sigaction default_action {};
  sigset_t empty_mask{};
  ChildFailure failure;
};

[[noreturn]] void FailInChild(ChildContext& context, ChildStep step) {
  context.failure.error = errno;
  context.failure.step = static_cast<int>(step);
  _exit(127);
}

// Runs on a stack the sanitizers know nothing about, and calls only libc.
__attribute__((no_sanitize("address"))) int ChildMain(void* argument) {
  ChildContext& context = *static_cast<ChildContext*>(argument);
  if (setpgid(0, 0) != 0) FailInChild(context, ChildStep::kSetProcessGroup);
  if (context.die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) FailInChild(context, ChildStep::kDeathSignal);
    // The parent died before the death signal was armed: nobody owns this try.
    if (getppid() != context.parent_pid) _exit(127);
  }
  // SIGKILL, SIGSTOP and the C library's internal signals refuse; harmless.
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    sigaction(signal_number, &context.default_action, nullptr);
  }
  sigprocmask(SIG_SETMASK, &context.empty_mask, nullptr);
  if (dup2(context.stdin_fd, STDIN_FILENO) < 0 || dup2(context.output_fd, STDOUT_FILENO) < 0 ||
      dup2(context.output_fd, STDERR_FILENO) < 0) {
    FailInChild(context, ChildStep::kRedirect);
  }
  // Descriptors some library opened without O_CLOEXEC (store sockets, lock
  // files) must not leak into tasks. Older kernels refuse; nothing to do then.
  close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  if (context.cwd != nullptr && chdir(context.cwd) != 0) {
    FailInChild(context, ChildStep::kChdir);
  }
  execve(kShell, context.argv, context.envp);
  FailInChild(context, ChildStep::kExec);
}

// The stack children of this thread run on until they exec. One per thread,
// kept for the thread's life: CLONE_VFORK suspends the thread until its child
// has exec'd or exited, so two children of one thread never share it, and an
// mmap and munmap per spawn would cost a TLB shoot-down on every other CPU
// running one of the daemon's threads. Null when it cannot be allocated.
char* ThisThreadsChildStack() {
  struct Stack {
    void* memory = MAP_FAILED;
    ~Stack() {
      if (memory != MAP_FAILED) munmap(memory, kChildStackSize);
    }
  };
  thread_local Stack stack;
  if (stack.memory == MAP_FAILED) {
    stack.memory = mmap(nullptr, kChildStackSize, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack.memory == MAP_FAILED) return nullptr;
  }
  return static_cast<char*>(stack.memory);
}

void WaitForChildBlocking(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool ReadWholeFile(const std::string& path, std::string& contents) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  contents.clear();
  char buffer[4096];
  while (true) {
    ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n > 0) {
      contents.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      return true;
    } else if (errno != EINTR) {
      return false;
    }
  }
}

// Field `field` (1-based, as in proc(5)) of /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from after
// its last ')'.
bool ReadStatField(pid_t pid, int field, int64_t& value) {
  std::string stat;
  if (!ReadWholeFile("/proc/" + std::to_string(pid) + "/stat", stat)) return false;
  size_t position = stat.rfind(')');
  if (position == std::string::npos) return false;
  std::string_view rest = std::string_view(stat).substr(position + 1);
  int current = 2;
  while (!rest.empty()) {
    size_t start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) return false;
    rest.remove_prefix(start);
    size_t end = std::min(rest.find(' '), rest.size());
    if (++current == field) {
      auto [unused, error] = std::from_chars(rest.data(), rest.data() + end, value);
      return error == std::errc();
    }
    rest.remove_prefix(end);
  }
  return false;
}

bool ParsePid(const char* name, pid_t& pid) {
  std::string_view text(name);
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  return error == std::errc() && end == text.data() + text.size() && pid > 0;
}

bool EnvironmentHolds(pid_t pid, const std::string& marker) {
  std::string environment;
  if (!ReadWholeFile("/proc/" + std::to_string(pid) + "/environ", environment)) return false;
  std::string_view rest(environment);
  while (!rest.empty()) {
    size_t end = std::min(rest.find('\0'), rest.size());
    if (rest.substr(0, end) == marker) return true;
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  return false;
}

}  // namespace

Result<int> OpenFileToAppend(const std::string& path) {
  FileDescriptor fd;
  BATON_RETURN_IF_ERROR(OpenLogFile(path, fd));
  const int opened = fd.get();
  fd.Release();
  return opened;
}

Result<OutputPipe> OpenOutputPipe() {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) {
    return Status::Unavailable("cannot create a pipe for a task's output: " + ErrorText(errno));
  }
  FileDescriptor read_end(ends[0]);
  FileDescriptor write_end(ends[1]);
  BATON_RETURN_IF_ERROR(MoveAboveStandardStreams(read_end, "a pipe's read end"));
  BATON_RETURN_IF_ERROR(MoveAboveStandardStreams(write_end, "a pipe's write end"));
  // O_NONBLOCK belongs to the open file, which the child shares through dup2:
  // set on the read end only.
  if (fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) {
    return Status::Unavailable("cannot make a pipe non-blocking: " + ErrorText(errno));
  }
  OutputPipe pipe{read_end.get(), write_end.get()};
  read_end.Release();
  write_end.Release();
  return pipe;
}

Result<pid_t> SpawnProcessGroup(const SpawnRequest& request) {
  if (ContainsNul(request.command) || ContainsNul(request.cwd) || ContainsNul(request.log_path)) {
    return Status::InvalidInput("command, cwd and log path must not contain NUL characters");
  }
  if (request.output_fd >= 0 && !request.log_path.empty()) {
    return Status::InvalidInput("a spawn takes an output descriptor or a log path, not both");
  }
  std::vector<std::string> arguments = {"sh", "-c", request.command};
  std::vector<char*> argv = PointersTo(arguments);
  Result<std::vector<std::string>> environment = BuildEnvironment(request.env);
  if (!environment.ok()) return environment.status();
  std::vector<char*> envp = PointersTo(*environment);

  Result<int> stdin_fd = NullInput();
  if (!stdin_fd.ok()) return stdin_fd.status();
  FileDescriptor opened_output;
  if (request.output_fd < 0) BATON_RETURN_IF_ERROR(OpenLogFile(request.log_path, opened_output));
  const int output_fd = request.output_fd >= 0 ? request.output_fd : opened_output.get();

  ChildContext context;
  context.argv = argv.data();
  context.envp = envp.data();
  context.cwd = request.cwd.empty() ? nullptr : request.cwd.c_str();
  context.stdin_fd = *stdin_fd;
  context.output_fd = output_fd;
  context.die_with_parent = request.die_with_parent;
  context.parent_pid = getpid();
  context.default_action.sa_handler = SIG_DFL;
  sigemptyset(&context.default_action.sa_mask);
  sigemptyset(&context.empty_mask);

  // Like vfork: the child borrows the parent's memory instead of copying its
  // page tables, which makes a spawn markedly cheaper for a large daemon, and
  // the parent sleeps until the child has called exec or exited, so the result
  // is known when clone returns. The child gets a stack of its own.
  char* stack = ThisThreadsChildStack();
  if (stack == nullptr) {
    return Status::Unavailable("cannot allocate a stack to start a process: " + ErrorText(errno));
  }
  // Blocked across the clone, so no handler of the parent's (Asio's among them,
  // which writes to the parent's wake-up pipe) runs in the child, in the
  // parent's memory, before the child has reset the dispositions.
  sigset_t all_signals;
  sigfillset(&all_signals);
  sigset_t saved_mask;
  pthread_sigmask(SIG_SETMASK, &all_signals, &saved_mask);
  pid_t pid = clone(ChildMain, stack + kChildStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &context);
  int clone_error = errno;
  pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  if (pid < 0) return Status::Unavailable("cannot start a process: " + ErrorText(clone_error));

  // The child set its process group before exec, and clone returned only after
  // exec, so the group exists already; no setpgid from this side is needed.
  if (context.failure.step != 0) {
    WaitForChildBlocking(pid);
    return DescribeChildFailure(context.failure, request);
  }
  return pid;
}

bool SignalProcessGroup(pid_t process_group, int signal) {
  // kill(0) and kill(-1) would reach this process's own group or every process.
  if (process_group <= 1) return false;
  return kill(-process_group, signal) == 0;
}

std::vector<ExitedChild> ReapExitedChildren() { return ReapExitedChildren(nullptr); }

std::vector<ExitedChild> ReapExitedChildren(const std::function<void(pid_t)>& before_reap) {
  std::vector<ExitedChild> exited;
  while (true) {
    pid_t target = -1;
    if (before_reap) {
      siginfo_t info{};
      if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (info.si_pid == 0) break;
      target = info.si_pid;
      before_reap(target);
    }
    int status = 0;
    pid_t pid = waitpid(target, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    ExitedChild child;
    child.pid = pid;
    if (WIFEXITED(status)) {
      child.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      child.signal = WTERMSIG(status);
    }
    exited.push_back(child);
  }
  return exited;
}

int64_t ProcessStartTicks(pid_t pid) {
  constexpr int kStartTimeField = 22;
  int64_t ticks = 0;
  if (pid <= 0 || !ReadStatField(pid, kStartTimeField, ticks)) return 0;
  return ticks;
}

int64_t ProcessCpuTicks(pid_t pid) {
  constexpr int kUserTimeField = 14;
  constexpr int kSystemTimeField = 15;
  int64_t user = 0;
  int64_t system = 0;
  if (pid <= 0 || !ReadStatField(pid, kUserTimeField, user) ||
      !ReadStatField(pid, kSystemTimeField, system)) {
    return 0;
  }
  return user + system;
}

bool IsProcessAlive(pid_t pid) {
  std::string stat;
  if (pid <= 0 || !ReadWholeFile("/proc/" + std::to_string(pid) + "/stat", stat)) return false;
  // The state is the field after the command name, which may itself hold ')'.
  size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 2 >= stat.size()) return false;
  const char state = stat[name_end + 2];
  return state != 'Z' && state != 'X';
}

std::vector<pid_t> FindProcessesWithMarker(pid_t process_group, const std::string& marker) {
  constexpr int kProcessGroupField = 5;
  std::vector<pid_t> found;
  if (process_group <= 0) return found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (!ParsePid(entry->d_name, pid)) continue;
    int64_t group = 0;
    if (!ReadStatField(pid, kProcessGroupField, group) || group != process_group) continue;
    // Other users' environments are unreadable; those processes are not ours.
    if (EnvironmentHolds(pid, marker)) found.push_back(pid);
  }
  closedir(proc);
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace baton
