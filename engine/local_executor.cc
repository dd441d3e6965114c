// The local executor: each try runs as a process group of its own, spawned
// synchronously by Launch, timed by a steady timer, and reaped on SIGCHLD from
// the event loop. A try's output reaches its log file through the loop too
// (TryOutput): the loop must keep turning for a chatty task to go on writing.
#include "engine/local_executor.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <boost/asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/process.h"
#include "engine/try_output.h"

namespace baton {
namespace {

namespace asio = boost::asio;

// How long a timed-out try gets between SIGTERM and SIGKILL.
constexpr Duration kKillGrace = std::chrono::seconds(5);
constexpr char kTryMarkerName[] = "BATON_TRY_MARKER";

// Watches a TryOutput's read end on the loop. The descriptor stays the
// TryOutput's: it is handed back, not closed, when the watch ends.
class OutputWatch {
 public:
  OutputWatch(asio::io_context& io, int fd) : descriptor_(io, fd) {}
  ~OutputWatch() { descriptor_.release(); }
  asio::posix::stream_descriptor& descriptor() { return descriptor_; }

 private:
  asio::posix::stream_descriptor descriptor_;
};

struct RunningTry {
  uint64_t serial = 0;  // tells this try from a later one that gets the same pid
  TaskInstanceKey key;
  int try_number = 0;
  bool timed_out = false;
  std::unique_ptr<asio::steady_timer> timer;  // the timeout, then the kill grace
  // Declared in this order so that the watch ends before the pipe it watches.
  std::unique_ptr<TryOutput> output;          // null: no log path, output to /dev/null
  std::unique_ptr<OutputWatch> output_watch;  // null once the pipe has reached its end
};

std::string TryMarkerValue(const TaskInstanceKey& key, int try_number) {
  return key.ToString() + "/" + std::to_string(try_number);
}

std::string DescribeTry(const TaskInstanceKey& key, int try_number) {
  return key.ToString() + " try " + std::to_string(try_number);
}

// Everything the executor's handlers touch. They hold it weakly, so a handler
// that runs after the executor was destroyed does nothing. One mutex guards the
// state and the Asio objects, so Launch may come from another thread than the
// loop's.
class LocalExecutorState : public std::enable_shared_from_this<LocalExecutorState> {
 public:
  LocalExecutorState(asio::io_context& io, Executor::Callbacks callbacks)
      : io_(io), callbacks_(std::move(callbacks)), child_signals_(io), shutdown_timer_(io) {}

  void Start() {
    std::lock_guard lock(mutex_);
    boost::system::error_code error;
    child_signals_.add(SIGCHLD, error);
    if (error) spdlog::error("local executor: cannot watch SIGCHLD: {}", error.message());
    WaitForChildren();
  }

  Status Launch(const TaskLaunch& launch) {
    std::lock_guard lock(mutex_);
    if (shutting_down_) {
      return Status::Unavailable("the local executor is shutting down; " +
                                 DescribeTry(launch.key, launch.try_number) + " was not started");
    }
    SpawnRequest request;
    request.command = launch.command;
    request.env = launch.env;
    // Set last, so a task's own env cannot hide the try from a later search.
    request.env[kTryMarkerName] = TryMarkerValue(launch.key, launch.try_number);
    request.cwd = launch.cwd;
    std::unique_ptr<TryOutput> output;
    if (!launch.log_path.empty()) {
      auto opened = TryOutput::Open(launch.log_path);
      if (!opened.ok()) {
        return opened.status().WithContext("cannot start " +
                                           DescribeTry(launch.key, launch.try_number));
      }
      output = std::move(opened).value();
      request.output_fd = output->write_end();
    }
    Result<pid_t> pid = SpawnProcessGroup(request);
    if (output) output->CloseWriteEnd();
    if (!pid.ok()) {
      return pid.status().WithContext("cannot start " + DescribeTry(launch.key, launch.try_number));
    }

    RunningTry& entry = running_[*pid];
    entry.serial = next_serial_++;
    entry.key = launch.key;
    entry.try_number = launch.try_number;
    if (launch.timeout) {
      entry.timer = std::make_unique<asio::steady_timer>(io_);
      entry.timer->expires_after(*launch.timeout);
      WaitForTimer(*pid, entry);
    }
    if (output) {
      entry.output = std::move(output);
      entry.output_watch = std::make_unique<OutputWatch>(io_, entry.output->read_end());
    }
    PostToLoop([key = launch.key, try_number = launch.try_number, pid = *pid,
                serial = entry.serial](LocalExecutorState& self) {
      // The first look at the output is made on the loop, as every later one.
      self.OnOutput(pid, serial);
      if (self.callbacks_.on_started) self.callbacks_.on_started(key, try_number, pid);
    });
    return Status::Ok();
  }

