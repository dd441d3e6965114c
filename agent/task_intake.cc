#include "agent/task_intake.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/backoff.h"
#include "common/clock.h"
#include "engine/redis_keys.h"
#include "engine/task_message.h"

namespace baton {
namespace {

constexpr Duration kFirstRetry = std::chrono::milliseconds(200);
constexpr Duration kLongestRetry = std::chrono::seconds(10);
// Removing dropped messages is retried this often before it is left to later:
// a dropped message left behind is found again and dropped again.
constexpr int kRemoveAttempts = 3;

}  // namespace

struct TaskIntake::Candidate {
  std::string message;
  TaskLaunch launch;
  bool attempted = false;  // a claim was sent and its answer lost
  TryId id() const { return {launch.key, launch.try_number}; }
};

TaskIntake::TaskIntake(std::unique_ptr<Store> store, std::unique_ptr<RedisClient> redis,
                       const AgentSettings& settings, Options options, HeldMessages& held,
                       std::function<void(ClaimedTry)> on_claimed, std::function<void()> on_stopped)
    : store_(std::move(store)),
      redis_(std::move(redis)),
      settings_(settings),
      options_(std::move(options)),
      held_(held),
      on_claimed_(std::move(on_claimed)),
      on_stopped_(std::move(on_stopped)),
      taker_(*redis_, options_.key_prefix, settings_.queues, settings_.name, options_.block,
             options_.reply_margin) {}

TaskIntake::~TaskIntake() { Join(); }

void TaskIntake::Start() {
  thread_ = std::thread([this] {
    Run();
    if (on_stopped_) on_stopped_();
  });
}

void TaskIntake::Join() {
  if (thread_.joinable()) thread_.join();
}

void TaskIntake::Run() {
  Backoff backoff(kFirstRetry, kLongestRetry);
  while (true) {
    const int free_slots = held_.WaitForFreeSlots();
    if (free_slots == 0) break;
    std::vector<std::string> messages;
    if (rescan_) {
      auto listed = taker_.ProcessingList();
      if (!listed.ok()) {
        spdlog::warn("cannot read the processing list {}: {}", taker_.processing_key(),
                     listed.status().message());
        if (held_.SleepUnlessStopping(backoff.Next())) break;
        continue;
      }
      rescan_ = false;
      messages = held_.Untracked(*listed);
      if (!messages.empty()) {
        spdlog::warn("{} message(s) reached {} by a command whose reply was lost; handling them",
                     messages.size(), taker_.processing_key());
      }
    } else {
      auto taken = taker_.Take(free_slots);
      if (!taken.ok()) {
        spdlog::warn("cannot take work from Redis: {}", taken.status().message());
        rescan_ = true;
        if (held_.SleepUnlessStopping(backoff.Next())) break;
        continue;
      }
      messages = std::move(taken).value();
    }
    backoff.Reset();
    if (messages.empty()) continue;
    for (const std::string& message : messages) held_.Add(message);
    if (held_.stopping()) {
      // Taken while the agent began to stop: unclaimed, so back to the queues.
      for (const std::string& message : messages) {
        auto launch = DecodeTaskMessage(message);
        PutBack(message, launch.ok() ? launch->queue : std::string());
        held_.Remove(message);
      }
      break;
    }
    ClaimAll(messages);
  }
}

void TaskIntake::ClaimAll(const std::vector<std::string>& messages) {
  std::vector<std::string> dropped;
  std::vector<Candidate> candidates;
  for (const std::string& message : messages) {
    auto launch = DecodeTaskMessage(message);
    if (!launch.ok()) {
      spdlog::warn("dropping a malformed message: {}: {}", launch.status().message(),
                   message.substr(0, 200));
      dropped.push_back(message);
      continue;
    }
    Candidate candidate{message, std::move(launch).value()};
    if (!held_.HoldTry(candidate.id())) {
      spdlog::info("dropping a duplicate message of {}: this agent already holds it",
                   candidate.id().ToString());
      dropped.push_back(message);
      continue;
    }
    candidates.push_back(std::move(candidate));
  }

  std::vector<ClaimedTry> claimed;
  Backoff backoff(kFirstRetry, kLongestRetry);
  while (!candidates.empty()) {
    Status status = ClaimOnce(candidates, claimed, dropped);
    if (status.ok()) break;
    const Duration wait = backoff.Next();
    spdlog::warn("cannot claim {} task(s) in the store, retrying in {}: {}", candidates.size(),
                 FormatDuration(wait), status.message());
    if (held_.SleepUnlessStopping(wait)) {
      // A claim whose answer was lost may have gone through: the row is then
      // running under this agent's job, which ends as the agent stops, so the
      // scheduler fails or retries it, and the message put back is dropped.
      for (const Candidate& candidate : candidates) {
        PutBack(candidate.message, candidate.launch.queue);
        held_.ReleaseTry(candidate.id());
        held_.Remove(candidate.message);
      }
      candidates.clear();
    }
  }

  // No event for a claim: the scheduler needs none (a queued try is counted as
  // active already, and its orphan check reads owners from the store), and one
  // per task would cost a push here and a wake-up there.
  RemoveDropped(dropped);
  for (const std::string& message : dropped) held_.Remove(message);
  for (ClaimedTry& one : claimed) on_claimed_(std::move(one));
}

Status TaskIntake::ClaimOnce(std::vector<Candidate>& candidates, std::vector<ClaimedTry>& claimed,
                             std::vector<std::string>& dropped) {
  std::vector<std::optional<TaskInstance>> rows;
  rows.reserve(candidates.size());
  // A first attempt takes the row from the message and lets the
  // compare-and-set decide, saving a round trip per task. After an attempt
  // whose answer was lost, only the row tells whether that claim went through.
  std::vector<bool> from_message(candidates.size(), false);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& candidate = candidates[i];
    if (!candidate.attempted) {
      if (std::optional<TaskInstance> queued = QueuedRowOf(candidate.launch)) {
        rows.push_back(std::move(queued));
        from_message[i] = true;
        continue;
      }
    }
    auto row = store_->GetTaskInstance(candidate.launch.key);
    if (!row.ok()) return row.status().WithContext("reading " + candidate.launch.key.ToString());
    rows.push_back(std::move(row).value());
  }

