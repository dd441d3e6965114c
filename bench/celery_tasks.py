#!/usr/bin/python3
"""The Celery side of bench/run_cluster.py: one task that runs `/bin/sh -c true`
(the very process Baton's agents and the spawn loop start per task), and the
producers that send it.

The worker (started by run_cluster.py):
  BENCH_CELERY_BROKER=redis://127.0.0.1:PORT/1 BENCH_CELERY_RECORD=FILE BENCH_CELERY_READY=FILE \\
    python3 -m celery -A celery_tasks worker --pool=prefork --concurrency=P
Producers (each prints one JSON line):
  celery_tasks.py batch --count N --mark M       N sends back to back (marks M:0 ... M:N-1)
  celery_tasks.py sequential --count N --mark M  one at a time: the next is sent
                                                 when the previous one has ended

Every task appends one line "MARK START END EXIT_STATUS" to BENCH_CELERY_RECORD
(a file each pool process opens once, O_APPEND: one write(2) per task, and no
round trip to Redis that would add to the broker's CPU time). START is taken as
the task body begins, END once its process was reaped (time.time(), the host's
clock). The worker touches BENCH_CELERY_READY when it is ready for tasks.

Settings: Celery 5.2's defaults (prefork pool, prefetch multiplier 4, early
acknowledgement), except that no result is stored (there is no result backend)
and messages are JSON. Debian's python3-celery; nothing else.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from celery import Celery
from celery.signals import worker_ready

# /bin/sh runs its builtin `true`: one process per task, as for Baton
# (bench/gen_dag.py's TASK_COMMAND through /bin/sh -c) and the spawn loop.
TASK_ARGV = ["/bin/sh", "-c", "true"]

app = Celery("celery_tasks", broker=os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/1"))
app.conf.update(
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)

_record_fd = None


def _record(line):
    global _record_fd
    if _record_fd is None:
        _record_fd = os.open(os.environ["BENCH_CELERY_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_record_fd, line.encode())


@app.task(name="bench.run_true", ignore_result=True)
def run_true(mark):
    started = time.time()
    status = subprocess.run(TASK_ARGV).returncode
    _record(f"{mark} {started:.6f} {time.time():.6f} {status}\n")


@worker_ready.connect
def _announce_ready(**_):
    path = os.environ.get("BENCH_CELERY_READY")
    if path:
        with open(path, "w", encoding="ascii") as ready:
            ready.write(f"{os.getpid()}\n")


# ---------------------------------------------------------------- producers


class RecordReader:
    """Reads the record file as it grows; lines of one mark only."""

    def __init__(self, path, prefix):
        self.path = path
        self.prefix = prefix
        self.offset = 0
        self.partial = ""

    def new_lines(self):
        try:
            with open(self.path, encoding="ascii") as record:
                record.seek(self.offset)
                text = record.read()
                self.offset = record.tell()
        except FileNotFoundError:
            return []
        text = self.partial + text
        lines = text.split("\n")
        self.partial = lines.pop()
        return [line for line in lines if line.startswith(self.prefix)]


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def send_batch(count, mark):
    """Sends `count` tasks back to back on one connection made beforehand."""
    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection()
        cpu_before = _own_cpu()
        first = time.time()
        for index in range(count):
            run_true.apply_async((f"{mark}:{index}",), producer=producer)
        last = time.time()
        cpu = _own_cpu() - cpu_before
    return {"first_send": first, "last_send": last, "producer_cpu": cpu}


def send_sequential(count, mark, record_path, timeout, poll_interval=0.002):
    """Sends task i (mark MARK:i) only once task i - 1 has recorded its end."""
    reader = RecordReader(record_path, f"{mark}:")
    sends = []
    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection()
        for index in range(count):
            sends.append(time.time())
            run_true.apply_async((f"{mark}:{index}",), producer=producer)
            deadline = time.monotonic() + timeout
            while not reader.new_lines():
                if time.monotonic() > deadline:
                    raise SystemExit(f"task {mark}:{index} did not end within {timeout} s")
                time.sleep(poll_interval)
    return {"sends": sends}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["batch", "sequential"])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--mark", required=True)
    parser.add_argument("--timeout", type=float, default=30, help="sequential: seconds per task")
    args = parser.parse_args()
    if args.mode == "batch":
        result = send_batch(args.count, args.mark)
    else:
        result = send_sequential(args.count, args.mark, os.environ["BENCH_CELERY_RECORD"], args.timeout)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
