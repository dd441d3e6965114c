// An SSH session with libssh2 in non-blocking mode: every call that would
// block returns LIBSSH2_ERROR_EAGAIN, and UntilDone waits for the socket with
// poll() in the directions libssh2_session_block_directions names, never past
// the deadline. Nothing here can wait on the network without a time limit.
#include "failover/ssh_session.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <system_error>
#include <vector>

#include "failover/known_hosts.h"

namespace baton {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kOutputLimit = 64 * 1024;  // the last bytes of output kept
// How long a session that worked may take to say goodbye.
constexpr auto kGoodbyeTime = std::chrono::milliseconds(500);
// How soon to call libssh2 again when it asked for that without saying which
// way it was blocked.
constexpr int kUnexplainedRetryMs = 10;

// libssh2_init is not thread-safe and must run once, before any session.
Status InitializeLibrary() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] { result = libssh2_init(0); });
  if (result == 0) return Status::Ok();
  return Status::Internal("cannot initialize libssh2 (error " + std::to_string(result) + ")");
}

int MillisecondsUntil(SteadyTime deadline) {
  auto remaining = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return static_cast<int>(std::clamp<int64_t>(remaining.count(), 0, INT32_MAX));
}

// "192.0.2.7:22", "[2001:db8::7]:22": the address a connection attempt went to.
std::string NumericAddress(const addrinfo& address) {
  char host[NI_MAXHOST] = "?";
  char port[NI_MAXSERV] = "?";
  getnameinfo(address.ai_addr, address.ai_addrlen, host, sizeof(host), port, sizeof(port),
              NI_NUMERICHOST | NI_NUMERICSERV);
  return address.ai_family == AF_INET6 ? "[" + std::string(host) + "]:" + port
                                       : std::string(host) + ":" + port;
}

// Finishes a non-blocking connect: 0, the connection's error, or ETIMEDOUT.
int AwaitConnect(int fd, SteadyTime deadline) {
  while (true) {
    int wait = MillisecondsUntil(deadline);
    if (wait == 0) return ETIMEDOUT;
    pollfd writable{fd, POLLOUT, 0};
    int ready = poll(&writable, 1, wait);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return errno;
    if (ready == 0) continue;
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
  }
}

// Whether the key pair is RSA: its public half says "ssh-rsa", or, without
// one, the private key starts "-----BEGIN RSA PRIVATE KEY-----".
bool IsRsaKey(const std::string& private_key, const std::string& public_key) {
  std::ifstream in(public_key.empty() ? private_key : public_key);
  std::string first_word;
  in >> first_word;
  return public_key.empty() ? first_word == "-----BEGIN" && in >> first_word && first_word == "RSA"
                            : first_word == "ssh-rsa";
}

// The host key algorithms to ask the server for: those on file for the host
// first, then the rest of what libssh2 supports, in its order.
std::string HostKeyPreference(LIBSSH2_SESSION* session, const std::vector<std::string>& first) {
  std::string preference;
  for (const std::string& methods : first) preference += (preference.empty() ? "" : ",") + methods;
  const char** supported = nullptr;
  int count = libssh2_session_supported_algs(session, LIBSSH2_METHOD_HOSTKEY, &supported);
  for (int i = 0; i < count; ++i) {
    std::string method = supported[i];
    if (("," + preference + ",").find("," + method + ",") == std::string::npos) {
      preference += "," + method;
    }
  }
  if (count > 0) libssh2_free(session, supported);
  return preference;
}

}  // namespace

template <typename Step>
int SshSession::UntilDone(SteadyTime deadline, Step step) {
  while (true) {
    int result = step();
    if (result != LIBSSH2_ERROR_EAGAIN) return result;
    if (!WaitForSocket(deadline)) return LIBSSH2_ERROR_TIMEOUT;
  }
}

Result<std::unique_ptr<SshSession>> SshSession::Open(const SshTarget& target, SteadyTime deadline) {
  BATON_RETURN_IF_ERROR(InitializeLibrary());
  std::unique_ptr<SshSession> session(new SshSession());
  BATON_RETURN_IF_ERROR(session->Connect(target, deadline));
  BATON_RETURN_IF_ERROR(session->Handshake(target, deadline));
  BATON_RETURN_IF_ERROR(session->Authenticate(target, deadline));
  session->usable_ = true;
  return session;
}

