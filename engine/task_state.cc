#include "engine/task_state.h"

#include <array>
#include <utility>

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

template <typename Enum, size_t N>
std::string_view NameOf(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum value) {
  for (const auto& [state, name] : names) {
    if (state == value) return name;
  }
  return "unknown";
}

template <typename Enum, size_t N>
std::optional<Enum> ValueOf(const std::array<std::pair<Enum, std::string_view>, N>& names,
                            std::string_view wanted) {
  for (const auto& [state, name] : names) {
    if (name == wanted) return state;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(TaskState state) { return NameOf(kTaskStateNames, state); }
std::string_view ToString(RunState state) { return NameOf(kRunStateNames, state); }
std::optional<TaskState> ParseTaskState(std::string_view name) { return ValueOf(kTaskStateNames, name); }
std::optional<RunState> ParseRunState(std::string_view name) { return ValueOf(kRunStateNames, name); }

bool IsFinished(TaskState state) {
  return state == TaskState::kSuccess || state == TaskState::kFailed ||
         state == TaskState::kUpstreamFailed || state == TaskState::kSkipped;
}

bool IsFinished(RunState state) { return state == RunState::kSuccess || state == RunState::kFailed; }

}  // namespace baton
