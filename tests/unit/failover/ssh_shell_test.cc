// Tests for the SSH NodeShell against a real sshd started by the test: output
// and exit codes, the time limit enforced on the node, detached children, host
// keys that are unknown, changed or hashed, refused and agent-held keys, and
// peers that refuse, never answer or fall silent, each bounded in time.
#include "failover/ssh_shell.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/process_probes.h"
#include "tests/support/server_process.h"
#include "tests/support/sshd_server.h"
#include "tests/support/status_assertions.h"

namespace baton {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::IsRunning;
using testing::ReadFile;
using testing::SshAgent;
using testing::SshdServer;
using ::testing::StartsWith;
using testing::WaitForPid;

// How long a command's children get to write their pid, or to die once killed.
constexpr auto kProcessDeadline = seconds(5);

// A TCP listener on 127.0.0.1 that never accepts: the kernel completes the
// handshake of the first connection (`backlog` 0 queues one), and drops the
// SYN of every later one while the queue is full.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_, 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() {
    for (int fd : fillers_) close(fd);
    close(fd_);
  }

  int port() const { return port_; }

  // Fills the accept queue, so the next connection attempt gets no answer at all.
  void FillQueue() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    fillers_.push_back(fd);
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> fillers_;
};

// Sets an environment variable for the life of the object.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) saved_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    if (saved_) {
      setenv(name_, saved_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

class SshShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BATON_SKIP_WITHOUT_SSHD();
    ASSERT_TRUE(IsOk(server_.Start()));
  }

  void TearDown() override {
    for (pid_t pid : leftovers_) kill(pid, SIGKILL);
  }

  SshTarget Target() const {
    SshTarget target;
    target.host = "127.0.0.1";
    target.port = server_.port();
    target.user = server_.user();
    target.identity_file = server_.identity_file();
    target.known_hosts = server_.known_hosts_file();
    target.connect_timeout = seconds(5);
    return target;
  }

  // How every failure starts: "ssh USER@127.0.0.1:PORT: ".
  std::string Prefix() const {
    return "ssh " + server_.user() + "@127.0.0.1:" + std::to_string(server_.port()) + ": ";
  }

  std::string InFolder(const std::string& name) const { return (server_.folder() / name).string(); }

  // A known_hosts file of the test's own holding `text`; its path.
  std::string WriteKnownHosts(const std::string& name, const std::string& text) const {
    std::ofstream(InFolder(name)) << text;
    return InFolder(name);
  }

  // The fingerprint ssh-keygen -l gives the server's host key: "SHA256:...".
  std::string HostKeyFingerprint() const {
    const std::string log = InFolder("fingerprint.txt");
    EXPECT_TRUE(IsOk(testing::RunProgram(
        {testing::FindProgram({"ssh-keygen"}), "-l", "-f", InFolder("ssh_host_ed25519_key.pub")},
        log)));
    std::istringstream words(ReadFile(log));
    std::string bits, fingerprint;
    words >> bits >> fingerprint;
    return fingerprint;
  }

  // What a Run that failed said, and how long it took to say it.
  struct Refusal {
    std::string message;
    steady_clock::duration elapsed;
  };

  // Runs `command`, expecting Unavailable naming the shell's target.
  Refusal RunRefused(NodeShell& shell, const std::string& command, Duration timeout) const {
    auto start = steady_clock::now();
    Result<CommandOutcome> outcome = shell.Run(command, timeout);
    Refusal refusal{outcome.status().message(), steady_clock::now() - start};
    EXPECT_EQ(outcome.status().code(), Status::Code::kUnavailable) << refusal.message;
    EXPECT_THAT(refusal.message, StartsWith("ssh " + shell.Describe() + ": "));
    return refusal;
  }

  Refusal RunRefused(const SshTarget& target) const {
    return RunRefused(*MakeSshShell(target), "true", seconds(10));
  }

  SshdServer server_;
  std::vector<pid_t> leftovers_;  // killed at the end, whatever the test's outcome
};

