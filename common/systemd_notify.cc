// sd_notify(3) behind Baton's own calls. unset_environment is always 0: the
// daemons notify for as long as they run, and the variables are kept out of
// the processes they start by the spawner (IsServiceManagerVariable) instead.
#include "common/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

namespace baton {
namespace {

constexpr char kNotifySocket[] = "NOTIFY_SOCKET";

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

Status Notify(const std::string& state) {
  const int sent = sd_notify(0, state.c_str());
  if (sent >= 0) return Status::Ok();
  const char* socket = std::getenv(kNotifySocket);
  return Status::Unavailable("cannot notify systemd through " + std::string(kNotifySocket) + "=" +
                             (socket ? socket : "") + ": " +
                             std::generic_category().message(-sent));
}

}  // namespace

bool IsServiceManagerVariable(std::string_view name) {
  return name == kNotifySocket || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID";
}

Status NotifyReady(const std::string& status) {
  return Notify("READY=1\nSTATUS=" + OneLine(status));
}

Status NotifyStatus(const std::string& status) { return Notify("STATUS=" + OneLine(status)); }

Status NotifyStopping(const std::string& status) {
  return Notify("STOPPING=1\nSTATUS=" + OneLine(status));
}

Status NotifyWatchdog() { return Notify("WATCHDOG=1"); }

std::optional<Duration> SystemdWatchdogTimeout() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  // Rounded up: a timeout below a millisecond must not read as none.
  return std::chrono::ceil<Duration>(std::chrono::microseconds(usec));
}

SystemdNotifier::SystemdNotifier(int loops, const Clock& clock)
    : enabled_(std::getenv(kNotifySocket) != nullptr),
      watchdog_timeout_(enabled_ ? SystemdWatchdogTimeout() : std::nullopt),
      clock_(clock),
      completed_(std::max(loops, 1), false),
      last_ping_(clock.Monotonic()) {}

std::optional<Duration> SystemdNotifier::ping_interval() const {
  if (!watchdog_timeout_) return std::nullopt;
  return std::max(Duration(1), *watchdog_timeout_ / 4);
}

void SystemdNotifier::Report(const std::string& status) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  if (!ready_sent_) {
    ready_sent_ = true;
    last_status_ = status;
    Check(NotifyReady(status));
  } else if (status != last_status_) {
    last_status_ = status;
    Check(NotifyStatus(status));
  }
}

void SystemdNotifier::IterationCompleted(int loop) {
  if (!watchdog_timeout_) return;
  std::lock_guard lock(mutex_);
  completed_.at(loop) = true;
  if (std::find(completed_.begin(), completed_.end(), false) != completed_.end()) return;
  const auto now = clock_.Monotonic();
  if (now - last_ping_ < *ping_interval()) return;
  last_ping_ = now;
  std::fill(completed_.begin(), completed_.end(), false);
  Check(NotifyWatchdog());
}

void SystemdNotifier::Stopping(const std::string& status) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  // Marked ready too: a Report after this must not announce READY=1.
  ready_sent_ = true;
  last_status_ = status;
  Check(NotifyStopping(status));
}

void SystemdNotifier::Check(const Status& sent) {
  if (sent.ok() || failure_logged_) return;
  failure_logged_ = true;
  spdlog::warn("{} (further failures are not logged)", sent.message());
}

}  // namespace baton
