// Tests for spawning task processes: exit codes, environment, cwd, the log file,
// process groups, death with the parent, and finding leftovers through /proc.
#include "common/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process_probes.h"

namespace baton {
namespace {

using testing::Eventually;
using testing::IsRunning;
using testing::ReadFile;
using testing::WaitForPid;

// Set in every process a test spawns, so TearDown can find and end them.
constexpr char kTestMarkerName[] = "BATON_PROCESS_TEST_RUN";

// The executable's name, as the kernel knows it (it changes at exec).
std::string CommandName(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

struct Exit {
  int exit_code = -1;
  int signal = 0;
};

// Waits for one child without blocking forever.
std::optional<Exit> WaitForExit(pid_t pid) {
  int status = 0;
  pid_t reaped = 0;
  bool done = Eventually([&] {
    reaped = waitpid(pid, &status, WNOHANG);
    return reaped != 0;
  });
  if (!done || reaped != pid) return std::nullopt;
  Exit exit;
  if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
  return exit;
}

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "process_test.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    folder_ = pattern;
  }

  void TearDown() override {
    // Only processes carrying this test's marker: a group whose leader was
    // reaped may have been given to somebody else's process since.
    for (pid_t group : groups_) {
      for (pid_t pid : FindProcessesWithMarker(group, TestMarker())) kill(pid, SIGKILL);
      // Reaped here, so no later test finds it among its exited children.
      WaitForExit(group);
    }
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  // Spawns and remembers the group, so a failing test leaves nothing running.
  pid_t Spawn(SpawnRequest request) {
    request.env[kTestMarkerName] = folder_.string();
    Result<pid_t> pid = SpawnProcessGroup(request);
    EXPECT_TRUE(pid.ok()) << pid.status().message();
    if (!pid.ok()) return -1;
    groups_.push_back(*pid);
    return *pid;
  }

  pid_t SpawnCommand(const std::string& command) {
    SpawnRequest request;
    request.command = command;
    request.log_path = Log();
    return Spawn(request);
  }

  std::string Log() const { return (folder_ / "task.log").string(); }
  std::string TestMarker() const { return std::string(kTestMarkerName) + "=" + folder_.string(); }

  std::filesystem::path folder_;
  std::vector<pid_t> groups_;
};

TEST_F(ProcessTest, ReportsExitCodes) {
  pid_t success = SpawnCommand("exit 0");
  pid_t failure = SpawnCommand("exit 3");
  std::optional<Exit> success_exit = WaitForExit(success);
  std::optional<Exit> failure_exit = WaitForExit(failure);
  ASSERT_TRUE(success_exit.has_value());
  ASSERT_TRUE(failure_exit.has_value());
  EXPECT_EQ(success_exit->exit_code, 0);
  EXPECT_EQ(failure_exit->exit_code, 3);
  EXPECT_EQ(failure_exit->signal, 0);
}

TEST_F(ProcessTest, ReapExitedChildrenReportsExitCodeAndSignal) {
  pid_t exited = SpawnCommand("exit 7");
  pid_t killed = SpawnCommand("exec sleep 300");
  ASSERT_TRUE(SignalProcessGroup(killed, SIGKILL));
  std::map<pid_t, ExitedChild> reaped;
  ASSERT_TRUE(Eventually([&] {
    for (const ExitedChild& child : ReapExitedChildren()) reaped[child.pid] = child;
    return reaped.count(exited) == 1 && reaped.count(killed) == 1;
  }));
  EXPECT_EQ(reaped[exited].exit_code, 7);
  EXPECT_EQ(reaped[exited].signal, 0);
  EXPECT_EQ(reaped[killed].exit_code, -1);
  EXPECT_EQ(reaped[killed].signal, SIGKILL);
}

TEST_F(ProcessTest, ReapCallsBeforeReapWhileTheChildIsAZombie) {
  pid_t pid = SpawnCommand("exit 0");
  std::vector<pid_t> seen;
  bool zombie_when_seen = false;
  ASSERT_TRUE(Eventually([&] {
    auto exited = ReapExitedChildren([&](pid_t child) {
      seen.push_back(child);
      if (child == pid) zombie_when_seen = ProcessStartTicks(pid) != 0 && !IsRunning(pid);
    });
    return !exited.empty();
  }));
  EXPECT_EQ(seen, std::vector<pid_t>{pid});
  EXPECT_TRUE(zombie_when_seen);
  EXPECT_EQ(ProcessStartTicks(pid), 0);
}

TEST_F(ProcessTest, SetsEnvironmentOnTopOfTheCallers) {
  setenv("BATON_PROCESS_TEST_INHERITED", "inherited", 1);
  setenv("BATON_PROCESS_TEST_OVERRIDDEN", "old", 1);
  SpawnRequest request;
  request.command =
      "echo \"$BATON_PROCESS_TEST_INHERITED $BATON_PROCESS_TEST_OVERRIDDEN $BATON_PROCESS_TEST_NEW "
      "$(env | grep -c '^BATON_PROCESS_TEST_OVERRIDDEN=')\"";
  request.env = {{"BATON_PROCESS_TEST_OVERRIDDEN", "new"}, {"BATON_PROCESS_TEST_NEW", "a b=c"}};
  request.log_path = Log();
  pid_t pid = Spawn(request);
  unsetenv("BATON_PROCESS_TEST_INHERITED");
  unsetenv("BATON_PROCESS_TEST_OVERRIDDEN");
  std::optional<Exit> exit = WaitForExit(pid);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadFile(Log()), "inherited new a b=c 1\n");
}

TEST_F(ProcessTest, WritesToTheGivenDescriptorThroughABlockingPipe) {
  Result<OutputPipe> pipe = OpenOutputPipe();
  ASSERT_TRUE(pipe.ok()) << pipe.status().message();
  EXPECT_GT(pipe->read_end, STDERR_FILENO);
  EXPECT_GT(pipe->write_end, STDERR_FILENO);
  EXPECT_NE(fcntl(pipe->read_end, F_GETFL) & O_NONBLOCK, 0);
  // The task's end blocks: a task writing more than the pipe holds waits for
  // the reader rather than failing with EAGAIN.
  EXPECT_EQ(fcntl(pipe->write_end, F_GETFL) & O_NONBLOCK, 0);
  SpawnRequest request;
  request.command = "echo out; echo err >&2";
  request.output_fd = pipe->write_end;
  pid_t pid = Spawn(request);
  close(pipe->write_end);
  ASSERT_TRUE(WaitForExit(pid).has_value());
  std::string output;
  char buffer[256];
  ssize_t count = 0;
  while ((count = read(pipe->read_end, buffer, sizeof buffer)) > 0) output.append(buffer, count);
  close(pipe->read_end);
  EXPECT_EQ(output, "out\nerr\n");

  request.log_path = Log();
  Result<pid_t> both = SpawnProcessGroup(request);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.status().code(), Status::Code::kInvalidInput);
}

