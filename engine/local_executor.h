// LocalExecutor: runs tries as subprocesses of the scheduler, each the leader of
// its own process group, reaped from the event loop on SIGCHLD, killed as a group
// on timeout or shutdown.
#pragma once

#include <memory>
#include <string>

#include "engine/executor.h"

namespace boost::asio {
class io_context;
}

namespace baton {

// Creates the executor on `io`; callbacks run on that loop's thread. It reaps
// every exited child of the process on SIGCHLD (waitpid(-1)), so no other code
// in the process may wait for children of its own.
// Launch from the loop's thread (or one that lives as long): a task's death
// signal is tied to the thread that spawned it. Destroying the executor kills
// the tries still running, without reporting them.
std::unique_ptr<Executor> MakeLocalExecutor(boost::asio::io_context& io,
                                            Executor::Callbacks callbacks);

// "BATON_TRY_MARKER=dag_id/run_id/task_id/try": set in every try's environment,
// so a restarted scheduler finds what a try left behind with
// FindProcessesWithMarker even after the try's leader is gone.
std::string TryMarker(const TaskInstanceKey& key, int try_number);

}  // namespace baton
