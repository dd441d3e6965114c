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

// Where a value was read from, "FILE:LINE:COL", for a problem found after
// loading. It is not part of the setting: two configs that differ only in
// their notes are equal.
struct SourceNote {
  std::string position;

  bool empty() const { return position.empty(); }
  bool operator==(const SourceNote&) const { return true; }
};

struct CoreConfig {
  std::string home;         // $BATON_HOME; relative paths below are relative to it
  std::string dags_folder;  // absolute after loading
  std::string logs_folder;  // absolute after loading
  int parallelism = 32;     // task instances queued or running at once, in all
  std::string default_timezone = "UTC";

  bool operator==(const CoreConfig&) const = default;
};

struct StoreConfig {
  std::string url;  // "sqlite:baton.db" by default
  // MySQL/MariaDB only. The password comes from $BATON_STORE_PASSWORD or, when
  // that is unset, from this file (absolute after loading; empty: none).
  std::string password_file;
  Duration connect_timeout = std::chrono::seconds(5);
  Duration io_timeout = std::chrono::seconds(30);  // each read or write on the connection

  bool operator==(const StoreConfig&) const = default;
};

// Where task instances run: "local" (subprocesses of the scheduler) or "redis"
// (messages to `baton agent` workers).
struct ExecutorConfig {
  std::string kind = "local";

  bool operator==(const ExecutorConfig&) const = default;
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

  bool operator==(const RedisConfig&) const = default;
};

struct AgentConfig {
  std::string name;  // unique per agent; empty: the host name
  std::vector<std::string> queues = {"default"};
  int concurrency = 8;  // tasks run at once
  Duration heartbeat_interval = std::chrono::seconds(5);
  Duration kill_grace_period = std::chrono::seconds(30);  // on SIGTERM
  std::string log_bind = "127.0.0.1";                     // task logs and health over HTTP
  int log_port = 8793;                                    // 0: any free port

  bool operator==(const AgentConfig&) const = default;
};

struct SchedulerConfig {
  Duration loop_interval = std::chrono::seconds(1);  // safety sweep of runs and timers
  Duration heartbeat_interval = std::chrono::seconds(5);
  Duration health_threshold =
      std::chrono::seconds(30);  // `jobs check`: a fresher heartbeat is alive
  Duration dag_dir_list_interval = std::chrono::seconds(10);  // how often DAG files are re-checked
  Duration kill_grace_period = std::chrono::seconds(30);  // on SIGTERM, wait this long for tasks

  bool operator==(const SchedulerConfig&) const = default;
};

// Overrides for one master of [failover] nodes ([failover.node.NAME]).
struct FailoverNodeConfig {
  // Run this node's commands on this machine, without SSH: for several nodes
  // on one machine (a demo, a test), never for real masters.
  bool local = false;
  std::string ssh_host;  // empty: the node name
  int ssh_port = 22;
  std::string ssh_user;       // empty: [failover] ssh_user
  std::string start_command;  // empty: [failover] start_command
  std::string stop_command;   // empty: [failover] stop_command

  bool operator==(const FailoverNodeConfig&) const = default;
};

// The failover controller ([failover]). Commands are run by /bin/sh on the
// node, locally for the controller's own node and over SSH for the others, after
// {baton}, {config}, {home}, {node}, {epoch}, {pidfile} and {log} are replaced
// (each quoted for the shell); pidfile and scheduler_log may hold {node}.
struct FailoverConfig {
  std::string node_name;           // this controller's node; empty: the host name
  std::vector<std::string> nodes;  // the masters, in the order a move tries them
  // Where `nodes` is in the file; empty when the file has none. The checks
  // that a node is listed come after loading, and point here.
  SourceNote nodes_position;
  std::map<std::string, FailoverNodeConfig> node;
  // How often the active controller checks the scheduler.
  Duration poll_frequency = std::chrono::seconds(10);
  // How often every controller beats its row and renews or tries the lease.
  Duration heartbeat_interval = std::chrono::seconds(2);
  // A lease not renewed for this long may be taken by a standby.
  Duration lease_ttl = std::chrono::seconds(10);
  // A scheduler whose store heartbeat is older than this is unhealthy.
  Duration scheduler_health_threshold = std::chrono::seconds(30);
  int restart_retries = 3;  // restarts on one node before moving to the next
  Duration retry_wait = std::chrono::seconds(5);  // between a failed start and the next check
  std::string ssh_user;           // empty: the controller's own user
  std::string ssh_identity_file;  // empty: the ssh-agent at $SSH_AUTH_SOCK
  std::string known_hosts;        // empty: ~/.ssh/known_hosts
  Duration ssh_connect_timeout = std::chrono::seconds(5);
  // Above [scheduler] kill_grace_period: the default stop command waits that long.
  Duration ssh_command_timeout = std::chrono::seconds(60);
  std::string baton_binary;  // {baton}; empty: the running binary's path
  std::string pidfile;       // {pidfile}; absolute after loading
  std::string scheduler_log;  // {log}; absolute after loading
  // Empty: the defaults, which use systemctl when systemd runs the node
  // (DefaultStartCommand and friends in failover/).
  std::string start_command;
  std::string stop_command;
  std::string check_command;  // exits 0 when the scheduler's process runs there

  bool operator==(const FailoverConfig&) const = default;
};

// Where alerts go ([alerts]); each channel is used when configured.
struct AlertsConfig {
  std::string smtp_url;  // "smtp://host:port" or "smtps://..."; empty: no email
  std::string smtp_user;
  // The SMTP password comes from $BATON_SMTP_PASSWORD or, when that is unset,
  // from this file (absolute after loading; empty: none).
  std::string smtp_password_file;
  std::string email_from;
  std::vector<std::string> email_to;
  std::string webhook_url;  // receives a JSON POST; empty: none
  std::string command;      // run by /bin/sh with BATON_ALERT_* set; empty: none
  Duration timeout = std::chrono::seconds(10);  // each delivery

  bool operator==(const AlertsConfig&) const = default;
};

struct LoggingConfig {
  std::string level = "info";
  std::string file;  // empty: stderr; relative: below logs_folder

  bool operator==(const LoggingConfig&) const = default;
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
  FailoverConfig failover;
  AlertsConfig alerts;

  bool operator==(const Config&) const = default;
};

// Reads and validates `path`; `home` anchors relative paths.
Result<Config> LoadConfig(const std::string& path, const std::string& home);
// Validates TOML text as if it were read from `display_name`.
Result<Config> ParseConfig(const std::string& text, const std::string& display_name,
                           const std::string& home);
// The commented default baton.toml that `baton db init` writes: every key of
// the schema (config_schema.h) at its default.
std::string DefaultConfigText();

}  // namespace baton
