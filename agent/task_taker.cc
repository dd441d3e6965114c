#include "agent/task_taker.h"

#include <fmt/format.h>

#include <utility>

#include "engine/redis_keys.h"

namespace baton {
namespace {

std::vector<std::string> MessagesIn(const std::vector<RedisReply>& replies) {
  std::vector<std::string> messages;
  for (const RedisReply& reply : replies) {
    if (reply.type == RedisReply::Type::kString) messages.push_back(reply.text);
  }
  return messages;
}

}  // namespace

TaskTaker::TaskTaker(RedisClient& redis, const std::string& key_prefix,
                     std::vector<std::string> queues, const std::string& agent_name, Duration block,
                     Duration reply_margin)
    : redis_(redis),
      processing_key_(RedisProcessingKey(key_prefix, agent_name)),
      block_argument_(fmt::format("{:.3f}", block.count() / 1000.0)),
      blocking_timeout_(block + reply_margin) {
  for (const std::string& queue : queues) queue_keys_.push_back(RedisQueueKey(key_prefix, queue));
}

const std::string& TaskTaker::QueueKeyAt(size_t offset) const {
  return queue_keys_[(next_queue_ + offset) % queue_keys_.size()];
}

Result<std::vector<std::string>> TaskTaker::Take(int max) {
  if (max < 1 || queue_keys_.empty()) return std::vector<std::string>();
  std::vector<std::vector<std::string>> moves;
  moves.reserve(max);
  if (queue_keys_.size() == 1) {
    moves.push_back({"BLMOVE", queue_keys_[0], processing_key_, "RIGHT", "LEFT", block_argument_});
    for (int i = 1; i < max; ++i) {
      moves.push_back({"LMOVE", queue_keys_[0], processing_key_, "RIGHT", "LEFT"});
    }
    auto replies = redis_.Pipeline(moves, blocking_timeout_);
    if (!replies.ok()) return replies.status();
    return MessagesIn(*replies);
  }
  for (int i = 0; i < max; ++i) {
    moves.push_back({"LMOVE", QueueKeyAt(i), processing_key_, "RIGHT", "LEFT"});
  }
  // With the BLMOVE's timeout, which usually follows on an idle queue: the
  // socket's timeout then stays as it is from one take to the next.
  auto replies = redis_.Pipeline(moves, blocking_timeout_);
  if (!replies.ok()) return replies.status();
  std::vector<std::string> messages = MessagesIn(*replies);
  next_queue_ = (next_queue_ + 1) % queue_keys_.size();
  if (!messages.empty()) return messages;

  const std::string& queue_key = QueueKeyAt(0);
  next_queue_ = (next_queue_ + 1) % queue_keys_.size();
  auto reply = redis_.Command(
      {"BLMOVE", queue_key, processing_key_, "RIGHT", "LEFT", block_argument_}, blocking_timeout_);
  if (!reply.ok()) return reply.status();
  if (reply->type == RedisReply::Type::kString) messages.push_back(std::move(reply->text));
  return messages;
}

Result<std::vector<std::string>> TaskTaker::ProcessingList() {
  auto reply = redis_.Command({"LRANGE", processing_key_, "0", "-1"});
  if (!reply.ok()) return reply.status();
  // LPUSH order: the newest is first; hand them back oldest first.
  std::vector<std::string> messages;
  for (auto it = reply->elements.rbegin(); it != reply->elements.rend(); ++it) {
    if (it->type == RedisReply::Type::kString) messages.push_back(it->text);
  }
  return messages;
}

Status ReturnToQueue(RedisClient& redis, const std::string& processing_key,
                     const std::string& queue_key, const std::string& message) {
  auto replies = redis.Pipeline(
      {{"MULTI"}, {"RPUSH", queue_key, message}, {"LREM", processing_key, "1", message}, {"EXEC"}});
  if (!replies.ok()) return replies.status();
  if (replies->size() != 4 || replies->back().is_nil()) {
    return Status::Internal("Redis did not run the transaction moving a message back to " +
                            queue_key);
  }
  return Status::Ok();
}

}  // namespace baton
