// Loading baton.toml into Config: defaults for every key, validation with the
// position of each offending value. Which keys exist is config_schema.cc's.
#include "config/config.h"

#include <filesystem>
#include <system_error>

#include "config/sections.h"
#include "config/toml_fields.h"

namespace baton {
namespace {

using config_internal::EmptyTable;
using config_internal::ReadSectionOf;

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
  BATON_RETURN_IF_ERROR(logging.ReadChoice("level", ChoicesOf("logging", "level"), &out->level));
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
  BATON_RETURN_IF_ERROR(root.CheckKnownKeys(KnownKeys(""), "section"));

  Config config;
  config.source_path = display_name;
  config.core.dags_folder = "dags";
  config.core.logs_folder = "logs";
  config.store.url = "sqlite:baton.db";
  config.failover.pidfile = "scheduler.pid";
  config.failover.scheduler_log = "scheduler.log";
  BATON_RETURN_IF_ERROR(ReadSectionOf(
      root, "core", [&](const FieldReader& core) { return ReadCore(core, &config.core); }));
  BATON_RETURN_IF_ERROR(config_internal::ReadClusterSections(root, &config));
  BATON_RETURN_IF_ERROR(config_internal::ReadFailoverSections(root, &config));
  BATON_RETURN_IF_ERROR(ReadSectionOf(root, "scheduler", [&](const FieldReader& scheduler) {
    return ReadScheduler(scheduler, &config.scheduler);
  }));
  // Any name is a pool, so there is no unknown key to report; the reader checks values.
  Result<const toml::table*> pools = root.ReadTable("pools");
  if (!pools.ok()) return pools.status();
  BATON_RETURN_IF_ERROR(
      ReadPools(FieldReader(*pools ? **pools : EmptyTable(), "pools."), &config.pools));
  BATON_RETURN_IF_ERROR(ReadSectionOf(root, "logging", [&](const FieldReader& logging) {
    return ReadLogging(logging, &config.logging);
  }));

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

}  // namespace baton
