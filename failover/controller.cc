// The controller daemon: two threads of its own drive a FailoverController
// (the lease every heartbeat_interval, the scheduler every poll_frequency, so
// a slow SSH command never delays a renew), each with its own store
// connection; the main thread waits for SIGTERM/SIGINT on an Asio loop.
// systemd hears READY=1 once the lease loop has decided (active or standby)
// with the scheduler loop started, and a watchdog ping only once both loops
// have completed an iteration since the last one.
#include "failover/controller.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/host.h"
#include "common/process.h"
#include "common/systemd_notify.h"
#include "engine/store.h"
#include "failover/alerts.h"
#include "failover/failover_controller.h"
#include "failover/node_commands.h"

namespace baton {
namespace {

namespace asio = boost::asio;
using SteadyTime = std::chrono::steady_clock::time_point;

// A store call must not block much past the lease deadline, which comes at
// least one heartbeat_interval after the latest renew.
StoreConfig ControllerStoreConfig(const Config& config) {
  StoreConfig store = config.store;
  store.connect_timeout = std::min(store.connect_timeout, config.failover.heartbeat_interval);
  store.io_timeout = std::min(store.io_timeout, config.failover.heartbeat_interval);
  return store;
}

Result<std::unique_ptr<Store>> OpenControllerStore(const Config& config) {
  auto store = OpenStore(ControllerStoreConfig(config), config.core.home);
  if (!store.ok()) return store.status();
  BATON_RETURN_IF_ERROR(CheckSchemaCurrent(**store, config.store.url));
  return store;
}

// A sleep that another thread can cut short, or end for good.
class Pause {
 public:
  // False once Stop() was called.
  bool Until(SteadyTime time) {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, time, [this] { return stopping_ || woken_; });
    woken_ = false;
    return !stopping_;
  }
  void Wake() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wake_.notify_all();
  }
  void Stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
};

// The loops around one FailoverController.
class ControllerDaemon {
 public:
  ControllerDaemon(const Config& config, const std::string& node, int64_t job_id,
                   Store& lease_store, Store& scheduler_store, Alerter& alerter)
      : config_(config),
        node_(node),
        controller_(config.failover, node, job_id,
                    ControllerServices{
                        lease_store,
                        scheduler_store,
                        DefaultClock(),
                        [&config](const std::string& target) { return ShellFor(config, target); },
                        [&config](const std::string& target, int64_t epoch) {
                          return CommandsFor(config, target, epoch);
                        },
                        alerter,
                        [this] { scheduler_pause_.Wake(); },
                    }) {}

  void Run() {
    asio::io_context io;
    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& error, int signal_number) {
      if (error) return;
      spdlog::info("signal {} received: stopping the failover controller", signal_number);
      systemd_.Stopping("controller " + node_ + ": stopping");
      io.stop();
    });
    WarnOfShortWatchdog();
    // The scheduler loop first, so that it runs when the lease loop reports ready.
    std::thread scheduler_thread([this] { SchedulerLoop(); });
    std::thread lease_thread([this] { LeaseLoop(); });
    io.run();
    // The scheduler side first: while it finishes a command, the lease side
    // still renews, so the guard does not stop the scheduler on the way out.
    scheduler_pause_.Stop();
    scheduler_thread.join();
    lease_pause_.Stop();
    lease_thread.join();
    controller_.Shutdown();
  }

 private:
  enum Loop { kLeaseLoop, kSchedulerLoop, kLoopCount };

  void LeaseLoop() {
    pthread_setname_np(pthread_self(), "lease-loop");  // for top -H, gdb and the tests
    SteadyTime next = std::chrono::steady_clock::now();
    do {
      const Duration wait = controller_.LeaseTick();
      systemd_.Report("controller " + node_ + ": " +
                      (controller_.active() ? "active, epoch " + std::to_string(controller_.epoch())
                                            : std::string("standby")));
      systemd_.IterationCompleted(kLeaseLoop);
      // Counted from the previous tick's start, so renews are sent one interval apart.
      next = std::max(next + wait, std::chrono::steady_clock::now());
    } while (lease_pause_.Until(next));
  }

  void SchedulerLoop() {
    pthread_setname_np(pthread_self(), "scheduler-loop");
    do {
      controller_.SchedulerTick();
      systemd_.IterationCompleted(kSchedulerLoop);
    } while (
        scheduler_pause_.Until(std::chrono::steady_clock::now() + config_.failover.poll_frequency));
  }

  // A ping needs an iteration of the scheduler loop, which comes once every
  // poll_frequency at best (more when it runs commands on the nodes).
  void WarnOfShortWatchdog() const {
    const std::optional<Duration> timeout = systemd_.watchdog_timeout();
    if (!timeout || *timeout > 2 * config_.failover.poll_frequency) return;
    spdlog::warn(
        "the systemd watchdog ({}) is not well above [failover] poll_frequency ({}): systemd "
        "may restart a healthy controller; raise WatchdogSec of its unit",
        FormatDuration(*timeout), FormatDuration(config_.failover.poll_frequency));
  }

  const Config& config_;
  const std::string node_;
  SystemdNotifier systemd_{kLoopCount};
  Pause lease_pause_;
  Pause scheduler_pause_;
  FailoverController controller_;
};

}  // namespace

Status RunFailoverController(const Config& config) {
  signal(SIGPIPE, SIG_IGN);
  const std::string node = CurrentNodeName(config);
  BATON_RETURN_IF_ERROR(CheckNodeListed(config, node));
  // One connection per thread that talks to the store.
  auto main_store = OpenControllerStore(config);
  if (!main_store.ok()) return main_store.status();
  auto lease_store = OpenControllerStore(config);
  if (!lease_store.ok()) return lease_store.status();
  auto scheduler_store = OpenControllerStore(config);
  if (!scheduler_store.ok()) return scheduler_store.status();

  JobRecord job;
  job.kind = kControllerJob;
  job.name = node;
  job.hostname = HostName();
  job.pid = getpid();
  job.process_start_ticks = ProcessStartTicks(job.pid);
  auto job_id = (*main_store)->RegisterJob(job);
  if (!job_id.ok()) return job_id.status().WithContext("registering the controller's job");
  spdlog::info(
      "failover controller on {} started (pid {}, job {}): lease ttl {}, heartbeat {}, "
      "scheduler checked every {}",
      node, job.pid, *job_id, FormatDuration(config.failover.lease_ttl),
      FormatDuration(config.failover.heartbeat_interval),
      FormatDuration(config.failover.poll_frequency));

  std::unique_ptr<Alerter> alerter = MakeAlerter(config.alerts);
  {
    ControllerDaemon daemon(config, node, *job_id, **lease_store, **scheduler_store, *alerter);
    daemon.Run();
  }
  Status ended = (*main_store)->EndJob(*job_id);
  if (!ended.ok())
    spdlog::warn("cannot mark controller job {} ended: {}", *job_id, ended.message());
  spdlog::info("failover controller on {} stopped", node);
  return Status::Ok();
}

}  // namespace baton
