#include "tests/support/sshd_server.h"

#include <dirent.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "tests/support/process_probes.h"
#include "tests/support/server_process.h"

namespace baton::testing {
namespace {

namespace fs = std::filesystem;

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);
constexpr auto kProgramTimeout = std::chrono::seconds(30);
constexpr size_t kLogTail = 2000;  // bytes of a log shown in an error
// Where sshd running as root wants to chroot its unprivileged children.
constexpr char kPrivilegeSeparationFolder[] = "/run/sshd";

std::string CurrentUserName() {
  passwd* entry = getpwuid(geteuid());
  return entry != nullptr ? entry->pw_name : "root";
}

// Whether a server on the port sends the SSH banner ("SSH-2.0-...").
bool Answers(int port) {
  const int fd = ConnectToLocalPort(port);
  if (fd < 0) return false;
  char banner[8] = {};
  const bool answers = ::recv(fd, banner, sizeof(banner), MSG_WAITALL) == sizeof(banner) &&
                       std::string(banner, sizeof(banner)) == "SSH-2.0-";
  ::close(fd);
  return answers;
}

// "ssh-ed25519 AAAA..." from a .pub file: its first two words, without the comment.
std::string PublicKeyOf(const fs::path& public_key_file) {
  std::istringstream words(ReadFile(public_key_file));
  std::string type, key;
  words >> type >> key;
  return type + " " + key;
}

// A process, its parent (field 4 of /proc/PID/stat) and its name (/proc/PID/comm).
struct ProcessInfo {
  pid_t pid = 0;
  pid_t parent = 0;
  std::string name;
};

std::vector<ProcessInfo> AllProcesses() {
  std::vector<ProcessInfo> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return processes;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string stat = ReadFile(fs::path("/proc") / entry->d_name / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    ProcessInfo info;
    info.pid = static_cast<pid_t>(pid);
    fields >> state >> info.parent;
    std::getline(std::ifstream(fs::path("/proc") / entry->d_name / "comm"), info.name);
    processes.push_back(info);
  }
  ::closedir(proc);
  return processes;
}

// Every process below `root` in the process tree, parents before children.
std::vector<ProcessInfo> DescendantsOf(pid_t root) {
  std::vector<ProcessInfo> all = AllProcesses();
  std::vector<ProcessInfo> found;
  std::vector<pid_t> parents = {root};
  for (size_t next = 0; next < parents.size(); ++next) {
    for (const ProcessInfo& process : all) {
      if (process.parent == parents[next]) {
        found.push_back(process);
        parents.push_back(process.pid);
      }
    }
  }
  return found;
}

// The client key pair every server of the process authorizes, made once; its
// folder goes when the process ends.
Result<std::string> SharedClientKey() {
  static TempFolder folder("baton_ssh_client");
  static const Result<std::string> key = [&]() -> Result<std::string> {
    const fs::path path = folder.path() / "id_ed25519";
    BATON_RETURN_IF_ERROR(RunProgram({FindProgram({"ssh-keygen"}), "-q", "-t", "ed25519", "-N", "",
                                      "-C", "baton-test-client", "-f", path.string()},
                                     folder.path() / "ssh-keygen.log"));
    return path.string();
  }();
  return key;
}

}  // namespace

Status RunProgram(const std::vector<std::string>& argv, const fs::path& log) {
  Result<pid_t> pid = SpawnServer(argv, log);
  if (!pid.ok()) return pid.status();
  std::optional<int> status = WaitForExit(*pid, kProgramTimeout);
  if (!status) {
    StopServer(*pid, std::chrono::seconds(1));
    return Status::Unavailable(argv[0] + " did not finish within 30s: " + ReadTail(log, kLogTail));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return Status::Unavailable(argv[0] + " failed: " + ReadTail(log, kLogTail));
  }
  return Status::Ok();
}

bool SshdServer::Installed() {
  return !FindProgram({"sshd"}).empty() && !FindProgram({"ssh-keygen"}).empty();
}

SshdServer::SshdServer()
    : folder_("baton_sshd"), binary_(FindProgram({"sshd"})), user_(CurrentUserName()) {}

SshdServer::~SshdServer() { Stop(); }

std::string SshdServer::known_hosts_file() const { return (folder() / "known_hosts").string(); }

std::string SshdServer::host_pattern() const { return "[127.0.0.1]:" + std::to_string(port_); }

std::string SshdServer::LogTail() const { return ReadTail(folder() / "sshd.log", kLogTail); }

Result<std::string> SshdServer::GenerateKey(const std::string& name, const std::string& type) {
  const fs::path key = folder() / name;
  std::vector<std::string> argv = {
      FindProgram({"ssh-keygen"}), "-q", "-t",        type, "-N", "", "-C",
      "baton-test-" + name,        "-f", key.string()};
  // The least size OpenSSH takes: a test wants its RSA key fast, not strong.
  if (type == "rsa") argv.insert(argv.end(), {"-b", "1024"});
  BATON_RETURN_IF_ERROR(RunProgram(argv, folder() / "ssh-keygen.log"));
  return key.string();
}

Status SshdServer::AuthorizeKey(const std::string& private_key) {
  const std::string public_key = ReadFile(private_key + ".pub");
  if (public_key.empty()) return Status::NotFound("no public key at " + private_key + ".pub");
  std::ofstream(folder() / "authorized_keys", std::ios::app) << public_key;
  return Status::Ok();
}

Status SshdServer::AddHostKey(const std::string& type) {
  Result<std::string> key = GenerateKey("ssh_host_" + type + "_key", type);
  if (!key.ok()) return key.status();
  other_host_keys_.push_back(*key);
  return Status::Ok();
}

