#include "agent/agent_settings.h"

#include <cctype>

namespace baton {
namespace {

// Names end up in Redis keys and in comma-joined lists in the store.
Status CheckName(const std::string& what, const std::string& value) {
  if (value.empty()) return Status::InvalidInput(what + " must not be empty");
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ',' || std::isspace(u) || std::iscntrl(u)) {
      return Status::InvalidInput(what + " '" + value +
                                  "' must not hold whitespace, commas or control characters");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<AgentSettings> ResolveAgentSettings(const AgentConfig& config,
                                           const AgentDaemonOptions& options,
                                           const std::string& hostname) {
  AgentSettings settings;
  settings.hostname = hostname;
  settings.name = options.name ? *options.name : config.name;
  if (settings.name.empty() && !options.name) settings.name = hostname;
  BATON_RETURN_IF_ERROR(CheckName("agent name (--name or agent.name)", settings.name));

  settings.queues = options.queues ? *options.queues : config.queues;
  if (settings.queues.empty()) {
    return Status::InvalidInput("the agent needs at least one queue (--queues or agent.queues)");
  }
  for (size_t i = 0; i < settings.queues.size(); ++i) {
    BATON_RETURN_IF_ERROR(CheckName("queue name (--queues or agent.queues)", settings.queues[i]));
    for (size_t j = 0; j < i; ++j) {
      if (settings.queues[j] == settings.queues[i]) {
        return Status::InvalidInput("queue '" + settings.queues[i] + "' is named twice");
      }
    }
  }

  settings.concurrency = options.concurrency ? *options.concurrency : config.concurrency;
  if (settings.concurrency < 1) {
    return Status::InvalidInput(
        "agent concurrency (--concurrency or agent.concurrency) must be "
        "at least 1, got " +
        std::to_string(settings.concurrency));
  }
  return settings;
}

std::string LogServerEndpoint(const std::string& bind_address, int port,
                              const std::string& hostname) {
  std::string host = bind_address;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") host = hostname;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

}  // namespace baton
