// Parsing of 5-field cron expressions and the calendar search that finds the
// next or previous wall-clock minute an expression matches.
#include "engine/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <vector>

namespace baton {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using std::chrono::sys_days;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDayNames = {"SUN", "MON", "TUE", "WED",
                                                       "THU", "FRI", "SAT"};
constexpr std::array<std::string_view, 12> kMonthFullNames = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

// The Gregorian calendar repeats every 400 years (146097 days, a whole number of
// weeks), so a search that finds nothing in that span will never find anything.
constexpr days kSearchSpan{146097 + 366};

constexpr int kMinutesPerDay = 24 * 60;

// Searches stay within the years ISO 8601 writes with four digits; beyond them
// the calendar types overflow rather than fail.
constexpr sys_days kFirstSearchDay{std::chrono::year(1) / 1 / 1};
constexpr sys_days kLastSearchDay{std::chrono::year(9999) / 12 / 31};

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::string_view* names;  // names[i] stands for min_name_value + i
  int name_count;
  int min_name_value;
  const char* names_hint;
};

constexpr FieldSpec kMinuteField{"minute", 0, 59, nullptr, 0, 0, ""};
constexpr FieldSpec kHourField{"hour", 0, 23, nullptr, 0, 0, ""};
constexpr FieldSpec kDayOfMonthField{"day-of-month", 1, 31, nullptr, 0, 0, ""};
constexpr FieldSpec kMonthField{
    "month", 1, 12, kMonthNames.data(), 12, 1, " or a month name (JAN-DEC)"};
// 7 is read as Sunday as well as 0, as every cron since Vixie's does.
constexpr FieldSpec kDayOfWeekField{
    "day-of-week", 0, 7, kDayNames.data(), 7, 0, " or a day name (SUN-SAT)"};

// Parses the fields of one expression, each error naming the field and the
// whole expression so that a DAG author sees the text as written.
class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string_view expression)
      : spec_(spec), expression_(expression) {}

  Result<uint64_t> Parse(std::string_view field) const {
    uint64_t bits = 0;
    size_t begin = 0;
    while (true) {
      size_t comma = field.find(',', begin);
      std::string_view item = field.substr(
          begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin);
      if (item.empty()) return Error("empty item in list '" + std::string(field) + "'");
      Result<uint64_t> item_bits = ParseItem(item);
      if (!item_bits.ok()) return item_bits.status();
      bits |= *item_bits;
      if (comma == std::string_view::npos) break;
      begin = comma + 1;
    }
    return bits;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::InvalidInput("cron field '" + std::string(spec_.name) + "': " + what + " in '" +
                                std::string(expression_) + "'");
  }

  // item: "*", "N", "N-M", each optionally followed by "/STEP"; a bare "N/STEP"
  // runs from N to the field's maximum.
  Result<uint64_t> ParseItem(std::string_view item) const {
    std::string_view base = item;
    int step = 1;
    bool has_step = false;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      base = item.substr(0, slash);
      std::string_view step_text = item.substr(slash + 1);
      if (step_text.empty()) return Error("missing step after '/' in '" + std::string(item) + "'");
      std::optional<int> parsed = ParseNumber(step_text);
      if (!parsed) return Error("step '" + std::string(step_text) + "' is not a number");
      if (*parsed == 0) {
        return Error("step 0 in '" + std::string(item) + "' (a step must be at least 1)");
      }
      step = *parsed;
      has_step = true;
      if (base.empty()) return Error("missing range before '/' in '" + std::string(item) + "'");
    }

    int first = spec_.min;
    int last = spec_.max;
    if (base != "*") {
      size_t dash = base.find('-', 1);
      std::string_view first_text = base.substr(0, dash);
      Result<int> first_value = ParseValue(first_text);
      if (!first_value.ok()) return first_value.status();
      first = *first_value;
      if (dash != std::string_view::npos) {
        std::string_view last_text = base.substr(dash + 1);
        if (last_text.empty()) return Error("range '" + std::string(base) + "' has no end");
        Result<int> last_value = ParseValue(last_text);
        if (!last_value.ok()) return last_value.status();
        last = *last_value;
        // "FRI-SUN" reads naturally; Sunday at the end of a range is day 7.
        if (&spec_ == &kDayOfWeekField && last == 0 && first > 0 && !IsNumber(last_text)) last = 7;
        if (first > last) {
          return Error("range " + std::string(base) + " is reversed (its start is after its end)");
        }
      } else if (!has_step) {
        last = first;
      }
    }

    uint64_t bits = 0;
    for (int value = first; value <= last; value += step) bits |= uint64_t{1} << value;
    return bits;
  }

  static bool IsNumber(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }

  // A decimal number small enough to compare with a field's range.
  static std::optional<int> ParseNumber(std::string_view text) {
    if (!IsNumber(text)) return std::nullopt;
    int value = 0;
    for (char c : text) {
      value = value * 10 + (c - '0');
      if (value > 1'000'000) value = 1'000'000;
    }
    return value;
  }

  Result<int> ParseValue(std::string_view text) const {
    if (std::optional<int> number = ParseNumber(text)) {
      if (*number < spec_.min || *number > spec_.max) {
        return Error(std::string(text) + " is out of range " + std::to_string(spec_.min) + "-" +
                     std::to_string(spec_.max));
      }
      return *number;
    }
    for (int i = 0; i < spec_.name_count; ++i) {
      std::string_view name = spec_.names[i];
      if (text.size() != name.size()) continue;
      bool same = true;
      for (size_t j = 0; j < name.size() && same; ++j) {
        same = std::toupper(static_cast<unsigned char>(text[j])) == name[j];
      }
      if (same) return spec_.min_name_value + i;
    }
    return Error("'" + std::string(text) + "' is not a number" + spec_.names_hint);
  }

  const FieldSpec& spec_;
  std::string_view expression_;
};