SshSession::~SshSession() {
  if (session_ != nullptr) {
    if (usable_) {
      UntilDone(SteadyClock::now() + kGoodbyeTime,
                [&] { return libssh2_session_disconnect(session_, "done"); });
    }
    // Whatever libssh2 still wants to send (closing channels) then fails at
    // once instead of waiting for a peer that may be gone.
    if (socket_ >= 0) shutdown(socket_, SHUT_RDWR);
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (libssh2_session_free(session_) != LIBSSH2_ERROR_EAGAIN) break;
    }
  }
  if (socket_ >= 0) close(socket_);
}

Status SshSession::Connect(const SshTarget& target, SteadyTime deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* addresses = nullptr;
  // The name lookup is bounded by the resolver's own time limits (resolv.conf),
  // not by the deadline: name nodes by address or in /etc/hosts.
  int lookup =
      getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &addresses);
  if (lookup != 0) {
    return Status::Unavailable("cannot resolve host '" + target.host +
                               "': " + gai_strerror(lookup));
  }
  std::string failure = "no address found for host '" + target.host + "'";
  for (addrinfo* address = addresses; address != nullptr; address = address->ai_next) {
    int fd = socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    address->ai_protocol);
    if (fd < 0) {
      failure = "cannot create a socket: " + std::generic_category().message(errno);
      continue;
    }
    int error = connect(fd, address->ai_addr, address->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) error = AwaitConnect(fd, deadline);
    if (error == 0) {
      int on = 1;  // commands and replies are small packets: send them at once
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      socket_ = fd;
      break;
    }
    close(fd);
    failure = "cannot connect to " + NumericAddress(*address) +
              (error == ETIMEDOUT ? " within " + FormatDuration(target.connect_timeout)
                                  : ": " + std::generic_category().message(error));
    if (MillisecondsUntil(deadline) == 0) break;
  }
  freeaddrinfo(addresses);
  return socket_ >= 0 ? Status::Ok() : Status::Unavailable(failure);
}

Status SshSession::Handshake(const SshTarget& target, SteadyTime deadline) {
  session_ = libssh2_session_init();
  if (session_ == nullptr) return Status::Internal("cannot create a libssh2 session");
  libssh2_session_set_blocking(session_, 0);
  Result<std::unique_ptr<KnownHosts>> known_hosts = KnownHosts::Load(session_, target.known_hosts);
  if (!known_hosts.ok()) return known_hosts.status();
  std::vector<std::string> on_file = (*known_hosts)->HostKeyMethodsFor(target.host, target.port);
  if (!on_file.empty()) {
    libssh2_session_method_pref(session_, LIBSSH2_METHOD_HOSTKEY,
                                HostKeyPreference(session_, on_file).c_str());
  }
  int result = UntilDone(deadline, [&] { return libssh2_session_handshake(session_, socket_); });
  if (result == LIBSSH2_ERROR_TIMEOUT) {
    return Status::Unavailable("no SSH handshake within " + FormatDuration(target.connect_timeout) +
                               " (the host accepted the connection but said nothing: is it an "
                               "SSH server, and does the network pass its packets?)");
  }
  if (result != 0) return Failure("SSH handshake failed", result);
  return (*known_hosts)->Check(session_, target.host, target.port);
}

Status SshSession::Authenticate(const SshTarget& target, SteadyTime deadline) {
  const char* methods = nullptr;
  int result = UntilDone(deadline, [&] {
    methods = libssh2_userauth_list(session_, target.user.c_str(),
                                    static_cast<unsigned>(target.user.size()));
    if (methods != nullptr || libssh2_userauth_authenticated(session_)) return 0;
    int error = libssh2_session_last_errno(session_);
    return error != 0 ? error : LIBSSH2_ERROR_PROTO;
  });
  if (result != 0) return Failure("cannot start authentication as '" + target.user + "'", result);
  if (libssh2_userauth_authenticated(session_)) return Status::Ok();  // the server wants none
  if (std::strstr(methods, "publickey") == nullptr) {
    return Status::Unavailable("the server does not accept public keys for user '" + target.user +
                               "' (it accepts: " + methods + ")");
  }
  return target.identity_file.empty() ? AuthenticateWithAgent(target, deadline)
                                      : AuthenticateWithKeyFile(target, deadline);
}

