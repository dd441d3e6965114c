// MySqlConnection: one connection to a MySQL/MariaDB server through Connector/C
// (the libmysqlclient API), its session settings, its cache of prepared
// statements, and the classification of the errors it meets.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"
#include "engine/mysql_url.h"

struct st_mysql;

namespace baton {

class MySqlStatement;

// What a failure tells about running the work again.
enum class MySqlFailure {
  kNone,
  // The connection is gone or could not be made (refused, server restarting,
  // timed out), or its prepared statements went stale: close it and connect
  // again. The server rolls back what was not committed.
  kConnectionLost,
  // A deadlock or a lock wait timeout: the transaction was (or must be) rolled
  // back; running it again may succeed.
  kTransient,
  // Anything else: running it again would fail the same way.
  kPermanent,
};

struct MySqlOptions {
  MySqlUrl url;
  std::string password;
  Duration connect_timeout = std::chrono::seconds(5);
  Duration io_timeout = std::chrono::seconds(30);
  // Rewrites the SQL given to Prepare() before the server sees it (placeholders
  // for column lists and the clock); the cache is keyed by the SQL as given.
  std::string (*expand_sql)(std::string_view sql) = nullptr;
  // Whether to use compound statements (BEGIN NOT ATOMIC ... END) where the
  // server has them; tests turn it off to run what MySQL servers get.
  bool compound_statements = true;
};

// Opens on Connect(), never by itself: MYSQL_OPT_RECONNECT stays off, because a
// silent reconnect would lose the session's settings and an open transaction
// without telling anyone. Whoever sees kConnectionLost calls Close() and
// Connect() again. Used by one thread at a time.
class MySqlConnection {
 public:
  explicit MySqlConnection(MySqlOptions options);
  ~MySqlConnection();
  MySqlConnection(const MySqlConnection&) = delete;
  MySqlConnection& operator=(const MySqlConnection&) = delete;

  // Connects (once; nothing when already connected) with CLIENT_FOUND_ROWS, the
  // configured timeouts and utf8mb4, then sets the session up: UTC, strict SQL
  // mode, READ COMMITTED, and lock waits shorter than the read timeout.
  // `with_database` false connects without choosing the database (to create
  // it). Fails with NotFound when the database does not exist, InvalidInput when
  // the server refuses the user or password, Unavailable when it cannot be
  // reached.
  Status Connect(bool with_database = true);
  bool connected() const { return mysql_ != nullptr; }
  // Whether the connected server runs compound statements outside stored
  // programs as prepared statements (MariaDB 10.6.2 and later, which prepares
  // any statement; not MySQL), and the options allow them.
  bool runs_compound_statements() const { return compound_statements_; }
  // Closes the connection and finalizes its prepared statements.
  void Close();

  // The cached statement for `sql`, prepared on first use and reset for this
  // one. It stays valid until Close(). Neither this nor Execute() connects: on
  // a closed connection they fail as a lost connection would.
  Result<MySqlStatement*> Prepare(std::string_view sql);
  // Runs SQL without parameters or rows: START TRANSACTION, COMMIT, DDL, SET.
  Status Execute(std::string_view sql);

  // How the last failure may be retried, and its error number.
  MySqlFailure last_failure() const { return last_failure_; }
  unsigned int last_error() const { return last_error_; }
  // Forgets the last failure, before an attempt that will set its own.
  void ResetFailure() {
    last_failure_ = MySqlFailure::kNone;
    last_error_ = 0;
  }

  // Records a failure with its error number and the server's or client's
  // message, and returns it as a Status naming the store and `context`.
  Status Fail(unsigned int error_number, std::string_view message, std::string_view context);

  // "user@host:port/database", for messages; never the password.
  const std::string& name() const { return name_; }
  const MySqlOptions& options() const { return options_; }

 private:
  Status ConfigureSession();
  Status NotConnected(std::string_view context);

  MySqlOptions options_;
  std::string name_;
  st_mysql* mysql_ = nullptr;
  bool compound_statements_ = false;
  std::map<std::string, std::unique_ptr<MySqlStatement>, std::less<>> statements_;
  MySqlFailure last_failure_ = MySqlFailure::kNone;
  unsigned int last_error_ = 0;
};

// Classifies a server (ER_*) or client (CR_*) error number.
MySqlFailure ClassifyMySqlError(unsigned int error_number);

}  // namespace baton