  const TimePoint now = DefaultClock().Now();
  std::vector<bool> decided(candidates.size(), false);
  auto drop = [&](size_t index, const std::string& reason) {
    const Candidate& candidate = candidates[index];
    spdlog::info("dropping the message of {}: {}", candidate.id().ToString(), reason);
    held_.ReleaseTry(candidate.id());
    dropped.push_back(candidate.message);
    decided[index] = true;
  };
  std::vector<TaskTransition> transitions;
  std::vector<size_t> transition_of;  // the candidate of each transition
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& candidate = candidates[i];
    const ClaimVerdict verdict =
        DecideClaim(rows[i], candidate.launch.try_number, options_.job_id, candidate.attempted);
    switch (verdict.decision) {
      case ClaimDecision::kClaim:
        transitions.push_back({TaskState::kQueued, candidate.launch.try_number,
                               ClaimedRow(*rows[i], settings_.hostname, options_.job_id, now)});
        transition_of.push_back(i);
        break;
      case ClaimDecision::kAlreadyOurs:
        claimed.push_back({candidate.message, candidate.launch, *rows[i]});
        decided[i] = true;
        break;
      case ClaimDecision::kDrop:
        drop(i, verdict.reason);
        break;
    }
  }

  Status status;
  if (!transitions.empty()) {
    auto applied = store_->ApplyTransitions(transitions);
    if (!applied.ok()) {
      for (size_t index : transition_of) candidates[index].attempted = true;
      status = applied.status();
    } else {
      for (size_t j = 0; j < transitions.size(); ++j) {
        const size_t index = transition_of[j];
        if ((*applied)[j]) {
          claimed.push_back(
              {candidates[index].message, candidates[index].launch, transitions[j].updated});
          decided[index] = true;
        } else {
          drop(index, from_message[index] ? RefusedClaimReason(candidates[index])
                                          : "another worker claimed or moved it first");
        }
      }
    }
  }

  std::vector<Candidate> undecided;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!decided[i]) undecided.push_back(std::move(candidates[i]));
  }
  candidates = std::move(undecided);
  return status;
}

std::string TaskIntake::RefusedClaimReason(const Candidate& candidate) {
  // Rare (a duplicate or stale message), so the row is read for the log only.
  auto row = store_->GetTaskInstance(candidate.launch.key);
  if (!row.ok()) return "it is no longer queued at that try";
  return DecideClaim(*row, candidate.launch.try_number, options_.job_id, false).reason;
}

void TaskIntake::RemoveDropped(const std::vector<std::string>& dropped) {
  if (dropped.empty()) return;
  std::vector<std::vector<std::string>> commands;
  for (const std::string& message : dropped) {
    commands.push_back({"LREM", taker_.processing_key(), "1", message});
  }
  Backoff backoff(kFirstRetry, kLongestRetry);
  for (int attempt = 1;; ++attempt) {
    auto replies = redis_->Pipeline(commands);
    if (replies.ok()) return;
    if (attempt == kRemoveAttempts) {
      spdlog::warn("cannot remove {} dropped message(s): {}", dropped.size(),
                   replies.status().message());
      rescan_ = true;
      return;
    }
    held_.SleepUnlessStopping(backoff.Next());
  }
}

void TaskIntake::PutBack(const std::string& message, const std::string& queue) {
  Status status = queue.empty()
                      ? redis_->Command({"LREM", taker_.processing_key(), "1", message}).status()
                      : ReturnToQueue(*redis_, taker_.processing_key(),
                                      RedisQueueKey(options_.key_prefix, queue), message);
  if (!status.ok()) {
    spdlog::warn("cannot return a message to queue {}; it stays in {} until the agent restarts: {}",
                 queue, taker_.processing_key(), status.message());
  }
}

}  // namespace baton
