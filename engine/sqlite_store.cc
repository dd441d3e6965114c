// SqliteStore: the Store's SQL for SQLite, and SqliteStatement, through which the
// shared row mapping (engine/store_rows.h) reads and binds its rows.
#include "engine/sqlite_store.h"

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/lease_sql.h"
#include "engine/schema.h"
#include "engine/store_rows.h"

namespace baton {

// A cached prepared statement, borrowed for one use: parameters are bound in
// order (?1, ?2, ... unless the SQL numbers them), and the statement is reset for
// the next user when this object goes away.
class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* statement) : statement_(statement) {}
  SqliteStatement(SqliteStatement&& other) noexcept
      : statement_(std::exchange(other.statement_, nullptr)),
        next_parameter_(other.next_parameter_),
        next_column_(other.next_column_),
        bind_failure_(other.bind_failure_),
        last_code_(other.last_code_) {}
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement() {
    if (statement_ == nullptr) return;
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }

  template <typename... Values>
  SqliteStatement& Bind(const Values&... values) {
    (BindValue(values), ...);
    return *this;
  }

  // Steps once: true when a row is ready to be read, false when done.
  Result<bool> Step() {
    if (bind_failure_ != SQLITE_OK) return Failure(bind_failure_);
    next_column_ = 0;
    last_code_ = sqlite3_step(statement_);
    if (last_code_ == SQLITE_ROW) return true;
    if (last_code_ == SQLITE_DONE) return false;
    return Failure(last_code_);
  }

  // Runs a statement that returns no rows; the number of rows it changed.
  Result<int> Run() {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (*row) return Status::Internal("statement returned rows where none were expected: " + Sql());
    return sqlite3_changes(sqlite3_db_handle(statement_));
  }

  // Whether the last step failed on a primary or unique key.
  bool FailedOnUniqueKey() const {
    return last_code_ == SQLITE_CONSTRAINT_UNIQUE || last_code_ == SQLITE_CONSTRAINT_PRIMARYKEY;
  }

  // The current row's columns, read left to right.
  int64_t Int() { return sqlite3_column_int64(statement_, next_column_++); }
  int Int32() { return sqlite3_column_int(statement_, next_column_++); }
  std::string Text() {
    const int column = next_column_++;
    const auto* text = sqlite3_column_text(statement_, column);
    if (text == nullptr) return std::string();
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
  }
  TimePoint Time() { return FromEpochMicros(Int()); }
  bool IsNull() const { return sqlite3_column_type(statement_, next_column_) == SQLITE_NULL; }
  std::optional<int> OptionalInt32() {
    if (IsNull()) return SkipNull<int>();
    return Int32();
  }
  std::optional<TimePoint> OptionalTime() {
    if (IsNull()) return SkipNull<TimePoint>();
    return Time();
  }

 private:
  template <typename T>
  std::optional<T> SkipNull() {
    ++next_column_;
    return std::nullopt;
  }

  void Check(int code) {
    if (code != SQLITE_OK && bind_failure_ == SQLITE_OK) bind_failure_ = code;
  }
  void BindValue(int64_t value) { Check(sqlite3_bind_int64(statement_, ++next_parameter_, value)); }
  void BindValue(int value) { Check(sqlite3_bind_int(statement_, ++next_parameter_, value)); }
  void BindValue(std::string_view value) {
    Check(sqlite3_bind_text64(statement_, ++next_parameter_, value.data(), value.size(),
                              SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  void BindValue(const std::string& value) { BindValue(std::string_view(value)); }
  void BindValue(const char* value) { BindValue(std::string_view(value)); }
  void BindValue(TimePoint value) { BindValue(ToEpochMicros(value)); }
  void BindValue(std::nullopt_t) { Check(sqlite3_bind_null(statement_, ++next_parameter_)); }
  template <typename T>
  void BindValue(const std::optional<T>& value) {
    if (value) {
      BindValue(*value);
    } else {
      BindValue(std::nullopt);
    }
  }

  std::string Sql() const {
    constexpr size_t kShown = 80;
    std::string sql = sqlite3_sql(statement_);
    if (sql.size() > kShown) sql = sql.substr(0, kShown) + "...";
    return sql;
  }

  Status Failure(int code) const {
    sqlite3* db = sqlite3_db_handle(statement_);
    std::string message = std::string(sqlite3_db_filename(db, "main")) + ": " + sqlite3_errmsg(db) +
                          " (in " + Sql() + ")";
    switch (code & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return Status::Unavailable(std::move(message));
      case SQLITE_IOERR:
      case SQLITE_FULL:
      case SQLITE_CANTOPEN:
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
      case SQLITE_READONLY:
        return Status::IoError(std::move(message));
      default:
        return Status::Internal(std::move(message));
    }
  }

  sqlite3_stmt* statement_;
  int next_parameter_ = 0;
  int next_column_ = 0;
  int bind_failure_ = SQLITE_OK;
  int last_code_ = SQLITE_OK;
};

namespace {

constexpr int kBusyTimeoutMillis = 5000;

// Microseconds since the epoch by the database's clock. julianday() rather than
// unixepoch('subsec'), which Debian 12's SQLite 3.40 lacks.
constexpr std::string_view kDatabaseNow =
    "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)";

}  // namespace

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)) {}

