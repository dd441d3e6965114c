// The messages that cross Redis, as JSON: a try handed to an agent, and the
// event an agent publishes after it recorded the end of a try in a task
// instance. Neither is authoritative: the store is; a lost or
// duplicated message costs at most a dropped claim or a later reconciliation.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/executor.h"
#include "engine/store.h"

namespace baton {

std::string EncodeTaskMessage(const TaskLaunch& launch);
// InvalidInput, naming the missing or mistyped field, for a message that is not
// one of ours.
Result<TaskLaunch> DecodeTaskMessage(std::string_view json);

std::string EncodeInstanceEvent(const TaskInstance& instance);
Result<TaskInstance> DecodeInstanceEvent(std::string_view json);

}  // namespace baton
