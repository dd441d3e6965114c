// Tests of ISO 8601 times and of durations as written in configuration and DAG
// files.
#include "common/time.h"

#include <gtest/gtest.h>

#include <string>

namespace baton {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct ParseTimeCase {
  const char* text;
  const char* expected;  // FormatIso8601 of the result
};

const ParseTimeCase kParseTimeCases[] = {
    {"2026-11-23", "2026-11-23T00:00:00Z"},
    {"2026-11-23T10:00", "2026-11-23T10:00:00Z"},
    {"2026-11-23T10:00:00", "2026-11-23T10:00:00Z"},
    {"2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z"},
    {"2026-11-23 10:00:00", "2026-11-23T10:00:00Z"},
    {"2026-11-23t10:00:00z", "2026-11-23T10:00:00Z"},
    // Fractions, padded or cut to microseconds.
    {"2026-11-23T10:00:00.5Z", "2026-11-23T10:00:00.500000Z"},
    {"2026-11-23T10:00:00.123456Z", "2026-11-23T10:00:00.123456Z"},
    {"2026-11-23T10:00:00.1234567Z", "2026-11-23T10:00:00.123456Z"},
    {"2026-11-23T10:00:00.000000Z", "2026-11-23T10:00:00Z"},
    // Offsets move the instant to UTC.
    {"2026-11-23T10:00:00+02:00", "2026-11-23T08:00:00Z"},
    {"2026-11-23T10:00:00-05:00", "2026-11-23T15:00:00Z"},
    {"2026-11-23T10:00:00+0530", "2026-11-23T04:30:00Z"},
    {"2026-11-23T01:00:00+05:30", "2026-11-22T19:30:00Z"},
    {"2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"},
    {"2026-11-23T10:00:00.25+01:00", "2026-11-23T09:00:00.250000Z"},
    // Calendar edges.
    {"2028-02-29", "2028-02-29T00:00:00Z"},
    {"2000-02-29T12:00", "2000-02-29T12:00:00Z"},
    {"1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"},
    {"2026-12-31T23:59:59.999999Z", "2026-12-31T23:59:59.999999Z"},
};

class ParseIso8601Test : public ::testing::TestWithParam<ParseTimeCase> {};

TEST_P(ParseIso8601Test, ReadsTheInstant) {
  const ParseTimeCase& c = GetParam();
  Result<TimePoint> t = ParseIso8601(c.text);
  ASSERT_TRUE(t.ok()) << c.text << ": " << t.status().message();
  EXPECT_EQ(FormatIso8601(*t), c.expected) << c.text;
}

INSTANTIATE_TEST_SUITE_P(Table, ParseIso8601Test, ::testing::ValuesIn(kParseTimeCases));

const char* const kBadTimes[] = {
    "",
    "2026",
    "2026-11",
    "26-11-23",
    "2026/11/23",
    "2026-02-30",
    "2027-02-29",
    "2100-02-29",
    "2026-04-31",
    "2026-13-01",
    "2026-00-10",
    "2026-11-00",
    "2026-11-23T24:00",
    "2026-11-23T10:60",
    "2026-11-23T10:00:60",
    "2026-11-23T10",
    "2026-11-23T",
    "2026-11-23T10:00:00.",
    "2026-11-23T10:00.5",
    "2026-11-23T10:00:00+25:00",
    "2026-11-23T10:00:00+02",
    "2026-11-23T10:00:00 UTC",
    "2026-11-23T10:00:00Zjunk",
    " 2026-11-23",
};

class ParseIso8601ErrorTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseIso8601ErrorTest, RejectsWithTheText) {
  std::string text = GetParam();
  Result<TimePoint> t = ParseIso8601(text);
  ASSERT_FALSE(t.ok()) << "'" << text << "' parsed as " << FormatIso8601(*t);
  EXPECT_EQ(t.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(t.status().message().find("'" + text + "' is not a date or time"), std::string::npos)
      << t.status().message();
}

INSTANTIATE_TEST_SUITE_P(Table, ParseIso8601ErrorTest, ::testing::ValuesIn(kBadTimes));

TEST(TimeTest, FormatThenParseGivesTheSameInstant) {
  const int64_t micros[] = {0,
                            1,
                            999'999,
                            1'000'000,
                            1'795'428'000'000'000,  // 2026-11-23T10:00:00Z
                            1'795'428'000'123'456,
                            -1,
                            -86'400'000'000,
                            4'102'444'799'999'999};  // 2099-12-31T23:59:59.999999Z
  for (int64_t us : micros) {
    TimePoint t = FromEpochMicros(us);
    std::string text = FormatIso8601(t);
    Result<TimePoint> back = ParseIso8601(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().message();
    EXPECT_EQ(ToEpochMicros(*back), us) << text;
  }
}

TEST(TimeTest, FormatsKnownInstants) {
  EXPECT_EQ(FormatIso8601(FromEpochMicros(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso8601(FromEpochMicros(1'795'428'000'000'000)), "2026-11-23T10:00:00Z");
  EXPECT_EQ(FormatIso8601(FromEpochMicros(1'795'428'000'000'001)), "2026-11-23T10:00:00.000001Z");
  EXPECT_EQ(FormatIso8601(FromEpochMicros(-1)), "1969-12-31T23:59:59.999999Z");
}

TEST(TimeTest, FormatDateIsTheUtcDay) {
  EXPECT_EQ(FormatDate(FromEpochMicros(1'795'428'000'000'000)), "2026-11-23");
  EXPECT_EQ(FormatDate(*ParseIso8601("2026-11-23T23:59:59.999999Z")), "2026-11-23");
  EXPECT_EQ(FormatDate(*ParseIso8601("2026-11-23T01:00:00+02:00")), "2026-11-22");
}

struct ParseDurationCase {
  const char* text;
  Duration expected;
};

const ParseDurationCase kParseDurationCases[] = {
    {"30s", seconds(30)},
    {"5m", minutes(5)},
    {"1h", hours(1)},
    {"1h30m", hours(1) + minutes(30)},
    {"500ms", milliseconds(500)},
    {"2d", hours(48)},
    {"1d2h3m4s5ms", hours(26) + minutes(3) + seconds(4) + milliseconds(5)},
    {"10", seconds(10)},
    {"0", seconds(0)},
    {"0s", seconds(0)},
    {"90s", seconds(90)},
    {"1m90s", seconds(150)},
};

class ParseDurationTest : public ::testing::TestWithParam<ParseDurationCase> {};

TEST_P(ParseDurationTest, ReadsTheDuration) {
  const ParseDurationCase& c = GetParam();
  Result<Duration> d = ParseDuration(c.text);
  ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().message();
  EXPECT_EQ(d->count(), c.expected.count()) << c.text;
}

INSTANTIATE_TEST_SUITE_P(Table, ParseDurationTest, ::testing::ValuesIn(kParseDurationCases));

const char* const kBadDurations[] = {
    "",
    "5x",
    "-1s",
    "-1",
    "s",
    "1.5h",
    "1h 30m",
    " 5s",
    "5s ",
    "5S",
    "10s5",
    "m5",
    "5mm",
    "1 h",
    "+5s",
    "99999999999999s",
    "99999999999d99999999999d",
};

class ParseDurationErrorTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseDurationErrorTest, RejectsWithTheText) {
  std::string text = GetParam();
  Result<Duration> d = ParseDuration(text);
  ASSERT_FALSE(d.ok()) << "'" << text << "' parsed as " << d->count() << " ms";
  EXPECT_EQ(d.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(d.status().message().find("'" + text + "' is not a duration"), std::string::npos)
      << d.status().message();
}

INSTANTIATE_TEST_SUITE_P(Table, ParseDurationErrorTest, ::testing::ValuesIn(kBadDurations));

struct FormatDurationCase {
  Duration duration;
  const char* expected;
};

const FormatDurationCase kFormatDurationCases[] = {
    {seconds(0), "0s"},
    {seconds(30), "30s"},
    {seconds(90), "1m30s"},
    {minutes(5), "5m"},
    {hours(1) + minutes(30), "1h30m"},
    {milliseconds(500), "500ms"},
    {milliseconds(1500), "1s500ms"},
    {hours(48), "2d"},
    {hours(49) + milliseconds(1), "2d1h1ms"},
    {-seconds(5), "-5s"},
};

class FormatDurationTest : public ::testing::TestWithParam<FormatDurationCase> {};

TEST_P(FormatDurationTest, WritesTheShortestForm) {
  const FormatDurationCase& c = GetParam();
  EXPECT_EQ(FormatDuration(c.duration), c.expected);
  if (c.duration.count() >= 0) {
    Result<Duration> back = ParseDuration(c.expected);
    ASSERT_TRUE(back.ok()) << c.expected;
    EXPECT_EQ(back->count(), c.duration.count()) << c.expected;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, FormatDurationTest, ::testing::ValuesIn(kFormatDurationCases));

}  // namespace
}  // namespace baton
