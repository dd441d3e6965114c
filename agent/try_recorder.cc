#include "agent/try_recorder.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "common/backoff.h"
#include "engine/redis_keys.h"
#include "engine/task_message.h"

namespace baton {
namespace {

constexpr Duration kFirstRetry = std::chrono::milliseconds(200);
constexpr Duration kLongestRetry = std::chrono::seconds(10);

std::string DescribeRow(const std::optional<TaskInstance>& row) {
  if (!row) return "no such task instance";
  std::string text =
      std::string(ToString(row->state)) + " at try " + std::to_string(row->try_number);
  if (row->owner_job_id != 0) text += ", owner job " + std::to_string(row->owner_job_id);
  return text;
}

}  // namespace

TryRecorder::TryRecorder(std::unique_ptr<Store> store, std::unique_ptr<RedisClient> redis,
                         const std::string& key_prefix, const std::string& agent_name,
                         HeldMessages& held)
    : store_(std::move(store)),
      redis_(std::move(redis)),
      events_key_(RedisEventsKey(key_prefix)),
      processing_key_(RedisProcessingKey(key_prefix, agent_name)),
      held_(held) {}

TryRecorder::~TryRecorder() { Finish(std::chrono::steady_clock::now()); }

void TryRecorder::Start() {
  thread_ = std::thread([this] { Run(); });
}

void TryRecorder::Submit(EndedTry ended) {
  {
    std::lock_guard lock(mutex_);
    submitted_.push_back(std::move(ended));
  }
  wake_.notify_one();
}

int TryRecorder::Finish(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    if (!finish_by_) finish_by_ = deadline;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  return abandoned_;
}

void TryRecorder::Run() {
  Backoff backoff(kFirstRetry, kLongestRetry);
  std::optional<Duration> retry_in;  // set after a failure
  while (true) {
    std::optional<std::chrono::steady_clock::time_point> finish_by;
    {
      std::unique_lock lock(mutex_);
      if (retry_in) {
        // A failing store is not hammered by new arrivals: wait out the
        // backoff, or until the deadline to finish by.
        auto until = std::chrono::steady_clock::now() + *retry_in;
        while (std::chrono::steady_clock::now() < until) {
          if (finish_by_ && *finish_by_ < until) until = *finish_by_;
          wake_.wait_until(lock, until);
        }
      } else {
        wake_.wait(lock, [this] { return !submitted_.empty() || finish_by_.has_value(); });
      }
      for (EndedTry& ended : submitted_) {
        Pending pending;
        pending.ended = std::move(ended);
        to_record_.push_back(std::move(pending));
      }
      submitted_.clear();
      finish_by = finish_by_;
    }

    const bool recorded = to_record_.empty() || RecordInStore();
    const bool acknowledged = to_acknowledge_.empty() || Acknowledge();
    if (recorded && acknowledged) {
      backoff.Reset();
      retry_in.reset();
      std::lock_guard lock(mutex_);
      if (finish_by && submitted_.empty() && to_record_.empty() && to_acknowledge_.empty()) break;
      continue;
    }
    if (finish_by && std::chrono::steady_clock::now() >= *finish_by) {
      abandoned_ = static_cast<int>(to_record_.size());
      spdlog::error(
          "giving up: {} task end(s) not recorded and {} not acknowledged; their messages stay in "
          "{}",
          to_record_.size(), to_acknowledge_.size(), processing_key_);
      break;
    }
    retry_in = backoff.Next();
  }
}

bool TryRecorder::RecordInStore() {
  std::vector<TaskTransition> transitions;
  transitions.reserve(to_record_.size());
  for (Pending& pending : to_record_) {
    const EndedTry& ended = pending.ended;
    if (!pending.attempted) {
      pending.intended = EndedRow(ended.claimed.row, ended.claimed.launch, ended.outcome, ended.pid,
                                  ended.ended_at);
    }
    transitions.push_back({TaskState::kRunning, ended.claimed.launch.try_number, pending.intended});
  }
  auto applied = store_->ApplyTransitions(transitions);
  if (!applied.ok()) {
    for (Pending& pending : to_record_) pending.attempted = true;
    spdlog::warn(
        "cannot record the end of {} task(s) in the store; retrying, their messages stay "
        "in {}: {}",
        to_record_.size(), processing_key_, applied.status().message());
    return false;
  }
  std::deque<Pending> unread;
  for (size_t i = 0; i < transitions.size(); ++i) {
    Pending& pending = to_record_[i];
    const EndedTry& ended = pending.ended;
    const TryId id = ended.claimed.id();
    if ((*applied)[i]) {
      spdlog::info("task {} ended ({}): {}", id.ToString(), DescribeOutcome(ended.outcome),
                   ToString(pending.intended.state));
      to_acknowledge_.push_back(std::move(pending));
      continue;
    }
    auto row = store_->GetTaskInstance(id.key);
    if (!row.ok()) {
      // Decided on the next pass, which reads the row again.
      pending.attempted = true;
      unread.push_back(std::move(pending));
      continue;
    }
    if (pending.attempted && EndAlreadyRecorded(*row, pending.intended)) {
      spdlog::info("task {} ended ({}): {}", id.ToString(), DescribeOutcome(ended.outcome),
                   ToString(pending.intended.state));
    } else {
      spdlog::warn(
          "task {} ended ({}), but the store has moved it on ({}): the scheduler decided first; "
          "not recorded",
          id.ToString(), DescribeOutcome(ended.outcome), DescribeRow(*row));
      pending.publish = false;
    }
    to_acknowledge_.push_back(std::move(pending));
  }
  to_record_ = std::move(unread);
  return to_record_.empty();
}

bool TryRecorder::Acknowledge() {
  std::vector<std::vector<std::string>> commands;
  std::vector<std::string> push = {"RPUSH", events_key_};
  for (const Pending& pending : to_acknowledge_) {
    if (pending.publish) push.push_back(EncodeInstanceEvent(pending.intended));
  }
  if (push.size() > 2) commands.push_back(std::move(push));
  for (const Pending& pending : to_acknowledge_) {
    commands.push_back({"LREM", processing_key_, "1", pending.ended.claimed.message});
  }
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) {
    spdlog::warn("cannot acknowledge {} recorded task end(s) in Redis; retrying: {}",
                 to_acknowledge_.size(), replies.status().message());
    return false;
  }
  for (const Pending& pending : to_acknowledge_) {
    held_.ReleaseTry(pending.ended.claimed.id());
    held_.Remove(pending.ended.claimed.message);
  }
  to_acknowledge_.clear();
  return true;
}

}  // namespace baton
