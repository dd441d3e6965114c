// The NodeShell of another master: commands over one SSH session (ssh_session.h)
// kept between commands and opened again after a failure.
//
// libssh2 1.10 cannot send a signal to a remote command, and closing the
// channel does not stop one, so each command runs under a small /bin/sh
// wrapper on the node that enforces the time limit there: a watchdog kills the
// command's process group when its time is up, even when this controller lost
// the connection long before. The wrapper also keeps the command's output in an
// unlinked temporary file, as the local shell does, so that a child the command
// detaches cannot hold sshd's pipe, and with it the channel, open.
#include "failover/ssh_shell.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "common/shell_quote.h"
#include "failover/ssh_session.h"

namespace baton {
namespace {

using SteadyClock = std::chrono::steady_clock;

// $1: the time limit in whole seconds; $2: the command. Its exit status is the
// command's (128+N when the command died of signal N); the watchdog's SIGKILL
// ends the wrapper too, which the server reports as an exit signal.
constexpr char kRemoteWrapper[] =
    "out=$(mktemp) || exit 125; exec 3>\"$out\" 4<\"$out\"; rm -f \"$out\"; "
    "(trap 'kill $sleeper 2>/dev/null; exit 0' TERM; sleep \"$1\" & sleeper=$!; wait $sleeper; "
    "kill -KILL 0) </dev/null >/dev/null 2>&1 3>&- 4>&- & watchdog=$!; "
    "/bin/sh -c \"$2\" </dev/null >&3 2>&3 3>&- 4>&-; code=$?; "
    "kill $watchdog 2>/dev/null; tail -c 65536 <&4; exit $code";

// What the user's login shell on the node is given: the wrapper run by
// /bin/sh whatever that login shell is.
std::string RemoteCommand(const std::string& command, Duration timeout) {
  auto seconds = std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(timeout).count());
  return "exec /bin/sh -c " + ShellQuote(kRemoteWrapper) + " baton-ssh " + std::to_string(seconds) +
         " " + ShellQuote(command);
}

struct CurrentUser {
  std::string name;
  std::string home;
};

CurrentUser LookUpCurrentUser() {
  CurrentUser user;
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  if (getpwuid_r(geteuid(), &entry, buffer, sizeof(buffer), &found) == 0 && found != nullptr) {
    user.name = found->pw_name;
    user.home = found->pw_dir;
  }
  if (const char* name = std::getenv("USER"); user.name.empty() && name != nullptr) {
    user.name = name;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') user.home = home;
  return user;
}

// "~/x" is the current user's "x", as ssh reads it in its own settings.
std::string ExpandHome(const std::string& path, const std::string& home) {
  return path.starts_with("~/") ? home + path.substr(1) : path;
}

class SshShell : public NodeShell {
 public:
  explicit SshShell(SshTarget target);
  Result<CommandOutcome> Run(const std::string& command, Duration timeout) override;
  std::string Describe() const override { return description_; }

 private:
  SshTarget target_;
  std::string description_;
  std::mutex mutex_;  // one command at a time on the one session
  std::unique_ptr<SshSession> session_;
};

SshShell::SshShell(SshTarget target) : target_(std::move(target)) {
  CurrentUser user = LookUpCurrentUser();
  if (target_.user.empty()) target_.user = user.name;
  if (target_.known_hosts.empty()) target_.known_hosts = "~/.ssh/known_hosts";
  target_.known_hosts = ExpandHome(target_.known_hosts, user.home);
  target_.identity_file = ExpandHome(target_.identity_file, user.home);
  const bool ipv6 = target_.host.find(':') != std::string::npos;
  description_ = target_.user + "@" + (ipv6 ? "[" + target_.host + "]" : target_.host) + ":" +
                 std::to_string(target_.port);
}

Result<CommandOutcome> SshShell::Run(const std::string& command, Duration timeout) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto start = SteadyClock::now();
  while (true) {
    const bool reused = session_ != nullptr;
    if (!reused) {
      Result<std::unique_ptr<SshSession>> opened =
          SshSession::Open(target_, SteadyClock::now() + target_.connect_timeout);
      if (!opened.ok()) return opened.status().WithContext("ssh " + description_);
      session_ = std::move(*opened);
    }
    const auto deadline = SteadyClock::now() + timeout;
    bool command_sent = false;
    Result<CommandOutcome> outcome =
        session_->Exec(RemoteCommand(command, timeout), deadline, &command_sent);
    if (outcome.ok()) {
      outcome->elapsed = std::chrono::duration_cast<Duration>(SteadyClock::now() - start);
      return outcome;
    }
    session_.reset();
    const bool timed_out = SteadyClock::now() >= deadline;
    // A session kept from an earlier command may have been closed since (sshd
    // restarted, the node rebooted): connect again, once, if the command
    // cannot have run.
    if (reused && !command_sent && !timed_out) continue;
    if (timed_out) {
      return Status::Unavailable("'" + command + "' timed out after " + FormatDuration(timeout))
          .WithContext("ssh " + description_);
    }
    return outcome.status().WithContext("ssh " + description_);
  }
}

}  // namespace

std::unique_ptr<NodeShell> MakeSshShell(const SshTarget& target) {
  return std::make_unique<SshShell>(target);
}

}  // namespace baton
