// The failover statements the SQL backends share: the lease row (id 1) and the
// history. Parameters are plain `?`, bound in order, which SQLite and MariaDB
// both read; {now} and the column lists are expanded by ExpandStoreSql. Every
// time is the database's clock, so no two hosts' clocks are ever compared.
#pragma once

#include <string_view>

namespace baton::lease_sql {

inline constexpr std::string_view kSelectLease =
    "SELECT {lease_columns}, expires_at - {now} FROM failover_lease WHERE id = 1";

// Fencing reads the epoch inside the transaction it guards; MariaDB adds a
// shared lock, so that an acquire waits until that transaction has committed.
inline constexpr std::string_view kSelectLeaseEpoch =
    "SELECT epoch FROM failover_lease WHERE id = 1";

// Acquiring is one UPDATE of these assignments under this condition, decided by
// its affected-row count; each dialect adds its own `epoch = ...` assignment,
// which hands the new epoch back. Parameters: node, job id, ttl (SET), then
// node, ttl (WHERE). A switchover's target may take an expired lease at once;
// anyone else only when the target has let one more ttl go by.
inline constexpr std::string_view kAcquireAssignments =
    "holder = ?, holder_job_id = ?, expires_at = {now} + ?, acquired_at = {now}, "
    "promote_to = ''";
inline constexpr std::string_view kAcquirable =
    "id = 1 AND expires_at < {now} AND "
    "(promote_to = '' OR promote_to = ? OR expires_at < {now} - ?)";

// Parameters: ttl, job id, epoch. An expired lease that nobody has taken yet
// still matches: its holder renews it as if in time, and no one else has acted
// on it, since taking it would have changed the epoch.
inline constexpr std::string_view kRenewLease =
    "UPDATE failover_lease SET expires_at = {now} + ? "
    "WHERE id = 1 AND holder_job_id = ? AND epoch = ?";

// Advancing the epoch (a new scheduler start) is one UPDATE under this
// condition, decided by its affected-row count; each dialect adds its own
// `epoch = ...` assignment, which hands the new epoch back. The holder and the
// expiry stay as they are. Parameters: job id, epoch.
inline constexpr std::string_view kEpochHeld = "id = 1 AND holder_job_id = ? AND epoch = ?";

// Parameters: job id, epoch. One microsecond in the past, so that an acquire in
// the same tick of the clock already finds it expired.
inline constexpr std::string_view kReleaseLease =
    "UPDATE failover_lease SET expires_at = {now} - 1 "
    "WHERE id = 1 AND holder_job_id = ? AND epoch = ? AND expires_at >= {now}";

// Parameters: node, epoch.
inline constexpr std::string_view kSetSchedulerNode =
    "UPDATE failover_lease SET scheduler_node = ? WHERE id = 1 AND epoch = ?";
inline constexpr std::string_view kSetPromoteTo =
    "UPDATE failover_lease SET promote_to = ? WHERE id = 1";
inline constexpr std::string_view kSetMaintenance =
    "UPDATE failover_lease SET maintenance = ? WHERE id = 1";

inline constexpr std::string_view kInsertEvent =
    "INSERT INTO failover_event ({recorded_failover_event_columns}, at) "
    "VALUES (?, ?, ?, ?, {now})";
// Newest first; the backend adds its LIMIT.
inline constexpr std::string_view kListEvents =
    "SELECT {failover_event_columns} FROM failover_event ORDER BY at DESC, id DESC";

// Clearing keeps the epoch: a new holder still gets a newer one, which fences
// every scheduler started before.
inline constexpr std::string_view kClearLease =
    "UPDATE failover_lease SET holder = '', holder_job_id = 0, expires_at = 0, "
    "acquired_at = NULL, scheduler_node = '', promote_to = '', maintenance = 0 WHERE id = 1";
inline constexpr std::string_view kClearEvents = "DELETE FROM failover_event";
// Parameters: the ended state, the controller kind, the running state.
inline constexpr std::string_view kEndControllerJobs =
    "UPDATE job SET state = ? WHERE kind = ? AND state = ?";

}  // namespace baton::lease_sql
