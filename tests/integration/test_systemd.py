"""systemd integration: the unit files in systemd/ pass `systemd-analyze verify`
and say what the daemons rely on, the polkit rule lets the controller's user
start and stop scheduler instances and nothing else (run by polkit's own
JavaScript engine, Duktape), and each daemon (`baton scheduler`, `baton agent`,
`baton failover start`), started with a notification socket of the test's own
as systemd would start it, sends READY=1 once it serves, STATUS= lines naming
its role, WATCHDOG=1 pings, STOPPING=1 on SIGTERM, all from its own pid
(NotifyAccess=main), while no process it starts inherits the socket; and its
pings stop while its loop hangs (one thread frozen, the others running on)
and come back after.

PID 1 here is not systemd, so no unit is started: the units are verified only,
and the daemons run as the other integration tests run them, with
NOTIFY_SOCKET and WATCHDOG_USEC set as systemd sets them.
"""

import collections
import contextlib
import ctypes
import ctypes.util
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import tempfile
import threading
import time
import unittest

from cluster import Cluster
from failover_cluster import FailoverCluster, has_environment_variable
from harness import (BATON_BIN, SOURCE_DIR, BatonTestCase, read_log, tail, task_toml,
                     toml_string, wait_for)

UNITS_DIR = os.path.join(SOURCE_DIR, "systemd")
UNITS = ("baton-scheduler.service", "baton-scheduler@.service", "baton-agent.service",
         "baton-failover.service")
RULES = os.path.join(UNITS_DIR, "baton-scheduler.rules")

# WatchdogSec as the daemons under test see it: short, so pings come quickly.
WATCHDOG_SECONDS = 1.0
# How long a loop is kept frozen, and the part of it that must pass without a
# ping: a controller may still ping once, up to a scheduler poll (2 s) into the
# freeze, for lease iterations that completed before it.
FREEZE_SECONDS = 6.0
SILENT_FROM = 2.5


# ----- the unit files --------------------------------------------------------------


def unit_settings(path):
    """{(section, key): [values]} of a unit file."""
    settings = collections.defaultdict(list)
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            settings[(section, key.strip())].append(value.strip())
    return settings


def seconds_of(value):
    """Seconds of a systemd time span as these units write them: "90s", "2min", "5min"."""
    match = re.fullmatch(r"(\d+)(s|min)", value)
    if not match:
        raise ValueError(f"unexpected time span {value!r}")
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


