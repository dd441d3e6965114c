// Tests for the Redis client against a real redis-server: replies of every type,
// binary-safe arguments, pipelines, timeouts and the per-call override, the
// reconnect after a server restart, AUTH and SELECT, and url errors that never
// show the password.
#include "engine/redis_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "tests/support/redis_server.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::RedisServer;

RedisOptions OptionsFor(const std::string& url) {
  RedisOptions options;
  options.url = url;
  options.connect_timeout = milliseconds(500);
  options.command_timeout = milliseconds(2000);
  return options;
}

std::unique_ptr<RedisClient> MustConnect(const RedisOptions& options) {
  Result<std::unique_ptr<RedisClient>> client = ConnectRedis(options);
  EXPECT_TRUE(client.ok()) << client.status().message();
  return client.ok() ? std::move(*client) : nullptr;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_SKIP_WITHOUT_REDIS_SERVER();
    Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started.message();
    client_ = MustConnect(OptionsFor(server_.Url()));
    ASSERT_NE(client_, nullptr);
  }

  RedisServer server_;
  std::unique_ptr<RedisClient> client_;
};

TEST_F(RedisClientTest, RepliesOfEveryType) {
  Result<RedisReply> set = client_->Command({"SET", "greeting", "hello"});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->type, RedisReply::Type::kStatus);
  EXPECT_EQ(set->text, "OK");

  Result<RedisReply> get = client_->Command({"GET", "greeting"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->type, RedisReply::Type::kString);
  EXPECT_EQ(get->text, "hello");

  Result<RedisReply> missing = client_->Command({"GET", "nothing-here"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());

  Result<RedisReply> counted = client_->Command({"INCRBY", "counter", "41"});
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ(counted->type, RedisReply::Type::kInteger);
  EXPECT_EQ(counted->integer, 41);

  ASSERT_TRUE(client_->Command({"RPUSH", "list", "a", "b", "c"}).ok());
  Result<RedisReply> range = client_->Command({"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(range.ok());
  ASSERT_EQ(range->type, RedisReply::Type::kArray);
  ASSERT_EQ(range->elements.size(), 3u);
  EXPECT_EQ(range->elements[0].text, "a");
  EXPECT_EQ(range->elements[2].text, "c");
}

TEST_F(RedisClientTest, ArgumentsAreBinarySafe) {
  const std::string key("key with spaces\r\n", 17);
  const std::string value("nul\0byte \r\n*3\r\n$3\xff", 19);
  ASSERT_TRUE(client_->Command({"SET", key, value}).ok());
  Result<RedisReply> get = client_->Command({"GET", key});
  ASSERT_TRUE(get.ok()) << get.status().message();
  EXPECT_EQ(get->text, value);
  EXPECT_EQ(get->text.size(), 19u);
}

TEST_F(RedisClientTest, ServerErrorIsInternalAndNamesTheCommand) {
  ASSERT_TRUE(client_->Command({"SET", "plain", "x"}).ok());
  Result<RedisReply> pushed = client_->Command({"lpush", "plain", "y"});
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.status().code(), Status::Code::kInternal);
  EXPECT_TRUE(Contains(pushed.status().message(), "LPUSH: WRONGTYPE")) << pushed.status().message();
  EXPECT_TRUE(Contains(pushed.status().message(), "127.0.0.1:" + std::to_string(server_.Port())));
  // The connection is still good.
  EXPECT_TRUE(client_->Command({"PING"}).ok());
}

TEST_F(RedisClientTest, PipelineRepliesInOrder) {
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 500; ++i) commands.push_back({"RPUSH", "numbers", std::to_string(i)});
  commands.push_back({"LLEN", "numbers"});
  commands.push_back({"LINDEX", "numbers", "123"});
  Result<std::vector<RedisReply>> replies = client_->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status().message();
  ASSERT_EQ(replies->size(), 502u);
  EXPECT_EQ((*replies)[0].integer, 1);
  EXPECT_EQ((*replies)[499].integer, 500);
  EXPECT_EQ((*replies)[500].integer, 500);
  EXPECT_EQ((*replies)[501].text, "123");
  Result<std::vector<RedisReply>> none = client_->Pipeline({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(RedisClientTest, PipelineWithAnErrorReadsEveryReplyAndStaysUsable) {
  ASSERT_TRUE(client_->Command({"SET", "plain", "x"}).ok());
  Result<std::vector<RedisReply>> replies =
      client_->Pipeline({{"SET", "a", "1"}, {"LPUSH", "plain", "y"}, {"SET", "b", "2"}});
  ASSERT_FALSE(replies.ok());
  EXPECT_EQ(replies.status().code(), Status::Code::kInternal);
  EXPECT_TRUE(Contains(replies.status().message(), "LPUSH: WRONGTYPE"))
      << replies.status().message();
  // The commands around the failed one ran, and no reply is left unread.
  Result<RedisReply> b = client_->Command({"GET", "b"});
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->text, "2");
}

TEST_F(RedisClientTest, MultiExecErrorsInsideTheArray) {
  ASSERT_TRUE(client_->Command({"SET", "plain", "x"}).ok());
  Result<std::vector<RedisReply>> replies =
      client_->Pipeline({{"MULTI"}, {"INCR", "n"}, {"LPUSH", "plain", "y"}, {"EXEC"}});
  ASSERT_TRUE(replies.ok()) << replies.status().message();
  const RedisReply& exec = replies->back();
  ASSERT_EQ(exec.type, RedisReply::Type::kArray);
  ASSERT_EQ(exec.elements.size(), 2u);
  EXPECT_EQ(exec.elements[0].integer, 1);
  EXPECT_EQ(exec.elements[1].type, RedisReply::Type::kError);
  EXPECT_TRUE(Contains(exec.elements[1].text, "WRONGTYPE"));
}

TEST_F(RedisClientTest, CommandTimeoutIsUnavailableAndTheNextCallReconnects) {
  RedisOptions options = OptionsFor(server_.Url());
  options.command_timeout = milliseconds(200);
  std::unique_ptr<RedisClient> client = MustConnect(options);
  ASSERT_NE(client, nullptr);
  const auto start = steady_clock::now();
  Result<RedisReply> popped = client->Command({"BLPOP", "empty", "5"});
  ASSERT_FALSE(popped.ok());
  EXPECT_EQ(popped.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(popped.status().message(), "no reply within 200ms"))
      << popped.status().message();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
  Result<RedisReply> pong = client->Command({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status().message();
  EXPECT_EQ(pong->text, "PONG");
}

TEST_F(RedisClientTest, BlockingCommandWaitsWithItsOwnTimeout) {
  RedisOptions options = OptionsFor(server_.Url());
  options.command_timeout = milliseconds(100);
  std::unique_ptr<RedisClient> client = MustConnect(options);
  ASSERT_NE(client, nullptr);
  // BLPOP waits 0.3 s, longer than the command timeout, and comes back nil.
  Result<RedisReply> popped = client->Command({"BLPOP", "empty", "0.3"}, milliseconds(2000));
  ASSERT_TRUE(popped.ok()) << popped.status().message();
  EXPECT_TRUE(popped->is_nil());
  // The override was for that call only.
  Result<RedisReply> again = client->Command({"BLPOP", "empty", "0.3"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kUnavailable);
}

TEST_F(RedisClientTest, EachCallWaitsWithItsOwnTimeoutWhateverCameBefore) {
  RedisOptions options = OptionsFor(server_.Url());
  options.command_timeout = milliseconds(100);
  std::unique_ptr<RedisClient> client = MustConnect(options);
  ASSERT_NE(client, nullptr);
  const std::vector<std::string> blpop = {"BLPOP", "empty", "0.3"};
  // The same override twice, then a pipeline with it.
  for (int i = 0; i < 2; ++i) {
    Result<RedisReply> popped = client->Command(blpop, milliseconds(2000));
    ASSERT_TRUE(popped.ok()) << popped.status().message();
    EXPECT_TRUE(popped->is_nil());
  }
  Result<std::vector<RedisReply>> piped = client->Pipeline({blpop, {"PING"}}, milliseconds(2000));
  ASSERT_TRUE(piped.ok()) << piped.status().message();
  EXPECT_TRUE((*piped)[0].is_nil());
  // Without the override, the command timeout again: for a pipeline and a command.
  Result<std::vector<RedisReply>> short_pipe = client->Pipeline({blpop});
  ASSERT_FALSE(short_pipe.ok());
  EXPECT_EQ(short_pipe.status().code(), Status::Code::kUnavailable);
  Result<RedisReply> popped = client->Command(blpop, milliseconds(2000));
  ASSERT_TRUE(popped.ok()) << popped.status().message();
  Result<RedisReply> short_call = client->Command(blpop);
  ASSERT_FALSE(short_call.ok());
  EXPECT_TRUE(Contains(short_call.status().message(), "no reply within 100ms"))
      << short_call.status().message();
}

TEST_F(RedisClientTest, BlockingCommandReturnsWhatArrives) {
  std::unique_ptr<RedisClient> pusher = MustConnect(OptionsFor(server_.Url()));
  ASSERT_NE(pusher, nullptr);
  auto popped = std::async(std::launch::async, [&] {
    return client_->Command({"BLPOP", "events", "5"}, milliseconds(6000));
  });
  ASSERT_TRUE(pusher->Command({"RPUSH", "events", "first"}).ok());
  Result<RedisReply> reply = popped.get();
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  ASSERT_EQ(reply->elements.size(), 2u);
  EXPECT_EQ(reply->elements[0].text, "events");
  EXPECT_EQ(reply->elements[1].text, "first");
}

TEST_F(RedisClientTest, ReconnectsAfterAServerRestart) {
  ASSERT_TRUE(client_->Command({"SET", "before", "restart"}).ok());
  server_.Stop();
  Status restarted = server_.Start();
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  // The command on the old connection fails: it may or may not have run.
  Result<RedisReply> lost = client_->Command({"GET", "before"});
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(lost.status().message(), "connection lost")) << lost.status().message();
  // The next one reconnects; the server kept nothing.
  Result<RedisReply> get = client_->Command({"GET", "before"});
  ASSERT_TRUE(get.ok()) << get.status().message();
  EXPECT_TRUE(get->is_nil());
}

TEST_F(RedisClientTest, ReconnectWaitsForAServerComingBack) {
  RedisOptions options = OptionsFor(server_.Url());
  options.connect_timeout = milliseconds(5000);
  std::unique_ptr<RedisClient> client = MustConnect(options);
  ASSERT_NE(client, nullptr);
  server_.Stop();
  ASSERT_FALSE(client->Command({"PING"}).ok());
  auto pinged = std::async(std::launch::async, [&] { return client->Command({"PING"}); });
  // The call above retries with backoff while the server is down.
  EXPECT_EQ(pinged.wait_for(milliseconds(300)), std::future_status::timeout);
  Status restarted = server_.Start();
  ASSERT_TRUE(restarted.ok()) << restarted.message();
  Result<RedisReply> pong = pinged.get();
  ASSERT_TRUE(pong.ok()) << pong.status().message();
  EXPECT_EQ(pong->text, "PONG");
}

TEST_F(RedisClientTest, ReconnectGivesUpAfterTheConnectTimeout) {
  server_.Stop();
  ASSERT_FALSE(client_->Command({"PING"}).ok());
  const auto start = steady_clock::now();
  Result<RedisReply> pong = client_->Command({"PING"});
  const auto took = steady_clock::now() - start;
  ASSERT_FALSE(pong.ok());
  EXPECT_EQ(pong.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(pong.status().message(),
                       "cannot connect to Redis at 127.0.0.1:" + std::to_string(server_.Port())))
      << pong.status().message();
  EXPECT_GE(took, milliseconds(200));  // it did retry
  EXPECT_LT(took, milliseconds(1500));
}

TEST_F(RedisClientTest, InterruptEndsABlockedCallAndEveryLaterOne) {
  auto popped = std::async(std::launch::async, [&] {
    return client_->Command({"BLPOP", "empty", "10"}, milliseconds(15000));
  });
  EXPECT_EQ(popped.wait_for(milliseconds(100)), std::future_status::timeout);
  const auto start = steady_clock::now();
  client_->Interrupt();
  Result<RedisReply> reply = popped.get();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(reply.status().message(), "interrupted")) << reply.status().message();
  EXPECT_FALSE(client_->Command({"PING"}).ok());
}

TEST_F(RedisClientTest, SelectsTheDatabaseOfTheUrl) {
  const std::string url3 = "redis://127.0.0.1:" + std::to_string(server_.Port()) + "/3";
  std::unique_ptr<RedisClient> database3 = MustConnect(OptionsFor(url3));
  ASSERT_NE(database3, nullptr);
  ASSERT_TRUE(database3->Command({"SET", "where", "three"}).ok());
  Result<RedisReply> in0 = client_->Command({"GET", "where"});
  ASSERT_TRUE(in0.ok());
  EXPECT_TRUE(in0->is_nil());
  // A reconnect selects it again.
  server_.Stop();
  ASSERT_TRUE(server_.Start().ok());
  EXPECT_FALSE(database3->Command({"SET", "where", "three"}).ok());
  ASSERT_TRUE(database3->Command({"SET", "where", "three"}).ok());
  Result<RedisReply> again = client_->Command({"GET", "where"});
  if (!again.ok()) again = client_->Command({"GET", "where"});
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->is_nil());
}

TEST_F(RedisClientTest, RefusesADatabaseTheServerDoesNotHave) {
  const std::string url = "redis://127.0.0.1:" + std::to_string(server_.Port()) + "/99";
  Result<std::unique_ptr<RedisClient>> client = ConnectRedis(OptionsFor(url));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Status::Code::kInvalidInput);
  EXPECT_TRUE(Contains(client.status().message(), "cannot select database 99"))
      << client.status().message();
}

TEST(RedisClientConnectTest, UnreachableServerNamesHostAndPort) {
  BATON_SKIP_WITHOUT_REDIS_SERVER();
  RedisServer server;
  ASSERT_TRUE(server.Start().ok());
  const std::string url = server.Url();
  const int port = server.Port();
  server.Stop();
  Result<std::unique_ptr<RedisClient>> client = ConnectRedis(OptionsFor(url));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(client.status().message(),
                       "cannot connect to Redis at 127.0.0.1:" + std::to_string(port)))
      << client.status().message();
}

class RedisAuthTest : public ::testing::Test {
 protected:
  static constexpr char kPassword[] = "s3cret:p@ss/w%rd";

  void SetUp() override {
    BATON_SKIP_WITHOUT_REDIS_SERVER();
    Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started.message();
  }

  RedisServer server_{RedisServer::Options{.password = kPassword}};
};

TEST_F(RedisAuthTest, PasswordInTheUrl) {
  std::unique_ptr<RedisClient> client = MustConnect(OptionsFor(server_.UrlWithPassword()));
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Command({"SET", "k", "v"}).ok());
}

