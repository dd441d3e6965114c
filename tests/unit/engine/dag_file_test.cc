// Tests for reading DAG files: every field, the defaults, the task order, and
// for each kind of mistake an error with the value's position and the field.
#include "engine/dag_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace baton {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kFile = "dags/etl.toml";

DagFileContext Context() {
  DagFileContext context;
  context.default_timezone = "UTC";
  context.pools = {"default_pool", "etl", "gpu"};
  return context;
}

Result<Dag> Parse(const std::string& text, const DagFileContext& context = Context()) {
  return ParseDagText(text, kFile, context);
}

std::vector<std::string> TaskIds(const Dag& dag) {
  std::vector<std::string> ids;
  for (const auto& task : dag.tasks) ids.push_back(task.id);
  return ids;
}

// Expects `text` to be rejected with a message starting at `position` and
// containing each of `parts`.
void ExpectError(const std::string& text, const std::string& position,
                 const std::vector<std::string>& parts) {
  Result<Dag> dag = Parse(text);
  ASSERT_FALSE(dag.ok()) << text;
  EXPECT_EQ(dag.status().code(), Status::Code::kInvalidInput);
  EXPECT_THAT(dag.status().message(), StartsWith(std::string(kFile) + ":" + position + ": "));
  for (const auto& part : parts) EXPECT_THAT(dag.status().message(), HasSubstr(part));
}

const char* const kHeader = "dag_id = \"etl\"\n";  // line 1

TEST(DagFileTest, ReadsEveryField) {
  Result<Dag> dag = Parse(R"(dag_id = "etl.daily-v2"
description = "Nightly load"
schedule = "30 2 * * *"
timezone = "Europe/Paris"
start_date = "2024-01-01T00:00:00Z"
end_date = 2025-01-01
catchup = true
max_active_runs = 2
max_active_tasks = 3
paused_on_create = true
tags = ["etl", "nightly"]

[defaults]
retries = 2
retry_delay = "30s"
retry_exponential_backoff = true
max_retry_delay = "10m"
timeout = "1h"
pool = "etl"
priority = 5
queue = "io"
env = { SHARED = "yes", OVERRIDE = "default" }
cwd = "/srv"
trigger_rule = "all_done"

[[task]]
id = "extract"
command = "extract --day {{ ds }}"

[[task]]
id = "load"
upstream = ["extract"]
command = "load"
trigger_rule = "one_success"
retries = 0
retry_delay = 60
retry_exponential_backoff = false
max_retry_delay = "1h"
timeout = "90s"
pool = "gpu"
priority = -1
queue = "gpu"
env = { OVERRIDE = "task", OWN = "1" }
cwd = "/tmp"
)");
  ASSERT_TRUE(dag.ok()) << dag.status().message();
  EXPECT_EQ(dag->dag_id, "etl.daily-v2");
  EXPECT_EQ(dag->file, kFile);
  EXPECT_EQ(dag->schedule.kind(), Schedule::Kind::kCron);
  EXPECT_EQ(dag->schedule.spec(), "30 2 * * *");
  EXPECT_EQ(dag->schedule.time_zone_name(), "Europe/Paris");
  EXPECT_EQ(dag->start_date, *ParseIso8601("2024-01-01T00:00:00Z"));
  EXPECT_EQ(dag->end_date, *ParseIso8601("2025-01-01"));
  EXPECT_TRUE(dag->catchup);
  EXPECT_EQ(dag->max_active_runs, 2);
  EXPECT_EQ(dag->max_active_tasks, 3);
  EXPECT_TRUE(dag->paused_on_create);
  ASSERT_EQ(TaskIds(*dag), (std::vector<std::string>{"extract", "load"}));

  const TaskSpec& extract = dag->tasks[0];
  EXPECT_EQ(extract.command, "extract --day {{ ds }}");
  EXPECT_TRUE(extract.upstream.empty());
  EXPECT_EQ(extract.trigger_rule, TriggerRule::kAllDone);
  EXPECT_EQ(extract.retries, 2);
  EXPECT_EQ(extract.retry_delay, seconds(30));
  EXPECT_TRUE(extract.retry_exponential_backoff);
  EXPECT_EQ(extract.max_retry_delay, minutes(10));
  EXPECT_EQ(extract.timeout, std::chrono::hours(1));
  EXPECT_EQ(extract.pool, "etl");
  EXPECT_EQ(extract.priority, 5);
  EXPECT_EQ(extract.queue, "io");
  EXPECT_EQ(extract.env,
            (std::map<std::string, std::string>{{"SHARED", "yes"}, {"OVERRIDE", "default"}}));
  EXPECT_EQ(extract.cwd, "/srv");

  const TaskSpec& load = dag->tasks[1];
  EXPECT_EQ(load.upstream, (std::vector<std::string>{"extract"}));
  EXPECT_EQ(load.trigger_rule, TriggerRule::kOneSuccess);
  EXPECT_EQ(load.retries, 0);
  EXPECT_EQ(load.retry_delay, seconds(60));
  EXPECT_FALSE(load.retry_exponential_backoff);
  EXPECT_EQ(load.max_retry_delay, std::chrono::hours(1));
  EXPECT_EQ(load.timeout, seconds(90));
  EXPECT_EQ(load.pool, "gpu");
  EXPECT_EQ(load.priority, -1);
  EXPECT_EQ(load.queue, "gpu");
  EXPECT_EQ(load.env, (std::map<std::string, std::string>{
                          {"SHARED", "yes"}, {"OVERRIDE", "task"}, {"OWN", "1"}}));
  EXPECT_EQ(load.cwd, "/tmp");
}

