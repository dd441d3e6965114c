// DagBag: the DAGs of a dags folder, re-read when their files change. A broken
// file becomes an ImportError and the other DAGs keep their last good version.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "engine/dag.h"
#include "engine/dag_file.h"
#include "engine/store.h"

namespace baton {

// The folder's *.toml files, sorted (none when the folder does not exist);
// nullopt when it cannot be listed for another reason.
std::optional<std::vector<std::string>> ListDagFiles(const std::string& folder);

// What the store records of a DAG read at `parsed`.
DagRecord DagRecordOf(const Dag& dag, TimePoint parsed);

class DagBag {
 public:
  DagBag(std::string folder, DagFileContext context, const Clock& clock = DefaultClock());

  // Reads new and changed *.toml files (by size and modification time), drops
  // DAGs whose file is gone. Returns true when any DAG or error changed.
  bool Refresh();

  // By dag_id.
  const std::map<std::string, std::shared_ptr<const Dag>>& dags() const { return dags_; }
  std::shared_ptr<const Dag> Find(const std::string& dag_id) const;
  const std::vector<ImportError>& errors() const { return errors_; }

 private:
  struct FileState {
    std::filesystem::file_time_type modified;
    uintmax_t size = 0;
    std::shared_ptr<const Dag> dag;    // the last version that loaded, if any
    std::optional<ImportError> error;  // why the current contents do not load
  };

  // Recomputes dags_ and errors_ from files_; true when either changed.
  bool Rebuild();

  std::string folder_;
  DagFileContext context_;
  const Clock& clock_;
  std::map<std::string, FileState> files_;  // by path
  std::map<std::string, std::shared_ptr<const Dag>> dags_;
  std::vector<ImportError> errors_;
};

}  // namespace baton
