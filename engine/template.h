// Placeholders in task commands: "{{ ds }}", "{{ run_id }}", "{{ conf.key }}", ...
// rendered just before a try starts.
#pragma once

#include <map>
#include <vector>
#include <string>

#include "common/status.h"

namespace baton {

// The names a command may use, besides "conf.KEY".
const std::vector<std::string>& TemplateVariableNames();

// Checks that every placeholder in `command` is well formed and known; the error
// names the placeholder and its offset.
Status ValidateTemplate(const std::string& command);

// Replaces each "{{ name }}" with variables[name]; "conf.KEY" looks up "conf.KEY"
// and renders as empty when absent.
std::string RenderTemplate(const std::string& command,
                           const std::map<std::string, std::string>& variables);

}  // namespace baton
