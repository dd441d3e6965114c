// Tests for building a try's launch: rendered command, BATON_* environment,
// task env on top, log path.
#include "engine/task_launch.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

DagRun MakeRun(std::string conf_json = "{}") {
  DagRun run;
  run.dag_id = "etl";
  run.run_id = "scheduled__2024-06-01T00:00:00Z";
  run.logical_date = *ParseIso8601("2024-06-01T00:00:00Z");
  run.data_interval_start = run.logical_date;
  run.data_interval_end = *ParseIso8601("2024-06-02T00:00:00Z");
  run.conf_json = std::move(conf_json);
  return run;
}

Dag MakeDag() {
  Dag dag;
  dag.dag_id = "etl";
  TaskSpec task;
  task.id = "load";
  task.command = "load {{ ds }} {{ds_nodash}} {{ ts }} try {{ try_number }} of {{ task_id }}";
  task.cwd = "/data";
  task.timeout = std::chrono::minutes(10);
  dag.tasks.push_back(task);
  return dag;
}

TEST(TaskLaunchTest, LogPathIsPerTry) {
  EXPECT_EQ(TaskLogPath("/logs", {"etl", "manual__1", "load"}, 2),
            "/logs/etl/manual__1/load/2.log");
}

TEST(TaskLaunchTest, LogPathCannotEscapeTheLogsFolder) {
  EXPECT_EQ(TaskLogPath("/logs", {"etl", "../../etc", "load"}, 1),
            "/logs/etl/.._.._etc/load/1.log");
  EXPECT_EQ(TaskLogPath("/logs", {"etl", "..", "load"}, 1), "/logs/etl/_../load/1.log");
}

TEST(TaskLaunchTest, RendersTheCommandAndCopiesTheTaskSettings) {
  const Dag dag = MakeDag();
  TaskLaunch launch = BuildTaskLaunch(dag, dag.tasks[0], MakeRun(), 3, "/logs");
  EXPECT_EQ(launch.key, (TaskInstanceKey{"etl", "scheduled__2024-06-01T00:00:00Z", "load"}));
  EXPECT_EQ(launch.try_number, 3);
  EXPECT_EQ(launch.command, "load 2024-06-01 20240601 2024-06-01T00:00:00Z try 3 of load");
  EXPECT_EQ(launch.cwd, "/data");
  EXPECT_EQ(launch.timeout, std::chrono::minutes(10));
  EXPECT_EQ(launch.log_path, "/logs/etl/scheduled__2024-06-01T00:00:00Z/load/3.log");
}

TEST(TaskLaunchTest, RendersIntervalAndIds) {
  Dag dag = MakeDag();
  dag.tasks[0].command =
      "{{ data_interval_start }} {{ data_interval_end }} {{ logical_date }} {{ run_id }} {{ dag_id "
      "}}";
  TaskLaunch launch = BuildTaskLaunch(dag, dag.tasks[0], MakeRun(), 1, "/logs");
  EXPECT_EQ(launch.command,
            "2024-06-01T00:00:00Z 2024-06-02T00:00:00Z 2024-06-01T00:00:00Z "
            "scheduled__2024-06-01T00:00:00Z etl");
}

TEST(TaskLaunchTest, EnvironmentHasTheBatonVariables) {
  const Dag dag = MakeDag();
  TaskLaunch launch = BuildTaskLaunch(dag, dag.tasks[0], MakeRun(), 2, "/logs");
  EXPECT_EQ(launch.env["BATON_DAG_ID"], "etl");
  EXPECT_EQ(launch.env["BATON_TASK_ID"], "load");
  EXPECT_EQ(launch.env["BATON_RUN_ID"], "scheduled__2024-06-01T00:00:00Z");
  EXPECT_EQ(launch.env["BATON_LOGICAL_DATE"], "2024-06-01T00:00:00Z");
  EXPECT_EQ(launch.env["BATON_DS"], "2024-06-01");
  EXPECT_EQ(launch.env["BATON_TRY_NUMBER"], "2");
  EXPECT_EQ(launch.env["BATON_CONF"], "{}");
}

TEST(TaskLaunchTest, ConfReachesEnvironmentAndPlaceholders) {
  Dag dag = MakeDag();
  dag.tasks[0].command = "{{ conf.table }}/{{ conf.limit }}/{{ conf.nested }}/{{ conf.absent }}";
  TaskLaunch launch = BuildTaskLaunch(
      dag, dag.tasks[0],
      MakeRun(R"({"table": "users", "limit": 5, "dry-run": true, "nested": {"a": 1}})"), 1,
      "/logs");
  EXPECT_EQ(launch.command, "users/5/{\"a\":1}/");
  EXPECT_EQ(launch.env["BATON_CONF_TABLE"], "users");
  EXPECT_EQ(launch.env["BATON_CONF_LIMIT"], "5");
  EXPECT_EQ(launch.env["BATON_CONF_DRY_RUN"], "true");
  EXPECT_EQ(launch.env.count("BATON_CONF_NESTED"), 0u);
  EXPECT_EQ(launch.env["BATON_CONF"],
            R"({"dry-run":true,"limit":5,"nested":{"a":1},"table":"users"})");
}

TEST(TaskLaunchTest, ConfThatIsNotAnObjectReadsAsEmpty) {
  const Dag dag = MakeDag();
  for (const char* conf : {"not json", "[1, 2]", ""}) {
    TaskLaunch launch = BuildTaskLaunch(dag, dag.tasks[0], MakeRun(conf), 1, "/logs");
    EXPECT_EQ(launch.env["BATON_CONF"], "{}") << conf;
  }
}

TEST(TaskLaunchTest, TaskEnvGoesOnTop) {
  Dag dag = MakeDag();
  dag.tasks[0].env = {{"GREETING", "hi"}, {"BATON_DS", "overridden"}};
  TaskLaunch launch = BuildTaskLaunch(dag, dag.tasks[0], MakeRun(), 1, "/logs");
  EXPECT_EQ(launch.env["GREETING"], "hi");
  EXPECT_EQ(launch.env["BATON_DS"], "overridden");
}

}  // namespace
}  // namespace baton
