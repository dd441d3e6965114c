// The configuration reference (docs/configuration.md), generated from the
// schema by `baton config reference`.
#pragma once

#include <string>

namespace baton {

// Every section and key of baton.toml as Markdown: type, default, the values
// the reader accepts, and what the key does.
std::string ConfigReferenceMarkdown();

}  // namespace baton
