// Tests for pidfiles that name one process life.
#include "common/pidfile.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

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
