// Tests for the agent's log server and the client `baton tasks log` uses, over
// loopback: health, logs, 404 and 400, and a port already in use.
#include "agent/log_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/log_client.h"
#include "engine/task_launch.h"
#include "tests/support/temp_folder.h"

namespace baton {
namespace {

constexpr Duration kTimeout = std::chrono::seconds(5);

// A raw HTTP/1.0 GET with the path exactly as given: status code and body.
std::pair<int, std::string> Get(int port, const std::string& path,
                                const std::string& method = "GET") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return {0, ""};
  }
  const std::string request = method + " " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return {0, ""};
  }
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) reply.append(buffer, n);
  close(fd);
  if (reply.size() < 12) return {0, reply};
  const size_t body = reply.find("\r\n\r\n");
  return {std::stoi(reply.substr(9, 3)), body == std::string::npos ? "" : reply.substr(body + 4)};
}

class LogServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = LogServer::Start("127.0.0.1", 0, logs_.path().string(), [this] {
      return AgentHealth{"worker-a", 17, running_.load()};
    });
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
    ASSERT_GT(server_->port(), 0);
  }

  void WriteLog(const TaskInstanceKey& key, int try_number, const std::string& text) {
    const std::filesystem::path path = TaskLogPath(logs_.path().string(), key, try_number);
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }

  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(server_->port()); }

  testing::TempFolder logs_;
  std::atomic<int> running_{3};
  std::unique_ptr<LogServer> server_;
};

TEST_F(LogServerTest, HealthSaysWhoAndHowBusy) {
  auto [code, body] = Get(server_->port(), "/health");
  ASSERT_EQ(code, 200) << body;
  EXPECT_EQ(
      nlohmann::json::parse(body),
      nlohmann::json({{"status", "ok"}, {"name", "worker-a"}, {"running", 3}, {"job_id", 17}}));
  running_ = 0;
  EXPECT_EQ(nlohmann::json::parse(Get(server_->port(), "/health").second)["running"], 0);
}

TEST_F(LogServerTest, ServesALogThroughTheClient) {
  const TaskInstanceKey key{"etl", "manual__2024-06-01T00:00:00+00:00", "load"};
  std::string big(300000, 'x');
  big += "\nthe end\n";
  WriteLog(key, 2, big);
  auto log = FetchTaskLog(Endpoint(), key, 2, kTimeout);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(*log, big);

  WriteLog(key, 3, "");
  log = FetchTaskLog(Endpoint(), key, 3, kTimeout);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(*log, "");
}

TEST_F(LogServerTest, AMissingLogIsNotFound) {
  auto log = FetchTaskLog(Endpoint(), {"etl", "run_1", "load"}, 1, kTimeout);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kNotFound);
  EXPECT_NE(log.status().message().find(Endpoint()), std::string::npos);
  EXPECT_EQ(Get(server_->port(), "/log/etl/run_1/load/1").first, 404);
}

TEST_F(LogServerTest, PathsThatCouldLeaveTheLogsFolderAreBadRequests) {
  // A file right outside the logs folder that a ".." would reach.
  WriteLog({"etl", "run_1", "load"}, 1, "inside");
  for (const char* path :
       {"/log/etl/../run_1/load/1", "/log/etl/%2E%2E/load/1", "/log/etl/run_1%2Fx/load/1",
        "/log/etl//load/1", "/log/etl/run_1/load/x", "/log/etl/run_1/load"}) {
    EXPECT_EQ(Get(server_->port(), path).first, 400) << path;
  }
}

TEST_F(LogServerTest, NothingElseIsServed) {
  for (const char* path : {"/", "/logs/etl/run_1/load/1", "/healthz", "/health/", "/etc/passwd"}) {
    EXPECT_EQ(Get(server_->port(), path).first, 404) << path;
  }
  EXPECT_EQ(Get(server_->port(), "/health", "POST").first, 405);
  EXPECT_EQ(Get(server_->port(), "/health", "DELETE").first, 405);
  EXPECT_EQ(Get(server_->port(), "/health", "HEAD").first, 200);
}

TEST_F(LogServerTest, APortInUseIsAClearError) {
  auto second = LogServer::Start("127.0.0.1", server_->port(), logs_.path().string(),
                                 [] { return AgentHealth{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("Address already in use"), std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(Endpoint()), std::string::npos);
}

TEST(LogClientTest, AnUnreachableOrBadEndpointIsAClearError) {
  // A port nobody listens on: bound, then closed.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  const std::string endpoint = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  auto log = FetchTaskLog(endpoint, {"etl", "run_1", "load"}, 1, kTimeout);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(log.status().message().find(endpoint), std::string::npos);

  for (const char* bad : {"no-port", "host:", "host:0", "host:70000", ":80"}) {
    EXPECT_EQ(FetchTaskLog(bad, {"e", "r", "t"}, 1, kTimeout).status().code(),
              Status::Code::kInvalidInput)
        << bad;
  }
}

}  // namespace
}  // namespace baton
