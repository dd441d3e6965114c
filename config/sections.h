// Internal to config/: reading one section of baton.toml at a time.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/toml_fields.h"

namespace baton::config_internal {

// What a missing section reads as, so that every default stays.
const toml::table& EmptyTable();

// Reads one section through `read`, after rejecting its unknown keys.
template <typename ReadSection>
Status ReadSectionOf(const FieldReader& root, const std::string& name,
                     const std::vector<std::string>& keys, ReadSection read) {
  Result<const toml::table*> table = root.ReadTable(name);
  if (!table.ok()) return table.status();
  FieldReader section(*table ? **table : EmptyTable(), name + ".");
  BATON_RETURN_IF_ERROR(section.CheckKnownKeys(keys));
  return read(section);
}

// The sections a cluster adds: [store], [executor], [redis], [agent].
Status ReadClusterSections(const FieldReader& root, Config* config);

// The failover controller's sections: [failover] and [alerts].
Status ReadFailoverSections(const FieldReader& root, Config* config);

}  // namespace baton::config_internal
