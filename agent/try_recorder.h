// TryRecorder: the agent's thread that records how tries ended. For each ended
// try it writes the end row (success, up_for_retry or failed) as a
// compare-and-set from running at the message's try, then publishes the
// instance event and acknowledges the message (removes it from the processing
// list), freeing its slot. Ends that arrive together are written in one
// transaction and acknowledged in one Redis round trip.
//
// A message is acknowledged only once its end is in the store: while the store
// cannot be reached the recorder retries with backoff and the message stays in
// the processing list. When the compare-and-set finds the row moved (the
// scheduler already failed the try as a zombie), that is logged and the
// message acknowledged.
//
// The thread owns its store and Redis connections.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/claimed_try.h"
#include "agent/held_messages.h"
#include "engine/redis_client.h"
#include "engine/store.h"

namespace baton {

class TryRecorder {
 public:
  TryRecorder(std::unique_ptr<Store> store, std::unique_ptr<RedisClient> redis,
              const std::string& key_prefix, const std::string& agent_name, HeldMessages& held);
  ~TryRecorder();

  void Start();
  // From any thread; never blocks on the store or Redis.
  void Submit(EndedTry ended);
  // Records and acknowledges everything submitted, then ends the thread. Gives
  // up when the store or Redis still fails at `deadline`. Returns how many
  // ends were left unrecorded (their messages stay in the processing list).
  int Finish(std::chrono::steady_clock::time_point deadline);

 private:
  struct Pending {
    EndedTry ended;
    TaskInstance intended;   // the end row
    bool attempted = false;  // a write was sent and its answer lost
    bool publish = true;     // false when the store had moved on: nothing of ours to tell
  };

  void Run();
  bool RecordInStore();
  bool Acknowledge();

  std::unique_ptr<Store> store_;
  std::unique_ptr<RedisClient> redis_;
  const std::string events_key_;
  const std::string processing_key_;
  HeldMessages& held_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<EndedTry> submitted_;
  std::optional<std::chrono::steady_clock::time_point> finish_by_;

  // Owned by the thread.
  std::deque<Pending> to_record_;
  std::deque<Pending> to_acknowledge_;
  int abandoned_ = 0;
  std::thread thread_;
};

}  // namespace baton
