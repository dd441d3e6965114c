// Tests of cron expression parsing and of the calendar search for matching
// minutes. Wall-clock minutes are written as UTC ISO 8601 times here, since a
// cron expression knows nothing of time zones.
#include "engine/cron.h"

#include <gtest/gtest.h>

#include <string>

#include "common/time.h"

namespace baton {
namespace {

using WallMinute = CronExpression::WallMinute;

WallMinute Wall(const std::string& iso) {
  Result<TimePoint> t = ParseIso8601(iso);
  EXPECT_TRUE(t.ok()) << iso;
  return WallMinute(std::chrono::floor<std::chrono::minutes>(t->time_since_epoch()));
}

std::string Format(std::optional<WallMinute> wall) {
  if (!wall) return "never";
  return FormatIso8601(TimePoint(wall->time_since_epoch()));
}

CronExpression MustParse(const std::string& text) {
  Result<CronExpression> cron = CronExpression::Parse(text);
  EXPECT_TRUE(cron.ok()) << text << ": " << cron.status().message();
  return std::move(cron).value();
}

// The first match strictly after `after`, as the schedule asks for it.
std::string NextAfter(const CronExpression& cron, const std::string& after) {
  return Format(cron.FirstMatchAtOrAfter(Wall(after) + std::chrono::minutes(1)));
}

struct NextCase {
  const char* expression;
  const char* after;
  const char* expected;
};

// 2026-01-01 is a Thursday.
const NextCase kNextCases[] = {
    // Every minute, steps, hour and day rollover.
    {"* * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
    {"*/15 * * * *", "2026-01-01T00:07:30Z", "2026-01-01T00:15:00Z"},
    {"*/15 * * * *", "2026-01-01T00:45:00Z", "2026-01-01T01:00:00Z"},
    {"1-30/5 * * * *", "2026-01-01T10:26:00Z", "2026-01-01T11:01:00Z"},
    {"1-30/5 * * * *", "2026-01-01T10:02:00Z", "2026-01-01T10:06:00Z"},
    {"5/15 * * * *", "2026-01-01T10:50:00Z", "2026-01-01T11:05:00Z"},
    {"5/15 * * * *", "2026-01-01T10:05:00Z", "2026-01-01T10:20:00Z"},
    {"0 * * * *", "2026-01-01T23:59:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 * * *", "2026-12-31T12:00:00Z", "2027-01-01T00:00:00Z"},
    {"59 23 31 12 *", "2026-06-01T00:00:00Z", "2026-12-31T23:59:00Z"},
    // Lists and ranges.
    {"0,30 8-10 * * *", "2026-01-01T10:30:00Z", "2026-01-02T08:00:00Z"},
    {"0,30 8-10 * * *", "2026-01-01T08:10:00Z", "2026-01-01T08:30:00Z"},
    {"0 0 1,15 * *", "2026-01-01T00:00:00Z", "2026-01-15T00:00:00Z"},
    {"30 12 1-5 * *", "2026-01-05T13:00:00Z", "2026-02-01T12:30:00Z"},
    {"0 0 1 */3 *", "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"},
    {"0 12 * 2 *", "2026-02-28T12:00:00Z", "2027-02-01T12:00:00Z"},
    // Month ends: months without the day are skipped.
    {"0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
    {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    {"0 0 30 * *", "2026-02-01T00:00:00Z", "2026-03-30T00:00:00Z"},
    // February 29 only in leap years; 2100 is not one.
    {"0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
    {"0 0 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"},
    {"0 0 29 * *", "2027-01-29T00:00:00Z", "2027-03-29T00:00:00Z"},
    // Names, any case, also in ranges and lists.
    {"0 9 * * MON-FRI", "2026-01-02T10:00:00Z", "2026-01-05T09:00:00Z"},
    {"0 9 * * mon-fri", "2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z"},
    {"0 0 * JAN,jul *", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
    {"0 0 1 Mar-May *", "2026-05-01T00:00:00Z", "2027-03-01T00:00:00Z"},
    {"0 0 1 JAN-DEC/6 *", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"},
    // Sunday is 0, 7 and SUN; a range may end on Sunday.
    {"0 0 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * sun", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
    {"0 0 * * 5-7", "2026-01-05T00:00:00Z", "2026-01-09T00:00:00Z"},
    {"0 0 * * 5-7", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z"},
    {"0 0 * * FRI-SUN", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z"},
    {"0 0 * * 6,7", "2026-01-05T00:00:00Z", "2026-01-10T00:00:00Z"},
    // Both day fields restricted: either one may match.
    {"0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"0 0 13 * FRI", "2026-01-10T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 13 * FRI", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"},
    {"0 0 30 2 MON", "2026-01-31T00:00:00Z", "2026-02-02T00:00:00Z"},
    // A day field starting with '*' is unrestricted: both must match.
    {"0 0 */2 * 1", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
    {"0 0 */2 * 1", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z"},
    {"0 0 1 * */7", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
    // The search ends with the year 9999.
    {"0 0 29 2 *", "9996-02-29T00:00:00Z", "never"},
    {"59 23 31 12 *", "9999-12-31T23:58:00Z", "9999-12-31T23:59:00Z"},
};

class CronNextTest : public ::testing::TestWithParam<NextCase> {};

TEST_P(CronNextTest, FindsTheNextMatchingMinute) {
  const NextCase& c = GetParam();
  CronExpression cron = MustParse(c.expression);
  EXPECT_EQ(NextAfter(cron, c.after), c.expected) << c.expression << " after " << c.after;
}

INSTANTIATE_TEST_SUITE_P(Table, CronNextTest, ::testing::ValuesIn(kNextCases));

TEST(CronTest, FirstMatchAtOrAfterIncludesItsStart) {
  CronExpression cron = MustParse("0 0 * * *");
  EXPECT_EQ(Format(cron.FirstMatchAtOrAfter(Wall("2026-01-01T00:00:00Z"))), "2026-01-01T00:00:00Z");
}

struct PreviousCase {
  const char* expression;
  const char* at_or_before;
  const char* expected;
};

const PreviousCase kPreviousCases[] = {
    {"* * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
    {"*/15 * * * *", "2026-01-01T00:14:00Z", "2026-01-01T00:00:00Z"},
    {"0 0 * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
    {"0 0 * * *", "2025-12-31T23:59:00Z", "2025-12-31T00:00:00Z"},
    {"0 0 31 * *", "2026-05-30T00:00:00Z", "2026-03-31T00:00:00Z"},
    {"0 0 29 2 *", "2104-02-28T00:00:00Z", "2096-02-29T00:00:00Z"},
    {"0 9 * * MON-FRI", "2026-01-05T08:59:00Z", "2026-01-02T09:00:00Z"},
    {"0 0 13 * FRI", "2026-01-15T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 1 */3 *", "2026-03-31T23:59:00Z", "2026-01-01T00:00:00Z"},
    {"0 0 * * *", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
    {"0 0 * * *", "0000-12-31T12:00:00Z", "never"},
};

class CronPreviousTest : public ::testing::TestWithParam<PreviousCase> {};

TEST_P(CronPreviousTest, FindsTheLastMatchingMinute) {
  const PreviousCase& c = GetParam();
  CronExpression cron = MustParse(c.expression);
  EXPECT_EQ(Format(cron.LastMatchAtOrBefore(Wall(c.at_or_before))), c.expected)
      << c.expression << " at or before " << c.at_or_before;
}

INSTANTIATE_TEST_SUITE_P(Table, CronPreviousTest, ::testing::ValuesIn(kPreviousCases));

TEST(CronTest, LeapDaySearchJumpsOverYears) {
  // Four hundred years of leap days, each found without scanning minutes.
  CronExpression cron = MustParse("0 0 29 2 *");
  WallMinute wall = Wall("2000-01-01T00:00:00Z");
  int leap_days = 0;
  while (true) {
    std::optional<WallMinute> next = cron.FirstMatchAtOrAfter(wall + std::chrono::minutes(1));
    ASSERT_TRUE(next);
    if (*next >= Wall("2400-01-01T00:00:00Z")) break;
    wall = *next;
    ++leap_days;
  }
  EXPECT_EQ(leap_days, 97);
}

TEST(CronTest, MatchesDayReadsSevenAsSunday) {
  CronExpression cron = MustParse("0 0 * * 0");
  EXPECT_TRUE(cron.MatchesDay(4, 0));
  EXPECT_TRUE(cron.MatchesDay(4, 7));
  EXPECT_FALSE(cron.MatchesDay(5, 1));
}

TEST(CronTest, KeepsItsText) { EXPECT_EQ(MustParse("*/5 * * * *").text(), "*/5 * * * *"); }

TEST(CronTest, AcceptsExtraWhitespaceBetweenFields) {
  CronExpression cron = MustParse("  0\t12  * *   *  ");
  EXPECT_EQ(NextAfter(cron, "2026-01-01T00:00:00Z"), "2026-01-01T12:00:00Z");
}

struct ErrorCase {
  const char* expression;
  const char* message;  // the whole message, or a part naming the field
};

const ErrorCase kErrorCases[] = {
    {"0 24 * * *", "cron field 'hour': 24 is out of range 0-23 in '0 24 * * *'"},
    {"60 * * * *", "cron field 'minute': 60 is out of range 0-59 in '60 * * * *'"},
    {"0 0 0 * *", "cron field 'day-of-month': 0 is out of range 1-31 in '0 0 0 * *'"},
    {"0 0 32 * *", "cron field 'day-of-month': 32 is out of range 1-31"},
    {"0 0 * 13 *", "cron field 'month': 13 is out of range 1-12"},
    {"0 0 * 0 *", "cron field 'month': 0 is out of range 1-12"},
    {"0 0 * * 8", "cron field 'day-of-week': 8 is out of range 0-7"},
    {"0 0-99 * * *", "cron field 'hour': 99 is out of range 0-23"},
    {"0 0 * FOO *", "cron field 'month': 'FOO' is not a number or a month name (JAN-DEC)"},
    {"0 0 * * FUNDAY",
     "cron field 'day-of-week': 'FUNDAY' is not a number or a day name (SUN-SAT)"},
    {"0 0 * * MONDAY", "cron field 'day-of-week': 'MONDAY' is not a number"},
    {"0 MON * * *", "cron field 'hour': 'MON' is not a number in '0 MON * * *'"},
    {"a * * * *", "cron field 'minute': 'a' is not a number"},
    {"-1 * * * *", "cron field 'minute': '-1' is not a number"},
    {"* * * *",
     "cron expression '* * * *' has 4 fields; expected 5 (minute hour day-of-month month "
     "day-of-week)"},
    {"* * * * * *", "cron expression '* * * * * *' has 6 fields; expected 5"},
    {"", "cron expression '' has 0 fields; expected 5"},
    {"1,,2 * * * *", "cron field 'minute': empty item in list '1,,2' in '1,,2 * * * *'"},
    {"0 1, * * *", "cron field 'hour': empty item in list '1,'"},
    {"0 0 ,1 * *", "cron field 'day-of-month': empty item in list ',1'"},
    {"*/0 * * * *", "cron field 'minute': step 0 in '*/0' (a step must be at least 1)"},
    {"0 1-5/0 * * *", "cron field 'hour': step 0 in '1-5/0'"},
    {"*/ * * * *", "cron field 'minute': missing step after '/' in '*/'"},
    {"/5 * * * *", "cron field 'minute': missing range before '/' in '/5'"},
    {"*/x * * * *", "cron field 'minute': step 'x' is not a number"},
    {"5-1 * * * *", "cron field 'minute': range 5-1 is reversed (its start is after its end)"},
    {"0 0 * DEC-JAN *", "cron field 'month': range DEC-JAN is reversed"},
    {"0 0 * * FRI-MON", "cron field 'day-of-week': range FRI-MON is reversed"},
    {"0 0 * * 5-0", "cron field 'day-of-week': range 5-0 is reversed"},
    {"0 5- * * *", "cron field 'hour': range '5-' has no end"},
    {"0 1-2-3 * * *", "cron field 'hour': '2-3' is not a number"},
    {"0 0 30 2 *",
     "cron expression '0 0 30 2 *' never fires: no day-of-month in '30' exists in February"},
    {"0 0 31 4 *",
     "cron expression '0 0 31 4 *' never fires: no day-of-month in '31' exists in April"},
    {"0 0 30,31 2 *", "never fires: no day-of-month in '30,31' exists in February"},
    {"0 0 31 4,6,9,11 *",
     "never fires: no day-of-month in '31' exists in April, June, September, November"},
    {"0 0 31 FEB *", "never fires"},
};

class CronErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CronErrorTest, NamesTheFieldAndText) {
  const ErrorCase& c = GetParam();
  Result<CronExpression> cron = CronExpression::Parse(c.expression);
  ASSERT_FALSE(cron.ok()) << c.expression;
  EXPECT_EQ(cron.status().code(), Status::Code::kInvalidInput);
  EXPECT_NE(cron.status().message().find(c.message), std::string::npos)
      << "expression: '" << c.expression << "'\nmessage:  " << cron.status().message()
      << "\nexpected: " << c.message;
}

INSTANTIATE_TEST_SUITE_P(Table, CronErrorTest, ::testing::ValuesIn(kErrorCases));

TEST(CronTest, DayThatExistsOnlyWithTheWeekdayRuleIsAccepted) {
  // Either day field may match, so Mondays in February keep it alive.
  EXPECT_TRUE(CronExpression::Parse("0 0 30 2 MON").ok());
  // Day 29 of February exists in leap years.
  EXPECT_TRUE(CronExpression::Parse("0 0 29 2 *").ok());
  EXPECT_TRUE(CronExpression::Parse("0 0 31 1-2 *").ok());
}

}  // namespace
}  // namespace baton
