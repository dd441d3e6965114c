// DAG files: TOML in, a validated Dag out. Each check reports the position of
// the value at fault, and the Dag is only built once every check has passed.
#include "engine/dag_file.h"

#include <algorithm>
#include <set>
#include <vector>

#include "config/toml_fields.h"
#include "engine/template.h"

namespace baton {
namespace {

// The keys [defaults] may set: everything a task has but its identity and wiring.
const std::vector<std::string>& SharedTaskKeys() {
  static const std::vector<std::string> keys = {
      "trigger_rule",    "retries", "retry_delay", "retry_exponential_backoff",
      "max_retry_delay", "timeout", "pool",        "priority",
      "queue",           "env",     "cwd"};
  return keys;
}

const std::vector<std::string>& PerTaskKeys() {
  static const std::vector<std::string> keys = {"id", "command", "upstream"};
  return keys;
}

const std::vector<std::string>& TaskKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> all = PerTaskKeys();
    all.insert(all.end(), SharedTaskKeys().begin(), SharedTaskKeys().end());
    return all;
  }();
  return keys;
}

const std::vector<std::string>& TopLevelKeys() {
  static const std::vector<std::string> keys = {"dag_id",
                                                "description",
                                                "schedule",
                                                "timezone",
                                                "start_date",
                                                "end_date",
                                                "catchup",
                                                "max_active_runs",
                                                "max_active_tasks",
                                                "paused_on_create",
                                                "tags",
                                                "defaults",
                                                "task"};
  return keys;
}

const std::vector<std::string>& TriggerRuleNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (int rule = static_cast<int>(TriggerRule::kAllSuccess);
         rule <= static_cast<int>(TriggerRule::kAlways); ++rule) {
      all.emplace_back(ToString(static_cast<TriggerRule>(rule)));
    }
    return all;
  }();
  return names;
}

