// How a call of the MySQL/MariaDB store is retried: MySqlRetryPolicy says how
// long and how often, RunRetrying and RunTransaction run the attempts.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "common/status.h"
#include "common/time.h"
#include "engine/mysql_connection.h"
#include "engine/store_rows.h"

namespace baton {

// One per Store call.
// - A lost connection (the server restarted, a network blip, a refused
//   connect): the first retry reconnects at once; later ones wait 100 ms,
//   doubling up to 2 s, and stop once `reconnect_window` (the store's
//   connect_timeout) has passed since the first loss. A connect attempt may
//   itself take up to connect_timeout, so a call gives up after about twice
//   connect_timeout at worst.
// - A deadlock or lock wait timeout: up to 5 more runs of the transaction,
//   waiting 20 ms, doubling, before each.
class MySqlRetryPolicy {
 public:
  explicit MySqlRetryPolicy(Duration reconnect_window) : reconnect_window_(reconnect_window) {}

  // After a failure of kind `failure`: waits as the policy says and returns
  // true, or returns false at once when the failure is not worth retrying or the
  // budget is spent.
  bool WaitBeforeRetry(MySqlFailure failure);

 private:
  using Clock = std::chrono::steady_clock;

  Duration reconnect_window_;
  Clock::time_point first_loss_;
  int losses_ = 0;
  int transient_failures_ = 0;
};

// Runs `body` (reads, or one statement that is harmless to repeat), again on a
// new connection when the connection was lost.
template <typename Body>
auto RunRetrying(MySqlConnection& connection, Body body) -> decltype(body()) {
  MySqlRetryPolicy policy(connection.options().connect_timeout);
  for (;;) {
    connection.ResetFailure();
    Status status = connection.Connect();
    if (status.ok()) {
      auto result = body();
      if (result.ok()) return result;
      status = StatusOf(result);
    }
    const MySqlFailure failure = connection.last_failure();
    if (failure == MySqlFailure::kConnectionLost) connection.Close();
    if (!policy.WaitBeforeRetry(failure)) return status;
  }
}

// After the reply to COMMIT was lost: reconnects and asks `applied` whether the
// commit applied, within what is left of the retry budget.
template <typename Applied, typename Pending>
Result<bool> ReadBackCommit(MySqlConnection& connection, MySqlRetryPolicy& policy, Applied& applied,
                            const Pending& pending) {
  std::string last_problem = "the server could not be reached";
  connection.Close();
  while (policy.WaitBeforeRetry(MySqlFailure::kConnectionLost)) {
    connection.ResetFailure();
    Status status = connection.Connect();
    if (status.ok()) {
      Result<bool> outcome = applied(pending);
      if (outcome.ok()) return outcome;
      status = outcome.status();
    }
    last_problem = status.message();
    if (connection.last_failure() != MySqlFailure::kConnectionLost) break;
    connection.Close();
  }
  return Status::Unavailable("store " + connection.name() +
                             ": the connection was lost while committing, and whether the "
                             "commit applied is unknown: " +
                             last_problem);
}

// Runs `body` as one transaction, again from the start when a deadlock, a lock
// wait timeout or a lost connection ended it before it committed. With
// `if_applied` null the body runs inside START TRANSACTION ... COMMIT;
// otherwise it is one statement, a transaction by itself (autocommit), and
// `*if_applied` is what it returns when it applied. When the reply to what
// commits (COMMIT, or the statement) is lost, `applied(result)` reads back
// whether it applied: true keeps `result`, false runs the transaction again.
template <typename Body, typename Applied>
auto RunCommitting(MySqlConnection& connection, Body body, Applied applied,
                   const decltype(body())* if_applied) -> decltype(body()) {
  using Outcome = decltype(body());
  const bool explicit_transaction = if_applied == nullptr;
  MySqlRetryPolicy policy(connection.options().connect_timeout);
  for (;;) {
    connection.ResetFailure();
    Status status = connection.Connect();
    if (status.ok() && explicit_transaction) status = connection.Execute("START TRANSACTION");
    std::optional<Outcome> result;
    bool commit_sent = false;
    if (status.ok()) {
      commit_sent = !explicit_transaction;
      result.emplace(body());
      status = StatusOf(*result);
      if (status.ok() && explicit_transaction) {
        commit_sent = true;
        status = connection.Execute("COMMIT");
      }
    }
    if (status.ok()) return std::move(*result);
    const MySqlFailure failure = connection.last_failure();
    if (commit_sent && failure == MySqlFailure::kConnectionLost) {
      const Outcome& pending = explicit_transaction ? *result : *if_applied;
      Result<bool> committed = ReadBackCommit(connection, policy, applied, pending);
      if (!committed.ok()) return committed.status();
      if (*committed) return Outcome(pending);
      continue;
    }
    if (failure == MySqlFailure::kConnectionLost) {
      connection.Close();
    } else if (connection.connected() && explicit_transaction) {
      // A failure of the rollback itself shows in the next attempt.
      (void)connection.Execute("ROLLBACK");
    }
    if (!policy.WaitBeforeRetry(failure)) return status;
  }
}

// Runs `body` inside START TRANSACTION ... COMMIT (RunCommitting).
template <typename Body, typename Applied>
auto RunTransaction(MySqlConnection& connection, Body body, Applied applied) -> decltype(body()) {
  return RunCommitting(connection, body, applied, static_cast<const decltype(body())*>(nullptr));
}

// Runs `body`, one statement, as a transaction by itself (RunCommitting);
// `if_applied` is what it returns when it applied. It is read when that is
// decided, by reference: an `applied` that reads rows back may fill it in.
template <typename Body, typename Applied>
auto RunSingleStatement(MySqlConnection& connection, Body body, Applied applied,
                        const decltype(body())& if_applied) -> decltype(body()) {
  return RunCommitting(connection, body, applied, &if_applied);
}

}  // namespace baton