TEST(DagFileTest, MinimalDagTakesTheDefaults) {
  Result<Dag> dag = Parse(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"true\"\n");
  ASSERT_TRUE(dag.ok()) << dag.status().message();
  EXPECT_EQ(dag->schedule.kind(), Schedule::Kind::kNone);
  EXPECT_EQ(dag->schedule.time_zone_name(), "UTC");
  EXPECT_FALSE(dag->start_date);
  EXPECT_FALSE(dag->end_date);
  EXPECT_FALSE(dag->catchup);
  EXPECT_EQ(dag->max_active_runs, 16);
  EXPECT_EQ(dag->max_active_tasks, 16);
  EXPECT_FALSE(dag->paused_on_create);
  ASSERT_EQ(dag->tasks.size(), 1u);
  const TaskSpec& task = dag->tasks[0];
  EXPECT_EQ(task.trigger_rule, TriggerRule::kAllSuccess);
  EXPECT_EQ(task.retries, 0);
  EXPECT_EQ(task.retry_delay, minutes(5));
  EXPECT_FALSE(task.max_retry_delay);
  EXPECT_FALSE(task.timeout);
  EXPECT_EQ(task.pool, "default_pool");
  EXPECT_EQ(task.priority, 1);
  EXPECT_EQ(task.queue, "default");
  EXPECT_TRUE(task.env.empty());
  EXPECT_TRUE(task.cwd.empty());
}

TEST(DagFileTest, TimeZoneComesFromTheContextUnlessSet) {
  DagFileContext context = Context();
  context.default_timezone = "America/New_York";
  Result<Dag> dag =
      Parse(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"true\"\n", context);
  ASSERT_TRUE(dag.ok()) << dag.status().message();
  EXPECT_EQ(dag->schedule.time_zone_name(), "America/New_York");
}

TEST(DagFileTest, ScheduleNoneAndPresets) {
  const std::string tasks = "[[task]]\nid = \"a\"\ncommand = \"true\"\n";
  Result<Dag> none = Parse(std::string(kHeader) + "schedule = \"none\"\n" + tasks);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->schedule.kind(), Schedule::Kind::kNone);
  Result<Dag> once =
      Parse(std::string(kHeader) + "schedule = \"@once\"\nstart_date = 2024-01-01\n" + tasks);
  ASSERT_TRUE(once.ok()) << once.status().message();
  EXPECT_EQ(once->schedule.kind(), Schedule::Kind::kOnce);
  Result<Dag> daily =
      Parse(std::string(kHeader) + "schedule = \"@daily\"\nstart_date = 2024-01-01\n" + tasks);
  ASSERT_TRUE(daily.ok()) << daily.status().message();
  EXPECT_EQ(daily->schedule.kind(), Schedule::Kind::kCron);
}

