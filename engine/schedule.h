// When a DAG's runs fall due: a cron expression or preset evaluated in the DAG's
// IANA time zone, with instants kept in UTC. A wall-clock time skipped by a DST
// change fires at the first instant after the gap; a repeated one fires once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/time.h"
#include "engine/cron.h"

namespace date {
class time_zone;
}

namespace baton {

// A run's data interval: the run for [start, end) has logical date `start` and
// falls due at `end` (Airflow's semantics).
struct DataInterval {
  TimePoint start;
  TimePoint end;
};

class Schedule {
 public:
  enum class Kind { kNone, kOnce, kCron };

  // spec: "" or "none" (manual runs only), "@once", a preset (@hourly @daily
  // @weekly @monthly @quarterly @yearly @annually), or a 5-field cron expression.
  // time_zone: an IANA name such as "Europe/Paris" or "UTC".
  static Result<Schedule> Parse(std::string_view spec, std::string_view time_zone);

  Kind kind() const { return kind_; }
  const std::string& spec() const { return spec_; }
  const std::string& time_zone_name() const { return time_zone_name_; }

  // The first fire time strictly after t; nullopt for kNone and kOnce.
  std::optional<TimePoint> NextFireAfter(TimePoint t) const;
  // The first fire time at or after t.
  std::optional<TimePoint> FirstFireAtOrAfter(TimePoint t) const;

  // The interval that follows a run whose logical date is `previous_logical_date`,
  // or, without one, the first interval starting at or after `start_date`.
  // nullopt when there is none (kNone; kOnce after its single run).
  std::optional<DataInterval> NextInterval(std::optional<TimePoint> previous_logical_date,
                                           TimePoint start_date) const;

  // The latest interval that has ended at or before `now` and starts at or after
  // `start_date` (what catchup = false runs).
  std::optional<DataInterval> LatestCompleteInterval(TimePoint now, TimePoint start_date) const;

 private:
  // The last fire time strictly before t (kCron only).
  std::optional<TimePoint> LastFireBefore(TimePoint t) const;

  Kind kind_ = Kind::kNone;
  std::string spec_;
  std::string time_zone_name_;
  const date::time_zone* time_zone_ = nullptr;
  std::optional<CronExpression> cron_;
};

}  // namespace baton