std::vector<std::string_view> SplitOnSpaces(std::string_view text) {
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    size_t start = pos;
    while (pos < text.size() && !std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    if (pos > start) words.push_back(text.substr(start, pos - start));
  }
  return words;
}

// The longest each month can be, counting February 29.
constexpr std::array<int, 13> kMaxDaysInMonth = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

sys_days ToDays(CronExpression::WallMinute t) {
  return sys_days(std::chrono::floor<days>(t).time_since_epoch());
}

}  // namespace

Result<CronExpression> CronExpression::Parse(std::string_view text) {
  std::vector<std::string_view> fields = SplitOnSpaces(text);
  if (fields.size() != 5) {
    return Status::InvalidInput("cron expression '" + std::string(text) + "' has " +
                                std::to_string(fields.size()) +
                                " fields; expected 5 (minute hour day-of-month month day-of-week)");
  }

  CronExpression cron;
  cron.text_ = std::string(text);
  const std::array<const FieldSpec*, 5> specs = {&kMinuteField, &kHourField, &kDayOfMonthField,
                                                 &kMonthField, &kDayOfWeekField};
  std::array<uint64_t, 5> bits{};
  for (size_t i = 0; i < specs.size(); ++i) {
    Result<uint64_t> field_bits = FieldParser(*specs[i], text).Parse(fields[i]);
    if (!field_bits.ok()) return field_bits.status();
    bits[i] = *field_bits;
  }
  if (bits[4] & (uint64_t{1} << 7)) bits[4] = (bits[4] | 1) & ~(uint64_t{1} << 7);

  cron.minutes_ = std::bitset<60>(bits[0]);
  cron.hours_ = std::bitset<24>(bits[1]);
  cron.days_of_month_ = std::bitset<32>(bits[2]);
  cron.months_ = std::bitset<13>(bits[3]);
  cron.days_of_week_ = std::bitset<7>(bits[4]);
  cron.day_of_month_restricted_ = fields[2][0] != '*';
  cron.day_of_week_restricted_ = fields[4][0] != '*';

  // With both day fields restricted any allowed weekday fires, and every weekday
  // falls on every date in some year; only a date that never exists can stop it.
  if (!(cron.day_of_month_restricted_ && cron.day_of_week_restricted_)) {
    bool some_day_exists = false;
    for (int month = 1; month <= 12 && !some_day_exists; ++month) {
      if (!cron.months_.test(month)) continue;
      for (int day = 1; day <= kMaxDaysInMonth[month] && !some_day_exists; ++day) {
        some_day_exists = cron.days_of_month_.test(day);
      }
    }
    if (!some_day_exists) {
      std::string months;
      for (int month = 1; month <= 12; ++month) {
        if (!cron.months_.test(month)) continue;
        if (!months.empty()) months += ", ";
        months += kMonthFullNames[month - 1];
      }
      return Status::InvalidInput("cron expression '" + std::string(text) +
                                  "' never fires: no day-of-month in '" + std::string(fields[2]) +
                                  "' exists in " + months);
    }
  }
  return cron;
}