TEST(DagFileTest, StartDateAcceptsStringsAndTomlDates) {
  const std::string tasks = "[[task]]\nid = \"a\"\ncommand = \"true\"\n";
  const TimePoint expected = *ParseIso8601("2024-03-10T06:30:00Z");
  for (const char* value :
       {"\"2024-03-10T06:30:00Z\"", "\"2024-03-10 08:30+02:00\"", "2024-03-10T06:30:00Z",
        "2024-03-10T07:30:00+01:00", "2024-03-10T06:30:00"}) {
    Result<Dag> dag = Parse(std::string(kHeader) + "start_date = " + value + "\n" + tasks);
    ASSERT_TRUE(dag.ok()) << value << ": " << dag.status().message();
    EXPECT_EQ(dag->start_date, expected) << value;
  }
}

TEST(DagFileTest, TasksAreInTopologicalOrderStableWithTheFile) {
  Result<Dag> dag = Parse(std::string(kHeader) + R"(
[[task]]
id = "report"
upstream = ["load", "audit"]
command = "true"
[[task]]
id = "audit"
command = "true"
[[task]]
id = "load"
upstream = ["transform"]
command = "true"
[[task]]
id = "extract"
command = "true"
[[task]]
id = "transform"
upstream = ["extract"]
command = "true"
[[task]]
id = "notify"
command = "true"
)");
  ASSERT_TRUE(dag.ok()) << dag.status().message();
  EXPECT_EQ(TaskIds(*dag), (std::vector<std::string>{"audit", "extract", "transform", "load",
                                                     "report", "notify"}));
}

TEST(DagFileTest, MalformedToml) {
  ExpectError(std::string(kHeader) + "[[task]]\nid = \"a\ncommand = \"true\"\n", "3:8", {"string"});
  ExpectError("dag_id = \n", "1:10", {});
}

TEST(DagFileTest, UnknownTaskKeySuggestsTheClosest) {
  Result<Dag> dag = Parse(std::string(kHeader) + R"(
[[task]]
id = "a"
command = "true"
retires = 3
)");
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().message(),
            "dags/etl.toml:6:1: unknown key 'retires' (did you mean 'retries'?)");
}

TEST(DagFileTest, UnknownTopLevelKeySuggestsTheClosest) {
  ExpectError(std::string(kHeader) + "schedul = \"@daily\"\n", "2:1",
              {"unknown key 'schedul'", "did you mean 'schedule'?"});
  ExpectError(std::string(kHeader) + "[[tasks]]\nid = \"a\"\ncommand = \"true\"\n", "2:3",
              {"unknown key 'tasks'", "did you mean 'task'?"});
}

TEST(DagFileTest, UnknownDefaultsKeySuggestsTheClosest) {
  ExpectError(std::string(kHeader) + "[defaults]\nretry_dealy = \"1s\"\n", "3:1",
              {"unknown key 'defaults.retry_dealy'", "did you mean 'defaults.retry_delay'?"});
}

TEST(DagFileTest, DefaultsCannotSetPerTaskKeys) {
  ExpectError(std::string(kHeader) + "[defaults]\ncommand = \"true\"\n", "3:11",
              {"field 'defaults.command'", "per task"});
}

