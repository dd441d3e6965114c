// RedisExecutor: hands tries to agents through Redis. Launch pushes a task
// message onto the try's queue list; agents claim and record the try in the
// store themselves and publish an instance event, which comes back to the
// scheduler through on_changed. The executor never touches the store: Redis
// only carries work, and EnsureQueued pushes again what Redis lost.
#pragma once

#include <memory>
#include <string>

#include "engine/executor.h"
#include "engine/redis_client.h"

namespace boost::asio {
class io_context;
}

namespace baton {

struct RedisExecutorOptions {
  RedisOptions redis;
  std::string key_prefix = "baton";  // keys as in engine/redis_keys.h
  // How long the event listener blocks in one BLPOP, and so how long at most a
  // shutdown waits for it when the connection cannot be interrupted.
  Duration event_wait = std::chrono::seconds(1);
};

// Creates the executor on `io`; on_changed and Shutdown's `done` run on that
// loop's thread, on_started and on_finished never. Redis is reached from two
// threads of the executor's own (one sends task messages, one listens for
// events), never from the loop, so a slow or absent Redis delays messages but
// never the loop. Launch, RunningCount, EnsureQueued and Shutdown may be called
// from any one thread at a time. Destroying the executor stops its threads;
// tries already handed to agents keep running.
std::unique_ptr<Executor> MakeRedisExecutor(boost::asio::io_context& io,
                                            Executor::Callbacks callbacks,
                                            RedisExecutorOptions options);

}  // namespace baton
