// The hiredis implementation of RedisClient: redis:// urls, AUTH and SELECT on
// every (re)connect, socket timeouts per command, and reconnection with backoff
// after a lost connection.
#include "engine/redis_client.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string_view>
#include <utility>

#include "common/backoff.h"
#include "common/secret.h"
#include "config/config.h"

namespace baton {
namespace {

using std::chrono::steady_clock;

constexpr int kDefaultPort = 6379;
constexpr Duration kFirstReconnectBackoff = std::chrono::milliseconds(50);
constexpr Duration kMaxReconnectBackoff = std::chrono::seconds(1);

// Where a redis:// url points, and how to log in there.
struct RedisTarget {
  std::string host;
  int port = kDefaultPort;
  int database = 0;
  std::string username;  // empty: the default user
  std::string password;  // empty: no AUTH
  std::string Address() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
  }
};

// The url as it may be shown: any password replaced by "***".
std::string RedactUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  size_t end = std::min(url.find('/', start), url.size());
  size_t at = url.rfind('@', end == 0 ? 0 : end - 1);
  if (at == std::string::npos || at < start) return url;
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) {
    return url.substr(0, start) + "***" + url.substr(at);  // all of it may be the secret
  }
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

bool ParseNumber(std::string_view text, int* out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= text.size()) return false;
    auto [end, error] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (error != std::errc() || end != text.data() + i + 3) return false;
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

Result<RedisTarget> ParseRedisUrl(const std::string& url) {
  auto error = [&](const std::string& what) {
    return Status::InvalidInput("redis url '" + RedactUrl(url) + "': " + what +
                                " (expected redis://[:PASSWORD@]HOST[:PORT][/DB])");
  };
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) return error("must start with redis://");
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

  RedisTarget target;
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) return error("expected ':PASSWORD@' before the host");
    target.username = std::string(userinfo.substr(0, colon));
    if (!PercentDecode(userinfo.substr(colon + 1), &target.password)) {
      return error("the password has a malformed %-escape");
    }
  }

  std::string_view port_text;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return error("'[' without ']' around the host");
    target.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return error("unexpected '" + std::string(after) + "'");
      port_text = after.substr(1);
      if (port_text.empty()) return error("empty port");
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    target.host = std::string(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
    if (port_text.empty()) return error("empty port");
  } else {
    target.host = std::string(authority);
  }
  if (target.host.empty()) return error("no host");
  if (!port_text.empty() &&
      (!ParseNumber(port_text, &target.port) || target.port < 1 || target.port > 65535)) {
    return error("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
  }
  if (!path.empty() && (!ParseNumber(path, &target.database) || target.database < 0)) {
    return error("database '" + std::string(path) + "' is not a number");
  }
  return target;
}

timeval ToTimeval(Duration duration) {
  auto millis = std::max<int64_t>(duration.count(), 1);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(millis / 1000);
  tv.tv_usec = static_cast<suseconds_t>((millis % 1000) * 1000);
  return tv;
}

