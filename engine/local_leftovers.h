// Finding and killing what is left of a local try whose executor died: the try's
// shell dies with its parent, but a process it put in the background may not.
#pragma once

#include "engine/store.h"

namespace baton {

// Kills (SIGKILL) the processes of process group `pid` that carry the try's
// marker in their environment. Returns how many were found.
int KillLeftoverProcesses(const TaskInstanceKey& key, int try_number, int pid);

}  // namespace baton
