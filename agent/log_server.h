// LogServer: the agent's HTTP endpoint (libevent's evhttp, on a thread of its
// own). It serves exactly two things:
//   GET /health                          200, {"status":"ok","name":..,"running":N,"job_id":..}
//   GET /log/DAG_ID/RUN_ID/TASK_ID/TRY   200 with the try's log (text/plain), 404 when there is
//                                        none, 400 for a path component that could leave the
//                                        logs folder
// and 404 for anything else. It reads files under the logs folder and nothing
// else, and never touches the store or Redis.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace baton {

struct AgentHealth {
  std::string name;
  int64_t job_id = 0;
  int running = 0;
};

class LogServer {
 public:
  // Called on the server's thread for each /health request.
  using HealthSource = std::function<AgentHealth()>;

  // Listens on bind_address:port (0: any free port) and starts serving. The
  // error names the address and why (e.g. "Address already in use").
  static Result<std::unique_ptr<LogServer>> Start(const std::string& bind_address, int port,
                                                  std::string logs_folder, HealthSource health);

  // Stops serving and joins the thread.
  ~LogServer();
  LogServer(const LogServer&) = delete;
  LogServer& operator=(const LogServer&) = delete;

  // The port it listens on, the chosen one when started with port 0.
  int port() const;

  class Impl;

 private:
  explicit LogServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton
