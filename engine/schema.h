// The metadata store's schema, as one ordered list of migrations shared by every
// SQL backend. Statements are portable SQL (times as BIGINT microseconds since
// the epoch in UTC, VARCHAR(250) keys, TEXT payloads); the dialect only decides
// the few spellings SQLite and MySQL/MariaDB do not share.
#pragma once

#include <string>
#include <vector>

namespace baton {

enum class SqlDialect { kSqlite, kMariaDb };

struct Migration {
  int version = 0;
  std::vector<std::string> statements;  // run in order, in one transaction where the backend can
};

// The table that records which migrations were applied (one row per version).
// Safe to run on every start.
std::string SchemaVersionTableStatement(SqlDialect dialect);

// Every migration from version 1 to Store::kSchemaVersion, oldest first.
std::vector<Migration> SchemaMigrations(SqlDialect dialect);

}  // namespace baton