TEST_F(SshShellTest, ReturnsOutputOfBothStreamsAndTheExitCode) {
  std::unique_ptr<NodeShell> shell = MakeSshShell(Target());
  EXPECT_EQ(shell->Describe(), server_.user() + "@127.0.0.1:" + std::to_string(server_.port()));
  Result<CommandOutcome> outcome = shell->Run("echo out; echo err >&2; exit 3", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_EQ(outcome->output, "out\nerr\n");

  outcome =
      shell->Run("test \"$(id -un)\" = " + server_.user() + " && echo \"it's me\"", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(outcome->output, "it's me\n");
}

TEST_F(SshShellTest, CommandsShareOneConnection) {
  std::unique_ptr<NodeShell> shell = MakeSshShell(Target());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(IsOk(shell->Run("true", seconds(10))));
  std::string log = ReadFile(InFolder("sshd.log"));
  size_t logins = 0;
  for (size_t at = log.find("Accepted publickey"); at != std::string::npos;
       at = log.find("Accepted publickey", at + 1)) {
    ++logins;
  }
  EXPECT_EQ(logins, 1u) << log;
}

TEST_F(SshShellTest, KeepsTheLast64KiBOfOutput) {
  Result<CommandOutcome> outcome =
      MakeSshShell(Target())->Run("head -c 100000 /dev/zero | tr '\\0' x; echo END", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->output.size(), 64u * 1024);
  EXPECT_TRUE(outcome->output.ends_with("xxxEND\n"));
}

TEST_F(SshShellTest, TimeoutReturnsQuicklyAndTheRemoteCommandIsGone) {
  std::unique_ptr<NodeShell> shell = MakeSshShell(Target());
  const std::string pidfile = InFolder("sleep.pid");
  Refusal refusal = RunRefused(*shell, "echo $$ > " + pidfile + "; exec sleep 30", seconds(1));
  EXPECT_THAT(refusal.message, HasSubstr("timed out after 1s"));
  EXPECT_LT(refusal.elapsed, milliseconds(2500));
  std::optional<pid_t> sleeper = WaitForPid(pidfile, kProcessDeadline);
  ASSERT_TRUE(sleeper.has_value());
  leftovers_.push_back(*sleeper);
  EXPECT_TRUE(Eventually([&] { return !IsRunning(*sleeper); }, kProcessDeadline));
  // The next command connects again.
  EXPECT_TRUE(IsOk(shell->Run("true", seconds(10))));
}

TEST_F(SshShellTest, DetachedChildOutlivesTheCommandWithoutKeepingRunWaiting) {
  const std::string pidfile = InFolder("detached.pid");
  auto start = steady_clock::now();
  Result<CommandOutcome> outcome = MakeSshShell(Target())->Run(
      "setsid -f sh -c 'echo $$ > " + pidfile + "; exec sleep 30'; echo started", seconds(20));
  auto elapsed = steady_clock::now() - start;
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(outcome->output, "started\n");
  EXPECT_LT(elapsed, seconds(3));
  std::optional<pid_t> detached = WaitForPid(pidfile, kProcessDeadline);
  ASSERT_TRUE(detached.has_value());
  leftovers_.push_back(*detached);
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_TRUE(IsRunning(*detached));
}

TEST_F(SshShellTest, UnknownHostKeyIsRefusedWithTheCommandThatAddsIt) {
  SshTarget target = Target();
  target.known_hosts = WriteKnownHosts("empty_known_hosts", "");
  const std::string port = std::to_string(server_.port());
  EXPECT_EQ(RunRefused(target).message,
            Prefix() + "the host key of [127.0.0.1]:" + port + " (ssh-ed25519 " +
                HostKeyFingerprint() + ") is not in " + target.known_hosts +
                "; check its fingerprint, then add it with: ssh-keyscan -p " + port +
                " 127.0.0.1 >> " + target.known_hosts);
}

TEST_F(SshShellTest, MissingKnownHostsFileIsSaidSo) {
  SshTarget target = Target();
  target.known_hosts = InFolder("no_such_known_hosts");
  EXPECT_THAT(RunRefused(target).message,
              HasSubstr("is not in " + target.known_hosts + " (the file does not exist)"));
}

TEST_F(SshShellTest, ChangedHostKeyIsRefusedNamingTheLine) {
  Result<std::string> other_key = server_.GenerateKey("other_host_key");
  ASSERT_TRUE(IsOk(other_key));
  std::istringstream words(ReadFile(*other_key + ".pub"));
  std::string type, key;
  words >> type >> key;
  SshTarget target = Target();
  target.known_hosts = WriteKnownHosts(
      "changed_known_hosts", "# the host before it was reinstalled\n" + server_.host_pattern() +
                                 " " + type + " " + key + "\n");
  Refusal refusal = RunRefused(target);
  EXPECT_THAT(refusal.message,
              HasSubstr("differs from the one in " + target.known_hosts + " line 2"));
  EXPECT_THAT(refusal.message, HasSubstr("remove the old key with: ssh-keygen -R '" +
                                         server_.host_pattern() + "' -f " + target.known_hosts));
}

TEST_F(SshShellTest, HashedKnownHostsEntryIsAccepted) {
  Result<std::string> hashed = server_.WriteHashedKnownHosts();
  ASSERT_TRUE(IsOk(hashed));
  ASSERT_THAT(ReadFile(*hashed), StartsWith("|1|"));
  SshTarget target = Target();
  target.known_hosts = *hashed;
  EXPECT_TRUE(IsOk(MakeSshShell(target)->Run("true", seconds(10))));
}

TEST_F(SshShellTest, KeyOnFileIsAskedForAmongSeveralHostKeys) {
  // The server also offers an ECDSA key, which libssh2 would pick first;
  // known_hosts holds only the Ed25519 one, as after `ssh-keyscan -t ed25519`.
  server_.Stop();
  ASSERT_TRUE(IsOk(server_.AddHostKey("ecdsa")));
  ASSERT_TRUE(IsOk(server_.Start()));
  EXPECT_TRUE(IsOk(MakeSshShell(Target())->Run("true", seconds(10))));
}

TEST_F(SshShellTest, KeyTheServerDoesNotAuthorizeIsRefused) {
  Result<std::string> other_key = server_.GenerateKey("id_other");
  ASSERT_TRUE(IsOk(other_key));
  SshTarget target = Target();
  target.identity_file = *other_key;
  EXPECT_THAT(RunRefused(target).message,
              HasSubstr(Prefix() + "the server refused key " + *other_key + " for user '" +
                        server_.user() + "'"));
}

TEST_F(SshShellTest, MissingIdentityFileIsNamed) {
  SshTarget target = Target();
  target.identity_file = InFolder("no_such_key");
  EXPECT_THAT(RunRefused(target).message,
              HasSubstr("cannot read identity file " + target.identity_file));
}

TEST_F(SshShellTest, KeyWithAPassphraseIsRefusedWithTheAdviceToUseTheAgent) {
  const std::string key = InFolder("id_with_passphrase");
  // One round of the key derivation (-a 1): a test wants the key fast, not strong.
  ASSERT_TRUE(IsOk(testing::RunProgram({testing::FindProgram({"ssh-keygen"}), "-q", "-t", "ed25519",
                                        "-N", "secret", "-a", "1", "-f", key},
                                       InFolder("ssh-keygen.log"))));
  ASSERT_TRUE(IsOk(server_.AuthorizeKey(key)));
  SshTarget target = Target();
  target.identity_file = key;
  Refusal refusal = RunRefused(target);
  EXPECT_THAT(refusal.message, StartsWith(Prefix() + "cannot sign with key " + key));
  EXPECT_THAT(refusal.message, HasSubstr("used through ssh-agent"));
}

TEST_F(SshShellTest, StoppedServerIsRefusedQuicklyAndReachedAgainOnceBack) {
  std::unique_ptr<NodeShell> shell = MakeSshShell(Target());
  ASSERT_TRUE(IsOk(shell->Run("true", seconds(10))));
  server_.Stop();
  Refusal refusal = RunRefused(*shell, "true", seconds(10));
  EXPECT_THAT(refusal.message, HasSubstr("Connection refused"));
  EXPECT_LT(refusal.elapsed, seconds(1));

  ASSERT_TRUE(IsOk(server_.Start()));
  EXPECT_TRUE(IsOk(shell->Run("true", seconds(10))));
}

TEST_F(SshShellTest, ConnectionClosedSinceTheLastCommandIsOpenedAgainUnnoticed) {
  std::unique_ptr<NodeShell> shell = MakeSshShell(Target());
  ASSERT_TRUE(IsOk(shell->Run("true", seconds(10))));
  server_.Stop();  // sshd restarted between two polls
  ASSERT_TRUE(IsOk(server_.Start()));
  Result<CommandOutcome> outcome = shell->Run("echo again", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->output, "again\n");
}

TEST_F(SshShellTest, PeerThatNeverSendsItsBannerTimesOutAtTheConnectTimeout) {
  SilentListener listener;
  SshTarget target = Target();
  target.port = listener.port();
  target.connect_timeout = milliseconds(700);
  Refusal refusal = RunRefused(target);
  EXPECT_THAT(refusal.message, HasSubstr("no SSH handshake within 700ms"));
  EXPECT_GE(refusal.elapsed, milliseconds(600));
  EXPECT_LT(refusal.elapsed, milliseconds(1700));
}

TEST_F(SshShellTest, PeerThatDropsTheConnectionAttemptTimesOutAtTheConnectTimeout) {
  SilentListener listener;
  listener.FillQueue();
  SshTarget target = Target();
  target.port = listener.port();
  target.connect_timeout = milliseconds(700);
  Refusal refusal = RunRefused(target);
  EXPECT_THAT(refusal.message, HasSubstr("cannot connect to 127.0.0.1:" +
                                         std::to_string(listener.port()) + " within 700ms"));
  EXPECT_GE(refusal.elapsed, milliseconds(600));
  EXPECT_LT(refusal.elapsed, milliseconds(1700));
}

TEST_F(SshShellTest, NodeThatFallsSilentTimesOutAndIsReachedAgainOnceBack) {
  std::unique_ptr<NodeShell> shell = MakeSshShell(Target());
  ASSERT_TRUE(IsOk(shell->Run("true", seconds(10))));
  server_.Pause();
  // On the open connection: the command's time limit.
  Refusal refusal = RunRefused(*shell, "true", seconds(1));
  EXPECT_THAT(refusal.message, HasSubstr("timed out after 1s"));
  EXPECT_LT(refusal.elapsed, milliseconds(2000));
  // On a new connection: the connect timeout.
  SshTarget target = Target();
  target.connect_timeout = milliseconds(500);
  refusal = RunRefused(target);
  EXPECT_THAT(refusal.message, HasSubstr("no SSH handshake within 500ms"));
  EXPECT_LT(refusal.elapsed, milliseconds(1500));

  server_.Resume();
  EXPECT_TRUE(IsOk(shell->Run("true", seconds(10))));
}

TEST_F(SshShellTest, RsaKeyIsRefusedWithTheAdviceToUseEd25519) {
  // OpenSSH 8.8 and later refuse the SHA-1 signatures libssh2 1.10 makes with RSA keys.
  Result<std::string> rsa_key = server_.GenerateKey("id_rsa", "rsa");
  ASSERT_TRUE(IsOk(rsa_key));
  ASSERT_TRUE(IsOk(server_.AuthorizeKey(*rsa_key)));
  SshTarget target = Target();
  target.identity_file = *rsa_key;
  Refusal refusal = RunRefused(target);
  EXPECT_THAT(refusal.message, HasSubstr(Prefix() + "the server refused key " + *rsa_key +
                                         " for user '" + server_.user() + "': it is an RSA key"));
  EXPECT_THAT(refusal.message, HasSubstr("use an Ed25519 key"));
}

TEST_F(SshShellTest, AgentKeyLogsIn) {
  SshAgent agent;
  ASSERT_TRUE(IsOk(agent.Start()));
  ASSERT_TRUE(IsOk(agent.Add(server_.identity_file())));
  ScopedEnvironment auth_socket("SSH_AUTH_SOCK", agent.socket_path());
  SshTarget target = Target();
  target.identity_file = "";
  Result<CommandOutcome> outcome = MakeSshShell(target)->Run("echo via agent", seconds(10));
  ASSERT_TRUE(IsOk(outcome));
  EXPECT_EQ(outcome->output, "via agent\n");
}

TEST_F(SshShellTest, AgentWithoutKeysOrWithoutSocketIsSaidSo) {
  SshAgent agent;
  ASSERT_TRUE(IsOk(agent.Start()));
  SshTarget target = Target();
  target.identity_file = "";
  {
    ScopedEnvironment auth_socket("SSH_AUTH_SOCK", agent.socket_path());
    EXPECT_THAT(RunRefused(target).message,
                HasSubstr("ssh-agent at " + agent.socket_path() + " holds no keys"));
  }
  ScopedEnvironment no_socket("SSH_AUTH_SOCK", "");
  EXPECT_THAT(RunRefused(target).message, HasSubstr("$SSH_AUTH_SOCK is not set"));
}

}  // namespace
}  // namespace baton
