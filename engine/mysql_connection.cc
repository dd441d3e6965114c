#include "engine/mysql_connection.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "engine/mysql_statement.h"

namespace baton {
namespace {

// MySQL 8's ER_CLIENT_INTERACTION_TIMEOUT (the server closed an idle
// connection), which MariaDB's headers do not define.
constexpr unsigned int kMySqlIdleDisconnect = 4031;

// Connector/C's timeouts are whole seconds; round up so that none becomes zero
// (which would mean "no timeout").
unsigned int WholeSeconds(Duration duration) {
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(duration).count();
  return static_cast<unsigned int>(std::max<int64_t>(1, seconds));
}

Status::Code CodeFor(unsigned int error_number, MySqlFailure failure) {
  switch (error_number) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_ACCESS_DENIED_NO_PASSWORD_ERROR:
    case ER_HOST_NOT_PRIVILEGED:
    case ER_DATA_TOO_LONG:
      return Status::Code::kInvalidInput;
    case ER_BAD_DB_ERROR:
      return Status::Code::kNotFound;
    case ER_DUP_ENTRY:
      return Status::Code::kConflict;
    default:
      break;
  }
  if (failure == MySqlFailure::kConnectionLost || failure == MySqlFailure::kTransient) {
    return Status::Code::kUnavailable;
  }
  return Status::Code::kInternal;
}

}  // namespace

MySqlFailure ClassifyMySqlError(unsigned int error_number) {
  switch (error_number) {
    case 0:
      return MySqlFailure::kNone;
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case CR_ERR_NET_READ:
    case CR_ERR_NET_WRITE:
    case ER_CON_COUNT_ERROR:
    case ER_TOO_MANY_USER_CONNECTIONS:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case kMySqlIdleDisconnect:
    // The cached statements went stale (a table changed under them): start over
    // on a new connection, which prepares them again.
    case ER_NEED_REPREPARE:
      return MySqlFailure::kConnectionLost;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
      return MySqlFailure::kTransient;
    default:
      return MySqlFailure::kPermanent;
  }
}

MySqlConnection::MySqlConnection(MySqlOptions options)
    : options_(std::move(options)), name_(options_.url.Name()) {}

MySqlConnection::~MySqlConnection() { Close(); }

void MySqlConnection::Close() {
  // Statements first: closing one talks to its connection.
  statements_.clear();
  if (mysql_ != nullptr) mysql_close(mysql_);
  mysql_ = nullptr;
}

Status MySqlConnection::Fail(unsigned int error_number, std::string_view message,
                             std::string_view context) {
  last_error_ = error_number;
  last_failure_ = ClassifyMySqlError(error_number);
  std::string text = "store " + name_ + ": " + std::string(message);
  if (!context.empty()) text += " (" + std::string(context) + ")";
  switch (CodeFor(error_number, last_failure_)) {
    case Status::Code::kInvalidInput:
      return Status::InvalidInput(std::move(text));
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(text));
    case Status::Code::kConflict:
      return Status::Conflict(std::move(text));
    case Status::Code::kUnavailable:
      return Status::Unavailable(std::move(text));
    default:
      return Status::Internal(std::move(text));
  }
}

