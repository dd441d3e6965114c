// A real OpenSSH server for a test: /usr/sbin/sshd -D -e on 127.0.0.1 and a
// free port, run as the current user (root or not), with everything in a
// temporary folder of its own: its config, an Ed25519 host key, a client key
// pair it authorizes, a known_hosts file naming it, its pid file and its log.
// Stop and Start keep the port and the keys, so a client sees a restart. And an
// ssh-agent of a test's own.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/support/temp_folder.h"

namespace baton::testing {

class SshdServer {
 public:
  // Whether sshd and ssh-keygen are installed (openssh-server, openssh-client).
  static bool Installed();

  SshdServer();
  ~SshdServer();
  SshdServer(const SshdServer&) = delete;
  SshdServer& operator=(const SshdServer&) = delete;

  // Starts the server and waits until it sends its SSH banner. The first start
  // makes the keys and picks a free port; later ones reuse them. The error
  // carries the end of the server's log. Call it from a thread that lives as
  // long as the server: the server dies with the thread that started it.
  Status Start();
  // Stops the server and the sessions it forked for its clients (sshd leaves
  // those running otherwise): to a client, the node went down.
  void Stop();
  // Stops (SIGSTOP) the server and the processes serving its connections, or
  // lets them go on: to a client, the network drops every packet, on open
  // connections and new ones alike.
  void Pause();
  void Resume();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  // The user the server lets in: the one running the test.
  const std::string& user() const { return user_; }
  // The client's private key (its public half beside it, at .pub). Every
  // server of the process authorizes the same one, so a client reaches them
  // all with one identity.
  const std::string& identity_file() const { return identity_file_; }
  // Holds the one line "[127.0.0.1]:PORT ssh-ed25519 AAAA...".
  std::string known_hosts_file() const;
  // The server's host key as known_hosts writes it: "ssh-ed25519 AAAA...".
  const std::string& host_public_key() const { return host_public_key_; }
  // "[127.0.0.1]:PORT": how known_hosts names this server.
  std::string host_pattern() const;
  const std::filesystem::path& folder() const { return folder_.path(); }
  std::string LogTail() const;

  // Writes a copy of known_hosts_file() with its entry hashed (ssh-keygen -H),
  // as ssh writes it with HashKnownHosts; returns the copy's path.
  Result<std::string> WriteHashedKnownHosts();
  // Makes a new key pair of `type` ("ed25519", "rsa", "ecdsa") in the folder,
  // which the server does not authorize; returns the private key's path (the
  // public one is at .pub).
  Result<std::string> GenerateKey(const std::string& name, const std::string& type = "ed25519");
  // Lets the key pair at `private_key` (and .pub) log in from now on.
  Status AuthorizeKey(const std::string& private_key);
  // Gives the server a host key of another `type` ("ecdsa", "rsa") from its
  // next start on, before its Ed25519 one; known_hosts_file() keeps naming
  // only the Ed25519 key.
  Status AddHostKey(const std::string& type);

 private:
  Status MakeKeys();
  Status StartOnce();
  void SignalSessions(int signal, bool sshd_only);

  TempFolder folder_;
  std::string binary_;
  std::string user_;
  std::string identity_file_;
  std::string host_public_key_;
  std::vector<std::string> other_host_keys_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// An ssh-agent of a test's own (ssh-agent -D -a SOCKET), stopped with the object.
class SshAgent {
 public:
  SshAgent();
  ~SshAgent();
  SshAgent(const SshAgent&) = delete;
  SshAgent& operator=(const SshAgent&) = delete;

  // Starts the agent and waits for its socket.
  Status Start();
  // ssh-add `key_file` to it.
  Status Add(const std::string& key_file);
  // What $SSH_AUTH_SOCK must hold to reach it.
  std::string socket_path() const;

 private:
  TempFolder folder_;
  pid_t pid_ = 0;
};

// Runs `argv` (argv[0] a path) to the end with its output appended to `log`;
// an error with the end of that log unless it exits 0 within 30 seconds.
Status RunProgram(const std::vector<std::string>& argv, const std::filesystem::path& log);

}  // namespace baton::testing

// Skips the current test when sshd or ssh-keygen is not installed.
#define BATON_SKIP_WITHOUT_SSHD()                                                              \
  do {                                                                                         \
    if (!::baton::testing::SshdServer::Installed()) {                                          \
      GTEST_SKIP() << "sshd is not installed (apt-get install openssh-server openssh-client)"; \
    }                                                                                          \
  } while (0)
