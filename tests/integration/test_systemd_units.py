"""The packaged units under a real systemd: the .deb (BATON_DEB) installed in a
Sandbox (package_sandbox.py) that boots systemd as PID 1 of a PID namespace, with
journald, the system bus (dbus-daemon) and polkitd running there as on a master.

- baton-scheduler.service, with an SQLite store and the local executor: `systemctl
  start` returns once the scheduler has sent READY=1, which it does after its job
  row is in the store; systemd shows its STATUS= line; it runs as baton and its
  watchdog pings reach systemd; a triggered run succeeds with its task running as
  baton under the unit's hardening; `systemctl stop` ends it cleanly.
- Its watchdog: a scheduler frozen with SIGSTOP is killed and restarted by systemd.
- baton-failover.service: the controller takes the lease and starts
  baton-scheduler@EPOCH.service with systemctl, as user baton, allowed by the
  packaged polkit rule, which allows baton nothing else; stopped, it leaves the
  scheduler running; started again, it replaces it with the next epoch's.
- `dpkg --remove`: prerm stops the controller, then the scheduler.

Nothing of it reaches this machine: the namespace's /etc, /usr and /var are
overlays on a tmpfs, /run and /tmp are its own, so are its network, IPC and host
name, and its cgroups are children of this test's. It needs root, unshare and
nsenter, systemd, dbus-daemon and polkitd, and the package; without them it is
skipped.
"""

import json
import os
import re
import shutil
import time
import unittest
from datetime import datetime

from harness import BATON_BIN, dedent, task_toml, wait_for
from package_sandbox import DEB, SYSTEMD, Sandbox

# What `systemctl show` reports about a unit, for the failure messages.
UNIT_PROPERTIES = ("ActiveState", "SubState", "Result", "MainPID", "NRestarts", "StatusText",
                   "ExecMainStatus")

# Short enough that pings, and their absence, show within seconds; the
# daemons ping at most every quarter of WatchdogSec.
WATCHDOG_SECONDS = 3

NODE = "master1"

CONFIG = dedent(f"""
    [core]
    dags_folder = "/var/lib/baton/dags"
    logs_folder = "/var/log/baton"

    [store]
    url = "sqlite:/var/lib/baton/baton.db"

    [executor]
    kind = "local"

    [scheduler]
    loop_interval = "200ms"
    heartbeat_interval = "500ms"
    dag_dir_list_interval = "1s"

    [failover]
    node_name = "{NODE}"
    nodes = ["{NODE}"]
    heartbeat_interval = "500ms"
    lease_ttl = "3s"
    poll_frequency = "1s"
    baton_binary = "/usr/bin/baton"

    [failover.node.{NODE}]
    local = true

    [logging]
    level = "info"
""")

# Each line the task writes: what it found about itself.
PROBE_REPORT = "/var/lib/baton/probe-report"
PROBE_COMMAND = dedent(f"""
    {{
      echo "user $(id -un)"
      echo "$(grep NoNewPrivs /proc/self/status | tr -d '\\t')"
      for directory in /usr /etc /var/lib/baton; do
        if touch "$directory/.baton-probe" 2>/dev/null; then
          rm -f "$directory/.baton-probe"
          echo "$directory writable"
        else
          echo "$directory read-only"
        fi
      done
      touch /tmp/baton-probe
    }} > {PROBE_REPORT}
""")

PROBE_DAG = dedent("""
    dag_id = "probe"
    schedule = "none"
    start_date = "2024-01-01T00:00:00Z"
""") + task_toml("report", PROBE_COMMAND)

AS_BATON = ("runuser", "-u", "baton", "--")
BATON_AS_DAEMONS_RUN_IT = (*AS_BATON, "env", "BATON_HOME=/var/lib/baton",
                           "BATON_CONFIG=/etc/baton/baton.toml", "/usr/bin/baton")


