// How the MySQL/MariaDB store retries: the policy's budget, and transactions
// whose connection is killed before or after their COMMIT, on a real mariadbd.
#include "engine/mysql_retry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/mysql_connection.h"
#include "engine/mysql_url.h"
#include "tests/support/mariadb_server.h"
#include "tests/support/status_assertions.h"

namespace baton {
namespace {

using ::baton::testing::IsOk;
using ::baton::testing::MariaDbServer;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

TEST(MySqlRetryPolicyTest, PermanentFailuresAreNotRetried) {
  MySqlRetryPolicy policy(milliseconds(500));
  EXPECT_FALSE(policy.WaitBeforeRetry(MySqlFailure::kPermanent));
  EXPECT_FALSE(policy.WaitBeforeRetry(MySqlFailure::kNone));
}

TEST(MySqlRetryPolicyTest, DeadlocksAreRetriedFiveTimes) {
  MySqlRetryPolicy policy(milliseconds(500));
  for (int retry = 0; retry < 5; ++retry) {
    EXPECT_TRUE(policy.WaitBeforeRetry(MySqlFailure::kTransient)) << retry;
  }
  EXPECT_FALSE(policy.WaitBeforeRetry(MySqlFailure::kTransient));
}

TEST(MySqlRetryPolicyTest, ReconnectsAtOnceThenBacksOffWithinTheWindow) {
  MySqlRetryPolicy policy(milliseconds(600));
  const auto start = SteadyClock::now();
  EXPECT_TRUE(policy.WaitBeforeRetry(MySqlFailure::kConnectionLost));
  EXPECT_LT(SteadyClock::now() - start, milliseconds(50));  // the first: at once
  int retries = 1;
  while (policy.WaitBeforeRetry(MySqlFailure::kConnectionLost)) ++retries;
  const auto spent = SteadyClock::now() - start;
  // 0, 100, 200 and what is left of the 600 ms window.
  EXPECT_EQ(retries, 4);
  EXPECT_GE(spent, milliseconds(600));
  EXPECT_LT(spent, milliseconds(900));
}

// A table with one counter, on a server of the test's own (its connections are killed).
class MySqlTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_ASSIGN_MARIADB_OR_SKIP(server_, MariaDbServer::Start());
    auto database = server_->CreateDatabase("retry_test");
    ASSERT_TRUE(IsOk(database));
    database_ = *database;
    ASSERT_TRUE(IsOk(server_->Execute(
        "CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL) ENGINE=InnoDB",
        database_)));
    ASSERT_TRUE(IsOk(server_->Execute("INSERT INTO counter VALUES (1, 0)", database_)));

    MySqlOptions options;
    options.url = {server_->user(), server_->host(), static_cast<unsigned int>(server_->port()),
                   database_};
    options.password = server_->password();
    options.connect_timeout = std::chrono::seconds(2);
    // Lock waits end after half the read timeout: one second.
    options.io_timeout = std::chrono::seconds(2);
    options_ = options;
    connection_ = std::make_unique<MySqlConnection>(options);
  }

  Status KillConnections() {
    return server_->Execute("KILL CONNECTION USER '" + server_->user() + "'");
  }

  Status Increment() {
    return connection_->Execute("UPDATE counter SET value = value + 1 WHERE id = 1");
  }

  // Whether the counter holds `expected`, as committed.
  Result<bool> CounterIs(int expected) {
    auto value = server_->QueryValue("SELECT value FROM counter WHERE id = 1", database_);
    if (!value.ok()) return value.status();
    return *value == std::to_string(expected);
  }

  std::unique_ptr<MariaDbServer> server_;
  std::string database_;
  MySqlOptions options_;
  std::unique_ptr<MySqlConnection> connection_;
};

TEST_F(MySqlTransactionTest, LostBeforeCommitRunsAgainWithoutAsking) {
  int runs = 0;
  int asked = 0;
  Status status = RunTransaction(
      *connection_,
      [&]() -> Status {
        if (++runs == 1) BATON_RETURN_IF_ERROR(KillConnections());
        return Increment();
      },
      [&](const Status&) -> Result<bool> {
        ++asked;
        return false;
      });
  ASSERT_TRUE(IsOk(status));
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(asked, 0);
  EXPECT_TRUE(CounterIs(1).value());
}

TEST_F(MySqlTransactionTest, LostCommitThatDidNotApplyRunsAgain) {
  int runs = 0;
  int asked = 0;
  Status status = RunTransaction(
      *connection_,
      [&]() -> Status {
        BATON_RETURN_IF_ERROR(Increment());
        // Killed with the update done but not committed: it is rolled back, and
        // the COMMIT that follows finds no connection.
        if (++runs == 1) BATON_RETURN_IF_ERROR(KillConnections());
        return Status::Ok();
      },
      [&](const Status&) -> Result<bool> {
        ++asked;
        return CounterIs(1);
      });
  ASSERT_TRUE(IsOk(status));
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(CounterIs(1).value());
}

