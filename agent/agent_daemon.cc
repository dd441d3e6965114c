// The agent daemon: an event loop (Boost.Asio) that runs claimed tries on the
// local executor and handles signals, around threads of the agent's own that
// talk to the store and Redis (intake, recorder, heartbeat) and one that serves
// HTTP. The loop never waits on a network call.
#include "agent/agent_daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <utility>

#include "agent/agent_job.h"
#include "agent/agent_settings.h"
#include "agent/claimed_try.h"
#include "agent/held_messages.h"
#include "agent/log_server.h"
#include "agent/processing_recovery.h"
#include "agent/task_intake.h"
#include "agent/try_recorder.h"
#include "common/clock.h"
#include "common/host.h"
#include "common/systemd_notify.h"
#include "engine/job_heartbeat.h"
#include "engine/local_executor.h"
#include "engine/redis_client.h"
#include "engine/redis_keys.h"
#include "engine/store.h"
#include "engine/task_launch.h"

namespace baton {
namespace {

namespace asio = boost::asio;

// How long a blocking take waits on one queue before the agent looks again
// (at its other queues, and whether it is stopping).
constexpr Duration kTakeBlock = std::chrono::seconds(1);
// After the last try has ended on shutdown, how long the recorder keeps
// retrying a failing store or Redis before the agent exits without recording.
constexpr Duration kRecordAtExit = std::chrono::seconds(30);

// One connection per thread that talks to a server.
struct Connections {
  std::unique_ptr<Store> main_store;  // start-up, then EndJob
  std::unique_ptr<Store> heartbeat_store;
  std::unique_ptr<Store> intake_store;
  std::unique_ptr<Store> recorder_store;
  std::unique_ptr<RedisClient> intake_redis;  // start-up recovery, then the intake
  std::unique_ptr<RedisClient> recorder_redis;
};

Result<Connections> Connect(const Config& config) {
  Connections connections;
  auto store = OpenStore(config.store, config.core.home);
  if (!store.ok()) return store.status();
  BATON_RETURN_IF_ERROR(CheckSchemaCurrent(**store, config.store.url));
  connections.main_store = std::move(store).value();
  for (std::unique_ptr<Store>* slot :
       {&connections.heartbeat_store, &connections.intake_store, &connections.recorder_store}) {
    auto another = OpenStore(config.store, config.core.home);
    if (!another.ok()) return another.status();
    *slot = std::move(another).value();
  }
  auto redis_options = RedisOptionsFrom(config.redis);
  if (!redis_options.ok()) return redis_options.status();
  for (std::unique_ptr<RedisClient>* slot :
       {&connections.intake_redis, &connections.recorder_redis}) {
    auto redis = ConnectRedis(*redis_options);
    if (!redis.ok()) return redis.status();
    *slot = std::move(redis).value();
  }
  return connections;
}

// The loop's side: launches what the intake claimed, hands what ended to the
// recorder, and stops in order on SIGTERM/SIGINT: no more taking, then the
// running tries' grace, then the kill, then the last records. It reports to
// systemd from a timer on the loop, so the pings stop when the loop hangs:
// READY=1 at the first turn, once everything else has started.
class AgentDaemon {
 public:
  AgentDaemon(const Config& config, const AgentSettings& settings, int64_t job_id,
              Connections& connections, std::atomic<int>& running)
      : config_(config),
        settings_(settings),
        running_(running),
        signals_(io_, SIGTERM, SIGINT),
        systemd_timer_(io_),
        held_(settings.concurrency),
        recorder_(std::move(connections.recorder_store), std::move(connections.recorder_redis),
                  config.redis.key_prefix, settings.name, held_),
        intake_(
            std::move(connections.intake_store), std::move(connections.intake_redis), settings,
            TaskIntake::Options{config.redis.key_prefix, job_id, kTakeBlock,
                                config.redis.command_timeout},
            held_,
            [this](ClaimedTry claimed) {
              asio::post(io_, [this, claimed = std::move(claimed)]() mutable {
                Launch(std::move(claimed));
              });
            },
            [this] { asio::post(io_, [this] { OnIntakeStopped(); }); }),
        job_id_(job_id),
        heartbeat_store_(std::move(connections.heartbeat_store)) {}

