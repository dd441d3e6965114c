// A parsed 5-field cron expression (minute hour day-of-month month day-of-week)
// with lists, ranges, steps and month/day names, matched against wall-clock
// fields. Time zones are the Schedule's business, not this class's.
#pragma once

#include <bitset>
#include <string>
#include <string_view>

#include "common/status.h"

namespace baton {

class CronExpression {
 public:
  // Error messages name the field and the offending text, e.g.
  // "cron field 'hour': 24 is out of range 0-23 in '0 24 * * *'".
  static Result<CronExpression> Parse(std::string_view text);

  // Wall-clock fields; day_of_week is 0 for Sunday (7 is also read as Sunday).
  bool MatchesMinute(int minute) const { return minutes_.test(minute); }
  bool MatchesHour(int hour) const { return hours_.test(hour); }
  bool MatchesMonth(int month) const { return months_.test(month); }
  // Vixie cron semantics: when both day fields are restricted, either may match.
  bool MatchesDay(int day_of_month, int day_of_week) const;

  const std::string& text() const { return text_; }

 private:
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
