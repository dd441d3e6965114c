// Tests for the local executor on a real io_context with real processes: exit
// codes, many concurrent tries, timeouts that kill a whole process tree,
// shutdown with and without grace, refused launches, the try marker, and the
// output that reaches the log file through the loop.
#include "engine/local_executor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/process.h"
#include "tests/support/process_probes.h"

namespace baton {
namespace {

using std::chrono::steady_clock;
using testing::IsRunning;
using testing::ReadFile;

constexpr auto kDeadline = std::chrono::seconds(20);

struct Started {
  TaskInstanceKey key;
  int try_number = 0;
  int pid = 0;
};

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "local_executor.XXXXXX");
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    folder_ = pattern;
    Executor::Callbacks callbacks;
    callbacks.on_started = [this](const TaskInstanceKey& key, int try_number, int pid) {
      started_.push_back({key, try_number, pid});
      events_.push_back("started " + key.task_id);
    };
    callbacks.on_finished = [this](const TaskOutcome& outcome) {
      finished_.push_back(outcome);
      events_.push_back("finished " + outcome.key.task_id);
    };
    executor_ = MakeLocalExecutor(io_, callbacks);
  }

  void TearDown() override {
    executor_.reset();
    // A failed test may leave a try's background children behind; the marker
    // names exactly those.
    for (const Started& start : started_) {
      for (pid_t pid : FindProcessesWithMarker(start.pid, TryMarker(start.key, start.try_number))) {
        kill(pid, SIGKILL);
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  // Runs the loop until `condition` holds; false when the deadline passed first.
  bool RunUntil(const std::function<bool()>& condition) {
    auto deadline = steady_clock::now() + kDeadline;
    while (!condition()) {
      if (steady_clock::now() > deadline) return false;
      io_.run_one_for(std::chrono::milliseconds(10));
      if (io_.stopped()) io_.restart();
    }
    return true;
  }

  // The pid a try printed on the first line of its log, read while the loop
  // runs: the loop moves the output into the file.
  std::optional<pid_t> PidInLog(const std::string& task_id, int try_number) {
    std::optional<pid_t> pid;
    RunUntil([&] {
      const std::string text = ReadFile(LogPath(task_id, try_number));
      if (!text.ends_with('\n')) return false;  // not written, or not to the end yet
      pid = std::stoi(text);
      return true;
    });
    return pid;
  }

  // Shuts the executor down and runs the loop until `done` was called and
  // nothing is left to run, so every callback there will ever be was delivered.
  int ShutDownAndDrain(Duration grace) {
    executor_->Shutdown(grace, [this] {
      ++done_calls_;
      events_.push_back("done");
    });
    EXPECT_TRUE(RunUntil([&] { return done_calls_ > 0; }));
    io_.restart();
    io_.poll();
    return done_calls_;
  }

  TaskLaunch MakeLaunch(const std::string& task_id, int try_number, const std::string& command) {
    TaskLaunch launch;
    launch.key = {"dag", "run", task_id};
    launch.try_number = try_number;
    launch.command = command;
    launch.log_path = LogPath(task_id, try_number);
    return launch;
  }

  std::string LogPath(const std::string& task_id, int try_number) const {
    return (folder_ / "logs" / task_id / (std::to_string(try_number) + ".log")).string();
  }

  boost::asio::io_context io_;
  std::filesystem::path folder_;
  std::vector<Started> started_;
  std::vector<TaskOutcome> finished_;
  std::vector<std::string> events_;
  int done_calls_ = 0;
  std::unique_ptr<Executor> executor_;
};

TEST_F(LocalExecutorTest, ReportsSuccessAndFailureOnceEach) {
  ASSERT_TRUE(executor_->Launch(MakeLaunch("good", 1, "exit 0")).ok());
  ASSERT_TRUE(executor_->Launch(MakeLaunch("bad", 2, "exit 3")).ok());
  // Callbacks come from the loop, never from inside Launch.
  EXPECT_TRUE(started_.empty());
  EXPECT_EQ(executor_->RunningCount(), 2u);

  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 2; }));
  EXPECT_EQ(executor_->RunningCount(), 0u);
  EXPECT_EQ(ShutDownAndDrain(Duration(0)), 1);

  ASSERT_EQ(started_.size(), 2u);
  ASSERT_EQ(finished_.size(), 2u);
  std::map<std::string, TaskOutcome> by_task;
  for (const TaskOutcome& outcome : finished_) by_task[outcome.key.task_id] = outcome;
  EXPECT_EQ(by_task["good"].try_number, 1);
  EXPECT_EQ(by_task["good"].exit_code, 0);
  EXPECT_TRUE(by_task["good"].succeeded());
  EXPECT_EQ(by_task["bad"].try_number, 2);
  EXPECT_EQ(by_task["bad"].exit_code, 3);
  EXPECT_EQ(by_task["bad"].signal, 0);
  EXPECT_FALSE(by_task["bad"].timed_out);
  EXPECT_FALSE(by_task["bad"].succeeded());
  for (const Started& start : started_) {
    EXPECT_GT(start.pid, 0);
    EXPECT_EQ(start.try_number, start.key.task_id == "good" ? 1 : 2);
  }
}