  size_t RunningCount() const {
    std::lock_guard lock(mutex_);
    return running_.size();
  }

  void Shutdown(Duration grace, std::function<void()> done) {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    if (done) shutdown_done_.push_back(std::move(done));
    if (running_.empty()) {
      FinishShutdownIfIdle();
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + grace;
    // A second Shutdown may shorten the grace, never lengthen it.
    if (shutdown_deadline_ && *shutdown_deadline_ <= deadline) return;
    shutdown_deadline_ = deadline;
    shutdown_timer_.expires_at(deadline);
    shutdown_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& error) {
      if (error) return;
      if (auto self = weak.lock()) self->OnShutdownGraceOver();
    });
  }

  // Kills and reaps what still runs, without reporting it: nobody is left to tell.
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    shutting_down_ = true;
    boost::system::error_code ignored;
    child_signals_.cancel(ignored);
    shutdown_timer_.cancel();
    for (const auto& [pid, entry] : running_) SignalProcessGroup(pid, SIGKILL);
    for (const auto& [pid, entry] : running_) {
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    running_.clear();
  }

 private:
  template <typename Function>
  void PostToLoop(Function function) {
    asio::post(io_, [weak = weak_from_this(), function = std::move(function)]() mutable {
      if (auto self = weak.lock()) function(*self);
    });
  }

  // Requires mutex_.
  void WaitForChildren() {
    child_signals_.async_wait(
        [weak = weak_from_this()](const boost::system::error_code& error, int /*signal*/) {
          if (error) return;
          if (auto self = weak.lock()) self->OnChildrenExited();
        });
  }

  // Requires mutex_.
  void WaitForTimer(pid_t pid, RunningTry& entry) {
    entry.timer->async_wait([weak = weak_from_this(), pid,
                             serial = entry.serial](const boost::system::error_code& error) {
      if (error) return;
      if (auto self = weak.lock()) self->OnTimerFired(pid, serial);
    });
  }

  // Requires mutex_, on the loop, once the pipe has been drained to empty: the
  // loop watches it edge-triggered, so only output written after the drain
  // wakes it, and nothing arriving between the drain and the wait is missed.
  void WaitForOutput(pid_t pid, RunningTry& entry) {
    entry.output_watch->descriptor().async_wait(
        asio::posix::descriptor_base::wait_read,
        [weak = weak_from_this(), pid,
         serial = entry.serial](const boost::system::error_code& error) {
          if (error) return;
          if (auto self = weak.lock()) self->OnOutput(pid, serial);
        });
  }

  // On the loop: moves what the try wrote into its log, then waits for more.
  void OnOutput(pid_t pid, uint64_t serial) {
    std::lock_guard lock(mutex_);
    auto found = running_.find(pid);
    if (closed_ || found == running_.end() || found->second.serial != serial) return;
    RunningTry& entry = found->second;
    if (!entry.output_watch) return;
    switch (entry.output->Drain()) {
      case TryOutput::Drained::kEmpty:
        WaitForOutput(pid, entry);
        break;
      case TryOutput::Drained::kMore:
        // Other handlers (timers, reaping, other tries) go first.
        PostToLoop([pid, serial](LocalExecutorState& self) { self.OnOutput(pid, serial); });
        break;
      case TryOutput::Drained::kEnded:
        entry.output_watch.reset();
        break;
    }
  }