TEST_F(ProcessTest, RejectsAnInvalidEnvironmentName) {
  SpawnRequest request;
  request.command = "true";
  request.env = {{"A=B", "c"}};
  Result<pid_t> pid = SpawnProcessGroup(request);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().code(), Status::Code::kInvalidInput);
}

TEST_F(ProcessTest, RunsInTheRequestedFolder) {
  std::filesystem::path work = folder_ / "work";
  std::filesystem::create_directory(work);
  SpawnRequest request;
  request.command = "pwd";
  request.cwd = work.string();
  request.log_path = Log();
  std::optional<Exit> exit = WaitForExit(Spawn(request));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(ReadFile(Log()), work.string() + "\n");
}

TEST_F(ProcessTest, ReportsAMissingFolderClearly) {
  SpawnRequest request;
  request.command = "true";
  request.cwd = "/nope";
  request.log_path = Log();
  Result<pid_t> pid = SpawnProcessGroup(request);
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().message(), "cannot chdir to '/nope': No such file or directory");
  // The failed child was reaped: no zombie is left for anybody else to find.
  EXPECT_TRUE(ReapExitedChildren().empty());
}

TEST_F(ProcessTest, ReportsAnUnwritableLogClearly) {
  std::filesystem::path blocker = folder_ / "file";
  std::ofstream(blocker) << "x";
  SpawnRequest request;
  request.command = "true";
  request.log_path = (blocker / "task.log").string();
  Result<pid_t> pid = SpawnProcessGroup(request);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.status().message().find(blocker.string()), std::string::npos)
      << pid.status().message();
}