class UnitFilesTest(unittest.TestCase):
    def test_systemd_analyze_verify_passes_every_unit(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        folder = tempfile.mkdtemp(prefix="baton-units-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        # verify checks that ExecStart's binary exists: the units name the
        # installed one, the test the one it built.
        paths = []
        for name in UNITS:
            with open(os.path.join(UNITS_DIR, name)) as f:
                text = f.read()
            self.assertIn("/usr/bin/baton ", text, f"{name} runs the packaged binary")
            path = os.path.join(folder, name)
            with open(path, "w") as f:
                f.write(text.replace("/usr/bin/baton ", BATON_BIN + " "))
            paths.append(path)
        # An instance as the controller starts it, with %i filled in.
        instance = os.path.join(folder, "baton-scheduler@7.service")
        os.symlink(os.path.join(folder, "baton-scheduler@.service"), instance)
        paths.append(instance)

        result = subprocess.run([analyze, "verify", "--man=no", *paths], cwd=folder,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=60)
        about_ours = [line for line in result.stderr.splitlines()
                      if "baton" in line or folder in line]
        self.assertEqual(about_ours, [], f"systemd-analyze verify:\n{result.stderr}")
        self.assertEqual(result.returncode, 0, f"systemd-analyze verify:\n{result.stderr}")

    def test_units_say_what_the_daemons_rely_on(self):
        for name in UNITS:
            with self.subTest(unit=name):
                unit = unit_settings(os.path.join(UNITS_DIR, name))
                service = lambda key: unit.get(("Service", key), [])  # noqa: E731
                self.assertEqual(service("Type"), ["notify"])
                self.assertEqual(service("NotifyAccess"), ["main"])
                self.assertEqual((service("User"), service("Group")), (["baton"], ["baton"]))
                self.assertEqual(service("KillMode"), ["mixed"])
                self.assertEqual(service("StateDirectory"), ["baton"])
                environment = " ".join(service("Environment"))
                self.assertIn("BATON_HOME=/var/lib/baton", environment)
                self.assertIn("BATON_CONFIG=/etc/baton/baton.toml", environment)
                self.assertTrue(service("ExecStart")[0].startswith("/usr/bin/baton "))
                self.assertEqual(service("ExecReload"), [], "no reload is implemented")
                # Above kill_grace_period (30 s), so the daemon records its tasks;
                # the controller's above ssh_command_timeout (60 s).
                self.assertGreater(seconds_of(service("TimeoutStopSec")[0]),
                                   60 if name == "baton-failover.service" else 30)
                self.assertGreaterEqual(seconds_of(service("WatchdogSec")[0]), 30)
                templated = name == "baton-scheduler@.service"
                self.assertEqual(service("Restart"), ["no" if templated else "on-failure"])
                self.assertEqual(unit.get(("Install", "WantedBy"), []),
                                 [] if templated else ["multi-user.target"])

        instance = unit_settings(os.path.join(UNITS_DIR, "baton-scheduler@.service"))
        argv = shlex.split(instance[("Service", "ExecStart")][0])
        self.assertEqual(argv[1], "scheduler")
        self.assertEqual(argv[argv.index("--epoch") + 1], "%i")
        # [failover] pidfile's default, "scheduler.pid" below BATON_HOME, where
        # the controller's check command looks.
        self.assertEqual(argv[argv.index("--pidfile") + 1], "${BATON_HOME}/scheduler.pid")
        self.assertNotIn("--node", argv, "the node name is the scheduler's default, as the "
                                         "controller's ([failover] node_name, or the host name)")


class Duktape:
    """polkit 122's JavaScript engine (libduktape), through its C API."""

    # duk_peval_string: DUK_COMPILE_EVAL | SAFE | NOSOURCE | STRLEN | NOFILENAME.
    _EVAL_STRING = (1 << 3) | (1 << 7) | (1 << 9) | (1 << 10) | (1 << 11)

    def __init__(self, test):
        name = ctypes.util.find_library("duktape")
        if name is None:
            test.skipTest("libduktape (polkit's JavaScript engine) is not installed")
        self._lib = ctypes.CDLL(name)
        self._lib.duk_create_heap.restype = ctypes.c_void_p
        self._lib.duk_create_heap.argtypes = [ctypes.c_void_p] * 5
        self._lib.duk_eval_raw.restype = ctypes.c_int
        self._lib.duk_eval_raw.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.c_uint]
        self._lib.duk_safe_to_lstring.restype = ctypes.c_char_p
        self._lib.duk_safe_to_lstring.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self._lib.duk_pop.argtypes = [ctypes.c_void_p]
        self._lib.duk_destroy_heap.argtypes = [ctypes.c_void_p]
        self._heap = self._lib.duk_create_heap(None, None, None, None, None)
        test.addCleanup(self._lib.duk_destroy_heap, self._heap)

    def eval(self, source):
        """(ok, the result or the error as a string)."""
        failed = self._lib.duk_eval_raw(self._heap, source.encode(), 0, self._EVAL_STRING)
        text = self._lib.duk_safe_to_lstring(self._heap, -1, None).decode()
        self._lib.duk_pop(self._heap)
        return failed == 0, text


class PolkitRuleTest(unittest.TestCase):
    def test_baton_may_start_stop_and_restart_scheduler_instances_only(self):
        engine = Duktape(self)
        with open(RULES) as f:
            rules = f.read()
        # What polkitd's init.js provides to rules files.
        loaded, error = engine.eval(
            'var polkit = {Result: {NO: "no", YES: "yes", AUTH_SELF: "auth_self", '
            'AUTH_ADMIN: "auth_admin", NOT_HANDLED: null}, rules: [], '
            'addRule: function (rule) { this.rules.push(rule); }};\n' + rules)
        self.assertTrue(loaded, f"{RULES} does not load in Duktape: {error}")

        def decide(user, unit, verb, action="org.freedesktop.systemd1.manage-units"):
            ok, answer = engine.eval(
                f"(function () {{ var details = {{unit: {json.dumps(unit)}, verb: "
                f"{json.dumps(verb)}}};"
                f" var action = {{id: {json.dumps(action)}, lookup: function (key) "
                f"{{ return details[key]; }}}};"
                f" var subject = {{user: {json.dumps(user)}}};"
                f" for (var i = 0; i < polkit.rules.length; ++i) {{"
                f"   var result = polkit.rules[i](action, subject);"
                f"   if (result !== null && result !== undefined) return result; }}"
                f" return 'not handled'; }})()")
            self.assertTrue(ok, answer)
            return answer

        for verb in ("start", "stop", "restart"):
            self.assertEqual(decide("baton", "baton-scheduler@7.service", verb), "yes")
        self.assertEqual(decide("baton", "baton-scheduler@123456.service", "start"), "yes")
        refused = [
            ("baton", "baton-scheduler@7.service", "enable"),
            ("baton", "baton-scheduler@7.service", "reload"),
            ("baton", "baton-scheduler.service", "start"),
            ("baton", "baton-failover.service", "stop"),
            ("baton", "sshd.service", "stop"),
            ("baton", "baton-scheduler@7.service.d", "start"),
            ("baton", "baton-scheduler@x.service", "start"),
            ("mallory", "baton-scheduler@7.service", "start"),
        ]
        for user, unit, verb in refused:
            with self.subTest(user=user, unit=unit, verb=verb):
                self.assertEqual(decide(user, unit, verb), "not handled")
        self.assertEqual(decide("baton", "baton-scheduler@7.service", "start",
                                action="org.freedesktop.systemd1.manage-unit-files"),
                         "not handled")


# ----- the daemons ---------------------------------------------------------------

Message = collections.namedtuple("Message", "time pid fields")


class NotifySocket:
    """A datagram socket standing in for systemd's: each datagram is kept with
    the time it came and its sender's pid (SCM_CREDENTIALS, which systemd
    checks for NotifyAccess=main). Read on a thread of its own, as systemd
    reads: a sender blocks once ten datagrams wait unread."""

    def __init__(self, test):
        self.test = test
        folder = tempfile.mkdtemp(prefix="baton-notify-")
        # Registered before any daemon's: closed only once they are gone.
        test.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        test.addCleanup(self.close)
        self.path = os.path.join(folder, "notify")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._socket.bind(self.path)
        self._socket.settimeout(0.1)
        self._messages = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, name="notify-socket", daemon=True)
        self._reader.start()

    def environment(self):
        return {"NOTIFY_SOCKET": self.path, "WATCHDOG_USEC": str(int(WATCHDOG_SECONDS * 1e6))}

    def close(self):
        self._closing.set()
        self._reader.join()
        self._socket.close()

    def _read(self):
        credentials_size = socket.CMSG_SPACE(struct.calcsize("iII"))
        while not self._closing.is_set():
            try:
                data, ancillary, _flags, _address = self._socket.recvmsg(4096, credentials_size)
            except socket.timeout:
                continue
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:struct.calcsize("iII")])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self._messages.append(Message(time.monotonic(), pid, fields))

    def messages(self):
        with self._lock:
            return list(self._messages)

    def find(self, key, value=None, after=0.0):
        """The first message after `after` that sets `key` (to `value`), or None."""
        return next((m for m in self.messages() if m.time > after and key in m.fields
                     and value in (None, m.fields[key])), None)

    def pings(self, after=0.0, before=float("inf")):
        return [m for m in self.messages()
                if after < m.time < before and m.fields.get("WATCHDOG") == "1"]

    def statuses(self):
        return [m.fields["STATUS"] for m in self.messages() if "STATUS" in m.fields]

    def describe(self):
        return "\n".join(f"{m.time:.3f} pid {m.pid}: {m.fields}" for m in self.messages())


