// Tests for the notifications to systemd: each test binds a real datagram
// socket, points NOTIFY_SOCKET at it and reads back what was sent.
#include "common/systemd_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/process.h"
#include "tests/support/fake_clock.h"
#include "tests/support/process_probes.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kVariables[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"};

class SystemdNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Whatever started the test binary (systemd itself, perhaps) is not asked.
    for (const char* name : kVariables) {
      const char* value = getenv(name);
      saved_.push_back(value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(name);
    }
    socket_path_ = (folder_.path() / "notify").string();
    socket_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(socket_, 0) << std::strerror(errno);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    ASSERT_LT(socket_path_.size(), sizeof(address.sun_path));
    std::strcpy(address.sun_path, socket_path_.c_str());
    ASSERT_EQ(bind(socket_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
        << std::strerror(errno);
  }

  void TearDown() override {
    close(socket_);
    for (size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i]) {
        setenv(kVariables[i], saved_[i]->c_str(), 1);
      } else {
        unsetenv(kVariables[i]);
      }
    }
  }

  void Listen() { setenv("NOTIFY_SOCKET", socket_path_.c_str(), 1); }

  void AskForWatchdog(std::chrono::microseconds timeout) {
    setenv("WATCHDOG_USEC", std::to_string(timeout.count()).c_str(), 1);
  }

  // Every datagram sent so far, oldest first; sd_notify has sent each one by
  // the time it returns.
  std::vector<std::string> Received() {
    std::vector<std::string> datagrams;
    char buffer[4096];
    for (;;) {
      const ssize_t size = recv(socket_, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (size < 0) break;
      datagrams.emplace_back(buffer, static_cast<size_t>(size));
    }
    return datagrams;
  }

  using Sent = std::vector<std::string>;

  testing::TempFolder folder_{"systemd_notify_test"};
  std::string socket_path_;
  int socket_ = -1;
  std::vector<std::optional<std::string>> saved_;
  testing::FakeClock clock_{TimePoint()};
};

TEST_F(SystemdNotifyTest, EachNotificationSendsItsAssignments) {
  Listen();
  EXPECT_TRUE(NotifyReady("scheduler epoch 7 on master1").ok());
  EXPECT_TRUE(NotifyStatus("scheduler epoch 7 on master1: 2 active run(s)").ok());
  EXPECT_TRUE(NotifyWatchdog().ok());
  EXPECT_TRUE(NotifyStopping("scheduler epoch 7 on master1: stopping").ok());
  EXPECT_EQ(Received(), (Sent{"READY=1\nSTATUS=scheduler epoch 7 on master1",
                              "STATUS=scheduler epoch 7 on master1: 2 active run(s)", "WATCHDOG=1",
                              "STOPPING=1\nSTATUS=scheduler epoch 7 on master1: stopping"}));
}

TEST_F(SystemdNotifyTest, AStatusCannotAddAssignmentsOfItsOwn) {
  Listen();
  EXPECT_TRUE(NotifyStatus("dag\nREADY=1").ok());
  EXPECT_EQ(Received(), (Sent{"STATUS=dag READY=1"}));
}

TEST_F(SystemdNotifyTest, NothingIsSentWhenSystemdDoesNotListen) {
  EXPECT_TRUE(NotifyReady("agent worker1: 0/8 running").ok());
  EXPECT_TRUE(NotifyWatchdog().ok());
  AskForWatchdog(seconds(1));
  SystemdNotifier notifier(1, clock_);
  EXPECT_FALSE(notifier.enabled());
  EXPECT_EQ(notifier.watchdog_timeout(), std::nullopt);
  notifier.Report("agent worker1: 0/8 running");
  clock_.Advance(seconds(5));
  notifier.IterationCompleted(0);
  notifier.Stopping("agent worker1: stopping, 0 running");
  EXPECT_EQ(Received(), Sent{});
}

TEST_F(SystemdNotifyTest, ASocketThatIsGoneIsAnErrorNamingIt) {
  const std::string gone = (folder_.path() / "gone").string();
  setenv("NOTIFY_SOCKET", gone.c_str(), 1);
  Status sent = NotifyStatus("controller master1: standby");
  EXPECT_FALSE(sent.ok());
  EXPECT_NE(sent.message().find("NOTIFY_SOCKET=" + gone), std::string::npos) << sent.message();
}

TEST_F(SystemdNotifyTest, TheWatchdogIsThisProcessOnly) {
  EXPECT_EQ(SystemdWatchdogTimeout(), std::nullopt);
  AskForWatchdog(seconds(30));
  EXPECT_EQ(SystemdWatchdogTimeout(), Duration(seconds(30)));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(SystemdWatchdogTimeout(), Duration(seconds(30)));
  // Inherited from a parent that systemd supervises: not ours to ping.
  setenv("WATCHDOG_PID", std::to_string(getppid()).c_str(), 1);
  EXPECT_EQ(SystemdWatchdogTimeout(), std::nullopt);
}

