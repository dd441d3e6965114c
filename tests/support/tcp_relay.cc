#include "tests/support/tcp_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace baton::testing {
namespace {

Status Failure(const std::string& what) {
  return Status::Unavailable("TCP relay: " + what + ": " + std::strerror(errno));
}

// Writes all of `data`; false when the peer is gone.
bool WriteAll(int fd, const char* data, ssize_t size) {
  while (size > 0) {
    const ssize_t written = ::send(fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= written;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<TcpRelay>> TcpRelay::Start(const std::string& host, int port) {
  std::unique_ptr<TcpRelay> relay(new TcpRelay());
  relay->host_ = host;
  relay->target_port_ = port;
  relay->listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (relay->listener_ < 0) return Failure("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(relay->listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(relay->listener_, 8) != 0 ||
      ::getsockname(relay->listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Failure("listen");
  }
  relay->port_ = ntohs(address.sin_port);
  if (::pipe2(relay->stop_pipe_, O_CLOEXEC) != 0) return Failure("pipe");
  relay->thread_ = std::thread([raw = relay.get()] { raw->Run(); });
  return relay;
}

TcpRelay::~TcpRelay() {
  if (thread_.joinable()) {
    (void)!::write(stop_pipe_[1], "x", 1);
    thread_.join();
  }
  for (int fd : {listener_, stop_pipe_[0], stop_pipe_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

void TcpRelay::Run() {
  for (;;) {
    pollfd waits[2] = {{listener_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(waits, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (waits[1].revents != 0) return;
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    Relay(client);
    ::close(client);
  }
}

void TcpRelay::Relay(int client) {
  const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(target_port_));
  if (server < 0 || ::inet_pton(AF_INET, host_.c_str(), &address.sin_addr) != 1 ||
      ::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (server >= 0) ::close(server);
    return;
  }
  char buffer[64 * 1024];
  for (bool open = true; open;) {
    pollfd waits[3] = {{client, POLLIN, 0}, {server, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(waits, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (waits[2].revents != 0) break;
    for (int side = 0; side < 2 && open; ++side) {
      if (waits[side].revents == 0) continue;
      const int from = side == 0 ? client : server;
      const int to = side == 0 ? server : client;
      const ssize_t got = ::recv(from, buffer, sizeof(buffer), 0);
      if (got <= 0) {
        open = false;
      } else if (side == 1 && drop_next_reply_.exchange(false)) {
        dropped_ = true;
        open = false;
      } else {
        open = WriteAll(to, buffer, got);
      }
    }
  }
  ::close(server);
}

}  // namespace baton::testing