  void OnChildrenExited() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    // Signals coalesce: one SIGCHLD may stand for many exits, so reap them all.
    std::vector<ExitedChild> exited = ReapExitedChildren([this](pid_t pid) {
      // While the leader is an unreaped zombie its pid, and so the group id,
      // cannot be reused: this reaches only what the try left behind.
      if (running_.count(pid) != 0) SignalProcessGroup(pid, SIGKILL);
    });
    for (const ExitedChild& child : exited) {
      auto found = running_.find(child.pid);
      if (found == running_.end()) continue;
      // What the try wrote before it ended is in the pipe now (a pipe holds
      // less than one drain takes): into the log before the end is reported. A
      // process it left behind that still holds the pipe, outside its group,
      // writes to a closed pipe from here on.
      if (found->second.output) found->second.output->Drain();
      TaskOutcome outcome;
      outcome.key = found->second.key;
      outcome.try_number = found->second.try_number;
      outcome.exit_code = child.exit_code;
      outcome.signal = child.signal;
      outcome.timed_out = found->second.timed_out;
      running_.erase(found);
      PostToLoop([outcome = std::move(outcome)](LocalExecutorState& self) {
        if (self.callbacks_.on_finished) self.callbacks_.on_finished(outcome);
      });
    }
    FinishShutdownIfIdle();
    WaitForChildren();
  }

  void OnTimerFired(pid_t pid, uint64_t serial) {
    std::lock_guard lock(mutex_);
    auto found = running_.find(pid);
    if (closed_ || found == running_.end() || found->second.serial != serial) return;
    RunningTry& entry = found->second;
    std::string name = DescribeTry(entry.key, entry.try_number);
    if (!entry.timed_out) {
      spdlog::warn("task {} timed out; sending SIGTERM to its process group {}", name, pid);
      entry.timed_out = true;
      SignalProcessGroup(pid, SIGTERM);
      entry.timer->expires_after(kKillGrace);
      WaitForTimer(pid, entry);
    } else {
      spdlog::warn("task {} still runs {}s after SIGTERM; killing its process group {}", name,
                   std::chrono::duration_cast<std::chrono::seconds>(kKillGrace).count(), pid);
      SignalProcessGroup(pid, SIGKILL);
    }
  }

  void OnShutdownGraceOver() {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    for (const auto& [pid, entry] : running_) {
      spdlog::warn("shutting down: killing task {} (process group {})",
                   DescribeTry(entry.key, entry.try_number), pid);
      SignalProcessGroup(pid, SIGKILL);
    }
  }

  // Requires mutex_.
  void FinishShutdownIfIdle() {
    if (!shutting_down_ || !running_.empty() || shutdown_done_.empty()) return;
    shutdown_timer_.cancel();
    shutdown_deadline_.reset();
    for (std::function<void()>& done : shutdown_done_) {
      PostToLoop([done = std::move(done)](LocalExecutorState&) { done(); });
    }
    shutdown_done_.clear();
  }

  asio::io_context& io_;
  const Executor::Callbacks callbacks_;
  mutable std::mutex mutex_;
  asio::signal_set child_signals_;
  asio::steady_timer shutdown_timer_;
  std::map<pid_t, RunningTry> running_;  // by pid, which is also the process group id
  uint64_t next_serial_ = 1;
  bool shutting_down_ = false;
  bool closed_ = false;
  std::optional<std::chrono::steady_clock::time_point> shutdown_deadline_;
  std::vector<std::function<void()>> shutdown_done_;
};

class LocalExecutor final : public Executor {
 public:
  LocalExecutor(asio::io_context& io, Callbacks callbacks)
      : state_(std::make_shared<LocalExecutorState>(io, std::move(callbacks))) {
    state_->Start();
  }
  ~LocalExecutor() override { state_->Close(); }

  Status Launch(const TaskLaunch& launch) override { return state_->Launch(launch); }
  size_t RunningCount() const override { return state_->RunningCount(); }
  void Shutdown(Duration grace, std::function<void()> done) override {
    state_->Shutdown(grace, std::move(done));
  }

 private:
  std::shared_ptr<LocalExecutorState> state_;
};

}  // namespace

std::unique_ptr<Executor> MakeLocalExecutor(boost::asio::io_context& io,
                                            Executor::Callbacks callbacks) {
  return std::make_unique<LocalExecutor>(io, std::move(callbacks));
}

std::string TryMarker(const TaskInstanceKey& key, int try_number) {
  return std::string(kTryMarkerName) + "=" + TryMarkerValue(key, try_number);
}

}  // namespace baton
