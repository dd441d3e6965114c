// TryOutput: a try's standard output and error on their way to its log file.
// The task writes into a pipe; the executor's loop moves what arrives into the
// file, which is created, with its folder, at the first byte. A try that prints
// nothing, as most do on a busy cluster, makes no file at all: a new folder and
// a new file per try cost more than the rest of a spawn on some file systems
// (ext4 without a journal scans past every recently deleted inode for each).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace baton {

class TryOutput {
 public:
  // The pipe only: the log file is not touched yet.
  static Result<std::unique_ptr<TryOutput>> Open(std::string log_path);
  ~TryOutput();
  TryOutput(const TryOutput&) = delete;
  TryOutput& operator=(const TryOutput&) = delete;

  // The end the task writes to (SpawnRequest::output_fd). Close it once the
  // child has it, or the pipe never reaches its end.
  int write_end() const { return write_end_; }
  void CloseWriteEnd();
  // The end to watch for reading; non-blocking.
  int read_end() const { return read_end_; }

  enum class Drained {
    kEmpty,  // the pipe is empty for now
    kMore,   // the pipe still holds output: a task writing without pause
    kEnded,  // every writer has closed the pipe: nothing more will come
  };
  // Moves what the pipe holds into the log file, up to kDrainLimit bytes, so a
  // task that floods its output cannot hold the loop. A file that cannot be
  // written is reported once, and the rest of the output is read and dropped so
  // the task does not block on a full pipe.
  Drained Drain();
  static constexpr size_t kDrainLimit = 1 << 20;

  const std::string& log_path() const { return log_path_; }

 private:
  TryOutput(std::string log_path, int read_end, int write_end);
  void Append(const char* data, size_t size);

  const std::string log_path_;
  int read_end_ = -1;
  int write_end_ = -1;
  int file_ = -1;
  bool file_failed_ = false;
};

}  // namespace baton