Status SshSession::AuthenticateWithKeyFile(const SshTarget& target, SteadyTime deadline) {
  const std::string& key = target.identity_file;
  if (access(key.c_str(), R_OK) != 0) {
    std::string reason = std::generic_category().message(errno);
    return Status::Unavailable("cannot read identity file " + key + ": " + reason);
  }
  // Without its public half, libssh2 derives the public key from the private one.
  const std::string public_key = key + ".pub";
  const bool has_public_key = access(public_key.c_str(), R_OK) == 0;
  int result = UntilDone(deadline, [&] {
    return libssh2_userauth_publickey_fromfile_ex(
        session_, target.user.c_str(), static_cast<unsigned>(target.user.size()),
        has_public_key ? public_key.c_str() : nullptr, key.c_str(), "");
  });
  if (result == 0) return Status::Ok();
  if (result == LIBSSH2_ERROR_AUTHENTICATION_FAILED) {
    const std::string refused = "the server refused key " + key + " for user '" + target.user + "'";
    if (IsRsaKey(key, has_public_key ? public_key : "")) {
      return Status::Unavailable(refused +
                                 ": it is an RSA key, and OpenSSH 8.8 and later refuse the SHA-1 "
                                 "signatures libssh2 1.10 makes with RSA keys; use an Ed25519 key "
                                 "(ssh-keygen -t ed25519)");
    }
    return Status::Unavailable(refused + " (is " +
                               (has_public_key ? public_key : "its public key") + " in ~" +
                               target.user + "/.ssh/authorized_keys on the host?)");
  }
  if (result == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
    // The server would take the key, but no signature made with it arrived.
    return Status::Unavailable(Failure("cannot sign with key " + key, result).message() +
                               " (a key protected by a passphrase is used through ssh-agent: "
                               "ssh-add it and leave the identity file unset)");
  }
  return Failure("cannot log in as '" + target.user + "' with key " + key, result);
}

Status SshSession::AuthenticateWithAgent(const SshTarget& target, SteadyTime deadline) {
  const char* socket_path = std::getenv("SSH_AUTH_SOCK");
  if (socket_path == nullptr || *socket_path == '\0') {
    return Status::Unavailable(
        "no identity file is set and there is no ssh-agent to ask ($SSH_AUTH_SOCK is not set)");
  }
  const std::string agent_name = std::string("ssh-agent at ") + socket_path;
  struct AgentCloser {
    void operator()(LIBSSH2_AGENT* agent) const {
      libssh2_agent_disconnect(agent);
      libssh2_agent_free(agent);
    }
  };
  std::unique_ptr<LIBSSH2_AGENT, AgentCloser> agent(libssh2_agent_init(session_));
  if (agent == nullptr) return Failure("cannot use " + agent_name, LIBSSH2_ERROR_ALLOC);
  if (int result = libssh2_agent_connect(agent.get()); result != 0) {
    return Failure("cannot reach " + agent_name, result);
  }
  if (int result = libssh2_agent_list_identities(agent.get()); result != 0) {
    return Failure("cannot list the keys in " + agent_name, result);
  }
  libssh2_agent_publickey* identity = nullptr;
  libssh2_agent_publickey* previous = nullptr;
  std::string refused;
  int tried = 0;
  while (libssh2_agent_get_identity(agent.get(), &identity, previous) == 0) {
    previous = identity;
    ++tried;
    int result = UntilDone(deadline, [&] {
      return libssh2_agent_userauth(agent.get(), target.user.c_str(), identity);
    });
    if (result == 0) return Status::Ok();
    if (result != LIBSSH2_ERROR_AUTHENTICATION_FAILED &&
        result != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED) {
      return Failure("cannot log in as '" + target.user + "' with a key from " + agent_name,
                     result);
    }
    refused += (refused.empty() ? "" : ", ") + std::string(identity->comment);
  }
  if (tried == 0) return Status::Unavailable(agent_name + " holds no keys; add one with ssh-add");
  return Status::Unavailable("the server refused every key in " + agent_name + " (" + refused +
                             ") for user '" + target.user + "'");
}

