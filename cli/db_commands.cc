// `baton db init` and `baton db check`: set up a Baton home and its metadata
// store, and check that the store is reachable and current.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "cli/commands.h"
#include "engine/mysql_url.h"

namespace baton::cli {
namespace {

namespace fs = std::filesystem;

Status CreateFolder(const std::string& what, const std::string& path) {
  std::error_code error;
  const bool created = fs::create_directories(path, error);
  if (error) return Status::IoError("cannot create " + what + " " + path + ": " + error.message());
  std::cout << (created ? "created " : "kept existing ") << what << ' ' << path << '\n';
  return Status::Ok();
}

// Writes the commented default baton.toml unless a file is already there.
Status WriteDefaultConfig(const std::string& path) {
  // "x": never overwrite, even a file that appeared since the config was read.
  std::FILE* file = std::fopen(path.c_str(), "wx");
  if (file == nullptr) {
    if (errno == EEXIST) {
      std::cout << "kept existing config " << path << '\n';
      return Status::Ok();
    }
    return Status::IoError("cannot create config " + path + ": " + std::strerror(errno));
  }
  const std::string text = DefaultConfigText();
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (std::fclose(file) != 0 || !written) {
    return Status::IoError("cannot write config " + path + ": " + std::strerror(errno));
  }
  std::cout << "wrote default config " << path << '\n';
  return Status::Ok();
}

Status InitDb(CliContext& context) {
  const Config& config = context.config();
  BATON_RETURN_IF_ERROR(CreateFolder("home", context.home()));
  if (context.config_file_exists()) {
    std::cout << "kept existing config " << context.config_path() << '\n';
  } else {
    BATON_RETURN_IF_ERROR(WriteDefaultConfig(context.config_path()));
  }
  BATON_RETURN_IF_ERROR(CreateFolder("dags folder", config.core.dags_folder));
  BATON_RETURN_IF_ERROR(CreateFolder("logs folder", config.core.logs_folder));

  auto store = context.unchecked_store();
  if (!store.ok()) return store.status();
  const std::string name = "metadata store " + HidePassword(config.store.url);
  // The store's own errors name it.
  auto before = (*store)->SchemaVersion();
  if (!before.ok()) return before.status();
  BATON_RETURN_IF_ERROR((*store)->Migrate());
  auto after = (*store)->SchemaVersion();
  if (!after.ok()) return after.status();
  if (*before == *after) {
    std::cout << name << " already at schema version " << *after << '\n';
  } else {
    std::cout << "migrated " << name << " from schema version " << *before << " to " << *after
              << '\n';
  }
  return Status::Ok();
}

Status CheckDb(CliContext& context) {
  const std::string name = "metadata store " + HidePassword(context.config().store.url);
  auto store = context.unchecked_store();
  // The store's own errors name it.
  if (!store.ok()) return store.status();
  auto version = (*store)->SchemaVersion();
  if (!version.ok()) return version.status();
  if (*version != Store::kSchemaVersion) {
    return Status::Unavailable(
        name + " is at schema version " + std::to_string(*version) + ", expected " +
        std::to_string(Store::kSchemaVersion) +
        (*version < Store::kSchemaVersion ? ": run `baton db init`" : ": upgrade baton"));
  }
  std::cout << name << ": schema version " << *version << "\nOK\n";
  return Status::Ok();
}

}  // namespace

void AddDbCommands(CLI::App& app, CliContext& context) {
  CLI::App* db = app.add_subcommand("db", "Set up and check the metadata store");
  db->require_subcommand(1);

  CLI::App* init = db->add_subcommand(
      "init",
      "Create $BATON_HOME, a default baton.toml (never overwritten), the dags and logs "
      "folders, and the store's schema; safe to run again");
  OnCommand(init, context, InitDb);

  CLI::App* check = db->add_subcommand(
      "check", "Check that the store is reachable and at this baton's schema version");
  OnCommand(check, context, CheckDb);
}

}  // namespace baton::cli
