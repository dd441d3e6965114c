#!/usr/bin/python3
"""Baton's local benchmark: the spawn ceiling of this machine, then the same
graphs of trivial tasks run by Baton (local executor), ninja and make, and a
40-task chain for end-to-end time and scheduling latency. Prints a table.

  bench/run_local.py [-j 8] [--baton build-bench/cli/baton] [--json out.json]

See bench/README.md for what each figure means and how it is measured.
Standard library only; installs ninja-build, make and g++ with apt-get when
missing (through sudo when not root).
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dag  # noqa: E402  (next to this file)
from bench_common import (  # noqa: E402
    BUILD_HINT, DEFAULT_BATON, BenchError, build_spawn_loop, ensure_tools, fmt, load_average, log, median,
    measure_spawn_loop, parse_time, percentile, proc_cpu_seconds, verdict)

TERMINAL_RUN_STATES = {"success", "failed"}


# ---------------------------------------------------------------- helpers


def run_measured(argv, stdout_path):
    """Runs argv to completion; returns (wall seconds, exit status, its own CPU
    seconds, CPU seconds of it and every descendant it waited for)."""
    with open(stdout_path, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        # Wait without reaping: a zombie's /proc/PID/stat still holds its own
        # utime/stime apart from its children's, which wait4's rusage merges.
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - start
        own, _ = proc_cpu_seconds(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
    return wall, process.returncode, own, usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- ninja and make


def measure_peer(name, tasks, parallelism, folder):
    """One run of the graph by ninja or make, in a fresh folder."""
    os.makedirs(folder)
    if name == "ninja":
        gen_dag.write(os.path.join(folder, "build.ninja"), gen_dag.build_ninja(tasks))
        argv = ["ninja", "-C", folder, "-j", str(parallelism)]
    else:
        gen_dag.write(os.path.join(folder, "Makefile"), gen_dag.makefile(tasks))
        # -r: no built-in implicit rules, as for any generated Makefile.
        argv = ["make", "-r", "-s", "--no-print-directory", "-C", folder, "-j", str(parallelism)]
    out_path = os.path.join(folder, "out.txt")
    wall, code, own_cpu, total_cpu = run_measured(argv, out_path)
    with open(out_path, encoding="utf-8", errors="replace") as out:
        output = out.read()
    if code != 0:
        raise BenchError(f"{' '.join(argv)} exited {code}:\n{output[-2000:]}")
    if name == "ninja" and f"[{len(tasks)}/{len(tasks)}]" not in output:
        raise BenchError(f"ninja did not run all {len(tasks)} edges:\n{output[-2000:]}")
    return {"wall": wall, "cpu_own": own_cpu, "cpu_total": total_cpu}


# ---------------------------------------------------------------- baton


class Baton:
    """A fresh BATON_HOME with its own scheduler, driven through the CLI."""

    def __init__(self, binary, home, parallelism, loop_interval):
        self.binary = binary
        self.home = home
        self.env = dict(os.environ, BATON_HOME=home)
        self.scheduler = None
        self.scheduler_log = os.path.join(home, "scheduler.log")
        self.stop_note = None
        os.makedirs(home)
        # Written before `db init`, which keeps an existing baton.toml.
        gen_dag.write(os.path.join(home, "baton.toml"), "\n".join([
            "# Benchmark configuration: a fast loop; every limit equals the benchmark's P.",
            "[core]",
            'dags_folder = "dags"',
            f"parallelism = {parallelism}",
            "[store]",
            'url = "sqlite:baton.db"',
            "[scheduler]",
            f'loop_interval = "{loop_interval}"',
            'heartbeat_interval = "1s"',
            'dag_dir_list_interval = "2s"',
            'kill_grace_period = "5s"',
            "[pools]",
            f"default_pool = {parallelism}",
            "",
        ]))

    def cli(self, *args, timeout=60, check=True):
        argv = [self.binary, *args]
        try:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"BATON_HOME={self.home} {' '.join(argv)} did not finish in {timeout} s")
        if check and done.returncode != 0:
            raise BenchError(f"BATON_HOME={self.home} {' '.join(argv)} exited {done.returncode}\n"
                             f"stdout: {done.stdout.strip()}\nstderr: {done.stderr.strip()}")
        return done

    def cli_json(self, *args):
        done = self.cli(*args)
        try:
            return json.loads(done.stdout)
        except json.JSONDecodeError as error:
            raise BenchError(f"baton {' '.join(args)}: not JSON ({error}): {done.stdout[:500]!r}")

    def start_scheduler(self):
        self.scheduler_log_file = open(self.scheduler_log, "wb")
        # Its own session: the benchmark alone decides when it stops (SIGTERM).
        self.scheduler = subprocess.Popen([self.binary, "scheduler"], env=self.env, cwd=self.home,
                                          stdout=self.scheduler_log_file, stderr=subprocess.STDOUT,
                                          start_new_session=True)

    def check_scheduler_alive(self):
        if self.scheduler is not None and self.scheduler.poll() is not None:
            raise BenchError(f"the scheduler exited with status {self.scheduler.returncode}; "
                             f"last lines of its log:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            with open(self.scheduler_log, encoding="utf-8", errors="replace") as log_file:
                return "".join(log_file.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop_scheduler(self, wait_seconds=60):
        if self.scheduler is None:
            return
        if self.scheduler.poll() is not None:
            self.stop_note = f"had already exited, status {self.scheduler.returncode}"
            self.scheduler_log_file.close()
            return
        started = time.monotonic()
        self.scheduler.send_signal(signal.SIGTERM)
        try:
            code = self.scheduler.wait(timeout=wait_seconds)
            self.stop_note = f"stopped by SIGTERM in {time.monotonic() - started:.2f} s, exit status {code}"
        except subprocess.TimeoutExpired:
            self.scheduler.kill()
            self.scheduler.wait()
            self.stop_note = f"did NOT stop within {wait_seconds} s of SIGTERM; killed with SIGKILL"
        self.scheduler_log_file.close()

    def runs(self, dag_id):
        return self.cli_json("runs", "list", "--dag", dag_id, "--json")

    def trigger(self, dag_id, retry_seconds=30):
        """Triggers dag_id; retries while the scheduler has not yet read the DAG
        file. Returns (run id, monotonic time just before the successful trigger)."""
        deadline = time.monotonic() + retry_seconds
        before = {run["run_id"] for run in self.runs(dag_id)}
        while True:
            self.check_scheduler_alive()
            sent = time.monotonic()
            done = self.cli("dags", "trigger", dag_id, check=False)
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"baton dags trigger {dag_id} kept failing for {retry_seconds} s: "
                                 f"exit {done.returncode}\nstdout: {done.stdout.strip()}\n"
                                 f"stderr: {done.stderr.strip()}")
            time.sleep(0.2)
        printed = done.stdout.strip().split()
        if printed and printed[-1] not in before:
            candidate = printed[-1]
        else:
            candidate = None
        new_runs = [run["run_id"] for run in self.runs(dag_id) if run["run_id"] not in before]
        if candidate in new_runs:
            return candidate, sent
        if len(new_runs) == 1:
            return new_runs[0], sent
        raise BenchError(f"cannot tell the new run of {dag_id}: trigger printed {done.stdout.strip()!r}, "
                         f"new runs {new_runs}")

    def wait_for_run(self, dag_id, run_id, timeout, poll_interval):
        """Polls `runs list` until the run is success or failed; returns (run, monotonic time seen)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_scheduler_alive()
            matches = [run for run in self.runs(dag_id) if run["run_id"] == run_id]
            seen = time.monotonic()
            if matches and str(matches[0]["state"]).lower() in TERMINAL_RUN_STATES:
                return matches[0], seen
            if seen > deadline:
                raise BenchError(self.hang_report(dag_id, run_id, timeout, matches))
            time.sleep(poll_interval)

    def task_states(self, dag_id, run_id):
        return self.cli_json("tasks", "states", dag_id, run_id, "--json")

    def hang_report(self, dag_id, run_id, timeout, matches):
        state = matches[0] if matches else "(run not listed)"
        try:
            counts = {}
            for task in self.task_states(dag_id, run_id):
                counts[task["state"]] = counts.get(task["state"], 0) + 1
        except BenchError as error:
            counts = f"(tasks states failed: {error})"
        return (f"run {dag_id} {run_id} not finished after {timeout} s\n"
                f"runs list: {json.dumps(state)}\ntask states: {counts}\n"
                f"scheduler log, last lines:\n{self.log_tail()}")

    def run_once(self, dag_id, timeout, poll_interval):
        """One triggered run, measured; raises BenchError unless every task succeeded."""
        own_before, children_before = proc_cpu_seconds(self.scheduler.pid)
        run_id, sent = self.trigger(dag_id)
        run, seen = self.wait_for_run(dag_id, run_id, timeout, poll_interval)
        own_after, children_after = proc_cpu_seconds(self.scheduler.pid)
        tasks = self.task_states(dag_id, run_id)
        not_ok = [t for t in tasks if t["state"] != "success"]
        if run["state"] != "success" or not_ok:
            raise BenchError(f"run {dag_id} {run_id} ended {run['state']}; tasks not in success: "
                             f"{len(not_ok)} of {len(tasks)}, e.g. {json.dumps(not_ok[:3])}\n"
                             f"scheduler log, last lines:\n{self.log_tail()}")
        start, end = parse_time(run["start_date"]), parse_time(run["end_date"])
        if start is None or end is None:
            raise BenchError(f"run {dag_id} {run_id} has no start_date or end_date: {json.dumps(run)}")
        return {
            "run_id": run_id,
            "duration": end - start,
            "wall": seen - sent,
            "scheduler_cpu": own_after - own_before,
            "scheduler_children_cpu": children_after - children_before,
            "run_start": start,
            "run_end": end,
            "tasks": tasks,
        }


