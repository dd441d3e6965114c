// Tests for the [failover] and [alerts] sections of baton.toml: defaults, every
// key, per-node tables, and the mistakes an operator makes naming nodes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.h"
#include "tests/unit/config/config_test_support.h"

namespace baton {
namespace {

using config_testing::ExpectError;
using config_testing::Parse;

TEST(FailoverConfigTest, DefaultsAndTheDefaultTextAgree) {
  Result<Config> empty = Parse("");
  Result<Config> sample = Parse(DefaultConfigText());
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  ASSERT_TRUE(sample.ok()) << sample.status().message();
  for (const Config* config : {&*empty, &*sample}) {
    const FailoverConfig& failover = config->failover;
    EXPECT_TRUE(failover.nodes.empty());
    EXPECT_EQ(failover.poll_frequency, std::chrono::seconds(10));
    EXPECT_EQ(failover.heartbeat_interval, std::chrono::seconds(2));
    EXPECT_EQ(failover.lease_ttl, std::chrono::seconds(10));
    EXPECT_EQ(failover.scheduler_health_threshold, std::chrono::seconds(30));
    EXPECT_EQ(failover.restart_retries, 3);
    EXPECT_EQ(failover.retry_wait, std::chrono::seconds(5));
    EXPECT_EQ(failover.pidfile, "/srv/baton/scheduler.pid");
    EXPECT_EQ(failover.scheduler_log, "/srv/baton/logs/scheduler.log");
    EXPECT_TRUE(config->alerts.smtp_url.empty());
    EXPECT_EQ(config->alerts.timeout, std::chrono::seconds(10));
  }
}

TEST(FailoverConfigTest, ReadsEveryKeyAndNodeTables) {
  Result<Config> config = Parse(R"(
[failover]
node_name = "m1"
nodes = ["m1", "m2"]
poll_frequency = "2s"
heartbeat_interval = "1s"
lease_ttl = "4s"
scheduler_health_threshold = "6s"
restart_retries = 1
retry_wait = "500ms"
ssh_user = "baton"
ssh_identity_file = "keys/id_ed25519"
known_hosts = "/etc/baton/known_hosts"
ssh_connect_timeout = "2s"
ssh_command_timeout = "9s"
baton_binary = "/usr/bin/baton"
pidfile = "run/scheduler-{node}.pid"
scheduler_log = "scheduler-{node}.log"
start_command = "start {epoch}"
stop_command = "stop"
check_command = "check"

[failover.node.m2]
local = true
ssh_host = "10.0.0.2"
ssh_port = 2222
ssh_user = "ops"
start_command = "start-m2"

[alerts]
smtp_url = "smtp://127.0.0.1:2525"
smtp_user = "alerts"
smtp_password_file = "smtp.secret"
email_from = "baton@example.org"
email_to = ["ops@example.org"]
webhook_url = "http://127.0.0.1:9000/hook"
command = "logger baton"
timeout = "3s"
)");
  ASSERT_TRUE(config.ok()) << config.status().message();
  const FailoverConfig& failover = config->failover;
  EXPECT_EQ(failover.node_name, "m1");
  EXPECT_EQ(failover.nodes, (std::vector<std::string>{"m1", "m2"}));
  EXPECT_EQ(failover.poll_frequency, std::chrono::seconds(2));
  EXPECT_EQ(failover.lease_ttl, std::chrono::seconds(4));
  EXPECT_EQ(failover.restart_retries, 1);
  EXPECT_EQ(failover.retry_wait, std::chrono::milliseconds(500));
  EXPECT_EQ(failover.ssh_identity_file, "/srv/baton/keys/id_ed25519");
  EXPECT_EQ(failover.known_hosts, "/etc/baton/known_hosts");
  EXPECT_EQ(failover.ssh_command_timeout, std::chrono::seconds(9));
  EXPECT_EQ(failover.pidfile, "/srv/baton/run/scheduler-{node}.pid");
  EXPECT_EQ(failover.scheduler_log, "/srv/baton/logs/scheduler-{node}.log");
  EXPECT_EQ(failover.start_command, "start {epoch}");
  ASSERT_EQ(failover.node.count("m2"), 1u);
  EXPECT_TRUE(failover.node.at("m2").local);
  EXPECT_EQ(failover.node.at("m2").ssh_host, "10.0.0.2");
  EXPECT_EQ(failover.node.at("m2").ssh_port, 2222);
  EXPECT_EQ(failover.node.at("m2").ssh_user, "ops");
  EXPECT_EQ(failover.node.at("m2").start_command, "start-m2");
  EXPECT_EQ(config->alerts.smtp_password_file, "/srv/baton/smtp.secret");
  EXPECT_EQ(config->alerts.email_to, (std::vector<std::string>{"ops@example.org"}));
  EXPECT_EQ(config->alerts.timeout, std::chrono::seconds(3));
}

TEST(FailoverConfigTest, NodeMistakesAreNamed) {
  ExpectError("[failover]\nnodes = [\"m1\", \"m1\"]\n", "2:9", {"failover.nodes", "twice"});
  ExpectError("[failover]\nnodes = [\"m1\", \"\"]\n", "2:9", {"failover.nodes", "empty"});
  ExpectError("[failover]\nnodes = [\"master1\"]\n[failover.node.mastr1]\nssh_port = 22\n", "3:1",
              {"failover.node.mastr1", "not in failover.nodes", "master1"});
  ExpectError("[failover]\nnodes = [\"m1\"]\n[failover.node.m1]\nssh_prot = 22\n", "4:1",
              {"ssh_prot", "ssh_port"});
  ExpectError("[failover]\nnodes = [\"m1\"]\n[failover.node.m1]\nssh_port = 70000\n", "4:12",
              {"failover.node.m1.ssh_port"});
  ExpectError("[failover]\nnode_name = \"mastr1\"\nnodes = [\"master1\", \"master2\"]\n", "2:13",
              {"failover.node_name", "'mastr1' is not in failover.nodes (master1, master2)"});
}

TEST(FailoverConfigTest, LeaseMustOutlastTwoHeartbeats) {
  ExpectError("[failover]\nheartbeat_interval = \"3s\"\nlease_ttl = \"5s\"\n", "3:13",
              {"failover.lease_ttl", "twice"});
}

TEST(FailoverConfigTest, AlertMistakesAreNamed) {
  ExpectError("[alerts]\nsmtp_url = \"mail.example.org\"\n", "2:12",
              {"alerts.smtp_url", "smtp://"});
  ExpectError("[alerts]\nsmtp_url = \"smtp://127.0.0.1\"\n", "2:12",
              {"alerts.smtp_url", "email_from"});
  ExpectError("[alerts]\nwebhook_url = \"ftp://x\"\n", "2:15", {"alerts.webhook_url"});
}

}  // namespace
}  // namespace baton
