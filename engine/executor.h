// Executor: runs the tries the scheduler hands it and reports when each starts
// and ends. The local executor runs them as subprocesses of the scheduler; the
// Redis executor hands them to agents.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "engine/store.h"

namespace baton {

struct TaskLaunch {
  TaskInstanceKey key;
  int try_number = 0;
  std::string command;                     // already rendered; run by /bin/sh -c
  std::map<std::string, std::string> env;  // added to the executor's environment
  std::string cwd;                         // empty: the executor's own
  std::string log_path;                    // stdout and stderr go here
  std::optional<Duration> timeout;
  // For executors whose workers record the try's end themselves (Redis agents).
  std::string queue = "default";
  int max_tries = 1;        // retries + 1
  Duration retry_delay{0};  // before the next try, should this one fail
  // The task instance's columns a claim keeps, as the scheduler queued the try.
  // With them a worker claims without reading the row first; a message without
  // them (from an older scheduler) is claimed after a read.
  struct QueuedColumns {
    std::string pool;
    int priority = 1;
    std::string queue;
    bool operator==(const QueuedColumns&) const = default;
  };
  std::optional<QueuedColumns> queued_columns;
};

struct TaskOutcome {
  TaskInstanceKey key;
  int try_number = 0;
  int exit_code = -1;  // -1 when killed by a signal or never started
  int signal = 0;      // the signal that ended it, if any
  bool timed_out = false;
  std::string error;  // why it could not run at all, if so
  bool succeeded() const { return exit_code == 0 && !timed_out && error.empty(); }
};

class Executor {
 public:
  struct Callbacks {
    // The try's process exists; pid is also its process group id.
    std::function<void(const TaskInstanceKey&, int try_number, int pid)> on_started;
    std::function<void(const TaskOutcome&)> on_finished;
    // A worker elsewhere moved a task instance in the store (claimed it, or
    // recorded its end); `current` is the row as that worker wrote it.
    std::function<void(const TaskInstance& current)> on_changed;
  };

  virtual ~Executor() = default;
  // Starts the try. on_started and on_finished are called later from the event
  // loop, never from inside Launch.
  virtual Status Launch(const TaskLaunch& launch) = 0;
  virtual size_t RunningCount() const = 0;
  // Whether tries run elsewhere and their workers write the store themselves
  // (claim and end), reporting ends through on_changed instead of on_started and
  // on_finished. A queued try of a dead scheduler can then be launched again:
  // a worker's claim is a compare-and-set, so a duplicate is dropped.
  virtual bool WorkersRecordState() const { return false; }
  // Makes sure each of these queued tries can still reach a worker, launching it
  // again if its message was lost (a message held by a worker not named in
  // `live_workers` counts as lost). No-op for executors that keep no messages.
  virtual void EnsureQueued(const std::vector<TaskLaunch>& launches,
                            const std::set<std::string>& live_workers) {
    (void)launches;
    (void)live_workers;
  }
  // Stops taking work; waits up to `grace` for running tries, then kills their
  // process groups (reporting them through on_finished), then calls `done`.
  virtual void Shutdown(Duration grace, std::function<void()> done) = 0;
};

}  // namespace baton
