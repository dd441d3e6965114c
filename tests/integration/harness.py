"""Shared machinery for the integration tests that drive the real `baton` binary.

Each test gets a BatonHome: its own temporary $BATON_HOME with a baton.toml tuned
for speed, helpers to write DAG files, run CLI commands, run the scheduler daemon
and wait on the store's states, a ledger that task commands append to, and a
/proc scan that proves no task process outlived the test. Everything a test
starts is killed and its directory removed in cleanup, even when the test fails;
when it fails, the scheduler's output and the task logs are printed.

Environment: BATON_BIN (the binary) and BATON_SOURCE_DIR (the repository root),
set by ctest; both default to this checkout for runs by hand.
"""

import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import uuid

SOURCE_DIR = os.environ.get("BATON_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BATON_BIN = os.environ.get("BATON_BIN") or os.path.join(SOURCE_DIR, "build", "cli", "baton")

# Every CLI call gets this long; a hung command is a failure, not a hung suite.
COMMAND_TIMEOUT = 30

# How often state is polled: a few scheduler loops (200ms) per second.
POLL_INTERVAL = 0.1

FAST_CONFIG = """\
[core]
dags_folder = "dags"
logs_folder = "logs"
parallelism = 16
default_timezone = "UTC"

[store]
url = "sqlite:baton.db"

[scheduler]
loop_interval = "200ms"
heartbeat_interval = "500ms"
health_threshold = "3s"
dag_dir_list_interval = "500ms"
kill_grace_period = "2s"

[logging]
level = "debug"
"""

# "2024-06-01T00:00:00Z", "2024-06-01T00:00:00.123456+00:00": UTC, to the second or finer.
ISO_8601_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")

TERMINAL_RUN_STATES = ("success", "failed")


def dedent(text):
    return textwrap.dedent(text).lstrip("\n")


def toml_string(value):
    """A TOML basic string holding `value` (JSON's escapes are valid TOML)."""
    return json.dumps(value)


def toml_value(value):
    """A TOML value: a string, number, boolean, or a list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return toml_string(str(value))


def task_toml(task_id, command, **keys):
    """A [[task]] table of a DAG file, after a blank line: its id, its command,
    then `keys` in order (upstream=["a"], retries=1, retry_delay="0s", ...)."""
    lines = ["", "[[task]]", f"id = {toml_value(task_id)}", f"command = {toml_value(command)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


def processes_with_token(token):
    """(pid, command line) of every live process whose command line holds `token`.

    Zombies have an empty cmdline, so a process that died but was not reaped yet
    does not count as alive.
    """
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue  # gone while we looked
        command = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
        if token in command:
            found.append((int(entry), command))
    return found


class BatonTestCase(unittest.TestCase):
    """A TestCase that prints what its BatonHomes collected when the test fails."""

    def run(self, result=None):
        self._diagnostics = []
        before = _problem_count(result)
        outcome = super().run(result)
        if result is not None and _problem_count(result) > before:
            for title, text in self._diagnostics:
                sys.stderr.write(f"\n----- {self.id()}: {title} -----\n{text}\n")
            sys.stderr.flush()
        return outcome

    def add_diagnostic(self, title, text):
        self._diagnostics.append((title, text))

    def home(self, **kwargs):
        return BatonHome(self, **kwargs)


def _problem_count(result):
    if result is None:
        return 0
    return len(result.failures) + len(result.errors) + len(getattr(result, "unexpectedSuccesses", []))


class BatonHome:
    """One $BATON_HOME in a temporary directory, owned by one test.

    `token` is unique to this home and part of its directory name, so every task
    command that names the ledger or the sleeper carries it in its command line.
    """

    def __init__(self, test, config=FAST_CONFIG, init=True):
        self.test = test
        if not os.access(BATON_BIN, os.X_OK):
            test.fail(f"no baton binary at {BATON_BIN}: build it, or set BATON_BIN")
        self.token = "batonit" + uuid.uuid4().hex[:12]
        self.root = tempfile.mkdtemp(prefix=f"{self.token}-")
        test.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        test.addCleanup(self._collect_diagnostics)
        test.addCleanup(self._kill_everything)

        self.path = os.path.join(self.root, "home")
        self.dags_folder = os.path.join(self.path, "dags")
        self.logs_folder = os.path.join(self.path, "logs")
        self.config_path = os.path.join(self.path, "baton.toml")
        self.db_path = os.path.join(self.path, "baton.db")
        self.ledger_path = os.path.join(self.root, "ledger.txt")
        if config is None:
            os.makedirs(self.path)  # `db init` creates the rest
        else:
            os.makedirs(self.dags_folder)
            os.makedirs(self.logs_folder)

        # A `sleep` whose command line carries the token: /proc shows the path it
        # was started by, so a leftover sleeper is found by the token alone.
        self.sleeper = os.path.join(self.root, f"sleep-{self.token}")
        os.symlink(shutil.which("sleep"), self.sleeper)

        self.env = dict(os.environ)
        self.env.pop("BATON_CONFIG", None)
        self.env["BATON_HOME"] = self.path
        # A zone far from UTC on the host: stored and printed times must be UTC
        # whatever the machine's local time is.
        self.env["TZ"] = "XYZ-05:30"

        self.schedulers = []  # every Popen, in start order
        self._stopped = set()  # pids of those the test stopped on purpose
        self._scheduler_logs = []

        if config is not None:
            self.write_config(config)
        if init:
            self.run_ok("db", "init")

    # ----- files -----------------------------------------------------------

    def write_config(self, text):
        self._write_atomically(self.config_path, text)

    def write_dag(self, name, text):
        """Writes dags/NAME (".toml" added when missing) and returns its path."""
        if not name.endswith(".toml"):
            name += ".toml"
        path = os.path.join(self.dags_folder, name)
        self._write_atomically(path, text)
        return path

    def write_file(self, name, text):
        """A file outside the dags folder (for `dags validate FILE`)."""
        path = os.path.join(self.root, name)
        self._write_atomically(path, text)
        return path

    def copy_example_dags(self):
        examples = os.path.join(SOURCE_DIR, "examples", "dags")
        names = sorted(n for n in os.listdir(examples) if n.endswith(".toml"))
        for name in names:
            with open(os.path.join(examples, name)) as f:
                self.write_dag(name, f.read())
        return names

    def _write_atomically(self, path, text):
        # A scheduler re-reading the folder must never see half a file; the
        # temporary name lies outside the dags folder so it is never parsed.
        staging = os.path.join(self.root, f".staging-{uuid.uuid4().hex}")
        with open(staging, "w") as f:
            f.write(text)
        os.replace(staging, path)

    # ----- the ledger ------------------------------------------------------

    # What a command made by ledger_command() records, a line per try; the
    # first four are what ledger() returns.
    LEDGER_FIELDS = ("$BATON_DAG_ID", "$BATON_RUN_ID", "$BATON_TASK_ID", "$BATON_TRY_NUMBER")

    def ledger_command(self, body=""):
        """A task command that records its start in the ledger, then runs `body`."""
        record = f'echo "{" ".join(self.LEDGER_FIELDS)}" >> {shlex.quote(self.ledger_path)}'
        return record + ("\n" + body if body else "")

    def sleep_command(self, seconds):
        """A sleep whose process carries this home's token."""
        return f"{shlex.quote(self.sleeper)} {seconds}"

    def ledger(self):
        """[(dag_id, run_id, task_id, try_number)] in start order."""
        return [(dag_id, run_id, task_id, int(try_number))
                for dag_id, run_id, task_id, try_number, *_ in self.ledger_lines()]

    def ledger_lines(self):
        """The ledger's lines in start order, each split into its LEDGER_FIELDS."""
        if not os.path.exists(self.ledger_path):
            return []
        lines = []
        with open(self.ledger_path) as f:
            for line in f:
                fields = line.split()
                if len(fields) != len(self.LEDGER_FIELDS):
                    self.test.fail(f"malformed ledger line {line!r}")
                lines.append(fields)
        return lines

    def tries_of(self, dag_id, run_id, task_id):
        return [t for d, r, k, t in self.ledger() if (d, r, k) == (dag_id, run_id, task_id)]

    def assert_no_try_started_twice(self):
        seen = set()
        for entry in self.ledger():
            if entry in seen:
                self.test.fail(f"try started twice: {entry}; ledger: {self.ledger()}")
            seen.add(entry)

    # ----- processes -------------------------------------------------------

    def live_processes(self):
        return processes_with_token(self.token)

    def assert_no_leftover_processes(self, timeout=5.0):
        """Fails when a process with this home's token is still alive after `timeout`.

        The grace only covers the instant between a kill and the kernel tearing the
        process down; a leftover sleeper lives for minutes, so it is never missed.
        """
        deadline = time.monotonic() + timeout
        while True:
            alive = self.live_processes()
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL)
        self.test.assertEqual(alive, [], "task processes were left running")

    # ----- the CLI ---------------------------------------------------------

    def run(self, *args, timeout=COMMAND_TIMEOUT, env=None):
        """Runs `baton ARGS`; returns the CompletedProcess (text, never raises on exit status)."""
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        try:
            return subprocess.run([BATON_BIN, *map(str, args)], env=full_env, cwd=self.root,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            self.test.fail(f"`baton {' '.join(map(str, args))}` did not finish in {timeout}s; "
                           f"output: {expired.stdout!r} {expired.stderr!r}")

    def run_ok(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        if result.returncode != 0:
            self.test.fail(describe(result, "expected exit status 0"))
        return result

    def run_json(self, *args):
        result = self.run_ok(*args)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as error:
            self.test.fail(describe(result, f"stdout is not JSON ({error})"))

    def runs(self, dag_id=None):
        args = ["runs", "list", "--json"]
        if dag_id:
            args += ["--dag", dag_id]
        return self.run_json(*args)

    def run_record(self, dag_id, run_id):
        for run in self.runs(dag_id):
            if run["run_id"] == run_id:
                return run
        return None

    def task_states(self, dag_id, run_id):
        """{task_id: the task's record} from `tasks states --json`."""
        return {t["task_id"]: t for t in self.run_json("tasks", "states", dag_id, run_id, "--json")}

    def dags(self):
        return self.run_json("dags", "list", "--json")

    def trigger(self, dag_id, *extra):
        """Triggers a run and returns its id (the last word the command prints)."""
        result = self.run_ok("dags", "trigger", dag_id, *extra)
        words = result.stdout.split()
        if not words:
            self.test.fail(describe(result, "trigger printed no run id"))
        return words[-1]

    def store_dump(self):
        """The store's logical contents, to prove a command changed nothing.

        Read directly (read-only) rather than through the CLI, so the check does
        not depend on the command under test, nor on SQLite's checkpoints that
        rewrite the file's bytes without changing its contents.
        """
        if not os.path.exists(self.db_path):
            # Comparing two missing stores would prove nothing.
            self.test.fail(f"no store at {self.db_path}")
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return "\n".join(connection.iterdump())
        finally:
            connection.close()

    # ----- the scheduler ---------------------------------------------------

    def start_scheduler(self, *args, wait_ready=True):
        """Starts `baton scheduler ARGS`; with `wait_ready`, returns once its heartbeat
        is in the store, so that it handles signals and is visible to `jobs check`."""
        index = len(self.schedulers)
        log_path = os.path.join(self.root, f"scheduler-{index}.log")
        process = self.start_daemon([BATON_BIN, "scheduler", *map(str, args)], log_path)
        self.schedulers.append(process)
        self._scheduler_logs.append(log_path)
        if wait_ready:
            self.wait_until(lambda: self.run("jobs", "check").returncode == 0, 15,
                            "the scheduler's first heartbeat")
        return process

    @property
    def scheduler(self):
        return self.schedulers[-1] if self.schedulers else None

    def scheduler_output(self, index=-1):
        with open(self._scheduler_logs[index], errors="replace") as f:
            return f.read()

    def stop_scheduler(self, sig=signal.SIGTERM, timeout=15):
        """Signals the running scheduler and returns its exit status."""
        process = self.scheduler
        self._stopped.add(process.pid)
        return self.stop_daemon(process, sig, timeout, "the scheduler", self._scheduler_logs[-1])

    def kill_scheduler(self):
        """SIGKILL: the scheduler gets no chance to clean up, as when its host dies."""
        process = self.scheduler
        self._stopped.add(process.pid)
        process.kill()
        process.wait()

    def assert_scheduler_alive(self):
        process = self.scheduler
        if process is None or process.pid in self._stopped:
            return
        if process.poll() is not None:
            self.test.fail(f"the scheduler exited with status {process.returncode}:\n"
                           + tail(self.scheduler_output(), 60))

    # ----- daemons ---------------------------------------------------------

    def start_daemon(self, argv, log_path, env=None):
        """Starts `argv` (a baton daemon) in the home's directory with its output in
        `log_path`; returns its Popen. In a session of its own: a Ctrl-C to the
        test runner must not reach it, and the test decides which signal it gets."""
        with open(log_path, "w") as log:
            return subprocess.Popen(argv, env=env or self.env, cwd=self.root,
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def stop_daemon(self, process, sig, timeout, name, log_path):
        """Signals `process` and returns its exit status; kills it and fails the
        test, showing the end of its log, when it outlives `timeout`."""
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            self.test.fail(f"{name} did not exit within {timeout}s of {sig.name}:\n"
                           + tail(read_log(log_path), 60))

    @staticmethod
    def kill_daemon(process):
        """SIGKILLs a daemon still running, with its whole session, and reaps it."""
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()
            process.wait()

    # ----- waiting ---------------------------------------------------------

    def wait_until(self, condition, timeout, description):
        """Polls `condition` until it returns a truthy value, which it returns."""
        return wait_for(condition, timeout, description, between=self.assert_scheduler_alive,
                        fail=self.test.fail)

    def wait_for_dags(self, *dag_ids, timeout=15):
        """Waits until the store knows every DAG in `dag_ids`."""
        wanted = set(dag_ids)

        def known():
            return wanted <= {d["dag_id"] for d in self.dags()["dags"]}

        self.wait_until(known, timeout, f"DAGs {sorted(wanted)} to be listed")

    def wait_for_run_state(self, dag_id, run_id, states, timeout=30):
        """Waits until the run is in one of `states`; returns its record.

        A run that ends in another terminal state fails at once, with its tasks.
        """
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.run_record(dag_id, run_id)
            if last is not None and last["state"] in states:
                return last
            if last is not None and last["state"] in TERMINAL_RUN_STATES:
                self.test.fail(f"run {dag_id}/{run_id} ended {last['state']}, expected "
                               f"{'/'.join(states)}; tasks: {self._task_summary(dag_id, run_id)}")
            if time.monotonic() > deadline:
                self.test.fail(f"run {dag_id}/{run_id} still {last and last['state']} after "
                               f"{timeout}s, expected {'/'.join(states)}; tasks: "
                               f"{self._task_summary(dag_id, run_id)}")
            self.assert_scheduler_alive()
            time.sleep(POLL_INTERVAL)

    def wait_for_task_state(self, dag_id, run_id, task_id, states, timeout=30):
        if isinstance(states, str):
            states = (states,)

        def reached():
            task = self.task_states(dag_id, run_id).get(task_id)
            return task if task and task["state"] in states else None

        return self.wait_until(reached, timeout,
                               f"task {dag_id}/{run_id}/{task_id} to be {'/'.join(states)}")

    def wait_for_ledger(self, dag_id, run_id, task_id, try_number=1, timeout=30):
        """Waits until that try has started (its command ran its first line)."""
        self.wait_until(lambda: try_number in self.tries_of(dag_id, run_id, task_id), timeout,
                        f"try {try_number} of {dag_id}/{run_id}/{task_id} to start")

    def _task_summary(self, dag_id, run_id):
        result = self.run("tasks", "states", dag_id, run_id, "--json")
        return result.stdout.strip() or result.stderr.strip()

    # ----- cleanup ---------------------------------------------------------

    def _kill_everything(self):
        for process in self.schedulers:
            self.kill_daemon(process)
        # Task processes live in process groups of their own: find them by token.
        for _ in range(3):
            alive = self.live_processes()
            if not alive:
                break
            for pid, _command in alive:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(POLL_INTERVAL)

    def _collect_diagnostics(self):
        add = getattr(self.test, "add_diagnostic", None)
        if add is None:
            return
        for index, path in enumerate(self._scheduler_logs):
            try:
                with open(path, errors="replace") as f:
                    add(f"scheduler #{index} output", tail(f.read(), 200))
            except OSError:
                pass
        shown = 0
        for directory, _subdirs, files in sorted(os.walk(self.logs_folder)):
            for name in sorted(files):
                if shown >= 40:
                    return
                path = os.path.join(directory, name)
                with open(path, errors="replace") as f:
                    add(f"task log {os.path.relpath(path, self.logs_folder)}", f.read()[-2000:])
                shown += 1
        if os.path.exists(self.ledger_path):
            with open(self.ledger_path) as f:
                add("ledger", f.read())


def wait_for(condition, timeout, description, interval=POLL_INTERVAL, between=None, fail=None):
    """Polls `condition` until it returns a truthy value, which it returns, running
    `between` after each miss. After `timeout`, calls `fail` with a message (it
    must raise), or raises TimeoutError when there is no `fail`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"timed out after {timeout}s waiting for {description}"
            if fail is not None:
                fail(message)
            raise TimeoutError(message)
        if between is not None:
            between()
        time.sleep(interval)


def read_log(path):
    """The text of a daemon's log file; empty when there is none."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def tail(text, lines):
    return "\n".join(text.splitlines()[-lines:])


def describe(result, problem):
    """A failure message with everything a reader needs to see what the command did."""
    command = " ".join(shlex.quote(a) for a in result.args)
    return (f"{problem}: `{command}` exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
