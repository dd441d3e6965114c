#include "engine/mysql_statement.h"

#include <mysqld_error.h>

#include <charconv>
#include <cstring>
#include <utility>

#include "engine/mysql_connection.h"

namespace baton {
namespace {

// Text columns are read into a buffer of this size first; a longer value is
// fetched again at its full length.
constexpr size_t kTextBufferSize = 256;

bool IsIntegerType(enum_field_types type) {
  switch (type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
      return true;
    default:
      return false;
  }
}

}  // namespace

MySqlStatement::MySqlStatement(MYSQL_STMT* statement, std::string sql, MySqlConnection* connection)
    : statement_(statement), sql_(std::move(sql)), connection_(connection) {
  parameters_.reserve(mysql_stmt_param_count(statement_));
  MYSQL_RES* metadata = mysql_stmt_result_metadata(statement_);
  if (metadata == nullptr) return;
  const unsigned int count = mysql_num_fields(metadata);
  const MYSQL_FIELD* fields = mysql_fetch_fields(metadata);
  columns_.resize(count);
  column_binds_.resize(count);
  for (unsigned int i = 0; i < count; ++i) {
    Column& column = columns_[i];
    MYSQL_BIND& bind = column_binds_[i];
    std::memset(&bind, 0, sizeof(bind));
    column.is_integer = IsIntegerType(fields[i].type);
    if (column.is_integer) {
      bind.buffer_type = MYSQL_TYPE_LONGLONG;
      bind.buffer = &column.integer;
    } else {
      column.buffer.resize(kTextBufferSize);
      bind.buffer_type = MYSQL_TYPE_STRING;
      bind.buffer = column.buffer.data();
      bind.buffer_length = column.buffer.size();
    }
    bind.length = &column.length;
    bind.is_null = &column.is_null;
    bind.error = &column.truncated;
  }
  mysql_free_result(metadata);
}

MySqlStatement::~MySqlStatement() { mysql_stmt_close(statement_); }

void MySqlStatement::Reset() {
  if (executed_ && !columns_.empty()) mysql_stmt_free_result(statement_);
  executed_ = false;
  parameters_.clear();
  last_error_ = 0;
  next_column_ = 0;
}

void MySqlStatement::BindValue(int64_t value) {
  Parameter& parameter = parameters_.emplace_back();
  parameter.type = MYSQL_TYPE_LONGLONG;
  parameter.integer = value;
}

void MySqlStatement::BindValue(std::string_view value) {
  Parameter& parameter = parameters_.emplace_back();
  parameter.type = MYSQL_TYPE_STRING;
  parameter.text = value;
  parameter.length = value.size();
}

void MySqlStatement::BindValue(std::nullopt_t) {
  parameters_.emplace_back().type = MYSQL_TYPE_NULL;
}

Status MySqlStatement::Execute() {
  if (parameters_.size() != mysql_stmt_param_count(statement_)) {
    return Status::Internal("store " + connection_->name() + ": " +
                            std::to_string(parameters_.size()) + " parameters bound where " +
                            std::to_string(mysql_stmt_param_count(statement_)) +
                            " are expected (in " + ShortSql() + ")");
  }
  parameter_binds_.resize(parameters_.size());
  for (size_t i = 0; i < parameters_.size(); ++i) {
    Parameter& parameter = parameters_[i];
    MYSQL_BIND& bind = parameter_binds_[i];
    std::memset(&bind, 0, sizeof(bind));
    bind.buffer_type = parameter.type;
    if (parameter.type == MYSQL_TYPE_LONGLONG) {
      bind.buffer = &parameter.integer;
    } else if (parameter.type == MYSQL_TYPE_STRING) {
      bind.buffer = parameter.text.data();
      bind.buffer_length = parameter.length;
      bind.length = &parameter.length;
    }
  }
  if (!parameter_binds_.empty() && mysql_stmt_bind_param(statement_, parameter_binds_.data())) {
    return Failure();
  }
  if (mysql_stmt_execute(statement_) != 0) return Failure();
  executed_ = true;
  if (columns_.empty()) return Status::Ok();
  if (mysql_stmt_bind_result(statement_, column_binds_.data()) ||
      mysql_stmt_store_result(statement_) != 0) {
    return Failure();
  }
  return Status::Ok();
}

Result<bool> MySqlStatement::Step() {
  if (!executed_) BATON_RETURN_IF_ERROR(Execute());
  if (columns_.empty()) return false;
  next_column_ = 0;
  const int fetched = mysql_stmt_fetch(statement_);
  if (fetched == MYSQL_NO_DATA) return false;
  if (fetched == 1) return Failure();
  for (Column& column : columns_) column.overflowed = false;
  if (fetched == MYSQL_DATA_TRUNCATED) BATON_RETURN_IF_ERROR(FetchOverflow());
  return true;
}

Status MySqlStatement::FetchOverflow() {
  for (unsigned int i = 0; i < columns_.size(); ++i) {
    Column& column = columns_[i];
    if (!column.truncated || column.is_integer) continue;
    column.overflow.resize(column.length);
    MYSQL_BIND bind;
    std::memset(&bind, 0, sizeof(bind));
    bind.buffer_type = MYSQL_TYPE_STRING;
    bind.buffer = column.overflow.data();
    bind.buffer_length = column.overflow.size();
    if (mysql_stmt_fetch_column(statement_, &bind, i, 0) != 0) return Failure();
    column.overflowed = true;
  }
  return Status::Ok();
}

Result<int> MySqlStatement::Run() {
  if (!columns_.empty()) {
    return Status::Internal("store " + connection_->name() +
                            ": statement returns rows where none were expected: " + ShortSql());
  }
  if (!executed_) BATON_RETURN_IF_ERROR(Execute());
  return static_cast<int>(mysql_stmt_affected_rows(statement_));
}

Result<std::vector<int64_t>> MySqlStatement::RunForAnswer() {
  if (!executed_) BATON_RETURN_IF_ERROR(Execute());
  std::optional<std::vector<int64_t>> answer;
  // The server sends each SELECT's rows, then the block's own OK: each must be
  // read before the connection takes another command.
  int next = 0;
  for (; next == 0; next = mysql_stmt_next_result(statement_)) {
    const unsigned int count = mysql_stmt_field_count(statement_);
    if (count == 0) continue;
    answer_.assign(count, 0);
    answer_binds_.assign(count, MYSQL_BIND{});
    for (unsigned int i = 0; i < count; ++i) {
      answer_binds_[i].buffer_type = MYSQL_TYPE_LONGLONG;
      answer_binds_[i].buffer = &answer_[i];
    }
    if (mysql_stmt_bind_result(statement_, answer_binds_.data()) ||
        mysql_stmt_store_result(statement_) != 0) {
      return Failure();
    }
    const int fetched = mysql_stmt_fetch(statement_);
    if (fetched == 1) return Failure();
    if (fetched != MYSQL_NO_DATA) answer.emplace(answer_.begin(), answer_.end());
    mysql_stmt_free_result(statement_);
  }
  if (next > 0) return Failure();
  if (!answer) {
    return Status::Internal("store " + connection_->name() + ": no answer from " + ShortSql());
  }
  return *std::move(answer);
}

int64_t MySqlStatement::InsertId() const {
  return static_cast<int64_t>(mysql_stmt_insert_id(statement_));
}

bool MySqlStatement::FailedOnUniqueKey() const { return last_error_ == ER_DUP_ENTRY; }

int64_t MySqlStatement::Int() {
  const Column& column = columns_[next_column_++];
  if (column.is_null) return 0;
  if (column.is_integer) return column.integer;
  // A computed column the server typed as DECIMAL or text.
  const char* begin = column.overflowed ? column.overflow.data() : column.buffer.data();
  int64_t value = 0;
  std::from_chars(begin, begin + column.length, value);
  return value;
}

std::string MySqlStatement::Text() {
  const Column& column = columns_[next_column_++];
  if (column.is_null) return std::string();
  if (column.is_integer) return std::to_string(column.integer);
  if (column.overflowed) return column.overflow;
  return std::string(column.buffer.data(), column.length);
}

bool MySqlStatement::IsNull() const { return columns_[next_column_].is_null != 0; }

std::optional<int> MySqlStatement::OptionalInt32() {
  if (IsNull()) {
    ++next_column_;
    return std::nullopt;
  }
  return Int32();
}

std::optional<TimePoint> MySqlStatement::OptionalTime() {
  if (IsNull()) {
    ++next_column_;
    return std::nullopt;
  }
  return Time();
}

Status MySqlStatement::Failure() {
  last_error_ = mysql_stmt_errno(statement_);
  return connection_->Fail(last_error_, mysql_stmt_error(statement_), "in " + ShortSql());
}

std::string MySqlStatement::ShortSql() const {
  constexpr size_t kShown = 80;
  return sql_.size() > kShown ? sql_.substr(0, kShown) + "..." : sql_;
}

}  // namespace baton
