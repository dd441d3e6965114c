// The MySQL/MariaDB store's cost per try, the way an agent with one slot writes
// them: each try's start, then its end, one ApplyTransitions each, through a
// store that sends blocks (one compound statement per batch) beside one that
// sends the statements one by one, as it does to a MySQL server. Both run on a
// mariadbd of their own, started here, in alternating rounds on fresh
// databases. Prints, per try, the wall time, this process's CPU time and the
// server's, and the ratios of blocks to statements.
//
//   build/bench/store_transitions [--tries N] [--rounds R]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/process.h"
#include "engine/mysql_store.h"
#include "engine/mysql_url.h"
#include "tests/support/mariadb_server.h"

namespace baton {
namespace {

struct Cost {
  double wall_ms = 0;
  double client_ms = 0;
  double server_ms = 0;
};

double ProcessCpuSeconds(pid_t pid) {
  return static_cast<double>(ProcessCpuTicks(pid)) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& time) { return time.tv_sec + time.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Result<Cost> RunRound(testing::MariaDbServer& server, bool blocks, int tries) {
  auto database = server.CreateDatabase("bench");
  if (!database.ok()) return database.status();
  StoreConfig config;
  config.url = server.Url(*database);
  auto url = ParseMySqlUrl(config.url);
  if (!url.ok()) return url.status();
  MySqlStore store(*url, server.password(), config, blocks);
  BATON_RETURN_IF_ERROR(store.Migrate());

  DagRun run;
  run.dag_id = "bench";
  run.run_id = "round";
  run.logical_date = FromEpochMicros(1'794'960'000'000'000);
  run.data_interval_start = run.data_interval_end = run.logical_date;
  std::vector<TaskInstance> queued(tries);
  for (int i = 0; i < tries; ++i) {
    queued[i].key = {run.dag_id, run.run_id, "task" + std::to_string(i)};
    queued[i].state = TaskState::kQueued;
    queued[i].pool = "default_pool";
    queued[i].queue = "default";
  }
  auto created = store.CreateDagRun(run, queued);
  if (!created.ok()) return created.status();

  const double client_before = OwnCpuSeconds();
  const double server_before = ProcessCpuSeconds(server.pid());
  const auto wall_before = std::chrono::steady_clock::now();
  for (const TaskInstance& ti : queued) {
    TaskTransition start{TaskState::kQueued, 0, ti};
    start.updated.state = TaskState::kRunning;
    start.updated.try_number = 1;
    start.updated.hostname = "worker1";
    start.updated.pid = 4242;
    start.updated.owner_job_id = 7;
    TaskTransition end{TaskState::kRunning, 1, start.updated};
    end.updated.state = TaskState::kSuccess;
    end.updated.exit_code = 0;
    for (const TaskTransition& transition : {start, end}) {
      auto applied = store.ApplyTransitions({transition});
      if (!applied.ok()) return applied.status();
      if (!(*applied)[0]) return Status::Internal("a transition did not apply");
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  Cost cost;
  cost.wall_ms = wall * 1e3 / tries;
  cost.client_ms = (OwnCpuSeconds() - client_before) * 1e3 / tries;
  cost.server_ms = (ProcessCpuSeconds(server.pid()) - server_before) * 1e3 / tries;
  return cost;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

int Main(int argc, char** argv) {
  int tries = 2000;
  int rounds = 3;
  bool usable = true;
  for (int i = 1; i < argc && usable; i += 2) {
    const std::string flag = argv[i];
    const int value = i + 1 < argc ? std::atoi(argv[i + 1]) : 0;
    if (flag == "--tries") {
      tries = value;
    } else if (flag == "--rounds") {
      rounds = value;
    } else {
      usable = false;
    }
  }
  if (!usable || tries < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: store_transitions [--tries N] [--rounds R]\n");
    return 2;
  }
  auto server = testing::MariaDbServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "store_transitions: %s\n", server.status().message().c_str());
    return 1;
  }
  std::map<bool, std::vector<Cost>> costs;
  for (int round = 0; round < rounds; ++round) {
    for (bool blocks : {false, true}) {
      auto cost = RunRound(**server, blocks, tries);
      if (!cost.ok()) {
        std::fprintf(stderr, "store_transitions: %s\n", cost.status().message().c_str());
        return 1;
      }
      costs[blocks].push_back(*cost);
    }
  }
  auto median = [&](bool blocks, double Cost::*part) {
    std::vector<double> values;
    for (const Cost& cost : costs[blocks]) values.push_back(cost.*part);
    return Median(values);
  };
  std::printf(
      "%d tries, each started then ended by its own ApplyTransitions; median of %d rounds\n", tries,
      rounds);
  std::printf("%-26s %10s %12s %12s   (ms per try)\n", "", "wall", "client CPU", "server CPU");
  for (bool blocks : {false, true}) {
    std::printf("%-26s %10.3f %12.3f %12.3f\n", blocks ? "blocks" : "statements one by one",
                median(blocks, &Cost::wall_ms), median(blocks, &Cost::client_ms),
                median(blocks, &Cost::server_ms));
  }
  std::printf("%-26s %10.2f %12.2f %12.2f\n", "blocks / statements",
              median(true, &Cost::wall_ms) / median(false, &Cost::wall_ms),
              median(true, &Cost::client_ms) / median(false, &Cost::client_ms),
              median(true, &Cost::server_ms) / median(false, &Cost::server_ms));
  return 0;
}

}  // namespace
}  // namespace baton

int main(int argc, char** argv) { return baton::Main(argc, argv); }
