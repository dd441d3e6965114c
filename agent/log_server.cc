// The log server: evhttp on an event_base that only its own thread dispatches.
// The base is created with libevent's pthread locking, so the destructor can
// end its loop from another thread.
#include "agent/log_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "agent/log_request.h"
#include "engine/task_launch.h"

namespace baton {
namespace {

// A slow or stuck client is dropped after this long.
constexpr int kClientTimeoutSeconds = 30;

void EnableLibeventThreads() {
  static std::once_flag once;
  std::call_once(once, [] { evthread_use_pthreads(); });
}

int BoundPort(evhttp_bound_socket* socket) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(evhttp_bound_socket_get_fd(socket), reinterpret_cast<sockaddr*>(&address),
                  &length) != 0) {
    return 0;
  }
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  }
  return 0;
}

void Reply(evhttp_request* request, int code, const char* reason, const std::string& content_type,
           const std::string& body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", content_type.c_str());
  evbuffer* buffer = evbuffer_new();
  evbuffer_add(buffer, body.data(), body.size());
  evhttp_send_reply(request, code, reason, buffer);
  evbuffer_free(buffer);
}

void ReplyText(evhttp_request* request, int code, const char* reason, const std::string& text) {
  Reply(request, code, reason, "text/plain; charset=utf-8", text + "\n");
}

}  // namespace

class LogServer::Impl {
 public:
  Impl(std::string logs_folder, HealthSource health)
      : logs_folder_(std::move(logs_folder)), health_(std::move(health)) {}

  ~Impl() {
    if (thread_.joinable()) {
      // An event, unlike loopbreak's flag, also stops a loop that has not
      // started yet: the loop resets the flag as it starts.
      event_base_loopexit(base_, nullptr);
      thread_.join();
    }
    if (http_ != nullptr) evhttp_free(http_);
    if (base_ != nullptr) event_base_free(base_);
  }

  Status Listen(const std::string& bind_address, int port) {
    EnableLibeventThreads();
    base_ = event_base_new();
    if (base_ == nullptr) return Status::Internal("log server: cannot create an event base");
    http_ = evhttp_new(base_);
    if (http_ == nullptr) return Status::Internal("log server: cannot create the HTTP server");
    // Every method reaches Handle, which answers 405 to all but GET and HEAD.
    evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                          EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                          EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(http_, kClientTimeoutSeconds);
    evhttp_set_gencb(
        http_,
        [](evhttp_request* request, void* self) { static_cast<Impl*>(self)->Handle(request); },
        this);
    errno = 0;
    evhttp_bound_socket* socket =
        evhttp_bind_socket_with_handle(http_, bind_address.c_str(), static_cast<uint16_t>(port));
    if (socket == nullptr) {
      const int error = errno;
      return Status::Unavailable("log server: cannot listen on " + bind_address + ":" +
                                 std::to_string(port) + ": " +
                                 (error != 0 ? std::strerror(error) : "cannot resolve or bind") +
                                 " (agent.log_bind, agent.log_port)");
    }
    port_ = BoundPort(socket);
    thread_ = std::thread([this] { event_base_dispatch(base_); });
    return Status::Ok();
  }

  int port() const { return port_; }

 private:
  void Handle(evhttp_request* request) {
    const evhttp_cmd_type method = evhttp_request_get_command(request);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
      evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD");
      ReplyText(request, 405, "Method Not Allowed", "only GET and HEAD are served");
      return;
    }
    const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
    const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
    const std::string path = raw_path != nullptr ? raw_path : "";
    if (path == "/health") {
      ServeHealth(request);
    } else if (path.starts_with(kLogRequestPrefix)) {
      ServeLog(request, path);
    } else {
      ReplyText(request, HTTP_NOTFOUND, "Not Found",
                "not found: this agent serves /health and /log/DAG_ID/RUN_ID/TASK_ID/TRY");
    }
  }

  void ServeHealth(evhttp_request* request) {
    const AgentHealth health = health_();
    nlohmann::json body = {{"status", "ok"},
                           {"name", health.name},
                           {"running", health.running},
                           {"job_id", health.job_id}};
    Reply(request, HTTP_OK, "OK", "application/json", body.dump() + "\n");
  }

  void ServeLog(evhttp_request* request, const std::string& path) {
    auto parsed = ParseLogRequestPath(path);
    if (!parsed.ok()) {
      ReplyText(request, HTTP_BADREQUEST, "Bad Request", parsed.status().message());
      return;
    }
    const std::string file = TaskLogPath(logs_folder_, parsed->key, parsed->try_number);
    const std::string what =
        "log of " + parsed->key.ToString() + " try " + std::to_string(parsed->try_number);
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat info {};
    if (fd < 0 || fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
      const int error = errno;
      if (fd >= 0) close(fd);
      if (fd < 0 && error != ENOENT && error != ENOTDIR) {
        spdlog::warn("log server: cannot read {}: {}", file, std::strerror(error));
        ReplyText(request, HTTP_INTERNAL, "Internal Server Error",
                  "cannot read the " + what + ": " + std::strerror(error));
        return;
      }
      ReplyText(request, HTTP_NOTFOUND, "Not Found", "no " + what + " on this agent");
      return;
    }
    evkeyvalq* headers = evhttp_request_get_output_headers(request);
    evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
    evbuffer* buffer = evbuffer_new();
    // The buffer owns the descriptor from here on, even when adding fails.
    if (info.st_size == 0) {
      close(fd);
    } else if (evbuffer_add_file(buffer, fd, 0, info.st_size) != 0) {
      evbuffer_free(buffer);
      ReplyText(request, HTTP_INTERNAL, "Internal Server Error", "cannot send the " + what);
      return;
    }
    evhttp_send_reply(request, HTTP_OK, "OK", buffer);
    evbuffer_free(buffer);
  }

  const std::string logs_folder_;
  const HealthSource health_;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;
  int port_ = 0;
  std::thread thread_;
};

LogServer::LogServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LogServer::~LogServer() = default;

int LogServer::port() const { return impl_->port(); }

Result<std::unique_ptr<LogServer>> LogServer::Start(const std::string& bind_address, int port,
                                                    std::string logs_folder, HealthSource health) {
  auto impl = std::make_unique<Impl>(std::move(logs_folder), std::move(health));
  BATON_RETURN_IF_ERROR(impl->Listen(bind_address, port));
  return std::unique_ptr<LogServer>(new LogServer(std::move(impl)));
}

}  // namespace baton
