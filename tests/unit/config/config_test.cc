// Tests for loading baton.toml: defaults, paths, and an error with the value's
// position and the field's name for every kind of mistake.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/config/config_test_support.h"

namespace baton {
namespace {

using config_testing::ExpectError;
using config_testing::Parse;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ConfigTest, EmptyFileGivesEveryDefault) {
  Result<Config> config = Parse("");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->source_path, "baton.toml");
  EXPECT_EQ(config->core.home, "/srv/baton");
  EXPECT_EQ(config->core.dags_folder, "/srv/baton/dags");
  EXPECT_EQ(config->core.logs_folder, "/srv/baton/logs");
  EXPECT_EQ(config->core.parallelism, 32);
  EXPECT_EQ(config->core.default_timezone, "UTC");
  EXPECT_EQ(config->store.url, "sqlite:baton.db");
  EXPECT_EQ(config->scheduler.loop_interval, std::chrono::seconds(1));
  EXPECT_EQ(config->scheduler.heartbeat_interval, std::chrono::seconds(5));
  EXPECT_EQ(config->scheduler.health_threshold, std::chrono::seconds(30));
  EXPECT_EQ(config->scheduler.dag_dir_list_interval, std::chrono::seconds(10));
  EXPECT_EQ(config->scheduler.kill_grace_period, std::chrono::seconds(30));
  EXPECT_EQ(config->pools, (std::map<std::string, int>{{"default_pool", 128}}));
  EXPECT_EQ(config->logging.level, "info");
  EXPECT_EQ(config->logging.file, "");
}

