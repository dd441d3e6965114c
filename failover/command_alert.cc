// Command alerts: alerts.command in a process group of its own, waited for
// with a time limit, its output discarded.
#include "failover/command_alert.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>

#include "common/process.h"
#include "common/time.h"

namespace baton {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How often the command is checked for an exit; small beside any timeout.
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string DescribeExit(int wait_status) {
  if (WIFSIGNALED(wait_status)) return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "exit status " + std::to_string(WEXITSTATUS(wait_status));
}

}  // namespace

Status RunAlertCommand(const AlertsConfig& config, const Alert& alert) {
  SpawnRequest request;
  request.command = config.command;
  // Passed as the environment, not pasted into the command, so a subject with
  // quotes or $(...) in it is only ever text.
  request.env = {{"BATON_ALERT_KIND", alert.kind},
                 {"BATON_ALERT_NODE", alert.node},
                 {"BATON_ALERT_EPOCH", std::to_string(alert.epoch)},
                 {"BATON_ALERT_SUBJECT", alert.subject},
                 {"BATON_ALERT_MESSAGE", alert.message}};
  Result<pid_t> pid = SpawnProcessGroup(request);
  if (!pid.ok()) return pid.status();

  // Waits for this pid alone: waiting for any child could take one that
  // another part of the process is waiting for.
  const auto deadline = SteadyClock::now() + config.timeout;
  for (;;) {
    int wait_status = 0;
    const pid_t reaped = waitpid(*pid, &wait_status, WNOHANG);
    if (reaped == *pid) {
      if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return Status::Ok();
      return Status::Unavailable(DescribeExit(wait_status));
    }
    if (reaped < 0 && errno != EINTR) {
      return Status::Internal("cannot wait for the command: " +
                              std::error_code(errno, std::generic_category()).message());
    }
    if (SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  // The whole group, so what the command started goes with it.
  SignalProcessGroup(*pid, SIGKILL);
  while (waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return Status::Unavailable("timed out after " + FormatDuration(config.timeout) +
                             " and was killed");
}

}  // namespace baton