TEST_F(ProcessTest, AppendsStdoutAndStderrToTheLogCreatingItsFolders) {
  std::filesystem::path log = folder_ / "dag" / "run" / "task" / "1.log";
  SpawnRequest request;
  request.command = "echo out; echo err >&2";
  request.log_path = log.string();
  ASSERT_TRUE(WaitForExit(Spawn(request)).has_value());
  request.command = "echo again";
  ASSERT_TRUE(WaitForExit(Spawn(request)).has_value());
  EXPECT_EQ(ReadFile(log), "out\nerr\nagain\n");
}

TEST_F(ProcessTest, SeveralThreadsSpawnAtOnceEachWithItsOwnChildren) {
  constexpr int kThreads = 4;
  constexpr int kSpawnsPerThread = 10;
  std::vector<std::vector<pid_t>> pids(kThreads);
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      for (int spawn = 0; spawn < kSpawnsPerThread; ++spawn) {
        SpawnRequest request;
        // The parent-death signal follows the spawning thread, which ends
        // before its children are waited for.
        request.die_with_parent = false;
        request.command = "echo " + std::to_string(thread) + "-" + std::to_string(spawn);
        request.log_path =
            (folder_ / std::to_string(thread) / (std::to_string(spawn) + ".log")).string();
        Result<pid_t> pid = SpawnProcessGroup(request);
        if (pid.ok()) pids[thread].push_back(*pid);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int thread = 0; thread < kThreads; ++thread) {
    ASSERT_EQ(pids[thread].size(), static_cast<size_t>(kSpawnsPerThread));
    for (int spawn = 0; spawn < kSpawnsPerThread; ++spawn) {
      std::optional<Exit> exit = WaitForExit(pids[thread][spawn]);
      ASSERT_TRUE(exit.has_value());
      EXPECT_EQ(exit->exit_code, 0);
      EXPECT_EQ(ReadFile(folder_ / std::to_string(thread) / (std::to_string(spawn) + ".log")),
                std::to_string(thread) + "-" + std::to_string(spawn) + "\n");
    }
  }
}

TEST_F(ProcessTest, StdinIsEmpty) {
  std::optional<Exit> exit = WaitForExit(SpawnCommand("cat; echo end"));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(ReadFile(Log()), "end\n");
}

TEST_F(ProcessTest, LeadsItsOwnProcessGroup) {
  pid_t pid = SpawnCommand("exec sleep 300");
  EXPECT_EQ(getpgid(pid), pid);
  EXPECT_NE(getpgid(pid), getpgid(0));
}

TEST_F(ProcessTest, SignalProcessGroupKillsGrandchildren) {
  pid_t pid = SpawnCommand("sleep 300 & echo $!; sleep 300");
  std::optional<pid_t> grandchild = WaitForPid(Log());
  ASSERT_TRUE(grandchild.has_value());
  ASSERT_TRUE(IsRunning(*grandchild));

  EXPECT_TRUE(SignalProcessGroup(pid, SIGKILL));
  std::optional<Exit> exit = WaitForExit(pid);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(Eventually([&] { return !IsRunning(*grandchild); }));
}

TEST_F(ProcessTest, SignalProcessGroupRefusesOwnAndAllGroups) {
  EXPECT_FALSE(SignalProcessGroup(0, 0));
  EXPECT_FALSE(SignalProcessGroup(1, 0));
}

TEST_F(ProcessTest, CpuTicksGrowAsAProcessRuns) {
  pid_t busy = SpawnCommand("while :; do :; done");
  ASSERT_TRUE(Eventually([&] { return ProcessCpuTicks(busy) > 0; }));
  const int64_t earlier = ProcessCpuTicks(busy);
  EXPECT_TRUE(Eventually([&] { return ProcessCpuTicks(busy) > earlier; }));
  SignalProcessGroup(busy, SIGKILL);
  WaitForExit(busy);
  EXPECT_EQ(ProcessCpuTicks(busy), 0);
}

