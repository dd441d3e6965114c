// Tests for the JSON messages that cross Redis: task messages and instance
// events survive a round trip field for field, and a message that is not one of
// ours is refused with the field that is wrong named.
#include "engine/task_message.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace baton {
namespace {

using nlohmann::json;

TaskLaunch SampleLaunch() {
  TaskLaunch launch;
  launch.key = {"etl", "scheduled__2026-11-23T10:00:00Z", "load"};
  launch.try_number = 2;
  launch.command = "echo \"quoted\" 'single' \\ back\nsecond line \xc3\xa9";
  launch.env = {{"BATON_DAG_ID", "etl"}, {"EMPTY", ""}, {"UNICODE", "\xe2\x9c\x93"}};
  launch.cwd = "/srv/etl";
  launch.log_path = "/var/log/baton/etl/load/2.log";
  launch.timeout = std::chrono::milliseconds(90'000);
  launch.queue = "gpu";
  launch.max_tries = 4;
  launch.retry_delay = std::chrono::milliseconds(300'000);
  return launch;
}

TaskInstance SampleInstance() {
  TaskInstance instance;
  instance.key = {"etl", "manual__1", "load"};
  instance.state = TaskState::kUpForRetry;
  instance.try_number = 3;
  instance.start_date = FromEpochMicros(1'795'000'000'123'456);
  instance.end_date = FromEpochMicros(1'795'000'060'000'001);
  instance.exit_code = 7;
  instance.next_retry_at = FromEpochMicros(1'795'000'360'000'000);
  instance.pool = "db";
  instance.priority = 5;
  instance.queue = "default";
  instance.hostname = "worker-3";
  instance.pid = 4242;
  instance.owner_job_id = 99;
  return instance;
}

// The encoded sample with one field replaced (or removed, for null).
std::string TaskMessageWith(const std::string& field, const json& value) {
  json message = json::parse(EncodeTaskMessage(SampleLaunch()));
  if (value.is_null()) {
    message.erase(field);
  } else {
    message[field] = value;
  }
  return message.dump();
}

std::string InstanceEventWith(const std::string& field, const json& value) {
  json event = json::parse(EncodeInstanceEvent(SampleInstance()));
  if (value.is_null()) {
    event.erase(field);
  } else {
    event[field] = value;
  }
  return event.dump();
}

TEST(TaskMessageTest, RoundTripKeepsEveryField) {
  const TaskLaunch launch = SampleLaunch();
  Result<TaskLaunch> decoded = DecodeTaskMessage(EncodeTaskMessage(launch));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->key, launch.key);
  EXPECT_EQ(decoded->try_number, 2);
  EXPECT_EQ(decoded->command, launch.command);
  EXPECT_EQ(decoded->env, launch.env);
  EXPECT_EQ(decoded->cwd, "/srv/etl");
  EXPECT_EQ(decoded->timeout, std::optional<Duration>(std::chrono::milliseconds(90'000)));
  EXPECT_EQ(decoded->queue, "gpu");
  EXPECT_EQ(decoded->max_tries, 4);
  EXPECT_EQ(decoded->retry_delay, std::chrono::milliseconds(300'000));
}

TEST(TaskMessageTest, NoTimeoutStaysNone) {
  TaskLaunch launch = SampleLaunch();
  launch.timeout.reset();
  launch.env.clear();
  Result<TaskLaunch> decoded = DecodeTaskMessage(EncodeTaskMessage(launch));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_FALSE(decoded->timeout.has_value());
  EXPECT_TRUE(decoded->env.empty());
}

TEST(TaskMessageTest, QueuedColumnsTravelWhenSetAndStayUnsetOtherwise) {
  TaskLaunch launch = SampleLaunch();
  Result<TaskLaunch> without = DecodeTaskMessage(EncodeTaskMessage(launch));
  ASSERT_TRUE(without.ok()) << without.status().message();
  EXPECT_FALSE(without->queued_columns.has_value());

  launch.queued_columns = TaskLaunch::QueuedColumns{"db", 5, "gpu"};
  Result<TaskLaunch> with = DecodeTaskMessage(EncodeTaskMessage(launch));
  ASSERT_TRUE(with.ok()) << with.status().message();
  EXPECT_EQ(with->queued_columns, launch.queued_columns);
}

TEST(TaskMessageTest, NamesAMistypedQueuedColumn) {
  const json mistyped[] = {"db", json{{"pool", "db"}, {"priority", "5"}, {"queue", "gpu"}},
                           json{{"priority", 5}, {"queue", "gpu"}}};
  const char* expected[] = {"task message: field 'queued_columns' is mistyped",
                            "task message: queued_columns: field 'priority' is missing or mistyped",
                            "task message: queued_columns: field 'pool' is missing or mistyped"};
  for (size_t i = 0; i < std::size(mistyped); ++i) {
    Result<TaskLaunch> decoded = DecodeTaskMessage(TaskMessageWith("queued_columns", mistyped[i]));
    ASSERT_FALSE(decoded.ok()) << mistyped[i].dump();
    EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidInput);
    EXPECT_EQ(decoded.status().message(), expected[i]);
  }
}

TEST(TaskMessageTest, RefusesWhatIsNotAJsonObject) {
  for (const char* text : {"", "not json", "[1,2]", "\"text\"", "{\"dag_id\": "}) {
    Result<TaskLaunch> decoded = DecodeTaskMessage(text);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidInput);
    EXPECT_EQ(decoded.status().message(), "task message: not a JSON object") << text;
  }
}

TEST(TaskMessageTest, NamesTheMissingOrMistypedField) {
  struct Case {
    std::string field;
    json value;  // null: removed
  };
  const Case cases[] = {
      {"dag_id", nullptr},  {"run_id", 12},     {"task_id", json::array()}, {"try_number", "1"},
      {"command", nullptr}, {"env", "A=B"},     {"env", {{"A", 1}}},        {"cwd", false},
      {"queue", nullptr},   {"max_tries", 2.5}, {"retry_delay_ms", "5m"},   {"timeout_ms", "1h"},
  };
  for (const Case& test : cases) {
    Result<TaskLaunch> decoded = DecodeTaskMessage(TaskMessageWith(test.field, test.value));
    ASSERT_FALSE(decoded.ok()) << test.field << " = " << test.value.dump();
    EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidInput);
    EXPECT_EQ(decoded.status().message(),
              "task message: field '" + test.field + "' is missing or mistyped")
        << test.value.dump();
  }
}

TEST(TaskMessageTest, RefusesTryNumbersBelowOne) {
  for (const char* field : {"try_number", "max_tries"}) {
    Result<TaskLaunch> decoded = DecodeTaskMessage(TaskMessageWith(field, 0));
    ASSERT_FALSE(decoded.ok()) << field;
    EXPECT_NE(decoded.status().message().find("at least 1"), std::string::npos)
        << decoded.status().message();
  }
}

TEST(InstanceEventTest, RoundTripKeepsEveryField) {
  const TaskInstance instance = SampleInstance();
  Result<TaskInstance> decoded = DecodeInstanceEvent(EncodeInstanceEvent(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->key, instance.key);
  EXPECT_EQ(decoded->state, TaskState::kUpForRetry);
  EXPECT_EQ(decoded->try_number, 3);
  EXPECT_EQ(decoded->start_date, instance.start_date);
  EXPECT_EQ(decoded->end_date, instance.end_date);
  EXPECT_EQ(decoded->exit_code, std::optional<int>(7));
  EXPECT_EQ(decoded->next_retry_at, instance.next_retry_at);
  EXPECT_EQ(decoded->pool, "db");
  EXPECT_EQ(decoded->priority, 5);
  EXPECT_EQ(decoded->queue, "default");
  EXPECT_EQ(decoded->hostname, "worker-3");
  EXPECT_EQ(decoded->pid, 4242);
  EXPECT_EQ(decoded->owner_job_id, 99);
}

TEST(InstanceEventTest, UnsetTimesAndExitCodeStayUnset) {
  TaskInstance instance = SampleInstance();
  instance.state = TaskState::kRunning;
  instance.end_date.reset();
  instance.exit_code.reset();
  instance.next_retry_at.reset();
  Result<TaskInstance> decoded = DecodeInstanceEvent(EncodeInstanceEvent(instance));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(decoded->state, TaskState::kRunning);
  EXPECT_EQ(decoded->start_date, instance.start_date);
  EXPECT_FALSE(decoded->end_date.has_value());
  EXPECT_FALSE(decoded->exit_code.has_value());
  EXPECT_FALSE(decoded->next_retry_at.has_value());
}

TEST(InstanceEventTest, EveryStateRoundTrips) {
  for (TaskState state :
       {TaskState::kNone, TaskState::kScheduled, TaskState::kQueued, TaskState::kRunning,
        TaskState::kSuccess, TaskState::kFailed, TaskState::kUpForRetry, TaskState::kUpstreamFailed,
        TaskState::kSkipped}) {
    TaskInstance instance = SampleInstance();
    instance.state = state;
    Result<TaskInstance> decoded = DecodeInstanceEvent(EncodeInstanceEvent(instance));
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(decoded->state, state) << ToString(state);
  }
}

TEST(InstanceEventTest, NamesTheMissingOrMistypedField) {
  for (const char* field : {"dag_id", "run_id", "task_id", "state", "try_number", "pool",
                            "priority", "queue", "hostname", "pid", "owner_job_id"}) {
    Result<TaskInstance> decoded = DecodeInstanceEvent(InstanceEventWith(field, nullptr));
    ASSERT_FALSE(decoded.ok()) << field;
    EXPECT_EQ(decoded.status().message(),
              std::string("instance event: field '") + field + "' is missing or mistyped");
  }
  Result<TaskInstance> decoded = DecodeInstanceEvent(InstanceEventWith("start_date", "today"));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(),
            "instance event: field 'start_date' is missing or mistyped");
}

TEST(InstanceEventTest, RefusesAnUnknownState) {
  Result<TaskInstance> decoded = DecodeInstanceEvent(InstanceEventWith("state", "exploded"));
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidInput);
  EXPECT_EQ(decoded.status().message(), "instance event: unknown state 'exploded'");
}

TEST(InstanceEventTest, RefusesWhatIsNotAJsonObject) {
  Result<TaskInstance> decoded = DecodeInstanceEvent("[]");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(), "instance event: not a JSON object");
}

}  // namespace
}  // namespace baton
