// MySqlStore: the Store's SQL for MySQL/MariaDB; every call runs through the retrying
// runners of engine/mysql_retry.h.
#include "engine/mysql_store.h"

#include <mysqld_error.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>

#include "engine/lease_sql.h"
#include "engine/mysql_retry.h"
#include "engine/mysql_statement.h"
#include "engine/mysql_transition_sql.h"
#include "engine/schema.h"
#include "engine/store_rows.h"

namespace baton {
namespace {

// Microseconds since the epoch, UTC, by the server's clock; independent of the
// session's time zone.
constexpr std::string_view kServerNow =
    "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))";

std::string ExpandSql(std::string_view sql) { return ExpandStoreSql(sql, kServerNow); }

// What a migration statement meets when what it makes is already there: the
// migration was cut off halfway before.
bool AlreadyApplied(unsigned int error_number) {
  return error_number == ER_TABLE_EXISTS_ERROR || error_number == ER_DUP_FIELDNAME ||
         error_number == ER_DUP_KEYNAME || error_number == ER_DUP_CONSTRAINT_NAME;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string quoted = "`";
  for (char c : name) quoted += c == '`' ? std::string("``") : std::string(1, c);
  return quoted + "`";
}

// Seconds to wait for the migration lock: less than the read timeout, so the
// server answers before the client gives up on it.
int LockWaitSeconds(const MySqlOptions& options) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options.io_timeout / 2);
  return static_cast<int>(std::max<int64_t>(1, seconds.count()));
}

bool SameFields(const TaskInstance& a, const TaskInstance& b) {
  return std::tie(a.state, a.try_number, a.start_date, a.end_date, a.exit_code, a.next_retry_at,
                  a.pool, a.priority, a.queue, a.hostname, a.pid, a.owner_job_id) ==
         std::tie(b.state, b.try_number, b.start_date, b.end_date, b.exit_code, b.next_retry_at,
                  b.pool, b.priority, b.queue, b.hostname, b.pid, b.owner_job_id);
}

// Statements over many rows take up to this many; a batch is cut into powers
// of two (RowsInNextStatement), so that a handful of statements serves every
// size.
constexpr size_t kMaxRowsPerStatement = 32;

// The statement for each power of two up to kMaxRowsPerStatement rows.
std::map<size_t, std::string> StatementsBySize(std::string (*statement)(size_t rows)) {
  std::map<size_t, std::string> sql;
  for (size_t rows = 1; rows <= kMaxRowsPerStatement; rows *= 2) sql[rows] = statement(rows);
  return sql;
}

// How many of the `left` rows the next statement takes.
size_t RowsInNextStatement(size_t left) {
  size_t rows = kMaxRowsPerStatement;
  while (rows > left) rows /= 2;
  return rows;
}

// Task instances go in multi-row INSERTs.
const std::string& InsertTaskInstancesSql(size_t rows) {
  static const auto statements = StatementsBySize([](size_t count) {
    std::string text = "INSERT INTO task_instance ({task_instance_columns}, updated_at) VALUES ";
    for (size_t row = 0; row < count; ++row) {
      text += row == 0 ? "" : ", ";
      text += "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {now})";
    }
    return text;
  });
  return statements.at(rows);
}

// Transitions that write the same values into several task instances of one
// run, from the same state and try (the scheduler marks a new run's tasks
// scheduled in one batch), go in one UPDATE naming their task ids.
const std::string& UpdateTaskInstancesSql(size_t rows) {
  static const auto statements = StatementsBySize([](size_t count) {
    std::string text = "UPDATE task_instance SET " +
                       std::string(TaskInstanceRows::kFieldAssignments) +
                       ", updated_at = {now} WHERE dag_id = ? AND run_id = ? AND state = ? AND "
                       "try_number = ? AND task_id IN (";
    for (size_t row = 0; row < count; ++row) text += row == 0 ? "?" : ", ?";
    return text + ")";
  });
  return statements.at(rows);
}

// What transitions must share to go in one such UPDATE.
auto SharedUpdateOf(const TaskTransition& transition) {
  const TaskInstance& ti = transition.updated;
  return std::make_tuple(ti.key.dag_id, ti.key.run_id, transition.expected_state,
                         transition.expected_try, ti.state, ti.try_number, ti.start_date,
                         ti.end_date, ti.exit_code, ti.next_retry_at, ti.pool, ti.priority,
                         ti.queue, ti.hostname, ti.pid, ti.owner_job_id);
}

// The groups of two or more transitions that can share an UPDATE, each in key
// order: transitions of one statement (neither starting nor ending a try), of
// a task instance no other transition of the batch touches (so their order
// does not matter), not refused.
std::vector<std::vector<size_t>> SharedUpdates(const std::vector<TaskTransition>& transitions,
                                               const std::vector<size_t>& order,
                                               const std::vector<bool>& refused) {
  std::map<TaskInstanceKey, int> per_instance;
  for (const TaskTransition& transition : transitions) ++per_instance[transition.updated.key];
  std::map<decltype(SharedUpdateOf(transitions[0])), std::vector<size_t>> groups;
  for (size_t index : order) {
    const TaskTransition& transition = transitions[index];
    if (refused[index] || EntersRunning(transition) || LeavesRunning(transition) ||
        per_instance[transition.updated.key] > 1) {
      continue;
    }
    groups[SharedUpdateOf(transition)].push_back(index);
  }
  std::vector<std::vector<size_t>> shared;
  for (auto& [values, members] : groups) {
    if (members.size() >= 2) shared.push_back(std::move(members));
  }
  return shared;
}