TEST_F(ProcessTest, StartTicksTellProcessesApart) {
  pid_t first = SpawnCommand("exec sleep 300");
  int64_t first_ticks = ProcessStartTicks(first);
  EXPECT_GT(first_ticks, 0);
  // Processes started within one clock tick share a start time; spawn until one
  // lands in a later tick.
  int64_t second_ticks = 0;
  ASSERT_TRUE(Eventually([&] {
    pid_t second = SpawnCommand("exec sleep 300");
    second_ticks = ProcessStartTicks(second);
    SignalProcessGroup(second, SIGKILL);
    WaitForExit(second);
    return second_ticks != first_ticks;
  }));
  EXPECT_GT(second_ticks, first_ticks);
  EXPECT_EQ(ProcessStartTicks(first), first_ticks);

  SignalProcessGroup(first, SIGKILL);
  ASSERT_TRUE(WaitForExit(first).has_value());
  EXPECT_EQ(ProcessStartTicks(first), 0);
  EXPECT_EQ(ProcessStartTicks(-1), 0);
}

TEST_F(ProcessTest, FindsLeftoversByMarkerAfterTheLeaderExited) {
  const std::string marker = "BATON_TRY_MARKER=dag/run/task/1";
  SpawnRequest request;
  request.env = {{"BATON_TRY_MARKER", "dag/run/task/1"}};
  request.command =
      "sleep 300 & echo $!; env -u BATON_TRY_MARKER sleep 300 & echo $!; "
      "env BATON_TRY_MARKER=dag/run/task/10 sleep 300 & echo $!";
  request.log_path = Log();
  pid_t pid = Spawn(request);
  std::optional<Exit> exit = WaitForExit(pid);
  ASSERT_TRUE(exit.has_value());
  ASSERT_EQ(exit->exit_code, 0);
  std::istringstream lines(ReadFile(Log()));
  pid_t marked = 0, unmarked = 0, other_marker = 0;
  lines >> marked >> unmarked >> other_marker;
  ASSERT_GT(other_marker, 0);
  // `env` changes the environment when it execs sleep; wait until both have.
  ASSERT_TRUE(Eventually(
      [&] { return CommandName(unmarked) == "sleep" && CommandName(other_marker) == "sleep"; }));

  EXPECT_EQ(FindProcessesWithMarker(pid, marker), std::vector<pid_t>{marked});
  EXPECT_EQ(FindProcessesWithMarker(pid, "BATON_TRY_MARKER=dag/run/task/10"),
            std::vector<pid_t>{other_marker});
  EXPECT_TRUE(FindProcessesWithMarker(pid, "BATON_TRY_MARKER=dag/run/task/2").empty());
  EXPECT_TRUE(FindProcessesWithMarker(getpgid(0), marker).empty());
  ASSERT_TRUE(IsRunning(unmarked));

  EXPECT_TRUE(SignalProcessGroup(pid, SIGKILL));
  EXPECT_TRUE(Eventually([&] { return FindProcessesWithMarker(pid, marker).empty(); }));
}

TEST_F(ProcessTest, DiesWithItsParent) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t intermediate = fork();
  ASSERT_GE(intermediate, 0);
  if (intermediate == 0) {
    close(pipe_fds[0]);
    SpawnRequest request;
    request.command = "exec sleep 300";
    request.env[kTestMarkerName] = folder_.string();
    Result<pid_t> pid = SpawnProcessGroup(request);
    pid_t value = pid.ok() ? *pid : -1;
    ssize_t written = write(pipe_fds[1], &value, sizeof(value));
    _exit(written == sizeof(value) ? 0 : 1);
  }
  close(pipe_fds[1]);
  pid_t sleeper = -1;
  ssize_t received = read(pipe_fds[0], &sleeper, sizeof(sleeper));
  close(pipe_fds[0]);
  std::optional<Exit> exit = WaitForExit(intermediate);
  ASSERT_TRUE(exit.has_value());
  ASSERT_EQ(received, static_cast<ssize_t>(sizeof(sleeper)));
  ASSERT_GT(sleeper, 0);
  groups_.push_back(sleeper);
  EXPECT_TRUE(Eventually([&] { return !IsRunning(sleeper); }));
}

}  // namespace
}  // namespace baton
