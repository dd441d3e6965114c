// Telling systemd how a daemon is doing, for the units of Type=notify in
// systemd/: READY=1 once it serves, STATUS= lines, STOPPING=1, and WATCHDOG=1
// pings that prove its loops still turn (sd_notify(3), sd_watchdog_enabled(3)).
// Everything is a no-op when systemd did not ask for it (NOTIFY_SOCKET or
// WATCHDOG_USEC unset), so the daemons call it unconditionally.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/time.h"

namespace baton {

// NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID: what systemd hands the
// process it supervises. The processes a daemon starts (tasks, node commands,
// alert commands) must not inherit them, or a task could tell systemd that
// the daemon is ready, alive or stopping.
bool IsServiceManagerVariable(std::string_view name);

// One notification each; OK when sent and when nobody listens (NOTIFY_SOCKET
// unset). A status is one line: a line break in it would start another
// assignment, so it is sent as a space.
Status NotifyReady(const std::string& status);
Status NotifyStatus(const std::string& status);
Status NotifyStopping(const std::string& status);
Status NotifyWatchdog();

// WatchdogSec= of the unit (WATCHDOG_USEC, when WATCHDOG_PID is unset or names
// this process); nullopt when systemd asked for no pings.
std::optional<Duration> SystemdWatchdogTimeout();

// What one daemon tells systemd while it runs. The first Report goes with
// READY=1; later ones send STATUS= only when the text changed. WATCHDOG=1 goes
// out only once each of the daemon's `loops` has completed a whole iteration
// since the previous ping, so that any one hung loop stops the pings and
// systemd restarts the daemon, and at most every ping_interval(), so a loop
// that turns five times a second does not send five datagrams. The
// environment is read once, at construction. Thread-safe: loops on several
// threads report to one notifier.
class SystemdNotifier {
 public:
  explicit SystemdNotifier(int loops = 1, const Clock& clock = DefaultClock());

  // Whether systemd listens (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }
  // WatchdogSec=; nullopt when systemd asked for no pings.
  std::optional<Duration> watchdog_timeout() const { return watchdog_timeout_; }
  // A quarter of WatchdogSec: the shortest gap between two pings, and how
  // often a loop without iterations of its own (an event loop) must report.
  // nullopt without a watchdog.
  std::optional<Duration> ping_interval() const;

  // The daemon serves (the first call: READY=1), or its state reads `status` now.
  void Report(const std::string& status);
  // Loop `loop` (0 <= loop < loops) has completed an iteration.
  void IterationCompleted(int loop);
  // The daemon has begun to stop: STOPPING=1; later Reports only update STATUS.
  void Stopping(const std::string& status);

 private:
  // Logs the first failure only: systemd going away must not flood the log.
  void Check(const Status& sent);

  const bool enabled_;
  const std::optional<Duration> watchdog_timeout_;
  const Clock& clock_;
  std::mutex mutex_;
  bool ready_sent_ = false;
  std::string last_status_;
  std::vector<bool> completed_;  // per loop, since the last ping
  std::chrono::nanoseconds last_ping_;
  bool failure_logged_ = false;
};

}  // namespace baton
