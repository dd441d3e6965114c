// RedisClient: one synchronous connection to Redis (hiredis), for one thread at
// a time. Every command has a timeout; a lost connection is re-established
// (with backoff, up to the connect timeout) before the next command, never in
// the middle of one: a command that failed on a lost connection returns
// Unavailable and the caller decides whether repeating it is safe.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"

namespace baton {

struct RedisOptions {
  std::string url = "redis://127.0.0.1:6379/0";  // redis://[:PASSWORD@]HOST[:PORT][/DB]
  std::string password;                          // used when the url carries none; never logged
  Duration connect_timeout = std::chrono::seconds(5);
  Duration command_timeout = std::chrono::seconds(10);
};

struct RedisReply {
  // kError only inside an array (a failed command inside MULTI/EXEC); an error
  // reply to a command itself is a non-OK Status.
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };
  Type type = Type::kNil;
  std::string text;                  // kString, kStatus, kError
  long long integer = 0;             // kInteger
  std::vector<RedisReply> elements;  // kArray
  bool is_nil() const { return type == Type::kNil; }
};

class RedisClient {
 public:
  virtual ~RedisClient() = default;

  // One command, its arguments binary-safe. An error reply from the server is
  // Internal with the server's message; a timeout or lost connection is
  // Unavailable. `timeout` overrides the command timeout (a blocking command
  // such as BLMOVE passes its own wait plus a margin).
  virtual Result<RedisReply> Command(const std::vector<std::string>& argv,
                                     std::optional<Duration> timeout = std::nullopt) = 0;
  // Several commands sent at once and their replies read in order (one round
  // trip). Fails as a whole on a lost connection; server error replies fail it
  // too (after every reply was read, so the connection stays usable), with the
  // first error's message. `timeout` overrides the command timeout for the
  // whole round trip.
  virtual Result<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands,
      std::optional<Duration> timeout = std::nullopt) = 0;

  // The only method that may be called from another thread: makes the call in
  // progress (even one blocked in BLPOP or in a reconnect) and every later one
  // fail at once with Unavailable. For stopping the thread that owns the client.
  // A fake may leave it a no-op.
  virtual void Interrupt() {}
};

// Connects (with AUTH and SELECT as the url says). The error message names the
// host and port, never the password: InvalidInput for a malformed url or a
// refused password, Unavailable when the server cannot be reached. The first
// call ignores SIGPIPE when it is still at its default, as a write to a
// connection the server reset would otherwise end the process.
Result<std::unique_ptr<RedisClient>> ConnectRedis(const RedisOptions& options);

// RedisOptions from the [redis] section, the password from $BATON_REDIS_PASSWORD
// or its password_file.
struct RedisConfig;
Result<RedisOptions> RedisOptionsFrom(const RedisConfig& config);

}  // namespace baton
