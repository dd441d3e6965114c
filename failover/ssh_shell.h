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
  // Bounds the TCP connect, the SSH handshake and the login; Run's timeout
  // then bounds the command, so a Run returns within about the sum.
  Duration connect_timeout = std::chrono::seconds(5);
};

// Connects lazily at the first Run and reconnects after a failure; one command
// at a time. Every failure names the target ("ssh baton@10.0.0.2:22: ...").
// An unknown host key or one that differs from known_hosts is refused, with the
// ssh-keyscan/ssh-keygen -R line that fixes it. A leading "~/" in identity_file
// and known_hosts is the current user's home.
//
// On the node, the command runs under a small /bin/sh wrapper (it needs mktemp,
// sleep and tail there) that kills the command's process group once the time
// limit is up, even when the connection was lost before, and keeps the output
// in a temporary file, so a child the command detaches does not hold the
// session open. A command that the node's shell saw die of signal N reports
// 128+N, as sh does.
std::unique_ptr<NodeShell> MakeSshShell(const SshTarget& target);

}  // namespace baton
