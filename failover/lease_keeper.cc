#include "failover/lease_keeper.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace baton {
namespace {

std::string Milliseconds(std::chrono::nanoseconds d) {
  return FormatDuration(std::chrono::duration_cast<Duration>(std::max(d, d.zero())));
}

}  // namespace

LeaseKeeper::LeaseKeeper(Store& store, const Clock& clock, LeaseKeeperSettings settings)
    : store_(store),
      clock_(clock),
      settings_(std::move(settings)),
      margin_(SafetyMargin(settings_.heartbeat_interval, settings_.lease_ttl)) {}

Duration LeaseKeeper::SafetyMargin(Duration heartbeat_interval, Duration lease_ttl) {
  return std::min(heartbeat_interval, lease_ttl / 4);
}

Result<LeaseChange> LeaseKeeper::Step() { return active_ ? Renew() : TryAcquire(); }

Result<LeaseChange> LeaseKeeper::TryAcquire() {
  // Read first: a standby learns who held the lease (for the takeover alert),
  // spares the store a write while the lease is held, and sees its own
  // leftovers before deciding anything.
  Result<Lease> lease = store_.GetLease();
  if (!lease.ok()) return lease.status();
  const bool held = lease->remaining > Duration(0);
  standby_wait_ = held ? std::optional<Duration>(lease->remaining) : std::nullopt;
  if (held && lease->holder_job_id == settings_.job_id) {
    // An advance whose outcome was unknown when the lease was given up may have
    // moved it on by one.
    const bool given_up = lost_epoch_ && (lease->epoch == *lost_epoch_ ||
                                          (advance_unknown_ && lease->epoch == *lost_epoch_ + 1));
    if (given_up) {
      // Given up on our own clock while the store still names us: hand it over
      // now rather than make the next holder wait out the ttl.
      Status released = store_.ReleaseLease(settings_.job_id, lease->epoch);
      if (!released.ok()) return released;
      lost_epoch_.reset();
      advance_unknown_ = false;
      return LeaseChange{};
    }
    if (acquire_ambiguous_) {
      // An acquire whose reply was lost did commit. Renew it, so the deadline
      // counts from a send time this controller knows.
      const std::chrono::nanoseconds sent = clock_.Monotonic();
      Result<bool> renewed = store_.RenewLease(settings_.job_id, lease->epoch, settings_.lease_ttl);
      if (!renewed.ok()) return renewed.status();
      acquire_ambiguous_ = false;
      if (!*renewed) return LeaseChange{};
      return BecomeActive(lease->epoch, sent,
                          fmt::format("acquired the lease with epoch {} (an earlier acquire whose "
                                      "reply was lost had committed)",
                                      lease->epoch));
    }
  }
  if (held) return LeaseChange{};

  acquire_ambiguous_ = false;
  const std::chrono::nanoseconds sent = clock_.Monotonic();
  Result<std::optional<int64_t>> acquired =
      store_.AcquireLease(settings_.node, settings_.job_id, settings_.lease_ttl);
  if (!acquired.ok()) {
    acquire_ambiguous_ = true;
    return acquired.status();
  }
  // Another standby was faster, or a switchover names another node.
  if (!*acquired) return LeaseChange{};
  const std::string previous =
      lease->holder.empty() ? "the lease was free" : "previous holder " + lease->holder;
  LeaseChange change = BecomeActive(
      **acquired, sent, fmt::format("acquired the lease with epoch {} ({})", **acquired, previous));
  change.previous_holder = lease->holder;
  change.planned = lease->promote_to == settings_.node;
  return change;
}