TEST(ConfigTest, DefaultConfigTextParsesToTheDefaults) {
  Result<Config> sample = Parse(DefaultConfigText());
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  Result<Config> empty = Parse("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(sample->core.dags_folder, empty->core.dags_folder);
  EXPECT_EQ(sample->core.logs_folder, empty->core.logs_folder);
  EXPECT_EQ(sample->core.parallelism, empty->core.parallelism);
  EXPECT_EQ(sample->core.default_timezone, empty->core.default_timezone);
  EXPECT_EQ(sample->store.url, empty->store.url);
  EXPECT_EQ(sample->scheduler.loop_interval, empty->scheduler.loop_interval);
  EXPECT_EQ(sample->scheduler.heartbeat_interval, empty->scheduler.heartbeat_interval);
  EXPECT_EQ(sample->scheduler.health_threshold, empty->scheduler.health_threshold);
  EXPECT_EQ(sample->scheduler.dag_dir_list_interval, empty->scheduler.dag_dir_list_interval);
  EXPECT_EQ(sample->scheduler.kill_grace_period, empty->scheduler.kill_grace_period);
  EXPECT_EQ(sample->pools, empty->pools);
  EXPECT_EQ(sample->logging.level, empty->logging.level);
  EXPECT_EQ(sample->logging.file, empty->logging.file);
}

TEST(ConfigTest, DefaultConfigTextShowsEveryKey) {
  const std::string text = DefaultConfigText();
  for (const char* key : {"[core]",
                          "dags_folder",
                          "logs_folder",
                          "parallelism",
                          "default_timezone",
                          "[store]",
                          "url",
                          "[scheduler]",
                          "loop_interval",
                          "heartbeat_interval",
                          "health_threshold",
                          "dag_dir_list_interval",
                          "kill_grace_period",
                          "[pools]",
                          "default_pool",
                          "[logging]",
                          "level",
                          "file",
                          "password_file",
                          "connect_timeout",
                          "io_timeout",
                          "[executor]",
                          "kind",
                          "[redis]",
                          "key_prefix",
                          "command_timeout",
                          "requeue_check_interval",
                          "[agent]",
                          "name",
                          "queues",
                          "concurrency",
                          "log_bind",
                          "log_port"}) {
    EXPECT_THAT(text, HasSubstr(key));
  }
}

TEST(ConfigTest, ReadsEveryKey) {
  Result<Config> config = Parse(R"(
[core]
dags_folder = "/opt/dags"
logs_folder = "var/logs"
parallelism = 4
default_timezone = "Europe/Paris"

[store]
url = "mysql://baton@db/baton"

[scheduler]
loop_interval = "500ms"
heartbeat_interval = "2s"
health_threshold = "1m"
dag_dir_list_interval = 30
kill_grace_period = "0s"

[pools]
gpu = 2
default_pool = 8

[logging]
level = "debug"
file = "scheduler.log"
)");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->core.dags_folder, "/opt/dags");
  EXPECT_EQ(config->core.logs_folder, "/srv/baton/var/logs");
  EXPECT_EQ(config->core.parallelism, 4);
  EXPECT_EQ(config->core.default_timezone, "Europe/Paris");
  EXPECT_EQ(config->store.url, "mysql://baton@db/baton");
  EXPECT_EQ(config->scheduler.loop_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(config->scheduler.heartbeat_interval, std::chrono::seconds(2));
  EXPECT_EQ(config->scheduler.health_threshold, std::chrono::minutes(1));
  EXPECT_EQ(config->scheduler.dag_dir_list_interval, std::chrono::seconds(30));
  EXPECT_EQ(config->scheduler.kill_grace_period, Duration(0));
  EXPECT_EQ(config->pools, (std::map<std::string, int>{{"default_pool", 8}, {"gpu", 2}}));
  EXPECT_EQ(config->logging.level, "debug");
  EXPECT_EQ(config->logging.file, "/srv/baton/var/logs/scheduler.log");
}

TEST(ConfigTest, AbsoluteLogFileStaysWhereItIs) {
  Result<Config> config = Parse("[logging]\nfile = \"/var/log/baton.log\"\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->logging.file, "/var/log/baton.log");
}

TEST(ConfigTest, RelativeHomeIsMadeAbsolute) {
  Result<Config> config = ParseConfig("", "baton.toml", "relative/home");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(std::filesystem::path(config->core.home).is_absolute());
  EXPECT_TRUE(std::filesystem::path(config->core.dags_folder).is_absolute());
  EXPECT_THAT(config->core.dags_folder, HasSubstr("relative/home/dags"));
}

TEST(ConfigTest, MalformedTomlIsReportedWithItsPosition) {
  ExpectError("[core]\nparallelism = = 3\n", "2:15", {});
  ExpectError("[core\n", "1:6", {"expected ']'"});
}

TEST(ConfigTest, UnknownSectionSuggestsTheClosest) {
  ExpectError("[core]\nparallelism = 3\n\n[schedular]\nloop_interval = \"1s\"\n", "4:2",
              {"unknown section 'schedular'", "did you mean 'scheduler'?"});
}

TEST(ConfigTest, UnknownKeySuggestsTheClosest) {
  ExpectError("[scheduler]\nloop_interval = \"1s\"\nheartbeat_intervall = \"2s\"\n", "3:1",
              {"unknown key 'scheduler.heartbeat_intervall'",
               "did you mean 'scheduler.heartbeat_interval'?"});
}

TEST(ConfigTest, UnknownKeyFarFromAnyHasNoSuggestion) {
  Result<Config> config = Parse("[store]\nwhatever = 1\n");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message(), "baton.toml:2:1: unknown key 'store.whatever'");
}

TEST(ConfigTest, WrongTypeNamesExpectedAndActual) {
  ExpectError("[core]\nparallelism = \"many\"\n", "2:15",
              {"field 'core.parallelism': expected an integer, got a string"});
  ExpectError("[core]\ndags_folder = 3\n", "2:15",
              {"field 'core.dags_folder': expected a string, got an integer"});
  ExpectError("[scheduler]\nloop_interval = true\n", "2:17",
              {"field 'scheduler.loop_interval'", "got a boolean"});
  ExpectError("core = 3\n", "1:8", {"field 'core': expected a table, got an integer"});
}

TEST(ConfigTest, ParallelismMustBePositive) {
  ExpectError("[core]\nparallelism = 0\n", "2:15",
              {"field 'core.parallelism'", "must be at least 1, got 0"});
}

TEST(ConfigTest, EmptyPathsAreRejected) {
  ExpectError("[core]\ndags_folder = \"\"\n", "2:15", {"field 'core.dags_folder'", "empty"});
}

TEST(ConfigTest, UnknownTimeZoneIsRejected) {
  ExpectError("[core]\ndefault_timezone = \"Mars/Olympus\"\n", "2:20",
              {"field 'core.default_timezone'", "unknown time zone 'Mars/Olympus'"});
}

TEST(ConfigTest, BadDurationIsRejected) {
  ExpectError("[scheduler]\nheartbeat_interval = \"5 parsecs\"\n", "2:22",
              {"field 'scheduler.heartbeat_interval'", "'5 parsecs' is not a duration"});
  ExpectError("[scheduler]\nloop_interval = \"0s\"\n", "2:17",
              {"field 'scheduler.loop_interval'", "must be at least"});
  ExpectError("[scheduler]\nkill_grace_period = -5\n", "2:21",
              {"field 'scheduler.kill_grace_period'", "negative"});
}

TEST(ConfigTest, HealthThresholdMustExceedHeartbeatInterval) {
  ExpectError("[scheduler]\nheartbeat_interval = \"10s\"\nhealth_threshold = \"10s\"\n", "3:20",
              {"field 'scheduler.health_threshold'", "heartbeat_interval"});
}

TEST(ConfigTest, PoolSlotsMustBePositiveIntegers) {
  ExpectError("[pools]\ngpu = 0\n", "2:7", {"field 'pools.gpu'", "must be at least 1"});
  ExpectError("[pools]\ngpu = \"two\"\n", "2:7",
              {"field 'pools.gpu': expected an integer, got a string"});
}

TEST(ConfigTest, LogLevelMustBeKnown) {
  ExpectError("[logging]\nlevel = \"warning\"\n", "2:9",
              {"field 'logging.level'", "'warning' is not one of", "did you mean 'warn'?"});
}

TEST(ConfigTest, LoadConfigReadsAFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("baton_config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "baton.toml").string();
  std::ofstream(path) << "[core]\nparallelism = 7\n";
  Result<Config> config = LoadConfig(path, dir.string());
  std::ofstream(path) << "[core]\nparallelism = \"x\"\n";
  Result<Config> broken = LoadConfig(path, dir.string());
  std::filesystem::remove_all(dir);

  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->core.parallelism, 7);
  EXPECT_EQ(config->source_path, path);
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), StartsWith(path + ":2:15: field 'core.parallelism'"));
}

