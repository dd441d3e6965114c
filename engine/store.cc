// The backend-independent parts of the store: run type names, task instance
// keys, OpenStore, which picks the backend a store URL names, and the schema
// version check.
#include "engine/store.h"

#include <array>
#include <filesystem>
#include <tuple>
#include <utility>

#include "common/enum_names.h"
#include "common/secret.h"
#include "engine/mysql_store.h"
#include "engine/mysql_url.h"
#include "engine/sqlite_store.h"

namespace baton {
namespace {

constexpr std::array<std::pair<RunType, std::string_view>, 3> kRunTypeNames{{
    {RunType::kScheduled, "scheduled"},
    {RunType::kManual, "manual"},
    {RunType::kBackfill, "backfill"},
}};

constexpr std::string_view kAcceptedUrls =
    "expected sqlite:///absolute/path.db, sqlite:relative/path.db (relative to the Baton home) "
    "or mysql://USER@HOST[:PORT]/DATABASE";

Status BadUrl(const std::string& url, std::string_view problem) {
  return Status::InvalidInput("store url '" + HidePassword(url) + "': " + std::string(problem) +
                              "; " + std::string(kAcceptedUrls));
}

// "sqlite:///abs/path.db" or "sqlite:rel/path.db" to a file path.
Result<std::filesystem::path> SqlitePath(const std::string& url, const std::string& home) {
  std::string_view rest = std::string_view(url).substr(std::string_view("sqlite:").size());
  std::filesystem::path path;
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    if (!rest.starts_with('/')) return BadUrl(url, "an SQLite url names a file, not a host");
    path = rest;
  } else {
    if (rest.empty()) return BadUrl(url, "no database file is named");
    path = std::filesystem::path(home) / rest;
  }
  if (!path.has_filename()) return BadUrl(url, "it names a folder, not a database file");
  return path.lexically_normal();
}

}  // namespace

std::string_view ToString(RunType type) { return EnumName(kRunTypeNames, type); }

std::optional<RunType> ParseRunType(std::string_view name) {
  return EnumValue<RunType>(kRunTypeNames, name);
}

bool TaskInstanceKey::operator<(const TaskInstanceKey& other) const {
  return std::tie(dag_id, run_id, task_id) < std::tie(other.dag_id, other.run_id, other.task_id);
}

std::string TaskInstanceKey::ToString() const { return dag_id + "/" + run_id + "/" + task_id; }

Result<std::unique_ptr<Store>> OpenStore(const StoreConfig& config, const std::string& home) {
  const std::string& url = config.url;
  if (url.starts_with("sqlite:")) {
    auto path = SqlitePath(url, home);
    if (!path.ok()) return path.status();
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(path->string()));
  }
  if (url.starts_with("mysql://")) {
    auto parsed = ParseMySqlUrl(url);
    if (!parsed.ok()) return parsed.status();
    auto password = ReadSecret("BATON_STORE_PASSWORD", config.password_file);
    if (!password.ok()) return password.status().WithContext("store " + parsed->Name());
    return std::unique_ptr<Store>(
        std::make_unique<MySqlStore>(std::move(*parsed), std::move(*password), config));
  }
  return BadUrl(url, "unknown kind of store");
}

Status CheckSchemaCurrent(Store& store, const std::string& url) {
  auto version = store.SchemaVersion();
  // The backends' errors name the store already.
  if (!version.ok()) return version.status();
  const std::string has = "the store " + HidePassword(url) + " has schema version " + std::to_string(*version);
  if (*version < Store::kSchemaVersion) {
    return Status::Unavailable(has + ", this baton needs " + std::to_string(Store::kSchemaVersion) +
                               ": run `baton db init`");
  }
  if (*version > Store::kSchemaVersion) {
    return Status::Unavailable(has + ", newer than this baton's " +
                               std::to_string(Store::kSchemaVersion) + ": upgrade baton");
  }
  return Status::Ok();
}

}  // namespace baton