@contextlib.contextmanager
def extra_environment(home, extra):
    """Daemons that `home` starts inside the block get `extra` in their
    environment; its CLI calls after it do not."""
    saved = dict(home.env)
    home.env.update(extra)
    try:
        yield
    finally:
        home.env.clear()
        home.env.update(saved)


# ptrace(2) requests: stop one thread of another process while the others run.
_PTRACE_DETACH = 17
_PTRACE_SEIZE = 0x4206
_PTRACE_INTERRUPT = 0x4207
_WALL = 0x40000000
_WNOHANG = 1


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    return libc


def thread_named(pid, name):
    """The id of the thread of `pid` whose name (comm) is `name`; None when none is."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == name:
                    return int(tid)
        except OSError:
            continue
    return None


def voluntary_switches(pid, tid):
    """How often a thread went to sleep: it grows while the thread keeps turning."""
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def frozen_thread(test, pid, tid):
    """Thread `tid` of process `pid` stopped, as a deadlock would leave a loop,
    while the process's other threads run on (ptrace's PTRACE_INTERRUPT). Where
    ptrace is refused, the whole process is stopped instead (SIGSTOP); yields
    which of the two it did."""
    libc = _libc()
    if libc.ptrace(_PTRACE_SEIZE, tid, None, None) != 0:
        test.add_diagnostic("freeze", f"ptrace refused ({os.strerror(ctypes.get_errno())}): "
                                      "the whole process was stopped instead")
        os.kill(pid, signal.SIGSTOP)
        try:
            yield "process"
        finally:
            os.kill(pid, signal.SIGCONT)
        return
    try:
        libc.ptrace(_PTRACE_INTERRUPT, tid, None, None)
        os.waitpid(tid, _WALL)
        yield "thread"
    finally:
        # Never left traced: a traced thread that exits waits for its tracer.
        if libc.ptrace(_PTRACE_DETACH, tid, None, None) != 0:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(tid, _WALL | _WNOHANG)


class DaemonNotifiesSystemdTest(BatonTestCase):
    """What every daemon owes systemd, checked the same way for each."""

    def wait_for_notification(self, notify, condition, description, timeout=30,
                              alive=None):
        """Polls `condition` until it holds; a failure shows what was received."""
        return wait_for(condition, timeout, description, between=alive,
                        fail=lambda message: self.fail(f"{message}; received:\n"
                                                       f"{notify.describe()}"))

    def check_ready_and_pings(self, notify, alive):
        """READY=1, then two WATCHDOG=1 pings after it; returns the READY message."""
        ready = self.wait_for_notification(notify, lambda: notify.find("READY", "1"),
                                           "READY=1", alive=alive)
        self.wait_for_notification(notify, lambda: len(notify.pings(after=ready.time)) >= 2,
                                   "two watchdog pings after READY=1",
                                   timeout=10 * WATCHDOG_SECONDS, alive=alive)
        return ready

    def check_silent_while_frozen(self, notify, pid, loop_tid, other_tid=None):
        """No ping while the loop's thread is frozen (after a ping that an
        iteration completed before the freeze may still bring), and pings again
        once it runs."""
        other_before = voluntary_switches(pid, other_tid) if other_tid else None
        with frozen_thread(self, pid, loop_tid) as what:
            frozen_at = time.monotonic()
            time.sleep(FREEZE_SECONDS)
            silent = notify.pings(after=frozen_at + SILENT_FROM)
            if other_tid and what == "thread":
                self.assertGreater(voluntary_switches(pid, other_tid), other_before,
                                   "the daemon's other loop kept turning meanwhile")
        self.assertEqual(silent, [], f"pings while the loop was frozen at {frozen_at:.3f}:\n"
                                     f"{notify.describe()}")
        thawed_at = time.monotonic()
        self.wait_for_notification(notify, lambda: notify.pings(after=thawed_at),
                                   "a watchdog ping once the loop runs again",
                                   timeout=10 * WATCHDOG_SECONDS)

    def check_stopping(self, notify, process, stop, status_prefix):
        """SIGTERM: STOPPING=1 with a stopping STATUS, and a clean exit."""
        signalled_at = time.monotonic()
        exit_status = stop()
        self.assertEqual(exit_status, 0)
        stopping = notify.find("STOPPING", "1", after=signalled_at)
        self.assertIsNotNone(stopping, f"no STOPPING=1 after SIGTERM:\n{notify.describe()}")
        self.assertTrue(stopping.fields.get("STATUS", "").startswith(status_prefix),
                        stopping.fields)
        senders = {m.pid for m in notify.messages()}
        self.assertEqual(senders, {process.pid},
                         "every notification comes from the daemon's own process")


class SchedulerNotifiesSystemdTest(DaemonNotifiesSystemdTest):
    def test_scheduler_readiness_status_pings_and_stop(self):
        notify = NotifySocket(self)
        home = self.home()
        environment_dump = os.path.join(home.root, "task-environment.txt")
        home.write_dag("env_dump", f"dag_id = {toml_string('env_dump')}\n"
                       + task_toml("dump", f"env > {shlex.quote(environment_dump)}"))
        with extra_environment(home, notify.environment()):
            scheduler = home.start_scheduler(wait_ready=False)
        ready = self.check_ready_and_pings(notify, home.assert_scheduler_alive)

        # Ready once its job row is in the store.
        connection = sqlite3.connect(f"file:{home.db_path}?mode=ro", uri=True, timeout=10)
        try:
            rows = connection.execute("SELECT COUNT(*) FROM job WHERE kind = 'scheduler' AND "
                                      f"state = 'running' AND pid = {scheduler.pid}").fetchall()
        finally:
            connection.close()
        self.assertEqual(rows, [(1,)])
        self.assertRegex(ready.fields.get("STATUS", ""),
                         rf"^scheduler on {re.escape(socket.gethostname())}: \d+ active run\(s\)$")

        # Its tasks cannot speak for it.
        home.wait_for_dags("env_dump")
        run_id = home.trigger("env_dump")
        home.wait_for_run_state("env_dump", run_id, "success")
        with open(environment_dump) as f:
            task_environment = f.read()
        self.assertIn("BATON_TASK_ID=dump", task_environment)
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            self.assertNotIn(f"\n{name}=", "\n" + task_environment)

        # The loop is the main thread; the heartbeat thread runs on.
        self.check_silent_while_frozen(notify, scheduler.pid, scheduler.pid)
        self.check_stopping(notify, scheduler, home.stop_scheduler, "scheduler on ")


class AgentNotifiesSystemdTest(DaemonNotifiesSystemdTest):
    def test_agent_readiness_status_pings_and_stop(self):
        notify = NotifySocket(self)
        cluster = Cluster(self, store="sqlite")
        agent = cluster.start_agent("w1", env=notify.environment(), wait_ready=False)
        alive = cluster.assert_daemons_alive
        ready = self.check_ready_and_pings(notify, alive)
        self.assertEqual(ready.fields.get("STATUS"), "agent w1: 0/4 running")

        # Ready once its job row is in the store and its HTTP server answers.
        rows = cluster.sql("SELECT endpoint FROM job WHERE kind = 'agent' AND state = 'running' "
                           f"AND pid = {agent.pid}")
        self.assertEqual(len(rows), 1, rows)
        host, port = rows[0][0].rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", "/health")
            self.assertEqual(connection.getresponse().status, 200)
        finally:
            connection.close()

        # The loop (launches, ends, signals) is the main thread; the intake,
        # recorder, heartbeat and HTTP threads run on.
        self.check_silent_while_frozen(notify, agent.pid, agent.pid)
        self.check_stopping(notify, agent.process, lambda: cluster.stop_agent("w1"),
                            "agent w1: stopping")


class ControllerNotifiesSystemdTest(DaemonNotifiesSystemdTest):
    def test_controller_readiness_status_pings_and_stop(self):
        notify = NotifySocket(self)
        # A lease that outlasts the freeze: the controller stays active and its
        # scheduler loop keeps checking the scheduler meanwhile.
        cluster = FailoverCluster(self, nodes=["m1"], store="sqlite", transport="local",
                                  settings={"failover": {"lease_ttl": "30s"}})
        with extra_environment(cluster, notify.environment()):
            controller = cluster.start_controller("m1", wait_ready=False)
        alive = cluster.assert_daemons_alive
        self.check_ready_and_pings(notify, alive)
        first = cluster.wait_for_healthy_scheduler(node="m1")
        active = f"controller m1: active, epoch {first['epoch']}"
        self.wait_for_notification(notify, lambda: active in notify.statuses(),
                                   f"STATUS={active}", timeout=10, alive=alive)
        # The scheduler it started inherited none of it (and sent nothing: the
        # senders are checked at the end).
        self.assertFalse(has_environment_variable(first["pid"], "NOTIFY_SOCKET"))

        # The lease loop hangs while the scheduler loop runs on: no pings.
        lease_loop = thread_named(controller.pid, "lease-loop")
        scheduler_loop = thread_named(controller.pid, "scheduler-loop")
        self.assertIsNotNone(lease_loop, "the lease loop's thread is named lease-loop")
        self.assertIsNotNone(scheduler_loop, "the scheduler loop's thread is named scheduler-loop")
        self.check_silent_while_frozen(notify, controller.pid, lease_loop, scheduler_loop)
        self.assertIn("systemd watchdog", read_log(controller.log_path),
                      "a watchdog shorter than twice poll_frequency is reported:\n"
                      + tail(read_log(controller.log_path), 40))
        self.check_stopping(notify, controller.process, lambda: cluster.stop_controller("m1"),
                            "controller m1: stopping")


if __name__ == "__main__":
    unittest.main()