TEST(ConfigTest, LoadConfigReportsAMissingFile) {
  Result<Config> config = LoadConfig("/nonexistent/baton.toml", "/tmp");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(config.status().message(), HasSubstr("/nonexistent/baton.toml"));
}

TEST(ConfigTest, ReadsTheClusterSections) {
  Result<Config> config = Parse(R"(
[store]
url = "mysql://baton@db1:3306/baton"
password_file = "secrets/store"
io_timeout = "10s"
[executor]
kind = "redis"
[redis]
url = "redis://redis1:6380/2"
key_prefix = "prod"
requeue_check_interval = "2s"
[agent]
name = "worker1"
queues = ["default", "gpu"]
concurrency = 3
log_port = 0
)");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->store.password_file, "/srv/baton/secrets/store");
  EXPECT_EQ(config->store.io_timeout, std::chrono::seconds(10));
  EXPECT_EQ(config->executor.kind, "redis");
  EXPECT_EQ(config->redis.url, "redis://redis1:6380/2");
  EXPECT_EQ(config->redis.key_prefix, "prod");
  EXPECT_EQ(config->redis.requeue_check_interval, std::chrono::seconds(2));
  EXPECT_EQ(config->agent.name, "worker1");
  EXPECT_EQ(config->agent.queues, (std::vector<std::string>{"default", "gpu"}));
  EXPECT_EQ(config->agent.concurrency, 3);
  EXPECT_EQ(config->agent.log_port, 0);
}

TEST(ConfigTest, ClusterSectionMistakesAreNamed) {
  ExpectError("[executor]\nkind = \"celery\"\n", "2:8", {"executor.kind", "redis"});
  ExpectError("[agent]\nqueues = []\n", "2:10", {"agent.queues", "at least one queue"});
  ExpectError("[agent]\nconcurrency = 0\n", "2:15", {"agent.concurrency"});
  ExpectError("[agent]\nlog_port = 70000\n", "2:12", {"agent.log_port"});
  ExpectError("[redis]\nurl_ = \"x\"\n", "2:1", {"unknown key 'redis.url_'"});
}

TEST(ConfigTest, ABadRedisUrlIsNotEchoed) {
  Result<Config> config = Parse("[redis]\nurl = \"rediss://:hunter2@cache:6379\"\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("redis.url"));
  EXPECT_THAT(config.status().message(), ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace baton
