// Loading what the commands share: home, baton.toml, logging, store, DAGs.
#include "cli/cli_context.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "common/clock.h"
#include "common/logging.h"

namespace baton::cli {
namespace {

namespace fs = std::filesystem;

// $BATON_HOME, or ~/baton.
std::string HomeFolder() {
  if (const char* home = std::getenv("BATON_HOME"); home != nullptr && *home != '\0') return home;
  std::string user_home;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    user_home = home;
  } else if (const passwd* user = getpwuid(getuid()); user != nullptr && user->pw_dir != nullptr) {
    user_home = user->pw_dir;
  } else {
    user_home = ".";
  }
  return (fs::path(user_home) / "baton").string();
}

Status SetupCommandLogging(const Config& config, LogMode mode) {
  if (mode == LogMode::kConfigured) {
    return SetupLogging(config.logging.level, config.logging.file);
  }
  // baton.toml may ask for less than warnings, never for more: info lines would
  // bury a command's own output.
  const std::string& level = config.logging.level;
  const bool quieter = level == "error" || level == "critical" || level == "off";
  return SetupLogging(quieter ? level : "warn", "");
}

}  // namespace

void CliContext::SetCommand(Command command, LogMode mode) {
  command_ = std::move(command);
  log_mode_ = mode;
}

Status CliContext::RunCommand(const std::string& config_option) {
  if (!command_) return Status::InvalidInput("no command given (see baton --help)");
  BATON_RETURN_IF_ERROR(LoadConfig(config_option));
  BATON_RETURN_IF_ERROR(SetupCommandLogging(config_, log_mode_));
  return command_(*this);
}

Status CliContext::LoadConfig(const std::string& config_option) {
  const std::string home = HomeFolder();
  const bool named = !config_option.empty();
  config_path_ = named ? config_option : (fs::path(home) / "baton.toml").string();
  std::error_code error;
  config_file_exists_ = fs::exists(config_path_, error);
  Result<Config> config = Status::Internal("configuration not read");
  if (config_file_exists_) {
    config = ::baton::LoadConfig(config_path_, home);
  } else if (named) {
    return Status::InvalidInput("config file " + config_path_ +
                                " does not exist (named by --config or BATON_CONFIG)");
  } else {
    config = ParseConfig("", config_path_, home);
  }
  if (!config.ok()) return config.status();
  config_ = std::move(config).value();
  home_ = config_.core.home;
  return Status::Ok();
}

Result<Store*> CliContext::unchecked_store() {
  if (!store_) {
    auto opened = OpenStore(config_.store, home_);
    if (!opened.ok()) return opened.status();
    store_ = std::move(opened).value();
  }
  return store_.get();
}

Result<Store*> CliContext::store() {
  auto store = unchecked_store();
  if (!store.ok() || schema_checked_) return store;
  BATON_RETURN_IF_ERROR(CheckSchemaCurrent(**store, config_.store.url));
  schema_checked_ = true;
  return store;
}

DagFileContext CliContext::dag_file_context() const { return MakeDagFileContext(config_); }

Result<const DagBag*> CliContext::dag_bag() {
  if (!dag_bag_) {
    const std::string& folder = config_.core.dags_folder;
    std::error_code error;
    if (!fs::is_directory(folder, error)) {
      return Status::NotFound("dags folder " + folder +
                              " does not exist (`baton db init` creates it)");
    }
    dag_bag_ = std::make_unique<DagBag>(folder, dag_file_context());
    dag_bag_->Refresh();
  }
  return dag_bag_.get();
}

Result<std::shared_ptr<const Dag>> CliContext::FindDag(const std::string& dag_id) {
  auto bag = dag_bag();
  if (!bag.ok()) return bag.status();
  if (std::shared_ptr<const Dag> dag = (*bag)->Find(dag_id)) return dag;
  std::string message = "no DAG '" + dag_id + "' in " + config_.core.dags_folder;
  const auto& errors = (*bag)->errors();
  if (!errors.empty()) {
    message += "; " + std::to_string(errors.size()) +
               " file(s) there do not load, it may be defined in one of them:";
    for (const ImportError& error : errors) message += "\n  " + error.message;
  }
  return Status::NotFound(message);
}

Status CliContext::SyncDag(const Dag& dag) {
  auto store = this->store();
  if (!store.ok()) return store.status();
  return (*store)->SyncDag(DagRecordOf(dag, DefaultClock().Now()), dag.paused_on_create);
}

Result<bool> CliContext::IsPaused(const Dag& dag) {
  auto store = this->store();
  if (!store.ok()) return store.status();
  auto record = (*store)->GetDag(dag.dag_id);
  if (!record.ok()) return record.status();
  return *record ? (*record)->is_paused : dag.paused_on_create;
}

}  // namespace baton::cli
