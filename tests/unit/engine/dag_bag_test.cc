// Tests for DagBag: which files are read and when, what a broken or
// conflicting file does to the DAGs, and what Refresh reports as changed.
#include "engine/dag_bag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/fake_clock.h"

namespace baton {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string DagText(const std::string& dag_id, const std::string& command = "true") {
  return "dag_id = \"" + dag_id + "\"\n[[task]]\nid = \"only\"\ncommand = \"" + command + "\"\n";
}

class DagBagTest : public ::testing::Test {
 protected:
  DagBagTest()
      : folder_(fs::temp_directory_path() /
                ("baton_dag_bag_test_" + std::to_string(::getpid()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name())),
        clock_(*ParseIso8601("2024-06-01T12:00:00Z")) {
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  ~DagBagTest() override { fs::remove_all(folder_); }

  // Writes a file with a modification time of its own, so that a rewrite is
  // seen even within the file system's timestamp granularity.
  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = folder_ / name;
    std::ofstream(path) << text;
    fs::last_write_time(path, fs::file_time_type::clock::now() + std::chrono::seconds(++writes_));
    return path.string();
  }

  DagBag MakeBag() { return DagBag(folder_.string(), DagFileContext{}, clock_); }

  fs::path folder_;
  testing::FakeClock clock_;
  int writes_ = 0;
};

TEST_F(DagBagTest, ReadsTheTomlFilesOfTheFolderOnly) {
  Write("b.toml", DagText("beta"));
  Write("a.toml", DagText("alpha"));
  Write("notes.txt", DagText("ignored"));
  fs::create_directories(folder_ / "sub");
  Write("sub/c.toml", DagText("nested"));
  DagBag bag = MakeBag();
  EXPECT_TRUE(bag.Refresh());
  EXPECT_EQ(bag.dags().size(), 2u);
  ASSERT_TRUE(bag.Find("alpha"));
  EXPECT_EQ(bag.Find("alpha")->file, (folder_ / "a.toml").string());
  EXPECT_TRUE(bag.Find("beta"));
  EXPECT_FALSE(bag.Find("ignored"));
  EXPECT_FALSE(bag.Find("nested"));
  EXPECT_TRUE(bag.errors().empty());
}

TEST_F(DagBagTest, NothingChangedMeansNothingReported) {
  Write("a.toml", DagText("alpha"));
  DagBag bag = MakeBag();
  EXPECT_TRUE(bag.Refresh());
  auto before = bag.Find("alpha");
  EXPECT_FALSE(bag.Refresh());
  EXPECT_EQ(bag.Find("alpha"), before);
}

TEST_F(DagBagTest, FilesWithTheSameSizeAndTimeAreNotReRead) {
  const std::string path = Write("a.toml", DagText("alpha", "echo 1"));
  DagBag bag = MakeBag();
  bag.Refresh();
  const auto modified = fs::last_write_time(path);
  std::ofstream(path) << DagText("alpha", "echo 2");
  fs::last_write_time(path, modified);
  EXPECT_FALSE(bag.Refresh());
  EXPECT_EQ(bag.Find("alpha")->tasks[0].command, "echo 1");
}

TEST_F(DagBagTest, ChangedFileIsReRead) {
  Write("a.toml", DagText("alpha", "echo 1"));
  DagBag bag = MakeBag();
  bag.Refresh();
  Write("a.toml", DagText("alpha", "echo 2"));
  EXPECT_TRUE(bag.Refresh());
  EXPECT_EQ(bag.Find("alpha")->tasks[0].command, "echo 2");
}

TEST_F(DagBagTest, RemovedFileDropsItsDag) {
  const std::string path = Write("a.toml", DagText("alpha"));
  Write("b.toml", DagText("beta"));
  DagBag bag = MakeBag();
  bag.Refresh();
  fs::remove(path);
  EXPECT_TRUE(bag.Refresh());
  EXPECT_FALSE(bag.Find("alpha"));
  EXPECT_TRUE(bag.Find("beta"));
}

TEST_F(DagBagTest, BrokenNewFileIsAnImportError) {
  const std::string path = Write("a.toml", "dag_id = \"alpha\"\nretires = 1\n");
  Write("b.toml", DagText("beta"));
  DagBag bag = MakeBag();
  EXPECT_TRUE(bag.Refresh());
  EXPECT_FALSE(bag.Find("alpha"));
  EXPECT_TRUE(bag.Find("beta"));
  ASSERT_EQ(bag.errors().size(), 1u);
  EXPECT_EQ(bag.errors()[0].file, path);
  EXPECT_THAT(bag.errors()[0].message, StartsWith(path + ":2:1: unknown key 'retires'"));
  EXPECT_EQ(bag.errors()[0].recorded_at, clock_.Now());
}

TEST_F(DagBagTest, BrokenFileKeepsItsLastGoodVersion) {
  const std::string path = Write("a.toml", DagText("alpha", "echo good"));
  DagBag bag = MakeBag();
  bag.Refresh();
  Write("a.toml", DagText("alpha", "echo {{ nope }}"));
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_TRUE(bag.Refresh());
  ASSERT_TRUE(bag.Find("alpha"));
  EXPECT_EQ(bag.Find("alpha")->tasks[0].command, "echo good");
  ASSERT_EQ(bag.errors().size(), 1u);
  EXPECT_THAT(bag.errors()[0].message, StartsWith(path + ":4:11: field 'command'"));
  EXPECT_EQ(bag.errors()[0].recorded_at, clock_.Now());

  Write("a.toml", DagText("alpha", "echo fixed"));
  EXPECT_TRUE(bag.Refresh());
  EXPECT_TRUE(bag.errors().empty());
  EXPECT_EQ(bag.Find("alpha")->tasks[0].command, "echo fixed");
}

TEST_F(DagBagTest, DuplicateDagIdIsAnErrorForTheLaterFile) {
  const std::string first = Write("a.toml", DagText("same", "echo a"));
  const std::string second = Write("b.toml", DagText("same", "echo b"));
  DagBag bag = MakeBag();
  bag.Refresh();
  ASSERT_TRUE(bag.Find("same"));
  EXPECT_EQ(bag.Find("same")->file, first);
  ASSERT_EQ(bag.errors().size(), 1u);
  EXPECT_EQ(bag.errors()[0].file, second);
  EXPECT_THAT(bag.errors()[0].message, HasSubstr("dag_id 'same' is already defined in " + first));
  EXPECT_FALSE(bag.Refresh());  // the conflict is not news the second time

  fs::remove(first);
  EXPECT_TRUE(bag.Refresh());
  EXPECT_EQ(bag.Find("same")->file, second);
  EXPECT_TRUE(bag.errors().empty());
}

TEST_F(DagBagTest, NewFileCannotTakeOverALoadedDag) {
  const std::string owner = Write("m.toml", DagText("same"));
  DagBag bag = MakeBag();
  bag.Refresh();
  const std::string newcomer = Write("a.toml", DagText("same"));
  EXPECT_TRUE(bag.Refresh());
  EXPECT_EQ(bag.Find("same")->file, owner);
  ASSERT_EQ(bag.errors().size(), 1u);
  EXPECT_EQ(bag.errors()[0].file, newcomer);
}

TEST_F(DagBagTest, MissingFolderHasNoDags) {
  DagBag bag((folder_ / "absent").string(), DagFileContext{}, clock_);
  EXPECT_FALSE(bag.Refresh());
  EXPECT_TRUE(bag.dags().empty());
  EXPECT_TRUE(bag.errors().empty());
}

}  // namespace
}  // namespace baton