TEST_F(MySqlTransactionTest, LostCommitThatAppliedKeepsItsResult) {
  int runs = 0;
  int asked = 0;
  Result<int> result = RunTransaction(
      *connection_,
      [&]() -> Result<int> {
        ++runs;
        BATON_RETURN_IF_ERROR(Increment());
        // Committed here, then the connection goes: the runner's own COMMIT
        // gets no reply, as if the reply to a COMMIT that applied were lost.
        BATON_RETURN_IF_ERROR(connection_->Execute("COMMIT"));
        BATON_RETURN_IF_ERROR(KillConnections());
        return 42;
      },
      [&](const Result<int>& pending) -> Result<bool> {
        ++asked;
        EXPECT_EQ(*pending, 42);
        return CounterIs(1);
      });
  ASSERT_TRUE(IsOk(result));
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(CounterIs(1).value());
}

TEST_F(MySqlTransactionTest, LostSingleStatementThatDidNotApplyRunsAgain) {
  int runs = 0;
  int asked = 0;
  Result<int> result = RunSingleStatement(
      *connection_,
      [&]() -> Result<int> {
        // The connection is gone before the statement reaches the server.
        if (++runs == 1) BATON_RETURN_IF_ERROR(KillConnections());
        BATON_RETURN_IF_ERROR(Increment());
        return 1;
      },
      [&](const Result<int>& if_applied) -> Result<bool> {
        ++asked;
        EXPECT_EQ(*if_applied, 7);
        return CounterIs(1);
      },
      Result<int>(7));
  ASSERT_TRUE(IsOk(result));
  EXPECT_EQ(*result, 1);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(CounterIs(1).value());
}

TEST_F(MySqlTransactionTest, LostSingleStatementThatAppliedGivesTheAppliedResult) {
  int runs = 0;
  int asked = 0;
  Result<int> result = RunSingleStatement(
      *connection_,
      [&]() -> Result<int> {
        ++runs;
        // Applied (autocommit), then the connection goes before its reply is
        // read: the next statement stands for that lost reply.
        BATON_RETURN_IF_ERROR(Increment());
        BATON_RETURN_IF_ERROR(KillConnections());
        BATON_RETURN_IF_ERROR(connection_->Execute("DO 1"));
        return 1;
      },
      [&](const Result<int>&) -> Result<bool> {
        ++asked;
        return CounterIs(1);
      },
      Result<int>(7));
  ASSERT_TRUE(IsOk(result));
  EXPECT_EQ(*result, 7);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(CounterIs(1).value());
}

TEST_F(MySqlTransactionTest, UnknownOutcomeIsUnavailableWhenTheServerStaysDown) {
  Status status = RunTransaction(
      *connection_,
      [&]() -> Status {
        BATON_RETURN_IF_ERROR(Increment());
        return server_->Stop();
      },
      [&](const Status&) -> Result<bool> { return true; });
  EXPECT_EQ(status.code(), Status::Code::kUnavailable) << status.message();
  EXPECT_NE(status.message().find("whether the commit applied is unknown"), std::string::npos)
      << status.message();
}

TEST_F(MySqlTransactionTest, LockWaitTimeoutRunsTheTransactionAgain) {
  MySqlConnection holder(options_);
  ASSERT_TRUE(IsOk(holder.Connect()));
  ASSERT_TRUE(IsOk(holder.Execute("START TRANSACTION")));
  ASSERT_TRUE(IsOk(holder.Execute("UPDATE counter SET value = value + 10 WHERE id = 1")));
  std::atomic<int> runs = 0;
  // The holder lets go once the first run has had time to give up waiting.
  std::thread release([&] {
    while (runs == 0) std::this_thread::sleep_for(milliseconds(5));
    std::this_thread::sleep_for(milliseconds(1500));
    EXPECT_TRUE(IsOk(holder.Execute("COMMIT")));
  });
  Status status = RunTransaction(
      *connection_,
      [&]() -> Status {
        ++runs;
        return Increment();
      },
      [&](const Status&) -> Result<bool> { return false; });
  release.join();
  ASSERT_TRUE(IsOk(status));
  EXPECT_EQ(runs, 2);
  EXPECT_TRUE(CounterIs(11).value());
}

TEST_F(MySqlTransactionTest, ReadsRunAgainOnANewConnection) {
  ASSERT_TRUE(IsOk(connection_->Connect()));
  ASSERT_TRUE(IsOk(KillConnections()));
  int runs = 0;
  Status status = RunRetrying(*connection_, [&] {
    ++runs;
    return connection_->Execute("SELECT value FROM counter");
  });
  ASSERT_TRUE(IsOk(status));
  EXPECT_EQ(runs, 2);
}

}  // namespace
}  // namespace baton
