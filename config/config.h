// Baton's configuration: the typed contents of baton.toml, every key with a
// default. LoadConfig reports a bad file as "file:line:col: field: problem".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace baton {

// The pool of every task that names none; always configured.
inline constexpr const char* kDefaultPool = "default_pool";

struct CoreConfig {
  std::string home;         // $BATON_HOME; relative paths below are relative to it
  std::string dags_folder;  // absolute after loading
  std::string logs_folder;  // absolute after loading
  int parallelism = 32;     // task instances queued or running at once, in all
  std::string default_timezone = "UTC";
};

struct StoreConfig {
  std::string url;  // "sqlite:baton.db" by default
  // MySQL/MariaDB only. The password comes from $BATON_STORE_PASSWORD or, when
  // that is unset, from this file (absolute after loading; empty: none).
  std::string password_file;
  Duration connect_timeout = std::chrono::seconds(5);
  Duration io_timeout = std::chrono::seconds(30);  // each read or write on the connection
};

// Where task instances run: "local" (subprocesses of the scheduler) or "redis"
// (messages to `baton agent` workers).
struct ExecutorConfig {
  std::string kind = "local";
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";
  // The password comes from $BATON_REDIS_PASSWORD or, when that is unset, from
  // this file (absolute after loading; empty: none).
  std::string password_file;
  std::string key_prefix = "baton";  // every key Baton uses starts with "PREFIX:"
  Duration connect_timeout = std::chrono::seconds(5);
  Duration command_timeout = std::chrono::seconds(10);
  // How often the scheduler checks that every queued task instance still has its
  // message in Redis, and pushes it again when it was lost.
  Duration requeue_check_interval = std::chrono::seconds(10);
};

struct AgentConfig {
  std::string name;  // unique per agent; empty: the host name
  std::vector<std::string> queues = {"default"};
  int concurrency = 8;  // tasks run at once
  Duration heartbeat_interval = std::chrono::seconds(5);
  Duration kill_grace_period = std::chrono::seconds(30);  // on SIGTERM
  std::string log_bind = "127.0.0.1";                     // task logs and health over HTTP
  int log_port = 8793;                                    // 0: any free port
};

struct SchedulerConfig {
  Duration loop_interval = std::chrono::seconds(1);  // safety sweep of runs and timers
  Duration heartbeat_interval = std::chrono::seconds(5);
  Duration health_threshold =
      std::chrono::seconds(30);  // `jobs check`: a fresher heartbeat is alive
  Duration dag_dir_list_interval = std::chrono::seconds(10);  // how often DAG files are re-checked
  Duration kill_grace_period = std::chrono::seconds(30);  // on SIGTERM, wait this long for tasks
};

struct LoggingConfig {
  std::string level = "info";
  std::string file;  // empty: stderr; relative: below logs_folder
};

struct Config {
  std::string source_path;  // the file it was read from
  CoreConfig core;
  StoreConfig store;
  SchedulerConfig scheduler;
  ExecutorConfig executor;
  RedisConfig redis;
  AgentConfig agent;
  std::map<std::string, int> pools;  // always has "default_pool"
  LoggingConfig logging;
};

// Reads and validates `path`; `home` anchors relative paths.
Result<Config> LoadConfig(const std::string& path, const std::string& home);
// Validates TOML text as if it were read from `display_name`.
Result<Config> ParseConfig(const std::string& text, const std::string& display_name,
                           const std::string& home);
// The commented default baton.toml that `baton db init` writes.
std::string DefaultConfigText();

}  // namespace baton
