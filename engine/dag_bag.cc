// DagBag: keeps the dags folder's DAGs current without re-reading unchanged
// files, and without letting one broken or conflicting file disturb the others.
#include "engine/dag_bag.h"

#include <algorithm>
#include <system_error>
#include <utility>

namespace baton {
std::optional<std::vector<std::string>> ListDagFiles(const std::string& folder) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code error;
  fs::directory_iterator it(folder, error);
  if (error) {
    if (error == std::errc::no_such_file_or_directory) return paths;
    return std::nullopt;
  }
  for (; it != fs::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    std::error_code ignored;
    if (it->path().extension() == ".toml" && it->is_regular_file(ignored)) {
      paths.push_back(it->path().string());
    }
  }
  if (error) return std::nullopt;
  std::sort(paths.begin(), paths.end());
  return paths;
}


DagRecord DagRecordOf(const Dag& dag, TimePoint parsed) {
  DagRecord record;
  record.dag_id = dag.dag_id;
  record.file = dag.file;
  record.schedule = dag.schedule.spec();
  record.last_parsed = parsed;
  return record;
}

DagBag::DagBag(std::string folder, DagFileContext context, const Clock& clock)
    : folder_(std::move(folder)), context_(std::move(context)), clock_(clock) {}

bool DagBag::Refresh() {
  std::optional<std::vector<std::string>> paths = ListDagFiles(folder_);
  if (!paths) return false;
  std::map<std::string, FileState> files;
  for (const auto& path : *paths) {
    std::error_code error;
    const uintmax_t size = std::filesystem::file_size(path, error);
    if (error) continue;  // removed since the listing: gone, like its DAG
    const auto modified = std::filesystem::last_write_time(path, error);
    if (error) continue;
    auto known = files_.find(path);
    if (known != files_.end() && known->second.size == size && known->second.modified == modified) {
      files.emplace(path, std::move(known->second));
      continue;
    }
    FileState state;
    if (known != files_.end()) state = std::move(known->second);
    state.size = size;
    state.modified = modified;
    Result<Dag> dag = LoadDagFile(path, context_);
    if (dag.ok()) {
      state.dag = std::make_shared<const Dag>(std::move(dag).value());
      state.error.reset();
    } else {
      state.error = ImportError{path, dag.status().message(), clock_.Now()};
    }
    files.emplace(path, std::move(state));
  }
  files_ = std::move(files);
  return Rebuild();
}

std::shared_ptr<const Dag> DagBag::Find(const std::string& dag_id) const {
  auto it = dags_.find(dag_id);
  return it == dags_.end() ? nullptr : it->second;
}

bool DagBag::Rebuild() {
  // A dag_id defined by two files stays with the file that defined it first;
  // a new file must not take over a DAG that is already running.
  std::map<std::string, std::string> owner;  // dag_id -> path
  for (const auto& [path, state] : files_) {
    if (!state.dag) continue;
    auto current = dags_.find(state.dag->dag_id);
    if (current != dags_.end() && current->second->file == path) owner[state.dag->dag_id] = path;
  }
  for (const auto& [path, state] : files_) {
    if (state.dag) owner.emplace(state.dag->dag_id, path);
  }

  std::map<std::string, std::shared_ptr<const Dag>> dags;
  std::vector<ImportError> errors;
  for (const auto& [path, state] : files_) {
    if (state.dag && owner[state.dag->dag_id] == path) dags[state.dag->dag_id] = state.dag;
    if (state.error) {
      errors.push_back(*state.error);
    } else if (state.dag && owner[state.dag->dag_id] != path) {
      std::string message = path + ": dag_id '" + state.dag->dag_id + "' is already defined in " +
                            owner[state.dag->dag_id];
      // Keep the time the conflict was first seen.
      auto earlier = std::find_if(errors_.begin(), errors_.end(), [&](const ImportError& e) {
        return e.file == path && e.message == message;
      });
      const TimePoint recorded_at = earlier != errors_.end() ? earlier->recorded_at : clock_.Now();
      errors.push_back(ImportError{path, std::move(message), recorded_at});
    }
  }

  const bool changed =
      dags != dags_ || !std::equal(errors.begin(), errors.end(), errors_.begin(), errors_.end(),
                                   [](const ImportError& a, const ImportError& b) {
                                     return a.file == b.file && a.message == b.message &&
                                            a.recorded_at == b.recorded_at;
                                   });
  dags_ = std::move(dags);
  errors_ = std::move(errors);
  return changed;
}

}  // namespace baton