bool IsValidId(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

// A required identifier (dag_id, a task's id).
Status ReadId(const FieldReader& reader, std::string_view key, std::string* out) {
  if (!reader.Find(key)) return reader.MissingError(key);
  BATON_RETURN_IF_ERROR(reader.ReadString(key, out));
  if (!IsValidId(*out)) {
    return reader.Error(key,
                        "'" + *out + "' is not a valid id (use letters, digits, '_', '.' and '-')");
  }
  return Status::Ok();
}

// The settings a task may inherit from [defaults], read over `task`.
Status ReadTaskSettings(const FieldReader& reader, const std::vector<std::string>& pools,
                        TaskSpec* task) {
  std::string rule(ToString(task->trigger_rule));
  BATON_RETURN_IF_ERROR(reader.ReadChoice("trigger_rule", TriggerRuleNames(), &rule));
  task->trigger_rule = *ParseTriggerRule(rule);
  BATON_RETURN_IF_ERROR(reader.ReadInt("retries", &task->retries, 0));
  BATON_RETURN_IF_ERROR(reader.ReadDuration("retry_delay", &task->retry_delay));
  BATON_RETURN_IF_ERROR(
      reader.ReadBool("retry_exponential_backoff", &task->retry_exponential_backoff));
  BATON_RETURN_IF_ERROR(reader.ReadDuration("max_retry_delay", &task->max_retry_delay));
  BATON_RETURN_IF_ERROR(reader.ReadDuration("timeout", &task->timeout));
  if (reader.Find("timeout") && task->timeout->count() == 0) {
    // A zero timeout would kill every try as it starts.
    return reader.Error("timeout", "must be longer than 0s");
  }
  BATON_RETURN_IF_ERROR(reader.ReadNonEmptyString("pool", &task->pool));
  if (std::find(pools.begin(), pools.end(), task->pool) == pools.end()) {
    return reader.Error("pool", "unknown pool '" + task->pool + "'" +
                                    DidYouMean(task->pool, pools) +
                                    "; declared pools: " + JoinNames(pools));
  }
  BATON_RETURN_IF_ERROR(reader.ReadInt("priority", &task->priority));
  BATON_RETURN_IF_ERROR(reader.ReadNonEmptyString("queue", &task->queue));
  BATON_RETURN_IF_ERROR(reader.ReadStringMap("env", &task->env));
  return reader.ReadString("cwd", &task->cwd);
}

// A task as read, with what later checks need to point back into the file.
struct TaskEntry {
  TaskSpec spec;
  const toml::node* id_node = nullptr;
  std::vector<const toml::node*> upstream_nodes;  // parallel to spec.upstream
};

Status ReadOneTask(const toml::node& node, const TaskSpec& defaults,
                   const std::vector<std::string>& pools, TaskEntry* out) {
  const toml::table* table = node.as_table();
  if (!table) {
    return FieldError(node.source(), "task",
                      "expected a table ([[task]]), got " + std::string(TomlTypeName(node)));
  }
  FieldReader reader(*table, "");
  BATON_RETURN_IF_ERROR(reader.CheckKnownKeys(TaskKeys()));
  out->spec = defaults;
  BATON_RETURN_IF_ERROR(ReadId(reader, "id", &out->spec.id));
  out->id_node = reader.Find("id");
  if (!reader.Find("command")) return reader.MissingError("command");
  BATON_RETURN_IF_ERROR(reader.ReadNonEmptyString("command", &out->spec.command));
  if (Status valid = ValidateTemplate(out->spec.command); !valid.ok()) {
    return reader.Error("command", valid.message());
  }
  BATON_RETURN_IF_ERROR(reader.ReadStringArray("upstream", &out->spec.upstream));
  if (const toml::node* upstream = reader.Find("upstream")) {
    std::set<std::string> seen;
    for (const toml::node& element : *upstream->as_array()) {
      const std::string& name = element.as_string()->get();
      if (!seen.insert(name).second) {
        return FieldError(element.source(), "upstream", "'" + name + "' is listed twice");
      }
      out->upstream_nodes.push_back(&element);
    }
  }
  return ReadTaskSettings(reader, pools, &out->spec);
}

Status ReadDefaults(const FieldReader& root, const std::vector<std::string>& pools,
                    TaskSpec* defaults) {
  Result<const toml::table*> table = root.ReadTable("defaults");
  if (!table.ok()) return table.status();
  if (!*table) return Status::Ok();
  FieldReader reader(**table, "defaults.");
  for (const auto& key : PerTaskKeys()) {
    if (reader.Find(key)) return reader.Error(key, "is per task: set it in each [[task]]");
  }
  BATON_RETURN_IF_ERROR(reader.CheckKnownKeys(SharedTaskKeys()));
  return ReadTaskSettings(reader, pools, defaults);
}

Status ReadTasks(const FieldReader& root, const TaskSpec& defaults,
                 const std::vector<std::string>& pools, std::vector<TaskEntry>* tasks) {
  const toml::node* node = root.Find("task");
  if (!node) return FieldError(root.table().source(), "task", "a DAG needs at least one [[task]]");
  const toml::array* entries = node->as_array();
  if (!entries) {
    return root.Error(
        "task", "expected an array of tables ([[task]]), got " + std::string(TomlTypeName(*node)));
  }
  if (entries->empty()) return root.Error("task", "a DAG needs at least one [[task]]");
  std::map<std::string, const TaskEntry*> by_id;
  tasks->resize(entries->size());
  for (size_t i = 0; i < entries->size(); ++i) {
    TaskEntry& task = (*tasks)[i];
    BATON_RETURN_IF_ERROR(ReadOneTask(*entries->get(i), defaults, pools, &task));
    auto [existing, inserted] = by_id.emplace(task.spec.id, &task);
    if (!inserted) {
      return FieldError(task.id_node->source(), "id",
                        "duplicate task id '" + task.spec.id + "' (first defined at " +
                            SourcePosition(existing->second->id_node->source()) + ")");
    }
  }
  std::vector<std::string> ids;
  for (const auto& task : *tasks) ids.push_back(task.spec.id);
  for (const auto& task : *tasks) {
    for (size_t i = 0; i < task.spec.upstream.size(); ++i) {
      const std::string& name = task.spec.upstream[i];
      if (by_id.count(name)) continue;
      return FieldError(task.upstream_nodes[i]->source(), "upstream",
                        "unknown task '" + name + "'" + DidYouMean(name, ids));
    }
  }
  return Status::Ok();
}

// Kahn's algorithm, always taking the earliest task in the file among those
// ready, so the order is stable. On a cycle, names it and points at the
// upstream entry that closes it.
Status TopologicalOrder(const std::vector<TaskEntry>& tasks, std::vector<int>* order) {
  const int count = static_cast<int>(tasks.size());
  std::map<std::string, int> index;
  for (int i = 0; i < count; ++i) index[tasks[i].spec.id] = i;
  std::vector<std::vector<int>> downstream(count);
  std::vector<int> waiting_on(count, 0);
  std::set<int> ready;
  for (int i = 0; i < count; ++i) {
    for (const auto& name : tasks[i].spec.upstream) downstream[index[name]].push_back(i);
    waiting_on[i] = static_cast<int>(tasks[i].spec.upstream.size());
    if (waiting_on[i] == 0) ready.insert(i);
  }
  std::vector<bool> placed(count, false);
  while (!ready.empty()) {
    const int next = *ready.begin();
    ready.erase(ready.begin());
    order->push_back(next);
    placed[next] = true;
    for (int child : downstream[next]) {
      if (--waiting_on[child] == 0) ready.insert(child);
    }
  }
  if (static_cast<int>(order->size()) == count) return Status::Ok();

  // Every task left waits on another task left, so walking upstream from any of
  // them must come back to a task already seen.
  std::vector<int> path;
  std::map<int, size_t> position;
  int current = static_cast<int>(std::find(placed.begin(), placed.end(), false) - placed.begin());
  while (!position.count(current)) {
    position[current] = path.size();
    path.push_back(current);
    for (const auto& name : tasks[current].spec.upstream) {
      if (!placed[index[name]]) {
        current = index[name];
        break;
      }
    }
  }
  // The walk went downstream to upstream; print the cycle the way work flows,
  // starting from its earliest task in the file.
  std::vector<int> cycle(path.begin() + position[current], path.end());
  std::reverse(cycle.begin(), cycle.end());
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  std::string text;
  for (int task : cycle) text += tasks[task].spec.id + " -> ";
  text += tasks[cycle.front()].spec.id;

  const TaskEntry& first = tasks[cycle.front()];
  const std::string& closing = tasks[cycle.back()].spec.id;
  const auto& names = first.spec.upstream;
  const size_t entry = std::find(names.begin(), names.end(), closing) - names.begin();
  return FieldError(first.upstream_nodes[entry]->source(), "upstream", "cycle: " + text);
}

}  // namespace