SqliteStore::~SqliteStore() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  if (db_ != nullptr) sqlite3_close(db_);
}

Status SqliteStore::Error(std::string_view what) const {
  std::string message = "store " + path_ + ": " + std::string(what);
  if (db_ != nullptr) message += ": " + std::string(sqlite3_errmsg(db_));
  return Status::IoError(std::move(message));
}

Status SqliteStore::Connect(bool create) {
  if (db_ != nullptr) return Status::Ok();
  std::error_code error;
  if (!create && !std::filesystem::exists(path_, error)) {
    return Status::NotFound("store " + path_ +
                            " does not exist yet; migrating the store creates it "
                            "(`baton db init`)");
  }
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  Status status = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr) == SQLITE_OK
                      ? Configure()
                      : Error("cannot open the database");
  if (!status.ok()) {
    sqlite3_close(db_);
    db_ = nullptr;
  }
  return status;
}

Status SqliteStore::Configure() {
  sqlite3_extended_result_codes(db_, 1);
  // The timeout first: switching to WAL itself may wait for another writer.
  sqlite3_busy_timeout(db_, kBusyTimeoutMillis);
  std::string journal_mode;
  auto keep_first_column = [](void* out, int columns, char** values, char**) {
    if (columns > 0 && values[0] != nullptr) *static_cast<std::string*>(out) = values[0];
    return 0;
  };
  if (sqlite3_exec(db_, "PRAGMA journal_mode = WAL", keep_first_column, &journal_mode, nullptr) !=
      SQLITE_OK) {
    return Error("cannot switch to WAL mode");
  }
  // SQLite answers with the mode it kept when the file system cannot do WAL.
  if (journal_mode != "wal") {
    return Status::IoError("store " + path_ + ": cannot use WAL mode here (journal mode is '" +
                           journal_mode + "')");
  }
  if (sqlite3_exec(db_, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    return Error("cannot set synchronous mode and foreign keys");
  }
  return Status::Ok();
}

Result<SqliteStatement> SqliteStore::Prepare(std::string_view sql) {
  BATON_RETURN_IF_ERROR(Connect(/*create=*/false));
  auto cached = statements_.find(sql);
  if (cached != statements_.end()) return SqliteStatement(cached->second);
  const std::string text = ExpandStoreSql(sql, kDatabaseNow);
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_, text.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) !=
      SQLITE_OK) {
    return Status::Internal("store " + path_ + ": cannot prepare '" + text +
                            "': " + sqlite3_errmsg(db_));
  }
  statements_.emplace(std::string(sql), statement);
  return SqliteStatement(statement);
}

Status SqliteStore::Execute(std::string_view sql) {
  auto statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  auto changed = statement->Run();
  return changed.ok() ? Status::Ok() : changed.status();
}

template <typename Body>
auto SqliteStore::WriteTransaction(Body body) -> decltype(body()) {
  // IMMEDIATE takes the write lock up front, so the busy timeout applies here
  // rather than a deadlock surfacing at the first write.
  BATON_RETURN_IF_ERROR(Execute("BEGIN IMMEDIATE"));
  auto result = body();
  Status status = result.ok() ? Execute("COMMIT") : StatusOf(result);
  if (status.ok()) return result;
  // A failed COMMIT may leave the transaction open (SQLITE_BUSY); a failed
  // statement may already have ended it.
  if (sqlite3_get_autocommit(db_) == 0) Execute("ROLLBACK");
  return status;
}

