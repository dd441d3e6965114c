// Trigger rules: when a task may run, given the final states of its upstream
// tasks. Pure logic, evaluated each time one of a task's upstreams finishes.
#pragma once

#include <optional>
#include <string_view>

#include "engine/task_state.h"

namespace baton {

enum class TriggerRule {
  kAllSuccess,
  kAllFailed,
  kAllDone,
  kOneSuccess,
  kOneFailed,
  kNoneFailed,
  kNoneFailedMinOneSuccess,
  kAlways,
};

std::string_view ToString(TriggerRule rule);
std::optional<TriggerRule> ParseTriggerRule(std::string_view name);

// How many of a task's upstream tasks have finished, by final state.
struct UpstreamTally {
  int total = 0;  // number of upstream tasks
  int success = 0;
  int failed = 0;
  int upstream_failed = 0;
  int skipped = 0;

  int done() const { return success + failed + upstream_failed + skipped; }
  // Counts one upstream that reached a finished state.
  void Add(TaskState finished_state);
};

enum class TriggerDecision {
  kWait,            // not decided yet: more upstreams must finish
  kRun,             // move to scheduled
  kSkip,            // move to skipped
  kUpstreamFailed,  // move to upstream_failed
};

// Airflow's semantics: all_success fails as soon as one upstream failed and skips
// when one was skipped; one_success runs as soon as one upstream succeeded; etc.
TriggerDecision EvaluateTriggerRule(TriggerRule rule, const UpstreamTally& tally);

}  // namespace baton
