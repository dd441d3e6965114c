// The backend-independent parts of the store: run type names, task instance
// keys, and OpenStore, which picks the backend a store URL names.
#include "engine/store.h"

#include "common/enum_names.h"

#include <array>
#include <filesystem>
#include <tuple>
#include <utility>

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
    "or mysql://...";

Status BadUrl(const std::string& url, std::string_view problem) {
  return Status::InvalidInput("store url '" + url + "': " + std::string(problem) + "; " +
                              std::string(kAcceptedUrls));
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

Result<std::unique_ptr<Store>> OpenStore(const std::string& url, const std::string& home) {
  if (url.starts_with("sqlite:")) {
    auto path = SqlitePath(url, home);
    if (!path.ok()) return path.status();
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(path->string()));
  }
  // The URL may carry a password: do not repeat it.
  if (url.starts_with("mysql://")) {
    return Status::InvalidInput("MySQL/MariaDB store is not available in this build");
  }
  return BadUrl(url, "unknown kind of store");
}

}  // namespace baton
