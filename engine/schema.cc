// The schema's migrations. Every table has a primary key (Galera replication
// refuses tables without one), and keys are VARCHAR(250) so that the widest key,
// task_try's four columns, stays under InnoDB's 3072-byte limit in utf8mb4.
#include "engine/schema.h"

#include <iterator>
#include <span>
#include <string_view>

#include "engine/store.h"

namespace baton {
namespace {

// Statements spell the few dialect-specific parts as {placeholders}.
struct MigrationSource {
  int version;
  std::span<const std::string_view> statements;
};

constexpr std::string_view kSchemaVersionTable =
    "CREATE TABLE IF NOT EXISTS baton_schema ("
    " version INTEGER NOT NULL PRIMARY KEY"
    "){table_options}";

constexpr std::string_view kVersion1[] = {
    "CREATE TABLE dag ("
    " dag_id VARCHAR(250) NOT NULL PRIMARY KEY,"
    " file TEXT NOT NULL,"
    " schedule VARCHAR(250) NOT NULL,"
    " is_paused SMALLINT NOT NULL DEFAULT 0,"
    " last_parsed BIGINT"
    "){table_options}",

    "CREATE TABLE import_error ("
    " id {id_column},"
    " file TEXT NOT NULL,"
    " message TEXT NOT NULL,"
    " recorded_at BIGINT NOT NULL"
    "){table_options}",

    // No foreign key to dag: a run outlives its DAG file as history.
    "CREATE TABLE dag_run ("
    " dag_id VARCHAR(250) NOT NULL,"
    " run_id VARCHAR(250) NOT NULL,"
    " state VARCHAR(20) NOT NULL,"
    " run_type VARCHAR(20) NOT NULL,"
    " logical_date BIGINT NOT NULL,"
    " data_interval_start BIGINT NOT NULL,"
    " data_interval_end BIGINT NOT NULL,"
    " start_date BIGINT,"
    " end_date BIGINT,"
    " conf TEXT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " PRIMARY KEY (dag_id, run_id),"
    " CONSTRAINT dag_run_logical_date_key UNIQUE (dag_id, logical_date)"
    "){table_options}",

    // The scheduler looks for queued and running runs on every loop.
    "CREATE INDEX dag_run_state_idx ON dag_run (state)",

    // The primary key's (dag_id, run_id) prefix serves "task instances of a run".
    "CREATE TABLE task_instance ("
    " dag_id VARCHAR(250) NOT NULL,"
    " run_id VARCHAR(250) NOT NULL,"
    " task_id VARCHAR(250) NOT NULL,"
    " state VARCHAR(20) NOT NULL,"
    " try_number INTEGER NOT NULL DEFAULT 0,"
    " start_date BIGINT,"
    " end_date BIGINT,"
    " exit_code INTEGER,"
    " next_retry_at BIGINT,"
    " pool VARCHAR(250) NOT NULL DEFAULT '',"
    " priority INTEGER NOT NULL DEFAULT 1,"
    " queue VARCHAR(250) NOT NULL DEFAULT '',"
    " hostname VARCHAR(250) NOT NULL DEFAULT '',"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " owner_job_id BIGINT NOT NULL DEFAULT 0,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (dag_id, run_id, task_id),"
    " CONSTRAINT task_instance_run_fk FOREIGN KEY (dag_id, run_id)"
    "  REFERENCES dag_run (dag_id, run_id) ON DELETE CASCADE"
    "){table_options}",

    // The primary key is what refuses a second start of the same try.
    "CREATE TABLE task_try ("
    " dag_id VARCHAR(250) NOT NULL,"
    " run_id VARCHAR(250) NOT NULL,"
    " task_id VARCHAR(250) NOT NULL,"
    " try_number INTEGER NOT NULL,"
    " state VARCHAR(20) NOT NULL,"
    " hostname VARCHAR(250) NOT NULL DEFAULT '',"
    " pid INTEGER NOT NULL DEFAULT 0,"
    " start_date BIGINT NOT NULL,"
    " end_date BIGINT,"
    " exit_code INTEGER,"
    " PRIMARY KEY (dag_id, run_id, task_id, try_number),"
    " CONSTRAINT task_try_task_instance_fk FOREIGN KEY (dag_id, run_id, task_id)"
    "  REFERENCES task_instance (dag_id, run_id, task_id) ON DELETE CASCADE"
    "){table_options}",

    "CREATE TABLE job ("
    " id {id_column},"
    " kind VARCHAR(50) NOT NULL,"
    " hostname VARCHAR(250) NOT NULL,"
    " pid INTEGER NOT NULL,"
    " process_start_ticks BIGINT NOT NULL,"
    " state VARCHAR(20) NOT NULL,"
    " start_date BIGINT NOT NULL,"
    " latest_heartbeat BIGINT NOT NULL"
    "){table_options}",

    // Running jobs of a kind, newest heartbeat first.
    "CREATE INDEX job_kind_state_idx ON job (kind, state, latest_heartbeat)",
};

// An agent's row names it, lists its queues and where its log server listens,
// and its heartbeat carries how many tries it runs.
constexpr std::string_view kVersion2[] = {
    "ALTER TABLE job ADD COLUMN name VARCHAR(250) NOT NULL DEFAULT ''",
    "ALTER TABLE job ADD COLUMN queues VARCHAR(1000) NOT NULL DEFAULT ''",
    "ALTER TABLE job ADD COLUMN endpoint VARCHAR(250) NOT NULL DEFAULT ''",
    "ALTER TABLE job ADD COLUMN running_count INTEGER NOT NULL DEFAULT 0",
};

// Failover: the lease that names the active controller, and the history of
// what controllers decided. Times are the database's clock, like heartbeats.
constexpr std::string_view kVersion3[] = {
    // One row, id 1. expires_at in the past: free; acquired_at NULL: never held.
    "CREATE TABLE failover_lease ("
    " id INTEGER NOT NULL PRIMARY KEY,"
    " holder VARCHAR(250) NOT NULL DEFAULT '',"
    " holder_job_id BIGINT NOT NULL DEFAULT 0,"
    " epoch BIGINT NOT NULL DEFAULT 0,"
    " expires_at BIGINT NOT NULL DEFAULT 0,"
    " acquired_at BIGINT,"
    " scheduler_node VARCHAR(250) NOT NULL DEFAULT '',"
    " promote_to VARCHAR(250) NOT NULL DEFAULT '',"
    " maintenance SMALLINT NOT NULL DEFAULT 0"
    "){table_options}",

    // Ignored when there: a migration cut off halfway runs it again.
    "{insert_ignore} INTO failover_lease (id, epoch, expires_at) VALUES (1, 0, 0)",

    "CREATE TABLE failover_event ("
    " id {id_column},"
    " at BIGINT NOT NULL,"
    " node VARCHAR(250) NOT NULL,"
    " epoch BIGINT NOT NULL,"
    " kind VARCHAR(50) NOT NULL,"
    " message TEXT NOT NULL"
    "){table_options}",

    // The history is listed newest first.
    "CREATE INDEX failover_event_at_idx ON failover_event (at, id)",
};

constexpr MigrationSource kMigrations[] = {
    {1, kVersion1},
    {2, kVersion2},
    {3, kVersion3},
};

static_assert(kMigrations[std::size(kMigrations) - 1].version == Store::kSchemaVersion,
              "the last migration must bring the schema to Store::kSchemaVersion");

void ReplaceAll(std::string& text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
}

std::string Render(std::string_view statement, SqlDialect dialect) {
  std::string sql(statement);
  switch (dialect) {
    case SqlDialect::kSqlite:
      // AUTOINCREMENT: an id is never reused, so a stale owner_job_id cannot
      // name a newer job.
      ReplaceAll(sql, "{id_column}", "INTEGER PRIMARY KEY AUTOINCREMENT");
      ReplaceAll(sql, "{table_options}", "");
      ReplaceAll(sql, "{insert_ignore}", "INSERT OR IGNORE");
      break;
    case SqlDialect::kMariaDb:
      ReplaceAll(sql, "{id_column}", "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY");
      // Binary collation: keys compare byte for byte, as they do in SQLite.
      ReplaceAll(sql, "{table_options}",
                 " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
      ReplaceAll(sql, "{insert_ignore}", "INSERT IGNORE");
      break;
  }
  return sql;
}

}  // namespace

std::string SchemaVersionTableStatement(SqlDialect dialect) {
  return Render(kSchemaVersionTable, dialect);
}

std::vector<Migration> SchemaMigrations(SqlDialect dialect) {
  std::vector<Migration> migrations;
  for (const MigrationSource& source : kMigrations) {
    Migration& migration = migrations.emplace_back();
    migration.version = source.version;
    for (std::string_view statement : source.statements) {
      migration.statements.push_back(Render(statement, dialect));
    }
  }
  return migrations;
}

}  // namespace baton