TEST(DagFileTest, WrongTypes) {
  const std::string task = "[[task]]\nid = \"a\"\ncommand = \"true\"\n";  // lines 2-4
  ExpectError("dag_id = 5\n" + task, "1:10", {"field 'dag_id': expected a string, got an integer"});
  ExpectError(std::string(kHeader) + "catchup = \"yes\"\n" + task, "2:11",
              {"field 'catchup'", "expected a boolean", "got a string"});
  ExpectError(std::string(kHeader) + "tags = \"etl\"\n" + task, "2:8",
              {"field 'tags'", "expected an array of strings, got a string"});
  ExpectError(std::string(kHeader) + "tags = [\"etl\", 3]\n" + task, "2:16",
              {"field 'tags'", "an integer"});
  ExpectError(std::string(kHeader) + "start_date = 12\n" + task, "2:14",
              {"field 'start_date'", "expected a date or date-time", "got an integer"});
  ExpectError(std::string(kHeader) + "max_active_runs = 1.5\n" + task, "2:19",
              {"field 'max_active_runs': expected an integer, got a floating-point number"});
  ExpectError(std::string(kHeader) + task + "retries = \"3\"\n", "5:11",
              {"field 'retries': expected an integer, got a string"});
  ExpectError(std::string(kHeader) + task + "upstream = \"b\"\n", "5:12",
              {"field 'upstream': expected an array of strings, got a string"});
  ExpectError(std::string(kHeader) + task + "env = { A = 1 }\n", "5:13",
              {"field 'env.A': expected a string, got an integer"});
  ExpectError(std::string(kHeader) + task + "env = \"A=1\"\n", "5:7",
              {"field 'env': expected a table, got a string"});
  ExpectError(std::string(kHeader) + "[task]\nid = \"a\"\ncommand = \"true\"\n", "2:1",
              {"field 'task'", "expected an array of tables", "got a table"});
  ExpectError(std::string(kHeader) + "defaults = 3\n" + task, "2:12",
              {"field 'defaults': expected a table, got an integer"});
}

TEST(DagFileTest, RequiredFields) {
  ExpectError("[[task]]\nid = \"a\"\ncommand = \"true\"\n", "1:1", {"field 'dag_id': is required"});
  ExpectError(std::string(kHeader) + "\n[[task]]\ncommand = \"true\"\n", "3:1",
              {"field 'id': is required"});
  ExpectError(std::string(kHeader) + "\n[[task]]\nid = \"a\"\n", "3:1",
              {"field 'command': is required"});
  ExpectError(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"\"\n", "4:11",
              {"field 'command'", "must not be empty"});
  ExpectError(kHeader, "1:1", {"field 'task'", "at least one [[task]]"});
}

TEST(DagFileTest, IdsUseALimitedCharacterSet) {
  ExpectError("dag_id = \"my dag\"\n", "1:10", {"field 'dag_id'", "'my dag' is not a valid id"});
  ExpectError(std::string(kHeader) + "[[task]]\nid = \"a/b\"\ncommand = \"true\"\n", "3:6",
              {"field 'id'", "'a/b' is not a valid id"});
}

TEST(DagFileTest, DuplicateTaskId) {
  ExpectError(std::string(kHeader) + R"([[task]]
id = "a"
command = "true"
[[task]]
id = "a"
command = "false"
)",
              "6:6", {"field 'id'", "duplicate task id 'a'", "first defined at dags/etl.toml:3:6"});
}

TEST(DagFileTest, UnknownUpstreamSuggestsTheClosestTask) {
  ExpectError(std::string(kHeader) + R"([[task]]
id = "extract"
command = "true"
[[task]]
id = "load"
upstream = ["extract", "extrat"]
command = "true"
)",
              "7:24", {"field 'upstream'", "unknown task 'extrat'", "did you mean 'extract'?"});
}

TEST(DagFileTest, UpstreamListedTwice) {
  ExpectError(std::string(kHeader) + R"([[task]]
id = "a"
command = "true"
[[task]]
id = "b"
upstream = ["a", "a"]
command = "true"
)",
              "7:18", {"field 'upstream'", "'a' is listed twice"});
}

TEST(DagFileTest, CycleIsNamed) {
  ExpectError(std::string(kHeader) + R"([[task]]
id = "start"
command = "true"
[[task]]
id = "a"
upstream = ["start", "c"]
command = "true"
[[task]]
id = "b"
upstream = ["a"]
command = "true"
[[task]]
id = "c"
upstream = ["b"]
command = "true"
[[task]]
id = "after"
upstream = ["c"]
command = "true"
)",
              "7:22", {"field 'upstream'", "cycle: a -> b -> c -> a"});
}

TEST(DagFileTest, SelfDependencyIsACycle) {
  ExpectError(
      std::string(kHeader) + "[[task]]\nid = \"a\"\nupstream = [\"a\"]\ncommand = \"true\"\n",
      "4:13", {"field 'upstream'", "cycle: a -> a"});
}

