// The schema of baton.toml: the one list of its sections and keys, with their
// defaults and descriptions. A default here must equal the one in config.h
// (tests/unit/config/config_reference_test.cc loads both and compares); the
// bounds and rules must say what the readers in this folder enforce.
#include "config/config_schema.h"

#include <algorithm>
#include <array>

#include "common/time.h"

namespace baton {
namespace {

using enum ValueType;

constexpr int64_t kPositive = 1;  // in milliseconds: durations that must not be zero

constexpr std::array<std::string_view, 2> kExecutorKinds = {"local", "redis"};
constexpr std::array<std::string_view, 7> kLogLevels = {"trace", "debug",    "info", "warn",
                                                        "error", "critical", "off"};

constexpr KeySchema kCoreKeys[] = {
    {.name = "dags_folder",
     .type = kString,
     .default_value = R"("dags")",
     .rule = "not empty",
     .description = "Where DAG files (`*.toml`) are read from; relative to `$BATON_HOME`."},
    {.name = "logs_folder",
     .type = kString,
     .default_value = R"("logs")",
     .rule = "not empty",
     .description = "Where task logs go, as `DAG_ID/RUN_ID/TASK_ID/TRY.log`; relative to "
                    "`$BATON_HOME`."},
    {.name = "parallelism",
     .type = kInteger,
     .default_value = "32",
     .min = 1,
     .description = "Task instances queued or running at once, across all DAGs."},
    {.name = "default_timezone",
     .type = kString,
     .default_value = R"("UTC")",
     .rule = "an IANA time zone name known to the system",
     .description = "The time zone of DAGs that do not name one, e.g. \"Europe/Paris\"."},
};

constexpr KeySchema kStoreKeys[] = {
    {.name = "url",
     .type = kString,
     .default_value = R"("sqlite:baton.db")",
     .rule = "not empty",
     .description = "`sqlite:PATH` (relative to `$BATON_HOME`, or `sqlite:///ABSOLUTE/PATH`) "
                    "for one machine, `mysql://USER@HOST[:PORT]/DATABASE` for a cluster. A "
                    "URL carrying a password is refused."},
    {.name = "password_file",
     .type = kString,
     .default_value = R"("")",
     .description = "MySQL/MariaDB: the file holding the password, read when "
                    "`$BATON_STORE_PASSWORD` is unset; relative to `$BATON_HOME`. Empty: no "
                    "password."},
    {.name = "connect_timeout",
     .type = kDuration,
     .default_value = R"("5s")",
     .min = kPositive,
     .description = "MySQL/MariaDB: the limit on reaching the server, and on reconnecting "
                    "after a lost connection."},
    {.name = "io_timeout",
     .type = kDuration,
     .default_value = R"("30s")",
     .min = kPositive,
     .description = "MySQL/MariaDB: the limit on each read or write on the connection; "
                    "row-lock waits are cut to half of it."},
};

constexpr KeySchema kSchedulerKeys[] = {
    {.name = "loop_interval",
     .type = kDuration,
     .default_value = R"("1s")",
     .min = kPositive,
     .description = "How often the scheduler sweeps runs and timers even when nothing "
                    "happened."},
    {.name = "heartbeat_interval",
     .type = kDuration,
     .default_value = R"("5s")",
     .min = kPositive,
     .description = "How often the scheduler records in the store that it is alive."},
    {.name = "health_threshold",
     .type = kDuration,
     .default_value = R"("30s")",
     .min = kPositive,
     .rule = "longer than heartbeat_interval",
     .description = "A scheduler or agent whose last heartbeat is older than this is "
                    "considered dead (`baton jobs check`); the running tasks of a dead agent "
                    "are failed or retried."},
    {.name = "dag_dir_list_interval",
     .type = kDuration,
     .default_value = R"("10s")",
     .min = kPositive,
     .description = "How often the DAG folder is checked for new, changed or removed files."},
    {.name = "kill_grace_period",
     .type = kDuration,
     .default_value = R"("30s")",
     .description = "On shutdown, how long running tasks get to finish before they are "
                    "killed."},
};

constexpr KeySchema kExecutorKeys[] = {
    {.name = "kind",
     .type = kString,
     .default_value = R"("local")",
     .choices = kExecutorKinds,
     .description = "`local`: tasks run as subprocesses of the scheduler. `redis`: the "
                    "scheduler pushes them to Redis, and `baton agent` workers on any host "
                    "run them."},
};

constexpr KeySchema kRedisKeys[] = {
    {.name = "url",
     .type = kString,
     .default_value = R"("redis://127.0.0.1:6379/0")",
     .rule = "starts with redis://",
     .description = "The Redis server: `redis://HOST[:PORT][/DB]`."},
    {.name = "password_file",
     .type = kString,
     .default_value = R"("")",
     .description = "The file holding the password, read when `$BATON_REDIS_PASSWORD` is "
                    "unset; relative to `$BATON_HOME`. Empty: no password."},
    {.name = "key_prefix",
     .type = kString,
     .default_value = R"("baton")",
     .rule = "not empty",
     .description = "Every key Baton writes in Redis starts with `PREFIX:`."},
    {.name = "connect_timeout",
     .type = kDuration,
     .default_value = R"("5s")",
     .min = kPositive,
     .description = "The limit on reaching the server."},
    {.name = "command_timeout",
     .type = kDuration,
     .default_value = R"("10s")",
     .min = kPositive,
     .description = "The limit on each command."},
    {.name = "requeue_check_interval",
     .type = kDuration,
     .default_value = R"("10s")",
     .min = kPositive,
     .description = "How often the scheduler checks that each queued task still has its "
                    "message in Redis (which may have been flushed or restarted) and pushes "
                    "it again if not. The check rides on the scheduler's orphan check, so it "
                    "runs at most once per scheduler.heartbeat_interval; a try is checked "
                    "once it stayed queued between two checks."},
};

constexpr KeySchema kAgentKeys[] = {
    {.name = "name",
     .type = kString,
     .default_value = R"("")",
     .description = "A name unique among the agents; empty: the host name. An agent "
                    "restarted under the same name takes back what it had taken from Redis "
                    "but not yet claimed."},
    {.name = "queues",
     .type = kStringArray,
     .default_value = R"(["default"])",
     .rule = "at least one queue, and no empty name",
     .description = "The queues this agent takes tasks from (a task's `queue`, \"default\" "
                    "when it names none)."},
    {.name = "concurrency",
     .type = kInteger,
     .default_value = "8",
     .min = 1,
     .max = 4096,
     .description = "Tasks run at once by this agent."},
    {.name = "heartbeat_interval",
     .type = kDuration,
     .default_value = R"("5s")",
     .min = kPositive,
     .description = "How often the agent records in the store that it is alive."},
    {.name = "kill_grace_period",
     .type = kDuration,
     .default_value = R"("30s")",
     .description = "On SIGTERM, how long running tasks get to finish before they are "
                    "killed."},
    {.name = "log_bind",
     .type = kString,
     .default_value = R"("127.0.0.1")",
     .rule = "not empty",
     .description = "The address task logs and a health check are served on over HTTP. "
                    "Other hosts cannot fetch logs from a loopback address: on a cluster, "
                    "bind it to the worker's private address."},
    {.name = "log_port",
     .type = kInteger,
     .default_value = "8793",
     .min = 0,
     .max = 65535,
     .description = "The port of that HTTP server; 0: any free port."},
};

constexpr KeySchema kPoolsKeys[] = {
    {.name = "default_pool",
     .type = kInteger,
     .default_value = "128",
     .min = 1,
     .description = "The pool of every task that names none."},
};

constexpr KeySchema kLoggingKeys[] = {
    {.name = "level",
     .type = kString,
     .default_value = R"("info")",
     .choices = kLogLevels,
     .description = "The least severe messages the daemons log."},
    {.name = "file",
     .type = kString,
     .default_value = R"("")",
     .description = "Where the daemons log; relative to logs_folder. Empty: stderr."},
};

// Nothing before `nodes` in the default file may hold a '[': `baton failover
// init` fills the `nodes = []` line that follows the [failover] header.
constexpr KeySchema kFailoverKeys[] = {
    {.name = "node_name",
     .type = kString,
     .default_value = R"("")",
     .rule = "one of `nodes`, when both are set",
     .description = "This master's name in `nodes`; empty: the host name (`baton failover "
                    "get_current_host` prints it). Set it to run several controllers on one "
                    "machine."},
    {.name = "nodes",
     .type = kStringArray,
     .default_value = "[]",
     .rule = "no empty or repeated name",
     .description = "The masters that may run the scheduler, in the order a move tries them; "
                    "list them in the same order on every master. A controller whose "
                    "node_name is not listed refuses to start."},
    {.name = "poll_frequency",
     .type = kDuration,
     .default_value = R"("10s")",
     .min = kPositive,
     .description = "How often the active controller checks the scheduler (its store "
                    "heartbeat and its process). Shorter: failures are seen sooner, at a few "
                    "queries more."},
    {.name = "heartbeat_interval",
     .type = kDuration,
     .default_value = R"("2s")",
     .min = kPositive,
     .description = "How often every controller records that it is alive and renews (or "
                    "tries to take) the lease. Shorter: more tries to renew before the "
                    "lease runs out, at one store write per controller per interval."},
    {.name = "lease_ttl",
     .type = kDuration,
     .default_value = R"("10s")",
     .min = kPositive,
     .rule = "at least twice heartbeat_interval",
     .description = "A lease not renewed for this long may be taken by a standby; the holder "
                    "stops acting before then. Shorter: faster takeover, but a store hiccup "
                    "longer than this costs a takeover."},
    {.name = "scheduler_health_threshold",
     .type = kDuration,
     .default_value = R"("30s")",
     .min = kPositive,
     .description = "A scheduler whose store heartbeat is older than this is unhealthy; keep "
                    "it above [scheduler] heartbeat_interval."},
    {.name = "restart_retries",
     .type = kInteger,
     .default_value = "3",
     .min = 0,
     .max = 100,
     .description = "Failed restarts on one node before the scheduler moves to the next "
                    "master."},
    {.name = "retry_wait",
     .type = kDuration,
     .default_value = R"("5s")",
     .description = "The wait after a restart before the scheduler is checked again."},
    {.name = "ssh_user",
     .type = kString,
     .default_value = R"("")",
     .description = "The user on the other masters for SSH; empty: the controller's own "
                    "user."},
    {.name = "ssh_identity_file",
     .type = kString,
     .default_value = R"("")",
     .description = "The private key for SSH public-key authentication (use Ed25519: "
                    "OpenSSH 9 refuses RSA signatures made with SHA-1); relative to "
                    "`$BATON_HOME`. Empty: the ssh-agent at `$SSH_AUTH_SOCK`."},
    {.name = "known_hosts",
     .type = kString,
     .default_value = R"("")",
     .description = "The masters' host keys, in OpenSSH's format; an unknown or changed key "
                    "is refused. Relative to `$BATON_HOME`; empty: `~/.ssh/known_hosts`."},
    {.name = "ssh_connect_timeout",
     .type = kDuration,
     .default_value = R"("5s")",
     .min = kPositive,
     .description = "The limit on connecting to a master and the SSH handshake."},
    {.name = "ssh_command_timeout",
     .type = kDuration,
     .default_value = R"("60s")",
     .min = kPositive,
     .description = "The limit on each start, stop or check command on a node, local or over "
                    "SSH. Keep it above [scheduler] kill_grace_period: the default stop "
                    "command gives the scheduler's tasks that long before it kills the "
                    "scheduler."},
    {.name = "baton_binary",
     .type = kString,
     .default_value = R"("")",
     .description = "{baton}: the baton binary on the masters; empty: the path of the running "
                    "one."},
    {.name = "pidfile",
     .type = kString,
     .default_value = R"("scheduler.pid")",
     .rule = "not empty",
     .description = "{pidfile}: the scheduler's pidfile when a controller starts it without "
                    "systemd; relative to `$BATON_HOME`, and may hold {node}."},
    {.name = "scheduler_log",
     .type = kString,
     .default_value = R"("scheduler.log")",
     .rule = "not empty",
     .description = "{log}: the scheduler's output when a controller starts it without "
                    "systemd; relative to logs_folder, and may hold {node}."},
    {.name = "start_command",
     .type = kString,
     .default_value = R"("")",
     .description = "Starts the scheduler on a node. Empty: `systemctl start "
                    "baton-scheduler@EPOCH.service` when systemd runs the node and has the "
                    "unit, else `baton scheduler` detached, with a pidfile."},
    {.name = "stop_command",
     .type = kString,
     .default_value = R"("")",
     .description = "Stops the scheduler on a node. Empty: `systemctl stop` of its unit when "
                    "systemd runs the node, else `baton failover local_scheduler stop`."},
    {.name = "check_command",
     .type = kString,
     .default_value = R"("")",
     .description = "Exits 0 when the scheduler's process runs on a node. Empty: `baton "
                    "failover local_scheduler check`."},
};

constexpr KeySchema kFailoverNodeKeys[] = {
    {.name = "local",
     .type = kBoolean,
     .default_value = "false",
     .description = "Run this node's commands on this machine, without SSH: for several "
                    "nodes on one machine (a demo, a test), never for real masters."},
    {.name = "ssh_host",
     .type = kString,
     .default_value = R"("")",
     .description = "The host SSH connects to; empty: the node name."},
    {.name = "ssh_port",
     .type = kInteger,
     .default_value = "22",
     .min = 1,
     .max = 65535,
     .description = "The port SSH connects to."},
    {.name = "ssh_user",
     .type = kString,
     .default_value = R"("")",
     .description = "Empty: [failover] ssh_user."},
    {.name = "start_command",
     .type = kString,
     .default_value = R"("")",
     .description = "Empty: [failover] start_command."},
    {.name = "stop_command",
     .type = kString,
     .default_value = R"("")",
     .description = "Empty: [failover] stop_command."},
};

constexpr KeySchema kAlertsKeys[] = {
    {.name = "smtp_url",
     .type = kString,
     .default_value = R"("")",
     .rule = "smtp://HOST[:PORT] or smtps://HOST[:PORT]; needs email_from and email_to",
     .description = "Email over SMTP: `smtp://` upgrades with STARTTLS when the server "
                    "offers it, `smtps://` is TLS from the start. Empty: no email."},
    {.name = "smtp_user",
     .type = kString,
     .default_value = R"("")",
     .description = "The SMTP user; empty: no authentication."},
    {.name = "smtp_password_file",
     .type = kString,
     .default_value = R"("")",
     .description = "The file holding the SMTP password, read when `$BATON_SMTP_PASSWORD` is "
                    "unset; relative to `$BATON_HOME`."},
    {.name = "email_from",
     .type = kString,
     .default_value = R"("")",
     .description = "The sender of alert emails."},
    {.name = "email_to",
     .type = kStringArray,
     .default_value = "[]",
     .description = "The recipients of alert emails."},
    {.name = "webhook_url",
     .type = kString,
     .default_value = R"("")",
     .rule = "http:// or https://",
     .description = "Receives each alert as a JSON POST; empty: none."},
    {.name = "command",
     .type = kString,
     .default_value = R"("")",
     .description = "A shell command run for each alert, with `BATON_ALERT_KIND`, "
                    "`BATON_ALERT_NODE`, `BATON_ALERT_EPOCH`, `BATON_ALERT_SUBJECT` and "
                    "`BATON_ALERT_MESSAGE` set; empty: none."},
    {.name = "timeout",
     .type = kDuration,
     .default_value = R"("10s")",
     .min = kPositive,
     .description = "The limit on each delivery."},
};

constexpr SectionSchema kSections[] = {
    {.name = "core",
     .kind = SectionKind::kFixedKeys,
     .description = "Where DAGs and logs live, and how much runs at once.",
     .keys = kCoreKeys},
    {.name = "store",
     .kind = SectionKind::kFixedKeys,
     .description = "The metadata database, the source of truth that every scheduler, agent "
                    "and controller of a cluster shares.",
     .keys = kStoreKeys},
    {.name = "scheduler",
     .kind = SectionKind::kFixedKeys,
     .description = "The scheduler daemon, `baton scheduler`.",
     .keys = kSchedulerKeys},
    {.name = "executor",
     .kind = SectionKind::kFixedKeys,
     .description = "Where task instances run.",
     .keys = kExecutorKeys},
    {.name = "redis",
     .kind = SectionKind::kFixedKeys,
     .description = "The Redis server of the Redis executor and the agents. Redis only "
                    "carries work: the store keeps every state.",
     .keys = kRedisKeys},
    {.name = "agent",
     .kind = SectionKind::kFixedKeys,
     .description = "A worker, `baton agent`, which runs the tasks the Redis executor queues. "
                    "Its options --name, --queues and --concurrency override these.",
     .keys = kAgentKeys},
    {.name = "pools",
     .kind = SectionKind::kNamedValues,
     .description = "NAME = SLOTS: at most SLOTS task instances of a pool run at once (SLOTS "
                    "at least 1). Tasks choose a pool with `pool = \"NAME\"`; those that do "
                    "not use default_pool, which always exists.",
     .keys = kPoolsKeys},
    {.name = "logging",
     .kind = SectionKind::kFixedKeys,
     .description = "What the daemons log, and where. Other commands log only warnings and "
                    "errors, to stderr.",
     .keys = kLoggingKeys},
    {.name = "failover",
     .kind = SectionKind::kFixedKeys,
     .description = "The failover controller, `baton failover start`. Its start, stop and "
                    "check commands are run by /bin/sh on a node (locally on its own node, "
                    "over SSH on the others) after {baton}, {config}, {home}, {node}, "
                    "{epoch}, {pidfile} and {log} are replaced, each quoted for the shell.",
     .keys = kFailoverKeys},
    {.name = "failover.node.NAME",
     .kind = SectionKind::kPerName,
     .description = "Overrides for one master; NAME must be listed in [failover] nodes.",
     .keys = kFailoverNodeKeys},
    {.name = "alerts",
     .kind = SectionKind::kFixedKeys,
     .description = "Where alerts go: takeovers, moves and repeated restart failures are sent "
                    "to every channel set here.",
     .keys = kAlertsKeys},
};

// "failover.node.NAME" -> "node" for `parent` "failover"; "" when `child` is
// not a table directly below `parent`.
std::string_view SubTableName(std::string_view parent, std::string_view child) {
  const std::string prefix = parent.empty() ? "" : std::string(parent) + ".";
  if (!child.starts_with(prefix) || child.size() == prefix.size()) return "";
  std::string_view rest = child.substr(prefix.size());
  return rest.substr(0, rest.find('.'));
}

}  // namespace

std::span<const SectionSchema> ConfigSchema() { return kSections; }

const SectionSchema* FindSection(std::string_view name) {
  for (const SectionSchema& section : kSections) {
    if (section.name == name) return &section;
  }
  return nullptr;
}

const KeySchema* FindKey(std::string_view section, std::string_view key) {
  const SectionSchema* found = FindSection(section);
  if (!found) return nullptr;
  for (const KeySchema& candidate : found->keys) {
    if (candidate.name == key) return &candidate;
  }
  return nullptr;
}

std::vector<std::string> KnownKeys(std::string_view section) {
  std::vector<std::string> known;
  if (const SectionSchema* found = FindSection(section)) {
    for (const KeySchema& key : found->keys) known.emplace_back(key.name);
  }
  for (const SectionSchema& other : kSections) {
    const std::string_view table = SubTableName(section, other.name);
    if (!table.empty() && std::find(known.begin(), known.end(), table) == known.end()) {
      known.emplace_back(table);
    }
  }
  return known;
}

std::vector<std::string> ChoicesOf(std::string_view section, std::string_view key) {
  std::vector<std::string> choices;
  if (const KeySchema* found = FindKey(section, key)) {
    for (std::string_view choice : found->choices) choices.emplace_back(choice);
  }
  return choices;
}

std::string_view TypeName(ValueType type) {
  switch (type) {
    case kString:
      return "string";
    case kInteger:
      return "integer";
    case kBoolean:
      return "boolean";
    case kDuration:
      return "duration";
    case kStringArray:
      return "array of strings";
  }
  return "";
}

std::string AllowedValues(const KeySchema& key) {
  auto bound = [&](int64_t value) {
    return key.type == kDuration ? FormatDuration(Duration(value)) : std::to_string(value);
  };
  std::string allowed;
  auto add = [&](const std::string& part) { allowed += (allowed.empty() ? "" : "; ") + part; };
  if (key.type == kDuration && key.min == kPositive && !key.max) {
    add("more than 0s");
  } else if (key.min && key.max) {
    add(bound(*key.min) + " to " + bound(*key.max));
  } else if (key.min) {
    add("at least " + bound(*key.min));
  } else if (key.max) {
    add("at most " + bound(*key.max));
  }
  if (!key.choices.empty()) {
    std::string choices;
    for (std::string_view choice : key.choices) {
      choices += (choices.empty() ? "" : ", ") + std::string(choice);
    }
    add("one of " + choices);
  }
  if (!key.rule.empty()) add(std::string(key.rule));
  return allowed;
}

std::string_view ConfigFileNotes() {
  return "Relative paths are relative to `$BATON_HOME` unless a key says otherwise. Durations read "
         "like \"500ms\", \"30s\", "
         "\"5m\", \"1h30m\" or \"2d\", or are an integer number of seconds. Passwords stay out "
         "of this file: each comes from an environment variable or, when that is unset, from "
         "the file a password_file key names.";
}

}  // namespace baton
