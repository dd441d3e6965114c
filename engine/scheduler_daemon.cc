#include "engine/scheduler_daemon.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/host.h"
#include "common/pidfile.h"
#include "common/process.h"
#include "common/systemd_notify.h"
#include "engine/dag_bag.h"
#include "engine/job_heartbeat.h"
#include "engine/local_executor.h"
#include "engine/redis_executor.h"
#include "engine/scheduler.h"
#include "engine/store.h"
#include "engine/store_rows.h"

namespace baton {
namespace {

namespace asio = boost::asio;

// The daemon's event loop: timers for ticks, heartbeats and DAG folder checks,
// executor events coalesced into one Flush, and a graceful stop on SIGTERM/SIGINT.
// systemd hears of it after each completed tick: READY=1 after the first (the
// job row exists and the loop turns), then STATUS= and watchdog pings, so a
// loop stuck in a tick stops the pings.
class SchedulerDaemon {
 public:
  SchedulerDaemon(const Config& config, const SchedulerDaemonOptions& options, Store& store,
                  int64_t job_id)
      : config_(config),
        options_(options),
        store_(store),
        job_id_(job_id),
        tick_timer_(io_),
        dag_timer_(io_),
        signals_(io_, SIGTERM, SIGINT),
        dag_bag_(config.core.dags_folder, MakeDagFileContext(config)),
        systemd_name_("scheduler" +
                      (options.epoch ? " epoch " + std::to_string(*options.epoch) : "") + " on " +
                      (options.node.empty() ? HostName() : options.node)) {}

  Status Run() {
    auto executor = MakeExecutor();
    if (!executor.ok()) return executor.status();
    executor_ = std::move(executor).value();
    SchedulerSettings settings;
    settings.parallelism = config_.core.parallelism;
    settings.pools = config_.pools;
    settings.logs_folder = config_.core.logs_folder;
    settings.hostname = HostName();
    settings.job_id = job_id_;
    settings.owner_timeout = config_.scheduler.health_threshold;
    settings.orphan_check_interval = config_.scheduler.heartbeat_interval;
    settings.requeue_check_interval = config_.redis.requeue_check_interval;
    scheduler_ = std::make_unique<Scheduler>(store_, *executor_, DefaultClock(), settings);

    RefreshDags();
    BATON_RETURN_IF_ERROR(scheduler_->Recover());
    signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
      if (!error) BeginShutdown(signal_number);
    });
    ScheduleTick(Duration(0));
    ScheduleDagRefresh();
    io_.run();
    return stop_status_;
  }

  // For the heartbeat thread: nothing while the loop has completed no tick for
  // half of health_threshold (a hung loop must not look alive).
  std::optional<int> HeartbeatReport() const {
    const auto since = DefaultClock().Monotonic() - std::chrono::nanoseconds(last_tick_ns_.load());
    if (since > config_.scheduler.health_threshold / 2) return std::nullopt;
    return 0;
  }

 private:
  Result<std::unique_ptr<Executor>> MakeExecutor() {
    Executor::Callbacks callbacks{
        [this](const TaskInstanceKey& key, int try_number, int pid) {
          scheduler_->OnTaskStarted(key, try_number, pid);
          RequestFlush();
        },
        [this](const TaskOutcome& outcome) {
          scheduler_->OnTaskFinished(outcome);
          RequestFlush();
        },
        [this](const TaskInstance& current) {
          scheduler_->OnInstanceChanged(current);
          RequestFlush();
        },
    };
    if (config_.executor.kind != "redis") return MakeLocalExecutor(io_, std::move(callbacks));
    RedisExecutorOptions options;
    auto redis = RedisOptionsFrom(config_.redis);
    if (!redis.ok()) return redis.status();
    options.redis = std::move(redis).value();
    options.key_prefix = config_.redis.key_prefix;
    spdlog::info("tasks go to agents through Redis (queues {}:queue:*)", options.key_prefix);
    return MakeRedisExecutor(io_, std::move(callbacks), std::move(options));
  }

  void RefreshDags() {
    if (!dag_bag_.Refresh()) return;
    for (const auto& [dag_id, dag] : dag_bag_.dags()) {
      Status synced =
          store_.SyncDag(DagRecordOf(*dag, DefaultClock().Now()), dag->paused_on_create);
      if (!synced.ok()) spdlog::error("cannot record DAG {}: {}", dag_id, synced.message());
    }
    for (const ImportError& error : dag_bag_.errors()) spdlog::error("{}", error.message);
    Status recorded = store_.ReplaceImportErrors(dag_bag_.errors());
    if (!recorded.ok()) spdlog::error("cannot record import errors: {}", recorded.message());
    spdlog::info("{} DAG(s) loaded from {}, {} file(s) with errors", dag_bag_.dags().size(),
                 config_.core.dags_folder, dag_bag_.errors().size());
    scheduler_->SetDags(dag_bag_.dags());
  }