TEST_F(RedisAuthTest, PasswordFromTheOptions) {
  RedisOptions options = OptionsFor(server_.Url());
  options.password = kPassword;
  std::unique_ptr<RedisClient> client = MustConnect(options);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Command({"SET", "k", "v"}).ok());
  // A reconnect logs in again.
  server_.Stop();
  ASSERT_TRUE(server_.Start().ok());
  EXPECT_FALSE(client->Command({"GET", "k"}).ok());
  Result<RedisReply> get = client->Command({"GET", "k"});
  ASSERT_TRUE(get.ok()) << get.status().message();
}

TEST_F(RedisAuthTest, NoPasswordSaysOneIsNeeded) {
  Result<std::unique_ptr<RedisClient>> client = ConnectRedis(OptionsFor(server_.Url()));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(client.status().message(), "Redis at 127.0.0.1:" + std::to_string(server_.Port()) +
                                           " requires a password and none was given");
}

TEST_F(RedisAuthTest, WrongPasswordIsRefusedWithoutShowingIt) {
  const std::string wrong = "wrong-guess-4711";
  RedisOptions options = OptionsFor(server_.Url());
  options.password = wrong;
  Result<std::unique_ptr<RedisClient>> client = ConnectRedis(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Status::Code::kInvalidInput);
  EXPECT_TRUE(Contains(client.status().message(), "refused the password"))
      << client.status().message();
  EXPECT_FALSE(Contains(client.status().message(), wrong)) << client.status().message();

  const std::string url = "redis://:" + wrong + "@127.0.0.1:" + std::to_string(server_.Port());
  Result<std::unique_ptr<RedisClient>> from_url = ConnectRedis(OptionsFor(url));
  ASSERT_FALSE(from_url.ok());
  EXPECT_TRUE(Contains(from_url.status().message(), "refused the password"));
  EXPECT_FALSE(Contains(from_url.status().message(), wrong)) << from_url.status().message();
}