// An `applied` for a transaction that is harmless to run twice.
Result<bool> RunAgain(const auto&) { return false; }

Result<std::optional<DagRun>> SelectDagRun(MySqlConnection& connection, const std::string& dag_id,
                                           const std::string& run_id) {
  auto statement =
      connection.Prepare("SELECT {dag_run_columns} FROM dag_run WHERE dag_id = ? AND run_id = ?");
  if (!statement.ok()) return statement.status();
  (*statement)->Bind(dag_id, run_id);
  return ReadOptional<DagRunRows>(**statement);
}

Result<std::optional<TaskInstance>> SelectTaskInstance(MySqlConnection& connection,
                                                       const TaskInstanceKey& key) {
  auto statement = connection.Prepare(
      "SELECT {task_instance_columns} FROM task_instance "
      "WHERE dag_id = ? AND run_id = ? AND task_id = ?");
  if (!statement.ok()) return statement.status();
  TaskInstanceRows::BindKey(**statement, key);
  return ReadOptional<TaskInstanceRows>(**statement);
}

Result<Lease> SelectLease(MySqlConnection& connection) {
  auto statement = connection.Prepare(lease_sql::kSelectLease);
  if (!statement.ok()) return statement.status();
  return ReadLease(**statement);
}

MySqlOptions OptionsFor(MySqlUrl url, std::string password, const StoreConfig& config,
                        bool blocks) {
  MySqlOptions options;
  options.compound_statements = blocks;
  options.url = std::move(url);
  options.password = std::move(password);
  options.connect_timeout = config.connect_timeout;
  options.io_timeout = config.io_timeout;
  options.expand_sql = ExpandSql;
  return options;
}

}  // namespace

MySqlStore::MySqlStore(MySqlUrl url, std::string password, const StoreConfig& config, bool blocks)
    : connection_(OptionsFor(std::move(url), std::move(password), config, blocks)) {}

MySqlStore::~MySqlStore() = default;

Status MySqlStore::Migrate() {
  Status connected = connection_.Connect();
  if (connected.code() == Status::Code::kNotFound) BATON_RETURN_IF_ERROR(CreateDatabase());
  return RunRetrying(connection_, [&] { return MigrateOnce(); });
}

