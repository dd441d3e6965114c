// CliContext: what every `baton` command starts from, loaded in one place: the
// Baton home, baton.toml, logging, the metadata store and the DAGs of the dags
// folder. Commands are functions of a CliContext that return a Status; main()
// turns that Status into the exit status.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "config/config.h"
#include "engine/dag.h"
#include "engine/dag_bag.h"
#include "engine/dag_file.h"
#include "engine/store.h"

namespace baton::cli {

// Where a command logs. The scheduler daemon logs where baton.toml says; every
// other command logs only warnings, to stderr, so that stdout stays clean for
// --json and for scripts.
enum class LogMode { kWarningsToStderr, kConfigured };

class CliContext;
using Command = std::function<Status(CliContext&)>;

class CliContext {
 public:
  // The command the command line chose, and how it logs; set while parsing.
  void SetCommand(Command command, LogMode mode);
  // Loads the configuration, sets up logging and runs the chosen command.
  // config_option: --config or $BATON_CONFIG; empty for $BATON_HOME/baton.toml.
  Status RunCommand(const std::string& config_option);

  const std::string& home() const { return home_; }
  const std::string& config_path() const { return config_path_; }
  // False when the default baton.toml is missing and the defaults are in use.
  bool config_file_exists() const { return config_file_exists_; }
  const Config& config() const { return config_; }

  // The metadata store, opened on first use, at the schema version this binary
  // expects; otherwise an error that says to run `baton db init`.
  Result<Store*> store();
  // The same store with no schema check, for `baton db` itself.
  Result<Store*> unchecked_store();

  DagFileContext dag_file_context() const;
  // The DAG files of the dags folder, read on first use; NotFound when the
  // folder does not exist.
  Result<const DagBag*> dag_bag();
  // A DAG of the dags folder. NotFound names the folder and, when the DAG's
  // file does not load, why.
  Result<std::shared_ptr<const Dag>> FindDag(const std::string& dag_id);
  // Records the DAG in the store (new DAGs get paused_on_create), so that runs
  // and pause flags can refer to it.
  Status SyncDag(const Dag& dag);
  // The store's pause flag of the DAG, or paused_on_create while the store does
  // not know the DAG yet (that is the flag it will get).
  Result<bool> IsPaused(const Dag& dag);

 private:
  Status LoadConfig(const std::string& config_option);

  Command command_;
  LogMode log_mode_ = LogMode::kWarningsToStderr;
  std::string home_;
  std::string config_path_;
  bool config_file_exists_ = false;
  Config config_;
  std::unique_ptr<Store> store_;
  bool schema_checked_ = false;
  std::unique_ptr<DagBag> dag_bag_;
};

}  // namespace baton::cli