  Status Run() {
    executor_ =
        MakeLocalExecutor(io_, {
                                   [this](const TaskInstanceKey& key, int try_number, int pid) {
                                     auto found = running_tries_.find({key, try_number});
                                     if (found != running_tries_.end()) found->second.pid = pid;
                                   },
                                   [this](const TaskOutcome& outcome) { OnFinished(outcome); },
                                   nullptr,
                               });
    WaitForSignal();
    recorder_.Start();
    auto heartbeat = std::make_unique<JobHeartbeat>(
        std::move(heartbeat_store_), job_id_, config_.agent.heartbeat_interval,
        [this] { return std::optional<int>(running_.load()); });
    intake_.Start();
    if (systemd_.enabled()) ReportToSystemd(Duration(0));
    io_.run();

    // Every try has ended and gone to the recorder; the intake has stopped.
    intake_.Join();
    heartbeat.reset();
    const int unrecorded = recorder_.Finish(std::chrono::steady_clock::now() + kRecordAtExit);
    executor_.reset();
    if (unrecorded > 0) {
      return Status::Unavailable(std::to_string(unrecorded) +
                                 " task end(s) could not be recorded in the store; their "
                                 "messages stay in " +
                                 RedisProcessingKey(config_.redis.key_prefix, settings_.name) +
                                 " for the next start of agent '" + settings_.name + "'");
    }
    return Status::Ok();
  }

 private:
  struct RunningTry {
    ClaimedTry claimed;
    int pid = 0;
  };

  void WaitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
      if (error) return;
      BeginShutdown(signal_number);
      WaitForSignal();
    });
  }

  // Every ping_interval with a watchdog, else every heartbeat for STATUS= alone.
  void ReportToSystemd(Duration delay) {
    systemd_timer_.expires_after(delay);
    systemd_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      systemd_.Report(StatusLine());
      systemd_.IterationCompleted(0);
      ReportToSystemd(systemd_.ping_interval().value_or(config_.agent.heartbeat_interval));
    });
  }

  // "agent worker1: 3/8 running", or "agent worker1: stopping, 3 running".
  std::string StatusLine() const {
    const std::string running = std::to_string(running_tries_.size());
    return "agent " + settings_.name + ": " +
           (shutting_down_ ? "stopping, " + running + " running"
                           : running + "/" + std::to_string(settings_.concurrency) + " running");
  }

  void Launch(ClaimedTry claimed) {
    const TryId id = claimed.id();
    TaskLaunch launch = claimed.launch;
    launch.log_path = TaskLogPath(config_.core.logs_folder, launch.key, launch.try_number);
    Status started = executor_->Launch(launch);
    if (!started.ok()) {
      spdlog::error("cannot start {}: {}", id.ToString(), started.message());
      std::ofstream(launch.log_path, std::ios::app)
          << "baton agent " << settings_.name << ": " << started.message() << '\n';
      TaskOutcome outcome;
      outcome.key = launch.key;
      outcome.try_number = launch.try_number;
      outcome.error = started.message();
      recorder_.Submit({std::move(claimed), std::move(outcome), 0, DefaultClock().Now()});
      return;
    }
    spdlog::debug("started {}", id.ToString());
    running_tries_[id] = {std::move(claimed), 0};
    running_ = static_cast<int>(running_tries_.size());
  }

  void OnFinished(const TaskOutcome& outcome) {
    auto found = running_tries_.find({outcome.key, outcome.try_number});
    if (found == running_tries_.end()) return;
    recorder_.Submit(
        {std::move(found->second.claimed), outcome, found->second.pid, DefaultClock().Now()});
    running_tries_.erase(found);
    running_ = static_cast<int>(running_tries_.size());
  }

  void BeginShutdown(int signal_number) {
    if (shutting_down_) {
      spdlog::info("signal {} received: already stopping", signal_number);
      return;
    }
    shutting_down_ = true;
    shutdown_started_ = std::chrono::steady_clock::now();
    systemd_.Stopping(StatusLine());
    spdlog::info("signal {} received: taking no more work; waiting up to {} for {} running task(s)",
                 signal_number, FormatDuration(config_.agent.kill_grace_period),
                 running_tries_.size());
    held_.Stop();
    if (intake_stopped_) ShutdownExecutor();
  }

  void OnIntakeStopped() {
    intake_stopped_ = true;
    if (shutting_down_) ShutdownExecutor();
  }

  // Once the intake has stopped, so nothing is launched after it.
  void ShutdownExecutor() {
    const auto elapsed =
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - shutdown_started_);
    const Duration grace = std::max(Duration(0), config_.agent.kill_grace_period - elapsed);
    executor_->Shutdown(grace, [this] {
      signals_.cancel();
      systemd_timer_.cancel();
      io_.stop();
    });
  }

  const Config& config_;
  const AgentSettings& settings_;
  std::atomic<int>& running_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer systemd_timer_;
  SystemdNotifier systemd_;
  HeldMessages held_;
  TryRecorder recorder_;
  TaskIntake intake_;
  const int64_t job_id_;
  std::unique_ptr<Store> heartbeat_store_;  // handed to the heartbeat's thread in Run()
  std::unique_ptr<Executor> executor_;
  std::map<TryId, RunningTry> running_tries_;
  bool shutting_down_ = false;
  bool intake_stopped_ = false;
  std::chrono::steady_clock::time_point shutdown_started_;
};

}  // namespace