Status MySqlStore::CreateDatabase() {
  MySqlConnection server(connection_.options());
  BATON_RETURN_IF_ERROR(server.Connect(/*with_database=*/false));
  // Binary collation: keys compare byte for byte, as they do in SQLite.
  return server.Execute("CREATE DATABASE IF NOT EXISTS " +
                        QuoteIdentifier(connection_.options().url.database) +
                        " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
}

Status MySqlStore::MigrateOnce() {
  // A named lock serializes migrations. It lives as long as the connection: a
  // lost connection ends this attempt, and the next one takes the lock again.
  const std::string lock = ("baton_migrate." + connection_.options().url.database).substr(0, 64);
  auto acquire = Prepare("SELECT GET_LOCK(?, ?)");
  if (!acquire.ok()) return acquire.status();
  auto row = (*acquire)->Bind(lock, LockWaitSeconds(connection_.options())).Step();
  if (!row.ok()) return row.status();
  if ((*acquire)->IsNull() || (*acquire)->Int() != 1) {
    return Status::Unavailable(
        "store " + connection_.name() + ": another process has been migrating the store for " +
        std::to_string(LockWaitSeconds(connection_.options())) + " s; try again when it is done");
  }
  Status migrated = ApplyMigrations();
  if (auto release = Prepare("SELECT RELEASE_LOCK(?)"); release.ok()) {
    // A failed release changes nothing: the lock goes with the connection.
    (void)(*release)->Bind(lock).Step();
  }
  return migrated;
}

Status MySqlStore::ApplyMigrations() {
  BATON_RETURN_IF_ERROR(connection_.Execute(SchemaVersionTableStatement(SqlDialect::kMariaDb)));
  auto current = ReadSchemaVersion();
  if (!current.ok()) return current.status();
  if (*current > kSchemaVersion) {
    return Status::Internal("store " + connection_.name() + " has schema version " +
                            std::to_string(*current) + ", newer than this binary's " +
                            std::to_string(kSchemaVersion) + ": upgrade Baton to use it");
  }
  for (const Migration& migration : SchemaMigrations(SqlDialect::kMariaDb)) {
    if (migration.version <= *current) continue;
    for (const std::string& statement : migration.statements) {
      Status applied = connection_.Execute(statement);
      if (!applied.ok() && !AlreadyApplied(connection_.last_error())) {
        return applied.WithContext("migration to schema version " +
                                   std::to_string(migration.version));
      }
    }
    auto record = Prepare("INSERT IGNORE INTO baton_schema (version) VALUES (?)");
    if (!record.ok()) return record.status();
    auto recorded = (*record)->Bind(migration.version).Run();
    if (!recorded.ok()) return recorded.status();
  }
  return Status::Ok();
}

Result<int> MySqlStore::ReadSchemaVersion() {
  // Ask the catalogue first: a statement on a missing table would not prepare.
  auto table = Prepare(
      "SELECT COUNT(*) FROM information_schema.tables "
      "WHERE table_schema = DATABASE() AND table_name = 'baton_schema'");
  if (!table.ok()) return table.status();
  auto found = (*table)->Step();
  if (!found.ok()) return found.status();
  if ((*table)->Int() == 0) return 0;
  auto version = Prepare("SELECT COALESCE(MAX(version), 0) FROM baton_schema");
  if (!version.ok()) return version.status();
  auto row = (*version)->Step();
  if (!row.ok()) return row.status();
  return (*version)->Int32();
}

Result<int> MySqlStore::SchemaVersion() {
  auto version = RunRetrying(connection_, [&] { return ReadSchemaVersion(); });
  // No database yet: nothing was migrated.
  if (version.status().code() == Status::Code::kNotFound) return 0;
  return version;
}

Result<TimePoint> MySqlStore::Now() {
  return RunRetrying(connection_, [&]() -> Result<TimePoint> {
    auto statement = Prepare("SELECT {now}");
    if (!statement.ok()) return statement.status();
    auto row = (*statement)->Step();
    if (!row.ok()) return row.status();
    return (*statement)->Time();
  });
}

Status MySqlStore::SyncDag(const DagRecord& dag, bool paused_on_create) {
  DagRecord inserted = dag;
  inserted.is_paused = paused_on_create;
  return RunRetrying(connection_, [&]() -> Status {
    auto statement = Prepare(
        "INSERT INTO dag ({dag_columns}) VALUES (?, ?, ?, ?, ?) "
        "ON DUPLICATE KEY UPDATE file = VALUES(file), schedule = VALUES(schedule), "
        "last_parsed = VALUES(last_parsed)");
    if (!statement.ok()) return statement.status();
    DagRows::Bind(**statement, inserted);
    return StatusOf((*statement)->Run());
  });
}

Result<std::optional<DagRecord>> MySqlStore::GetDag(const std::string& dag_id) {
  return RunRetrying(connection_, [&]() -> Result<std::optional<DagRecord>> {
    auto statement = Prepare("SELECT {dag_columns} FROM dag WHERE dag_id = ?");
    if (!statement.ok()) return statement.status();
    (*statement)->Bind(dag_id);
    return ReadOptional<DagRows>(**statement);
  });
}

Result<std::vector<DagRecord>> MySqlStore::ListDags() {
  return RunRetrying(connection_, [&]() -> Result<std::vector<DagRecord>> {
    auto statement = Prepare("SELECT {dag_columns} FROM dag ORDER BY dag_id");
    if (!statement.ok()) return statement.status();
    return ReadAll<DagRows>(**statement);
  });
}

Status MySqlStore::SetDagPaused(const std::string& dag_id, bool paused) {
  return RunRetrying(connection_, [&]() -> Status {
    auto statement = Prepare("UPDATE dag SET is_paused = ? WHERE dag_id = ?");
    if (!statement.ok()) return statement.status();
    auto matched = (*statement)->Bind(paused ? 1 : 0, dag_id).Run();
    if (!matched.ok()) return matched.status();
    if (*matched == 0) return Status::NotFound("no DAG '" + dag_id + "' in the store");
    return Status::Ok();
  });
}

Status MySqlStore::ReplaceImportErrors(const std::vector<ImportError>& errors) {
  return RunTransaction(
      connection_,
      [&]() -> Status {
        BATON_RETURN_IF_ERROR(connection_.Execute("DELETE FROM import_error"));
        for (const ImportError& error : errors) {
          auto statement =
              Prepare("INSERT INTO import_error ({import_error_columns}) VALUES (?, ?, ?)");
          if (!statement.ok()) return statement.status();
          ImportErrorRows::Bind(**statement, error);
          BATON_RETURN_IF_ERROR(StatusOf((*statement)->Run()));
        }
        return Status::Ok();
      },
      RunAgain<Status>);
}

Result<std::vector<ImportError>> MySqlStore::ListImportErrors() {
  return RunRetrying(connection_, [&]() -> Result<std::vector<ImportError>> {
    auto statement = Prepare("SELECT {import_error_columns} FROM import_error ORDER BY file, id");
    if (!statement.ok()) return statement.status();
    return ReadAll<ImportErrorRows>(**statement);
  });
}

Status MySqlStore::InsertTaskInstances(const std::vector<TaskInstance>& task_instances) {
  size_t done = 0;
  while (done < task_instances.size()) {
    const size_t rows = RowsInNextStatement(task_instances.size() - done);
    auto insert = Prepare(InsertTaskInstancesSql(rows));
    if (!insert.ok()) return insert.status();
    for (size_t row = done; row < done + rows; ++row) {
      TaskInstanceRows::Bind(**insert, task_instances[row]);
    }
    BATON_RETURN_IF_ERROR(StatusOf((*insert)->Run()));
    done += rows;
  }
  return Status::Ok();
}

Result<bool> MySqlStore::CreateDagRun(const DagRun& run,
                                      const std::vector<TaskInstance>& task_instances) {
  BATON_RETURN_IF_ERROR(CheckTaskInstancesOfRun(run, task_instances));
  return RunTransaction(
      connection_,
      [&]() -> Result<bool> {
        BATON_RETURN_IF_ERROR(CheckFencing());
        auto insert_run = Prepare(
            "INSERT INTO dag_run ({dag_run_columns}, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {now})");
        if (!insert_run.ok()) return insert_run.status();
        DagRunRows::Bind(**insert_run, run);
        auto inserted = (*insert_run)->Run();
        if (!inserted.ok()) {
          if (!(*insert_run)->FailedOnUniqueKey()) return inserted.status();
          // Taken: the failed INSERT wrote nothing, and nothing was written before it.
          return false;
        }
        BATON_RETURN_IF_ERROR(InsertTaskInstances(task_instances));
        return true;
      },
      [&](const Result<bool>& created) -> Result<bool> {
        if (!*created) return true;  // nothing was written either way
        auto stored = SelectDagRun(connection_, run.dag_id, run.run_id);
        if (!stored.ok()) return stored.status();
        return stored->has_value() && (*stored)->logical_date == run.logical_date &&
               (*stored)->run_type == run.run_type;
      });
}

Result<std::optional<DagRun>> MySqlStore::GetDagRun(const std::string& dag_id,
                                                    const std::string& run_id) {
  return RunRetrying(connection_, [&] { return SelectDagRun(connection_, dag_id, run_id); });
}

Result<std::vector<DagRun>> MySqlStore::ListDagRuns(const RunFilter& filter) {
  // One cached statement per combination of filters, so that each can use an index.
  std::string sql = "SELECT {dag_run_columns} FROM dag_run WHERE 1 = 1";
  if (filter.dag_id) sql += " AND dag_id = ?";
  if (filter.state) sql += " AND state = ?";
  sql += " ORDER BY logical_date DESC, dag_id, run_id";
  if (filter.limit > 0) sql += " LIMIT ?";
  return RunRetrying(connection_, [&]() -> Result<std::vector<DagRun>> {
    auto statement = Prepare(sql);
    if (!statement.ok()) return statement.status();
    if (filter.dag_id) (*statement)->Bind(*filter.dag_id);
    if (filter.state) (*statement)->Bind(ToString(*filter.state));
    if (filter.limit > 0) (*statement)->Bind(filter.limit);
    return ReadAll<DagRunRows>(**statement);
  });
}

Status MySqlStore::SetDagRunState(const std::string& dag_id, const std::string& run_id,
                                  RunState from, RunState to, std::optional<TimePoint> start_date,
                                  std::optional<TimePoint> end_date) {
  return RunTransaction(
      connection_,
      [&]() -> Status {
        BATON_RETURN_IF_ERROR(CheckFencing());
        auto update = Prepare(
            "UPDATE dag_run SET state = ?, start_date = COALESCE(?, start_date), "
            "end_date = COALESCE(?, end_date) WHERE dag_id = ? AND run_id = ? AND state = ?");
        if (!update.ok()) return update.status();
        auto matched =
            (*update)
                ->Bind(ToString(to), start_date, end_date, dag_id, run_id, ToString(from))
                .Run();
        if (!matched.ok()) return matched.status();
        if (*matched == 1) return Status::Ok();
        auto current = SelectDagRun(connection_, dag_id, run_id);
        if (!current.ok()) return current.status();
        if (!*current) return Status::NotFound("no " + RunName(dag_id, run_id) + " in the store");
        return Status::Conflict(RunName(dag_id, run_id) + " is " +
                                std::string(ToString((*current)->state)) + ", not " +
                                std::string(ToString(from)));
      },
      [&](const Status&) -> Result<bool> {
        auto current = SelectDagRun(connection_, dag_id, run_id);
        if (!current.ok()) return current.status();
        return current->has_value() && (*current)->state == to;
      });
}

Result<std::optional<TimePoint>> MySqlStore::LatestScheduledLogicalDate(const std::string& dag_id) {
  return RunRetrying(connection_, [&]() -> Result<std::optional<TimePoint>> {
    auto statement =
        Prepare("SELECT MAX(logical_date) FROM dag_run WHERE dag_id = ? AND run_type = ?");
    if (!statement.ok()) return statement.status();
    auto row = (*statement)->Bind(dag_id, ToString(RunType::kScheduled)).Step();
    if (!row.ok()) return row.status();
    return (*statement)->OptionalTime();
  });
}

Result<std::vector<TaskInstance>> MySqlStore::ListTaskInstances(const std::string& dag_id,
                                                                const std::string& run_id) {
  return RunRetrying(connection_, [&]() -> Result<std::vector<TaskInstance>> {
    auto statement = Prepare(
        "SELECT {task_instance_columns} FROM task_instance "
        "WHERE dag_id = ? AND run_id = ? ORDER BY task_id");
    if (!statement.ok()) return statement.status();
    (*statement)->Bind(dag_id, run_id);
    return ReadAll<TaskInstanceRows>(**statement);
  });
}

Result<std::optional<TaskInstance>> MySqlStore::GetTaskInstance(const TaskInstanceKey& key) {
  return RunRetrying(connection_, [&] { return SelectTaskInstance(connection_, key); });
}

Result<std::vector<TaskInstance>> MySqlStore::ListTaskInstancesOfActiveRuns() {
  return RunRetrying(connection_, [&]() -> Result<std::vector<TaskInstance>> {
    auto statement = Prepare(
        "SELECT {task_instance_columns} FROM task_instance WHERE (dag_id, run_id) IN "
        "(SELECT dag_id, run_id FROM dag_run WHERE state IN (?, ?)) "
        "ORDER BY dag_id, run_id, task_id");
    if (!statement.ok()) return statement.status();
    (*statement)->Bind(ToString(RunState::kQueued), ToString(RunState::kRunning));
    return ReadAll<TaskInstanceRows>(**statement);
  });
}

Result<std::vector<bool>> MySqlStore::ApplyTransitionsOnce(
    const std::vector<TaskTransition>& transitions, const std::vector<size_t>& order,
    std::vector<bool>& refused, bool& shared, bool& restart) {
  std::vector<bool> applied(transitions.size(), false);
  restart = false;
  std::vector<bool> done(transitions.size(), false);
  if (shared) {
    for (const std::vector<size_t>& group : SharedUpdates(transitions, order, refused)) {
      for (size_t begin = 0; begin < group.size();) {
        const size_t rows = RowsInNextStatement(group.size() - begin);
        const TaskTransition& first = transitions[group[begin]];
        auto update = Prepare(UpdateTaskInstancesSql(rows));
        if (!update.ok()) return update.status();
        TaskInstanceRows::BindFields(**update, first.updated);
        (*update)->Bind(first.updated.key.dag_id, first.updated.key.run_id,
                        ToString(first.expected_state), first.expected_try);
        for (size_t i = begin; i < begin + rows; ++i) {
          (*update)->Bind(transitions[group[i]].updated.key.task_id);
        }
        auto matched = (*update)->Run();
        if (!matched.ok())
          return matched.status().WithContext("moving " + std::to_string(rows) + " task instances");
        if (*matched != static_cast<int>(rows)) {
          // Some no longer match: which ones, only the row-by-row pass says.
          // This pass is undone and the batch goes again one row at a time.
          shared = false;
          restart = true;
          return applied;
        }
        for (size_t i = begin; i < begin + rows; ++i) applied[group[i]] = done[group[i]] = true;
        begin += rows;
      }
    }
  }
  for (size_t index : order) {
    if (refused[index] || done[index]) continue;
    const TaskTransition& transition = transitions[index];
    const TaskInstance& ti = transition.updated;
    auto matched = MoveTaskInstance(transition);
    if (!matched.ok()) return matched.status();
    if (!*matched) continue;
    if (EntersRunning(transition)) {
      auto start = Prepare(StartTrySql());
      if (!start.ok()) return start.status();
      BindStartTry(**start, ti);
      auto started = (*start)->Run();
      if (!started.ok()) {
        if (!(*start)->FailedOnUniqueKey()) {
          return started.status().WithContext("starting " + ti.key.ToString());
        }
        // That try already started: this transition is refused, and its update
        // must be undone with the rest of this pass.
        refused[index] = true;
        restart = true;
        return applied;
      }
    } else if (LeavesRunning(transition)) {
      auto close = Prepare(EndTrySql());
      if (!close.ok()) return close.status();
      BindEndTry(**close, transition);
      auto closed = (*close)->Run();
      if (!closed.ok()) return closed.status().WithContext("ending " + ti.key.ToString());
    }
    applied[index] = true;
  }
  return applied;
}

Result<bool> MySqlStore::MoveTaskInstance(const TaskTransition& transition) {
  const TaskInstance& ti = transition.updated;
  auto update = Prepare(MoveTaskInstanceSql());
  if (!update.ok()) return update.status();
  BindMoveTaskInstance(**update, transition);
  auto matched = (*update)->Run();
  if (!matched.ok()) return matched.status().WithContext("moving " + ti.key.ToString());
  return *matched > 0;
}

Result<bool> MySqlStore::TransitionsCommitted(const std::vector<TaskTransition>& transitions,
                                              const std::vector<bool>& applied) {
  // The last transition applied to each task instance is what its row should hold.
  std::map<TaskInstanceKey, size_t> last;
  for (size_t i = 0; i < transitions.size(); ++i) {
    if (applied[i]) last[transitions[i].updated.key] = i;
  }
  if (last.empty()) return true;  // nothing was written either way
  for (const auto& [key, index] : last) {
    auto row = SelectTaskInstance(connection_, key);
    if (!row.ok()) return row.status();
    if (row->has_value() && SameFields(**row, transitions[index].updated)) return true;
  }
  return false;
}

Result<std::vector<bool>> MySqlStore::ApplyTransitions(
    const std::vector<TaskTransition>& transitions) {
  if (transitions.empty()) return std::vector<bool>();
  // Rows are locked in primary key order, so that two batches cannot deadlock
  // on each other; transitions of the same task instance keep their order.
  std::vector<size_t> order(transitions.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return transitions[a].updated.key < transitions[b].updated.key;
  });
  auto committed = [&](const Result<std::vector<bool>>& applied) {
    return TransitionsCommitted(transitions, *applied);
  };
  // A lone transition of one statement (neither starting nor ending a try)
  // needs no explicit transaction, which saves two round trips. Fencing reads
  // the lease in the same transaction, so it takes one, or a block.
  const bool one_statement =
      transitions.size() == 1 && !EntersRunning(transitions[0]) && !LeavesRunning(transitions[0]);
  if (one_statement && !fencing_epoch_) {
    const TaskTransition& transition = transitions[0];
    const Result<std::vector<bool>> if_applied = std::vector<bool>{true};
    return RunSingleStatement(
        connection_,
        [&]() -> Result<std::vector<bool>> {
          auto matched = MoveTaskInstance(transition);
          if (!matched.ok()) return matched.status();
          return std::vector<bool>{*matched};
        },
        committed, if_applied);
  }
  if (FitsTransitionBlock(transitions)) {
    // Connected, the server tells whether it runs blocks; a failure to connect
    // shows in the attempts below.
    (void)connection_.Connect();
    if (connection_.runs_compound_statements()) return ApplyTransitionsInBlock(transitions, order);
  }
  std::vector<bool> refused(transitions.size(), false);
  bool shared = true;
  return RunTransaction(
      connection_,
      [&]() -> Result<std::vector<bool>> {
        for (;;) {
          BATON_RETURN_IF_ERROR(CheckFencing());
          bool restart = false;
          auto applied = ApplyTransitionsOnce(transitions, order, refused, shared, restart);
          if (!applied.ok() || !restart) return applied;
          // A refused start, or a shared UPDATE that did not match every row,
          // is rare: undo this pass and go again without it, rather than pay a
          // savepoint per statement.
          BATON_RETURN_IF_ERROR(connection_.Execute("ROLLBACK"));
          BATON_RETURN_IF_ERROR(connection_.Execute("START TRANSACTION"));
        }
      },
      committed);
}