TEST_F(LocalExecutorTest, ReportsHundredConcurrentTriesExactlyOnce) {
  constexpr int kTries = 100;
  for (int i = 0; i < kTries; ++i) {
    ASSERT_TRUE(
        executor_
            ->Launch(MakeLaunch("task" + std::to_string(i), i + 1, "exit " + std::to_string(i % 7)))
            .ok());
  }
  // Nothing is reaped before the loop runs.
  EXPECT_EQ(executor_->RunningCount(), static_cast<size_t>(kTries));
  ASSERT_TRUE(RunUntil([&] { return finished_.size() >= kTries; }));
  EXPECT_EQ(ShutDownAndDrain(Duration(0)), 1);

  ASSERT_EQ(started_.size(), static_cast<size_t>(kTries));
  ASSERT_EQ(finished_.size(), static_cast<size_t>(kTries));
  std::set<std::string> tasks;
  std::set<int> pids;
  for (const Started& start : started_) pids.insert(start.pid);
  EXPECT_EQ(pids.size(), static_cast<size_t>(kTries));
  for (const TaskOutcome& outcome : finished_) {
    EXPECT_TRUE(tasks.insert(outcome.key.task_id).second) << outcome.key.task_id;
    int index = std::stoi(outcome.key.task_id.substr(4));
    EXPECT_EQ(outcome.try_number, index + 1);
    EXPECT_EQ(outcome.exit_code, index % 7) << outcome.key.task_id;
  }
  EXPECT_EQ(executor_->RunningCount(), 0u);
}

