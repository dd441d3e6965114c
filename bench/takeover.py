#!/usr/bin/python3
"""Baton's failover takeover time: how long task starts stop when the active
master dies, with Baton's default failover settings and with the fast profile.

Two failover controllers (nodes m1 and m2, both on this machine, `local = true`)
share a private MariaDB store; the active one runs the scheduler (local
executor). A DAG of independent `sleep 0.2` tasks runs P at a time, and a new
run is triggered whenever fewer than two are active, so tasks start steadily.
Each task appends "DAG RUN TASK TRY EPOCH START PPID" to a ledger: EPOCH is the
`--epoch` of the scheduler that started it (the task's parent), START the time
it began.

Each trial: wait until a scheduler is healthy, the standby's controller is
registered, and tasks of the current epoch started within the last 2 s; then
kill -9 the active controller, its scheduler and its tasks at once (its host
dies) and note the time. The takeover time is from that kill to the START of
the first task of the next epoch, that is, started by the new scheduler. Also
noted: when the standby recorded `acquired` and `scheduler_started` (the
store's clock, on this same machine). Then the killed node's controller is
started again, as the new standby, for the next trial. At the end, every
(task, try) of the ledger is counted: any started twice is a duplicate.

  bench/takeover.py [--trials 20] [--profiles default,fast] [--baton PATH]
                    [--json bench/out/takeover-DATE.json]

Prints p50, p99 (nearest rank: with 20 trials, the largest), max and duplicates
per profile; every trial goes to the JSON file. Real servers and the harness of
tests/integration (failover_cluster.FailoverCluster). /usr/bin/python3, the
standard library only.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep bench/ and tests/ free of __pycache__
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), "tests", "integration"))
from bench_common import BUILD_HINT, DEFAULT_BATON, fmt, load_average, log, median, percentile  # noqa: E402

DEFAULT_JSON = os.path.join(BENCH_DIR, "out", "takeover-{stamp}.json")
DAG_ID = "takeover_stream"
# A trial whose takeover does not happen within this is a failure.
TAKEOVER_TIMEOUT = 120


def import_harness(baton_binary):
    os.environ["BATON_BIN"] = baton_binary  # read by harness.py when imported
    import cluster
    import failover_cluster
    import harness
    return cluster, failover_cluster, harness


class LedgerTail:
    """The ledger's entries, read incrementally (whole lines only)."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.entries = []

    def read(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.entries
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            fields = line.decode().split()
            if len(fields) != 7:
                raise RuntimeError(f"malformed ledger line {line!r}")
            dag_id, run_id, task_id, try_number, epoch, start, ppid = fields
            self.entries.append({"key": (dag_id, run_id, task_id, int(try_number)),
                                 "epoch": None if epoch == "none" else int(epoch),
                                 "start": float(start), "ppid": int(ppid)})
        return self.entries


class Stream:
    """Keeps at least two runs of the DAG active by triggering new ones."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.run_ids = []

    def top_up(self):
        result = self.cluster.run("runs", "list", "--dag", DAG_ID, "--json")
        if result.returncode != 0:
            return  # the store is busy, or a scheduler is being replaced: next time
        active = [r for r in json.loads(result.stdout) if r["state"] not in ("success", "failed")]
        for _ in range(2 - len(active)):
            self.run_ids.append(self.cluster.trigger(DAG_ID))


def event_time(cluster, kind, node, epoch):
    """When the store recorded the first `kind` event of node/epoch (seconds since 1970), or None."""
    rows = cluster.sql(f"SELECT MIN(at) FROM failover_event WHERE kind = '{kind}' "
                       f"AND node = '{node}' AND epoch = {int(epoch)}")
    return int(rows[0][0]) / 1e6 if rows and rows[0][0] is not None else None


def timed_out(message):
    """harness.wait_for's `fail`: a wait that ends the benchmark (see main)."""
    raise RuntimeError(message)


def run_profile(args, modules, profile, trials, record):
    """Runs `trials` kills with `profile`, filling `record` as it goes (so a failed
    trial keeps the earlier ones)."""
    cluster_module, failover_module, harness = modules
    owner = cluster_module.StandaloneOwner()
    failed = True
    ledger = None
    try:
        fc = failover_module.FailoverCluster(
            owner, nodes=["m1", "m2"], store="mariadb", transport="local", profile=profile,
            settings={"core": {"parallelism": args.parallelism}, "logging": {"level": "info"}})
        command = fc.ledger_command(f"sleep {args.task_seconds}")
        text = f'dag_id = "{DAG_ID}"\n\n[defaults]\nretries = 3\nretry_delay = "0s"\n'
        for index in range(args.tasks_per_run):
            text += f'\n[[task]]\nid = "t{index:04d}"\ncommand = {json.dumps(command)}\n'
        fc.write_dag(DAG_ID, text)
        record["settings"] = {k: fc.settings[k] for k in ("scheduler", "failover")}
        ledger = LedgerTail(fc.ledger_path)
        stream = Stream(fc)
        fc.start_controllers()
        first = fc.wait_for_healthy_scheduler(timeout=120)
        fc.wait_for_dags(DAG_ID, timeout=60)
        log(f"[{profile}] scheduler of epoch {first['epoch']} healthy on {first['node']}")
        results = record["trials"]
        for trial in range(1, trials + 1):
            # Ready: a healthy scheduler, a registered standby, tasks flowing.
            current = harness.wait_for(lambda: fc.healthy_scheduler(), 120,
                                       "a healthy scheduler", interval=0.2,
                                       between=stream.top_up, fail=timed_out)
            active = current["holder"]
            standby = [n for n in fc.nodes if n != active][0]
            fc.wait_for_controller(standby)

            def flowing():
                stream.top_up()
                now = time.time()
                return any(e["epoch"] == current["epoch"] and now - e["start"] < 2.0
                           for e in ledger.read()[-50:])

            harness.wait_for(flowing, 60, "tasks of the current epoch to start", interval=0.2,
                             fail=timed_out)
            stream.top_up()
            before = len(ledger.read())

            killed_at = time.time()
            fc.kill_host(active)
            new_epoch = current["epoch"] + 1

            def first_new_start():
                entries = ledger.read()
                starts = [e["start"] for e in entries[before:]
                          if e["epoch"] is not None and e["epoch"] > current["epoch"]]
                return min(starts) if starts else None

            first_start = harness.wait_for(
                first_new_start, TAKEOVER_TIMEOUT,
                f"a task started by the scheduler of epoch {new_epoch}", interval=0.05,
                fail=timed_out)
            takeover = first_start - killed_at
            acquired = event_time(fc, "acquired", standby, new_epoch)
            started = event_time(fc, "scheduler_started", standby, new_epoch)
            result = {
                "trial": trial,
                "killed": active,
                "new_holder": standby,
                "epoch": new_epoch,
                "takeover_s": takeover,
                "kill_to_acquired_s": acquired - killed_at if acquired else None,
                "acquired_to_scheduler_started_s": started - acquired if started and acquired else None,
                "scheduler_started_to_first_task_s": first_start - started if started else None,
            }
            results.append(result)
            log(f"[{profile}] trial {trial}/{trials}: {active} killed, {standby} took over at "
                f"epoch {new_epoch}: first task {takeover:.2f}s after the kill (acquired "
                f"{fmt(result['kill_to_acquired_s'], '.2f')}s, scheduler started "
                f"{fmt(result['acquired_to_scheduler_started_s'], '+.2f')}s, first task "
                f"{fmt(result['scheduler_started_to_first_task_s'], '+.2f')}s)")
            fc.start_controller(active)  # the new standby
        # Let the last tries land in the ledger before counting.
        time.sleep(2)
        failed = False
    finally:
        entries = ledger.read() if ledger else []
        seen, duplicates = set(), []
        for entry in entries:
            if entry["key"] in seen:
                duplicates.append(entry["key"])
            seen.add(entry["key"])
        record["tasks_started"] = len(entries)
        record["duplicates"] = [list(d) for d in duplicates]
        owner.close(failed=failed)


def summarize(report):
    rows = []
    for profile in report["profiles"]:
        times = [t["takeover_s"] for t in profile["trials"]]
        acquired = [t["kill_to_acquired_s"] for t in profile["trials"] if t["kill_to_acquired_s"]]
        rows.append({
            "profile": profile["profile"],
            "trials": len(times),
            "p50": percentile(times, 0.50) if times else None,
            "p99": percentile(times, 0.99) if times else None,
            "max": max(times) if times else None,
            "min": min(times) if times else None,
            "acquired_p50": median(acquired),
            "tasks": profile["tasks_started"],
            "duplicates": len(profile["duplicates"]),
        })
    return rows


def print_report(rows):
    print()
    print(f"{'profile':<10}{'trials':>7}{'p50 s':>9}{'p99 s':>9}{'max s':>9}{'min s':>9}"
          f"{'acquire p50':>13}{'tasks':>8}{'duplicates':>12}")
    for row in rows:
        print(f"{row['profile']:<10}{row['trials']:>7}{fmt(row['p50'], '9.2f')}{fmt(row['p99'], '9.2f')}"
              f"{fmt(row['max'], '9.2f')}{fmt(row['min'], '9.2f')}{fmt(row['acquired_p50'], '13.2f')}"
              f"{row['tasks']:>8}{row['duplicates']:>12}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="kills per profile (default 20)")
    parser.add_argument("--profiles", default="default,fast",
                        help="comma-separated, of: default (Baton's defaults), fast (lease 4s)")
    parser.add_argument("--baton", default=os.environ.get("BATON_BIN", DEFAULT_BATON),
                        help="the baton binary (default $BATON_BIN or build-bench/cli/baton)")
    parser.add_argument("-j", "--parallelism", type=int, default=4, help="tasks at once (default 4)")
    parser.add_argument("--task-seconds", default="0.2", help="each task's sleep (default 0.2)")
    parser.add_argument("--tasks-per-run", type=int, default=200, help="tasks per DAG run (default 200)")
    parser.add_argument("--json", default=None,
                        help="where every trial goes (default bench/out/takeover-DATE.json)")
    args = parser.parse_args()
    args.baton = os.path.abspath(args.baton)
    if not os.access(args.baton, os.X_OK):
        log(f"no baton binary at {args.baton}; build it with:\n  {BUILD_HINT}")
        return 2
    profiles = [p for p in args.profiles.split(",") if p]
    if args.trials < 1 or any(p not in ("default", "fast") for p in profiles):
        log("--trials must be positive; --profiles lists default and/or fast")
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    modules = import_harness(args.baton)
    now = datetime.datetime.now(datetime.timezone.utc)
    report = {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "baton": args.baton,
              "load_start": load_average(), "profiles": []}
    status = 0
    try:
        for profile in profiles:
            record = {"profile": profile, "trials": [], "tasks_started": 0, "duplicates": []}
            report["profiles"].append(record)
            run_profile(args, modules, profile, args.trials, record)
    except unittest.SkipTest as missing:
        log(f"cannot run: {missing}")
        return 2
    except (RuntimeError, AssertionError) as error:
        log(f"failed: {error}")
        report["error"] = str(error)
        status = 1
    report["load_end"] = load_average()
    report["summary"] = summarize(report)
    print_report(report["summary"])
    if any(row["duplicates"] for row in report["summary"]):
        status = 1
    json_path = args.json or DEFAULT_JSON.format(stamp=now.strftime("%Y%m%dT%H%M%SZ"))
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w", encoding="utf-8") as out:
        json.dump({"settings": vars(args), **report}, out, indent=2)
    log(f"measurements written to {json_path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
