// Status and Result<T>: expected failures as values. A Status is cheap when OK and
// carries a message naming what failed and where when not. The code decides the
// process exit status at the CLI boundary (bad input is 2, a failed operation 1).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace baton {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidInput,  // the user's file or argument is wrong: exit status 2
    kNotFound,
    kConflict,     // a compare-and-set lost: somebody else moved the row first
    kUnavailable,  // a server or host could not be reached; retrying may help
    kFenced,       // a newer lease epoch exists: this process must stop acting
    kIoError,
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidInput(std::string message) {
    return Status(Code::kInvalidInput, std::move(message));
  }
  static Status NotFound(std::string message) {
    return Status(Code::kNotFound, std::move(message));
  }
  static Status Conflict(std::string message) {
    return Status(Code::kConflict, std::move(message));
  }
  static Status Unavailable(std::string message) {
    return Status(Code::kUnavailable, std::move(message));
  }
  static Status Fenced(std::string message) { return Status(Code::kFenced, std::move(message)); }
  static Status IoError(std::string message) { return Status(Code::kIoError, std::move(message)); }
  static Status Internal(std::string message) {
    return Status(Code::kInternal, std::move(message));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same status with "context: " put before its message.
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// Exit status for a command that ends with this status: 0, 1, or 2 for bad input.
int ExitCodeFor(const Status& status);

}  // namespace baton

// Returns from the enclosing function when the expression yields a non-OK Status.
#define BATON_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::baton::Status baton_status_ = (expr);        \
    if (!baton_status_.ok()) return baton_status_; \
  } while (0)
