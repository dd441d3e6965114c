#include "engine/task_message.h"

#include <nlohmann/json.hpp>

namespace baton {
namespace {

using nlohmann::json;

// Times travel as integer microseconds since the epoch, durations as milliseconds.
json OptionalTime(const std::optional<TimePoint>& time) {
  return time ? json(time->time_since_epoch().count()) : json(nullptr);
}

// Reads the fields of one message, remembering the first that is missing or of
// the wrong type, so the caller reports one clear error.
class FieldsOf {
 public:
  FieldsOf(const json& object, std::string_view what) : object_(object), what_(what) {}

  std::string String(const char* name) { return Get<std::string>(name, json::value_t::string); }
  int64_t Integer(const char* name) { return Get<int64_t>(name, json::value_t::number_integer); }
  std::optional<int64_t> OptionalInteger(const char* name) {
    auto it = object_.find(name);
    if (it == object_.end() || it->is_null()) return std::nullopt;
    return Integer(name);
  }
  std::optional<TimePoint> OptionalTime(const char* name) {
    std::optional<int64_t> micros = OptionalInteger(name);
    if (!micros) return std::nullopt;
    return TimePoint(Micros(*micros));
  }
  std::map<std::string, std::string> StringMap(const char* name) {
    std::map<std::string, std::string> out;
    auto it = object_.find(name);
    if (it == object_.end() || !it->is_object()) {
      Fail(name);
      return out;
    }
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string())
        Fail(name);
      else
        out[key] = value.get<std::string>();
    }
    return out;
  }
  void Fail(std::string_view name) {
    if (error_.empty())
      error_ = std::string(what_) + ": field '" + std::string(name) + "' is missing or mistyped";
  }
  const std::string& error() const { return error_; }

 private:
  template <typename T>
  T Get(const char* name, json::value_t type) {
    auto it = object_.find(name);
    bool matches =
        it != object_.end() &&
        (it->type() == type || (type == json::value_t::number_integer && it->is_number_integer()));
    if (!matches) {
      Fail(name);
      return T{};
    }
    return it->get<T>();
  }

  const json& object_;
  std::string_view what_;
  std::string error_;
};

Result<json> ParseObject(std::string_view text, std::string_view what) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return Status::InvalidInput(std::string(what) + ": not a JSON object");
  return parsed;
}

}  // namespace

std::string EncodeTaskMessage(const TaskLaunch& launch) {
  json message = {
      {"dag_id", launch.key.dag_id},
      {"run_id", launch.key.run_id},
      {"task_id", launch.key.task_id},
      {"try_number", launch.try_number},
      {"command", launch.command},
      {"env", launch.env},
      {"cwd", launch.cwd},
      {"queue", launch.queue},
      {"max_tries", launch.max_tries},
      {"retry_delay_ms", launch.retry_delay.count()},
      {"timeout_ms", launch.timeout ? json(launch.timeout->count()) : json(nullptr)},
  };
  if (launch.queued_columns) {
    message["queued_columns"] = {{"pool", launch.queued_columns->pool},
                                 {"priority", launch.queued_columns->priority},
                                 {"queue", launch.queued_columns->queue}};
  }
  return message.dump();
}

Result<TaskLaunch> DecodeTaskMessage(std::string_view text) {
  auto parsed = ParseObject(text, "task message");
  if (!parsed.ok()) return parsed.status();
  FieldsOf fields(*parsed, "task message");
  TaskLaunch launch;
  launch.key = {fields.String("dag_id"), fields.String("run_id"), fields.String("task_id")};
  launch.try_number = static_cast<int>(fields.Integer("try_number"));
  launch.command = fields.String("command");
  launch.env = fields.StringMap("env");
  launch.cwd = fields.String("cwd");
  launch.queue = fields.String("queue");
  launch.max_tries = static_cast<int>(fields.Integer("max_tries"));
  launch.retry_delay = Duration(fields.Integer("retry_delay_ms"));
  if (std::optional<int64_t> timeout = fields.OptionalInteger("timeout_ms")) {
    launch.timeout = Duration(*timeout);
  }
  if (!fields.error().empty()) return Status::InvalidInput(fields.error());
  auto queued = parsed->find("queued_columns");
  if (queued != parsed->end() && !queued->is_null()) {
    if (!queued->is_object()) {
      return Status::InvalidInput("task message: field 'queued_columns' is mistyped");
    }
    FieldsOf columns(*queued, "task message: queued_columns");
    launch.queued_columns = TaskLaunch::QueuedColumns{columns.String("pool"),
                                                      static_cast<int>(columns.Integer("priority")),
                                                      columns.String("queue")};
    if (!columns.error().empty()) return Status::InvalidInput(columns.error());
  }
  if (launch.try_number < 1 || launch.max_tries < 1) {
    return Status::InvalidInput("task message: try_number and max_tries must be at least 1");
  }
  return launch;
}

std::string EncodeInstanceEvent(const TaskInstance& instance) {
  json event = {
      {"dag_id", instance.key.dag_id},
      {"run_id", instance.key.run_id},
      {"task_id", instance.key.task_id},
      {"state", std::string(ToString(instance.state))},
      {"try_number", instance.try_number},
      {"start_date", OptionalTime(instance.start_date)},
      {"end_date", OptionalTime(instance.end_date)},
      {"exit_code", instance.exit_code ? json(*instance.exit_code) : json(nullptr)},
      {"next_retry_at", OptionalTime(instance.next_retry_at)},
      {"pool", instance.pool},
      {"priority", instance.priority},
      {"queue", instance.queue},
      {"hostname", instance.hostname},
      {"pid", instance.pid},
      {"owner_job_id", instance.owner_job_id},
  };
  return event.dump();
}

Result<TaskInstance> DecodeInstanceEvent(std::string_view text) {
  auto parsed = ParseObject(text, "instance event");
  if (!parsed.ok()) return parsed.status();
  FieldsOf fields(*parsed, "instance event");
  TaskInstance instance;
  instance.key = {fields.String("dag_id"), fields.String("run_id"), fields.String("task_id")};
  const std::string state = fields.String("state");
  instance.try_number = static_cast<int>(fields.Integer("try_number"));
  instance.start_date = fields.OptionalTime("start_date");
  instance.end_date = fields.OptionalTime("end_date");
  if (std::optional<int64_t> code = fields.OptionalInteger("exit_code")) {
    instance.exit_code = static_cast<int>(*code);
  }
  instance.next_retry_at = fields.OptionalTime("next_retry_at");
  instance.pool = fields.String("pool");
  instance.priority = static_cast<int>(fields.Integer("priority"));
  instance.queue = fields.String("queue");
  instance.hostname = fields.String("hostname");
  instance.pid = static_cast<int>(fields.Integer("pid"));
  instance.owner_job_id = fields.Integer("owner_job_id");
  if (!fields.error().empty()) return Status::InvalidInput(fields.error());
  std::optional<TaskState> parsed_state = ParseTaskState(state);
  if (!parsed_state) return Status::InvalidInput("instance event: unknown state '" + state + "'");
  instance.state = *parsed_state;
  return instance;
}

}  // namespace baton
