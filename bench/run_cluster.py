#!/usr/bin/python3
"""Baton's cluster benchmark: the same batch of N independent `true` tasks run
on this machine three ways, at the same parallelism P:

  1. Baton with the Redis executor: a MariaDB store, a scheduler and K agents
     (`baton agent --concurrency P/K`), one DAG of N tasks triggered once;
  2. Celery 5.2 (Debian's python3-celery): a prefork worker of P processes on
     the same Redis server (another database), the N tasks sent by a producer;
  3. the bare spawn loop (bench/spawn_loop.cc), P at a time: the ceiling.

For each: tasks per second, the fraction of the ceiling, the orchestrator's own
CPU time per task, and the CPU time per task of Redis and MariaDB. Then the
pickup latency with one task at a time: from the moment Redis executes the
LPUSH of a task's message to the moment the task starts on a worker.

  bench/run_cluster.py [-n 2000] [-j 8] [--agents 2] [--json bench/out/cluster.json]

Real servers on loopback, from tests/integration/servers.py; the Baton cluster
is tests/integration/cluster.py's Cluster. See bench/README.md for what each
figure means. /usr/bin/python3 with Debian's python3-celery and python3-redis;
g++ for the spawn loop (installed with apt-get when missing).
"""

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # keep bench/ and tests/ free of __pycache__
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), "tests", "integration"))
import gen_dag  # noqa: E402  (next to this file)
from bench_common import (  # noqa: E402
    BUILD_HINT, CLOCK_TICKS, DEFAULT_BATON, BenchError, build_spawn_loop, ensure_tools, fmt, load_average, log,
    median, measure_spawn_loop, parse_time, percentile, proc_cpu_seconds, verdict)

PYTHON = "/usr/bin/python3"  # Debian's, where python3-celery lives
TERMINAL_RUN_STATES = {"success", "failed"}
DEFAULT_JSON = os.path.join(BENCH_DIR, "out", "cluster-{stamp}.json")
# The targets from the issue, printed beside the figures.
TARGET_CEILING_FRACTION = 0.90
TARGET_CPU_FRACTION_OF_CELERY = 1 / 5


# ---------------------------------------------------------------- processes


