// Tests for the local NodeShell: output and exit codes, the time limit that
// kills the command's process group, and children the command detaches, which
// live on without keeping Run waiting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "failover/node_shell.h"
#include "tests/support/process_probes.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using ::testing::EndsWith;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::IsRunning;
using testing::TempFolder;
using testing::WaitForPid;

// How long a command's children get to write their pid, or to die once killed.
constexpr auto kProcessDeadline = seconds(5);

class LocalShellTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : leftovers_) kill(pid, SIGKILL);
  }

  std::string PidFile(const std::string& name) const { return (folder_.path() / name).string(); }

  std::unique_ptr<NodeShell> shell_ = MakeLocalShell();
  TempFolder folder_{"local_shell_test"};
  std::vector<pid_t> leftovers_;  // killed at the end, whatever the test's outcome
};

TEST_F(LocalShellTest, ReturnsOutputOfBothStreamsAndTheExitCode) {
  Result<CommandOutcome> outcome = shell_->Run("echo out; echo err >&2; exit 3", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_EQ(outcome->output, "out\nerr\n");
  EXPECT_GE(outcome->elapsed.count(), 0);
  EXPECT_EQ(shell_->Describe(), "local");
}

TEST_F(LocalShellTest, SuccessIsExitCodeZero) {
  Result<CommandOutcome> outcome = shell_->Run("test -d /", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(outcome->output, "");
}

TEST_F(LocalShellTest, CommandKilledBySignalHasExitCodeMinusOne) {
  Result<CommandOutcome> outcome = shell_->Run("kill -KILL $$", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, -1);
}

TEST_F(LocalShellTest, KeepsTheLast64KiBOfOutput) {
  Result<CommandOutcome> outcome =
      shell_->Run("head -c 100000 /dev/zero | tr '\\0' x; echo END", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->output.size(), 64u * 1024);
  EXPECT_THAT(outcome->output, EndsWith("xxxEND\n"));
}

TEST_F(LocalShellTest, TimeoutKillsTheCommandAndWhatItStartedInItsGroup) {
  const std::string pidfile = PidFile("background.pid");
  auto start = steady_clock::now();
  Result<CommandOutcome> outcome =
      shell_->Run("sleep 30 & echo $! > " + pidfile + "; sleep 30", milliseconds(300));
  auto elapsed = steady_clock::now() - start;
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), Status::Code::kUnavailable);
  EXPECT_THAT(outcome.status().message(), HasSubstr("local: 'sleep 30 &"));
  EXPECT_THAT(outcome.status().message(), HasSubstr("timed out after 300ms"));
  EXPECT_LT(elapsed, seconds(2));
  std::optional<pid_t> background = WaitForPid(pidfile, kProcessDeadline);
  ASSERT_TRUE(background.has_value());
  leftovers_.push_back(*background);
  EXPECT_TRUE(Eventually([&] { return !IsRunning(*background); }, kProcessDeadline));
}

TEST_F(LocalShellTest, DetachedChildOutlivesTheCommandWithoutKeepingRunWaiting) {
  const std::string pidfile = PidFile("detached.pid");
  // The detached child keeps the command's stdout and stderr open.
  auto start = steady_clock::now();
  Result<CommandOutcome> outcome = shell_->Run(
      "setsid -f sh -c 'echo $$ > " + pidfile + "; exec sleep 30'; echo started", seconds(20));
  auto elapsed = steady_clock::now() - start;
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(outcome->output, "started\n");
  EXPECT_LT(elapsed, seconds(2));
  std::optional<pid_t> detached = WaitForPid(pidfile, kProcessDeadline);
  ASSERT_TRUE(detached.has_value());
  leftovers_.push_back(*detached);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(IsRunning(*detached));
}

TEST_F(LocalShellTest, LeavesNoOutputFileBehind) {
  const std::filesystem::path temp = folder_.path() / "tmp";
  std::filesystem::create_directories(temp);
  const char* saved = std::getenv("TMPDIR");
  const std::optional<std::string> previous =
      saved != nullptr ? std::optional<std::string>(saved) : std::nullopt;
  setenv("TMPDIR", temp.c_str(), 1);
  EXPECT_TRUE(IsOk(shell_->Run("echo hello", seconds(10))));
  EXPECT_FALSE(shell_->Run("sleep 30", milliseconds(50)).ok());
  if (previous) {
    setenv("TMPDIR", previous->c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
  EXPECT_TRUE(std::filesystem::is_empty(temp));
}

}  // namespace
}  // namespace baton
