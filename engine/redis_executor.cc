// The Redis executor: a sender thread that pushes task messages in batches (one
// pipeline per wake-up) and checks that queued tries still have their message,
// and a listener thread that pops instance events (BLMPOP, or BLPOP before
// Redis 7) and hands them to the loop.
#include "engine/redis_executor.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "common/backoff.h"
#include "engine/redis_keys.h"
#include "engine/task_message.h"

namespace baton {
namespace {

namespace asio = boost::asio;

// Values per LPUSH, so one command never grows without bound.
constexpr size_t kMessagesPerPush = 1000;
// Events taken per pop, so a burst costs few round trips and one post to the
// loop.
constexpr int kEventsPerPop = 1000;
constexpr Duration kFirstRetryDelay = std::chrono::milliseconds(100);
constexpr Duration kMaxRetryDelay = std::chrono::seconds(5);
// Lost messages named one by one in the log; beyond that, a count.
constexpr int kLostMessagesNamed = 50;

// Tells one try's message from another.
using MessageId = std::tuple<std::string, std::string, std::string, int>;

MessageId IdOf(const TaskLaunch& launch) {
  return {launch.key.dag_id, launch.key.run_id, launch.key.task_id, launch.try_number};
}

// The BLPOP timeout argument: seconds, with a fraction.
std::string Seconds(Duration duration) {
  return std::to_string(duration.count() / 1000) + "." +
         std::to_string(1000 + duration.count() % 1000).substr(1);
}

struct EnsureRequest {
  std::vector<TaskLaunch> launches;
  std::set<std::string> live_workers;
};

class RedisExecutor : public Executor {
 public:
  RedisExecutor(asio::io_context& io, Callbacks callbacks, RedisExecutorOptions options)
      : io_(io),
        callbacks_(std::move(callbacks)),
        options_(std::move(options)),
        events_key_(RedisEventsKey(options_.key_prefix)) {
    sender_ = std::thread([this] { SendLoop(); });
    listener_ = std::thread([this] { ListenLoop(); });
  }

  ~RedisExecutor() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      abandon_unsent_ = true;
      if (sender_client_ != nullptr) sender_client_->Interrupt();
      if (listener_client_ != nullptr) listener_client_->Interrupt();
    }
    send_wake_.notify_all();
    listen_wake_.notify_all();
    sender_.join();
    listener_.join();
  }

