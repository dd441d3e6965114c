// TcpRelay: a TCP relay on loopback between a client under test and a server,
// for tests of what a client does when a reply is lost. It passes bytes both
// ways, one connection pair at a time, until told to drop the next reply: then
// it closes both sides instead of passing on what the server sends next, so the
// server has done the work and the client never hears of it.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace baton::testing {

class TcpRelay {
 public:
  // Listens on 127.0.0.1 (a free port) and relays to `host`:`port`.
  static Result<std::unique_ptr<TcpRelay>> Start(const std::string& host, int port);
  ~TcpRelay();
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  int port() const { return port_; }
  // The next bytes the server sends end the connection pair instead.
  void DropNextReply() {
    dropped_ = false;
    drop_next_reply_ = true;
  }
  // Whether a reply was dropped since the last DropNextReply().
  bool dropped() const { return dropped_; }

 private:
  TcpRelay() = default;
  void Run();
  // Relays one accepted client until either side closes, or a reply is dropped.
  void Relay(int client);

  std::string host_;
  int target_port_ = 0;
  int listener_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> drop_next_reply_{false};
  std::atomic<bool> dropped_{false};
  std::thread thread_;
};

}  // namespace baton::testing