Status SqliteStore::Migrate() {
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::path(path_).parent_path();
  if (!folder.empty()) {
    std::filesystem::create_directories(folder, error);
    if (error) {
      return Status::IoError("store " + path_ + ": cannot create its folder " + folder.string() +
                             ": " + error.message());
    }
  }
  BATON_RETURN_IF_ERROR(Connect(/*create=*/true));
  return WriteTransaction([&]() -> Status {
    const std::string version_table = SchemaVersionTableStatement(SqlDialect::kSqlite);
    if (sqlite3_exec(db_, version_table.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error("cannot create the schema version table");
    }
    auto current = SchemaVersion();
    if (!current.ok()) return current.status();
    if (*current > kSchemaVersion) {
      return Status::Internal("store " + path_ + " has schema version " + std::to_string(*current) +
                              ", newer than this binary's " + std::to_string(kSchemaVersion) +
                              ": upgrade Baton to use it");
    }
    for (const Migration& migration : SchemaMigrations(SqlDialect::kSqlite)) {
      if (migration.version <= *current) continue;
      for (const std::string& statement : migration.statements) {
        if (sqlite3_exec(db_, statement.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
          return Error("migration to schema version " + std::to_string(migration.version) +
                       " failed");
        }
      }
      auto record = Prepare("INSERT INTO baton_schema (version) VALUES (?1)");
      if (!record.ok()) return record.status();
      auto recorded = record->Bind(migration.version).Run();
      if (!recorded.ok()) return recorded.status();
    }
    return Status::Ok();
  });
}

Result<int> SqliteStore::SchemaVersion() {
  std::error_code error;
  if (db_ == nullptr && !std::filesystem::exists(path_, error)) return 0;
  // Ask the catalogue first: a statement on a missing table would not prepare.
  auto table =
      Prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'baton_schema'");
  if (!table.ok()) return table.status();
  auto found = table->Step();
  if (!found.ok()) return found.status();
  if (table->Int() == 0) return 0;
  auto version = Prepare("SELECT COALESCE(MAX(version), 0) FROM baton_schema");
  if (!version.ok()) return version.status();
  auto row = version->Step();
  if (!row.ok()) return row.status();
  return version->Int32();
}

Result<TimePoint> SqliteStore::Now() {
  auto statement = Prepare("SELECT {now}");
  if (!statement.ok()) return statement.status();
  auto row = statement->Step();
  if (!row.ok()) return row.status();
  return statement->Time();
}

Status SqliteStore::SyncDag(const DagRecord& dag, bool paused_on_create) {
  DagRecord inserted = dag;
  inserted.is_paused = paused_on_create;
  return WriteTransaction([&]() -> Status {
    auto statement = Prepare(
        "INSERT INTO dag ({dag_columns}) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (dag_id) DO UPDATE SET file = excluded.file, "
        "schedule = excluded.schedule, last_parsed = excluded.last_parsed");
    if (!statement.ok()) return statement.status();
    DagRows::Bind(*statement, inserted);
    auto changed = statement->Run();
    return changed.ok() ? Status::Ok() : changed.status();
  });
}

Result<std::optional<DagRecord>> SqliteStore::GetDag(const std::string& dag_id) {
  auto statement = Prepare("SELECT {dag_columns} FROM dag WHERE dag_id = ?1");
  if (!statement.ok()) return statement.status();
  statement->Bind(dag_id);
  return ReadOptional<DagRows>(*statement);
}

Result<std::vector<DagRecord>> SqliteStore::ListDags() {
  auto statement = Prepare("SELECT {dag_columns} FROM dag ORDER BY dag_id");
  if (!statement.ok()) return statement.status();
  return ReadAll<DagRows>(*statement);
}

Status SqliteStore::SetDagPaused(const std::string& dag_id, bool paused) {
  return WriteTransaction([&]() -> Status {
    auto statement = Prepare("UPDATE dag SET is_paused = ?2 WHERE dag_id = ?1");
    if (!statement.ok()) return statement.status();
    auto changed = statement->Bind(dag_id, paused ? 1 : 0).Run();
    if (!changed.ok()) return changed.status();
    if (*changed == 0) return Status::NotFound("no DAG '" + dag_id + "' in the store");
    return Status::Ok();
  });
}

Status SqliteStore::ReplaceImportErrors(const std::vector<ImportError>& errors) {
  return WriteTransaction([&]() -> Status {
    BATON_RETURN_IF_ERROR(Execute("DELETE FROM import_error"));
    for (const ImportError& error : errors) {
      auto statement =
          Prepare("INSERT INTO import_error ({import_error_columns}) VALUES (?1, ?2, ?3)");
      if (!statement.ok()) return statement.status();
      ImportErrorRows::Bind(*statement, error);
      auto changed = statement->Run();
      if (!changed.ok()) return changed.status();
    }
    return Status::Ok();
  });
}

Result<std::vector<ImportError>> SqliteStore::ListImportErrors() {
  auto statement = Prepare("SELECT {import_error_columns} FROM import_error ORDER BY file, id");
  if (!statement.ok()) return statement.status();
  return ReadAll<ImportErrorRows>(*statement);
}

Result<bool> SqliteStore::CreateDagRun(const DagRun& run,
                                       const std::vector<TaskInstance>& task_instances) {
  BATON_RETURN_IF_ERROR(CheckTaskInstancesOfRun(run, task_instances));
  return WriteTransaction([&]() -> Result<bool> {
    BATON_RETURN_IF_ERROR(CheckFencing());
    auto insert_run = Prepare(
        "INSERT INTO dag_run ({dag_run_columns}, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, {now})");
    if (!insert_run.ok()) return insert_run.status();
    DagRunRows::Bind(*insert_run, run);
    auto inserted = insert_run->Run();
    if (!inserted.ok()) {
      if (!insert_run->FailedOnUniqueKey()) return inserted.status();
      // Taken: the failed INSERT wrote nothing, and nothing was written before it.
      return false;
    }
    for (const TaskInstance& ti : task_instances) {
      auto insert_ti = Prepare(
          "INSERT INTO task_instance ({task_instance_columns}, updated_at) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, {now})");
      if (!insert_ti.ok()) return insert_ti.status();
      TaskInstanceRows::Bind(*insert_ti, ti);
      auto changed = insert_ti->Run();
      if (!changed.ok()) {
        if (!insert_ti->FailedOnUniqueKey()) return changed.status();
        return Status::InvalidInput("task '" + ti.key.task_id + "' is listed twice for " +
                                    RunName(run.dag_id, run.run_id));
      }
    }
    return true;
  });
}

Result<std::optional<DagRun>> SqliteStore::GetDagRun(const std::string& dag_id,
                                                     const std::string& run_id) {
  auto statement =
      Prepare("SELECT {dag_run_columns} FROM dag_run WHERE dag_id = ?1 AND run_id = ?2");
  if (!statement.ok()) return statement.status();
  statement->Bind(dag_id, run_id);
  return ReadOptional<DagRunRows>(*statement);
}

Result<std::vector<DagRun>> SqliteStore::ListDagRuns(const RunFilter& filter) {
  // One cached statement per combination of filters, so that each can use an index.
  std::string sql = "SELECT {dag_run_columns} FROM dag_run WHERE 1 = 1";
  if (filter.dag_id) sql += " AND dag_id = ?";
  if (filter.state) sql += " AND state = ?";
  sql += " ORDER BY logical_date DESC, dag_id, run_id LIMIT ?";
  auto statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  if (filter.dag_id) statement->Bind(*filter.dag_id);
  if (filter.state) statement->Bind(ToString(*filter.state));
  // SQLite reads a negative limit as none.
  statement->Bind(filter.limit > 0 ? filter.limit : -1);
  return ReadAll<DagRunRows>(*statement);
}

Status SqliteStore::SetDagRunState(const std::string& dag_id, const std::string& run_id,
                                   RunState from, RunState to, std::optional<TimePoint> start_date,
                                   std::optional<TimePoint> end_date) {
  return WriteTransaction([&]() -> Status {
    BATON_RETURN_IF_ERROR(CheckFencing());
    auto update = Prepare(
        "UPDATE dag_run SET state = ?3, start_date = COALESCE(?4, start_date), "
        "end_date = COALESCE(?5, end_date) WHERE dag_id = ?1 AND run_id = ?2 AND state = ?6");
    if (!update.ok()) return update.status();
    auto changed =
        update->Bind(dag_id, run_id, ToString(to), start_date, end_date, ToString(from)).Run();
    if (!changed.ok()) return changed.status();
    if (*changed == 1) return Status::Ok();
    auto current = GetDagRun(dag_id, run_id);
    if (!current.ok()) return current.status();
    if (!*current) return Status::NotFound("no " + RunName(dag_id, run_id) + " in the store");
    return Status::Conflict(RunName(dag_id, run_id) + " is " +
                            std::string(ToString((*current)->state)) + ", not " +
                            std::string(ToString(from)));
  });
}

Result<std::optional<TimePoint>> SqliteStore::LatestScheduledLogicalDate(
    const std::string& dag_id) {
  auto statement =
      Prepare("SELECT MAX(logical_date) FROM dag_run WHERE dag_id = ?1 AND run_type = ?2");
  if (!statement.ok()) return statement.status();
  auto row = statement->Bind(dag_id, ToString(RunType::kScheduled)).Step();
  if (!row.ok()) return row.status();
  return statement->OptionalTime();
}

Result<std::vector<TaskInstance>> SqliteStore::ListTaskInstances(const std::string& dag_id,
                                                                 const std::string& run_id) {
  auto statement = Prepare(
      "SELECT {task_instance_columns} FROM task_instance "
      "WHERE dag_id = ?1 AND run_id = ?2 ORDER BY task_id");
  if (!statement.ok()) return statement.status();
  statement->Bind(dag_id, run_id);
  return ReadAll<TaskInstanceRows>(*statement);
}

Result<std::optional<TaskInstance>> SqliteStore::GetTaskInstance(const TaskInstanceKey& key) {
  auto statement = Prepare(
      "SELECT {task_instance_columns} FROM task_instance "
      "WHERE dag_id = ?1 AND run_id = ?2 AND task_id = ?3");
  if (!statement.ok()) return statement.status();
  statement->Bind(key.dag_id, key.run_id, key.task_id);
  return ReadOptional<TaskInstanceRows>(*statement);
}

Result<std::vector<TaskInstance>> SqliteStore::ListTaskInstancesOfActiveRuns() {
  auto statement = Prepare(
      "SELECT {task_instance_columns} FROM task_instance WHERE (dag_id, run_id) IN "
      "(SELECT dag_id, run_id FROM dag_run WHERE state IN (?1, ?2)) "
      "ORDER BY dag_id, run_id, task_id");
  if (!statement.ok()) return statement.status();
  statement->Bind(ToString(RunState::kQueued), ToString(RunState::kRunning));
  return ReadAll<TaskInstanceRows>(*statement);
}

Result<bool> SqliteStore::ApplyTransition(const TaskTransition& transition) {
  // The savepoint lets a refused try start undo the task instance's update.
  BATON_RETURN_IF_ERROR(Execute("SAVEPOINT transition"));
  auto applied = UpdateTaskInstance(transition);
  if (applied.ok() && *applied && EntersRunning(transition)) {
    applied = StartTry(transition.updated);
    if (applied.ok() && !*applied) {
      BATON_RETURN_IF_ERROR(Execute("ROLLBACK TO transition"));
    }
  } else if (applied.ok() && *applied && LeavesRunning(transition)) {
    applied = CloseTry(transition);
  }
  if (!applied.ok()) return applied.status();
  BATON_RETURN_IF_ERROR(Execute("RELEASE transition"));
  return applied;
}

Result<bool> SqliteStore::UpdateTaskInstance(const TaskTransition& transition) {
  auto update = Prepare(
      "UPDATE task_instance SET state = ?4, try_number = ?5, start_date = ?6, end_date = ?7, "
      "exit_code = ?8, next_retry_at = ?9, pool = ?10, priority = ?11, queue = ?12, "
      "hostname = ?13, pid = ?14, owner_job_id = ?15, updated_at = {now} "
      "WHERE dag_id = ?1 AND run_id = ?2 AND task_id = ?3 AND state = ?16 AND try_number = ?17");
  if (!update.ok()) return update.status();
  TaskInstanceRows::Bind(*update, transition.updated);
  auto changed = update->Bind(ToString(transition.expected_state), transition.expected_try).Run();
  if (!changed.ok()) return changed.status();
  return *changed == 1;
}

Result<bool> SqliteStore::StartTry(const TaskInstance& ti) {
  TaskTry task_try;
  task_try.key = ti.key;
  task_try.try_number = ti.try_number;
  task_try.state = TaskState::kRunning;
  task_try.hostname = ti.hostname;
  task_try.pid = ti.pid;
  if (ti.start_date) {
    task_try.start_date = *ti.start_date;
  } else {
    auto now = Now();
    if (!now.ok()) return now.status();
    task_try.start_date = *now;
  }
  auto insert = Prepare(
      "INSERT INTO task_try ({task_try_columns}) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!insert.ok()) return insert.status();
  TaskTryRows::Bind(*insert, task_try);
  auto inserted = insert->Run();
  if (inserted.ok()) return true;
  if (insert->FailedOnUniqueKey()) return false;
  return inserted.status();
}

Result<bool> SqliteStore::CloseTry(const TaskTransition& transition) {
  const TaskInstance& ti = transition.updated;
  auto close = Prepare(
      "UPDATE task_try SET state = ?5, end_date = COALESCE(?6, {now}), exit_code = ?7, "
      // A worker learns its try's pid after the claim: it may come with the end.
      "pid = CASE WHEN ?8 > 0 THEN ?8 ELSE pid END "
      "WHERE dag_id = ?1 AND run_id = ?2 AND task_id = ?3 AND try_number = ?4");
  if (!close.ok()) return close.status();
  close->Bind(ti.key.dag_id, ti.key.run_id, ti.key.task_id, transition.expected_try,
              ToString(ti.state), ti.end_date, ti.exit_code, ti.pid);
  auto closed = close->Run();
  if (!closed.ok()) return closed.status();
  return true;
}

Result<std::vector<bool>> SqliteStore::ApplyTransitions(
    const std::vector<TaskTransition>& transitions) {
  if (transitions.empty()) return std::vector<bool>();
  return WriteTransaction([&]() -> Result<std::vector<bool>> {
    BATON_RETURN_IF_ERROR(CheckFencing());
    std::vector<bool> applied;
    applied.reserve(transitions.size());
    for (const TaskTransition& transition : transitions) {
      auto one = ApplyTransition(transition);
      if (!one.ok()) return one.status().WithContext("moving " + transition.updated.key.ToString());
      applied.push_back(*one);
    }
    return applied;
  });
}

Result<int> SqliteStore::ClearTaskInstances(const std::string& dag_id, const std::string& run_id,
                                            const std::vector<std::string>& task_ids) {
  return WriteTransaction([&]() -> Result<int> {
    int cleared = 0;
    for (const std::string& task_id : task_ids) {
      auto clear = Prepare(
          "UPDATE task_instance SET state = ?4, start_date = NULL, end_date = NULL, "
          "exit_code = NULL, next_retry_at = NULL, hostname = '', pid = 0, owner_job_id = 0, "
          "updated_at = {now} "
          "WHERE dag_id = ?1 AND run_id = ?2 AND task_id = ?3 AND state IN (?5, ?6, ?7, ?8, ?9)");
      if (!clear.ok()) return clear.status();
      auto changed = clear
                         ->Bind(dag_id, run_id, task_id, ToString(TaskState::kNone),
                                ToString(TaskState::kSuccess), ToString(TaskState::kFailed),
                                ToString(TaskState::kUpstreamFailed), ToString(TaskState::kSkipped),
                                ToString(TaskState::kUpForRetry))
                         .Run();
      if (!changed.ok()) return changed.status();
      cleared += *changed;
    }
    if (cleared == 0) return cleared;
    auto requeue =
        Prepare("UPDATE dag_run SET state = ?3, end_date = NULL WHERE dag_id = ?1 AND run_id = ?2");
    if (!requeue.ok()) return requeue.status();
    auto changed = requeue->Bind(dag_id, run_id, ToString(RunState::kQueued)).Run();
    if (!changed.ok()) return changed.status();
    return cleared;
  });
}

Result<std::vector<TaskTry>> SqliteStore::ListTaskTries(const TaskInstanceKey& key) {
  auto statement = Prepare(
      "SELECT {task_try_columns} FROM task_try "
      "WHERE dag_id = ?1 AND run_id = ?2 AND task_id = ?3 ORDER BY try_number");
  if (!statement.ok()) return statement.status();
  statement->Bind(key.dag_id, key.run_id, key.task_id);
  return ReadAll<TaskTryRows>(*statement);
}

Result<int64_t> SqliteStore::RegisterJob(const JobRecord& job) {
  return WriteTransaction([&]() -> Result<int64_t> {
    auto statement = Prepare(
        "INSERT INTO job ({registered_job_columns}, start_date, latest_heartbeat) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, {now}, {now}) RETURNING id");
    if (!statement.ok()) return statement.status();
    JobRows::Bind(*statement, job);
    auto row = statement->Step();
    if (!row.ok()) return row.status();
    return statement->Int();
  });
}

Status SqliteStore::HeartbeatJob(int64_t job_id, int running_count) {
  return WriteTransaction([&]() -> Status {
    auto statement =
        Prepare("UPDATE job SET latest_heartbeat = {now}, running_count = ?2 WHERE id = ?1");
    if (!statement.ok()) return statement.status();
    auto changed = statement->Bind(job_id, running_count).Run();
    if (!changed.ok()) return changed.status();
    return *changed == 0 ? JobNotFound(job_id) : Status::Ok();
  });
}

Status SqliteStore::EndJob(int64_t job_id) {
  return WriteTransaction([&]() -> Status {
    auto statement = Prepare("UPDATE job SET state = ?2 WHERE id = ?1");
    if (!statement.ok()) return statement.status();
    auto changed = statement->Bind(job_id, kJobEnded).Run();
    if (!changed.ok()) return changed.status();
    return *changed == 0 ? JobNotFound(job_id) : Status::Ok();
  });
}

Result<std::vector<JobRecord>> SqliteStore::ListRunningJobs(const std::string& kind) {
  auto statement = Prepare(
      "SELECT {job_columns}, {now} - latest_heartbeat FROM job "
      "WHERE kind = ?1 AND state = ?2 ORDER BY latest_heartbeat DESC, id DESC");
  if (!statement.ok()) return statement.status();
  statement->Bind(kind, kJobRunning);
  return ReadAll<JobRows>(*statement);
}

Result<std::optional<JobRecord>> SqliteStore::GetJob(int64_t job_id) {
  auto statement = Prepare("SELECT {job_columns}, {now} - latest_heartbeat FROM job WHERE id = ?1");
  if (!statement.ok()) return statement.status();
  statement->Bind(job_id);
  return ReadOptional<JobRows>(*statement);
}

Result<Lease> SqliteStore::GetLease() {
  auto statement = Prepare(lease_sql::kSelectLease);
  if (!statement.ok()) return statement.status();
  return ReadLease(*statement);
}

Result<std::optional<int64_t>> SqliteStore::AcquireLease(const std::string& node, int64_t job_id,
                                                         Duration ttl) {
  static const std::string sql =
      "UPDATE failover_lease SET " + std::string(lease_sql::kAcquireAssignments) +
      ", epoch = epoch + 1 WHERE " + std::string(lease_sql::kAcquirable) + " RETURNING epoch";
  return WriteTransaction([&]() -> Result<std::optional<int64_t>> {
    auto acquire = Prepare(sql);
    if (!acquire.ok()) return acquire.status();
    auto row = acquire->Bind(node, job_id, MicrosOf(ttl), node, MicrosOf(ttl)).Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<int64_t>();
    return std::optional<int64_t>(acquire->Int());
  });
}

Result<bool> SqliteStore::RenewLease(int64_t job_id, int64_t epoch, Duration ttl) {
  return WriteTransaction([&]() -> Result<bool> {
    auto renew = Prepare(lease_sql::kRenewLease);
    if (!renew.ok()) return renew.status();
    auto changed = renew->Bind(MicrosOf(ttl), job_id, epoch).Run();
    if (!changed.ok()) return changed.status();
    return *changed == 1;
  });
}

Result<std::optional<int64_t>> SqliteStore::AdvanceEpoch(int64_t job_id, int64_t epoch) {
  static const std::string sql = "UPDATE failover_lease SET epoch = epoch + 1 WHERE " +
                                 std::string(lease_sql::kEpochHeld) + " RETURNING epoch";
  return WriteTransaction([&]() -> Result<std::optional<int64_t>> {
    auto advance = Prepare(sql);
    if (!advance.ok()) return advance.status();
    auto row = advance->Bind(job_id, epoch).Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<int64_t>();
    return std::optional<int64_t>(advance->Int());
  });
}

Status SqliteStore::ReleaseLease(int64_t job_id, int64_t epoch) {
  return WriteTransaction([&]() -> Status {
    auto release = Prepare(lease_sql::kReleaseLease);
    if (!release.ok()) return release.status();
    return StatusOf(release->Bind(job_id, epoch).Run());
  });
}

Status SqliteStore::SetSchedulerNode(int64_t epoch, const std::string& node) {
  return WriteTransaction([&]() -> Status {
    auto update = Prepare(lease_sql::kSetSchedulerNode);
    if (!update.ok()) return update.status();
    auto changed = update->Bind(node, epoch).Run();
    if (!changed.ok()) return changed.status();
    if (*changed == 1) return Status::Ok();
    auto current = Prepare(lease_sql::kSelectLeaseEpoch);
    if (!current.ok()) return current.status();
    auto lease_epoch = ReadLeaseEpoch(*current);
    if (!lease_epoch.ok()) return lease_epoch.status();
    return StaleEpoch(*lease_epoch, epoch, "this controller");
  });
}

Status SqliteStore::SetPromoteTo(const std::string& node) {
  return WriteTransaction([&]() -> Status {
    auto update = Prepare(lease_sql::kSetPromoteTo);
    if (!update.ok()) return update.status();
    auto changed = update->Bind(node).Run();
    if (!changed.ok()) return changed.status();
    return *changed == 1 ? Status::Ok() : MissingLeaseRow();
  });
}

Status SqliteStore::SetMaintenance(bool on) {
  return WriteTransaction([&]() -> Status {
    auto update = Prepare(lease_sql::kSetMaintenance);
    if (!update.ok()) return update.status();
    auto changed = update->Bind(on ? 1 : 0).Run();
    if (!changed.ok()) return changed.status();
    return *changed == 1 ? Status::Ok() : MissingLeaseRow();
  });
}

Status SqliteStore::RecordFailoverEvent(const FailoverEvent& event) {
  return WriteTransaction([&]() -> Status {
    auto insert = Prepare(lease_sql::kInsertEvent);
    if (!insert.ok()) return insert.status();
    FailoverEventRows::Bind(*insert, event);
    return StatusOf(insert->Run());
  });
}

Result<std::vector<FailoverEvent>> SqliteStore::ListFailoverEvents(int limit) {
  static const std::string sql = std::string(lease_sql::kListEvents) + " LIMIT ?";
  auto statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  // SQLite reads a negative limit as none.
  statement->Bind(limit > 0 ? limit : -1);
  return ReadAll<FailoverEventRows>(*statement);
}

Status SqliteStore::ClearFailoverMetadata() {
  return WriteTransaction([&]() -> Status {
    BATON_RETURN_IF_ERROR(Execute(lease_sql::kClearLease));
    BATON_RETURN_IF_ERROR(Execute(lease_sql::kClearEvents));
    auto end_jobs = Prepare(lease_sql::kEndControllerJobs);
    if (!end_jobs.ok()) return end_jobs.status();
    return StatusOf(end_jobs->Bind(kJobEnded, kControllerJob, kJobRunning).Run());
  });
}

Status SqliteStore::CheckFencing() {
  if (!fencing_epoch_) return Status::Ok();
  auto statement = Prepare(lease_sql::kSelectLeaseEpoch);
  if (!statement.ok()) return statement.status();
  return CheckLeaseEpoch(*statement, *fencing_epoch_, "this scheduler");
}

}  // namespace baton
