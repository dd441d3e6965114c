// Schedules: presets and cron expressions evaluated on a DAG's wall clock (IANA
// zones through date/tz), and Airflow's data intervals built from fire times.
#include "engine/schedule.h"

#include <date/tz.h>

#include <array>
#include <cctype>
#include <exception>

namespace baton {
namespace {

using WallMinute = CronExpression::WallMinute;

struct Preset {
  std::string_view name;
  std::string_view expression;
};

constexpr std::array<Preset, 7> kPresets = {{
    {"@hourly", "0 * * * *"},
    {"@daily", "0 0 * * *"},
    {"@weekly", "0 0 * * 0"},
    {"@monthly", "0 0 1 * *"},
    {"@quarterly", "0 0 1 */3 *"},
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
}};

// No zone has ever moved its clock by more than a day at once, so periods that
// ended longer ago than this cannot hold wall-clock times later than now's.
constexpr std::chrono::hours kLongestClockChange{48};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::string ToLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

date::local_time<std::chrono::minutes> ToDateLocal(WallMinute t) {
  return date::local_time<std::chrono::minutes>(t.time_since_epoch());
}

WallMinute ToWallMinute(date::local_time<Micros> t) {
  return WallMinute(std::chrono::floor<std::chrono::minutes>(t.time_since_epoch()));
}

// The instant a matching wall-clock minute fires: a repeated minute at its first
// occurrence, a skipped one at the end of the gap (date's choose::earliest gives
// both). This mapping never decreases as the wall clock advances, which is what
// lets the searches below stop at the first candidate that fits.
TimePoint FireInstant(const date::time_zone& zone, WallMinute wall) {
  return std::chrono::time_point_cast<Micros>(
      zone.to_sys(ToDateLocal(wall), date::choose::earliest));
}

// Every wall-clock minute that fires before t is at or before this one.
WallMinute LatestWallMinuteBefore(const date::time_zone& zone, TimePoint t) {
  date::sys_info info = zone.get_info(t);
  auto latest = date::local_time<Micros>((t + info.offset).time_since_epoch());
  // After a fall back, wall times of the earlier (larger) offset ran ahead of now's.
  while (info.begin > t - kLongestClockChange) {
    info = zone.get_info(info.begin - std::chrono::seconds(1));
    auto period_end = date::local_time<Micros>((info.end + info.offset).time_since_epoch());
    if (period_end > latest) latest = period_end;
  }
  return ToWallMinute(latest);
}

}  // namespace

Result<Schedule> Schedule::Parse(std::string_view spec, std::string_view time_zone) {
  Schedule schedule;
  std::string_view trimmed = Trim(spec);
  schedule.spec_ = std::string(trimmed);
  std::string lower = ToLower(trimmed);
  if (lower.empty() || lower == "none") {
    schedule.kind_ = Kind::kNone;
  } else if (lower == "@once") {
    schedule.kind_ = Kind::kOnce;
  } else {
    std::string_view expression = trimmed;
    if (lower.front() == '@') {
      const Preset* preset = nullptr;
      std::string names;
      for (const Preset& candidate : kPresets) {
        if (candidate.name == lower) preset = &candidate;
        names += std::string(names.empty() ? "" : " ") + std::string(candidate.name);
      }
      if (preset == nullptr) {
        return Status::InvalidInput("unknown schedule preset '" + std::string(trimmed) +
                                    "' (expected one of @once " + names +
                                    ", none, or a 5-field cron expression)");
      }
      expression = preset->expression;
    }
    Result<CronExpression> cron = CronExpression::Parse(expression);
    if (!cron.ok()) return cron.status();
    schedule.kind_ = Kind::kCron;
    schedule.cron_ = std::move(cron).value();
  }

  schedule.time_zone_name_ = std::string(time_zone);
  try {
    schedule.time_zone_ = date::locate_zone(schedule.time_zone_name_);
  } catch (const std::exception&) {
    return Status::InvalidInput("unknown time zone '" + schedule.time_zone_name_ +
                                "' (expected an IANA name such as 'UTC' or 'Europe/Paris')");
  }
  return schedule;
}

std::optional<TimePoint> Schedule::NextFireAfter(TimePoint t) const {
  if (kind_ != Kind::kCron) return std::nullopt;
  // No wall-clock minute up to t's own can fire after t, so start one later.
  WallMinute from = ToWallMinute(time_zone_->to_local(t)) + std::chrono::minutes(1);
  while (true) {
    std::optional<WallMinute> match = cron_->FirstMatchAtOrAfter(from);
    if (!match) return std::nullopt;
    TimePoint fire = FireInstant(*time_zone_, *match);
    // Fails only for the first occurrence of a repeated hour that t is past.
    if (fire > t) return fire;
    from = *match + std::chrono::minutes(1);
  }
}

std::optional<TimePoint> Schedule::FirstFireAtOrAfter(TimePoint t) const {
  return NextFireAfter(t - Micros(1));
}

std::optional<TimePoint> Schedule::LastFireBefore(TimePoint t) const {
  if (kind_ != Kind::kCron) return std::nullopt;
  WallMinute to = LatestWallMinuteBefore(*time_zone_, t);
  while (true) {
    std::optional<WallMinute> match = cron_->LastMatchAtOrBefore(to);
    if (!match) return std::nullopt;
    TimePoint fire = FireInstant(*time_zone_, *match);
    if (fire < t) return fire;
    to = *match - std::chrono::minutes(1);
  }
}

std::optional<DataInterval> Schedule::NextInterval(std::optional<TimePoint> previous_logical_date,
                                                   TimePoint start_date) const {
  switch (kind_) {
    case Kind::kNone:
      return std::nullopt;
    case Kind::kOnce:
      if (previous_logical_date) return std::nullopt;
      return DataInterval{start_date, start_date};
    case Kind::kCron:
      break;
  }
  std::optional<TimePoint> start = previous_logical_date ? NextFireAfter(*previous_logical_date)
                                                         : FirstFireAtOrAfter(start_date);
  if (!start) return std::nullopt;
  std::optional<TimePoint> end = NextFireAfter(*start);
  if (!end) return std::nullopt;
  return DataInterval{*start, *end};
}

std::optional<DataInterval> Schedule::LatestCompleteInterval(TimePoint now,
                                                             TimePoint start_date) const {
  switch (kind_) {
    case Kind::kNone:
      return std::nullopt;
    case Kind::kOnce:
      if (start_date > now) return std::nullopt;
      return DataInterval{start_date, start_date};
    case Kind::kCron:
      break;
  }
  std::optional<TimePoint> first = FirstFireAtOrAfter(start_date);
  if (!first) return std::nullopt;
  std::optional<TimePoint> end = LastFireBefore(now + Micros(1));
  if (!end || *end <= *first) return std::nullopt;
  // `first` is a fire time before `end`, so the one just before `end` is at or after it.
  std::optional<TimePoint> start = LastFireBefore(*end);
  if (!start) return std::nullopt;
  return DataInterval{*start, *end};
}

}  // namespace baton
