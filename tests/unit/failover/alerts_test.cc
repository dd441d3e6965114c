// Tests for alerts against real peers: an SMTP server (tests/support/smtp_sink.py),
// an HTTP receiver (tests/support/webhook_sink.py) and commands run by /bin/sh.
// The sinks keep what they receive as files, read back here.
#include "failover/alerts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/types.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/time.h"
#include "tests/support/process_probes.h"
#include "tests/support/server_process.h"
#include "tests/support/status_assertions.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::IsRunning;
using ::testing::Not;
using testing::ReadFile;
using ::testing::StartsWith;
using testing::TempFolder;
using SteadyClock = std::chrono::steady_clock;

constexpr char kPython[] = "/usr/bin/python3";
constexpr char kPasswordVariable[] = "BATON_SMTP_PASSWORD";
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopGrace = std::chrono::seconds(5);
// A delivery to a peer that is down or says no must fail well within this.
constexpr auto kQuickly = std::chrono::seconds(3);

// Sets or unsets an environment variable for one test and puts it back after.
class ScopedEnvironment {
 public:
  ScopedEnvironment(const std::string& name, const std::optional<std::string>& value)
      : name_(name) {
    if (const char* old = getenv(name.c_str()); old != nullptr) old_value_ = old;
    Set(value);
  }
  ~ScopedEnvironment() { Set(old_value_); }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  void Set(const std::optional<std::string>& value) {
    if (value) {
      setenv(name_.c_str(), value->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_value_;
};

// One of the Python sinks in tests/support, on 127.0.0.1 and a port it picks,
// in a folder of its own; stopped with the object.
class Sink {
 public:
  Sink(const std::string& script, std::vector<std::string> options)
      : script_(fs::path(BATON_SOURCE_DIR) / "tests" / "support" / script),
        options_(std::move(options)),
        folder_("baton_alert_sink") {}
  ~Sink() {
    if (pid_ > 0) testing::StopServer(pid_, kStopGrace);
  }
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // Starts the sink and waits for the port it prints once it listens.
  Status Start() {
    fs::create_directories(ReceivedFolder());
    std::vector<std::string> argv = {kPython, script_.string(), "--folder",
                                     ReceivedFolder().string()};
    argv.insert(argv.end(), options_.begin(), options_.end());
    Result<pid_t> pid = testing::SpawnServer(argv, LogFile());
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    const auto printed_port = [this] {
      std::optional<int> port = PrintedPort();
      if (port) port_ = *port;
      return port.has_value();
    };
    return testing::WaitUntilAnswering(pid_, script_.filename().string(), printed_port,
                                       kStartTimeout, LogFile());
  }

  int port() const { return port_; }

  // What it has received, oldest first: each file's JSON.
  std::vector<nlohmann::json> Received() const {
    std::vector<std::pair<int, fs::path>> files;
    for (const auto& entry : fs::directory_iterator(ReceivedFolder())) {
      if (entry.path().extension() != ".json") continue;
      files.emplace_back(std::stoi(entry.path().stem().string()), entry.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<nlohmann::json> received;
    for (const auto& [number, path] : files) {
      received.push_back(nlohmann::json::parse(ReadFile(path)));
    }
    return received;
  }

 private:
  fs::path ReceivedFolder() const { return folder_.path() / "received"; }
  fs::path LogFile() const { return folder_.path() / "sink.log"; }

  // The first line of the log that is all digits; the sink's stderr may share it.
  std::optional<int> PrintedPort() const {
    std::istringstream log(ReadFile(LogFile()));
    for (std::string line; std::getline(log, line);) {
      const auto digit = [](unsigned char c) { return std::isdigit(c) != 0; };
      if (!line.empty() && std::all_of(line.begin(), line.end(), digit)) {
        return std::stoi(line);
      }
    }
    return std::nullopt;
  }

  fs::path script_;
  std::vector<std::string> options_;
  TempFolder folder_;
  pid_t pid_ = 0;
  int port_ = 0;
};

class AlertsTest : public ::testing::Test {
 protected:
  static Alert SampleAlert() {
    Alert alert;
    alert.kind = "moved";
    alert.node = "m1";
    alert.epoch = 7;
    alert.subject = "scheduler moved to m2";
    alert.message = "The scheduler on m1 failed 3 restarts.\nIt now runs on m2.";
    return alert;
  }

  static AlertsConfig EmailConfig(int port) {
    AlertsConfig config;
    config.smtp_url = "smtp://127.0.0.1:" + std::to_string(port);
    config.email_from = "Baton <baton@example.com>";
    config.email_to = {"ops@example.com", "On call <oncall@example.com>"};
    return config;
  }

  static std::string WebhookUrl(int port) {
    return "http://127.0.0.1:" + std::to_string(port) + "/hooks/secret-token";
  }

  TempFolder folder_{"baton_alerts_test"};
  // Whatever the developer's shell has must not decide a test.
  ScopedEnvironment no_password_{kPasswordVariable, std::nullopt};
};

TEST_F(AlertsTest, EmailArrivesWithSenderRecipientsSubjectAndBody) {
  Sink smtp("smtp_sink.py", {});
  ASSERT_TRUE(IsOk(smtp.Start()));

  ASSERT_TRUE(IsOk(MakeAlerter(EmailConfig(smtp.port()))->Send(SampleAlert())));

  std::vector<nlohmann::json> messages = smtp.Received();
  ASSERT_EQ(messages.size(), 1u);
  const nlohmann::json& message = messages[0];
  EXPECT_EQ(message["mail_from"], "baton@example.com");
  EXPECT_THAT(message["rcpt_tos"].get<std::vector<std::string>>(),
              ElementsAre("ops@example.com", "oncall@example.com"));
  EXPECT_EQ(message["subject"], "[baton] scheduler moved to m2");
  const std::string data = message["data"].get<std::string>();
  EXPECT_THAT(data, HasSubstr("From: Baton <baton@example.com>\r\n"));
  EXPECT_THAT(data, HasSubstr("To: ops@example.com, On call <oncall@example.com>\r\n"));
  EXPECT_THAT(data, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(data, HasSubstr("\r\nMessage-ID: <"));
  EXPECT_THAT(data, HasSubstr("@example.com>\r\n"));
  EXPECT_THAT(data, StartsWith("Date: "));
  const std::string body = message["body"].get<std::string>();
  // SMTP's line ends, whatever the alert's were.
  EXPECT_THAT(body, HasSubstr("The scheduler on m1 failed 3 restarts.\r\nIt now runs on m2.\r\n"));
  EXPECT_THAT(body, AllOf(HasSubstr("kind: moved\r\n"), HasSubstr("node: m1\r\n"),
                          HasSubstr("epoch: 7\r\n")));
}

TEST_F(AlertsTest, EmailTextBeyondAsciiAndLinesOfADotArriveIntact) {
  Sink smtp("smtp_sink.py", {});
  ASSERT_TRUE(IsOk(smtp.Start()));
  Alert alert = SampleAlert();
  alert.subject = "scheduler moved to nœud-2 ✓, après trois échecs de redémarrage sur le nœud-1";
  alert.message = "Première ligne\n.\nThe line above, alone, would end SMTP's DATA.";

  ASSERT_TRUE(IsOk(MakeAlerter(EmailConfig(smtp.port()))->Send(alert)));

  std::vector<nlohmann::json> messages = smtp.Received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["subject"], "[baton] " + alert.subject);
  EXPECT_THAT(
      messages[0]["body"].get<std::string>(),
      StartsWith("Première ligne\r\n.\r\nThe line above, alone, would end SMTP's DATA.\r\n"));
}

class EmailAuthTest : public AlertsTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(EmailAuthTest, EmailLogsInWithThePasswordFromTheEnvironment) {
  Sink smtp("smtp_sink.py",
            {"--user", "alice", "--password", "env-pa55word", "--mechanism", GetParam()});
  ASSERT_TRUE(IsOk(smtp.Start()));
  AlertsConfig config = EmailConfig(smtp.port());
  config.smtp_user = "alice";
  ScopedEnvironment password(kPasswordVariable, "env-pa55word");

  ASSERT_TRUE(IsOk(MakeAlerter(config)->Send(SampleAlert())));

  std::vector<nlohmann::json> messages = smtp.Received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["auth_login"], "alice");
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, EmailAuthTest, ::testing::Values("LOGIN", "PLAIN"));

TEST_F(AlertsTest, EmailReadsThePasswordFileWhenTheVariableIsUnset) {
  Sink smtp("smtp_sink.py", {"--user", "alice", "--password", "file-pa55word"});
  ASSERT_TRUE(IsOk(smtp.Start()));
  AlertsConfig config = EmailConfig(smtp.port());
  config.smtp_user = "alice";
  config.smtp_password_file = (folder_.path() / "smtp_password").string();
  std::ofstream(config.smtp_password_file) << "file-pa55word\n";

  ASSERT_TRUE(IsOk(MakeAlerter(config)->Send(SampleAlert())));

  std::vector<nlohmann::json> messages = smtp.Received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["auth_login"], "alice");
}

TEST_F(AlertsTest, WithoutCredentialsAServerThatWantsThemRefusesAndNothingIsSent) {
  Sink smtp("smtp_sink.py", {"--user", "alice", "--password", "pa55word"});
  ASSERT_TRUE(IsOk(smtp.Start()));

  Status status = MakeAlerter(EmailConfig(smtp.port()))->Send(SampleAlert());

  EXPECT_THAT(status.message(), AllOf(StartsWith("email: "), HasSubstr("set alerts.smtp_user")));
  EXPECT_TRUE(smtp.Received().empty());
}

TEST_F(AlertsTest, ARefusedPasswordIsAnErrorThatDoesNotContainIt) {
  Sink smtp("smtp_sink.py", {"--user", "alice", "--password", "right-pa55word"});
  ASSERT_TRUE(IsOk(smtp.Start()));
  AlertsConfig config = EmailConfig(smtp.port());
  config.smtp_user = "alice";
  config.webhook_url = WebhookUrl(testing::FreePort());  // a second failure, to see all of it
  ScopedEnvironment password(kPasswordVariable, "wrong-pa55word");

  Status status = MakeAlerter(config)->Send(SampleAlert());

  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("email: Login denied as alice"));
  EXPECT_THAT(status.message(), Not(HasSubstr("pa55word")));
  EXPECT_THAT(status.message(), Not(HasSubstr("secret-token")));
  EXPECT_TRUE(smtp.Received().empty());
}

TEST_F(AlertsTest, AnUnreadablePasswordFileIsAnEmailError) {
  AlertsConfig config = EmailConfig(testing::FreePort());
  config.smtp_user = "alice";
  config.smtp_password_file = (folder_.path() / "missing").string();

  Status status = MakeAlerter(config)->Send(SampleAlert());

  EXPECT_THAT(status.message(), StartsWith("email: cannot read secret file "));
}

TEST_F(AlertsTest, EmailToAServerThatIsDownFailsQuicklyNamingEmail) {
  AlertsConfig config = EmailConfig(testing::FreePort());  // nobody listens there

  const auto start = SteadyClock::now();
  Status status = MakeAlerter(config)->Send(SampleAlert());

  EXPECT_LT(SteadyClock::now() - start, kQuickly);
  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_THAT(status.message(), StartsWith("email: "));
}

TEST_F(AlertsTest, WebhookReceivesTheAlertAsJson) {
  Sink webhook("webhook_sink.py", {});
  ASSERT_TRUE(IsOk(webhook.Start()));
  AlertsConfig config;
  config.webhook_url = WebhookUrl(webhook.port());
  const TimePoint before = std::chrono::time_point_cast<Micros>(TimePoint::clock::now());

  ASSERT_TRUE(IsOk(MakeAlerter(config)->Send(SampleAlert())));

  std::vector<nlohmann::json> requests = webhook.Received();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["path"], "/hooks/secret-token");
  EXPECT_EQ(requests[0]["content_type"], "application/json");
  const nlohmann::json body = nlohmann::json::parse(requests[0]["body"].get<std::string>());
  EXPECT_EQ(body["kind"], "moved");
  EXPECT_EQ(body["node"], "m1");
  EXPECT_EQ(body["epoch"], 7);
  EXPECT_EQ(body["subject"], "scheduler moved to m2");
  EXPECT_EQ(body["message"], "The scheduler on m1 failed 3 restarts.\nIt now runs on m2.");
  Result<TimePoint> at = ParseIso8601(body["at"].get<std::string>());
  ASSERT_TRUE(IsOk(at));
  EXPECT_GE(*at, before);
  EXPECT_LE(*at, TimePoint::clock::now());
  EXPECT_EQ(body.size(), 6u);
}

TEST_F(AlertsTest, AWebhookErrorStatusIsReportedWhileEmailIsStillDelivered) {
  Sink smtp("smtp_sink.py", {});
  ASSERT_TRUE(IsOk(smtp.Start()));
  Sink webhook("webhook_sink.py", {"--status", "500"});
  ASSERT_TRUE(IsOk(webhook.Start()));
  AlertsConfig config = EmailConfig(smtp.port());
  config.webhook_url = WebhookUrl(webhook.port());

  Status status = MakeAlerter(config)->Send(SampleAlert());

  EXPECT_EQ(status.message(), "webhook: HTTP 500");
  EXPECT_EQ(webhook.Received().size(), 1u);
  EXPECT_EQ(smtp.Received().size(), 1u);
}

TEST_F(AlertsTest, EveryFailingChannelIsNamed) {
  AlertsConfig config = EmailConfig(testing::FreePort());
  config.webhook_url = WebhookUrl(testing::FreePort());
  config.command = "exit 3";

  Status status = MakeAlerter(config)->Send(SampleAlert());

  EXPECT_EQ(status.code(), Status::Code::kUnavailable);
  EXPECT_THAT(status.message(), StartsWith("email: "));
  EXPECT_THAT(status.message(), HasSubstr("; webhook: "));
  EXPECT_THAT(status.message(), HasSubstr("; command: exit status 3"));
  EXPECT_THAT(status.message(), Not(HasSubstr("secret-token")));
}

TEST_F(AlertsTest, CommandSeesTheAlertInItsEnvironmentAndNeverParsesIt) {
  const fs::path out = folder_.path();
  AlertsConfig config;
  for (const char* name : {"KIND", "NODE", "EPOCH", "SUBJECT", "MESSAGE"}) {
    config.command += std::string("printf '%s' \"$BATON_ALERT_") + name + "\" > '" +
                      (out / name).string() + "'; ";
  }
  Alert alert = SampleAlert();
  alert.message = "it's \"quoted\" $(touch '" + (out / "injected").string() + "')\nline two";

  ASSERT_TRUE(IsOk(MakeAlerter(config)->Send(alert)));

  EXPECT_EQ(ReadFile(out / "KIND"), "moved");
  EXPECT_EQ(ReadFile(out / "NODE"), "m1");
  EXPECT_EQ(ReadFile(out / "EPOCH"), "7");
  EXPECT_EQ(ReadFile(out / "SUBJECT"), "scheduler moved to m2");
  EXPECT_EQ(ReadFile(out / "MESSAGE"), alert.message);
  EXPECT_FALSE(fs::exists(out / "injected"));
}

TEST_F(AlertsTest, ACommandThatFailsIsAnError) {
  AlertsConfig config;
  config.command = "echo 'not sent' >&2; exit 3";

  Status status = MakeAlerter(config)->Send(SampleAlert());

  EXPECT_EQ(status.message(), "command: exit status 3");
}

TEST_F(AlertsTest, ACommandIsKilledWithWhatItStartedAfterTheTimeout) {
  const fs::path child_pid = folder_.path() / "child.pid";
  AlertsConfig config;
  config.command = "sleep 60 & echo $! > '" + child_pid.string() + "'; wait";
  config.timeout = std::chrono::milliseconds(300);

  const auto start = SteadyClock::now();
  Status status = MakeAlerter(config)->Send(SampleAlert());

  EXPECT_LT(SteadyClock::now() - start, kQuickly);
  EXPECT_EQ(status.message(), "command: timed out after 300ms and was killed");
  const pid_t child = std::stoi(ReadFile(child_pid));
  EXPECT_TRUE(Eventually([&] { return !IsRunning(child); })) << "sleep " << child << " survived";
}

TEST_F(AlertsTest, WithNoChannelSendDoesNothingAndIsOk) {
  EXPECT_TRUE(IsOk(MakeAlerter(AlertsConfig())->Send(SampleAlert())));
}

TEST_F(AlertsTest, SendTestEmailWithoutSmtpUrlIsInvalidInput) {
  AlertsConfig config;
  config.webhook_url = WebhookUrl(testing::FreePort());  // other channels play no part

  Status status = SendTestEmail(config, "m1");

  EXPECT_EQ(status.code(), Status::Code::kInvalidInput);
  EXPECT_THAT(status.message(), StartsWith("field 'alerts.smtp_url': is not set"));
}

TEST_F(AlertsTest, SendTestEmailSendsOnlyATestEmail) {
  Sink smtp("smtp_sink.py", {});
  ASSERT_TRUE(IsOk(smtp.Start()));
  const fs::path ran = folder_.path() / "ran";
  AlertsConfig config = EmailConfig(smtp.port());
  config.command = "touch '" + ran.string() + "'";

  ASSERT_TRUE(IsOk(SendTestEmail(config, "m1")));

  std::vector<nlohmann::json> messages = smtp.Received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["subject"], "[baton] test message from m1");
  EXPECT_FALSE(fs::exists(ran));
}

}  // namespace
}  // namespace baton