TEST(DagFileTest, BadCronIncludesTheCronError) {
  ExpectError(std::string(kHeader) +
                  "schedule = \"0 24 * * *\"\nstart_date = 2024-01-01\n"
                  "[[task]]\nid = \"a\"\ncommand = \"true\"\n",
              "2:12", {"field 'schedule'", "hour", "24"});
  ExpectError(std::string(kHeader) +
                  "schedule = \"@dayly\"\nstart_date = 2024-01-01\n"
                  "[[task]]\nid = \"a\"\ncommand = \"true\"\n",
              "2:12", {"field 'schedule'", "@dayly"});
}

TEST(DagFileTest, ScheduleNeedsAStartDate) {
  ExpectError(
      std::string(kHeader) + "schedule = \"@daily\"\n[[task]]\nid = \"a\"\ncommand = \"true\"\n",
      "2:12", {"field 'schedule'", "start_date"});
}

TEST(DagFileTest, EndDateBeforeStartDate) {
  ExpectError(std::string(kHeader) +
                  "start_date = 2024-02-01\nend_date = 2024-01-01\n"
                  "[[task]]\nid = \"a\"\ncommand = \"true\"\n",
              "3:12", {"field 'end_date'", "before start_date"});
}

TEST(DagFileTest, BadDateText) {
  ExpectError(std::string(kHeader) +
                  "start_date = \"yesterday\"\n[[task]]\nid = \"a\"\ncommand = \"true\"\n",
              "2:14", {"field 'start_date'", "'yesterday' is not a date"});
}

TEST(DagFileTest, UnknownTimeZone) {
  ExpectError(std::string(kHeader) +
                  "timezone = \"Europe/Pariss\"\n[[task]]\nid = \"a\"\ncommand = \"true\"\n",
              "2:12", {"field 'timezone'", "unknown time zone 'Europe/Pariss'"});
}

TEST(DagFileTest, UnknownContextTimeZoneIsReported) {
  DagFileContext context = Context();
  context.default_timezone = "Nowhere/Land";
  Result<Dag> dag =
      Parse(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"true\"\n", context);
  ASSERT_FALSE(dag.ok());
  EXPECT_THAT(dag.status().message(), StartsWith("dags/etl.toml:1:1: field 'timezone'"));
  EXPECT_THAT(dag.status().message(), HasSubstr("Nowhere/Land"));
}

TEST(DagFileTest, BadDurations) {
  const std::string task = "[[task]]\nid = \"a\"\ncommand = \"true\"\n";  // lines 2-4
  ExpectError(std::string(kHeader) + task + "retry_delay = \"5 minutes\"\n", "5:15",
              {"field 'retry_delay'", "'5 minutes' is not a duration"});
  ExpectError(std::string(kHeader) + task + "timeout = \"-1s\"\n", "5:11",
              {"field 'timeout'", "not a duration"});
  ExpectError(std::string(kHeader) + task + "timeout = \"0s\"\n", "5:11",
              {"field 'timeout'", "longer than 0s"});
  ExpectError(std::string(kHeader) + "[defaults]\nmax_retry_delay = \"1y\"\n" + task, "3:19",
              {"field 'defaults.max_retry_delay'", "not a duration"});
}

TEST(DagFileTest, NumbersOutOfRange) {
  const std::string task = "[[task]]\nid = \"a\"\ncommand = \"true\"\n";
  ExpectError(std::string(kHeader) + task + "retries = -1\n", "5:11",
              {"field 'retries'", "must be at least 0"});
  ExpectError(std::string(kHeader) + "max_active_runs = 0\n" + task, "2:19",
              {"field 'max_active_runs'", "must be at least 1"});
  ExpectError(std::string(kHeader) + "max_active_tasks = 0\n" + task, "2:20",
              {"field 'max_active_tasks'", "must be at least 1"});
}

TEST(DagFileTest, UnknownPoolListsTheDeclaredPools) {
  ExpectError(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"true\"\npool = \"gpus\"\n",
              "5:8",
              {"field 'pool'", "unknown pool 'gpus'", "did you mean 'gpu'?",
               "declared pools: default_pool, etl, gpu"});
  ExpectError(std::string(kHeader) +
                  "[defaults]\npool = \"ssd\"\n[[task]]\nid = \"a\"\ncommand = \"true\"\n",
              "3:8", {"field 'defaults.pool'", "unknown pool 'ssd'"});
}

