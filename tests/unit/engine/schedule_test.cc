// Tests of schedules: presets, time zones, daylight-saving gaps and repeats, and
// Airflow's data intervals.
#include "engine/schedule.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace baton {
namespace {

TimePoint At(const std::string& iso) {
  Result<TimePoint> t = ParseIso8601(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return *t;
}

std::string Format(std::optional<TimePoint> t) { return t ? FormatIso8601(*t) : "never"; }

std::string Format(std::optional<DataInterval> interval) {
  if (!interval) return "none";
  return FormatIso8601(interval->start) + " / " + FormatIso8601(interval->end);
}

Schedule MustParse(const std::string& spec, const std::string& time_zone = "UTC") {
  Result<Schedule> schedule = Schedule::Parse(spec, time_zone);
  EXPECT_TRUE(schedule.ok()) << spec << " in " << time_zone << ": " << schedule.status().message();
  return std::move(schedule).value();
}

// The fire times that follow `after`, one after another.
std::vector<std::string> FiresAfter(const Schedule& schedule, const std::string& after, int count) {
  std::vector<std::string> fires;
  std::optional<TimePoint> t = At(after);
  for (int i = 0; i < count && t; ++i) {
    t = schedule.NextFireAfter(*t);
    fires.push_back(Format(t));
  }
  return fires;
}

TEST(ScheduleTest, NoneAndEmptyHaveNoFireTimes) {
  for (const char* spec : {"", "none", "None", "  "}) {
    Schedule schedule = MustParse(spec);
    EXPECT_EQ(schedule.kind(), Schedule::Kind::kNone) << "'" << spec << "'";
    EXPECT_FALSE(schedule.NextFireAfter(At("2026-01-01T00:00:00Z")));
    EXPECT_FALSE(schedule.FirstFireAtOrAfter(At("2026-01-01T00:00:00Z")));
  }
}

TEST(ScheduleTest, OnceHasNoFireTimes) {
  Schedule schedule = MustParse("@once");
  EXPECT_EQ(schedule.kind(), Schedule::Kind::kOnce);
  EXPECT_FALSE(schedule.NextFireAfter(At("2026-01-01T00:00:00Z")));
}

TEST(ScheduleTest, KeepsSpecAndZone) {
  Schedule schedule = MustParse("@daily", "Europe/Paris");
  EXPECT_EQ(schedule.kind(), Schedule::Kind::kCron);
  EXPECT_EQ(schedule.spec(), "@daily");
  EXPECT_EQ(schedule.time_zone_name(), "Europe/Paris");
}

struct FireCase {
  const char* spec;
  const char* time_zone;
  const char* after;
  std::vector<std::string> expected;  // the fire times that follow, in UTC
};

// 2026-01-01 is a Thursday. Europe/Paris springs forward on 2026-03-29 at 01:00Z
// (02:00 CET -> 03:00 CEST) and falls back on 2026-10-25 at 01:00Z (03:00 CEST ->
// 02:00 CET); America/New_York on 2026-03-08 at 07:00Z (02:00 EST -> 03:00 EDT)
// and 2026-11-01 at 06:00Z (02:00 EDT -> 01:00 EST).
// clang-format off
const FireCase kFireCases[] = {
    // Presets, in UTC.
    {"@hourly", "UTC", "2026-01-01T00:30:00Z", {"2026-01-01T01:00:00Z", "2026-01-01T02:00:00Z"}},
    {"@daily", "UTC", "2026-01-01T00:00:00Z", {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}},
    {"@weekly", "UTC", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
    {"@monthly", "UTC", "2026-01-15T00:00:00Z", {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
    {"@quarterly", "UTC", "2026-02-15T00:00:00Z", {"2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z"}},
    {"@yearly", "UTC", "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
    {"@annually", "UTC", "2026-06-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    {"@DAILY", "UTC", "2026-01-01T12:00:00Z", {"2026-01-02T00:00:00Z"}},
    {"*/15 * * * *", "UTC", "2026-01-01T00:00:00.000001Z", {"2026-01-01T00:15:00Z"}},
    {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    // Other zones, standard and summer time.
    {"0 9 * * *", "America/New_York", "2026-01-15T00:00:00Z", {"2026-01-15T14:00:00Z"}},
    {"0 9 * * *", "America/New_York", "2026-07-15T00:00:00Z", {"2026-07-15T13:00:00Z"}},
    {"@daily", "Europe/Paris", "2026-01-01T00:00:00Z", {"2026-01-01T23:00:00Z"}},
    {"@daily", "Europe/Paris", "2026-06-01T00:00:00Z", {"2026-06-01T22:00:00Z"}},
    {"@daily", "Asia/Kolkata", "2026-01-01T00:00:00Z", {"2026-01-01T18:30:00Z", "2026-01-02T18:30:00Z"}},
    {"@hourly", "Asia/Kolkata", "2026-01-01T00:00:00Z", {"2026-01-01T00:30:00Z", "2026-01-01T01:30:00Z"}},
    {"0 0 29 2 *", "Asia/Kolkata", "2026-01-01T00:00:00Z", {"2028-02-28T18:30:00Z"}},
    {"@monthly", "America/New_York", "2026-01-15T00:00:00Z", {"2026-02-01T05:00:00Z", "2026-03-01T05:00:00Z", "2026-04-01T04:00:00Z"}},
    // Spring forward, Paris: a daily time in the gap fires when the gap ends.
    {"30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z",
     {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
    {"@daily", "Europe/Paris", "2026-03-27T12:00:00Z",
     {"2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}},
    {"@hourly", "Europe/Paris", "2026-03-28T23:30:00Z",
     {"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
    // Every 15 minutes: the skipped 02:00-02:45 and 03:00 all fire once, at 03:00 CEST.
    {"*/15 * * * *", "Europe/Paris", "2026-03-29T00:30:00Z",
     {"2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"}},
    // Fall back, Paris: the repeated 02:00-02:59 fires in its first occurrence only.
    {"30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z",
     {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
    {"@hourly", "Europe/Paris", "2026-10-24T23:30:00Z",
     {"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}},
    {"*/15 * * * *", "Europe/Paris", "2026-10-25T00:30:00Z",
     {"2026-10-25T00:45:00Z", "2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z"}},
    // Asked from inside the second occurrence, the next fire is after the repeat.
    {"*/15 * * * *", "Europe/Paris", "2026-10-25T01:20:00Z", {"2026-10-25T02:00:00Z"}},
    {"@daily", "Europe/Paris", "2026-10-24T12:00:00Z",
     {"2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"}},
    // New York, both directions.
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
    {"*/15 * * * *", "America/New_York", "2026-03-08T06:40:00Z",
     {"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z"}},
    {"@hourly", "America/New_York", "2026-03-08T05:30:00Z",
     {"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
    {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
     {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
    {"@hourly", "America/New_York", "2026-11-01T04:30:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"}},
    {"*/15 * * * *", "America/New_York", "2026-11-01T05:40:00Z",
     {"2026-11-01T05:45:00Z", "2026-11-01T07:00:00Z"}},
};
// clang-format on

class ScheduleFireTest : public ::testing::TestWithParam<FireCase> {};

TEST_P(ScheduleFireTest, FiresOnTheZonesWallClock) {
  const FireCase& c = GetParam();
  Schedule schedule = MustParse(c.spec, c.time_zone);
  EXPECT_EQ(FiresAfter(schedule, c.after, static_cast<int>(c.expected.size())), c.expected)
      << c.spec << " in " << c.time_zone << " after " << c.after;
}

INSTANTIATE_TEST_SUITE_P(Table, ScheduleFireTest, ::testing::ValuesIn(kFireCases));

TEST(ScheduleTest, FirstFireAtOrAfterIncludesAFireTime) {
  Schedule schedule = MustParse("@daily");
  EXPECT_EQ(Format(schedule.FirstFireAtOrAfter(At("2026-01-02T00:00:00Z"))),
            "2026-01-02T00:00:00Z");
  EXPECT_EQ(Format(schedule.NextFireAfter(At("2026-01-02T00:00:00Z"))), "2026-01-03T00:00:00Z");
  EXPECT_EQ(Format(schedule.FirstFireAtOrAfter(At("2026-01-02T00:00:00.000001Z"))),
            "2026-01-03T00:00:00Z");
}

TEST(ScheduleTest, EndsWithTheYear9999) {
  Schedule schedule = MustParse("@yearly", "Europe/Paris");
  EXPECT_EQ(Format(schedule.NextFireAfter(At("9998-06-01T00:00:00Z"))), "9998-12-31T23:00:00Z");
  EXPECT_EQ(Format(schedule.NextFireAfter(At("9999-01-01T00:00:00Z"))), "never");
  EXPECT_FALSE(schedule.NextInterval(At("9998-12-31T23:00:00Z"), At("2026-01-01T00:00:00Z")));
}

TEST(ScheduleTest, GapFireTimeIsFoundAtOrAfterItself) {
  Schedule schedule = MustParse("30 2 * * *", "Europe/Paris");
  EXPECT_EQ(Format(schedule.FirstFireAtOrAfter(At("2026-03-29T01:00:00Z"))),
            "2026-03-29T01:00:00Z");
}

struct ErrorCase {
  const char* spec;
  const char* time_zone;
  const char* message;
};

const ErrorCase kErrorCases[] = {
    {"@fortnightly", "UTC",
     "unknown schedule preset '@fortnightly' (expected one of @once @hourly @daily @weekly "
     "@monthly @quarterly @yearly @annually, none, or a 5-field cron expression)"},
    {"@", "UTC", "unknown schedule preset '@'"},
    {"@daily", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"},
    {"@daily", "", "unknown time zone ''"},
    {"none", "Nowhere", "unknown time zone 'Nowhere'"},
    {"0 24 * * *", "UTC", "cron field 'hour': 24 is out of range 0-23 in '0 24 * * *'"},
    {"0 0 30 2 *", "UTC", "never fires"},
    {"daily", "UTC", "cron expression 'daily' has 1 fields; expected 5"},
};

class ScheduleErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ScheduleErrorTest, IsInvalidInputWithAClearMessage) {
  const ErrorCase& c = GetParam();
  Result<Schedule> schedule = Schedule::Parse(c.spec, c.time_zone);
  ASSERT_FALSE(schedule.ok()) << c.spec << " in " << c.time_zone;
  EXPECT_EQ(schedule.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(schedule.status().message().find(c.message), std::string::npos)
      << "message:  " << schedule.status().message() << "\nexpected: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(Table, ScheduleErrorTest, ::testing::ValuesIn(kErrorCases));

struct IntervalCase {
  const char* spec;
  const char* time_zone;
  const char* previous_logical_date;  // nullptr: no run yet
  const char* start_date;
  const char* expected;  // "start / end", or "none"
};

const IntervalCase kNextIntervalCases[] = {
    // First run: the first fire time at or after start_date starts it.
    {"@daily", "UTC", nullptr, "2026-01-01T00:00:00Z",
     "2026-01-01T00:00:00Z / 2026-01-02T00:00:00Z"},
    {"@daily", "UTC", nullptr, "2026-01-01T06:00:00Z",
     "2026-01-02T00:00:00Z / 2026-01-03T00:00:00Z"},
    {"@hourly", "UTC", nullptr, "2026-01-01T06:59:59Z",
     "2026-01-01T07:00:00Z / 2026-01-01T08:00:00Z"},
    {"0 9 * * MON-FRI", "UTC", nullptr, "2026-01-02T10:00:00Z",
     "2026-01-05T09:00:00Z / 2026-01-06T09:00:00Z"},
    // Later runs follow the previous logical date, whatever start_date says.
    {"@daily", "UTC", "2026-01-05T00:00:00Z", "2026-01-01T00:00:00Z",
     "2026-01-06T00:00:00Z / 2026-01-07T00:00:00Z"},
    {"0 9 * * MON-FRI", "UTC", "2026-01-02T09:00:00Z", "2026-01-01T00:00:00Z",
     "2026-01-05T09:00:00Z / 2026-01-06T09:00:00Z"},
    {"@monthly", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
     "2026-02-01T00:00:00Z / 2026-03-01T00:00:00Z"},
    // A day of 23 hours and one of 25 in Paris.
    {"@daily", "Europe/Paris", "2026-03-27T23:00:00Z", "2026-01-01T00:00:00Z",
     "2026-03-28T23:00:00Z / 2026-03-29T22:00:00Z"},
    {"@daily", "Europe/Paris", "2026-10-23T22:00:00Z", "2026-01-01T00:00:00Z",
     "2026-10-24T22:00:00Z / 2026-10-25T23:00:00Z"},
    {"@daily", "Asia/Kolkata", nullptr, "2026-01-01T00:00:00Z",
     "2026-01-01T18:30:00Z / 2026-01-02T18:30:00Z"},
    // @once runs once, at start_date; none never runs on its own.
    {"@once", "UTC", nullptr, "2026-01-01T06:00:00Z",
     "2026-01-01T06:00:00Z / 2026-01-01T06:00:00Z"},
    {"@once", "UTC", "2026-01-01T06:00:00Z", "2026-01-01T06:00:00Z", "none"},
    {"none", "UTC", nullptr, "2026-01-01T00:00:00Z", "none"},
    {"none", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "none"},
};

class NextIntervalTest : public ::testing::TestWithParam<IntervalCase> {};

TEST_P(NextIntervalTest, FollowsAirflowDataIntervals) {
  const IntervalCase& c = GetParam();
  Schedule schedule = MustParse(c.spec, c.time_zone);
  std::optional<TimePoint> previous;
  if (c.previous_logical_date != nullptr) previous = At(c.previous_logical_date);
  EXPECT_EQ(Format(schedule.NextInterval(previous, At(c.start_date))), c.expected)
      << c.spec << " in " << c.time_zone;
}

INSTANTIATE_TEST_SUITE_P(Table, NextIntervalTest, ::testing::ValuesIn(kNextIntervalCases));

struct LatestCase {
  const char* spec;
  const char* time_zone;
  const char* now;
  const char* start_date;
  const char* expected;
};

const LatestCase kLatestCases[] = {
    {"@daily", "UTC", "2026-01-10T12:00:00Z", "2026-01-01T00:00:00Z",
     "2026-01-09T00:00:00Z / 2026-01-10T00:00:00Z"},
    // An interval that ends exactly now is complete.
    {"@daily", "UTC", "2026-01-10T00:00:00Z", "2026-01-01T00:00:00Z",
     "2026-01-09T00:00:00Z / 2026-01-10T00:00:00Z"},
    {"@daily", "UTC", "2026-01-09T23:59:59.999999Z", "2026-01-01T00:00:00Z",
     "2026-01-08T00:00:00Z / 2026-01-09T00:00:00Z"},
    {"@daily", "UTC", "2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z",
     "2026-01-01T00:00:00Z / 2026-01-02T00:00:00Z"},
    // Nothing complete yet.
    {"@daily", "UTC", "2026-01-01T12:00:00Z", "2026-01-01T00:00:00Z", "none"},
    {"@daily", "UTC", "2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z", "none"},
    // The first interval starts at the first fire time at or after start_date.
    {"@daily", "UTC", "2026-01-02T12:00:00Z", "2026-01-01T06:00:00Z", "none"},
    {"@daily", "UTC", "2026-01-03T00:00:00Z", "2026-01-01T06:00:00Z",
     "2026-01-02T00:00:00Z / 2026-01-03T00:00:00Z"},
    // Years after start_date, an every-minute schedule answers at once.
    {"* * * * *", "UTC", "2026-06-15T12:34:56Z", "2020-01-01T00:00:00Z",
     "2026-06-15T12:33:00Z / 2026-06-15T12:34:00Z"},
    {"0 9 * * MON-FRI", "America/New_York", "2026-01-05T12:00:00Z", "2025-01-01T00:00:00Z",
     "2026-01-01T14:00:00Z / 2026-01-02T14:00:00Z"},
    // Around daylight-saving changes in Paris.
    {"@hourly", "Europe/Paris", "2026-03-29T01:30:00Z", "2026-01-01T00:00:00Z",
     "2026-03-29T00:00:00Z / 2026-03-29T01:00:00Z"},
    {"*/15 * * * *", "Europe/Paris", "2026-03-29T01:10:00Z", "2026-01-01T00:00:00Z",
     "2026-03-29T00:45:00Z / 2026-03-29T01:00:00Z"},
    // In the repeated hour the last fire was in its first occurrence.
    {"*/15 * * * *", "Europe/Paris", "2026-10-25T01:20:00Z", "2026-01-01T00:00:00Z",
     "2026-10-25T00:30:00Z / 2026-10-25T00:45:00Z"},
    {"@hourly", "Europe/Paris", "2026-10-25T01:59:00Z", "2026-01-01T00:00:00Z",
     "2026-10-24T23:00:00Z / 2026-10-25T00:00:00Z"},
    {"@once", "UTC", "2026-01-02T00:00:00Z", "2026-01-01T06:00:00Z",
     "2026-01-01T06:00:00Z / 2026-01-01T06:00:00Z"},
    {"@once", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z", "none"},
    {"none", "UTC", "2026-01-10T00:00:00Z", "2026-01-01T00:00:00Z", "none"},
};

class LatestCompleteIntervalTest : public ::testing::TestWithParam<LatestCase> {};

TEST_P(LatestCompleteIntervalTest, IsWhatANoCatchupDagRuns) {
  const LatestCase& c = GetParam();
  Schedule schedule = MustParse(c.spec, c.time_zone);
  EXPECT_EQ(Format(schedule.LatestCompleteInterval(At(c.now), At(c.start_date))), c.expected)
      << c.spec << " in " << c.time_zone << " at " << c.now;
}

INSTANTIATE_TEST_SUITE_P(Table, LatestCompleteIntervalTest, ::testing::ValuesIn(kLatestCases));

// Walking forward with NextInterval and asking LatestCompleteInterval at each end
// must agree, through both daylight-saving changes of the year.
TEST(ScheduleTest, IntervalsChainAndAgreeAcrossDaylightSavingChanges) {
  struct Walk {
    const char* spec;
    const char* time_zone;
    const char* from;
    int steps;
  };
  const Walk walks[] = {
      {"*/15 * * * *", "Europe/Paris", "2026-03-28T22:00:00Z", 24},
      {"*/15 * * * *", "Europe/Paris", "2026-10-24T22:00:00Z", 24},
      {"@hourly", "America/New_York", "2026-11-01T00:00:00Z", 12},
      {"30 1,2,3 * * *", "America/New_York", "2026-03-06T00:00:00Z", 12},
      {"30 1,2,3 * * *", "America/New_York", "2026-10-30T00:00:00Z", 12},
      {"@daily", "Asia/Kolkata", "2026-01-01T00:00:00Z", 40},
  };
  for (const Walk& walk : walks) {
    Schedule schedule = MustParse(walk.spec, walk.time_zone);
    TimePoint start_date = At(walk.from);
    std::optional<DataInterval> interval = schedule.NextInterval(std::nullopt, start_date);
    std::optional<DataInterval> previous;
    for (int i = 0; i < walk.steps; ++i) {
      ASSERT_TRUE(interval);
      SCOPED_TRACE(std::string(walk.spec) + " in " + walk.time_zone + " at " + Format(interval));
      EXPECT_LT(interval->start, interval->end);
      if (previous) {
        EXPECT_EQ(interval->start, previous->end);
      }
      EXPECT_EQ(Format(schedule.LatestCompleteInterval(interval->end, start_date)),
                Format(interval));
      // Just before it ends, the one before it is the latest complete.
      EXPECT_EQ(Format(schedule.LatestCompleteInterval(interval->end - Micros(1), start_date)),
                Format(previous));
      previous = interval;
      interval = schedule.NextInterval(interval->start, start_date);
    }
  }
}

}  // namespace
}  // namespace baton
