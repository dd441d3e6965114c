// MySqlStatement: one server-side prepared statement on a MySqlConnection, with
// the buffers its parameters and result columns are bound to. It reads and binds
// like SqliteStatement, so the shared row mapping (engine/store_rows.h) works on
// both. Included by the MySQL backend's sources only: it needs Connector/C's
// headers.
#pragma once

#include <mysql.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace baton {

class MySqlConnection;

// A statement is reused: MySqlConnection::Prepare hands out the cached one after
// Reset(). Bind its parameters in order, then Step() through its rows (the first
// Step() executes it) or Run() it. Rows are buffered on the client as soon as the
// statement executes, so other statements may run while they are being read.
class MySqlStatement {
 public:
  // Takes ownership of `statement`, already prepared from `sql`.
  MySqlStatement(MYSQL_STMT* statement, std::string sql, MySqlConnection* connection);
  ~MySqlStatement();
  MySqlStatement(const MySqlStatement&) = delete;
  MySqlStatement& operator=(const MySqlStatement&) = delete;

  // Frees the previous result and forgets the bound parameters.
  void Reset();

  template <typename... Values>
  MySqlStatement& Bind(const Values&... values) {
    (BindValue(values), ...);
    return *this;
  }

  // Steps once: true when a row is ready to be read, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows; the number of rows it matched (the
  // connection counts found rows, not changed ones).
  Result<int> Run();
  // Runs a compound statement (BEGIN NOT ATOMIC ... END) whose one row of
  // integers, from its last SELECT, is its answer; reads every result it sends
  // and returns that row. Internal when it sends no row.
  Result<std::vector<int64_t>> RunForAnswer();
  // The AUTO_INCREMENT id the last Run() inserted.
  int64_t InsertId() const;
  // Whether the last execution failed on a primary or unique key.
  bool FailedOnUniqueKey() const;

  // The current row's columns, read left to right.
  int64_t Int();
  int Int32() { return static_cast<int>(Int()); }
  std::string Text();
  TimePoint Time() { return FromEpochMicros(Int()); }
  bool IsNull() const;
  std::optional<int> OptionalInt32();
  std::optional<TimePoint> OptionalTime();

 private:
  struct Parameter {
    enum_field_types type = MYSQL_TYPE_NULL;
    long long integer = 0;
    std::string text;
    unsigned long length = 0;
  };
  struct Column {
    bool is_integer = false;
    long long integer = 0;
    std::vector<char> buffer;  // a text column's value when it fits
    std::string overflow;      // ... and when it did not
    bool overflowed = false;
    unsigned long length = 0;
    my_bool is_null = 0;
    my_bool truncated = 0;
  };

  void BindValue(int64_t value);
  void BindValue(int value) { BindValue(static_cast<int64_t>(value)); }
  void BindValue(std::string_view value);
  void BindValue(const std::string& value) { BindValue(std::string_view(value)); }
  void BindValue(const char* value) { BindValue(std::string_view(value)); }
  void BindValue(TimePoint value) { BindValue(ToEpochMicros(value)); }
  void BindValue(std::nullopt_t);
  template <typename T>
  void BindValue(const std::optional<T>& value) {
    if (value) {
      BindValue(*value);
    } else {
      BindValue(std::nullopt);
    }
  }

  // Binds the parameters, executes, and buffers the rows.
  Status Execute();
  // Reads the columns that did not fit their buffers.
  Status FetchOverflow();
  Status Failure();
  std::string ShortSql() const;

  MYSQL_STMT* statement_;
  std::string sql_;
  MySqlConnection* connection_;
  std::vector<Parameter> parameters_;
  std::vector<MYSQL_BIND> parameter_binds_;
  std::vector<Column> columns_;
  std::vector<MYSQL_BIND> column_binds_;
  std::vector<long long> answer_;  // RunForAnswer()'s row, as the client library writes it
  std::vector<MYSQL_BIND> answer_binds_;
  bool executed_ = false;
  unsigned int last_error_ = 0;
  size_t next_column_ = 0;
};

}  // namespace baton
