// ISO 8601 times and file-style durations ("1h30m"): parsing with messages that
// quote the bad text, and printing in the forms the parsers read back.
#include "common/time.h"

#include <date/date.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>

namespace baton {
namespace {

// Reads exactly `width` digits at text[pos], advancing pos; -1 when they are not there.
int ReadDigits(std::string_view text, size_t& pos, int width) {
  if (pos + width > text.size()) return -1;
  int value = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return value;
}

struct DurationUnit {
  std::string_view name;
  int64_t milliseconds;
};

constexpr DurationUnit kDurationUnits[] = {
    {"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

std::string FormatIso8601(TimePoint t) {
  auto day = date::floor<date::days>(t);
  date::year_month_day ymd(day);
  date::hh_mm_ss<Micros> tod(t - day);
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(tod.hours().count()),
                int(tod.minutes().count()), int(tod.seconds().count()));
  std::string out = buffer;
  if (auto fraction = tod.subseconds().count(); fraction != 0) {
    std::snprintf(buffer, sizeof buffer, ".%06lld", static_cast<long long>(fraction));
    out += buffer;
  }
  return out + "Z";
}

std::string FormatDate(TimePoint t) {
  date::year_month_day ymd(date::floor<date::days>(t));
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buffer;
}

Result<TimePoint> ParseIso8601(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidInput(
        "'" + std::string(text) +
        "' is not a date or time (expected YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM])");
  };
  size_t pos = 0;
  int year = ReadDigits(text, pos, 4);
  if (year < 0 || !Expect(text, pos, '-')) return bad();
  int month = ReadDigits(text, pos, 2);
  if (month < 0 || !Expect(text, pos, '-')) return bad();
  int day = ReadDigits(text, pos, 2);
  if (day < 0) return bad();
  date::year_month_day ymd{date::year(year), date::month(unsigned(month)),
                           date::day(unsigned(day))};
  if (!ymd.ok()) return bad();
  Micros time_of_day{0};
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    int hour = ReadDigits(text, pos, 2);
    if (hour < 0 || hour > 23 || !Expect(text, pos, ':')) return bad();
    int minute = ReadDigits(text, pos, 2);
    if (minute < 0 || minute > 59) return bad();
    int second = 0;
    bool has_seconds = Expect(text, pos, ':');
    if (has_seconds) {
      second = ReadDigits(text, pos, 2);
      if (second < 0 || second > 59) return bad();
    }
    time_of_day =
        std::chrono::hours(hour) + std::chrono::minutes(minute) + std::chrono::seconds(second);
    // A fraction belongs to the seconds; "10:00.5" is a typo, not half a second.
    if (has_seconds && Expect(text, pos, '.')) {
      int64_t fraction = 0;
      int digits = 0;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
        if (digits < 6) fraction = fraction * 10 + (text[pos] - '0'), ++digits;
        ++pos;
      }
      if (digits == 0) return bad();
      while (digits++ < 6) fraction *= 10;
      time_of_day += Micros(fraction);
    }
  }
  Micros offset{0};
  if (Expect(text, pos, 'Z') || Expect(text, pos, 'z')) {
    // UTC, the default.
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int hours = ReadDigits(text, pos, 2);
    Expect(text, pos, ':');
    int minutes = ReadDigits(text, pos, 2);
    if (hours < 0 || minutes < 0 || hours > 23 || minutes > 59) return bad();
    offset = sign * (std::chrono::hours(hours) + std::chrono::minutes(minutes));
  }
  if (pos != text.size()) return bad();
  return TimePoint(date::sys_days(ymd).time_since_epoch() + time_of_day - offset);
}

Result<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidInput(
        "'" + std::string(text) +
        "' is not a duration (expected e.g. \"30s\", \"5m\", \"1h30m\", \"500ms\")");
  };
  if (text.empty()) return bad();
  Duration total{0};
  size_t pos = 0;
  bool bare_number = true;
  while (pos < text.size()) {
    size_t start = pos;
    int64_t value = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      value = value * 10 + (text[pos] - '0');
      if (value > 100'000'000'000LL) return bad();
      ++pos;
    }
    if (pos == start) return bad();
    size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) {
      if (!bare_number || pos != text.size() || start != 0) return bad();
      return Duration(std::chrono::seconds(value));
    }
    bare_number = false;
    const auto* known = std::find_if(std::begin(kDurationUnits), std::end(kDurationUnits),
                                     [&](const DurationUnit& u) { return u.name == unit; });
    if (known == std::end(kDurationUnits)) return bad();
    // Each part fits (value is at most 1e11, a day 8.64e7 ms); their sum might not.
    Duration part(value * known->milliseconds);
    if (part > Duration::max() - total) return bad();
    total += part;
  }
  return total;
}

std::string FormatDuration(Duration d) {
  if (d.count() == 0) return "0s";
  if (d.count() < 0) return "-" + FormatDuration(-d);
  std::string out;
  int64_t ms = d.count();
  for (auto unit = std::rbegin(kDurationUnits); unit != std::rend(kDurationUnits); ++unit) {
    if (ms >= unit->milliseconds) {
      out += std::to_string(ms / unit->milliseconds) + std::string(unit->name);
      ms %= unit->milliseconds;
    }
  }
  return out;
}

}  // namespace baton