TEST_F(LocalExecutorTest, TimeoutKillsTheWholeProcessTree) {
  TaskLaunch launch = MakeLaunch("slow", 1, "sleep 300 & echo $!; sleep 300");
  // Long enough for the shell to start its background child even on a loaded
  // machine; the log says whether it did.
  launch.timeout = Duration(1000);
  auto begin = steady_clock::now();
  ASSERT_TRUE(executor_->Launch(launch).ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_GE(steady_clock::now() - begin, *launch.timeout);
  const TaskOutcome& outcome = finished_[0];
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_EQ(outcome.signal, SIGTERM);
  EXPECT_EQ(outcome.exit_code, -1);
  EXPECT_FALSE(outcome.succeeded());

  std::string log = ReadFile(LogPath("slow", 1));
  ASSERT_FALSE(log.empty()) << "the shell did not start its background child before the timeout";
  pid_t grandchild = std::stoi(log);
  EXPECT_TRUE(RunUntil([&] { return !IsRunning(grandchild); }));
  ASSERT_EQ(started_.size(), 1u);
  // The end is reported once the shell is gone; the rest of its group got the
  // same signal and may take a moment longer to die.
  EXPECT_TRUE(RunUntil(
      [&] { return FindProcessesWithMarker(started_[0].pid, TryMarker(launch.key, 1)).empty(); }));
}

TEST_F(LocalExecutorTest, KillsWhatAFinishedTryLeftBehind) {
  ASSERT_TRUE(executor_->Launch(MakeLaunch("forks", 1, "sleep 300 & echo $!")).ok());
  std::optional<pid_t> grandchild = PidInLog("forks", 1);
  ASSERT_TRUE(grandchild.has_value());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_EQ(finished_[0].exit_code, 0);
  EXPECT_TRUE(RunUntil([&] { return !IsRunning(*grandchild); }));
}

TEST_F(LocalExecutorTest, ShutdownWaitsForAShortTaskWithinGrace) {
  ASSERT_TRUE(executor_->Launch(MakeLaunch("short", 1, "sleep 0.3; exit 0")).ok());
  EXPECT_EQ(ShutDownAndDrain(std::chrono::seconds(30)), 1);
  ASSERT_EQ(finished_.size(), 1u);
  EXPECT_EQ(finished_[0].exit_code, 0);
  EXPECT_EQ(finished_[0].signal, 0);
  EXPECT_EQ(events_, (std::vector<std::string>{"started short", "finished short", "done"}));
}

TEST_F(LocalExecutorTest, ShutdownKillsALongTaskAfterGrace) {
  constexpr Duration kGrace(200);
  ASSERT_TRUE(executor_->Launch(MakeLaunch("long", 1, "sleep 300")).ok());
  auto begin = steady_clock::now();
  EXPECT_EQ(ShutDownAndDrain(kGrace), 1);
  EXPECT_GE(steady_clock::now() - begin, kGrace);
  ASSERT_EQ(finished_.size(), 1u);
  EXPECT_EQ(finished_[0].signal, SIGKILL);
  EXPECT_EQ(finished_[0].exit_code, -1);
  EXPECT_FALSE(finished_[0].timed_out);
  EXPECT_EQ(executor_->RunningCount(), 0u);
  EXPECT_EQ(events_, (std::vector<std::string>{"started long", "finished long", "done"}));
}

TEST_F(LocalExecutorTest, RefusesLaunchAfterShutdown) {
  EXPECT_EQ(ShutDownAndDrain(std::chrono::seconds(1)), 1);
  Status status = executor_->Launch(MakeLaunch("late", 1, "exit 0"));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(executor_->RunningCount(), 0u);
  io_.restart();
  io_.poll();
  EXPECT_TRUE(started_.empty());
  EXPECT_TRUE(finished_.empty());
}

TEST_F(LocalExecutorTest, BadFolderFailsLaunch) {
  TaskLaunch launch = MakeLaunch("nowhere", 1, "exit 0");
  launch.cwd = "/nope";
  Status status = executor_->Launch(launch);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("cannot chdir to '/nope': No such file or directory"),
            std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("dag/run/nowhere try 1"), std::string::npos) << status.message();
  EXPECT_EQ(executor_->RunningCount(), 0u);
  EXPECT_EQ(ShutDownAndDrain(Duration(0)), 1);
  EXPECT_TRUE(started_.empty());
  EXPECT_TRUE(finished_.empty());
}

TEST_F(LocalExecutorTest, TaskSeesItsTryMarker) {
  TaskLaunch launch = MakeLaunch("marked", 3, "echo \"$BATON_TRY_MARKER $OTHER\"");
  // A task's own env cannot replace the marker.
  launch.env = {{"BATON_TRY_MARKER", "fake"}, {"OTHER", "kept"}};
  ASSERT_TRUE(executor_->Launch(launch).ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_EQ(TryMarker(launch.key, 3), "BATON_TRY_MARKER=dag/run/marked/3");
  EXPECT_EQ(ReadFile(LogPath("marked", 3)), "dag/run/marked/3 kept\n");
}

TEST_F(LocalExecutorTest, DestroyingTheExecutorKillsRunningTries) {
  ASSERT_TRUE(executor_->Launch(MakeLaunch("orphan", 1, "sleep 300 & echo $!; sleep 300")).ok());
  std::optional<pid_t> grandchild = PidInLog("orphan", 1);
  ASSERT_TRUE(grandchild.has_value());
  ASSERT_TRUE(RunUntil([&] { return started_.size() == 1; }));
  pid_t leader = started_[0].pid;
  executor_.reset();
  EXPECT_FALSE(IsRunning(leader));
  EXPECT_TRUE(RunUntil([&] { return !IsRunning(*grandchild); }));
}

TEST_F(LocalExecutorTest, ASilentTryMakesNoLogFile) {
  ASSERT_TRUE(executor_->Launch(MakeLaunch("silent", 1, "true")).ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_EQ(finished_[0].exit_code, 0);
  EXPECT_FALSE(std::filesystem::exists(LogPath("silent", 1)));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(LogPath("silent", 1)).parent_path()));
}

