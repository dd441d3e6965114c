// One SSH connection to a node through libssh2: TCP connect, handshake, host
// key check, public-key authentication, then commands, each on a channel of its
// own. The socket is non-blocking and every wait is a poll() bounded by a
// deadline, so a peer that stops answering costs at most the time given.
#pragma once

#include <libssh2.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "failover/node_shell.h"
#include "failover/ssh_shell.h"

namespace baton {

using SteadyTime = std::chrono::steady_clock::time_point;

class SshSession {
 public:
  // Connects to target.host:port and logs in as target.user, all before
  // `deadline`. `target` has its defaults filled in (user and known_hosts set).
  // Unavailable naming the step that failed: "cannot connect to ...: Connection
  // refused", "no SSH handshake within 5s", an unknown host key, a refused key.
  static Result<std::unique_ptr<SshSession>> Open(const SshTarget& target, SteadyTime deadline);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  // Runs `command` through the user's login shell on the node (as sshd does)
  // and returns its output, stderr merged into stdout, the last 64 KiB of it.
  // Unavailable when the connection fails or `deadline` passes first; after
  // any failure the session is unusable. `*command_sent` says whether the
  // command reached the server, so the caller knows whether it may have run.
  Result<CommandOutcome> Exec(const std::string& command, SteadyTime deadline, bool* command_sent);

 private:
  SshSession() = default;
  Status Connect(const SshTarget& target, SteadyTime deadline);
  Status Handshake(const SshTarget& target, SteadyTime deadline);
  Status Authenticate(const SshTarget& target, SteadyTime deadline);
  Status AuthenticateWithKeyFile(const SshTarget& target, SteadyTime deadline);
  Status AuthenticateWithAgent(const SshTarget& target, SteadyTime deadline);
  Status ReadUntilEof(LIBSSH2_CHANNEL* channel, SteadyTime deadline, std::string* output);
  Status Failure(const std::string& what, int error);
  // Calls `step` again each time it reports LIBSSH2_ERROR_EAGAIN, once the
  // socket is ready; LIBSSH2_ERROR_TIMEOUT when `deadline` passes first.
  template <typename Step>
  int UntilDone(SteadyTime deadline, Step step);
  bool WaitForSocket(SteadyTime deadline);

  int socket_ = -1;
  LIBSSH2_SESSION* session_ = nullptr;
  bool usable_ = false;  // false after a failure: no polite goodbye then
};

}  // namespace baton