TEST(DagFileTest, DefaultPoolIsAlwaysDeclared) {
  Result<Dag> dag = Parse(
      std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"true\"\npool = \"default_pool\"\n",
      DagFileContext{});
  EXPECT_TRUE(dag.ok()) << dag.status().message();
}

TEST(DagFileTest, UnknownTriggerRule) {
  ExpectError(std::string(kHeader) +
                  "[[task]]\nid = \"a\"\ncommand = \"true\"\ntrigger_rule = \"all_sucess\"\n",
              "5:16",
              {"field 'trigger_rule'", "'all_sucess' is not one of", "none_failed_min_one_success",
               "did you mean 'all_success'?"});
}

TEST(DagFileTest, CommandPlaceholdersAreValidated) {
  ExpectError(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"echo {{ dss }}\"\n", "4:11",
              {"field 'command'", "unknown placeholder '{{ dss }}'"});
  ExpectError(std::string(kHeader) + "[[task]]\nid = \"a\"\ncommand = \"echo {{ ds\"\n", "4:11",
              {"field 'command'", "unterminated placeholder '{{ ds'"});
}

TEST(DagFileTest, LoadDagFileReportsAMissingFile) {
  Result<Dag> dag = LoadDagFile("/nonexistent/dags/x.toml", Context());
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().code(), Status::Code::kNotFound);
  EXPECT_THAT(dag.status().message(), HasSubstr("/nonexistent/dags/x.toml"));
}

std::filesystem::path ExamplesFolder() {
#ifdef BATON_SOURCE_DIR
  return std::filesystem::path(BATON_SOURCE_DIR) / "examples" / "dags";
#else
  // tests/unit/engine/dag_file_test.cc -> the source tree's root.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() /
         "examples" / "dags";
#endif
}

TEST(DagFileTest, EveryExampleParses) {
  DagFileContext context;  // only default_pool: examples must run on a fresh install
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(ExamplesFolder())) {
    if (entry.path().extension() != ".toml") continue;
    Result<Dag> dag = LoadDagFile(entry.path().string(), context);
    ASSERT_TRUE(dag.ok()) << dag.status().message();
    EXPECT_EQ(dag->dag_id + ".toml", entry.path().filename().string());
    names.push_back(dag->dag_id);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"example_etl", "example_hello", "example_trigger_rules"}));
}

TEST(DagFileTest, ExampleShapes) {
  Result<Dag> etl = LoadDagFile((ExamplesFolder() / "example_etl.toml").string(), {});
  ASSERT_TRUE(etl.ok()) << etl.status().message();
  EXPECT_EQ(etl->schedule.spec(), "@daily");
  EXPECT_FALSE(etl->catchup);
  ASSERT_TRUE(etl->start_date);
  EXPECT_EQ(TaskIds(*etl),
            (std::vector<std::string>{"extract", "transform_orders", "transform_users", "load"}));
  EXPECT_THAT(etl->tasks[0].command, HasSubstr("{{ ds }}"));

  Result<Dag> rules = LoadDagFile((ExamplesFolder() / "example_trigger_rules.toml").string(), {});
  ASSERT_TRUE(rules.ok()) << rules.status().message();
  EXPECT_EQ(rules->schedule.kind(), Schedule::Kind::kNone);
  const TaskSpec& flaky = rules->tasks[rules->TaskIndex("flaky")];
  EXPECT_EQ(flaky.retries, 1);
  EXPECT_EQ(flaky.retry_delay, seconds(1));

  Result<Dag> hello = LoadDagFile((ExamplesFolder() / "example_hello.toml").string(), {});
  ASSERT_TRUE(hello.ok()) << hello.status().message();
  EXPECT_EQ(hello->schedule.kind(), Schedule::Kind::kNone);
  EXPECT_EQ(hello->tasks.size(), 2u);
}

}  // namespace
}  // namespace baton
