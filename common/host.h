// This host's identity as Baton records it next to the processes it runs.
#pragma once

#include <string>

namespace baton {

// The host name (gethostname), or "localhost" when it cannot be read.
std::string HostName();

}  // namespace baton