def chain_breakdown(result, chain_ids):
    """Where the chain's time goes, from the recorded times of its task instances."""
    by_id = {t["task_id"]: t for t in result["tasks"]}
    starts = [parse_time(by_id[i]["start_date"]) for i in chain_ids]
    ends = [parse_time(by_id[i]["end_date"]) for i in chain_ids]
    gaps = [starts[k] - ends[k - 1] for k in range(1, len(chain_ids))]
    return {
        "gaps": gaps,
        "first_start_delay": starts[0] - result["run_start"],
        "last_end_to_run_end": result["run_end"] - ends[-1],
        "task_durations": [e - s for s, e in zip(starts, ends)],
    }


def start_baton(args, work_dir, report):
    """A fresh home and a warm scheduler: it has read every DAG file and run one
    task before anything is measured. Returns the Baton (the caller stops it)."""
    baton = Baton(args.baton, os.path.join(work_dir, "baton-home"), args.parallelism, args.loop_interval)
    try:
        baton.cli("db", "init")
        dags = os.path.join(baton.home, "dags")
        os.makedirs(dags, exist_ok=True)
        for dag_id, tasks in (("bench_warmup", [("only", [])]), ("bench_layered", args.layered_tasks),
                              ("bench_chain", args.chain_tasks)):
            gen_dag.write(os.path.join(dags, f"{dag_id}.toml"),
                          gen_dag.dag_toml(dag_id, tasks, max_active_tasks=args.parallelism))
        baton.start_scheduler()
        baton.run_once("bench_warmup", args.run_timeout, args.poll_interval)
    except BaseException:
        baton.stop_scheduler()  # the caller never sees this Baton: stop it here
        report["baton_stop"] = baton.stop_note
        raise
    return baton