TEST_F(SystemdNotifyTest, ReadyGoesWithTheFirstReportThenOnlyChangedStatuses) {
  Listen();
  SystemdNotifier notifier(1, clock_);
  EXPECT_TRUE(notifier.enabled());
  notifier.Report("agent worker1: 0/8 running");
  notifier.Report("agent worker1: 0/8 running");
  notifier.Report("agent worker1: 3/8 running");
  notifier.Stopping("agent worker1: stopping, 3 running");
  notifier.Report("agent worker1: stopping, 1 running");
  EXPECT_EQ(Received(),
            (Sent{"READY=1\nSTATUS=agent worker1: 0/8 running", "STATUS=agent worker1: 3/8 running",
                  "STOPPING=1\nSTATUS=agent worker1: stopping, 3 running",
                  "STATUS=agent worker1: stopping, 1 running"}));
}

TEST_F(SystemdNotifyTest, NoReadyOnceStopping) {
  Listen();
  SystemdNotifier notifier(1, clock_);
  notifier.Stopping("scheduler on host1: stopping");
  notifier.Report("scheduler on host1: 0 active run(s)");
  EXPECT_EQ(Received(), (Sent{"STOPPING=1\nSTATUS=scheduler on host1: stopping",
                              "STATUS=scheduler on host1: 0 active run(s)"}));
}

TEST_F(SystemdNotifyTest, NoPingsWithoutAWatchdog) {
  Listen();
  SystemdNotifier notifier(1, clock_);
  EXPECT_EQ(notifier.ping_interval(), std::nullopt);
  clock_.Advance(seconds(60));
  notifier.IterationCompleted(0);
  EXPECT_EQ(Received(), Sent{});
}

TEST_F(SystemdNotifyTest, PingsAtMostEveryQuarterOfTheWatchdogTimeout) {
  Listen();
  AskForWatchdog(seconds(1));
  SystemdNotifier notifier(1, clock_);
  ASSERT_EQ(notifier.ping_interval(), Duration(milliseconds(250)));
  // A loop turning every 100 ms: a ping on the first turn a quarter second
  // after the previous one.
  Sent pings;
  for (int turn = 1; turn <= 10; ++turn) {
    clock_.Advance(milliseconds(100));
    notifier.IterationCompleted(0);
    Sent sent = Received();
    if (turn == 3 || turn == 6 || turn == 9) {
      EXPECT_EQ(sent, Sent{"WATCHDOG=1"}) << "turn " << turn;
    } else {
      EXPECT_EQ(sent, Sent{}) << "turn " << turn;
    }
  }
}

TEST_F(SystemdNotifyTest, OneHungLoopStopsThePings) {
  Listen();
  AskForWatchdog(seconds(1));
  enum { kLease, kScheduler };
  SystemdNotifier notifier(2, clock_);
  clock_.Advance(seconds(1));
  notifier.IterationCompleted(kLease);
  EXPECT_EQ(Received(), Sent{});
  notifier.IterationCompleted(kScheduler);
  EXPECT_EQ(Received(), Sent{"WATCHDOG=1"});

  // The lease loop hangs; the scheduler loop turns on: no ping, however long.
  for (int turn = 0; turn < 20; ++turn) {
    clock_.Advance(milliseconds(500));
    notifier.IterationCompleted(kScheduler);
  }
  EXPECT_EQ(Received(), Sent{});
  // Its next completed iteration brings them back.
  notifier.IterationCompleted(kLease);
  EXPECT_EQ(Received(), Sent{"WATCHDOG=1"});
}

TEST_F(SystemdNotifyTest, SpawnedProcessesDoNotInheritTheNotificationVariables) {
  Listen();
  AskForWatchdog(seconds(30));
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  setenv("BATON_SYSTEMD_NOTIFY_TEST", "inherited", 1);
  const auto output = folder_.path() / "env.txt";
  SpawnRequest request;
  request.command = "env > " + output.string();
  request.env["BATON_TASK_ID"] = "extract";
  Result<pid_t> pid = SpawnProcessGroup(request);
  unsetenv("BATON_SYSTEMD_NOTIFY_TEST");
  ASSERT_TRUE(pid.ok()) << pid.status().message();
  int status = 0;
  ASSERT_EQ(waitpid(*pid, &status, 0), *pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  const std::string environment = testing::ReadFile(output);
  EXPECT_NE(environment.find("BATON_SYSTEMD_NOTIFY_TEST=inherited\n"), std::string::npos);
  EXPECT_NE(environment.find("BATON_TASK_ID=extract\n"), std::string::npos);
  for (const char* name : kVariables) {
    EXPECT_EQ(environment.find(std::string(name) + "="), std::string::npos) << environment;
  }
}

}  // namespace
}  // namespace baton
