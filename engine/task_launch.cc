// Building one try's launch: the same rendered command, BATON_* environment and
// log path whatever executor runs it.
#include "engine/task_launch.h"

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/template.h"

namespace baton {
namespace {

// One path component from an id: run ids come from users (`dags trigger
// --run-id`), so a '/' or a ".." must not move the log elsewhere.
std::string PathComponent(const std::string& id) {
  if (id.empty() || id == "." || id == "..") return "_" + id;
  std::string out = id;
  for (char& c : out) {
    if (c == '/' || c == '\0') c = '_';
  }
  return out;
}

// "my-key.x" -> "MY_KEY_X": something a shell can name as $BATON_CONF_MY_KEY_X.
std::string EnvName(const std::string& key) {
  std::string out;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    out += std::isalnum(u) ? static_cast<char>(std::toupper(u)) : '_';
  }
  return out;
}

// Never throws: the parser already refused invalid UTF-8, and `replace` covers
// the rest.
std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A conf value as a command or a shell sees it: strings without JSON quotes.
std::string ConfValueText(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : DumpJson(value);
}

// The run's conf; anything but a JSON object reads as an empty one.
nlohmann::json ParseConf(const std::string& conf_json) {
  nlohmann::json conf = nlohmann::json::parse(conf_json, nullptr, /*allow_exceptions=*/false);
  if (conf.is_discarded() || !conf.is_object()) return nlohmann::json::object();
  return conf;
}

}  // namespace

std::string TaskLogPath(const std::string& logs_folder, const TaskInstanceKey& key,
                        int try_number) {
  return (std::filesystem::path(logs_folder) / PathComponent(key.dag_id) /
          PathComponent(key.run_id) / PathComponent(key.task_id) /
          (std::to_string(try_number) + ".log"))
      .string();
}

TaskLaunch BuildTaskLaunch(const Dag& dag, const TaskSpec& task, const DagRun& run, int try_number,
                           const std::string& logs_folder) {
  TaskLaunch launch;
  launch.key = TaskInstanceKey{dag.dag_id, run.run_id, task.id};
  launch.try_number = try_number;
  launch.cwd = task.cwd;
  launch.timeout = task.timeout;
  launch.queue = task.queue;
  launch.max_tries = task.retries + 1;
  launch.retry_delay = task.RetryDelayBefore(try_number + 1);
  launch.log_path = TaskLogPath(logs_folder, launch.key, try_number);

  const std::string ds = FormatDate(run.logical_date);
  std::string ds_nodash;
  for (char c : ds) {
    if (c != '-') ds_nodash += c;
  }
  const std::string logical_date = FormatIso8601(run.logical_date);
  std::map<std::string, std::string> variables = {
      {"ds", ds},
      {"ds_nodash", ds_nodash},
      {"ts", logical_date},
      {"logical_date", logical_date},
      {"data_interval_start", FormatIso8601(run.data_interval_start)},
      {"data_interval_end", FormatIso8601(run.data_interval_end)},
      {"run_id", run.run_id},
      {"dag_id", dag.dag_id},
      {"task_id", task.id},
      {"try_number", std::to_string(try_number)},
  };

  const nlohmann::json conf = ParseConf(run.conf_json);
  launch.env = {
      {"BATON_DAG_ID", dag.dag_id},
      {"BATON_TASK_ID", task.id},
      {"BATON_RUN_ID", run.run_id},
      {"BATON_LOGICAL_DATE", logical_date},
      {"BATON_DS", ds},
      {"BATON_TRY_NUMBER", std::to_string(try_number)},
      {"BATON_CONF", DumpJson(conf)},
  };
  for (const auto& [key, value] : conf.items()) {
    variables["conf." + key] = ConfValueText(value);
    if (value.is_primitive() && !value.is_null()) {
      launch.env["BATON_CONF_" + EnvName(key)] = ConfValueText(value);
    }
  }
  for (const auto& [name, value] : task.env) launch.env[name] = value;

  launch.command = RenderTemplate(task.command, variables);
  return launch;
}

}  // namespace baton