Status MySqlConnection::Connect(bool with_database) {
  if (mysql_ != nullptr) return Status::Ok();
  // mysql_init() would run it too, but not safely from two threads at once.
  static std::once_flag library_initialized;
  std::call_once(library_initialized, [] { mysql_library_init(0, nullptr, nullptr); });

  mysql_ = mysql_init(nullptr);
  if (mysql_ == nullptr) return Status::Internal("store " + name_ + ": out of memory");
  const unsigned int connect_seconds = WholeSeconds(options_.connect_timeout);
  const unsigned int io_seconds = WholeSeconds(options_.io_timeout);
  mysql_options(mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_seconds);
  mysql_options(mysql_, MYSQL_OPT_READ_TIMEOUT, &io_seconds);
  mysql_options(mysql_, MYSQL_OPT_WRITE_TIMEOUT, &io_seconds);
  mysql_options(mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // CLIENT_FOUND_ROWS: an UPDATE reports the rows it matched, so a
  // compare-and-set that writes the values already there still counts as applied.
  const MySqlUrl& url = options_.url;
  if (mysql_real_connect(mysql_, url.host.c_str(), url.user.c_str(), options_.password.c_str(),
                         with_database ? url.database.c_str() : nullptr, url.port, nullptr,
                         CLIENT_FOUND_ROWS) == nullptr) {
    Status failed = Fail(mysql_errno(mysql_), mysql_error(mysql_), "connecting");
    Close();
    if (failed.code() == Status::Code::kNotFound) {
      return Status::NotFound(failed.message() +
                              "; migrating the store creates it (`baton db init`)");
    }
    return failed;
  }
  Status configured = ConfigureSession();
  if (!configured.ok()) {
    Close();
    return configured;
  }
  // Compound statements came in 10.1.1; preparing every kind of statement in 10.6.2.
  constexpr unsigned long kFirstMariaDbWithCompoundStatements = 100602;
  compound_statements_ =
      options_.compound_statements &&
      std::string_view(mysql_get_server_info(mysql_)).find("MariaDB") != std::string_view::npos &&
      mysql_get_server_version(mysql_) >= kFirstMariaDbWithCompoundStatements;
  return Status::Ok();
}

Status MySqlConnection::ConfigureSession() {
  // Lock waits end (with a retryable error) before the client's read timeout
  // would give up on the connection.
  const std::string lock_wait = std::to_string(std::max(1u, WholeSeconds(options_.io_timeout) / 2));
  // Times are stored as UTC microseconds and compared with the server's clock;
  // strict mode refuses a value that does not fit instead of truncating it.
  BATON_RETURN_IF_ERROR(
      Execute("SET time_zone = '+00:00', "
              "sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO', "
              "innodb_lock_wait_timeout = " +
              lock_wait + ", lock_wait_timeout = " + lock_wait));
  // READ COMMITTED: every write is a compare-and-set on rows found by their
  // primary key, which reads the latest committed row at any level; READ
  // COMMITTED adds no gap locks, so concurrent inserts of runs and tries do not
  // deadlock on each other's gaps, and each read sees what was committed before
  // it rather than a snapshot from the transaction's start. (It needs the binary
  // log, if any, in ROW or MIXED format, MariaDB's default.)
  return Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
}

Status MySqlConnection::NotConnected(std::string_view context) {
  return Fail(CR_SERVER_GONE_ERROR, "not connected", context);
}

Result<MySqlStatement*> MySqlConnection::Prepare(std::string_view sql) {
  if (mysql_ == nullptr) return NotConnected("preparing a statement");
  auto cached = statements_.find(sql);
  if (cached != statements_.end()) {
    cached->second->Reset();
    return cached->second.get();
  }
  std::string text = options_.expand_sql ? options_.expand_sql(sql) : std::string(sql);
  MYSQL_STMT* handle = mysql_stmt_init(mysql_);
  if (handle == nullptr) return Fail(mysql_errno(mysql_), mysql_error(mysql_), "preparing");
  if (mysql_stmt_prepare(handle, text.data(), text.size()) != 0) {
    Status failed = Fail(mysql_stmt_errno(handle), mysql_stmt_error(handle), "preparing " + text);
    mysql_stmt_close(handle);
    return failed;
  }
  auto statement = std::make_unique<MySqlStatement>(handle, std::move(text), this);
  MySqlStatement* borrowed = statement.get();
  statements_.emplace(std::string(sql), std::move(statement));
  return borrowed;
}

Status MySqlConnection::Execute(std::string_view sql) {
  if (mysql_ == nullptr) return NotConnected(sql);
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    return Fail(mysql_errno(mysql_), mysql_error(mysql_), sql);
  }
  // DDL and SET return no rows; anything else returned is dropped.
  if (MYSQL_RES* rows = mysql_store_result(mysql_); rows != nullptr) mysql_free_result(rows);
  return Status::Ok();
}

}  // namespace baton
