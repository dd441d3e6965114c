// LeaseKeeper: this controller's side of the failover lease. A standby acquires
// the lease once the store says it expired; the holder renews it and decides on
// its own monotonic clock when it must consider it lost.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "common/time.h"
#include "engine/store.h"

namespace baton {

struct LeaseKeeperSettings {
  std::string node;                                       // this controller's node name
  int64_t job_id = 0;                                     // this controller's job row
  Duration heartbeat_interval = std::chrono::seconds(2);  // the cadence of Step()
  Duration lease_ttl = std::chrono::seconds(10);
};

// What one call changed.
struct LeaseChange {
  enum class Kind {
    kNone,         // still standby, or renewed on time
    kAcquired,     // this controller now holds the lease with `epoch`
    kRenewedLate,  // renewed, but later than 1.5 heartbeat intervals after the previous renew
    kLost,         // stop acting now: the lease of `epoch` may no longer be ours
  };
  Kind kind = Kind::kNone;
  int64_t epoch = 0;
  // kAcquired: who held the lease before (empty: nobody), and whether a
  // switchover named this node, so the change was planned.
  std::string previous_holder;
  bool planned = false;
  std::string message;  // for the log and the failover history
};

// The lease, as one controller holds it. Safety rests on one rule: the holder
// counts on its own Clock::Monotonic() (CLOCK_BOOTTIME) from the moment it
// *sent* its latest successful acquire or renew. The store runs that statement
// later and sets expires_at = its now + lease_ttl, so the store's expiry is never
// before send + lease_ttl; the keeper gives the lease up at
// send + lease_ttl - SafetyMargin(), whatever the store answers afterwards. No
// wall clock of any host is compared with another's.
//
// Every scheduler start gets an epoch of its own: the first after an acquire
// takes the acquired one, each later one AdvanceEpoch's. A scheduler that was
// only hung or cut off and comes back is then fenced like one of an earlier
// holder.
//
// Pure logic over a Store and a Clock; one call at a time (the caller
// serializes the calls of two threads: see AdvanceEpoch).
class LeaseKeeper {
 public:
  LeaseKeeper(Store& store, const Clock& clock, LeaseKeeperSettings settings);

  // How long before the store's earliest possible expiry the holder gives the
  // lease up: min(heartbeat_interval, lease_ttl / 4). The controller must stop
  // its local scheduler before a standby can take the lease; the margin covers
  // the time between the deadline and that stop having been sent (the guard
  // thread's reaction, starting the stop command) and any difference in rate
  // between this host's clock and the database's. It is capped at a quarter of
  // the ttl so that, with the smallest ttl allowed (2 * heartbeat_interval), a
  // holder still has its on-time renew plus half an interval of slack: the
  // deadline then falls exactly where a renew counts as late (1.5 intervals).
  // With the defaults (2 s, 10 s) the holder has four tries and gives up 2 s
  // before any standby can take over.
  static Duration SafetyMargin(Duration heartbeat_interval, Duration lease_ttl);

  // One try, every heartbeat_interval: when standby, acquires the lease if the
  // store says it expired; when active, renews it. A store error is returned as
  // is while it changes nothing; while active the lease is kept until its
  // deadline, and once that has passed the answer is kLost.
  Result<LeaseChange> Step();

  // Declares the lease lost without asking the store: the deadline guard fired,
  // or a write was fenced. kNone when not active.
  LeaseChange MarkLost(const std::string& reason);

  // Gives the lease up (graceful stop, switchover): standby afterwards, whatever
  // the store answers; a failed release only leaves the lease to expire.
  Status Release();

  // While active and before the deadline: moves the lease to the next epoch
  // (Store::AdvanceEpoch), which fences every scheduler started for an earlier
  // one; the holder calls it before each scheduler start that the held epoch
  // has already served. Returns the new epoch, held from then on; the deadline
  // stays where the latest acquire or renew put it (the expiry does not move).
  // Fenced when this controller may no longer act on the lease: not active, the
  // deadline passed (before sending, or before the answer came back), or the
  // store no longer names it holder of the epoch; the caller stops acting and
  // says so with MarkLost().
  //
  // Any other error leaves it unknown whether the store moved on (a reply lost
  // after the commit). The epoch held stays as it was, and the next call that
  // names it (AdvanceEpoch, or a renewing Step) first reads the lease back: when
  // the store names this controller with the next epoch, that is the epoch held.
  //
  // `store` is the caller's own connection (the controller's scheduler side
  // has one). The caller must not let this call overlap with any other call of
  // the keeper: a renew sent with the epoch that an advance is replacing would
  // be refused, and the lease lost for nothing.
  Result<int64_t> AdvanceEpoch(Store& store);

  // While standby: what the latest look at the lease said it had left by the
  // database's clock, so the next try can be made when it expires rather than
  // up to a heartbeat_interval later. nullopt when active or not yet known.
  std::optional<Duration> standby_wait() const { return standby_wait_; }
  bool active() const { return active_; }
  int64_t epoch() const { return epoch_; }  // the epoch held, or last held
  // While active: the Monotonic() time at which the lease must be considered lost.
  std::chrono::nanoseconds deadline() const { return deadline_; }

 private:
  Result<LeaseChange> TryAcquire();
  Result<LeaseChange> Renew();
  // After an advance with an unknown outcome: reads the lease back through
  // `store` and takes the next epoch as held when the store names this
  // controller with it.
  Status SettleAdvance(Store& store);
  LeaseChange BecomeActive(int64_t epoch, std::chrono::nanoseconds sent, std::string message);
  LeaseChange Lose(std::string message);

  Store& store_;
  const Clock& clock_;
  const LeaseKeeperSettings settings_;
  const Duration margin_;
  bool active_ = false;
  int64_t epoch_ = 0;
  std::chrono::nanoseconds last_sent_{0};  // of the latest successful acquire or renew
  std::chrono::nanoseconds deadline_{0};
  // An acquire that failed with a store error may still have committed; the next
  // standby step reads the row back before deciding (see DESIGN.md, pitfalls).
  bool acquire_ambiguous_ = false;
  std::optional<Duration> standby_wait_;
  // An advance of epoch_ failed with a store error and may still have applied;
  // the next renew or advance reads the row back first.
  bool advance_unknown_ = false;
  // The epoch given up last: never renewed again, released when still ours.
  std::optional<int64_t> lost_epoch_;
};

}  // namespace baton
