// Fake masters for the failover controller's tests. Each node's NodeShell
// records the commands it is given and answers them as the test scripted. A
// command's first word says what it is ("start", "stop", "check": see
// FakeNodeCommands); the fake keeps a "scheduler process runs" flag per node
// that start sets, stop clears and check reports. Safe to use from several
// threads: the controller's deadline guard runs commands on a thread of its own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "failover/node_commands.h"
#include "failover/node_shell.h"

namespace baton::testing {

// Commands the fake understands: "start NODE EPOCH", "stop NODE EPOCH", "check NODE".
inline NodeCommands FakeNodeCommands(const std::string& node, int64_t epoch) {
  const std::string suffix = node + " " + std::to_string(epoch);
  return NodeCommands{"start " + suffix, "stop " + suffix, "check " + node};
}

class FakeNodes {
 public:
  FakeNodes() : state_(std::make_shared<State>()) {}

  std::unique_ptr<NodeShell> ShellFor(const std::string& node) {
    return std::make_unique<Shell>(state_, node);
  }

  // Unreachable: every command fails as an SSH connection would.
  void SetReachable(const std::string& node, bool reachable) {
    std::lock_guard lock(state_->mutex);
    state_->nodes[node].reachable = reachable;
  }
  // A start exits 1 and leaves nothing running.
  void SetStartFails(const std::string& node, bool fails) {
    std::lock_guard lock(state_->mutex);
    state_->nodes[node].start_fails = fails;
  }
  void SetRunning(const std::string& node, bool running) {
    std::lock_guard lock(state_->mutex);
    state_->nodes[node].running = running;
  }
  bool IsRunning(const std::string& node) const {
    std::lock_guard lock(state_->mutex);
    return state_->nodes[node].running;
  }

  // "NODE: COMMAND" for every command run, in order; checks left out when asked.
  std::vector<std::string> Commands(bool with_checks = false) const {
    std::lock_guard lock(state_->mutex);
    std::vector<std::string> commands;
    for (const std::string& entry : state_->log) {
      if (with_checks || entry.find(": check ") == std::string::npos) commands.push_back(entry);
    }
    return commands;
  }
  void ClearCommands() {
    std::lock_guard lock(state_->mutex);
    state_->log.clear();
  }
  // Waits (real time) until `entry` has been run, for commands of other threads.
  bool WaitForCommand(const std::string& entry, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(state_->mutex);
    return state_->ran.wait_for(lock, timeout, [&] {
      for (const std::string& logged : state_->log) {
        if (logged == entry) return true;
      }
      return false;
    });
  }

 private:
  struct Node {
    bool reachable = true;
    bool running = false;
    bool start_fails = false;
  };
  struct State {
    mutable std::mutex mutex;
    std::condition_variable ran;
    std::map<std::string, Node> nodes;
    std::vector<std::string> log;
  };

  class Shell final : public NodeShell {
   public:
    Shell(std::shared_ptr<State> state, std::string node)
        : state_(std::move(state)), node_(std::move(node)) {}

    Result<CommandOutcome> Run(const std::string& command, Duration) override {
      std::lock_guard lock(state_->mutex);
      Node& node = state_->nodes[node_];
      state_->log.push_back(node_ + ": " + command);
      state_->ran.notify_all();
      if (!node.reachable) return Status::Unavailable("ssh " + node_ + ": connection refused");
      CommandOutcome outcome;
      outcome.exit_code = 0;
      const std::string verb = command.substr(0, command.find(' '));
      if (verb == "start") {
        outcome.exit_code = node.start_fails ? 1 : 0;
        if (!node.start_fails) node.running = true;
      } else if (verb == "stop") {
        node.running = false;
      } else if (verb == "check") {
        outcome.exit_code = node.running ? 0 : 1;
      }
      return outcome;
    }
    std::string Describe() const override { return "fake " + node_; }

   private:
    std::shared_ptr<State> state_;
    std::string node_;
  };

  std::shared_ptr<State> state_;
};

}  // namespace baton::testing