Status RunAgentDaemon(const Config& config, const AgentDaemonOptions& options) {
  signal(SIGPIPE, SIG_IGN);
  auto settings = ResolveAgentSettings(config.agent, options, HostName());
  if (!settings.ok()) return settings.status();
  auto connections = Connect(config);
  if (!connections.ok()) return connections.status();
  Store& store = *connections->main_store;
  BATON_RETURN_IF_ERROR(EndEarlierLives(store, *settings));

  std::atomic<int64_t> job_id{0};
  std::atomic<int> running{0};
  auto server =
      LogServer::Start(config.agent.log_bind, config.agent.log_port, config.core.logs_folder, [&] {
        return AgentHealth{settings->name, job_id.load(), running.load()};
      });
  if (!server.ok()) return server.status();
  const std::string endpoint =
      LogServerEndpoint(config.agent.log_bind, (*server)->port(), settings->hostname);
  auto registered = RegisterAgentJob(store, *settings, endpoint);
  if (!registered.ok()) return registered.status().WithContext("registering the agent's job");
  job_id = *registered;

  auto recovered = RecoverProcessingList(store, *connections->intake_redis, config.redis.key_prefix,
                                         settings->name);
  if (!recovered.ok()) {
    Status ended = store.EndJob(*registered);
    if (!ended.ok()) spdlog::warn("cannot end agent job {}: {}", *registered, ended.message());
    return recovered.status().WithContext("recovering the processing list of agent '" +
                                          settings->name + "'");
  }
  if (recovered->reclaimed + recovered->abandoned + recovered->malformed > 0) {
    spdlog::info(
        "recovered the processing list: {} message(s) back to their queue, {} abandoned, "
        "{} malformed removed",
        recovered->reclaimed, recovered->abandoned, recovered->malformed);
  }

  std::string queues;
  for (const std::string& queue : settings->queues) queues += (queues.empty() ? "" : ",") + queue;
  spdlog::info(
      "agent '{}' started on {} (pid {}, job {}): queues {}, concurrency {}; logs and "
      "health at http://{}",
      settings->name, settings->hostname, getpid(), *registered, queues, settings->concurrency,
      endpoint);
  Status stopped;
  {
    AgentDaemon daemon(config, *settings, *registered, *connections, running);
    stopped = daemon.Run();
  }
  Status ended = store.EndJob(*registered);
  if (!ended.ok()) {
    spdlog::warn("cannot mark agent job {} ended: {}", *registered, ended.message());
  }
  spdlog::info("agent '{}' stopped", settings->name);
  return stopped;
}

}  // namespace baton
