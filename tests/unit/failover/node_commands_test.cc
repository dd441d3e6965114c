// Tests for what the controller runs on a node: the default and overridden
// start/stop/check commands with their placeholders quoted for the shell, and
// the refusal of a node that is not listed.
#include "failover/node_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace baton {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Config ClusterConfig() {
  Config config;
  config.source_path = "/etc/baton/baton.toml";
  config.core.home = "/var/lib/baton";
  config.failover.node_name = "m1";
  config.failover.nodes = {"m1", "m2"};
  config.failover.baton_binary = "/usr/bin/baton";
  config.failover.pidfile = "/run/baton/scheduler-{node}.pid";
  config.failover.scheduler_log = "/var/log/baton/scheduler-{node}.log";
  return config;
}

TEST(NodeCommandsTest, DefaultsPassEpochNodeAndPidfileQuoted) {
  NodeCommands commands = CommandsFor(ClusterConfig(), "m2", 7);
  EXPECT_THAT(commands.start, HasSubstr("systemctl start baton-scheduler@'7'.service"));
  EXPECT_THAT(commands.start,
              HasSubstr("setsid -f '/usr/bin/baton' --config '/etc/baton/baton.toml' scheduler "
                        "--epoch '7' --node 'm2' --pidfile '/run/baton/scheduler-m2.pid'"));
  EXPECT_THAT(commands.start, HasSubstr(">>'/var/log/baton/scheduler-m2.log'"));
  EXPECT_THAT(commands.stop, HasSubstr("failover local_scheduler stop --pidfile "
                                       "'/run/baton/scheduler-m2.pid'"));
  EXPECT_THAT(commands.check, HasSubstr("failover local_scheduler check --pidfile "
                                        "'/run/baton/scheduler-m2.pid'"));
  EXPECT_THAT(commands.check, HasSubstr("BATON_HOME='/var/lib/baton'"));
}

TEST(NodeCommandsTest, NodeOverridesComeFirstThenTheSection) {
  Config config = ClusterConfig();
  config.failover.start_command = "start-all {epoch}";
  config.failover.node["m2"].start_command = "start-m2 {node} {epoch}";
  EXPECT_EQ(CommandsFor(config, "m2", 3).start, "start-m2 'm2' '3'");
  EXPECT_EQ(CommandsFor(config, "m1", 3).start, "start-all '3'");
}

TEST(NodeCommandsTest, AQuoteInAValueCannotEndTheQuoting) {
  Config config = ClusterConfig();
  config.failover.start_command = "start {pidfile}";
  config.failover.pidfile = "/tmp/it's {node}.pid";
  EXPECT_EQ(CommandsFor(config, "m1", 1).start, "start '/tmp/it'\\''s m1.pid'");
}

TEST(NodeCommandsTest, AnUnlistedNodeIsRefusedNamingTheFile) {
  Config config = ClusterConfig();
  Status listed = CheckNodeListed(config, "m3");
  ASSERT_EQ(listed.code(), Status::Code::kInvalidInput);
  EXPECT_THAT(listed.message(), HasSubstr("/etc/baton/baton.toml"));
  EXPECT_THAT(listed.message(), HasSubstr("'m3' is not listed (nodes: m1, m2)"));
  EXPECT_TRUE(CheckNodeListed(config, "m2").ok());
  config.failover.nodes.clear();
  EXPECT_THAT(CheckNodeListed(config, "m1").message(), HasSubstr("failover.nodes': is empty"));
}

TEST(NodeCommandsTest, AnUnlistedNodeIsRefusedAtTheLineOfNodes) {
  // No node_name: the host's name, which only the host knows, is checked there.
  Result<Config> config = ParseConfig("[failover]\nnodes = [\"m1\", \"m2\"]\n",
                                      "/etc/baton/baton.toml", "/var/lib/baton");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_THAT(CheckNodeListed(*config, "m3").message(),
              HasSubstr("/etc/baton/baton.toml:2:9: field 'failover.nodes': node 'm3'"));
}

TEST(NodeCommandsTest, OwnNodeIsLocalOthersGoOverSsh) {
  Config config = ClusterConfig();
  config.failover.ssh_user = "baton";
  config.failover.node["m2"].ssh_host = "10.0.0.2";
  config.failover.node["m2"].ssh_port = 2222;
  EXPECT_EQ(ShellFor(config, "m1")->Describe(), "local");
  EXPECT_EQ(ShellFor(config, "m2")->Describe(), "baton@10.0.0.2:2222");
  config.failover.node["m2"].local = true;
  EXPECT_EQ(ShellFor(config, "m2")->Describe(), "local");
  EXPECT_THAT(CurrentNodeName(config), Not(HasSubstr(" ")));
  EXPECT_EQ(CurrentNodeName(config), "m1");
}

}  // namespace
}  // namespace baton