  Status Launch(const TaskLaunch& launch) override {
    bool was_idle = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return Status::Unavailable("the Redis executor is shutting down; " + launch.key.ToString() +
                                   " try " + std::to_string(launch.try_number) + " was not sent");
      }
      was_idle = pending_.empty();
      pending_.push_back(launch);
      unsent_.fetch_add(1, std::memory_order_relaxed);
    }
    // The sender only sleeps while nothing is pending, so only the first
    // message of a burst needs to wake it.
    if (was_idle) send_wake_.notify_one();
    return Status::Ok();
  }

  size_t RunningCount() const override { return unsent_.load(std::memory_order_relaxed); }

  bool WorkersRecordState() const override { return true; }

  void EnsureQueued(const std::vector<TaskLaunch>& launches,
                    const std::set<std::string>& live_workers) override {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      // A newer check supersedes one not yet made: it names every queued try.
      ensure_ = EnsureRequest{launches, live_workers};
    }
    send_wake_.notify_one();
  }

  // Tries already handed to agents keep running there, so there is nothing to
  // wait for: `grace` does not apply. Messages not yet sent get one last attempt
  // unless Redis is unreachable; the store still holds those tries as queued, and
  // the next scheduler's EnsureQueued pushes them.
  void Shutdown(Duration grace, std::function<void()> done) override {
    (void)grace;
    bool finished = false;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      ensure_.reset();
      if (done) shutdown_done_.push_back(std::move(done));
      if (listener_client_ != nullptr) listener_client_->Interrupt();
      // A sender that cannot reach Redis makes no last attempt: it may be
      // waiting out a reconnect.
      if (sender_failing_ && sender_client_ != nullptr) sender_client_->Interrupt();
      finished = threads_running_ == 0;
    }
    send_wake_.notify_all();
    listen_wake_.notify_all();
    if (finished) PostShutdownDone();
  }

 private:
  // Called by each thread as it ends; the last one reports the shutdown done.
  void ThreadEnded() {
    bool last = false;
    {
      std::lock_guard lock(mutex_);
      last = --threads_running_ == 0;
    }
    if (last) PostShutdownDone();
  }

  void PostShutdownDone() {
    std::vector<std::function<void()>> done;
    {
      std::lock_guard lock(mutex_);
      done.swap(shutdown_done_);
    }
    for (std::function<void()>& callback : done) asio::post(io_, std::move(callback));
  }

  // Connects `client` when it is not yet, registering it so that a shutdown can
  // interrupt it.
  Status Connect(std::unique_ptr<RedisClient>& client, RedisClient** registered) {
    if (client) return Status::Ok();
    Result<std::unique_ptr<RedisClient>> connected = ConnectRedis(options_.redis);
    if (!connected.ok()) return connected.status();
    client = std::move(*connected);
    std::lock_guard lock(mutex_);
    *registered = client.get();
    if (stopping_ && (registered == &listener_client_ || abandon_unsent_ || sender_failing_)) {
      client->Interrupt();
    }
    return Status::Ok();
  }

  // Waits the backoff's next delay unless stopping.
  void Pause(std::condition_variable& wake, Backoff& backoff) {
    std::unique_lock lock(mutex_);
    wake.wait_for(lock, backoff.Next(), [this] { return stopping_; });
  }

  void SendLoop() {
    std::unique_ptr<RedisClient> client;
    Backoff backoff(kFirstRetryDelay, kMaxRetryDelay);
    bool failing = false;  // logged once per outage
    while (true) {
      std::deque<TaskLaunch> batch;
      std::optional<EnsureRequest> ensure;
      {
        std::unique_lock lock(mutex_);
        send_wake_.wait(lock, [this] { return stopping_ || !pending_.empty() || ensure_; });
        if (stopping_ && (pending_.empty() || failing || abandon_unsent_)) break;
        batch.swap(pending_);
        ensure.swap(ensure_);
      }
      Status status = Connect(client, &sender_client_);
      if (status.ok()) status = Send(*client, batch);
      if (status.ok()) {
        std::vector<TaskLaunch> lost;
        if (ensure) status = FindLost(*client, *ensure, &lost);
        if (status.ok()) ensure.reset();
        if (!lost.empty()) {
          std::lock_guard lock(mutex_);
          unsent_.fetch_add(lost.size(), std::memory_order_relaxed);
          pending_.insert(pending_.begin(), lost.begin(), lost.end());
        }
        // After the lost ones were counted, so the count never dips to zero
        // while some still wait.
        unsent_.fetch_sub(batch.size(), std::memory_order_relaxed);
        batch.clear();
      }
      if (status.ok()) {
        if (failing) {
          spdlog::info("Redis executor: sending task messages to Redis again");
          SetSenderFailing(false);
        }
        failing = false;
        backoff.Reset();
        continue;
      }
      if (!failing) {
        spdlog::warn("Redis executor: cannot send task messages ({} waiting): {}; retrying",
                     RunningCount(), status.message());
        SetSenderFailing(true);
      }
      failing = true;
      {
        std::lock_guard lock(mutex_);
        pending_.insert(pending_.begin(), batch.begin(), batch.end());
        if (ensure && !ensure_) ensure_ = std::move(ensure);
      }
      Pause(send_wake_, backoff);
    }
    {
      std::lock_guard lock(mutex_);
      sender_client_ = nullptr;
    }
    ThreadEnded();
  }

  // One pipeline: an LPUSH per queue (per kMessagesPerPush messages), in the
  // order the tries were launched.
  Status Send(RedisClient& client, const std::deque<TaskLaunch>& batch) {
    if (batch.empty()) return Status::Ok();
    std::vector<std::vector<std::string>> commands;
    std::map<std::string, size_t> command_of_queue;  // the LPUSH still taking values
    for (const TaskLaunch& launch : batch) {
      auto [it, added] = command_of_queue.try_emplace(launch.queue, commands.size());
      if (added || commands[it->second].size() >= kMessagesPerPush + 2) {
        it->second = commands.size();
        commands.push_back({"LPUSH", RedisQueueKey(options_.key_prefix, launch.queue)});
        commands.back().reserve(std::min(batch.size(), kMessagesPerPush) + 2);
      }
      commands[it->second].push_back(EncodeTaskMessage(launch));
    }
    return client.Pipeline(commands).status();
  }

  // Reads, in one MULTI/EXEC so that no message is seen moving between two
  // lists, every queue the launches name and the processing list of every live
  // worker; returns the launches whose message is in none of them.
  Status FindLost(RedisClient& client, const EnsureRequest& request,
                  std::vector<TaskLaunch>* lost) {
    std::set<std::string> lists;
    for (const TaskLaunch& launch : request.launches) {
      lists.insert(RedisQueueKey(options_.key_prefix, launch.queue));
    }
    for (const std::string& worker : request.live_workers) {
      lists.insert(RedisProcessingKey(options_.key_prefix, worker));
    }
    std::vector<std::vector<std::string>> commands = {{"MULTI"}};
    for (const std::string& list : lists) commands.push_back({"LRANGE", list, "0", "-1"});
    commands.push_back({"EXEC"});
    Result<std::vector<RedisReply>> replies = client.Pipeline(commands);
    if (!replies.ok()) return replies.status();
    const RedisReply& contents = replies->back();
    if (contents.type != RedisReply::Type::kArray || contents.elements.size() != lists.size()) {
      return Status::Internal("Redis executor: unexpected reply to EXEC of the queue check");
    }
    std::set<MessageId> present;
    for (const RedisReply& list : contents.elements) {
      for (const RedisReply& message : list.elements) {
        Result<TaskLaunch> decoded = DecodeTaskMessage(message.text);
        if (decoded.ok()) present.insert(IdOf(*decoded));
      }
    }
    int named = 0;
    for (const TaskLaunch& launch : request.launches) {
      if (!present.insert(IdOf(launch)).second) continue;
      lost->push_back(launch);
      if (++named <= kLostMessagesNamed) {
        spdlog::info(
            "Redis executor: message for {} try {} was lost (Redis flushed or restarted?); pushed "
            "again",
            launch.key.ToString(), launch.try_number);
      }
    }
    if (named > kLostMessagesNamed) {
      spdlog::info("Redis executor: {} more lost messages pushed again",
                   named - kLostMessagesNamed);
    }
    return Status::Ok();
  }

  void SetSenderFailing(bool failing) {
    std::lock_guard lock(mutex_);
    sender_failing_ = failing;
  }

  bool Stopping() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  void ListenLoop() {
    std::unique_ptr<RedisClient> client;
    Backoff backoff(kFirstRetryDelay, kMaxRetryDelay);
    bool failing = false;  // logged once per outage
    const std::string wait = Seconds(options_.event_wait);
    const Duration call_timeout = options_.event_wait + options_.redis.command_timeout;
    while (!Stopping()) {
      std::vector<std::string> events;
      Status status = Connect(client, &listener_client_);
      if (status.ok()) status = PopEvents(*client, wait, call_timeout, &events);
      Deliver(events);
      if (status.ok()) {
        if (failing) spdlog::info("Redis executor: reading instance events from Redis again");
        failing = false;
        backoff.Reset();
        continue;
      }
      if (Stopping()) break;
      if (!failing) {
        spdlog::warn("Redis executor: cannot read instance events: {}; retrying", status.message());
      }
      failing = true;
      Pause(listen_wake_, backoff);
    }
    {
      std::lock_guard lock(mutex_);
      listener_client_ = nullptr;
    }
    ThreadEnded();
  }

  // Waits up to `wait` for events and takes what has arrived. BLMPOP (Redis 7)
  // blocks and takes a burst in one round trip; an older Redis refuses it, and
  // BLPOP, then LPOP for the rest of the burst, take its place from then on.
  Status PopEvents(RedisClient& client, const std::string& wait, Duration timeout,
                   std::vector<std::string>* events) {
    const std::string count = std::to_string(kEventsPerPop);
    if (multi_pop_) {
      Result<RedisReply> popped =
          client.Command({"BLMPOP", wait, "1", events_key_, "LEFT", "COUNT", count}, timeout);
      if (popped.ok()) {
        if (popped->elements.size() != 2) return Status::Ok();  // nil: none came
        for (RedisReply& event : popped->elements[1].elements) {
          events->push_back(std::move(event.text));
        }
        if (events->size() < static_cast<size_t>(kEventsPerPop)) return Status::Ok();
        return DrainEvents(client, timeout, events);
      }
      if (popped.status().code() != Status::Code::kInternal ||
          popped.status().message().find("unknown command") == std::string::npos) {
        return popped.status();
      }
      spdlog::info(
          "Redis executor: this Redis has no BLMPOP (it came with 7.0); reading events "
          "with BLPOP and LPOP");
      multi_pop_ = false;
    }
    Result<RedisReply> popped = client.Command({"BLPOP", events_key_, wait}, timeout);
    if (!popped.ok() || popped->elements.size() != 2) return popped.status();
    events->push_back(std::move(popped->elements[1].text));
    return DrainEvents(client, timeout, events);
  }

  // Takes the events that arrived with the first ones, a batch at a time. With
  // the blocking pop's `timeout`, so that the connection's socket timeout is set
  // once rather than twice per wake-up.
  Status DrainEvents(RedisClient& client, Duration timeout, std::vector<std::string>* events) {
    const std::string count = std::to_string(kEventsPerPop);
    while (true) {
      Result<RedisReply> popped = client.Command({"LPOP", events_key_, count}, timeout);
      if (!popped.ok()) return popped.status();
      for (RedisReply& event : popped->elements) events->push_back(std::move(event.text));
      if (popped->elements.size() < static_cast<size_t>(kEventsPerPop)) return Status::Ok();
    }
  }

  // One post per batch: the loop applies a burst of events in one go.
  void Deliver(const std::vector<std::string>& events) {
    if (events.empty() || !callbacks_.on_changed) return;
    std::vector<TaskInstance> changes;
    changes.reserve(events.size());
    for (const std::string& event : events) {
      Result<TaskInstance> decoded = DecodeInstanceEvent(event);
      if (decoded.ok()) {
        changes.push_back(std::move(*decoded));
      } else {
        spdlog::warn("Redis executor: dropped an instance event from {}: {}", events_key_,
                     decoded.status().message());
      }
    }
    if (changes.empty()) return;
    asio::post(io_, [on_changed = callbacks_.on_changed, changes = std::move(changes)] {
      for (const TaskInstance& change : changes) on_changed(change);
    });
  }

  asio::io_context& io_;
  const Callbacks callbacks_;
  const RedisExecutorOptions options_;
  const std::string events_key_;

  bool multi_pop_ = true;  // the listener's: BLMPOP until Redis refuses it
  std::atomic<size_t> unsent_{0};
  std::mutex mutex_;
  std::condition_variable send_wake_;
  std::condition_variable listen_wake_;
  // Guarded by mutex_.
  std::deque<TaskLaunch> pending_;
  std::optional<EnsureRequest> ensure_;
  bool stopping_ = false;
  bool abandon_unsent_ = false;  // destruction: not even a last attempt
  bool sender_failing_ = false;  // the sender's last attempt failed
  int threads_running_ = 2;
  std::vector<std::function<void()>> shutdown_done_;
  RedisClient* sender_client_ = nullptr;    // to interrupt; owned by the sender thread
  RedisClient* listener_client_ = nullptr;  // to interrupt; owned by the listener thread

  std::thread sender_;
  std::thread listener_;
};

}  // namespace

std::unique_ptr<Executor> MakeRedisExecutor(asio::io_context& io, Executor::Callbacks callbacks,
                                            RedisExecutorOptions options) {
  return std::make_unique<RedisExecutor>(io, std::move(callbacks), std::move(options));
}

}  // namespace baton
