// A real MariaDB server for tests: mariadbd on 127.0.0.1 and a free port, with
// its data, socket, pid file and logs in a temporary folder of its own, and a
// password-protected user `baton` (no --skip-grant-tables). Or, when
// $BATON_TEST_MYSQL_URL ("mysql://USER@HOST[:PORT]/") and
// $BATON_TEST_MYSQL_PASSWORD are set, an existing server reached as that user.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton::testing {

class MariaDbServer {
 public:
  // A server of the caller's own. The first server a build starts runs
  // mariadb-install-db once and keeps the result as a template next to the test
  // binaries (tests/mariadb_template); later ones copy it, which takes
  // milliseconds rather than seconds. Unavailable when mariadbd or
  // mariadb-install-db is not installed (and only then: a server that is
  // installed but does not start is an error). Call it from a thread that lives
  // as long as the server: the server dies with the thread that started it.
  static Result<std::unique_ptr<MariaDbServer>> Start();
  // The server this test binary shares, started on first use and stopped at
  // exit: the one $BATON_TEST_MYSQL_URL names, or one of its own.
  static Result<MariaDbServer*> Shared();

  ~MariaDbServer();  // stops a server of its own; drops the databases it made
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

  // Stops the server (SIGTERM, then SIGKILL after a minute) and waits for it.
  Status Stop();
  // Stops it when running and starts it again on the same port and data.
  Status Restart();

  pid_t pid() const { return pid_; }  // 0 for a server named by $BATON_TEST_MYSQL_URL
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // A file holding the password, for [store] password_file.
  const std::string& password_file() const { return password_file_; }
  // "mysql://USER@HOST:PORT/DATABASE".
  std::string Url(const std::string& database) const;

  // A new, empty database whose name starts with `prefix`; its name.
  Result<std::string> CreateDatabase(const std::string& prefix);
  // Runs one SQL statement (no rows) as the administrator: root on a server of
  // its own, the given user on an existing one; in `database` when one is named.
  Status Execute(const std::string& sql, const std::string& database = "");
  // The first column of the first row `sql` returns, as text ("" for NULL or
  // no row), read the same way.
  Result<std::string> QueryValue(const std::string& sql, const std::string& database = "");

 private:
  MariaDbServer();
  static Result<std::unique_ptr<MariaDbServer>> FromEnvironment();
  Status Launch();
  Status WaitUntilReady();
  Status CreateUser();
  std::string LogTail() const;

  std::unique_ptr<TempFolder> folder_;
  bool own_server_ = true;
  pid_t pid_ = 0;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  std::string user_ = "baton";
  std::string password_;
  std::string password_file_;
  std::string admin_user_ = "root";
  std::string admin_password_;
  std::vector<std::string> databases_;
  int next_database_ = 1;
};

}  // namespace baton::testing

// Sets `server` to the server `started` yields (MariaDbServer::Start() or
// Shared()); skips the current test when mariadbd is not installed, and fails
// it when the server does not start.
#define BATON_ASSIGN_MARIADB_OR_SKIP(server, started)                            \
  do {                                                                           \
    auto baton_started_ = (started);                                             \
    if (baton_started_.status().code() == ::baton::Status::Code::kUnavailable) { \
      GTEST_SKIP() << baton_started_.status().message();                         \
    }                                                                            \
    ASSERT_TRUE(::baton::testing::IsOk(baton_started_));                         \
    (server) = std::move(*baton_started_);                                       \
  } while (0)
