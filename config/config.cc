// Loading baton.toml into Config: defaults for every key, validation with the
// position of each offending value, and the sample file `baton db init` writes.
#include "config/config.h"

#include <filesystem>
#include <system_error>
#include <vector>

#include "config/sections.h"
#include "config/toml_fields.h"

namespace baton {
namespace {

using config_internal::EmptyTable;
using config_internal::ReadSectionOf;

const std::vector<std::string>& LogLevels() {
  static const std::vector<std::string> levels = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
  return levels;
}

// engine/dag.h names the same pool; config cannot depend on the engine.
constexpr int kDefaultPoolSlots = 128;

Status ReadCore(const FieldReader& core, CoreConfig* out) {
  BATON_RETURN_IF_ERROR(core.ReadNonEmptyString("dags_folder", &out->dags_folder));
  BATON_RETURN_IF_ERROR(core.ReadNonEmptyString("logs_folder", &out->logs_folder));
  BATON_RETURN_IF_ERROR(core.ReadInt("parallelism", &out->parallelism, 1));
  return core.ReadTimeZone("default_timezone", &out->default_timezone);
}

Status ReadScheduler(const FieldReader& scheduler, SchedulerConfig* out) {
  // Zero would make the loop spin or every heartbeat look stale.
  const Duration positive(1);
  BATON_RETURN_IF_ERROR(scheduler.ReadDuration("loop_interval", &out->loop_interval, positive));
  BATON_RETURN_IF_ERROR(
      scheduler.ReadDuration("heartbeat_interval", &out->heartbeat_interval, positive));
  BATON_RETURN_IF_ERROR(
      scheduler.ReadDuration("health_threshold", &out->health_threshold, positive));
  BATON_RETURN_IF_ERROR(
      scheduler.ReadDuration("dag_dir_list_interval", &out->dag_dir_list_interval, positive));
  BATON_RETURN_IF_ERROR(scheduler.ReadDuration("kill_grace_period", &out->kill_grace_period));
  if (out->health_threshold <= out->heartbeat_interval) {
    // A live scheduler would be judged dead between two of its own heartbeats.
    return scheduler.Error("health_threshold",
                           "must be longer than scheduler.heartbeat_interval (" +
                               FormatDuration(out->heartbeat_interval) + "), got " +
                               FormatDuration(out->health_threshold));
  }
  return Status::Ok();
}

Status ReadPools(const FieldReader& pools, std::map<std::string, int>* out) {
  (*out)[kDefaultPool] = kDefaultPoolSlots;
  for (const auto& [name, value] : pools.table()) {
    int slots = 0;
    BATON_RETURN_IF_ERROR(pools.ReadInt(name.str(), &slots, 1));
    (*out)[std::string(name.str())] = slots;
  }
  return Status::Ok();
}

Status ReadLogging(const FieldReader& logging, LoggingConfig* out) {
  BATON_RETURN_IF_ERROR(logging.ReadChoice("level", LogLevels(), &out->level));
  return logging.ReadString("file", &out->file);
}

std::string Anchored(const std::filesystem::path& base, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_relative()) p = base / p;
  return p.lexically_normal().string();
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& display_name,
                           const std::string& home) {
  Result<toml::table> document = ParseToml(text, display_name);
  if (!document.ok()) return document.status();
  FieldReader root(*document, "");
  BATON_RETURN_IF_ERROR(root.CheckKnownKeys(
      {"core", "store", "scheduler", "executor", "redis", "agent", "pools", "logging", "failover",
       "alerts"},
      "section"));

  Config config;
  config.source_path = display_name;
  config.core.dags_folder = "dags";
  config.core.logs_folder = "logs";
  config.store.url = "sqlite:baton.db";
  config.failover.pidfile = "scheduler.pid";
  config.failover.scheduler_log = "scheduler.log";
  BATON_RETURN_IF_ERROR(
      ReadSectionOf(root, "core", {"dags_folder", "logs_folder", "parallelism", "default_timezone"},
                    [&](const FieldReader& core) { return ReadCore(core, &config.core); }));
  BATON_RETURN_IF_ERROR(config_internal::ReadClusterSections(root, &config));
  BATON_RETURN_IF_ERROR(config_internal::ReadFailoverSections(root, &config));
  BATON_RETURN_IF_ERROR(ReadSectionOf(
      root, "scheduler",
      {"loop_interval", "heartbeat_interval", "health_threshold", "dag_dir_list_interval",
       "kill_grace_period"},
      [&](const FieldReader& scheduler) { return ReadScheduler(scheduler, &config.scheduler); }));
  // Any name is a pool, so there is no unknown key to report; the reader checks values.
  Result<const toml::table*> pools = root.ReadTable("pools");
  if (!pools.ok()) return pools.status();
  BATON_RETURN_IF_ERROR(
      ReadPools(FieldReader(*pools ? **pools : EmptyTable(), "pools."), &config.pools));
  BATON_RETURN_IF_ERROR(ReadSectionOf(
      root, "logging", {"level", "file"},
      [&](const FieldReader& logging) { return ReadLogging(logging, &config.logging); }));

  std::error_code error;
  std::filesystem::path home_path =
      home.empty() ? std::filesystem::current_path(error) : std::filesystem::absolute(home, error);
  if (error)
    return Status::IoError("cannot resolve home directory '" + home + "': " + error.message());
  config.core.home = home_path.lexically_normal().string();
  config.core.dags_folder = Anchored(home_path, config.core.dags_folder);
  config.core.logs_folder = Anchored(home_path, config.core.logs_folder);
  for (std::string* path :
       {&config.store.password_file, &config.redis.password_file, &config.alerts.smtp_password_file,
        &config.failover.ssh_identity_file, &config.failover.known_hosts}) {
    if (!path->empty()) *path = Anchored(home_path, *path);
  }
  config.failover.pidfile = Anchored(home_path, config.failover.pidfile);
  config.failover.scheduler_log = Anchored(config.core.logs_folder, config.failover.scheduler_log);
  if (!config.logging.file.empty()) {
    config.logging.file = Anchored(config.core.logs_folder, config.logging.file);
  }
  return config;
}

Result<Config> LoadConfig(const std::string& path, const std::string& home) {
  Result<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ParseConfig(*text, path, home);
}

std::string DefaultConfigText() {
  return R"(# baton.toml: the configuration of Baton's scheduler, agents and failover
# controller. Every key below is shown with its default value; delete or comment
# out what you do not change. Relative paths are relative to $BATON_HOME.
# Durations read like "500ms", "30s", "5m", "1h30m" or "2d".

[core]
# Where DAG files (*.toml) are read from.
dags_folder = "dags"
# Task logs go to logs_folder/DAG_ID/RUN_ID/TASK_ID/TRY.log.
logs_folder = "logs"
# Task instances queued or running at once, across all DAGs.
parallelism = 32
# The time zone of DAGs that do not name one (an IANA name, e.g. "Europe/Paris").
default_timezone = "UTC"

[store]
# The metadata database: "sqlite:PATH" for one machine, a MySQL/MariaDB URL for
# a cluster.
url = "sqlite:baton.db"
# A MySQL/MariaDB URL reads "mysql://USER@HOST:PORT/DATABASE". Its password is
# taken from $BATON_STORE_PASSWORD or, when that is unset, from this file.
password_file = ""
# Limits on reaching the server and on each read or write (MySQL/MariaDB).
connect_timeout = "5s"
io_timeout = "30s"

[scheduler]
# How often the scheduler sweeps runs and timers even when nothing happened.
loop_interval = "1s"
# How often the scheduler records that it is alive.
heartbeat_interval = "5s"
# A scheduler whose last heartbeat is older than this is considered dead; keep
# it well above heartbeat_interval.
health_threshold = "30s"
# How often the DAG folder is checked for new, changed or removed files.
dag_dir_list_interval = "10s"
# On shutdown, how long running tasks get to finish before they are killed.
kill_grace_period = "30s"

[executor]
# "local": tasks run as subprocesses of the scheduler. "redis": the scheduler
# pushes them to Redis, and `baton agent` workers on any host run them.
kind = "local"

[redis]
# Used by the Redis executor and the agents.
url = "redis://127.0.0.1:6379/0"
# The password is taken from $BATON_REDIS_PASSWORD or, when that is unset, from
# this file.
password_file = ""
# Every key Baton writes starts with "PREFIX:".
key_prefix = "baton"
connect_timeout = "5s"
command_timeout = "10s"
# How often the scheduler checks that each queued task still has its message in
# Redis (which may have been flushed or restarted) and pushes it again if not.
# The check rides on the scheduler's orphan check, so it runs at most once per
# scheduler.heartbeat_interval; a try is checked once it stayed queued between
# two checks.
requeue_check_interval = "10s"

[agent]
# A name unique among the agents; empty: the host name. An agent restarted under
# the same name takes back what it had taken from Redis but not yet claimed.
name = ""
# The queues this agent takes tasks from (a task's `queue`, "default" if unset).
queues = ["default"]
# Tasks run at once by this agent.
concurrency = 8
heartbeat_interval = "5s"
# On SIGTERM, how long running tasks get to finish before they are killed.
kill_grace_period = "30s"
# Task logs and a health check are served over HTTP here; 0: any free port.
log_bind = "127.0.0.1"
log_port = 8793

[pools]
# NAME = SLOTS: at most SLOTS task instances of a pool run at once. Tasks choose
# a pool with `pool = "NAME"`; those that do not use default_pool.
default_pool = 128

[failover]
# This master's name in `nodes`; empty: the host name (`baton failover
# get_current_host` prints it). Set it to run several controllers on one machine.
node_name = ""
# The masters that may run the scheduler, in the order a move tries them. A
# controller whose node_name is not listed refuses to start. Per-node overrides
# go in tables [failover.node.NAME]: ssh_host, ssh_port, ssh_user,
# start_command, stop_command, and local = true to run that node's commands on
# this machine without SSH (several nodes on one machine, for a demo or a test).
nodes = []
# How often the active controller checks the scheduler (its store heartbeat and
# its process). Shorter: failures are seen sooner, at a few queries more.
poll_frequency = "10s"
# How often every controller records that it is alive and renews (or tries to
# take) the lease. Shorter: a standby notices an expired lease sooner.
heartbeat_interval = "2s"
# A lease not renewed for this long may be taken by a standby; the holder stops
# acting before then. Shorter: faster takeover, but a store hiccup longer than
# this costs a takeover. At least twice heartbeat_interval.
lease_ttl = "10s"
# A scheduler whose store heartbeat is older than this is unhealthy; keep it
# above [scheduler] heartbeat_interval.
scheduler_health_threshold = "30s"
# Failed restarts on one node before the scheduler moves to the next master.
restart_retries = 3
# The wait after a restart before the scheduler is checked again.
retry_wait = "5s"
# SSH to the other masters: public-key authentication with this key file, or
# with the ssh-agent at $SSH_AUTH_SOCK when empty. Host keys are checked
# against known_hosts (OpenSSH's format; empty: ~/.ssh/known_hosts).
ssh_user = ""
ssh_identity_file = ""
known_hosts = ""
ssh_connect_timeout = "5s"
# Keep it above [scheduler] kill_grace_period: the default stop command gives
# the scheduler's tasks that long before it kills the scheduler.
ssh_command_timeout = "60s"
# The baton binary on the masters; empty: the path of the running one.
baton_binary = ""
# The scheduler's pidfile and log when a controller starts it without systemd.
pidfile = "scheduler.pid"
scheduler_log = "scheduler.log"
# Shell commands run on a node to start, stop and check its scheduler, with
# {baton}, {config}, {home}, {node}, {epoch}, {pidfile} and {log} replaced
# (pidfile and scheduler_log may hold {node} too). Empty: use
# systemctl when systemd runs the node, else start it detached with a pidfile.
start_command = ""
stop_command = ""
check_command = ""

[alerts]
# Takeovers, moves and repeated failures are sent to every channel set here.
# Email over SMTP: "smtp://HOST:PORT" or "smtps://HOST:PORT"; the password is
# taken from $BATON_SMTP_PASSWORD or, when that is unset, from the file.
smtp_url = ""
smtp_user = ""
smtp_password_file = ""
email_from = ""
email_to = []
# A JSON POST to this URL.
webhook_url = ""
# A shell command, run with BATON_ALERT_KIND, BATON_ALERT_NODE,
# BATON_ALERT_EPOCH, BATON_ALERT_SUBJECT and BATON_ALERT_MESSAGE set.
command = ""
# The limit on each delivery.
timeout = "10s"

[logging]
# One of trace, debug, info, warn, error, critical, off.
level = "info"
# Empty: log to stderr. A relative path is below logs_folder.
file = ""
)";
}

}  // namespace baton
