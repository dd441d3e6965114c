"""What the benchmarks share: where things are, installing missing tools, times
as Baton prints them, nearest-rank percentiles, a process's own CPU time from
/proc, and the bare spawn loop (bench/spawn_loop.cc) that sets the ceiling.

Used by run_local.py and run_cluster.py. Standard library only.
"""

import datetime
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DEFAULT_BATON = os.path.join(REPO_DIR, "build-bench", "cli", "baton")
BUILD_HINT = ("cd {repo} && cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release "
              "&& cmake --build build-bench -j2 --target baton").format(repo=REPO_DIR)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A step failed; the message says what was run and what came back."""


def log(message):
    print(message, file=sys.stderr, flush=True)


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def ensure_tools(wanted):
    """Debian packages for the tools in {tool: package}, installed only when missing."""
    missing = [package for tool, package in wanted.items() if shutil.which(tool) is None]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log(f"installing {' '.join(missing)} with apt-get")
    subprocess.run(sudo + ["apt-get", "update"], check=True)
    subprocess.run(sudo + ["apt-get", "install", "-y", "--no-install-recommends"] + missing, check=True)


def parse_time(text):
    """ISO 8601 UTC as printed by `baton ... --json` ("...Z"), to epoch seconds."""
    if text is None or text == "":
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def percentile(values, fraction):
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values):
    return statistics.median(values) if values else None


def proc_cpu_seconds(pid):
    """(self utime+stime, reaped children's cutime+cstime) of a live process, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        text = stat.read()
    # Fields after the command name, which is in parentheses and may hold spaces:
    # [0] is field 3 (state), so utime (14) is [11], stime [12], cutime [13], cstime [14].
    fields = text[text.rindex(")") + 2:].split()
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    children = (int(fields[13]) + int(fields[14])) / CLOCK_TICKS
    return own, children


def fmt(value, spec, missing="—"):
    return missing if value is None else format(value, spec)


def verdict(ok):
    return "PASS" if ok else "MISS"


# ---------------------------------------------------------------- spawn ceiling


def build_spawn_loop(work_dir):
    binary = os.path.join(work_dir, "spawn_loop")
    subprocess.run(["g++", "-O2", "-std=c++17", "-o", binary, os.path.join(BENCH_DIR, "spawn_loop.cc")],
                   check=True)
    return binary


def measure_spawn_loop(binary, mode, count, parallelism):
    """One pass of the bare loop; the children's CPU is what the tasks cost by themselves."""
    out = subprocess.run([binary, "--mode", mode, "-n", str(count), "-j", str(parallelism)],
                         check=True, capture_output=True, text=True).stdout
    sample = json.loads(out)
    return {
        "wall": sample["seconds"],
        "per_second": sample["per_second"],
        "cpu_own": sample["self_cpu_seconds"],
        "cpu_total": sample["self_cpu_seconds"] + sample["children_cpu_seconds"],
        "child_cpu_per_spawn": sample["children_cpu_seconds"] / sample["spawns"],
    }