Result<LeaseChange> LeaseKeeper::Renew() {
  const std::chrono::nanoseconds sent = clock_.Monotonic();
  if (sent >= deadline_) {
    return Lose(fmt::format("no renew of epoch {} succeeded within {} of the last one", epoch_,
                            Milliseconds(deadline_ - last_sent_)));
  }
  Status settled = SettleAdvance(store_);
  Result<bool> renewed = settled.ok()
                             ? store_.RenewLease(settings_.job_id, epoch_, settings_.lease_ttl)
                             : Result<bool>(settled);
  const std::chrono::nanoseconds returned = clock_.Monotonic();
  if (!renewed.ok()) {
    if (returned < deadline_) return renewed.status();
    return Lose(fmt::format("renewing epoch {} failed until the deadline passed: {}", epoch_,
                            renewed.status().message()));
  }
  if (!*renewed) {
    return Lose(fmt::format(
        "the store no longer names this controller holder of epoch {} (expired and taken, or "
        "cleared)",
        epoch_));
  }
  if (returned >= deadline_) {
    // The deadline guard has already acted on the deadline; a late yes does not
    // undo that. The next standby step releases the row if it is still ours.
    return Lose(fmt::format("the renew of epoch {} was answered {} after the deadline", epoch_,
                            Milliseconds(returned - deadline_)));
  }
  const std::chrono::nanoseconds gap = sent - last_sent_;
  last_sent_ = sent;
  deadline_ = sent + settings_.lease_ttl - margin_;
  if (gap > settings_.heartbeat_interval * 3 / 2) {
    LeaseChange change;
    change.kind = LeaseChange::Kind::kRenewedLate;
    change.epoch = epoch_;
    change.message = fmt::format(
        "renewed epoch {} {} after the previous renew (expected every {}); the lease had {} left",
        epoch_, Milliseconds(gap), FormatDuration(settings_.heartbeat_interval),
        Milliseconds(settings_.lease_ttl - gap));
    return change;
  }
  return LeaseChange{};
}

LeaseChange LeaseKeeper::MarkLost(const std::string& reason) {
  if (!active_) return LeaseChange{};
  return Lose(fmt::format("gave up epoch {}: {}", epoch_, reason));
}

Status LeaseKeeper::Release() {
  if (!active_) return Status::Ok();
  active_ = false;
  lost_epoch_ = epoch_;
  return store_.ReleaseLease(settings_.job_id, epoch_);
}

Result<int64_t> LeaseKeeper::AdvanceEpoch(Store& store) {
  if (!active_) return Status::Fenced("this controller does not hold the lease");
  if (clock_.Monotonic() >= deadline_) {
    return Status::Fenced(
        fmt::format("the deadline of epoch {} passed before it could move to a new epoch", epoch_));
  }
  BATON_RETURN_IF_ERROR(SettleAdvance(store));
  Result<std::optional<int64_t>> advanced = store.AdvanceEpoch(settings_.job_id, epoch_);
  const std::chrono::nanoseconds returned = clock_.Monotonic();
  if (!advanced.ok()) {
    advance_unknown_ = true;
    return advanced.status();
  }
  if (!*advanced) {
    return Status::Fenced(fmt::format(
        "the store no longer names this controller holder of epoch {} (expired and taken, or "
        "cleared)",
        epoch_));
  }
  const int64_t previous = epoch_;
  epoch_ = **advanced;
  if (returned >= deadline_) {
    // The new epoch is the one held, so that the next step gives up (and hands
    // back) the lease the store now holds for this controller.
    return Status::Fenced(
        fmt::format("the move from epoch {} to {} was answered {} after the deadline", previous,
                    epoch_, Milliseconds(returned - deadline_)));
  }
  return epoch_;
}

Status LeaseKeeper::SettleAdvance(Store& store) {
  if (!advance_unknown_) return Status::Ok();
  Result<Lease> lease = store.GetLease();
  if (!lease.ok()) return lease.status();
  advance_unknown_ = false;
  // Only that advance moves this controller's lease to the next epoch; anything
  // else, and the call that follows finds out what the store says.
  if (lease->holder_job_id == settings_.job_id && lease->epoch == epoch_ + 1) epoch_ += 1;
  return Status::Ok();
}

LeaseChange LeaseKeeper::BecomeActive(int64_t epoch, std::chrono::nanoseconds sent,
                                      std::string message) {
  active_ = true;
  epoch_ = epoch;
  lost_epoch_.reset();
  advance_unknown_ = false;
  last_sent_ = sent;
  deadline_ = sent + settings_.lease_ttl - margin_;
  LeaseChange change;
  change.kind = LeaseChange::Kind::kAcquired;
  change.epoch = epoch;
  change.message = std::move(message);
  return change;
}

LeaseChange LeaseKeeper::Lose(std::string message) {
  active_ = false;
  lost_epoch_ = epoch_;
  LeaseChange change;
  change.kind = LeaseChange::Kind::kLost;
  change.epoch = epoch_;
  change.message = std::move(message);
  return change;
}

}  // namespace baton