Result<std::vector<bool>> MySqlStore::ApplyTransitionsInBlock(
    const std::vector<TaskTransition>& transitions, const std::vector<size_t>& order) {
  std::vector<bool> refused(transitions.size(), false);
  // The block commits by itself. When its reply is lost, the rows read back
  // say which transitions applied; `read_back` is what that reading fills and
  // also what RunSingleStatement returns when it finds the block committed
  // (it keeps a reference to it, not a copy).
  Result<std::vector<bool>> read_back = std::vector<bool>(transitions.size(), false);
  auto committed = [&](const Result<std::vector<bool>>&) -> Result<bool> {
    bool any = false;
    for (size_t i = 0; i < transitions.size(); ++i) {
      auto row = SelectTaskInstance(connection_, transitions[i].updated.key);
      if (!row.ok()) return row.status();
      (*read_back)[i] =
          !refused[i] && row->has_value() && SameFields(**row, transitions[i].updated);
      any = any || (*read_back)[i];
    }
    return any;
  };
  return RunSingleStatement(
      connection_,
      [&]() -> Result<std::vector<bool>> {
        for (;;) {
          std::vector<size_t> members;
          for (size_t index : order) {
            if (!refused[index]) members.push_back(index);
          }
          std::vector<bool> applied(transitions.size(), false);
          if (members.empty()) return applied;
          auto block = Prepare(TransitionBlockSql(transitions[members[0]], members.size(),
                                                  fencing_epoch_.has_value()));
          if (!block.ok()) return block.status();
          if (fencing_epoch_) (*block)->Bind(*fencing_epoch_);
          for (size_t index : members) BindTransitionInBlock(**block, transitions[index]);
          auto answer = (*block)->RunForAnswer();
          if (!answer.ok()) {
            return answer.status().WithContext("moving " + std::to_string(members.size()) +
                                               " task instances");
          }
          constexpr int64_t kFenced = -1;
          const int64_t outcome = answer->empty() ? kFenced - 1 : (*answer)[0];
          if (answer->size() != members.size() + 2 || outcome < (fencing_epoch_ ? kFenced : 0) ||
              outcome > static_cast<int64_t>(members.size())) {
            return Status::Internal("store " + connection_.name() +
                                    ": a transition block answered a row of the wrong shape");
          }
          if (outcome == kFenced)
            return StaleEpoch((*answer)[1], *fencing_epoch_, "this scheduler");
          if (const int64_t refused_at = outcome; refused_at > 0) {
            // That try already started: the block rolled back; it goes again
            // without that transition.
            refused[members[refused_at - 1]] = true;
            continue;
          }
          for (size_t k = 0; k < members.size(); ++k) applied[members[k]] = (*answer)[k + 2] > 0;
          return applied;
        }
      },
      committed, read_back);
}