RedisReply ConvertReply(const redisReply& reply) {
  RedisReply out;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.text.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i)
        out.elements.push_back(ConvertReply(*reply.element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

class HiredisClient : public RedisClient {
 public:
  HiredisClient(RedisTarget target, RedisOptions options)
      : target_(std::move(target)), options_(std::move(options)) {}
  ~HiredisClient() override { Drop(); }

  Status Connect() { return ConnectOnce(options_.connect_timeout); }

  Result<RedisReply> Command(const std::vector<std::string>& argv,
                             std::optional<Duration> timeout) override {
    Result<RedisReply> reply = Execute(argv, timeout);
    if (!reply.ok() && reply.status().code() == Status::Code::kInternal) {
      return Status::Internal(ServerError(argv[0], reply.status().message()));
    }
    return reply;
  }

  Result<std::vector<RedisReply>> Pipeline(const std::vector<std::vector<std::string>>& commands,
                                           std::optional<Duration> timeout) override {
    std::vector<RedisReply> replies;
    if (commands.empty()) return replies;
    BATON_RETURN_IF_ERROR(EnsureConnected());
    const Duration round_trip_timeout = timeout.value_or(options_.command_timeout);
    UseTimeout(round_trip_timeout);
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    for (const std::vector<std::string>& argv : commands) {
      if (argv.empty()) return Status::InvalidInput("Redis: empty command in a pipeline");
      Split(argv, &args, &lengths);
      if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), args.data(),
                                 lengths.data()) != REDIS_OK) {
        return Lost(round_trip_timeout);
      }
    }
    replies.reserve(commands.size());
    std::string first_error;
    for (const std::vector<std::string>& argv : commands) {
      void* raw = nullptr;
      if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) {
        return Lost(round_trip_timeout);
      }
      ReplyPtr reply(static_cast<redisReply*>(raw));
      if (reply->type == REDIS_REPLY_ERROR && first_error.empty()) {
        first_error = ServerError(argv[0], std::string(reply->str, reply->len));
      }
      replies.push_back(ConvertReply(*reply));
    }
    if (!first_error.empty()) return Status::Internal(first_error);
    return replies;
  }

  void Interrupt() override {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
    // Wakes a read blocked on the socket; the owning thread closes it.
    if (context_ != nullptr) ::shutdown(context_->fd, SHUT_RDWR);
    wake_.notify_all();
  }

 private:
  // One command; an error reply is Internal with the server's bare message.
  Result<RedisReply> Execute(const std::vector<std::string>& argv,
                             std::optional<Duration> timeout) {
    if (argv.empty()) return Status::InvalidInput("Redis: empty command");
    BATON_RETURN_IF_ERROR(EnsureConnected());
    UseTimeout(timeout.value_or(options_.command_timeout));
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    Split(argv, &args, &lengths);
    ReplyPtr reply(static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(args.size()), args.data(), lengths.data())));
    if (!reply) return Lost(timeout.value_or(options_.command_timeout));
    if (reply->type == REDIS_REPLY_ERROR)
      return Status::Internal(std::string(reply->str, reply->len));
    return ConvertReply(*reply);
  }

  // The socket keeps the timeout of the last command until another is needed:
  // setting it costs two system calls, and a connection that always blocks for
  // the same time, or never blocks, then sets it only once.
  void UseTimeout(Duration timeout) {
    if (timeout == applied_timeout_) return;
    redisSetTimeout(context_, ToTimeval(timeout));
    applied_timeout_ = timeout;
  }

  static void Split(const std::vector<std::string>& argv, std::vector<const char*>* args,
                    std::vector<size_t>* lengths) {
    args->clear();
    lengths->clear();
    for (const std::string& arg : argv) {
      args->push_back(arg.data());
      lengths->push_back(arg.size());
    }
  }

  std::string Where() const { return "Redis at " + target_.Address(); }

  // A server's message with the password taken out, should it ever echo it.
  std::string Redacted(std::string message) const {
    if (target_.password.empty()) return message;
    for (size_t at = message.find(target_.password); at != std::string::npos;
         at = message.find(target_.password, at)) {
      message.replace(at, target_.password.size(), "***");
    }
    return message;
  }

  // "Redis at HOST:PORT: LPUSH: WRONGTYPE ...": the command's name only, as its
  // arguments may be large or secret.
  std::string ServerError(const std::string& command, const std::string& message) const {
    std::string name = command;
    for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return Where() + ": " + name + ": " + Redacted(message);
  }

  bool interrupted() {
    std::lock_guard lock(mutex_);
    return interrupted_;
  }

  Status Interrupted() const { return Status::Unavailable(Where() + ": interrupted"); }

  // Closes the connection after an I/O error or timeout; the next call reconnects.
  Status Lost(Duration timeout) {
    std::string reason = context_->errstr;
    bool timed_out = context_->err == REDIS_ERR_IO && reason == std::strerror(EAGAIN);
    Drop();
    if (interrupted()) return Interrupted();
    if (timed_out) {
      return Status::Unavailable(Where() + ": no reply within " + FormatDuration(timeout));
    }
    return Status::Unavailable(
        Where() + ": connection lost: " + (reason.empty() ? "closed by the server" : reason));
  }

  void Drop() {
    redisContext* context = nullptr;
    {
      std::lock_guard lock(mutex_);
      std::swap(context, context_);
    }
    if (context != nullptr) redisFree(context);
  }

  // Reconnects when the last call lost the connection: attempts with doubling
  // pauses between them until one succeeds or connect_timeout has passed.
  Status EnsureConnected() {
    if (interrupted()) return Interrupted();
    if (context_ != nullptr) return Status::Ok();
    const auto deadline = steady_clock::now() + options_.connect_timeout;
    Backoff backoff(kFirstReconnectBackoff, kMaxReconnectBackoff);
    while (true) {
      auto left = std::chrono::duration_cast<Duration>(deadline - steady_clock::now());
      Status status = ConnectOnce(std::max(left, Duration(1)));
      if (status.ok() || status.code() != Status::Code::kUnavailable) return status;
      const Duration wait = backoff.Next();
      if (steady_clock::now() + wait >= deadline) return status;
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, wait, [this] { return interrupted_; })) return Interrupted();
    }
  }

  Status ConnectOnce(Duration timeout) {
    redisContext* context =
        redisConnectWithTimeout(target_.host.c_str(), target_.port, ToTimeval(timeout));
    if (context == nullptr) {
      return Status::Unavailable("cannot connect to " + Where() + ": out of memory");
    }
    if (context->err != 0) {
      std::string reason = context->errstr;
      redisFree(context);
      return Status::Unavailable("cannot connect to " + Where() + ": " + reason);
    }
    redisSetTimeout(context, ToTimeval(options_.command_timeout));
    applied_timeout_ = options_.command_timeout;
    {
      std::lock_guard lock(mutex_);
      if (interrupted_) {
        redisFree(context);
        return Interrupted();
      }
      context_ = context;
    }
    Status status = LogIn();
    if (!status.ok()) Drop();
    return status;
  }

  // AUTH (or a PING, so that a server wanting a password says so now) and SELECT.
  Status LogIn() {
    std::vector<std::string> hello = {"PING"};
    if (!target_.password.empty()) {
      hello = {"AUTH", target_.password};
      if (!target_.username.empty()) hello.insert(hello.begin() + 1, target_.username);
    }
    Result<RedisReply> greeted = Execute(hello, std::nullopt);
    if (!greeted.ok()) {
      if (greeted.status().code() != Status::Code::kInternal) return greeted.status();
      if (target_.password.empty()) {
        return Status::InvalidInput(Where() + " requires a password and none was given");
      }
      return Status::InvalidInput(Where() +
                                  " refused the password: " + Redacted(greeted.status().message()));
    }
    if (target_.database != 0) {
      const std::string database = std::to_string(target_.database);
      Result<RedisReply> selected = Execute({"SELECT", database}, std::nullopt);
      if (!selected.ok()) {
        if (selected.status().code() != Status::Code::kInternal) return selected.status();
        return Status::InvalidInput(Where() + ": cannot select database " + database + ": " +
                                    Redacted(selected.status().message()));
      }
    }
    return Status::Ok();
  }

  const RedisTarget target_;
  const RedisOptions options_;
  redisContext* context_ = nullptr;  // used by the owning thread; swapped under mutex_
  Duration applied_timeout_{0};      // what context_'s socket has now
  std::mutex mutex_;
  std::condition_variable wake_;
  bool interrupted_ = false;
};

// hiredis writes with write(2): a write to a connection the server has reset
// raises SIGPIPE, whose default action would end the process.
void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      ::signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

Result<std::unique_ptr<RedisClient>> ConnectRedis(const RedisOptions& options) {
  IgnoreSigpipe();
  Result<RedisTarget> target = ParseRedisUrl(options.url);
  if (!target.ok()) return target.status();
  if (target->password.empty()) target->password = options.password;
  auto client = std::make_unique<HiredisClient>(std::move(*target), options);
  BATON_RETURN_IF_ERROR(client->Connect());
  return std::unique_ptr<RedisClient>(std::move(client));
}

Result<RedisOptions> RedisOptionsFrom(const RedisConfig& config) {
  RedisOptions options;
  options.url = config.url;
  if (Result<RedisTarget> target = ParseRedisUrl(config.url); !target.ok()) {
    return target.status();
  }
  Result<std::string> password = ReadSecret("BATON_REDIS_PASSWORD", config.password_file);
  if (!password.ok()) return password.status();
  options.password = std::move(*password);
  options.connect_timeout = config.connect_timeout;
  options.command_timeout = config.command_timeout;
  return options;
}

}  // namespace baton
