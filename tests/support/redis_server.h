// A real redis-server for a test: on 127.0.0.1 and a free port, in a folder of
// its own, without persistence unless asked, stopped with the object. Stop and
// Start keep the port, so a client sees what a server restart looks like.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/support/temp_folder.h"

namespace baton::testing {

class RedisServer {
 public:
  struct Options {
    std::string password;      // non-empty: requirepass
    bool persistence = false;  // true: appendonly, so data survives a restart
    // Commands the server refuses as unknown (renamed away), to stand for an
    // older Redis that lacks them.
    std::vector<std::string> missing_commands = {};
  };

  // Whether a redis-server binary is on $PATH (or in the usual bin and sbin folders).
  static bool Installed();

  RedisServer();
  explicit RedisServer(Options options);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts the server and waits until it answers. The first start picks a free
  // port; later ones reuse it. The error carries the end of the server's log.
  Status Start();
  // Stops the server (SIGTERM, then SIGKILL) and waits for it to exit.
  void Stop();
  // Stops the server, deletes everything it stored, and starts it again: to a
  // client, Redis was flushed by a restart.
  Status FlushByRestart();

  bool running() const { return pid_ > 0; }
  int Port() const { return port_; }
  // "redis://127.0.0.1:PORT/0", without the password.
  std::string Url() const;
  // The same with ":PASSWORD@" when the server has one.
  std::string UrlWithPassword() const;
  const std::string& password() const { return options_.password; }

 private:
  Status StartOnce();

  Options options_;
  TempFolder folder_;
  std::string binary_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace baton::testing

// Skips the current test when redis-server is not installed.
#define BATON_SKIP_WITHOUT_REDIS_SERVER()                                             \
  do {                                                                                \
    if (!::baton::testing::RedisServer::Installed()) {                                \
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)"; \
    }                                                                                 \
  } while (0)