Result<int> MySqlStore::ClearTaskInstances(const std::string& dag_id, const std::string& run_id,
                                           const std::vector<std::string>& task_ids) {
  std::vector<std::string> cleared;
  return RunTransaction(
      connection_,
      [&]() -> Result<int> {
        cleared.clear();
        for (const std::string& task_id : task_ids) {
          auto clear = Prepare(
              "UPDATE task_instance SET state = ?, start_date = NULL, end_date = NULL, "
              "exit_code = NULL, next_retry_at = NULL, hostname = '', pid = 0, "
              "owner_job_id = 0, updated_at = {now} "
              "WHERE dag_id = ? AND run_id = ? AND task_id = ? AND state IN (?, ?, ?, ?, ?)");
          if (!clear.ok()) return clear.status();
          (*clear)->Bind(ToString(TaskState::kNone), dag_id, run_id, task_id);
          for (TaskState state : kClearableStates) (*clear)->Bind(ToString(state));
          auto matched = (*clear)->Run();
          if (!matched.ok()) return matched.status();
          if (*matched == 1) cleared.push_back(task_id);
        }
        if (cleared.empty()) return 0;
        auto requeue = Prepare(
            "UPDATE dag_run SET state = ?, end_date = NULL WHERE dag_id = ? AND run_id = ?");
        if (!requeue.ok()) return requeue.status();
        auto matched = (*requeue)->Bind(ToString(RunState::kQueued), dag_id, run_id).Run();
        if (!matched.ok()) return matched.status();
        return static_cast<int>(cleared.size());
      },
      [&](const Result<int>&) -> Result<bool> {
        for (const std::string& task_id : cleared) {
          auto row = SelectTaskInstance(connection_, {dag_id, run_id, task_id});
          if (!row.ok()) return row.status();
          if (!row->has_value() || (*row)->state != TaskState::kNone) return false;
        }
        return true;
      });
}