TEST(RedisUrlTest, BadUrlsAreRefusedWithTheReason) {
  struct Case {
    std::string url;
    std::string reason;
  };
  const Case cases[] = {
      {"http://127.0.0.1:6379", "must start with redis://"},
      {"redis://", "no host"},
      {"redis://:6379/0", "no host"},
      {"redis://localhost:", "empty port"},
      {"redis://localhost:abc", "port 'abc' is not a number from 1 to 65535"},
      {"redis://localhost:0", "port '0' is not a number from 1 to 65535"},
      {"redis://localhost:70000/0", "port '70000' is not a number from 1 to 65535"},
      {"redis://localhost:6379/zero", "database 'zero' is not a number"},
      {"redis://localhost:6379/-1", "database '-1' is not a number"},
      {"redis://[::1:6379", "'[' without ']' around the host"},
  };
  for (const Case& test : cases) {
    Result<std::unique_ptr<RedisClient>> client = ConnectRedis(OptionsFor(test.url));
    ASSERT_FALSE(client.ok()) << test.url;
    EXPECT_EQ(client.status().code(), Status::Code::kInvalidInput) << test.url;
    EXPECT_EQ(client.status().message(), "redis url '" + test.url + "': " + test.reason +
                                             " (expected redis://[:PASSWORD@]HOST[:PORT][/DB])");
  }
}

