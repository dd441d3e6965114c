// A parsed 5-field cron expression (minute hour day-of-month month day-of-week)
// with lists, ranges, steps and month/day names, matched against wall-clock
// fields. Time zones are the Schedule's business, not this class's.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace baton {

// Parse rejects an expression that can never fire (such as "0 0 30 2 *"), so
// every parsed expression matches some minute in every 400-year span.
class CronExpression {
 public:
  // A minute on a wall clock with no time zone attached.
  using WallMinute = std::chrono::local_time<std::chrono::minutes>;

  // Error messages name the field and the offending text, e.g.
  // "cron field 'hour': 24 is out of range 0-23 in '0 24 * * *'".
  static Result<CronExpression> Parse(std::string_view text);

  // Wall-clock fields; day_of_week is 0 for Sunday (7 is also read as Sunday).
  bool MatchesMinute(int minute) const { return minutes_.test(minute); }
  bool MatchesHour(int hour) const { return hours_.test(hour); }
  bool MatchesMonth(int month) const { return months_.test(month); }
  // Vixie cron semantics: when both day fields are restricted, either may match.
  // As in Vixie cron, a day field that starts with '*' ("*", "*/2") is not
  // restricted, so "0 0 */2 * 1" fires on odd days that are also Mondays.
  bool MatchesDay(int day_of_month, int day_of_week) const;

  // The first matching wall-clock minute at or after `from`, found by skipping
  // whole months, days and hours; nullopt past the year 9999. (The calendar
  // repeats every 400 years, and Parse rejects expressions that never fire.)
  std::optional<WallMinute> FirstMatchAtOrAfter(WallMinute from) const;
  // The last matching wall-clock minute at or before `to`; nullopt before the year 1.
  std::optional<WallMinute> LastMatchAtOrBefore(WallMinute to) const;

  const std::string& text() const { return text_; }

 private:
  std::optional<int> FirstMinuteOfDayAtOrAfter(int minute_of_day) const;
  std::optional<int> LastMinuteOfDayAtOrBefore(int minute_of_day) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0..6, Sunday = 0
  bool day_of_month_restricted_ = false;
  bool day_of_week_restricted_ = false;
};

}  // namespace baton
