#include "engine/task_state.h"

#include <array>
#include <utility>

#include "common/enum_names.h"

namespace baton {
namespace {

constexpr std::array<std::pair<TaskState, std::string_view>, 9> kTaskStateNames{{
    {TaskState::kNone, "none"},
    {TaskState::kScheduled, "scheduled"},
    {TaskState::kQueued, "queued"},
    {TaskState::kRunning, "running"},
    {TaskState::kSuccess, "success"},
    {TaskState::kFailed, "failed"},
    {TaskState::kUpForRetry, "up_for_retry"},
    {TaskState::kUpstreamFailed, "upstream_failed"},
    {TaskState::kSkipped, "skipped"},
}};

constexpr std::array<std::pair<RunState, std::string_view>, 4> kRunStateNames{{
    {RunState::kQueued, "queued"},
    {RunState::kRunning, "running"},
    {RunState::kSuccess, "success"},
    {RunState::kFailed, "failed"},
}};

}  // namespace

std::string_view ToString(TaskState state) { return EnumName(kTaskStateNames, state); }
std::string_view ToString(RunState state) { return EnumName(kRunStateNames, state); }
std::optional<TaskState> ParseTaskState(std::string_view name) {
  return EnumValue<TaskState>(kTaskStateNames, name);
}
std::optional<RunState> ParseRunState(std::string_view name) {
  return EnumValue<RunState>(kRunStateNames, name);
}

bool IsFinished(TaskState state) {
  return state == TaskState::kSuccess || state == TaskState::kFailed ||
         state == TaskState::kUpstreamFailed || state == TaskState::kSkipped;
}

bool IsFinished(RunState state) {
  return state == RunState::kSuccess || state == RunState::kFailed;
}

}  // namespace baton
