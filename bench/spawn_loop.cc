// spawn_loop: the spawn ceiling of this machine. Runs `/bin/sh -c COMMAND` N
// times with at most P children alive at once, waiting for each, and prints
// one JSON line: spawns per second and the children's CPU time. Nothing else is
// done per task, so no orchestrator that starts one process per task through
// /bin/sh can go faster than this on the same machine.
//
//   spawn_loop [--mode fork|spawn] [-n N] [-j P] [--command CMD]
//
// --mode spawn : posix_spawn(), which glibc does with clone(CLONE_VM|CLONE_VFORK):
//                the way ninja starts commands, and the way Baton's local
//                executor starts tasks (its own clone with the same flags).
// --mode fork  : fork() + execv(), the classic way, for comparison.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

extern char** environ;

namespace {

struct Options {
  std::string mode = "spawn";
  long count = 2000;
  int parallelism = 8;
  std::string command = "true";
};

[[noreturn]] void Usage(const char* problem) {
  std::fprintf(stderr, "spawn_loop: %s\nusage: spawn_loop [--mode fork|spawn] [-n N] [-j P] [--command CMD]\n",
               problem);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) Usage(("missing value after " + arg).c_str());
    std::string value = argv[++i];
    if (arg == "--mode") {
      if (value != "fork" && value != "spawn") Usage("--mode is fork or spawn");
      options.mode = value;
    } else if (arg == "-n") {
      options.count = std::atol(value.c_str());
    } else if (arg == "-j") {
      options.parallelism = std::atoi(value.c_str());
    } else if (arg == "--command") {
      options.command = value;
    } else {
      Usage(("unknown option " + arg).c_str());
    }
  }
  if (options.count < 1 || options.parallelism < 1) Usage("-n and -j must be positive");
  return options;
}

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

double MonotonicSeconds() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9;
}

// Starts one child running `/bin/sh -c command`; returns its pid or exits on error.
pid_t StartChild(const Options& options, char* const child_argv[]) {
  pid_t pid = -1;
  if (options.mode == "spawn") {
    int error = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, child_argv, environ);
    if (error != 0) {
      std::fprintf(stderr, "spawn_loop: posix_spawn: %s\n", std::strerror(error));
      std::exit(1);
    }
    return pid;
  }
  pid = fork();
  if (pid < 0) {
    std::perror("spawn_loop: fork");
    std::exit(1);
  }
  if (pid == 0) {
    execv("/bin/sh", child_argv);
    _exit(127);  // only async-signal-safe calls between fork and exec
  }
  return pid;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = ParseOptions(argc, argv);
  std::string shell = "/bin/sh";
  std::string dash_c = "-c";
  char* const child_argv[] = {shell.data(), dash_c.data(), options.command.data(), nullptr};

  long started = 0;
  long finished = 0;
  long failed = 0;
  int running = 0;
  double begin = MonotonicSeconds();
  while (finished < options.count) {
    // Keep P children alive: top up, then reap whichever ends first.
    while (running < options.parallelism && started < options.count) {
      StartChild(options, child_argv);
      ++started;
      ++running;
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      std::perror("spawn_loop: waitpid");
      return 1;
    }
    --running;
    ++finished;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  double elapsed = MonotonicSeconds() - begin;

  rusage self{};
  rusage children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  std::printf(
      "{\"mode\": \"%s\", \"spawns\": %ld, \"parallelism\": %d, \"failed\": %ld, "
      "\"seconds\": %.6f, \"per_second\": %.2f, \"self_cpu_seconds\": %.6f, "
      "\"children_cpu_seconds\": %.6f}\n",
      options.mode.c_str(), options.count, options.parallelism, failed, elapsed,
      options.count / elapsed, Seconds(self.ru_utime) + Seconds(self.ru_stime),
      Seconds(children.ru_utime) + Seconds(children.ru_stime));
  return failed == 0 ? 0 : 1;
}