def missing_requirement():
    """Why this machine cannot boot the sandbox, or None."""
    if os.geteuid() != 0:
        return "booting systemd in a PID namespace needs root"
    for command in ("unshare", "nsenter", "dpkg"):
        if shutil.which(command) is None:
            return f"{command} is not installed"
    for path, package in ((SYSTEMD, "systemd"), ("/usr/bin/dbus-daemon", "dbus"),
                          ("/usr/lib/polkit-1/polkitd", "polkitd")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (the Debian package {package}; " \
                   "scripts/install-deps.sh --test installs it)"
    if not DEB or not os.path.isfile(DEB):
        return f"no package at BATON_DEB={DEB!r}: run `cmake --build build --target package`"
    return None


def boot_with_package(add_cleanup):
    """A booted Sandbox with the package installed as an operator installs it
    (postinst's daemon-reload reaches the running systemd), journald, the system
    bus and polkitd running, baton.toml written, the store created, and the
    probe DAG in place."""
    sandbox = Sandbox(add_cleanup, record_systemctl=False)
    sandbox.boot()
    sandbox.install()
    # The namespace's journal holds its own messages only, not this machine's
    # kernel log.
    sandbox.run("mkdir", "-p", "/etc/systemd/journald.conf.d")
    sandbox.write_file("/etc/systemd/journald.conf.d/baton-test.conf", "[Journal]\nReadKMsg=no\n")
    sandbox.run("systemctl", "start", "systemd-journald.socket", "systemd-journald.service",
                "dbus.socket", "dbus.service", "polkit.service")
    sandbox.write_file("/etc/baton/baton.toml", CONFIG, owner="root:baton", mode=0o640)
    sandbox.write_file("/var/lib/baton/dags/probe.toml", PROBE_DAG, owner="baton:baton")
    sandbox.run(*BATON_AS_DAEMONS_RUN_IT, "db", "init")
    return sandbox


class BootedTestCase(unittest.TestCase):
    """Tests that share one booted sandbox; on a failure, the end of its journal
    is printed."""

    sandbox = None

    @classmethod
    def setUpClass(cls):
        reason = missing_requirement()
        if reason:
            raise unittest.SkipTest(reason)
        if os.path.exists(BATON_BIN) and os.path.getmtime(DEB) < os.path.getmtime(BATON_BIN):
            raise AssertionError(f"{DEB} is older than {BATON_BIN}: run "
                                 "`cmake --build build --target package`")
        cls.sandbox = boot_with_package(cls.addClassCleanup)

    def run(self, result=None):
        problems = len(result.failures) + len(result.errors) if result else 0
        outcome = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > problems \
                and self.sandbox is not None and self.sandbox.init_pid is not None:
            journal = self.sandbox.run("journalctl", "--no-pager", "-n", "200", "-o",
                                       "short-monotonic", "--unit=baton-*",
                                       "--unit=polkit.service", "--unit=dbus.service",
                                       check=False)
            print(f"\n----- {self.id()}: the journal of the baton units, polkit and dbus -----\n"
                  f"{journal.stdout}{journal.stderr}")
        return outcome

    def systemctl(self, *args, check=True):
        return self.sandbox.run("systemctl", *args, check=check)

    def show(self, unit, *properties):
        """{property: value} of `unit` from `systemctl show`."""
        text = self.systemctl("show", unit, *(f"--property={p}" for p in properties)).stdout
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def describe(self, unit):
        return f"{unit}: {self.show(unit, *UNIT_PROPERTIES)}"

    def wait_for_unit(self, unit, condition, timeout, description):
        def reached():
            shown = self.show(unit, *UNIT_PROPERTIES, "WatchdogTimestampMonotonic")
            return shown if condition(shown) else None

        return wait_for(reached, timeout, f"{unit}: {description}",
                        fail=lambda message: self.fail(f"{message}; {self.describe(unit)}"))

    def baton(self, *args, check=True):
        return self.sandbox.run(*BATON_AS_DAEMONS_RUN_IT, *args, check=check)


class SystemdUnitsTest(BootedTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sandbox.run("mkdir", "-p", "/run/systemd/system/baton-scheduler.service.d")
        cls.sandbox.write_file("/run/systemd/system/baton-scheduler.service.d/watchdog.conf",
                               f"[Service]\nWatchdogSec={WATCHDOG_SECONDS}s\n")
        cls.sandbox.run("systemctl", "daemon-reload")

    def setUp(self):
        self.addCleanup(self.stop_every_baton_unit)

    # ----- processes, clocks, cleanup ---------------------------------------

    def process_user(self, pid):
        return self.sandbox.output("ps", "-o", "user=", "-p", str(pid)).strip()

    def realtime_of(self, monotonic_usec):
        """The wall-clock time of a CLOCK_MONOTONIC timestamp that systemd reports
        (this machine's clocks: the namespace has no time namespace of its own)."""
        return time.time() - (time.monotonic() - int(monotonic_usec) / 1e6)

    def stop_every_baton_unit(self):
        self.systemctl("stop", "baton-failover.service", check=False)
        self.systemctl("stop", "baton-scheduler.service", "baton-scheduler@*.service",
                       check=False)
        self.systemctl("reset-failed", check=False)

    # ----- the tests -------------------------------------------------------

    def test_scheduler_unit_is_ready_pings_runs_tasks_hardened_and_stops_cleanly(self):
        unit = "baton-scheduler.service"
        self.systemctl("start", unit)
        # Right as `systemctl start` returns, without waiting.
        shown = self.show(unit, *UNIT_PROPERTIES, "ActiveEnterTimestampMonotonic",
                          "WatchdogTimestampMonotonic")
        self.assertEqual((shown["ActiveState"], shown["SubState"]), ("active", "running"),
                         self.describe(unit))
        main_pid = int(shown["MainPID"])
        # READY=1 comes after the job row is in the store: the unit became
        # active after the scheduler had recorded itself.
        schedulers = json.loads(self.baton("jobs", "list", "--kind", "scheduler",
                                           "--json").stdout)
        job = next((j for j in schedulers if j["pid"] == main_pid), None)
        not_waited = "systemd did not wait for READY=1: the unit was active before the " \
                     "scheduler recorded its job"
        self.assertIsNotNone(job, f"{not_waited} (no scheduler job with pid {main_pid} yet: "
                                  f"{schedulers})")
        recorded = datetime.fromisoformat(job["start_date"].replace("Z", "+00:00")).timestamp()
        active_since = self.realtime_of(shown["ActiveEnterTimestampMonotonic"])
        self.assertLessEqual(recorded, active_since + 0.001,
                             f"{not_waited} (job recorded at {job['start_date']}, "
                             f"{recorded - active_since:.6f}s after the unit became active)")
        self.assertRegex(shown["StatusText"], r"^scheduler on \S+: \d+ active run\(s\)$",
                         "systemd has not got the scheduler's STATUS= line")
        self.assertEqual(self.process_user(main_pid), "baton")

        self.assertEqual(self.show(unit, "WatchdogUSec"), {"WatchdogUSec": f"{WATCHDOG_SECONDS}s"})
        first = int(shown["WatchdogTimestampMonotonic"])
        pinged = self.wait_for_unit(
            unit, lambda s: int(s["WatchdogTimestampMonotonic"]) > first, 3 * WATCHDOG_SECONDS,
            "a watchdog ping after READY=1")
        self.wait_for_unit(
            unit, lambda s: int(s["WatchdogTimestampMonotonic"])
            > int(pinged["WatchdogTimestampMonotonic"]), 3 * WATCHDOG_SECONDS,
            "a second watchdog ping")

        run_id = self.baton("dags", "trigger", "probe").stdout.split()[-1]

        def finished():
            runs = json.loads(self.baton("runs", "list", "--dag", "probe", "--json").stdout)
            run = next((r for r in runs if r["run_id"] == run_id), None)
            return run if run and run["state"] in ("success", "failed") else None

        run = wait_for(finished, 30, f"run probe/{run_id} to finish", fail=self.fail)
        self.assertEqual(run["state"], "success", self.baton("tasks", "states", "probe", run_id,
                                                             check=False).stdout)
        report = self.sandbox.output("cat", PROBE_REPORT).splitlines()
        self.assertEqual(report, ["user baton", "NoNewPrivs:1", "/usr read-only",
                                  "/etc read-only", "/var/lib/baton writable"])
        # PrivateTmp: the task's /tmp was the unit's own.
        self.assertFalse(self.sandbox.exists("/tmp/baton-probe"))
        self.assertEqual(self.show(unit, "MainPID")["MainPID"], str(main_pid))

        self.systemctl("stop", unit)
        stopped = self.show(unit, *UNIT_PROPERTIES)
        self.assertEqual((stopped["ActiveState"], stopped["Result"], stopped["ExecMainStatus"]),
                         ("inactive", "success", "0"), self.describe(unit))

    def test_watchdog_restarts_a_frozen_scheduler(self):
        unit = "baton-scheduler.service"
        self.systemctl("start", unit)
        before = self.show(unit, *UNIT_PROPERTIES)
        frozen = int(before["MainPID"])
        self.sandbox.run("kill", "-STOP", str(frozen))
        # WatchdogSec, then RestartSec (5 s), then READY=1 of the new one.
        restarted = self.wait_for_unit(
            unit, lambda s: int(s["NRestarts"]) > int(before["NRestarts"])
            and s["MainPID"] not in ("0", str(frozen)) and s["SubState"] == "running",
            WATCHDOG_SECONDS + 15, "a restart after the watchdog fired")
        self.assertEqual(restarted["ActiveState"], "active")
        self.assertFalse(self.sandbox.exists(f"/proc/{frozen}"),
                         f"the frozen scheduler (pid {frozen}) is still there")
        journal = self.sandbox.output("journalctl", "--no-pager", "-o", "cat", "-u", unit)
        self.assertIn("Watchdog timeout", journal)

    def test_failover_controller_starts_the_scheduler_instance_through_polkit(self):
        unit = "baton-failover.service"
        self.systemctl("start", unit)
        shown = self.wait_for_unit(
            unit, lambda s: re.match(rf"^controller {NODE}: active, epoch \d+$", s["StatusText"]),
            15, "the controller to become active")
        self.assertEqual((shown["ActiveState"], shown["SubState"]), ("active", "running"))
        self.assertEqual(self.process_user(shown["MainPID"]), "baton")
        epoch = int(shown["StatusText"].rsplit(" ", 1)[1])

        instance = f"baton-scheduler@{epoch}.service"
        scheduler = self.wait_for_unit(
            instance, lambda s: s["SubState"] == "running", 15,
            "the controller to start the scheduler of its epoch with systemctl")
        self.assertEqual(scheduler["StatusText"].split(":")[0],
                         f"scheduler epoch {epoch} on {NODE}")
        self.assertEqual(self.process_user(scheduler["MainPID"]), "baton")
        # The pidfile the controller's check reads: "PID START_TIME".
        self.assertEqual(self.sandbox.output("cat", "/var/lib/baton/scheduler.pid").split()[0],
                         scheduler["MainPID"])
        listed = self.systemctl("list-units", "--plain", "--no-legend", "baton-scheduler@*")
        self.assertEqual([line.split()[0] for line in listed.stdout.splitlines()], [instance])

        def status_agrees():
            result = self.baton("failover", "status", check=False)
            lines = result.stdout.splitlines()
            agrees = (result.returncode == 0 and len(lines) >= 3
                      and lines[0] == f"this node: {NODE} (active)"
                      and lines[1].startswith(f"lease: {NODE}, epoch {epoch},")
                      and re.match(rf"^scheduler: {NODE}, .*\(healthy\)$", lines[2]))
            return lines if agrees else None

        wait_for(status_agrees, 15, "`baton failover status` to show this node active with "
                 f"epoch {epoch} and a healthy scheduler",
                 fail=lambda message: self.fail(
                     message + ":\n" + self.baton("failover", "status", check=False).stdout))

        # The rule allows baton the scheduler instances only.
        for verb, other in (("start", "baton-agent.service"),
                            ("start", "baton-scheduler.service"),
                            ("stop", unit),
                            ("enable", "baton-scheduler@99.service")):
            with self.subTest(verb=verb, unit=other):
                refused = self.sandbox.run(*AS_BATON, "systemctl", verb, other, check=False)
                self.assertNotEqual(refused.returncode, 0, f"baton may {verb} {other}")
                self.assertRegex(refused.stderr, r"Interactive authentication required|"
                                                 r"Access denied")
        self.assertEqual(self.show("baton-agent.service", "ActiveState")["ActiveState"],
                         "inactive")
        self.assertEqual(self.show(unit, "ActiveState")["ActiveState"], "active")

        # The scheduler is a unit of its own: the controller stops, it stays.
        self.systemctl("stop", unit)
        self.assertEqual(self.show(unit, "ActiveState", "Result"),
                         {"ActiveState": "inactive", "Result": "success"})
        self.assertEqual(self.show(instance, "SubState", "MainPID"),
                         {"SubState": "running", "MainPID": scheduler["MainPID"]})

        # Back, the controller takes the next epoch: it stops the old epoch's
        # scheduler and starts its own, both through systemctl as baton.
        self.systemctl("start", unit)
        self.wait_for_unit(unit, lambda s: s["StatusText"]
                           == f"controller {NODE}: active, epoch {epoch + 1}", 15,
                           f"the controller to become active with epoch {epoch + 1}")
        self.wait_for_unit(f"baton-scheduler@{epoch + 1}.service",
                           lambda s: s["SubState"] == "running", 15,
                           f"the scheduler of epoch {epoch + 1} to run")
        listed = self.systemctl("list-units", "--plain", "--no-legend", "baton-scheduler@*")
        self.assertEqual([line.split()[0] for line in listed.stdout.splitlines()],
                         [f"baton-scheduler@{epoch + 1}.service"])


class PackageRemovalTest(BootedTestCase):
    """A sandbox of its own: the test removes the package."""

    def test_remove_stops_the_controller_first_then_the_scheduler(self):
        self.systemctl("start", "baton-failover.service")
        self.wait_for_unit("baton-scheduler@1.service", lambda s: s["SubState"] == "running", 15,
                           "the controller to start the scheduler")
        # This machine's /usr/sbin/policy-rc.d, if any, is a container image's
        # (exit 101: start and stop nothing), which no master has.
        self.sandbox.run("rm", "-f", "/usr/sbin/policy-rc.d")
        self.sandbox.run("dpkg", "--remove", "baton")

        for unit in ("baton-failover.service", "baton-scheduler@1.service"):
            self.assertEqual(self.show(unit, "ActiveState")["ActiveState"], "inactive", unit)
        baton_processes = self.sandbox.run("pgrep", "-a", "-f", "/usr/bin/baton", check=False)
        self.assertEqual(baton_processes.stdout, "", "a daemon runs on from the removed binary")
        journal = self.sandbox.output("journalctl", "--no-pager", "-o", "cat",
                                      "-u", "baton-failover.service",
                                      "-u", "baton-scheduler@1.service").splitlines()
        stopped = [line for line in journal if line.startswith("Stopped baton-")]
        self.assertEqual([line.split()[1] for line in stopped],
                         ["baton-failover.service", "baton-scheduler@1.service"], stopped)


if __name__ == "__main__":
    unittest.main()
