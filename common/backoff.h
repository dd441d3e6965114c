// Backoff: the waits between retries of a call that failed (store, Redis),
// doubling from `initial` up to `max`.
#pragma once

#include <algorithm>

#include "common/time.h"

namespace baton {

class Backoff {
 public:
  Backoff(Duration initial, Duration max) : initial_(initial), max_(max), next_(initial) {}

  Duration Next() {
    const Duration wait = next_;
    next_ = std::min(next_ * 2, max_);
    return wait;
  }
  void Reset() { next_ = initial_; }

 private:
  Duration initial_;
  Duration max_;
  Duration next_;
};

}  // namespace baton
