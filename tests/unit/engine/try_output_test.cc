// Tests for TryOutput on real pipes and files: no file until the first byte,
// bounded drains, the end of the pipe, and a log that cannot be written.
#include "engine/try_output.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "tests/support/process_probes.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using testing::ReadFile;

class TryOutputTest : public ::testing::Test {
 protected:
  std::unique_ptr<TryOutput> Open(const std::filesystem::path& log) {
    auto opened = TryOutput::Open(log.string());
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  testing::TempFolder folder_;
};

TEST_F(TryOutputTest, MakesTheFileAndItsFolderAtTheFirstByteOnly) {
  const std::filesystem::path log = folder_.path() / "run" / "task" / "1.log";
  std::unique_ptr<TryOutput> output = Open(log);
  ASSERT_NE(output, nullptr);
  EXPECT_EQ(output->Drain(), TryOutput::Drained::kEmpty);
  EXPECT_FALSE(std::filesystem::exists(log.parent_path()));

  ASSERT_EQ(write(output->write_end(), "hello\n", 6), 6);
  EXPECT_EQ(output->Drain(), TryOutput::Drained::kEmpty);
  EXPECT_EQ(ReadFile(log), "hello\n");

  output->CloseWriteEnd();
  EXPECT_EQ(output->Drain(), TryOutput::Drained::kEnded);
}

TEST_F(TryOutputTest, ADrainMovesNoMoreThanItsLimitAndTheRestFollows) {
  const std::filesystem::path log = folder_.path() / "flood.log";
  std::unique_ptr<TryOutput> output = Open(log);
  ASSERT_NE(output, nullptr);
  constexpr size_t kTotal = 5 * TryOutput::kDrainLimit;
  // The writer blocks whenever the pipe is full, as a task does.
  std::thread writer([fd = output->write_end()] {
    const std::string chunk(8192, 'y');
    for (size_t written = 0; written < kTotal; written += chunk.size()) {
      ASSERT_EQ(write(fd, chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
    }
  });
  uintmax_t before = 0;
  bool writer_joined = false;
  for (int calls = 0; calls < 100000; ++calls) {
    const TryOutput::Drained drained = output->Drain();
    const uintmax_t now = std::filesystem::exists(log) ? std::filesystem::file_size(log) : 0;
    // One read past the limit at most (64 KiB).
    EXPECT_LE(now - before, TryOutput::kDrainLimit + 64 * 1024);
    before = now;
    if (now == kTotal && !writer_joined) {
      writer.join();
      writer_joined = true;
      output->CloseWriteEnd();
    }
    if (drained == TryOutput::Drained::kEnded) break;
    if (drained == TryOutput::Drained::kEmpty) std::this_thread::yield();
  }
  if (!writer_joined) writer.join();
  EXPECT_EQ(std::filesystem::file_size(log), kTotal);
}

TEST_F(TryOutputTest, AnUnwritableLogDropsTheOutputAndKeepsThePipeFlowing) {
  // A file where the log's folder would go.
  { std::ofstream(folder_.path() / "blocked") << "a file\n"; }
  std::unique_ptr<TryOutput> output = Open(folder_.path() / "blocked" / "1.log");
  ASSERT_NE(output, nullptr);
  const std::string chunk(4096, 'z');
  ASSERT_EQ(write(output->write_end(), chunk.data(), chunk.size()), 4096);
  EXPECT_EQ(output->Drain(), TryOutput::Drained::kEmpty);  // read, and dropped
  ASSERT_EQ(write(output->write_end(), chunk.data(), chunk.size()), 4096);
  output->CloseWriteEnd();
  EXPECT_EQ(output->Drain(), TryOutput::Drained::kEnded);
}

}  // namespace
}  // namespace baton
