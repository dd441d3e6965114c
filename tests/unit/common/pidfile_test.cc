// Tests for pidfiles that name one process life.
#include "common/pidfile.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/process.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

TEST(PidfileTest, NamesThisProcessUntilRemoved) {
  testing::TempFolder folder;
  const std::string path = folder.path().string() + "/run/scheduler.pid";
  ASSERT_TRUE(WritePidfile(path).ok());
  auto entry = ReadPidfile(path);
  ASSERT_TRUE(entry.ok()) << entry.status().message();
  ASSERT_TRUE(entry->has_value());
  EXPECT_EQ((*entry)->pid, getpid());
  EXPECT_TRUE(IsRunning(**entry));
  RemovePidfile(path);
  auto gone = ReadPidfile(path);
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST(PidfileTest, AReusedPidIsNotTheSameProcess) {
  PidfileEntry entry{getpid(), 1};  // this pid, another start time
  EXPECT_FALSE(IsRunning(entry));
}

TEST(PidfileTest, AnExitedProcessIsNotRunning) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  PidfileEntry entry{child, 0};
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(IsRunning(entry));
}

TEST(PidfileTest, AZombieIsNotRunning) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  PidfileEntry entry{child, 0};
  // Until reaped the child keeps its pid and start time.
  for (int i = 0; i < 500 && IsProcessAlive(child); ++i) usleep(1000);
  entry.start_ticks = ProcessStartTicks(child);
  EXPECT_NE(entry.start_ticks, 0);
  EXPECT_FALSE(IsRunning(entry));
  waitpid(child, nullptr, 0);
}

TEST(PidfileTest, GarbageIsInvalidInputNamingTheFile) {
  testing::TempFolder folder;
  const std::string path = folder.path().string() + "/bad.pid";
  std::ofstream(path) << "not a pid\n";
  auto entry = ReadPidfile(path);
  ASSERT_FALSE(entry.ok());
  EXPECT_EQ(entry.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(entry.status().message().find(path), std::string::npos);
}

TEST(PidfileTest, RemoveLeavesAnotherProcessesFile) {
  testing::TempFolder folder;
  const std::string path = folder.path().string() + "/other.pid";
  std::ofstream(path) << "1 1\n";
  RemovePidfile(path);
  auto entry = ReadPidfile(path);
  ASSERT_TRUE(entry.ok());
  EXPECT_TRUE(entry->has_value());
}

}  // namespace
}  // namespace baton
