// Executor: runs the tries the scheduler hands it and reports when each starts
// and ends. The local executor runs them as subprocesses of the scheduler; the
// Redis executor hands them to agents.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

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
  };

  virtual ~Executor() = default;
  // Starts the try. on_started and on_finished are called later from the event
  // loop, never from inside Launch.
  virtual Status Launch(const TaskLaunch& launch) = 0;
  virtual size_t RunningCount() const = 0;
  // Stops taking work; waits up to `grace` for running tries, then kills their
  // process groups (reporting them through on_finished), then calls `done`.
  virtual void Shutdown(Duration grace, std::function<void()> done) = 0;
};

}  // namespace baton
