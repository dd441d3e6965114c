// The few computations on a parsed DAG: retry waits and the task graph's shape.
#include "engine/dag.h"

#include <algorithm>

namespace baton {
namespace {

// With backoff on and no cap given, waits still stop growing after a day.
constexpr Duration kDefaultMaxRetryDelay = std::chrono::hours(24);

}  // namespace

Duration TaskSpec::RetryDelayBefore(int next_try) const {
  if (!retry_exponential_backoff) return retry_delay;
  const Duration cap = max_retry_delay.value_or(kDefaultMaxRetryDelay);
  // retry_delay * 2^(next_try - 2), doubled step by step so it stops at the cap
  // instead of overflowing for a large try number.
  Duration delay = retry_delay;
  for (int doubling = 0; doubling < next_try - 2 && delay < cap; ++doubling) delay *= 2;
  return std::min(delay, cap);
}

void Dag::IndexTasks() {
  index_by_id_.clear();
  for (size_t i = 0; i < tasks.size(); ++i) index_by_id_[tasks[i].id] = static_cast<int>(i);
}

int Dag::TaskIndex(const std::string& task_id) const {
  if (index_by_id_.size() == tasks.size()) {
    auto found = index_by_id_.find(task_id);
    return found == index_by_id_.end() ? -1 : found->second;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].id == task_id) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::vector<int>> Dag::DownstreamIndexes() const {
  std::vector<std::vector<int>> downstream(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    for (const auto& upstream_id : tasks[i].upstream) {
      const int upstream = TaskIndex(upstream_id);
      if (upstream >= 0) downstream[upstream].push_back(static_cast<int>(i));
    }
  }
  return downstream;
}

std::vector<int> Dag::LeafIndexes() const {
  std::vector<int> leaves;
  const auto downstream = DownstreamIndexes();
  for (size_t i = 0; i < downstream.size(); ++i) {
    if (downstream[i].empty()) leaves.push_back(static_cast<int>(i));
  }
  return leaves;
}

}  // namespace baton