Result<std::vector<TaskTry>> MySqlStore::ListTaskTries(const TaskInstanceKey& key) {
  return RunRetrying(connection_, [&]() -> Result<std::vector<TaskTry>> {
    auto statement = Prepare(
        "SELECT {task_try_columns} FROM task_try "
        "WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY try_number");
    if (!statement.ok()) return statement.status();
    TaskInstanceRows::BindKey(**statement, key);
    return ReadAll<TaskTryRows>(**statement);
  });
}

Result<int64_t> MySqlStore::RegisterJob(const JobRecord& job) {
  // A transaction rather than autocommit: the INSERT's reply carries the id, so
  // when only COMMIT's reply is lost the row can be looked for by it.
  return RunTransaction(
      connection_,
      [&]() -> Result<int64_t> {
        auto insert = Prepare(
            "INSERT INTO job ({registered_job_columns}, start_date, latest_heartbeat) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now}, {now})");
        if (!insert.ok()) return insert.status();
        JobRows::Bind(**insert, job);
        BATON_RETURN_IF_ERROR(StatusOf((*insert)->Run()));
        return (*insert)->InsertId();
      },
      [&](const Result<int64_t>& id) -> Result<bool> {
        auto statement =
            Prepare("SELECT kind, hostname, pid, process_start_ticks FROM job WHERE id = ?");
        if (!statement.ok()) return statement.status();
        auto row = (*statement)->Bind(*id).Step();
        if (!row.ok()) return row.status();
        if (!*row) return false;
        MySqlStatement& found = **statement;
        return found.Text() == job.kind && found.Text() == job.hostname &&
               found.Int32() == job.pid && found.Int() == job.process_start_ticks;
      });
}