Result<CommandOutcome> SshSession::Exec(const std::string& command, SteadyTime deadline,
                                        bool* command_sent) {
  *command_sent = false;
  usable_ = false;  // until the command has run to the end
  LIBSSH2_CHANNEL* channel = nullptr;
  int result = UntilDone(deadline, [&] {
    channel = libssh2_channel_open_session(session_);
    if (channel != nullptr) return 0;
    int error = libssh2_session_last_errno(session_);
    return error != 0 ? error : LIBSSH2_ERROR_CHANNEL_FAILURE;
  });
  // On failure the channel is left to libssh2_session_free: the session is
  // not used again.
  if (result != 0) return Failure("cannot open a channel", result);
  result = UntilDone(deadline, [&] {
    return libssh2_channel_handle_extended_data2(channel, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE);
  });
  if (result != 0) return Failure("cannot merge stderr into stdout", result);
  *command_sent = true;
  result = UntilDone(deadline, [&] { return libssh2_channel_exec(channel, command.c_str()); });
  if (result != 0) return Failure("cannot start the command", result);

  CommandOutcome outcome;
  BATON_RETURN_IF_ERROR(ReadUntilEof(channel, deadline, &outcome.output));
  // The exit status is certain only once the server has closed the channel.
  result = UntilDone(deadline, [&] { return libssh2_channel_close(channel); });
  if (result == 0)
    result = UntilDone(deadline, [&] { return libssh2_channel_wait_closed(channel); });
  if (result != 0) return Failure("cannot close the channel", result);
  outcome.exit_code = libssh2_channel_get_exit_status(channel);
  char* signal_name = nullptr;
  size_t signal_name_length = 0;
  libssh2_channel_get_exit_signal(channel, &signal_name, &signal_name_length, nullptr, nullptr,
                                  nullptr, nullptr);
  if (signal_name != nullptr) {
    outcome.exit_code = -1;
    libssh2_free(session_, signal_name);
  }
  result = UntilDone(deadline, [&] { return libssh2_channel_free(channel); });
  if (result != 0) return Failure("cannot free the channel", result);
  usable_ = true;
  return outcome;
}

Status SshSession::ReadUntilEof(LIBSSH2_CHANNEL* channel, SteadyTime deadline,
                                std::string* output) {
  char buffer[32 * 1024];
  while (true) {
    ssize_t read = libssh2_channel_read(channel, buffer, sizeof(buffer));
    if (read > 0) {
      output->append(buffer, static_cast<size_t>(read));
      // Trimmed now and then rather than at every read: a command may be chatty.
      if (output->size() > 2 * kOutputLimit) output->erase(0, output->size() - kOutputLimit);
      continue;
    }
    if (read == 0 && libssh2_channel_eof(channel)) break;
    if (read != 0 && read != LIBSSH2_ERROR_EAGAIN) {
      return Failure("lost the command's output", static_cast<int>(read));
    }
    if (!WaitForSocket(deadline)) {
      return Failure("no end of the command's output in time", LIBSSH2_ERROR_TIMEOUT);
    }
  }
  if (output->size() > kOutputLimit) output->erase(0, output->size() - kOutputLimit);
  return Status::Ok();
}

Status SshSession::Failure(const std::string& what, int error) {
  usable_ = false;
  if (error == LIBSSH2_ERROR_TIMEOUT) return Status::Unavailable(what + ": no answer in time");
  char* message = nullptr;
  libssh2_session_last_error(session_, &message, nullptr, 0);
  return Status::Unavailable(what + ": " +
                             (message != nullptr && *message != '\0'
                                  ? std::string(message)
                                  : "libssh2 error " + std::to_string(error)));
}

bool SshSession::WaitForSocket(SteadyTime deadline) {
  const int directions = libssh2_session_block_directions(session_);
  short events = 0;
  if (directions & LIBSSH2_SESSION_BLOCK_INBOUND) events |= POLLIN;
  if (directions & LIBSSH2_SESSION_BLOCK_OUTBOUND) events |= POLLOUT;
  while (true) {
    int wait = MillisecondsUntil(deadline);
    if (wait == 0) return false;
    if (events == 0) wait = std::min(wait, kUnexplainedRetryMs);
    pollfd ready{socket_, events != 0 ? events : static_cast<short>(POLLIN), 0};
    int count = poll(&ready, 1, wait);
    if (count > 0 || events == 0) return true;
    // Any other error is libssh2's to meet and report at its next call.
    if (count < 0 && errno != EINTR) return true;
  }
}

}  // namespace baton