TEST_F(LocalExecutorTest, TheLogHoldsAllOutputWhenTheEndIsReported) {
  // More than a pipe holds (64 KiB), from the shell and a child, on stdout
  // and stderr, ending just before the exit: all of it must be in the file by
  // the time the end is reported.
  ASSERT_TRUE(executor_
                  ->Launch(MakeLaunch("chatty", 2,
                                      "head -c 300000 /dev/zero | tr '\\0' x; echo; "
                                      "echo to-stderr >&2; printf last"))
                  .ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_EQ(finished_[0].exit_code, 0);
  const std::string log = ReadFile(LogPath("chatty", 2));
  EXPECT_EQ(log, std::string(300000, 'x') + "\nto-stderr\nlast");
}

TEST_F(LocalExecutorTest, ATryLaunchedFromAnotherThreadHasItsOutputRead) {
  // The loop turns here while another thread launches a try that writes more
  // than a pipe holds: it would block for good on a pipe nobody reads. The
  // launching thread outlives the try, whose death signal is tied to it.
  std::atomic<bool> ended{false};
  std::thread launcher([&] {
    EXPECT_TRUE(executor_->Launch(MakeLaunch("far", 1, "head -c 300000 /dev/zero")).ok());
    while (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  const bool finished = RunUntil([&] { return finished_.size() == 1; });
  ended = true;
  launcher.join();
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished_[0].exit_code, 0);
  EXPECT_EQ(std::filesystem::file_size(LogPath("far", 1)), 300000u);
}

TEST_F(LocalExecutorTest, ATaskFloodingItsOutputDoesNotHoldTheLoop) {
  // Four `yes` write without pause, faster than the loop empties the pipe;
  // the try's timeout must still fire on the loop.
  TaskLaunch launch = MakeLaunch("flood", 1, "yes & yes & yes & exec yes");
  launch.log_path = "/dev/null";
  launch.timeout = Duration(300);
  ASSERT_TRUE(executor_->Launch(launch).ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_TRUE(finished_[0].timed_out);
  EXPECT_EQ(finished_[0].signal, SIGTERM);
}

TEST_F(LocalExecutorTest, OutputAppendsToAnExistingLog) {
  // A message written before the try started (by an agent that failed to start
  // it earlier, say) stays at the top.
  std::filesystem::create_directories(std::filesystem::path(LogPath("again", 1)).parent_path());
  { std::ofstream(LogPath("again", 1)) << "earlier\n"; }
  ASSERT_TRUE(executor_->Launch(MakeLaunch("again", 1, "echo now")).ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_EQ(ReadFile(LogPath("again", 1)), "earlier\nnow\n");
}

TEST_F(LocalExecutorTest, AnUnwritableLogDropsTheOutputButNotTheTry) {
  // The log's folder cannot be made (a file stands where it would go): the try
  // still runs to its end, and a full pipe does not block it.
  std::filesystem::create_directories(folder_ / "logs");
  { std::ofstream(folder_ / "logs" / "blocked") << "a file, not a folder\n"; }
  ASSERT_TRUE(executor_->Launch(MakeLaunch("blocked", 1, "head -c 300000 /dev/zero; exit 3")).ok());
  ASSERT_TRUE(RunUntil([&] { return finished_.size() == 1; }));
  EXPECT_EQ(finished_[0].exit_code, 3);
}

}  // namespace
}  // namespace baton
