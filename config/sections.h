// Internal to config/: reading one section of baton.toml at a time.
#pragma once

#include <string>

#include "config/config.h"
#include "config/config_schema.h"
#include "config/toml_fields.h"

namespace baton::config_internal {

// What a missing section reads as, so that every default stays.
const toml::table& EmptyTable();

// Reads one section through `read`, after rejecting the keys the schema
// (config_schema.cc) does not list for it.
template <typename ReadSection>
Status ReadSectionOf(const FieldReader& root, const std::string& name, ReadSection read) {
  Result<const toml::table*> table = root.ReadTable(name);
  if (!table.ok()) return table.status();
  FieldReader section(*table ? **table : EmptyTable(), name + ".");
  BATON_RETURN_IF_ERROR(section.CheckKnownKeys(KnownKeys(name)));
  return read(section);
}

// The sections a cluster adds: [store], [executor], [redis], [agent].
Status ReadClusterSections(const FieldReader& root, Config* config);

// The failover controller's sections: [failover] and [alerts].
Status ReadFailoverSections(const FieldReader& root, Config* config);

}  // namespace baton::config_internal
