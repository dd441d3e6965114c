#include "agent/held_messages.h"

#include <map>

namespace baton {

int HeldMessages::WaitForFreeSlots() {
  std::unique_lock lock(mutex_);
  slot_freed_.wait(lock,
                   [this] { return stopping_ || static_cast<int>(messages_.size()) < capacity_; });
  if (stopping_) return 0;
  return capacity_ - static_cast<int>(messages_.size());
}

void HeldMessages::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  slot_freed_.notify_all();
}

bool HeldMessages::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

bool HeldMessages::SleepUnlessStopping(Duration wait) {
  std::unique_lock lock(mutex_);
  slot_freed_.wait_for(lock, wait, [this] { return stopping_; });
  return stopping_;
}

void HeldMessages::Add(const std::string& message) {
  std::lock_guard lock(mutex_);
  messages_.insert(message);
}

void HeldMessages::Remove(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    auto found = messages_.find(message);
    if (found == messages_.end()) return;
    messages_.erase(found);
  }
  slot_freed_.notify_all();
}

size_t HeldMessages::size() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

bool HeldMessages::HoldTry(const TryId& id) {
  std::lock_guard lock(mutex_);
  return tries_.insert(id).second;
}

void HeldMessages::ReleaseTry(const TryId& id) {
  std::lock_guard lock(mutex_);
  tries_.erase(id);
}

std::vector<std::string> HeldMessages::Untracked(const std::vector<std::string>& processing) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, size_t> seen;
  std::vector<std::string> untracked;
  for (const std::string& message : processing) {
    if (++seen[message] > messages_.count(message)) untracked.push_back(message);
  }
  return untracked;
}

}  // namespace baton