TEST(RedisUrlTest, ErrorsNeverShowThePassword) {
  const std::string secret = "hunter2-topsecret";
  for (const std::string& url :
       {"redis://:" + secret + "@localhost:port/0", "redis://" + secret + "@localhost:6379",
        "redis://:" + secret + "%zz@localhost:6379", "redis://user:" + secret + "@:6379/x"}) {
    Result<std::unique_ptr<RedisClient>> client = ConnectRedis(OptionsFor(url));
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.status().code(), Status::Code::kInvalidInput);
    EXPECT_FALSE(Contains(client.status().message(), secret)) << client.status().message();
    EXPECT_TRUE(Contains(client.status().message(), "***")) << client.status().message();
  }
}

TEST(RedisOptionsFromTest, TakesThePasswordFromTheEnvironmentOrTheFile) {
  testing::TempFolder folder;
  const std::string file = (folder.path() / "redis.password").string();
  std::ofstream(file) << "from-file\n";
  RedisConfig config;
  config.url = "redis://redis.example:6380/2";
  config.password_file = file;
  config.connect_timeout = milliseconds(1500);
  config.command_timeout = milliseconds(2500);

  ::unsetenv("BATON_REDIS_PASSWORD");
  Result<RedisOptions> options = RedisOptionsFrom(config);
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->url, config.url);
  EXPECT_EQ(options->password, "from-file");
  EXPECT_EQ(options->connect_timeout, milliseconds(1500));
  EXPECT_EQ(options->command_timeout, milliseconds(2500));

  ::setenv("BATON_REDIS_PASSWORD", "from-env", 1);
  options = RedisOptionsFrom(config);
  ::unsetenv("BATON_REDIS_PASSWORD");
  ASSERT_TRUE(options.ok()) << options.status().message();
  EXPECT_EQ(options->password, "from-env");

  config.password_file = (folder.path() / "missing").string();
  options = RedisOptionsFrom(config);
  ASSERT_FALSE(options.ok());
  EXPECT_TRUE(Contains(options.status().message(), "missing")) << options.status().message();
}

TEST(RedisOptionsFromTest, RefusesABadUrl) {
  RedisConfig config;
  config.url = "redis://:pw@host:notaport";
  Result<RedisOptions> options = RedisOptionsFrom(config);
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), Status::Code::kInvalidInput);
  EXPECT_FALSE(Contains(options.status().message(), ":pw@")) << options.status().message();
}

}  // namespace
}  // namespace baton