def children_of(pid):
    """Pids of the live direct children of `pid`."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as listed:
            return [int(p) for p in listed.read().split()]
    except OSError:
        return []


def process_cpu(pids):
    """{pid: (own utime+stime, reaped children's cutime+cstime)} in seconds, of live processes."""
    cpu = {}
    for pid in pids:
        try:
            cpu[pid] = proc_cpu_seconds(pid)
        except OSError:
            raise BenchError(f"process {pid} is gone: it cannot be measured")
    return cpu


def thread_cpu(pid):
    """{thread id: (utime, stime)} in seconds, of every live thread of `pid`."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue  # ended while we looked
        fields = text[text.rindex(")") + 2:].split()
        threads[int(tid)] = (int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS)
    return threads


def thread_delta(pid, before, after):
    """[(name, utime, stime)] of the threads that ran between two thread_cpu reads,
    busiest first; the main thread (tid == pid) is named "main"."""
    rows = []
    for tid, (utime, stime) in after.items():
        was = before.get(tid, (0.0, 0.0))
        rows.append(("main" if tid == pid else f"t{tid}", utime - was[0], stime - was[1]))
    return sorted(rows, key=lambda row: -(row[1] + row[2]))


def children_cpu():
    """CPU seconds of every child this benchmark has reaped so far (a CLI call, a producer)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ServerCpu:
    """CPU seconds Redis and MariaDB spent between two reads."""

    def __init__(self, redis, mariadb):
        self.redis = redis
        self.mariadb = mariadb

    def read(self):
        return {"redis": self.redis.cpu_seconds(), "mariadb": self.mariadb.cpu_seconds()}

    @staticmethod
    def delta(before, after):
        return {name: after[name] - before[name] for name in before}


class NoServer:
    """Stands for MariaDB when Baton is skipped: no CPU time."""

    def cpu_seconds(self):
        return 0.0


# ---------------------------------------------------------------- Redis MONITOR


class RedisMonitor:
    """Every LPUSH the Redis server executes, with the server's own timestamp.

    MONITOR streams each command as Redis executes it, stamped with the server's
    gettimeofday(): the moment a pushed message can be taken. Kept for as long as
    the monitor runs; meant for a few hundred commands, not a throughput test
    (every command is then also written to this connection).
    """

    LINE = re.compile(r'^\+(\d+\.\d+) \[(\d+) [^\]]*\] "LPUSH" "((?:[^"\\]|\\.)*)" (.*)$')

    def __init__(self, port):
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.connection.sendall(b"MONITOR\r\n")
        self.stream = self.connection.makefile("rb")
        if self.stream.readline() != b"+OK\r\n":
            raise BenchError("Redis did not accept MONITOR")
        self.connection.settimeout(None)
        self.pushes = []  # (timestamp, db, key, rest of the line: the values, quoted)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for raw in self.stream:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                match = self.LINE.match(line)
                if match:
                    self.pushes.append((float(match[1]), int(match[2]), match[3], match[4]))
        except (OSError, ValueError):
            pass  # closed by stop()

    def stop(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()
        self.thread.join(timeout=10)
        return self.pushes


# ---------------------------------------------------------------- Celery


class CeleryWorker:
    """One `celery -A celery_tasks worker --pool=prefork --concurrency=P` and its record file."""

    def __init__(self, work_dir, broker_url, parallelism):
        self.parallelism = parallelism
        self.record_path = os.path.join(work_dir, "celery-record.txt")
        self.ready_path = os.path.join(work_dir, "celery-ready")
        self.log_path = os.path.join(work_dir, "celery-worker.log")
        self.env = dict(os.environ, BENCH_CELERY_BROKER=broker_url, BENCH_CELERY_RECORD=self.record_path,
                        BENCH_CELERY_READY=self.ready_path, PYTHONDONTWRITEBYTECODE="1")
        self.process = None
        self.stop_note = None

    def start(self, timeout=120):
        # Gossip and mingle keep several workers in step; one worker has no peer,
        # so they only add start-up time and broadcasts.
        argv = [PYTHON, "-m", "celery", "-A", "celery_tasks", "worker", "--pool=prefork",
                f"--concurrency={self.parallelism}", "--loglevel=WARNING", "--without-gossip", "--without-mingle"]
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(argv, cwd=BENCH_DIR, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ready_path):
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"the Celery worker was not ready within {timeout} s:\n{self.log_tail()}")
            time.sleep(0.1)
        pool = self.pool_pids()
        if len(pool) != self.parallelism:
            raise BenchError(f"the Celery worker has {len(pool)} pool processes, expected {self.parallelism}")

    def check_alive(self):
        if self.process is not None and self.process.poll() is not None:
            raise BenchError(f"the Celery worker exited with status {self.process.returncode}:\n{self.log_tail()}")

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as out:
                return "".join(out.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def pool_pids(self):
        """The pool processes: the main process's children while no task runs."""
        return sorted(children_of(self.process.pid))

    def produce(self, mode, count, mark, timeout):
        """Runs a producer (celery_tasks.py MODE); returns its JSON and its whole CPU time."""
        cpu_before = children_cpu()
        argv = [PYTHON, os.path.join(BENCH_DIR, "celery_tasks.py"), mode, "--count", str(count), "--mark", mark]
        try:
            done = subprocess.run(argv, cwd=BENCH_DIR, env=self.env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{' '.join(argv)} did not finish within {timeout} s\nworker log:\n{self.log_tail()}")
        if done.returncode != 0:
            raise BenchError(f"{' '.join(argv)} exited {done.returncode}\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout)
        result["process_cpu"] = children_cpu() - cpu_before
        return result

    def records(self, mark):
        """{index: (start, end, exit status)} of the tasks of `mark` recorded so far."""
        found = {}
        try:
            with open(self.record_path, encoding="ascii") as record:
                for line in record:
                    fields = line.split()
                    if len(fields) == 4 and fields[0].startswith(mark + ":"):
                        index = int(fields[0][len(mark) + 1:])
                        if index in found:
                            raise BenchError(f"Celery ran task {fields[0]} twice")
                        found[index] = (float(fields[1]), float(fields[2]), int(fields[3]))
        except FileNotFoundError:
            pass
        return found

    def wait_for(self, mark, count, timeout, poll_interval=0.05):
        deadline = time.monotonic() + timeout
        while True:
            found = self.records(mark)
            if len(found) >= count:
                return found
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"Celery ran {len(found)} of {count} tasks of {mark} within {timeout} s\n"
                                 f"worker log:\n{self.log_tail()}")
            time.sleep(poll_interval)

    def stop(self, wait_seconds=30):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # warm shutdown
        try:
            code = self.process.wait(timeout=wait_seconds)
            self.stop_note = f"stopped by SIGTERM, exit status {code}"
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.stop_note = f"did NOT stop within {wait_seconds} s of SIGTERM; killed with SIGKILL"


def celery_batch(worker, servers, args, mark):
    """N tasks sent back to back; from the first send to the last task's end."""
    main_pid = worker.process.pid
    pool = worker.pool_pids()
    pids = [main_pid] + pool
    cpu_before = process_cpu(pids)
    server_before = servers.read()
    produced = worker.produce("batch", args.tasks, mark, args.run_timeout)
    records = worker.wait_for(mark, args.tasks, args.run_timeout)
    time.sleep(args.settle)  # the worker's bookkeeping of the last task
    cpu_after = process_cpu(pids)
    server = ServerCpu.delta(server_before, servers.read())
    if worker.pool_pids() != pool:
        raise BenchError("the Celery pool changed during the batch: its CPU time cannot be told apart")
    failed = sum(1 for _, _, status in records.values() if status != 0)
    if failed:
        raise BenchError(f"{failed} of {args.tasks} Celery tasks exited non-zero")
    first_start = min(start for start, _, _ in records.values())
    last_end = max(end for _, end, _ in records.values())
    return {
        "wall": last_end - produced["first_send"],
        "send_seconds": produced["last_send"] - produced["first_send"],
        "first_send_to_first_start": first_start - produced["first_send"],
        "cpu_main": cpu_after[main_pid][0] - cpu_before[main_pid][0],
        "cpu_pool": sum(cpu_after[p][0] - cpu_before[p][0] for p in pool),
        "cpu_own": sum(cpu_after[p][0] - cpu_before[p][0] for p in pids),
        # The pool processes reap the tasks, and reap nothing else.
        "cpu_tasks": sum(cpu_after[p][1] - cpu_before[p][1] for p in pool),
        "producer_send_cpu": produced["producer_cpu"],
        "producer_process_cpu": produced["process_cpu"],
        "redis_cpu": server["redis"],
        "mariadb_cpu": server["mariadb"],
        "load": load_average(),
    }


def celery_latency(worker, redis, args):
    """One task at a time: Redis's LPUSH of each message -> its task body starting."""
    monitor = RedisMonitor(redis.port)
    try:
        produced = worker.produce("sequential", args.latency_tasks, "latency",
                                  timeout=args.run_timeout + 30 * args.latency_tasks)
    finally:
        pushes = monitor.stop()
    records = worker.records("latency")
    pushes = [p for p in pushes if p[1] == args.celery_db and p[2] == "celery"]
    if len(pushes) != args.latency_tasks or len(records) != args.latency_tasks:
        raise BenchError(f"Celery latency: {len(pushes)} LPUSHes seen and {len(records)} tasks recorded, "
                         f"expected {args.latency_tasks} of each")
    # One task at a time: the i-th push carried task i.
    return {
        "pickup": [records[i][0] - pushes[i][0] for i in range(args.latency_tasks)],
        "send_to_start": [records[i][0] - produced["sends"][i] for i in range(args.latency_tasks)],
    }


# ---------------------------------------------------------------- Baton


def import_cluster(baton_binary):
    """tests/integration/cluster.py, with its harness pointed at `baton_binary`."""
    os.environ["BATON_BIN"] = baton_binary  # read by harness.py when imported
    import cluster
    return cluster


class BatonCluster:
    """A Cluster (tests/integration/cluster.py) set up for the benchmark: every
    limit equals P, the scheduler's intervals are run_local.py's, logging at info."""

    WARMUP_DAG = "bench_warmup"
    BATCH_DAG = "bench_batch"
    CHAIN_DAG = "bench_chain"

    def __init__(self, cluster_module, owner, mariadb, redis, args):
        limit = args.parallelism
        settings = {
            "core": {"parallelism": limit},
            "scheduler": {
                "loop_interval": args.loop_interval,
                "heartbeat_interval": "1s",
                "health_threshold": "30s",
                "dag_dir_list_interval": "2s",
                "kill_grace_period": "5s",
            },
            "redis": {"requeue_check_interval": "10s"},
            "agent": {"heartbeat_interval": "5s", "kill_grace_period": "5s"},
            "pools": {"default_pool": limit},
            "logging": {"level": "info"},
        }
        self.args = args
        self.cluster = cluster_module.Cluster(owner, mariadb=mariadb, redis=redis, settings=settings,
                                              key_prefix="baton")
        c = self.cluster
        c.write_dag(self.WARMUP_DAG, gen_dag.dag_toml(
            self.WARMUP_DAG, [(f"w{i}", []) for i in range(2 * limit)], max_active_tasks=limit))
        c.write_dag(self.BATCH_DAG, gen_dag.dag_toml(
            self.BATCH_DAG, flat_graph(args.tasks), max_active_tasks=limit))
        c.write_dag(self.CHAIN_DAG, gen_dag.dag_toml(
            self.CHAIN_DAG, gen_dag.chain_graph(args.latency_tasks), max_active_tasks=limit))

    def start(self):
        c = self.cluster
        c.start_scheduler()
        for name, concurrency in agent_slots(self.args.parallelism, self.args.agents):
            c.start_agent(name, "--concurrency", concurrency, wait_ready=False)
        for name, _ in agent_slots(self.args.parallelism, self.args.agents):
            c.wait_for_agent(name)
        c.wait_for_dags(self.WARMUP_DAG, self.BATCH_DAG, self.CHAIN_DAG, timeout=60)
        self.run(self.WARMUP_DAG)

    def pids(self):
        return {"scheduler": self.cluster.scheduler.pid,
                **{name: agent.pid for name, agent in self.cluster.agents.items()}}

    def run(self, dag_id):
        """Triggers dag_id and waits for the run's end; returns what was seen."""
        c = self.cluster
        client_before = children_cpu()
        sent = time.time()
        run_id = c.trigger(dag_id)
        trigger_cpu = children_cpu() - client_before
        deadline = time.monotonic() + self.args.run_timeout
        while True:
            run = c.run_record(dag_id, run_id)
            if run is not None and run["state"] in TERMINAL_RUN_STATES:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"run {dag_id} {run_id} not finished after {self.args.run_timeout} s: "
                                 f"{json.dumps(run)}; tasks by state: {self.state_counts(dag_id, run_id)}")
            c.assert_daemons_alive()
            time.sleep(self.args.poll_interval)
        seen = time.time()
        tasks = c.task_states(dag_id, run_id)
        not_ok = {t: s["state"] for t, s in tasks.items() if s["state"] != "success"}
        if run["state"] != "success" or not_ok:
            raise BenchError(f"run {dag_id} {run_id} ended {run['state']}; {len(not_ok)} of {len(tasks)} "
                             f"task instances not in success, e.g. {dict(list(not_ok.items())[:3])}")
        return {"run_id": run_id, "run": run, "tasks": tasks, "sent": sent, "seen": seen,
                "trigger_cpu": trigger_cpu}

    # Log lines worth counting per batch: messages the scheduler's requeue check
    # took for lost and pushed again, and messages agents dropped unclaimed.
    LOG_EVENTS = {"pushed_again": re.compile(r"was lost \(Redis flushed|(\d+) more lost messages pushed again"),
                  "dropped": re.compile(r"dropping (the|a duplicate) message")}

    def log_events(self):
        """{event: lines so far} over the scheduler's and the agents' output."""
        counts = dict.fromkeys(self.LOG_EVENTS, 0)
        texts = [self.cluster.scheduler_output()] + [agent.output() for agent in self.cluster.agents.values()]
        for text in texts:
            for line in text.splitlines():
                for event, pattern in self.LOG_EVENTS.items():
                    match = pattern.search(line)
                    if match:
                        counts[event] += int(match[1]) if event == "pushed_again" and match[1] else 1
        return counts

    def state_counts(self, dag_id, run_id):
        counts = {}
        for row in self.cluster.sql(f"SELECT state FROM task_instance WHERE dag_id = '{dag_id}' "
                                    f"AND run_id = '{run_id}'"):
            counts[row[0]] = counts.get(row[0], 0) + 1
        return counts

    def tasks_per_agent(self, dag_id, run_id):
        rows = self.cluster.sql(
            "SELECT j.name, COUNT(*) FROM task_instance t JOIN job j ON j.id = t.owner_job_id "
            f"WHERE t.dag_id = '{dag_id}' AND t.run_id = '{run_id}' GROUP BY j.name ORDER BY j.name")
        return {name: int(count) for name, count in rows}


def flat_graph(count):
    """`count` tasks without dependencies: [(task_id, [])]."""
    width = len(str(count - 1))
    return [(f"t{k:0{width}d}", []) for k in range(count)]


def agent_slots(parallelism, agents):
    """[(name, concurrency)]: P slots spread over K agents a1..aK."""
    return [(f"a{i + 1}", parallelism // agents + (1 if i < parallelism % agents else 0)) for i in range(agents)]


def baton_batch(baton, servers, args):
    """The N-task DAG, triggered once; its recorded run times and the CPU it cost."""
    pids = baton.pids()
    cpu_before = process_cpu(pids.values())
    threads_before = {role: thread_cpu(pid) for role, pid in pids.items()}
    server_before = servers.read()
    events_before = baton.log_events()
    seen = baton.run(BatonCluster.BATCH_DAG)
    time.sleep(args.settle)
    cpu_after = process_cpu(pids.values())
    threads_after = {role: thread_cpu(pid) for role, pid in pids.items()}
    server = ServerCpu.delta(server_before, servers.read())
    tasks = seen["tasks"]
    if len(tasks) != args.tasks:
        raise BenchError(f"the batch run has {len(tasks)} task instances, expected {args.tasks}")
    run_start, run_end = parse_time(seen["run"]["start_date"]), parse_time(seen["run"]["end_date"])
    starts = [parse_time(t["start_date"]) for t in tasks.values()]
    ends = [parse_time(t["end_date"]) for t in tasks.values()]
    by_role = {role: cpu_after[pid][0] - cpu_before[pid][0] for role, pid in pids.items()}
    return {
        "run_id": seen["run_id"],
        "wall": run_end - run_start,
        "wall_trigger": run_end - seen["sent"],
        "wall_tasks": max(ends) - min(starts),
        "wall_seen": seen["seen"] - seen["sent"],
        "run_start_to_first_task": min(starts) - run_start,
        "last_task_to_run_end": run_end - max(ends),
        "cpu_scheduler": by_role["scheduler"],
        "cpu_agents": {role: cpu for role, cpu in by_role.items() if role != "scheduler"},
        "cpu_own": sum(by_role.values()),
        "cpu_threads": {role: thread_delta(pid, threads_before[role], threads_after[role])
                        for role, pid in pids.items()},
        # The agents reap the tasks, and reap nothing else.
        "cpu_tasks": sum(cpu_after[pid][1] - cpu_before[pid][1] for role, pid in pids.items()
                         if role != "scheduler"),
        "trigger_cpu": seen["trigger_cpu"],
        "redis_cpu": server["redis"],
        "mariadb_cpu": server["mariadb"],
        "tasks_per_agent": baton.tasks_per_agent(BatonCluster.BATCH_DAG, seen["run_id"]),
        "log_events": {event: count - events_before[event] for event, count in baton.log_events().items()},
        "load": load_average(),
    }


# In MONITOR's quoting of the message ({\"task_id\":\"c007\",...}); ids here hold no quotes.
TASK_ID_IN_MESSAGE = re.compile(r'\\"task_id\\":\\"([^"\\]*)\\"')
DAG_ID_IN_MESSAGE = re.compile(r'\\"dag_id\\":\\"([^"\\]*)\\"')


def baton_latency(baton, redis, args):
    """The chain of L tasks: each is queued only once the one before it ended, so
    one task at a time. Pickup: Redis's LPUSH of its message -> its try's
    start_date (the agent's clock as it claims it, queued -> running)."""
    monitor = RedisMonitor(redis.port)
    try:
        seen = baton.run(BatonCluster.CHAIN_DAG)
    finally:
        pushes = monitor.stop()
    queue_key = f"{baton.cluster.key_prefix}:queue:default"
    pushed = {}
    for timestamp, db, key, values in pushes:
        if db != 0 or key != queue_key:
            continue
        dag = DAG_ID_IN_MESSAGE.search(values)
        task = TASK_ID_IN_MESSAGE.search(values)
        if dag and task and dag[1] == BatonCluster.CHAIN_DAG:
            pushed.setdefault(task[1], timestamp)  # a message pushed again: the first counts
    ids = [task_id for task_id, _ in gen_dag.chain_graph(args.latency_tasks)]
    missing = [t for t in ids if t not in pushed]
    if missing:
        sample = [f"{db} {key} {values[:160]}" for _, db, key, values in pushes[:3]]
        raise BenchError(f"no LPUSH to {queue_key} seen for {len(missing)} tasks, e.g. {missing[:3]}; "
                         f"{len(pushes)} LPUSHes in all, e.g. {sample}")
    tasks = seen["tasks"]
    starts = [parse_time(tasks[t]["start_date"]) for t in ids]
    ends = [parse_time(tasks[t]["end_date"]) for t in ids]
    return {
        "pickup": [starts[i] - pushed[t] for i, t in enumerate(ids)],
        # Upstream end -> the downstream's message in Redis: the scheduler's part.
        "end_to_push": [pushed[ids[i]] - ends[i - 1] for i in range(1, len(ids))],
        "end_to_start": [starts[i] - ends[i - 1] for i in range(1, len(ids))],
    }


# ---------------------------------------------------------------- rounds


def run_all(args, work_dir, report):
    """Servers, then every way once per round (the order rotated), then the
    latency runs. Failures of one way are recorded and end that way's part."""
    from servers import MariaDbServer, RedisServer  # tests/integration/servers.py

    errors = report["errors"] = []
    throughput = report["throughput"] = {name: [] for name in ("spawn", "fork", "celery", "baton")}
    latency = report["latency"] = {}
    cluster_module = None if args.skip_baton else import_cluster(args.baton)
    owner = cluster_module.StandaloneOwner() if cluster_module else None
    redis = mariadb = worker = baton = None
    failed = False
    try:
        spawn_loop = build_spawn_loop(work_dir)
        redis = RedisServer()
        mariadb = MariaDbServer() if not args.skip_baton else None
        servers = ServerCpu(redis, mariadb) if mariadb else ServerCpu(redis, NoServer())
        report["servers"] = {"redis": redis.url(), "mariadb": mariadb.url() if mariadb else None}

        if not args.skip_celery:
            log(f"celery: starting a prefork worker of {args.parallelism}")
            worker = CeleryWorker(work_dir, redis.url(args.celery_db), args.parallelism)
            try:
                worker.start()
                celery_warmup(worker, args)
            except BenchError as error:
                errors.append(f"celery setup: {error}")
                worker.stop()
                worker = None
        if not args.skip_baton:
            log(f"baton: starting a scheduler and {args.agents} agents")
            try:
                baton = BatonCluster(cluster_module, owner, mariadb, redis, args)
                baton.start()
            except (BenchError, AssertionError) as error:
                errors.append(f"baton setup: {error}")
                baton = None

        for round_index in range(args.rounds):
            ways = ["spawn", "fork", "celery", "baton"]
            shift = round_index % len(ways)
            for name in ways[shift:] + ways[:shift]:
                if name in ("spawn", "fork"):
                    throughput[name].append(measure_spawn_loop(spawn_loop, name, args.tasks, args.parallelism))
                elif name == "celery" and worker is not None:
                    log(f"celery: batch of {args.tasks}, round {round_index + 1}/{args.rounds}")
                    try:
                        throughput["celery"].append(celery_batch(worker, servers, args, f"round{round_index}"))
                    except BenchError as error:
                        errors.append(f"celery batch: {error}")
                        worker.stop()
                        worker = None
                elif name == "baton" and baton is not None:
                    log(f"baton: batch of {args.tasks}, round {round_index + 1}/{args.rounds}")
                    try:
                        throughput["baton"].append(baton_batch(baton, servers, args))
                    except (BenchError, AssertionError) as error:
                        errors.append(f"baton batch: {error}")
                        baton = None

        if worker is not None:
            log(f"celery: {args.latency_tasks} tasks one at a time")
            try:
                latency["celery"] = celery_latency(worker, redis, args)
            except BenchError as error:
                errors.append(f"celery latency: {error}")
        if baton is not None:
            log(f"baton: a chain of {args.latency_tasks} tasks")
            try:
                latency["baton"] = baton_latency(baton, redis, args)
            except (BenchError, AssertionError) as error:
                errors.append(f"baton latency: {error}")
    except BaseException:
        failed = True
        raise
    finally:
        if worker is not None:
            worker.stop()
            report["celery_stop"] = worker.stop_note
        if owner is not None:
            owner.close(failed=failed)  # daemons and the cluster's directory; its logs when this crashed
        for server in (redis, mariadb):
            if server is not None:
                server.close()


def celery_warmup(worker, args):
    """Every pool process imports what it needs and opens the record file."""
    count = 4 * args.parallelism
    worker.produce("batch", count, "warmup", args.run_timeout)
    worker.wait_for("warmup", count, args.run_timeout)


# ---------------------------------------------------------------- report


def per_task_ms(seconds, count):
    return None if seconds is None else seconds * 1000 / count


def print_report(report, args):
    n = args.tasks
    P = args.parallelism
    t = report.get("throughput", {})
    print()
    print(f"Baton cluster benchmark, {report['date']}")
    print(f"host: {os.cpu_count()} CPUs; load average at start {report['load_start']}, at end {report['load_end']}")
    slots = " + ".join(str(c) for _, c in agent_slots(P, args.agents))
    print(f"N = {n} independent tasks `/bin/sh -c true`; P = {P}: baton {args.agents} agents ({slots}), "
          f"core.parallelism {P}; celery prefork {P}; spawn loop {P} at once")
    print(f"{args.rounds} rounds, order rotated, median shown; baton loop_interval {args.loop_interval}")
    print()

    rates = {mode: median([s["per_second"] for s in t.get(mode, [])]) for mode in ("spawn", "fork")}
    ceiling = max((r for r in rates.values() if r), default=None)
    child_cpu = median([s["child_cpu_per_spawn"] for mode in ("spawn", "fork") for s in t.get(mode, [])])
    print(f"1. Throughput, {n} tasks, P = {P}")
    print(f"   {'way':<40}{'wall s':>8}{'min-max':>13}{'tasks/s':>9}{'/ceiling':>10}"
          f"{'orch CPU':>10}{'redis':>8}{'mariadb':>9}{'tasks':>7}{'all':>7}   (CPU in ms/task)")
    rows = [
        ("spawn loop, posix_spawn", "spawn", "wall", True),
        ("spawn loop, fork+exec", "fork", "wall", True),
        ("baton: run start -> run end", "baton", "wall", True),
        ("baton: trigger command -> run end", "baton", "wall_trigger", False),
        ("baton: first task start -> last task end", "baton", "wall_tasks", False),
        ("celery: first send -> last task end", "celery", "wall", True),
    ]
    for label, name, key, with_cpu in rows:
        samples = t.get(name, [])
        if not samples:
            print(f"   {label:<40}{'—':>8}   (not measured)")
            continue
        walls = [s[key] for s in samples]
        wall = median(walls)
        rate = n / wall
        own = redis_cpu = db_cpu = tasks_cpu = everything = None
        if with_cpu:
            own = median([s["cpu_own"] for s in samples])
            if name in ("spawn", "fork"):
                tasks_cpu = median([s["cpu_total"] - s["cpu_own"] for s in samples])
            else:
                redis_cpu = median([s["redis_cpu"] for s in samples])
                tasks_cpu = median([s["cpu_tasks"] for s in samples])
            if name == "baton":
                db_cpu = median([s["mariadb_cpu"] for s in samples])
            # What the machine spent on the batch, round by round, then the median.
            everything = median([s["cpu_own"] + s.get("redis_cpu", 0) + s.get("mariadb_cpu", 0)
                                 + (s["cpu_tasks"] if "cpu_tasks" in s else s["cpu_total"] - s["cpu_own"])
                                 for s in samples])
        print(f"   {label:<40}{wall:8.2f}{f'{min(walls):.2f}-{max(walls):.2f}':>13}{rate:9.1f}"
              f"{fmt(rate / ceiling if ceiling else None, '10.2f'):>10}"
              f"{fmt(per_task_ms(own, n), '10.3f'):>10}{fmt(per_task_ms(redis_cpu, n), '8.3f'):>8}"
              f"{fmt(per_task_ms(db_cpu, n), '9.3f'):>9}{fmt(per_task_ms(tasks_cpu, n), '7.2f'):>7}"
              f"{fmt(per_task_ms(everything, n), '7.2f'):>7}")
    if ceiling:
        print(f"   ceiling: {ceiling:.1f} spawns/s (the faster loop); one `sh -c true` costs "
              f"{child_cpu * 1000:.2f} ms CPU by itself")

    baton_rows, celery_rows = t.get("baton", []), t.get("celery", [])
    if baton_rows:
        agents = sorted(baton_rows[0]["cpu_agents"])
        agent_cpu = ", ".join(f"{a} {per_task_ms(median([s['cpu_agents'][a] for s in baton_rows]), n):.3f}"
                              for a in agents)
        split = ", ".join(f"{a} {c}" for a, c in baton_rows[-1]["tasks_per_agent"].items())
        print(f"   baton orch CPU: scheduler {per_task_ms(median([s['cpu_scheduler'] for s in baton_rows]), n):.3f}, "
              f"agents {agent_cpu}; trigger command "
              f"{per_task_ms(median([s['trigger_cpu'] for s in baton_rows]), n):.3f} (not in orch)")
        for role in ["scheduler"] + agents:
            threads = baton_rows[-1]["cpu_threads"][role]
            user, system = sum(r[1] for r in threads), sum(r[2] for r in threads)
            busiest = ", ".join(f"{name} {per_task_ms(u + k, n):.3f}" for name, u, k in threads[:4] if u + k > 0)
            print(f"   baton {role} by thread (last round): {busiest}; user {per_task_ms(user, n):.3f}, "
                  f"system {per_task_ms(system, n):.3f}")
        print(f"   baton: run start -> first task start "
              f"{median([s['run_start_to_first_task'] for s in baton_rows]) * 1000:.0f} ms, last task end -> "
              f"run end {median([s['last_task_to_run_end'] for s in baton_rows]) * 1000:.0f} ms; "
              f"tasks per agent (last round): {split}")
        pushed = sum(s["log_events"]["pushed_again"] for s in baton_rows)
        dropped = sum(s["log_events"]["dropped"] for s in baton_rows)
        print(f"   baton logs, all rounds: {pushed} messages pushed again by the scheduler's requeue check "
              f"(taken for lost), {dropped} dropped unclaimed by agents")
    if celery_rows:
        print(f"   celery orch CPU: main process {per_task_ms(median([s['cpu_main'] for s in celery_rows]), n):.3f}, "
              f"{P} pool processes {per_task_ms(median([s['cpu_pool'] for s in celery_rows]), n):.3f}; producer "
              f"send loop {per_task_ms(median([s['producer_send_cpu'] for s in celery_rows]), n):.3f}, whole "
              f"process {per_task_ms(median([s['producer_process_cpu'] for s in celery_rows]), n):.3f} (not in orch)")
        print(f"   celery: sending {n} took {median([s['send_seconds'] for s in celery_rows]):.2f} s; first send -> "
              f"first task start {median([s['first_send_to_first_start'] for s in celery_rows]) * 1000:.0f} ms")
    print("   orch CPU: the orchestrator's own processes' utime+stime from /proc/PID/stat, read before and")
    print("   after (baton: scheduler + agents; celery: worker main + pool), never the tasks they ran;")
    print("   redis, mariadb: the server's utime+stime over the same span; tasks: the tasks' own CPU (what")
    print("   the agents, the pool processes or the loop reaped); all: the sum, what the machine spent.")
    print("   targets:")
    baton_wall = median([s["wall"] for s in baton_rows])
    if baton_wall and ceiling:
        fraction = n / baton_wall / ceiling
        print(f"   - baton throughput >= {TARGET_CEILING_FRACTION:.2f} x ceiling: {fraction:.2f}  "
              f"{verdict(fraction >= TARGET_CEILING_FRACTION)}")
        # Round by round, each way ran minutes apart at most: steadier than the
        # ratio of medians when a neighbour's load comes and goes.
        rounds = [(n / b["wall"]) / max(sp["per_second"], fk["per_second"])
                  for b, sp, fk in zip(baton_rows, t.get("spawn", []), t.get("fork", []))]
        celery_rounds = [(n / c["wall"]) / max(sp["per_second"], fk["per_second"])
                         for c, sp, fk in zip(celery_rows, t.get("spawn", []), t.get("fork", []))]
        print(f"     round by round, over that round's ceiling: baton {', '.join(f'{x:.2f}' for x in rounds)}; "
              f"celery {', '.join(f'{x:.2f}' for x in celery_rounds) or '—'}")
    baton_cpu = median([s["cpu_own"] for s in baton_rows])
    celery_cpu = median([s["cpu_own"] for s in celery_rows])
    if baton_cpu is not None and celery_cpu:
        ratio = baton_cpu / celery_cpu
        print(f"   - baton orch CPU per task <= 1/5 of celery's: {per_task_ms(baton_cpu, n):.3f} vs "
              f"{per_task_ms(celery_cpu, n):.3f} ms = {ratio:.2f} of celery's  "
              f"{verdict(ratio <= TARGET_CPU_FRACTION_OF_CELERY)}")
    print()

    lat = report.get("latency", {})
    L = args.latency_tasks
    print(f"2. Pickup latency, one task at a time ({L} tasks): LPUSH of the message in Redis -> task start")
    rows = [
        ("baton: LPUSH -> try start_date (claim)", "baton", "pickup"),
        ("celery: LPUSH -> task body starts", "celery", "pickup"),
        ("celery: apply_async() -> task body starts", "celery", "send_to_start"),
        ("baton: upstream end -> LPUSH (scheduler)", "baton", "end_to_push"),
        ("baton: upstream end -> downstream start", "baton", "end_to_start"),
    ]
    print(f"   {'':<44}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for label, name, key in rows:
        values = lat.get(name, {}).get(key)
        if not values:
            print(f"   {label:<44}{'—':>8}   (not measured)")
            continue
        print(f"   {label:<44}{percentile(values, 0.5) * 1000:8.2f}{percentile(values, 0.99) * 1000:8.2f}"
              f"{max(values) * 1000:8.2f}")
    if lat.get("baton") and lat.get("celery"):
        b, c = percentile(lat["baton"]["pickup"], 0.5), percentile(lat["celery"]["pickup"], 0.5)
        print(f"   target: baton pickup p50 <= celery's: {b * 1000:.2f} vs {c * 1000:.2f} ms  {verdict(b <= c)}")
    print()
    for key in ("celery_stop",):
        if report.get(key):
            print(f"celery worker: {report[key]}")
    for error in report.get("errors", []):
        print(f"ERROR: {error}")


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--tasks", type=int, default=2000, help="tasks per batch (default 2000)")
    parser.add_argument("-j", "--parallelism", type=int, default=8, help="P for every way (default 8)")
    parser.add_argument("--agents", type=int, default=2, help="K baton agents sharing the P slots (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="batches of each way, interleaved (default 3)")
    parser.add_argument("--latency-tasks", type=int, default=200, help="tasks one at a time (default 200)")
    parser.add_argument("--baton", default=os.environ.get("BATON_BIN", DEFAULT_BATON),
                        help="the baton binary (default $BATON_BIN or build-bench/cli/baton)")
    parser.add_argument("--loop-interval", default="100ms", help="baton's scheduler.loop_interval")
    parser.add_argument("--poll-interval", type=float, default=1.0,
                        help="seconds between `runs list` polls while a baton run is going (default 1: "
                             "each costs some 30 ms of CPU, taken from the run)")
    parser.add_argument("--settle", type=float, default=0.5,
                        help="seconds between seeing a batch done and the last CPU reading")
    parser.add_argument("--run-timeout", type=float, default=300, help="give up on a batch after this")
    parser.add_argument("--celery-db", type=int, default=1, help="Celery's Redis database (baton uses 0)")
    parser.add_argument("--skip-baton", action="store_true", help="only the spawn loop and Celery")
    parser.add_argument("--skip-celery", action="store_true", help="only the spawn loop and Baton")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (spawn loop, Celery's log and record)")
    parser.add_argument("--json", default=None,
                        help="where every measurement goes (default bench/out/cluster-DATE.json)")
    args = parser.parse_args()
    args.baton = os.path.abspath(args.baton)
    if not args.skip_baton and not os.access(args.baton, os.X_OK):
        log(f"no baton binary at {args.baton}; build it with:\n  {BUILD_HINT}")
        return 2
    if min(args.tasks, args.parallelism, args.agents, args.rounds, args.latency_tasks) < 1 or \
            args.agents > args.parallelism or args.celery_db == 0:
        log("sizes must be positive, --agents at most -j, and --celery-db not 0 (baton's)")
        return 2

    # SIGTERM to the benchmark unwinds through the finally blocks, which stop everything.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_tools({"g++": "g++"})
    now = datetime.datetime.now(datetime.timezone.utc)
    report = {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "load_start": load_average()}
    work_dir = tempfile.mkdtemp(prefix="baton-bench-cluster-")
    try:
        run_all(args, work_dir, report)
    except unittest.SkipTest as missing:  # servers.py: a server binary is not installed
        log(f"cannot run: {missing}")
        return 2
    except (KeyboardInterrupt, SystemExit):
        log("interrupted")
        raise
    finally:
        report["load_end"] = load_average()
        if args.keep:
            log(f"kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print_report(report, args)
    json_path = args.json or DEFAULT_JSON.format(stamp=now.strftime("%Y%m%dT%H%M%SZ"))
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w", encoding="utf-8") as out:
        json.dump({"settings": vars(args), **report}, out, indent=2)
    log(f"measurements written to {json_path}")
    return 1 if report.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
