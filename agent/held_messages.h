// HeldMessages: what an agent holds between taking a message from a queue and
// acknowledging it (removing it from its processing list), shared by the
// threads that take, run and record. Each held message occupies one of the
// agent's `concurrency` slots, so its processing list never holds more than
// that. Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/claim_rules.h"
#include "common/time.h"

namespace baton {

class HeldMessages {
 public:
  explicit HeldMessages(int capacity) : capacity_(capacity) {}

  // Blocks until a slot is free or Stop() was called; returns how many slots
  // are free, 0 once stopping.
  int WaitForFreeSlots();
  void Stop();
  bool stopping() const;
  // Waits `wait`, or less when Stop() is called; true when stopping.
  bool SleepUnlessStopping(Duration wait);

  // A message moved into the processing list.
  void Add(const std::string& message);
  // A message removed from the processing list (dropped or acknowledged).
  void Remove(const std::string& message);
  size_t size() const;

  // Marks a try as held here; false when it already is (a duplicate message of
  // a try this agent runs).
  bool HoldTry(const TryId& id);
  void ReleaseTry(const TryId& id);

  // The entries of `processing` (the list as Redis has it) that are not held:
  // messages moved by a command whose reply was lost.
  std::vector<std::string> Untracked(const std::vector<std::string>& processing) const;

 private:
  const int capacity_;
  mutable std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::multiset<std::string> messages_;
  std::set<TryId> tries_;
  bool stopping_ = false;
};

}  // namespace baton
