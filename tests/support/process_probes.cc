#include "tests/support/process_probes.h"

#include <fstream>
#include <sstream>
#include <thread>

namespace baton::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kPollInterval = std::chrono::milliseconds(5);

}  // namespace

bool Eventually(const std::function<bool()>& condition, SteadyClock::duration timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (!condition()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

bool IsRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // The state follows the command name, which may itself hold ") ".
  const size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::optional<pid_t> WaitForPid(const std::filesystem::path& path, SteadyClock::duration timeout) {
  std::optional<pid_t> pid;
  Eventually(
      [&] {
        const std::string text = ReadFile(path);
        if (!text.ends_with('\n')) return false;  // not written, or not to the end yet
        pid = std::stoi(text);
        return true;
      },
      timeout);
  return pid;
}

}  // namespace baton::testing