def baton_layered_run(baton, args):
    result = baton.run_once("bench_layered", args.run_timeout, args.poll_interval)
    if len(result["tasks"]) != len(args.layered_tasks):
        raise BenchError(f"layered run has {len(result['tasks'])} task instances, "
                         f"expected {len(args.layered_tasks)}")
    return {
        "run_id": result["run_id"],
        "wall": result["duration"],
        "wall_trigger": result["wall"],
        "cpu_own": result["scheduler_cpu"],
        "cpu_total": result["scheduler_cpu"] + result["scheduler_children_cpu"],
    }


def baton_chain_run(baton, args):
    result = baton.run_once("bench_chain", args.run_timeout, args.poll_interval)
    result.update(chain_breakdown(result, [t for t, _ in args.chain_tasks]))
    result.pop("tasks")
    return result


def run_rounds(args, work_dir, spawn_loop, report):
    """Every runner once per round, the order rotated each round, so that a
    neighbour's load on a shared machine falls on all of them alike. Results go
    into `report` as they come. A failed Baton run is recorded and ends Baton's
    part of that workload (the chain is still tried after a failed layered
    run); the other runners carry on."""
    layered = report["layered"] = {name: [] for name in ("spawn", "fork", "ninja", "make", "baton")}
    chain = report["chain"] = {name: [] for name in ("ninja", "make", "baton")}
    errors = report["baton_errors"] = []
    baton = None
    try:
        if not args.skip_baton:
            try:
                baton = start_baton(args, work_dir, report)
            except BenchError as error:
                errors.append(f"setup: {error}")
        baton_layered = baton is not None
        n = len(args.layered_tasks)
        for round_index in range(args.rounds):
            runners = ["spawn", "fork", "ninja", "make", "baton"]
            shift = round_index % len(runners)
            for name in runners[shift:] + runners[:shift]:
                if name in ("spawn", "fork"):
                    layered[name].append(measure_spawn_loop(spawn_loop, name, n, args.parallelism))
                elif name in ("ninja", "make"):
                    folder = os.path.join(work_dir, f"layered-{name}-{round_index}")
                    layered[name].append(measure_peer(name, args.layered_tasks, args.parallelism, folder))
                elif baton_layered:
                    log(f"baton: layered run, round {round_index + 1}/{args.rounds}")
                    try:
                        layered["baton"].append(baton_layered_run(baton, args))
                    except BenchError as error:
                        errors.append(f"layered DAG: {error}")
                        baton_layered = False
        baton_chain = baton is not None
        for rep in range(args.chain_reps):
            for name in ("ninja", "make"):
                folder = os.path.join(work_dir, f"chain-{name}-{rep}")
                chain[name].append(measure_peer(name, args.chain_tasks, args.parallelism, folder))
            if baton_chain:
                log(f"baton: chain run {rep + 1}/{args.chain_reps}")
                try:
                    chain["baton"].append(baton_chain_run(baton, args))
                except BenchError as error:
                    errors.append(f"chain: {error}")
                    baton_chain = False
    finally:
        if baton is not None:
            baton.stop_scheduler()
            report["baton_stop"] = baton.stop_note
            if args.keep:
                log(f"kept {baton.home} (scheduler log: {baton.scheduler_log})")


