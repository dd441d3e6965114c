#include "engine/try_output.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/process.h"

namespace baton {

Result<std::unique_ptr<TryOutput>> TryOutput::Open(std::string log_path) {
  auto pipe = OpenOutputPipe();
  if (!pipe.ok()) return pipe.status();
  return std::unique_ptr<TryOutput>(
      new TryOutput(std::move(log_path), pipe->read_end, pipe->write_end));
}

TryOutput::TryOutput(std::string log_path, int read_end, int write_end)
    : log_path_(std::move(log_path)), read_end_(read_end), write_end_(write_end) {}

TryOutput::~TryOutput() {
  CloseWriteEnd();
  if (read_end_ >= 0) close(read_end_);
  if (file_ >= 0) close(file_);
}

void TryOutput::CloseWriteEnd() {
  if (write_end_ >= 0) close(write_end_);
  write_end_ = -1;
}

TryOutput::Drained TryOutput::Drain() {
  // The size of a pipe's default buffer: one read takes all it can hold.
  char buffer[64 * 1024];
  size_t moved = 0;
  while (moved < kDrainLimit) {
    const ssize_t count = read(read_end_, buffer, sizeof buffer);
    if (count > 0) {
      Append(buffer, static_cast<size_t>(count));
      moved += static_cast<size_t>(count);
      continue;
    }
    if (count < 0 && errno == EINTR) continue;
    if (count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Drained::kEmpty;
    if (count < 0) {
      spdlog::warn("cannot read the output meant for log file '{}': {}", log_path_,
                   std::strerror(errno));
    }
    return Drained::kEnded;  // end of file, or a pipe that cannot be read
  }
  return Drained::kMore;
}

void TryOutput::Append(const char* data, size_t size) {
  if (file_failed_) return;
  if (file_ < 0) {
    auto opened = OpenFileToAppend(log_path_);
    if (!opened.ok()) {
      file_failed_ = true;
      spdlog::error("{}; the try's output is dropped", opened.status().message());
      return;
    }
    file_ = *opened;
  }
  while (size > 0) {
    const ssize_t written = write(file_, data, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      file_failed_ = true;
      spdlog::error("cannot write log file '{}': {}; the rest of the try's output is dropped",
                    log_path_, written < 0 ? std::strerror(errno) : "nothing written");
      return;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
}

}  // namespace baton