bool CronExpression::MatchesDay(int day_of_month, int day_of_week) const {
  bool day_of_month_matches = days_of_month_.test(day_of_month);
  bool day_of_week_matches = days_of_week_.test(day_of_week % 7);
  if (day_of_month_restricted_ && day_of_week_restricted_) {
    return day_of_month_matches || day_of_week_matches;
  }
  return day_of_month_matches && day_of_week_matches;
}

std::optional<int> CronExpression::FirstMinuteOfDayAtOrAfter(int minute_of_day) const {
  for (int hour = minute_of_day / 60; hour < 24; ++hour) {
    if (!hours_.test(hour)) continue;
    int first_minute = hour == minute_of_day / 60 ? minute_of_day % 60 : 0;
    for (int minute = first_minute; minute < 60; ++minute) {
      if (minutes_.test(minute)) return hour * 60 + minute;
    }
  }
  return std::nullopt;
}

std::optional<int> CronExpression::LastMinuteOfDayAtOrBefore(int minute_of_day) const {
  for (int hour = minute_of_day / 60; hour >= 0; --hour) {
    if (!hours_.test(hour)) continue;
    int last_minute = hour == minute_of_day / 60 ? minute_of_day % 60 : 59;
    for (int minute = last_minute; minute >= 0; --minute) {
      if (minutes_.test(minute)) return hour * 60 + minute;
    }
  }
  return std::nullopt;
}

std::optional<CronExpression::WallMinute> CronExpression::FirstMatchAtOrAfter(
    WallMinute from) const {
  sys_days day = ToDays(from);
  int minute_of_day = static_cast<int>((from - std::chrono::floor<days>(from)).count());
  const sys_days limit = std::min(day + kSearchSpan, kLastSearchDay);
  while (day <= limit) {
    std::chrono::year_month_day date(day);
    if (!MatchesMonth(static_cast<int>(unsigned(date.month())))) {
      day = sys_days((date.year() / date.month() + std::chrono::months(1)) / 1);
      minute_of_day = 0;
      continue;
    }
    if (MatchesDay(static_cast<int>(unsigned(date.day())),
                   static_cast<int>(std::chrono::weekday(day).c_encoding()))) {
      if (std::optional<int> minute = FirstMinuteOfDayAtOrAfter(minute_of_day)) {
        return WallMinute(day.time_since_epoch() + minutes(*minute));
      }
    }
    day += days(1);
    minute_of_day = 0;
  }
  return std::nullopt;
}

std::optional<CronExpression::WallMinute> CronExpression::LastMatchAtOrBefore(WallMinute to) const {
  sys_days day = ToDays(to);
  int minute_of_day = static_cast<int>((to - std::chrono::floor<days>(to)).count());
  const sys_days limit = std::max(day - kSearchSpan, kFirstSearchDay);
  while (day >= limit) {
    std::chrono::year_month_day date(day);
    if (!MatchesMonth(static_cast<int>(unsigned(date.month())))) {
      day = sys_days((date.year() / date.month()) / 1) - days(1);
      minute_of_day = kMinutesPerDay - 1;
      continue;
    }
    if (MatchesDay(static_cast<int>(unsigned(date.day())),
                   static_cast<int>(std::chrono::weekday(day).c_encoding()))) {
      if (std::optional<int> minute = LastMinuteOfDayAtOrBefore(minute_of_day)) {
        return WallMinute(day.time_since_epoch() + minutes(*minute));
      }
    }
    day -= days(1);
    minute_of_day = kMinutesPerDay - 1;
  }
  return std::nullopt;
}

}  // namespace baton
