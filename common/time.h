// Points in time and durations as Baton stores and prints them: UTC, microsecond
// resolution, ISO 8601 on the outside, integer microseconds in the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace baton {

using Micros = std::chrono::microseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Micros>;
using Duration = std::chrono::milliseconds;

inline int64_t ToEpochMicros(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromEpochMicros(int64_t us) { return TimePoint(Micros(us)); }

// "2026-11-23T10:00:00Z", with ".ffffff" only when the fraction is not zero.
std::string FormatIso8601(TimePoint t);
// "2026-11-23" (the date part, in UTC).
std::string FormatDate(TimePoint t);

// Accepts "2026-11-23", "2026-11-23T10:00", "2026-11-23T10:00:00[.ffffff]", with
// a space instead of 'T', optionally ending in 'Z' or "+HH:MM"/"-HH:MM". A time
// without an offset is UTC.
Result<TimePoint> ParseIso8601(std::string_view text);

// Durations as written in files: "30s", "5m", "1h", "1h30m", "500ms", "2d", or a
// bare number of seconds. Negative values are rejected.
Result<Duration> ParseDuration(std::string_view text);
// The shortest form ParseDuration reads back: "90s" -> "1m30s".
std::string FormatDuration(Duration d);

}  // namespace baton
