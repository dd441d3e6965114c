#include "failover/node_commands.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "common/host.h"
#include "common/shell_quote.h"
#include "failover/ssh_shell.h"

namespace baton {
namespace {

// Systemd's template unit takes the epoch as its instance; without systemd the
// scheduler is detached from the command's shell with setsid and finds its
// pidfile and log through the placeholders.
constexpr const char* kDefaultStart =
    "if [ -d /run/systemd/system ] && systemctl cat baton-scheduler@.service >/dev/null 2>&1; "
    "then systemctl start baton-scheduler@{epoch}.service; "
    "else mkdir -p \"$(dirname {log})\" && BATON_HOME={home} setsid -f {baton} --config {config} "
    "scheduler --epoch {epoch} --node {node} --pidfile {pidfile} </dev/null >>{log} 2>&1; fi";
constexpr const char* kDefaultStop =
    "if [ -d /run/systemd/system ] && systemctl cat baton-scheduler@.service >/dev/null 2>&1; "
    "then systemctl stop 'baton-scheduler@*.service'; "
    "else BATON_HOME={home} {baton} --config {config} failover local_scheduler stop "
    "--pidfile {pidfile}; fi";
constexpr const char* kDefaultCheck =
    "BATON_HOME={home} {baton} --config {config} failover local_scheduler check --pidfile "
    "{pidfile}";

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string Fill(const std::string& command, const std::map<std::string, std::string>& values) {
  std::string filled = command;
  for (const auto& [name, value] : values) {
    filled = ReplaceAll(filled, "{" + name + "}", ShellQuote(value));
  }
  return filled;
}

std::string RunningBinary() {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string("baton") : self.string();
}

std::string Absolute(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

const FailoverNodeConfig& NodeSettings(const Config& config, const std::string& node) {
  static const FailoverNodeConfig kNone;
  auto found = config.failover.node.find(node);
  return found == config.failover.node.end() ? kNone : found->second;
}

std::string FirstSet(const std::string& a, const std::string& b, const char* fallback) {
  return !a.empty() ? a : !b.empty() ? b : std::string(fallback);
}

}  // namespace

std::string CurrentNodeName(const Config& config) {
  return config.failover.node_name.empty() ? HostName() : config.failover.node_name;
}

Status CheckNodeListed(const Config& config, const std::string& node) {
  const std::vector<std::string>& nodes = config.failover.nodes;
  const std::string& where = config.failover.nodes_position.empty()
                                 ? config.source_path
                                 : config.failover.nodes_position.position;
  if (nodes.empty()) {
    return Status::InvalidInput(where +
                                ": field 'failover.nodes': is empty; list the masters there "
                                "(`baton failover init` writes this host)");
  }
  if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) {
    std::string listed;
    for (const std::string& name : nodes) listed += (listed.empty() ? "" : ", ") + name;
    return Status::InvalidInput(where + ": field 'failover.nodes': node '" + node +
                                "' is not listed (nodes: " + listed +
                                "); add it, or set failover.node_name to one of them");
  }
  return Status::Ok();
}

std::string PidfileFor(const Config& config, const std::string& node) {
  return ReplaceAll(config.failover.pidfile, "{node}", node);
}

NodeCommands CommandsFor(const Config& config, const std::string& node, int64_t epoch) {
  const FailoverConfig& failover = config.failover;
  const FailoverNodeConfig& overrides = NodeSettings(config, node);
  std::map<std::string, std::string> values = {
      {"baton", failover.baton_binary.empty() ? RunningBinary() : failover.baton_binary},
      {"config", Absolute(config.source_path)},
      {"home", config.core.home},
      {"node", node},
      {"epoch", std::to_string(epoch)},
      {"pidfile", PidfileFor(config, node)},
      {"log", ReplaceAll(failover.scheduler_log, "{node}", node)},
  };
  NodeCommands commands;
  commands.start =
      Fill(FirstSet(overrides.start_command, failover.start_command, kDefaultStart), values);
  commands.stop =
      Fill(FirstSet(overrides.stop_command, failover.stop_command, kDefaultStop), values);
  commands.check = Fill(FirstSet("", failover.check_command, kDefaultCheck), values);
  return commands;
}

std::unique_ptr<NodeShell> ShellFor(const Config& config, const std::string& node) {
  const FailoverNodeConfig& overrides = NodeSettings(config, node);
  if (node == CurrentNodeName(config) || overrides.local) return MakeLocalShell();
  SshTarget target;
  target.host = overrides.ssh_host.empty() ? node : overrides.ssh_host;
  target.port = overrides.ssh_port;
  target.user = overrides.ssh_user.empty() ? config.failover.ssh_user : overrides.ssh_user;
  target.identity_file = config.failover.ssh_identity_file;
  target.known_hosts = config.failover.known_hosts;
  target.connect_timeout = config.failover.ssh_connect_timeout;
  return MakeSshShell(target);
}

}  // namespace baton
