#include "engine/mysql_retry.h"

#include <algorithm>
#include <thread>

namespace baton {
namespace {

constexpr std::chrono::milliseconds kFirstReconnectDelay(100);
constexpr std::chrono::milliseconds kLongestReconnectDelay(2000);
constexpr int kTransientRetries = 5;
constexpr std::chrono::milliseconds kFirstTransientDelay(20);

}  // namespace

bool MySqlRetryPolicy::WaitBeforeRetry(MySqlFailure failure) {
  switch (failure) {
    case MySqlFailure::kConnectionLost: {
      const Clock::time_point now = Clock::now();
      if (losses_++ == 0) {
        first_loss_ = now;
        return true;
      }
      const Clock::time_point deadline = first_loss_ + reconnect_window_;
      if (now >= deadline) return false;
      const int doublings = std::min(losses_ - 2, 5);
      const auto delay = std::min<Clock::duration>(
          {kFirstReconnectDelay * (1 << doublings), kLongestReconnectDelay, deadline - now});
      std::this_thread::sleep_for(delay);
      return true;
    }
    case MySqlFailure::kTransient:
      if (transient_failures_ >= kTransientRetries) return false;
      std::this_thread::sleep_for(kFirstTransientDelay * (1 << transient_failures_++));
      return true;
    case MySqlFailure::kNone:
    case MySqlFailure::kPermanent:
      break;
  }
  return false;
}

}  // namespace baton
