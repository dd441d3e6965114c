// Tests for the agent's effective settings: [agent] with the command line on top.
#include "agent/agent_settings.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

TEST(AgentSettingsTest, DefaultsComeFromTheConfigAndTheHostName) {
  AgentConfig config;
  auto settings = ResolveAgentSettings(config, {}, "worker-1");
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  EXPECT_EQ(settings->name, "worker-1");
  EXPECT_EQ(settings->queues, std::vector<std::string>{"default"});
  EXPECT_EQ(settings->concurrency, 8);
  EXPECT_EQ(settings->hostname, "worker-1");
}

TEST(AgentSettingsTest, TheCommandLineOverridesTheConfig) {
  AgentConfig config;
  config.name = "from-config";
  config.queues = {"a"};
  config.concurrency = 2;
  AgentDaemonOptions options;
  options.name = "from-flag";
  options.queues = std::vector<std::string>{"gpu", "cpu"};
  options.concurrency = 16;
  auto settings = ResolveAgentSettings(config, options, "worker-1");
  ASSERT_TRUE(settings.ok()) << settings.status().message();
  EXPECT_EQ(settings->name, "from-flag");
  EXPECT_EQ(settings->queues, (std::vector<std::string>{"gpu", "cpu"}));
  EXPECT_EQ(settings->concurrency, 16);

  options = {};
  settings = ResolveAgentSettings(config, options, "worker-1");
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->name, "from-config");
  EXPECT_EQ(settings->queues, std::vector<std::string>{"a"});
}

TEST(AgentSettingsTest, BadValuesAreInvalidInputNamingTheOption) {
  AgentConfig config;
  struct Case {
    AgentDaemonOptions options;
    const char* mentions;
  };
  auto named = [](std::string name) {
    AgentDaemonOptions options;
    options.name = std::move(name);
    return options;
  };
  auto queues = [](std::vector<std::string> names) {
    AgentDaemonOptions options;
    options.queues = std::move(names);
    return options;
  };
  AgentDaemonOptions no_slots;
  no_slots.concurrency = 0;
  const std::vector<Case> cases = {
      {named(""), "agent name"},         {named("two words"), "agent name"},
      {named("a,b"), "agent name"},      {queues({}), "at least one queue"},
      {queues({"a", ""}), "queue name"}, {queues({"a", "a"}), "named twice"},
      {no_slots, "concurrency"},
  };
  for (const Case& c : cases) {
    auto settings = ResolveAgentSettings(config, c.options, "worker-1");
    ASSERT_FALSE(settings.ok()) << c.mentions;
    EXPECT_EQ(settings.status().code(), Status::Code::kInvalidInput);
    EXPECT_NE(settings.status().message().find(c.mentions), std::string::npos)
        << settings.status().message();
  }
}

TEST(AgentSettingsTest, EndpointIsTheBindAddressOrTheHostName) {
  EXPECT_EQ(LogServerEndpoint("127.0.0.1", 8793, "worker-1"), "127.0.0.1:8793");
  EXPECT_EQ(LogServerEndpoint("0.0.0.0", 8793, "worker-1"), "worker-1:8793");
  EXPECT_EQ(LogServerEndpoint("::", 80, "worker-1"), "worker-1:80");
  EXPECT_EQ(LogServerEndpoint("10.0.0.5", 1, "worker-1"), "10.0.0.5:1");
  EXPECT_EQ(LogServerEndpoint("::1", 8793, "worker-1"), "[::1]:8793");
}

}  // namespace
}  // namespace baton