Status MySqlStore::HeartbeatJob(int64_t job_id, int running_count) {
  return RunRetrying(connection_, [&]() -> Status {
    auto statement =
        Prepare("UPDATE job SET latest_heartbeat = {now}, running_count = ? WHERE id = ?");
    if (!statement.ok()) return statement.status();
    auto matched = (*statement)->Bind(running_count, job_id).Run();
    if (!matched.ok()) return matched.status();
    return *matched == 0 ? JobNotFound(job_id) : Status::Ok();
  });
}

Status MySqlStore::EndJob(int64_t job_id) {
  return RunRetrying(connection_, [&]() -> Status {
    auto statement = Prepare("UPDATE job SET state = ? WHERE id = ?");
    if (!statement.ok()) return statement.status();
    auto matched = (*statement)->Bind(kJobEnded, job_id).Run();
    if (!matched.ok()) return matched.status();
    return *matched == 0 ? JobNotFound(job_id) : Status::Ok();
  });
}

Result<std::vector<JobRecord>> MySqlStore::ListRunningJobs(const std::string& kind) {
  return RunRetrying(connection_, [&]() -> Result<std::vector<JobRecord>> {
    auto statement = Prepare(
        "SELECT {job_columns}, {now} - latest_heartbeat FROM job "
        "WHERE kind = ? AND state = ? ORDER BY latest_heartbeat DESC, id DESC");
    if (!statement.ok()) return statement.status();
    (*statement)->Bind(kind, kJobRunning);
    return ReadAll<JobRows>(**statement);
  });
}

Result<std::optional<JobRecord>> MySqlStore::GetJob(int64_t job_id) {
  return RunRetrying(connection_, [&]() -> Result<std::optional<JobRecord>> {
    auto statement =
        Prepare("SELECT {job_columns}, {now} - latest_heartbeat FROM job WHERE id = ?");
    if (!statement.ok()) return statement.status();
    (*statement)->Bind(job_id);
    return ReadOptional<JobRows>(**statement);
  });
}

Result<Lease> MySqlStore::GetLease() {
  return RunRetrying(connection_, [&] { return SelectLease(connection_); });
}

Result<std::optional<int64_t>> MySqlStore::AcquireLease(const std::string& node, int64_t job_id,
                                                        Duration ttl) {
  // LAST_INSERT_ID(expr) hands the new epoch back in the UPDATE's own reply.
  static const std::string sql =
      "UPDATE failover_lease SET " + std::string(lease_sql::kAcquireAssignments) +
      ", epoch = LAST_INSERT_ID(epoch + 1) WHERE " + std::string(lease_sql::kAcquirable);
  bool sent_before = false;
  return RunRetrying(connection_, [&]() -> Result<std::optional<int64_t>> {
    if (std::exchange(sent_before, true)) {
      // The previous attempt's UPDATE may have applied with its reply lost.
      auto lease = SelectLease(connection_);
      if (!lease.ok()) return lease.status();
      if (lease->holder_job_id == job_id && lease->remaining > Duration(0)) {
        return std::optional<int64_t>(lease->epoch);
      }
    }
    auto acquire = Prepare(sql);
    if (!acquire.ok()) return acquire.status();
    auto matched = (*acquire)->Bind(node, job_id, MicrosOf(ttl), node, MicrosOf(ttl)).Run();
    if (!matched.ok()) return matched.status();
    if (*matched == 0) return std::optional<int64_t>();
    return std::optional<int64_t>((*acquire)->InsertId());
  });
}

Result<bool> MySqlStore::RenewLease(int64_t job_id, int64_t epoch, Duration ttl) {
  return RunRetrying(connection_, [&]() -> Result<bool> {
    auto renew = Prepare(lease_sql::kRenewLease);
    if (!renew.ok()) return renew.status();
    auto matched = (*renew)->Bind(MicrosOf(ttl), job_id, epoch).Run();
    if (!matched.ok()) return matched.status();
    return *matched == 1;
  });
}

