#include "engine/trigger_rule.h"

#include <array>
#include <utility>

#include "common/enum_names.h"

namespace baton {
namespace {

constexpr std::array<std::pair<TriggerRule, std::string_view>, 8> kRuleNames{{
    {TriggerRule::kAllSuccess, "all_success"},
    {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},
    {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},
    {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kNoneFailedMinOneSuccess, "none_failed_min_one_success"},
    {TriggerRule::kAlways, "always"},
}};

}  // namespace

std::string_view ToString(TriggerRule rule) { return EnumName(kRuleNames, rule); }

std::optional<TriggerRule> ParseTriggerRule(std::string_view name) {
  return EnumValue<TriggerRule>(kRuleNames, name);
}

void UpstreamTally::Add(TaskState finished_state) {
  switch (finished_state) {
    case TaskState::kSuccess:
      ++success;
      break;
    case TaskState::kFailed:
      ++failed;
      break;
    case TaskState::kUpstreamFailed:
      ++upstream_failed;
      break;
    case TaskState::kSkipped:
      ++skipped;
      break;
    default:
      break;  // not finished: nothing to count
  }
}

TriggerDecision EvaluateTriggerRule(TriggerRule rule, const UpstreamTally& tally) {
  // As in Airflow, a task without upstreams is never held by its trigger rule.
  if (tally.total == 0) return TriggerDecision::kRun;
  const bool all_done = tally.done() >= tally.total;
  const int any_failure = tally.failed + tally.upstream_failed;
  switch (rule) {
    case TriggerRule::kAlways:
      return TriggerDecision::kRun;
    case TriggerRule::kAllSuccess:
      if (any_failure > 0) return TriggerDecision::kUpstreamFailed;
      if (tally.skipped > 0) return TriggerDecision::kSkip;
      return all_done ? TriggerDecision::kRun : TriggerDecision::kWait;
    case TriggerRule::kAllFailed:
      if (tally.success > 0 || tally.skipped > 0) return TriggerDecision::kSkip;
      return all_done ? TriggerDecision::kRun : TriggerDecision::kWait;
    case TriggerRule::kAllDone:
      return all_done ? TriggerDecision::kRun : TriggerDecision::kWait;
    case TriggerRule::kOneSuccess:
      if (tally.success > 0) return TriggerDecision::kRun;
      if (!all_done) return TriggerDecision::kWait;
      return any_failure > 0 ? TriggerDecision::kUpstreamFailed : TriggerDecision::kSkip;
    case TriggerRule::kOneFailed:
      if (any_failure > 0) return TriggerDecision::kRun;
      return all_done ? TriggerDecision::kSkip : TriggerDecision::kWait;
    case TriggerRule::kNoneFailed:
      if (any_failure > 0) return TriggerDecision::kUpstreamFailed;
      return all_done ? TriggerDecision::kRun : TriggerDecision::kWait;
    case TriggerRule::kNoneFailedMinOneSuccess:
      if (any_failure > 0) return TriggerDecision::kUpstreamFailed;
      if (!all_done) return TriggerDecision::kWait;
      return tally.success > 0 ? TriggerDecision::kRun : TriggerDecision::kSkip;
  }
  return TriggerDecision::kWait;
}

}  // namespace baton
