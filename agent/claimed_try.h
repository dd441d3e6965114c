// The records that pass between the agent's threads for one try: claimed by
// the intake, run on the event loop, recorded by the recorder.
#pragma once

#include <string>

#include "agent/claim_rules.h"
#include "common/time.h"
#include "engine/executor.h"
#include "engine/store.h"

namespace baton {

struct ClaimedTry {
  std::string message;  // exactly as taken, to remove it from the processing list
  TaskLaunch launch;    // as the message has it
  TaskInstance row;     // the running row the claim wrote
  TryId id() const { return {launch.key, launch.try_number}; }
};

struct EndedTry {
  ClaimedTry claimed;
  TaskOutcome outcome;
  int pid = 0;  // 0 when it never started
  TimePoint ended_at;
};

}  // namespace baton