Result<std::optional<int64_t>> MySqlStore::AdvanceEpoch(int64_t job_id, int64_t epoch) {
  static const std::string sql =
      "UPDATE failover_lease SET epoch = LAST_INSERT_ID(epoch + 1) WHERE " +
      std::string(lease_sql::kEpochHeld);
  bool sent_before = false;
  return RunRetrying(connection_, [&]() -> Result<std::optional<int64_t>> {
    if (std::exchange(sent_before, true)) {
      // The previous attempt's UPDATE may have applied with its reply lost: only
      // that UPDATE moves this job's lease from `epoch` to the next one.
      auto lease = SelectLease(connection_);
      if (!lease.ok()) return lease.status();
      if (lease->holder_job_id == job_id && lease->epoch == epoch + 1) {
        return std::optional<int64_t>(epoch + 1);
      }
    }
    auto advance = Prepare(sql);
    if (!advance.ok()) return advance.status();
    auto matched = (*advance)->Bind(job_id, epoch).Run();
    if (!matched.ok()) return matched.status();
    if (*matched == 0) return std::optional<int64_t>();
    return std::optional<int64_t>((*advance)->InsertId());
  });
}

Status MySqlStore::ReleaseLease(int64_t job_id, int64_t epoch) {
  return RunRetrying(connection_, [&]() -> Status {
    auto release = Prepare(lease_sql::kReleaseLease);
    if (!release.ok()) return release.status();
    return StatusOf((*release)->Bind(job_id, epoch).Run());
  });
}

Status MySqlStore::SetSchedulerNode(int64_t epoch, const std::string& node) {
  return RunRetrying(connection_, [&]() -> Status {
    auto update = Prepare(lease_sql::kSetSchedulerNode);
    if (!update.ok()) return update.status();
    auto matched = (*update)->Bind(node, epoch).Run();
    if (!matched.ok()) return matched.status();
    if (*matched == 1) return Status::Ok();
    auto current = Prepare(lease_sql::kSelectLeaseEpoch);
    if (!current.ok()) return current.status();
    auto lease_epoch = ReadLeaseEpoch(**current);
    if (!lease_epoch.ok()) return lease_epoch.status();
    return StaleEpoch(*lease_epoch, epoch, "this controller");
  });
}

Status MySqlStore::SetPromoteTo(const std::string& node) {
  return RunRetrying(connection_, [&]() -> Status {
    auto update = Prepare(lease_sql::kSetPromoteTo);
    if (!update.ok()) return update.status();
    auto matched = (*update)->Bind(node).Run();
    if (!matched.ok()) return matched.status();
    return *matched == 1 ? Status::Ok() : MissingLeaseRow();
  });
}

Status MySqlStore::SetMaintenance(bool on) {
  return RunRetrying(connection_, [&]() -> Status {
    auto update = Prepare(lease_sql::kSetMaintenance);
    if (!update.ok()) return update.status();
    auto matched = (*update)->Bind(on ? 1 : 0).Run();
    if (!matched.ok()) return matched.status();
    return *matched == 1 ? Status::Ok() : MissingLeaseRow();
  });
}

Status MySqlStore::RecordFailoverEvent(const FailoverEvent& event) {
  // A transaction, as for RegisterJob: the INSERT's reply carries the id to
  // look for when only COMMIT's reply is lost.
  auto recorded = RunTransaction(
      connection_,
      [&]() -> Result<int64_t> {
        auto insert = Prepare(lease_sql::kInsertEvent);
        if (!insert.ok()) return insert.status();
        FailoverEventRows::Bind(**insert, event);
        BATON_RETURN_IF_ERROR(StatusOf((*insert)->Run()));
        return (*insert)->InsertId();
      },
      [&](const Result<int64_t>& id) -> Result<bool> {
        auto statement = Prepare("SELECT node, epoch, kind FROM failover_event WHERE id = ?");
        if (!statement.ok()) return statement.status();
        auto row = (*statement)->Bind(*id).Step();
        if (!row.ok()) return row.status();
        if (!*row) return false;
        MySqlStatement& found = **statement;
        return found.Text() == event.node && found.Int() == event.epoch &&
               found.Text() == event.kind;
      });
  return recorded.status();
}

Result<std::vector<FailoverEvent>> MySqlStore::ListFailoverEvents(int limit) {
  static const std::string all(lease_sql::kListEvents);
  static const std::string newest = all + " LIMIT ?";
  return RunRetrying(connection_, [&]() -> Result<std::vector<FailoverEvent>> {
    auto statement = Prepare(limit > 0 ? newest : all);
    if (!statement.ok()) return statement.status();
    if (limit > 0) (*statement)->Bind(limit);
    return ReadAll<FailoverEventRows>(**statement);
  });
}

Status MySqlStore::ClearFailoverMetadata() {
  return RunTransaction(
      connection_,
      [&]() -> Status {
        for (std::string_view sql : {lease_sql::kClearLease, lease_sql::kClearEvents}) {
          auto statement = Prepare(sql);
          if (!statement.ok()) return statement.status();
          BATON_RETURN_IF_ERROR(StatusOf((*statement)->Run()));
        }
        auto end_jobs = Prepare(lease_sql::kEndControllerJobs);
        if (!end_jobs.ok()) return end_jobs.status();
        return StatusOf((*end_jobs)->Bind(kJobEnded, kControllerJob, kJobRunning).Run());
      },
      RunAgain<Status>);
}

Status MySqlStore::CheckFencing() {
  if (!fencing_epoch_) return Status::Ok();
  static const std::string sql = std::string(lease_sql::kSelectLeaseEpoch) + " LOCK IN SHARE MODE";
  auto statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  return CheckLeaseEpoch(**statement, *fencing_epoch_, "this scheduler");
}

}  // namespace baton
