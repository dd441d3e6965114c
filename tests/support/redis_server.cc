#include "tests/support/redis_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <vector>

#include "tests/support/server_process.h"

namespace baton::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);

// Whether a server answers PING on the port (+PONG, or -NOAUTH when it wants a
// password: either way it is up and past loading its data).
bool Answers(int port) {
  const int fd = ConnectToLocalPort(port);
  if (fd < 0) return false;
  constexpr char kPing[] = "PING\r\n";
  char reply[64] = {};
  bool answers = false;
  if (::send(fd, kPing, sizeof(kPing) - 1, MSG_NOSIGNAL) == sizeof(kPing) - 1) {
    ssize_t got = ::recv(fd, reply, sizeof(reply) - 1, 0);
    std::string text(reply, got > 0 ? static_cast<size_t>(got) : 0);
    answers = text.starts_with("+PONG") || text.starts_with("-NOAUTH");
  }
  ::close(fd);
  return answers;
}

std::string PercentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

}  // namespace

bool RedisServer::Installed() { return !FindProgram({"redis-server"}).empty(); }

RedisServer::RedisServer() : RedisServer(Options()) {}

RedisServer::RedisServer(Options options)
    : options_(std::move(options)),
      folder_("baton_redis"),
      binary_(FindProgram({"redis-server"})) {}

RedisServer::~RedisServer() { Stop(); }

std::string RedisServer::Url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }

std::string RedisServer::UrlWithPassword() const {
  if (options_.password.empty()) return Url();
  return "redis://:" + PercentEncode(options_.password) + "@127.0.0.1:" + std::to_string(port_) +
         "/0";
}

Status RedisServer::Start() {
  if (running()) return Status::Ok();
  if (binary_.empty()) return Status::NotFound("redis-server is not installed");
  return StartOnPort(port_, [this] { return StartOnce(); });
}

Status RedisServer::StartOnce() {
  const std::string dir = folder_.path().string();
  const std::string log = (folder_.path() / "redis.log").string();
  std::vector<std::string> args = {binary_,
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir,
                                   "--logfile",
                                   log,
                                   "--daemonize",
                                   "no",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.persistence ? "yes" : "no",
                                   "--appendfsync",
                                   "always"};
  if (!options_.password.empty()) {
    args.push_back("--requirepass");
    args.push_back(options_.password);
  }
  for (const std::string& command : options_.missing_commands) {
    args.insert(args.end(), {"--rename-command", command, ""});
  }
  // Redis writes its own log (--logfile); its stdout and stderr say nothing more.
  auto pid = SpawnServer(args, "/dev/null");
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  Status status = WaitUntilAnswering(
      pid_, "redis-server on port " + std::to_string(port_), [this] { return Answers(port_); },
      kStartTimeout, log);
  if (!status.ok()) Stop();
  return status;
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  StopServer(pid_, kStopTimeout);
  pid_ = 0;
}

Status RedisServer::FlushByRestart() {
  Stop();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder_.path(), error)) {
    if (entry.path().filename() == "redis.log") continue;
    std::filesystem::remove_all(entry.path(), error);
  }
  return Start();
}

}  // namespace baton::testing