# ---------------------------------------------------------------- report


def print_report(report, args):
    n = len(args.layered_tasks)
    P = args.parallelism
    layered = report.get("layered", {})
    chain = report.get("chain", {})
    print()
    print(f"Baton local benchmark, {report['date']}")
    print(f"host: {os.cpu_count()} CPUs; load average at start {report['load_start']}, at end {report['load_end']}")
    print(f"P = {P}; layered DAG {args.width} x {args.depth} = {n} tasks; chain of {args.chain_length}; "
          f"{args.rounds} rounds (median shown); baton loop_interval {args.loop_interval}")
    print()

    rates = {mode: median([s["per_second"] for s in layered.get(mode, [])]) for mode in ("spawn", "fork")}
    ceiling = max((r for r in rates.values() if r), default=None)
    child_cpu = median([s["child_cpu_per_spawn"] for mode in ("spawn", "fork") for s in layered.get(mode, [])])
    print(f"1. Spawn ceiling: bare loop of `/bin/sh -c true`, {n} spawns, {P} at once")
    for mode, label in (("spawn", "posix_spawn"), ("fork", "fork+exec")):
        if rates[mode]:
            print(f"   {label:<12}{rates[mode]:8.1f} spawns/s  (one every {1000 / rates[mode]:.2f} ms; "
                  f"rounds: {', '.join(format(s['per_second'], '.0f') for s in layered[mode])})")
    if ceiling:
        print(f"   ceiling     {ceiling:8.1f} spawns/s (the faster); one `sh -c true` costs "
              f"{child_cpu * 1000:.2f} ms CPU by itself")
    print()

    print(f"2. Layered DAG, {n} tasks, P = {P}")
    print(f"   {'runner':<31}{'wall s':>8}{'min-max':>13}{'tasks/s':>9}{'/ceiling':>10}{'/ninja':>8}"
          f"{'orch CPU':>10}{'total CPU':>11}   (CPU in ms/task)")
    ninja_wall = median([s["wall"] for s in layered.get("ninja", [])])
    rows = [
        ("baton (run start->end)", "baton", "wall", True),
        ("baton (trigger->seen done)", "baton", "wall_trigger", False),
        ("bare spawn loop (posix_spawn)", "spawn", "wall", True),
        ("bare spawn loop (fork+exec)", "fork", "wall", True),
        (f"ninja -j {P}", "ninja", "wall", True),
        (f"make -j {P}", "make", "wall", True),
    ]
    for label, name, key, with_cpu in rows:
        samples = layered.get(name, [])
        if not samples:
            print(f"   {label:<31}{'—':>8}   (not measured)")
            continue
        walls = [s[key] for s in samples]
        wall = median(walls)
        rate = n / wall
        own = median([s["cpu_own"] for s in samples]) if with_cpu else None
        total = median([s["cpu_total"] for s in samples]) if with_cpu else None
        spread = f"{min(walls):.2f}-{max(walls):.2f}"
        print(f"   {label:<31}{wall:8.2f}{spread:>13}{rate:9.1f}"
              f"{fmt(rate / ceiling if ceiling else None, '10.2f'):>10}"
              f"{fmt(wall / ninja_wall if ninja_wall else None, '8.2f'):>8}"
              f"{fmt(own * 1000 / n if own is not None else None, '10.2f'):>10}"
              f"{fmt(total * 1000 / n if total is not None else None, '11.2f'):>11}")
    baton_wall = median([s["wall"] for s in layered.get("baton", [])])
    if baton_wall and ninja_wall:
        ratio = baton_wall / ninja_wall
        print(f"   target: baton within 1.5x of ninja's wall time: {ratio:.2f}x  {verdict(ratio <= 1.5)}")
        # Round by round, baton and ninja ran minutes apart at most: their ratio is
        # steadier than the ratio of medians when a neighbour's load comes and goes.
        paired = [b["wall"] / k["wall"] for b, k in zip(layered["baton"], layered["ninja"])]
        print(f"   baton / ninja round by round: {', '.join(f'{x:.2f}' for x in paired)} "
              f"(median {median(paired):.2f})")
    print("   orch CPU: the scheduler's, ninja's, make's or the loop's own utime+stime (/proc/PID/stat),")
    print("   without its children; total CPU: with the tasks it reaped.")
    print()

    print(f"3. Chain of {args.chain_length} tasks, end to end (median of {args.chain_reps} runs)")
    baton_chain = chain.get("baton", [])
    if baton_chain:
        durations = [r["duration"] for r in baton_chain]
        d = median(durations)
        print(f"   baton run start->end      {d:.3f} s  (runs: {', '.join(f'{x:.3f}' for x in durations)})"
              f"  target < 1 s: {verdict(d < 1.0)}")
        print(f"   baton trigger->seen done  {median([r['wall'] for r in baton_chain]):.3f} s")
        print(f"   where baton's time goes (medians): run start -> first task start "
              f"{median([r['first_start_delay'] for r in baton_chain]) * 1000:.1f} ms; each task "
              f"{median([x for r in baton_chain for x in r['task_durations']]) * 1000:.1f} ms; "
              f"last task end -> run end {median([r['last_end_to_run_end'] for r in baton_chain]) * 1000:.1f} ms")
    else:
        print("   baton: no completed run (see errors below)")
    for name in ("ninja", "make"):
        if chain.get(name):
            print(f"   {name + ' -j ' + str(P):<25} {median([s['wall'] for s in chain[name]]):.3f} s")
    print("   published, same shape, context only: Airflow 2.7.3 about 116 s, Hatchet about 1.2 s")
    print()

    print("4. Scheduling latency on the chain: upstream end_date -> downstream start_date")
    gaps = [g for r in baton_chain for g in r["gaps"]]
    if gaps:
        p50, p99 = percentile(gaps, 0.50), percentile(gaps, 0.99)
        print(f"   {len(gaps)} samples: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
              f"max {max(gaps) * 1000:.1f} ms   target p50 < 20 ms: {verdict(p50 < 0.020)}")
    else:
        print("   no samples")
    print()
    if report.get("baton_stop"):
        print(f"baton scheduler: {report['baton_stop']}")
    for error in report.get("baton_errors", []):
        print(f"BATON ERROR: {error}")


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-j", "--parallelism", type=int, default=8, help="P for every runner (default 8)")
    parser.add_argument("--baton", default=os.environ.get("BATON_BIN", DEFAULT_BATON),
                        help="the baton binary (default $BATON_BIN or build-bench/cli/baton)")
    parser.add_argument("--width", type=int, default=50)
    parser.add_argument("--depth", type=int, default=40)
    parser.add_argument("--chain-length", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3,
                        help="layered DAG: runs of each runner, interleaved (default 3)")
    parser.add_argument("--chain-reps", type=int, default=5)
    parser.add_argument("--loop-interval", default="100ms", help="baton's scheduler.loop_interval")
    parser.add_argument("--poll-interval", type=float, default=0.1, help="seconds between `runs list` polls")
    parser.add_argument("--run-timeout", type=float, default=300, help="give up on a baton run after this")
    parser.add_argument("--skip-baton", action="store_true", help="only the spawn loop, ninja and make")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--json", help="also write every measurement to this file")
    args = parser.parse_args()
    args.baton = os.path.abspath(args.baton)
    if not args.skip_baton and not os.access(args.baton, os.X_OK):
        log(f"no baton binary at {args.baton}; build it with:\n  {BUILD_HINT}")
        return 2
    if min(args.parallelism, args.width, args.depth, args.chain_length, args.rounds, args.chain_reps) < 1:
        log("-j, sizes, --rounds and --chain-reps must be positive")
        return 2

    # SIGTERM to the benchmark unwinds through the finally blocks, which stop the scheduler.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_tools({"ninja": "ninja-build", "make": "make", "g++": "g++"})
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": load_average(),
    }
    args.layered_tasks = gen_dag.layered_graph(args.width, args.depth)
    args.chain_tasks = gen_dag.chain_graph(args.chain_length)
    work_dir = tempfile.mkdtemp(prefix="baton-bench-")
    try:
        spawn_loop = build_spawn_loop(work_dir)
        run_rounds(args, work_dir, spawn_loop, report)
    except (KeyboardInterrupt, SystemExit):
        log(f"interrupted; baton scheduler: {report.get('baton_stop') or 'not started'}")
        raise
    finally:
        report["load_end"] = load_average()
        if args.keep:
            log(f"kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print_report(report, args)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("layered_tasks", "chain_tasks")}
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"settings": settings, **report}, out, indent=2)
    return 1 if report.get("baton_errors") else 0


if __name__ == "__main__":
    sys.exit(main())
