// NodeShell over SSH (libssh2): public-key authentication, host keys checked
// against an OpenSSH known_hosts file, connect and command time limits.
#pragma once

#include <memory>
#include <string>

#include "common/time.h"
#include "failover/node_shell.h"

namespace baton {

struct SshTarget {
  std::string host;
  int port = 22;
  std::string user;           // empty: the current user's name
  std::string identity_file;  // private key (its public half at PATH.pub if present); empty: ssh-agent
  std::string known_hosts;    // empty: ~/.ssh/known_hosts
  Duration connect_timeout = std::chrono::seconds(5);
};

// Connects lazily at the first Run and reconnects after a failure; one command
// at a time. Every failure names the target ("ssh baton@10.0.0.2:22: ...").
// An unknown host key or one that differs from known_hosts is refused, with the
// ssh-keyscan/ssh-keygen -R line that fixes it.
std::unique_ptr<NodeShell> MakeSshShell(const SshTarget& target);

}  // namespace baton