Result<std::string> SshdServer::WriteHashedKnownHosts() {
  const fs::path hashed = folder() / "known_hosts_hashed";
  std::error_code error;
  fs::copy_file(known_hosts_file(), hashed, fs::copy_options::overwrite_existing, error);
  if (error) return Status::IoError("cannot copy known_hosts: " + error.message());
  BATON_RETURN_IF_ERROR(RunProgram({FindProgram({"ssh-keygen"}), "-H", "-f", hashed.string()},
                                   folder() / "ssh-keygen.log"));
  return hashed.string();
}

Status SshdServer::MakeKeys() {
  if (!host_public_key_.empty()) return Status::Ok();
  Result<std::string> host_key = GenerateKey("ssh_host_ed25519_key");
  if (!host_key.ok()) return host_key.status();
  Result<std::string> client_key = SharedClientKey();
  if (!client_key.ok()) return client_key.status();
  BATON_RETURN_IF_ERROR(AuthorizeKey(*client_key));
  identity_file_ = *client_key;
  host_public_key_ = PublicKeyOf(*host_key + ".pub");
  return Status::Ok();
}

Status SshdServer::Start() {
  if (running()) return Status::Ok();
  if (binary_.empty()) return Status::NotFound("sshd is not installed");
  BATON_RETURN_IF_ERROR(MakeKeys());
  if (::geteuid() == 0) {
    // What Debian's sshd unit does before it starts the server.
    std::error_code error;
    fs::create_directories(kPrivilegeSeparationFolder, error);
  }
  return StartOnPort(port_, [this] { return StartOnce(); });
}

Status SshdServer::StartOnce() {
  const fs::path config = folder() / "sshd_config";
  // As the current user, so the same config serves root and anyone else:
  // without PAM (which only root may use) and without StrictModes (the files
  // are in a temporary folder, not in the user's home). SHLVL=1 makes bash take
  // a command's shell for a nested one, which does not read ~/.bashrc (Debian's
  // bash reads it for sshd's commands otherwise): a slow or chatty rc file of
  // whoever runs the tests is not what they test.
  std::ofstream out(config);
  for (const std::string& key : other_host_keys_) out << "HostKey " << key << "\n";
  out << "Port " << port_ << "\n"
      << "ListenAddress 127.0.0.1\n"
      << "HostKey " << (folder() / "ssh_host_ed25519_key").string() << "\n"
      << "PidFile " << (folder() / "sshd.pid").string() << "\n"
      << "AuthorizedKeysFile " << (folder() / "authorized_keys").string() << "\n"
      << "UsePAM no\n"
      << "StrictModes no\n"
      << "PubkeyAuthentication yes\n"
      << "PasswordAuthentication no\n"
      << "KbdInteractiveAuthentication no\n"
      << "PermitRootLogin prohibit-password\n"
      << "AllowTcpForwarding no\n"
      << "X11Forwarding no\n"
      << "PrintMotd no\n"
      << "MaxStartups 100\n"
      << "SetEnv SHLVL=1\n"
      << "LogLevel VERBOSE\n";
  out.close();
  std::ofstream(known_hosts_file()) << host_pattern() << " " << host_public_key_ << "\n";
  Result<pid_t> pid =
      SpawnServer({binary_, "-D", "-e", "-f", config.string()}, folder() / "sshd.log");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  Status status = WaitUntilAnswering(
      pid_, "sshd on port " + std::to_string(port_), [this] { return Answers(port_); },
      kStartTimeout, folder() / "sshd.log");
  if (!status.ok()) Stop();
  return status;
}

void SshdServer::SignalSessions(int signal, bool sshd_only) {
  if (pid_ <= 0) return;
  for (const ProcessInfo& process : DescendantsOf(pid_)) {
    if (!sshd_only || process.name == "sshd") ::kill(process.pid, signal);
  }
}

void SshdServer::Pause() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGSTOP);
  SignalSessions(SIGSTOP, true);
}

void SshdServer::Resume() {
  if (pid_ <= 0) return;
  SignalSessions(SIGCONT, false);
  ::kill(pid_, SIGCONT);
}

void SshdServer::Stop() {
  if (pid_ <= 0) return;
  // Each session sshd forks is a session leader of its own: it outlives the
  // listener unless it is ended too.
  SignalSessions(SIGKILL, false);
  ::kill(pid_, SIGCONT);  // a paused server would not see SIGTERM
  StopServer(pid_, kStopTimeout);
  pid_ = 0;
}

SshAgent::SshAgent() : folder_("baton_ssh_agent") {}

SshAgent::~SshAgent() {
  if (pid_ > 0) StopServer(pid_, kStopTimeout);
}

std::string SshAgent::socket_path() const { return (folder_.path() / "agent.sock").string(); }

Status SshAgent::Start() {
  const std::string agent = FindProgram({"ssh-agent"});
  if (agent.empty()) return Status::NotFound("ssh-agent is not installed");
  Result<pid_t> pid = SpawnServer({agent, "-D", "-a", socket_path()}, folder_.path() / "agent.log");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  Status status = WaitUntilAnswering(
      pid_, "ssh-agent", [this] { return fs::exists(socket_path()); }, kStartTimeout,
      folder_.path() / "agent.log");
  if (!status.ok() && pid_ > 0) {
    StopServer(pid_, kStopTimeout);
    pid_ = 0;
  }
  return status;
}

Status SshAgent::Add(const std::string& key_file) {
  return RunProgram(
      {FindProgram({"env"}), "SSH_AUTH_SOCK=" + socket_path(), FindProgram({"ssh-add"}), key_file},
      folder_.path() / "ssh-add.log");
}

}  // namespace baton::testing