Result<Dag> ParseDagText(const std::string& text, const std::string& display_name,
                         const DagFileContext& context) {
  Result<toml::table> document = ParseToml(text, display_name);
  if (!document.ok()) return document.status();
  FieldReader root(*document, "");
  BATON_RETURN_IF_ERROR(root.CheckKnownKeys(TopLevelKeys()));

  Dag dag;
  dag.file = display_name;
  BATON_RETURN_IF_ERROR(ReadId(root, "dag_id", &dag.dag_id));
  std::string description;
  BATON_RETURN_IF_ERROR(root.ReadString("description", &description));
  std::vector<std::string> tags;
  BATON_RETURN_IF_ERROR(root.ReadStringArray("tags", &tags));

  std::string time_zone = context.default_timezone;
  BATON_RETURN_IF_ERROR(root.ReadTimeZone("timezone", &time_zone));
  std::string schedule_spec;
  BATON_RETURN_IF_ERROR(root.ReadString("schedule", &schedule_spec));
  BATON_RETURN_IF_ERROR(root.ReadTime("start_date", &dag.start_date));
  BATON_RETURN_IF_ERROR(root.ReadTime("end_date", &dag.end_date));
  if (dag.start_date && dag.end_date && *dag.end_date < *dag.start_date) {
    return root.Error("end_date", "is before start_date (" + FormatIso8601(*dag.start_date) + ")");
  }
  BATON_RETURN_IF_ERROR(root.ReadBool("catchup", &dag.catchup));
  BATON_RETURN_IF_ERROR(root.ReadInt("max_active_runs", &dag.max_active_runs, 1));
  BATON_RETURN_IF_ERROR(root.ReadInt("max_active_tasks", &dag.max_active_tasks, 1));
  BATON_RETURN_IF_ERROR(root.ReadBool("paused_on_create", &dag.paused_on_create));

  Result<Schedule> schedule = Schedule::Parse(schedule_spec, time_zone);
  if (!schedule.ok()) {
    // With no schedule key the only thing that can be wrong is the inherited zone.
    return root.Find("schedule") ? root.Error("schedule", schedule.status().message())
                                 : root.Error("timezone", schedule.status().message());
  }
  if (schedule->kind() != Schedule::Kind::kNone && !dag.start_date) {
    return root.Error(
        "schedule",
        "'" + schedule_spec + "' needs a start_date: the first run's interval starts there");
  }
  dag.schedule = std::move(schedule).value();

  std::vector<std::string> pools(context.pools.begin(), context.pools.end());
  if (!context.pools.count(kDefaultPool)) pools.insert(pools.begin(), kDefaultPool);
  TaskSpec defaults;
  BATON_RETURN_IF_ERROR(ReadDefaults(root, pools, &defaults));
  std::vector<TaskEntry> tasks;
  BATON_RETURN_IF_ERROR(ReadTasks(root, defaults, pools, &tasks));
  std::vector<int> order;
  BATON_RETURN_IF_ERROR(TopologicalOrder(tasks, &order));
  for (int i : order) dag.tasks.push_back(std::move(tasks[i].spec));
  dag.IndexTasks();
  return dag;
}

Result<Dag> LoadDagFile(const std::string& path, const DagFileContext& context) {
  Result<std::string> text = ReadTextFile(path);
  if (!text.ok()) return text.status();
  return ParseDagText(*text, path, context);
}

DagFileContext MakeDagFileContext(const Config& config) {
  DagFileContext context;
  context.default_timezone = config.core.default_timezone;
  for (const auto& [pool, slots] : config.pools) context.pools.insert(pool);
  return context;
}

}  // namespace baton
