// The sections of the failover controller: [failover] with its per-node tables
// [failover.node.NAME], and [alerts].
#include <algorithm>
#include <set>

#include "config/sections.h"

namespace baton::config_internal {
namespace {

const Duration kPositive(1);

Status ReadNode(const FieldReader& node, FailoverNodeConfig* out) {
  BATON_RETURN_IF_ERROR(node.CheckKnownKeys(KnownKeys("failover.node.NAME")));
  BATON_RETURN_IF_ERROR(node.ReadBool("local", &out->local));
  BATON_RETURN_IF_ERROR(node.ReadString("ssh_host", &out->ssh_host));
  BATON_RETURN_IF_ERROR(node.ReadInt("ssh_port", &out->ssh_port, 1, 65535));
  BATON_RETURN_IF_ERROR(node.ReadString("ssh_user", &out->ssh_user));
  BATON_RETURN_IF_ERROR(node.ReadString("start_command", &out->start_command));
  return node.ReadString("stop_command", &out->stop_command);
}

Status ReadNodes(const FieldReader& failover, FailoverConfig* out) {
  BATON_RETURN_IF_ERROR(failover.ReadStringArray("nodes", &out->nodes));
  if (const toml::node* nodes = failover.Find("nodes")) {
    out->nodes_position.position = SourcePosition(nodes->source());
  }
  std::set<std::string> seen;
  for (const std::string& name : out->nodes) {
    if (name.empty()) return failover.Error("nodes", "a node name is empty");
    if (!seen.insert(name).second) return failover.Error("nodes", "'" + name + "' is listed twice");
  }
  Result<const toml::table*> tables = failover.ReadTable("node");
  if (!tables.ok()) return tables.status();
  if (!*tables) return Status::Ok();
  for (const auto& [key, value] : **tables) {
    std::string name(key.str());
    FieldReader node_tables(**tables, failover.FieldName("node."));
    if (!seen.contains(name)) {
      return node_tables.Error(name, "is not in failover.nodes" + DidYouMean(name, out->nodes));
    }
    Result<const toml::table*> table = node_tables.ReadTable(name);
    if (!table.ok()) return table.status();
    BATON_RETURN_IF_ERROR(
        ReadNode(FieldReader(**table, node_tables.FieldName(name) + "."), &out->node[name]));
  }
  return Status::Ok();
}

Status ReadFailover(const FieldReader& failover, FailoverConfig* out) {
  BATON_RETURN_IF_ERROR(failover.ReadString("node_name", &out->node_name));
  BATON_RETURN_IF_ERROR(ReadNodes(failover, out));
  // Left empty, the name is the host's, which only the host itself knows: the
  // failover commands check that one where they run.
  const std::vector<std::string>& nodes = out->nodes;
  if (!out->node_name.empty() && !nodes.empty() &&
      std::find(nodes.begin(), nodes.end(), out->node_name) == nodes.end()) {
    return failover.Error("node_name", "'" + out->node_name + "' is not in failover.nodes (" +
                                           JoinNames(nodes) + ")");
  }
  BATON_RETURN_IF_ERROR(failover.ReadDuration("poll_frequency", &out->poll_frequency, kPositive));
  BATON_RETURN_IF_ERROR(
      failover.ReadDuration("heartbeat_interval", &out->heartbeat_interval, kPositive));
  BATON_RETURN_IF_ERROR(failover.ReadDuration("lease_ttl", &out->lease_ttl, kPositive));
  // The holder renews every heartbeat_interval and gives up a lease it could not
  // renew in time; with fewer than two tries per lease a single slow renew loses it.
  if (out->lease_ttl < 2 * out->heartbeat_interval) {
    return failover.Error("lease_ttl", "must be at least twice failover.heartbeat_interval");
  }
  BATON_RETURN_IF_ERROR(failover.ReadDuration("scheduler_health_threshold",
                                              &out->scheduler_health_threshold, kPositive));
  BATON_RETURN_IF_ERROR(failover.ReadInt("restart_retries", &out->restart_retries, 0, 100));
  BATON_RETURN_IF_ERROR(failover.ReadDuration("retry_wait", &out->retry_wait));
  BATON_RETURN_IF_ERROR(failover.ReadString("ssh_user", &out->ssh_user));
  BATON_RETURN_IF_ERROR(failover.ReadString("ssh_identity_file", &out->ssh_identity_file));
  BATON_RETURN_IF_ERROR(failover.ReadString("known_hosts", &out->known_hosts));
  BATON_RETURN_IF_ERROR(
      failover.ReadDuration("ssh_connect_timeout", &out->ssh_connect_timeout, kPositive));
  BATON_RETURN_IF_ERROR(
      failover.ReadDuration("ssh_command_timeout", &out->ssh_command_timeout, kPositive));
  BATON_RETURN_IF_ERROR(failover.ReadString("baton_binary", &out->baton_binary));
  BATON_RETURN_IF_ERROR(failover.ReadNonEmptyString("pidfile", &out->pidfile));
  BATON_RETURN_IF_ERROR(failover.ReadNonEmptyString("scheduler_log", &out->scheduler_log));
  BATON_RETURN_IF_ERROR(failover.ReadString("start_command", &out->start_command));
  BATON_RETURN_IF_ERROR(failover.ReadString("stop_command", &out->stop_command));
  return failover.ReadString("check_command", &out->check_command);
}

Status ReadAlerts(const FieldReader& alerts, AlertsConfig* out) {
  BATON_RETURN_IF_ERROR(alerts.ReadString("smtp_url", &out->smtp_url));
  if (!out->smtp_url.empty() && !out->smtp_url.starts_with("smtp://") &&
      !out->smtp_url.starts_with("smtps://")) {
    return alerts.Error("smtp_url", "expected smtp://HOST[:PORT] or smtps://HOST[:PORT]");
  }
  BATON_RETURN_IF_ERROR(alerts.ReadString("smtp_user", &out->smtp_user));
  BATON_RETURN_IF_ERROR(alerts.ReadString("smtp_password_file", &out->smtp_password_file));
  BATON_RETURN_IF_ERROR(alerts.ReadString("email_from", &out->email_from));
  BATON_RETURN_IF_ERROR(alerts.ReadStringArray("email_to", &out->email_to));
  if (!out->smtp_url.empty() && (out->email_from.empty() || out->email_to.empty())) {
    return alerts.Error("smtp_url", "email needs alerts.email_from and alerts.email_to as well");
  }
  BATON_RETURN_IF_ERROR(alerts.ReadString("webhook_url", &out->webhook_url));
  if (!out->webhook_url.empty() && !out->webhook_url.starts_with("http://") &&
      !out->webhook_url.starts_with("https://")) {
    return alerts.Error("webhook_url", "expected an http:// or https:// URL");
  }
  BATON_RETURN_IF_ERROR(alerts.ReadString("command", &out->command));
  return alerts.ReadDuration("timeout", &out->timeout, kPositive);
}

}  // namespace

Status ReadFailoverSections(const FieldReader& root, Config* config) {
  BATON_RETURN_IF_ERROR(ReadSectionOf(root, "failover", [&](const FieldReader& failover) {
    return ReadFailover(failover, &config->failover);
  }));
  return ReadSectionOf(root, "alerts", [&](const FieldReader& alerts) {
    return ReadAlerts(alerts, &config->alerts);
  });
}

}  // namespace baton::config_internal