  void RequestFlush() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(io_, [this] {
      flush_posted_ = false;
      Status flushed = scheduler_->Flush();
      if (!flushed.ok()) OnStepFailed("scheduling step failed", flushed);
    });
  }

  void ScheduleTick(Duration delay) {
    tick_timer_.expires_after(delay);
    tick_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      Status ticked = scheduler_->Tick();
      if (!ticked.ok()) OnStepFailed("scheduler loop failed", ticked);
      if (shutting_down_ && !fenced_.ok()) return;
      last_tick_ns_ = DefaultClock().Monotonic().count();
      if (!shutting_down_) {
        systemd_.Report(systemd_name_ + ": " + std::to_string(scheduler_->active_run_count()) +
                        " active run(s)");
      }
      systemd_.IterationCompleted(0);
      if (options_.num_ticks > 0 && ++ticks_ >= options_.num_ticks) {
        BeginShutdown(0);
        return;
      }
      ScheduleTick(NextTickDelay());
    });
  }

  Duration NextTickDelay() const {
    Duration delay = config_.scheduler.loop_interval;
    if (auto wakeup = scheduler_->NextWakeup()) {
      auto until = std::chrono::duration_cast<Duration>(*wakeup - DefaultClock().Now());
      delay = std::clamp(until, Duration(0), delay);
    }
    return delay;
  }

  void ScheduleDagRefresh() {
    dag_timer_.expires_after(config_.scheduler.dag_dir_list_interval);
    dag_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      RefreshDags();
      ScheduleDagRefresh();
    });
  }

  // A fenced write means a newer scheduler owns the cluster: nothing this one
  // does can be recorded any more, so its tasks are killed at once (the new
  // scheduler retries what it finds unowned) and it exits.
  void OnStepFailed(const char* what, const Status& failed) {
    if (failed.code() != Status::Code::kFenced) {
      spdlog::error("{}: {}", what, failed.message());
      return;
    }
    if (!fenced_.ok()) return;
    spdlog::critical("fenced, stopping at once: {}", failed.message());
    fenced_ = failed;
    BeginShutdown(0);
  }

  void BeginShutdown(int signal_number) {
    if (shutting_down_) return;
    shutting_down_ = true;
    systemd_.Stopping(systemd_name_ + ": stopping");
    if (signal_number != 0) {
      spdlog::info("signal {} received: no new tasks; waiting up to {} for {} running task(s)",
                   signal_number, FormatDuration(config_.scheduler.kill_grace_period),
                   executor_->RunningCount());
    }
    scheduler_->StopDispatching();
    Duration grace = fenced_.ok() ? config_.scheduler.kill_grace_period : Duration(0);
    executor_->Shutdown(grace, [this] {
      Status flushed = fenced_.ok() ? scheduler_->Flush() : fenced_;
      if (!flushed.ok()) stop_status_ = flushed;
      tick_timer_.cancel();
      dag_timer_.cancel();
      signals_.cancel();
      io_.stop();
    });
  }

  const Config& config_;
  const SchedulerDaemonOptions& options_;
  Store& store_;
  const int64_t job_id_;
  asio::io_context io_;
  asio::steady_timer tick_timer_;
  asio::steady_timer dag_timer_;
  asio::signal_set signals_;
  DagBag dag_bag_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Scheduler> scheduler_;
  bool flush_posted_ = false;
  // When the latest tick completed (Monotonic), read by the heartbeat thread.
  std::atomic<int64_t> last_tick_ns_{DefaultClock().Monotonic().count()};
  bool shutting_down_ = false;
  Status fenced_;                   // not OK once a write was fenced
  const std::string systemd_name_;  // "scheduler epoch 7 on master1", for STATUS=
  SystemdNotifier systemd_;
  int ticks_ = 0;
  Status stop_status_;
};

// A scheduler started for an epoch that is no longer the lease's would be fenced
// at its first write; refusing at once tells the operator why.
Status CheckServedEpoch(Store& store, int64_t epoch) {
  Result<Lease> lease = store.GetLease();
  if (!lease.ok()) return lease.status();
  if (lease->epoch != epoch) return StaleEpoch(lease->epoch, epoch, "this scheduler");
  return Status::Ok();
}

}  // namespace

Status RunSchedulerDaemon(const Config& config, const SchedulerDaemonOptions& options) {
  signal(SIGPIPE, SIG_IGN);
  auto store = OpenStore(config.store, config.core.home);
  if (!store.ok()) return store.status();
  BATON_RETURN_IF_ERROR(CheckSchemaCurrent(**store, config.store.url));
  if (options.epoch) {
    BATON_RETURN_IF_ERROR(CheckServedEpoch(**store, *options.epoch));
    (*store)->SetFencingEpoch(*options.epoch);
  }
  JobRecord job;
  job.kind = kSchedulerJob;
  job.name = options.node;
  job.hostname = HostName();
  job.pid = getpid();
  job.process_start_ticks = ProcessStartTicks(job.pid);
  auto job_id = (*store)->RegisterJob(job);
  if (!job_id.ok()) return job_id.status();
  // Only once the job row exists: a check that finds the process then also
  // finds the row the controller judges its health by.
  if (Status written = options.pidfile.empty() ? Status::Ok() : WritePidfile(options.pidfile);
      !written.ok()) {
    (*store)->EndJob(*job_id);
    return written;
  }
  spdlog::info("scheduler started on {} (pid {}, job {}{}), DAGs from {}", job.hostname, job.pid,
               *job_id, options.epoch ? ", epoch " + std::to_string(*options.epoch) : "",
               config.core.dags_folder);
  Status stopped;
  {
    auto heartbeat_store = OpenStore(config.store, config.core.home);
    if (!heartbeat_store.ok()) return heartbeat_store.status();
    SchedulerDaemon daemon(config, options, **store, *job_id);
    JobHeartbeat heartbeat(std::move(heartbeat_store).value(), *job_id,
                           config.scheduler.heartbeat_interval,
                           [&daemon] { return daemon.HeartbeatReport(); });
    stopped = daemon.Run();
  }
  Status ended = (*store)->EndJob(*job_id);
  if (!ended.ok()) spdlog::warn("cannot mark scheduler job {} ended: {}", *job_id, ended.message());
  if (!options.pidfile.empty()) RemovePidfile(options.pidfile);
  spdlog::info("scheduler stopped");
  return stopped;
}

}  // namespace baton
