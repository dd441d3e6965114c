// LocalExecutor: runs tries as subprocesses of the scheduler, each the leader of
// its own process group, reaped from the event loop on SIGCHLD, killed as a group
// on timeout or shutdown.
#pragma once

#include <memory>

#include "engine/executor.h"

namespace boost::asio {
class io_context;
}

namespace baton {

// Creates the executor on `io`; callbacks run on that loop's thread.
std::unique_ptr<Executor> MakeLocalExecutor(boost::asio::io_context& io,
                                            Executor::Callbacks callbacks);

}  // namespace baton
