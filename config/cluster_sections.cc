// The sections of baton.toml that matter once Baton runs on several hosts: the
// store connection, the executor, Redis and the agents.
#include <algorithm>

#include "config/sections.h"

namespace baton::config_internal {
namespace {

const Duration kPositive(1);

Status ReadStore(const FieldReader& store, StoreConfig* out) {
  BATON_RETURN_IF_ERROR(store.ReadNonEmptyString("url", &out->url));
  BATON_RETURN_IF_ERROR(store.ReadString("password_file", &out->password_file));
  BATON_RETURN_IF_ERROR(store.ReadDuration("connect_timeout", &out->connect_timeout, kPositive));
  return store.ReadDuration("io_timeout", &out->io_timeout, kPositive);
}

Status ReadRedis(const FieldReader& redis, RedisConfig* out) {
  BATON_RETURN_IF_ERROR(redis.ReadNonEmptyString("url", &out->url));
  if (!out->url.starts_with("redis://")) {
    // Not echoed: the value may carry a password.
    return redis.Error("url", "expected redis://[:PASSWORD@]HOST[:PORT][/DB]");
  }
  BATON_RETURN_IF_ERROR(redis.ReadString("password_file", &out->password_file));
  BATON_RETURN_IF_ERROR(redis.ReadNonEmptyString("key_prefix", &out->key_prefix));
  BATON_RETURN_IF_ERROR(redis.ReadDuration("connect_timeout", &out->connect_timeout, kPositive));
  BATON_RETURN_IF_ERROR(redis.ReadDuration("command_timeout", &out->command_timeout, kPositive));
  return redis.ReadDuration("requeue_check_interval", &out->requeue_check_interval, kPositive);
}

Status ReadAgent(const FieldReader& agent, AgentConfig* out) {
  BATON_RETURN_IF_ERROR(agent.ReadString("name", &out->name));
  BATON_RETURN_IF_ERROR(agent.ReadStringArray("queues", &out->queues));
  if (out->queues.empty() ||
      std::any_of(out->queues.begin(), out->queues.end(), [](auto& q) { return q.empty(); })) {
    return agent.Error("queues", "must name at least one queue, and no empty name");
  }
  BATON_RETURN_IF_ERROR(agent.ReadInt("concurrency", &out->concurrency, 1, 4096));
  BATON_RETURN_IF_ERROR(
      agent.ReadDuration("heartbeat_interval", &out->heartbeat_interval, kPositive));
  BATON_RETURN_IF_ERROR(agent.ReadDuration("kill_grace_period", &out->kill_grace_period));
  BATON_RETURN_IF_ERROR(agent.ReadNonEmptyString("log_bind", &out->log_bind));
  return agent.ReadInt("log_port", &out->log_port, 0, 65535);
}

}  // namespace

const toml::table& EmptyTable() {
  static const toml::table empty;
  return empty;
}

Status ReadClusterSections(const FieldReader& root, Config* config) {
  BATON_RETURN_IF_ERROR(ReadSectionOf(
      root, "store", [&](const FieldReader& store) { return ReadStore(store, &config->store); }));
  BATON_RETURN_IF_ERROR(ReadSectionOf(root, "executor", [&](const FieldReader& section) {
    return section.ReadChoice("kind", ChoicesOf("executor", "kind"), &config->executor.kind);
  }));
  BATON_RETURN_IF_ERROR(ReadSectionOf(
      root, "redis", [&](const FieldReader& redis) { return ReadRedis(redis, &config->redis); }));
  return ReadSectionOf(root, "agent",
                       [&](const FieldReader& agent) { return ReadAgent(agent, &config->agent); });
}

}  // namespace baton::config_internal
