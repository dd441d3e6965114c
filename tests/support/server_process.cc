#include "tests/support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/time.h"

namespace baton::testing {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr size_t kLogTail = 2000;  // bytes of a server's log shown in an error
constexpr int kPortAttempts = 5;

}  // namespace

std::string FindProgram(const std::vector<std::string>& names) {
  std::vector<std::string> folders;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream list(path);
    for (std::string folder; std::getline(list, folder, ':');) {
      if (!folder.empty()) folders.push_back(folder);
    }
  }
  for (const char* folder : {"/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"}) {
    folders.push_back(folder);
  }
  for (const std::string& name : names) {
    for (const std::string& folder : folders) {
      const fs::path candidate = fs::path(folder) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return "";
}

int FreePort() {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(listener);
  return port;
}

int ConnectToLocalPort(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const timeval timeout{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

Status StartOnPort(int& port, const std::function<Status()>& start) {
  const bool pick_port = port == 0;
  Status status;
  for (int attempt = 0; attempt < (pick_port ? kPortAttempts : 1); ++attempt) {
    if (pick_port) port = FreePort();
    status = start();
    if (status.ok()) return status;
  }
  if (pick_port) port = 0;
  return status;
}

Result<pid_t> SpawnServer(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const int output = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (output < 0) return Status::IoError("cannot open " + log.string());
  const int input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Only async-signal-safe calls between fork and exec: the test may have
  // threads of its own.
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(input, STDIN_FILENO);
    ::dup2(output, STDOUT_FILENO);
    ::dup2(output, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(output);
  ::close(input);
  if (pid < 0) return Status::IoError("cannot fork to start " + argv[0]);
  return pid;
}

std::optional<int> WaitForExit(pid_t pid, SteadyClock::duration timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status WaitUntilAnswering(pid_t& pid, const std::string& server,
                          const std::function<bool()>& answers, SteadyClock::duration timeout,
                          const fs::path& log) {
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (WaitForExit(pid, SteadyClock::duration::zero())) {
      pid = 0;
      return Status::Unavailable(server + " exited at start-up: " + ReadTail(log, kLogTail));
    }
    if (answers()) return Status::Ok();
    std::this_thread::sleep_for(kPollInterval);
  }
  return Status::Unavailable(server + " did not answer within " +
                             FormatDuration(std::chrono::duration_cast<Duration>(timeout)) + ": " +
                             ReadTail(log, kLogTail));
}

void StopServer(pid_t pid, SteadyClock::duration grace) {
  ::kill(pid, SIGTERM);
  if (WaitForExit(pid, grace)) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

std::string ReadTail(const fs::path& file, size_t bytes) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return "(no " + file.string() + ")";
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - static_cast<std::streamoff>(bytes)));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace baton::testing
