"""Failover controllers on one machine, for the failover integration tests and the
takeover benchmark.

A FailoverCluster is a harness.BatonHome (its CLI helpers, waits, ledger and
cleanup) whose masters are "nodes" m1, m2, ...: each node has a baton.toml of
its own (node-NAME.toml: the same store and DAG folder, its own
failover.node_name), a `baton failover start` controller, and, with
transport="ssh", an OpenSSH server of its own on 127.0.0.1 (sshd.SshServer) that
the other nodes' controllers reach it through: [failover.node.NAME] ssh_host =
"127.0.0.1", ssh_port = that server's port, one client key and one known_hosts
file for all. With transport="local", every node is `local = true` (no SSH).
The store is a private MariaDB (its password in a file, since a command run over
SSH does not inherit our environment) or the home's SQLite file.

    class MyTest(harness.BatonTestCase):
        def test_something(self):
            cluster = FailoverCluster(self, nodes=["m1", "m2"])
            dag = cluster.write_chains_dag("d", chains=3, length=4, seconds=1)
            cluster.start_controllers()           # m1 becomes active, then m2 stands by
            first = cluster.wait_for_healthy_scheduler()     # {"node", "epoch", "pid"}
            run_id = cluster.trigger("d")
            cluster.kill_host(first["node"])      # SIGKILL: controller, scheduler, tasks
            cluster.wait_for_healthy_scheduler(min_epoch=first["epoch"] + 1)
            cluster.finish("d", run_id)           # the run ends; the ledger checks

The controllers are started by this process; the schedulers by the controllers
(detached with setsid, or over SSH): each node's scheduler is found through its
pidfile (<root>/scheduler-NODE.pid, "PID START_TICKS") and logs to
<root>/scheduler-NODE.log.

Task commands made by `ledger_command` record "DAG RUN TASK TRY EPOCH START PPID"
in the ledger: EPOCH is the `--epoch` of the scheduler that started the try (the
local executor's task shell is the scheduler's child), START the wall-clock time
(seconds since 1970) the task began, PPID that scheduler's pid.

This process becomes a child subreaper (see install_orphan_reaper): a scheduler
detached with setsid, and the tasks of a killed scheduler, are reparented to it
and reaped here, as init or systemd would on a real master. Without it, a killed
scheduler stays a zombie under a container's init that reaps nothing, and its
pidfile keeps naming a "running" process.

Every process is killed in cleanup (controllers, schedulers through their
pidfiles, tasks, and anything else with the home's token in its command line),
then the SSH and MariaDB servers are closed, even when the test fails; a
failing test prints each controller's and scheduler's log, the failover history,
the lease, the store's task instances and jobs, and the ledger.

Outside unittest (a benchmark), pass a cluster.StandaloneOwner() as the test.
"""

import copy
import ctypes
import json
import os
import shlex
import signal
import subprocess
import threading
import time
import weakref

from cluster import ClusterHome, Daemon, descendants, render_toml
from harness import BATON_BIN, POLL_INTERVAL, BatonHome, read_log, tail, task_toml, dedent

# How long a controller gets to register its job row after it started.
CONTROLLER_READY_TIMEOUT = 20

# The fast profile: a lease of 4 s renewed every second, the scheduler checked
# every 2 s and judged dead after 5 s without a heartbeat (it beats every
# second). Takeover within about 10 s.
FAST_PROFILE = {
    "scheduler": {
        "loop_interval": "200ms",
        "heartbeat_interval": "1s",
        # Also the age at which the new scheduler judges a task owner gone.
        "health_threshold": "4s",
        "dag_dir_list_interval": "500ms",
        "kill_grace_period": "2s",
    },
    "failover": {
        "heartbeat_interval": "1s",
        "lease_ttl": "4s",
        "poll_frequency": "2s",
        "scheduler_health_threshold": "5s",
        "restart_retries": 2,
        "retry_wait": "1s",
        "ssh_connect_timeout": "2s",
    },
}

# Baton's own defaults (config.cc's DefaultConfigText) for [scheduler] and
# [failover]: a lease of 10 s renewed every 2 s, a poll every 10 s, a scheduler
# heartbeat every 5 s judged after 30 s.
DEFAULT_PROFILE = {"scheduler": {}, "failover": {}}

PROFILES = {"fast": FAST_PROFILE, "default": DEFAULT_PROFILE}


# ----- an init for the processes the controllers detach ---------------------

_PR_SET_CHILD_SUBREAPER = 36
_reaper_lock = threading.Lock()
_popen_children = {}  # pid -> weakref to the subprocess.Popen that started it
_orphan_exits = {}  # pid -> exit code (negative: the signal) of an orphan reaped here
_reaper_installed = False


def install_orphan_reaper():
    """Makes this process the reaper of its descendants' orphans (idempotent).

    Orphans are reaped by a thread; children started through subprocess are
    left to their Popen (every Popen start is recorded under a lock the reaper
    holds while it reaps, so it never takes another's exit status).
    """
    global _reaper_installed
    with _reaper_lock:
        if _reaper_installed:
            return
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(error)}")
        original = subprocess.Popen._execute_child

        def recorded(popen, *args, **kwargs):
            with _reaper_lock:
                original(popen, *args, **kwargs)
                _popen_children[popen.pid] = weakref.ref(popen)

        subprocess.Popen._execute_child = recorded
        threading.Thread(target=_reap_orphans, name="orphan-reaper", daemon=True).start()
        _reaper_installed = True


def orphan_exit_code(pid):
    """The exit code of an orphan reaped here (negative: killed by that signal), or None."""
    with _reaper_lock:
        return _orphan_exits.get(pid)


def _children():
    me = os.getpid()
    found = []
    try:
        threads = os.listdir(f"/proc/{me}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{me}/task/{tid}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            continue
    return found


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] == "Z"


def _reap_orphans():
    while True:
        time.sleep(0.05)
        for pid in _children():
            if not _is_zombie(pid):
                continue
            with _reaper_lock:
                reference = _popen_children.get(pid)
                popen = reference() if reference is not None else None
                if popen is not None and popen.returncode is None:
                    continue  # its Popen waits for it
                try:
                    reaped, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
                if reaped:
                    _popen_children.pop(pid, None)
                    _orphan_exits[pid] = os.waitstatus_to_exitcode(status)


# ----- processes ---------------------------------------------------------------


def process_state(pid):
    """The state letter of a process (R, S, T, Z, ...), or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[0]


def process_start_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def process_alive(pid):
    state = process_state(pid)
    return state is not None and state not in ("Z", "X")


def process_argv(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def argv_epoch(argv):
    """The value of `--epoch` in a scheduler's argv, as an int; None without one."""
    for index, arg in enumerate(argv[:-1]):
        if arg == "--epoch":
            try:
                return int(argv[index + 1])
            except ValueError:
                return None
    return None


def has_environment_variable(pid, name):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return any(entry.startswith(name.encode() + b"=") for entry in f.read().split(b"\0"))
    except OSError:
        return False


def signal_quietly(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except OSError:
        return False


class Controller(Daemon):
    """One `baton failover start` process of a node."""

    def __init__(self, node, process, log_path):
        super().__init__(process, log_path)
        self.node = node
        self.paused = False


class FailoverCluster(ClusterHome):
    """Nodes with a controller each, one store, one DAG folder; see the module doc.

    nodes: the node names, in [failover] nodes order.
    store: "mariadb" (a private server, or `mariadb` shared, in `database`) or "sqlite".
    transport: "ssh" (an sshd per node) or "local" (every node `local = true`).
    profile: "fast" or "default" (Baton's own failover and scheduler timings).
    settings: {section: {key: value}} merged over the profile, for every node.
    node_overrides: {node: {key: value}} for that node's [failover.node.NODE].
    untrusted_host_keys: nodes whose sshd host key is left out of known_hosts.
    """

    # Seven fields a line (BatonHome checks the count); ledger_command() writes them.
    LEDGER_FIELDS = BatonHome.LEDGER_FIELDS + ("EPOCH", "START", "PPID")

    def __init__(self, test, nodes=("m1", "m2"), store="mariadb", mariadb=None, database=None,
                 transport="ssh", profile="fast", settings=None, node_overrides=None,
                 untrusted_host_keys=()):
        install_orphan_reaper()
        self.nodes = list(nodes)
        self.transport = transport
        self._choose_store(test, store, mariadb, database)
        self.ssh = {}  # node -> sshd.SshServer
        if transport == "ssh":
            import sshd  # here: a local-only cluster does not need OpenSSH
            for node in self.nodes:
                self.ssh[node] = sshd.SshServer.for_test(test)
        elif transport != "local":
            raise ValueError(f"unknown transport {transport!r} (ssh or local)")
        # BatonHome's cleanups (kill every process, diagnostics, remove the
        # folder) are registered after the servers', so they run before the
        # servers are closed.
        super().__init__(test, config=None, init=False)
        os.makedirs(self.dags_folder, exist_ok=True)
        os.makedirs(self.logs_folder, exist_ok=True)
        for name in ("BATON_STORE_PASSWORD", "BATON_CONFIG", "SSH_AUTH_SOCK"):
            self.env.pop(name, None)

        self.controllers = {}  # node -> its latest Controller
        self._controller_history = []
        self.alerts_path = os.path.join(self.root, "alerts.txt")
        self.known_hosts_path = os.path.join(self.root, "known_hosts")
        self.untrusted_host_keys = set(untrusted_host_keys)
        if transport == "ssh":
            self.write_known_hosts()

        store_settings = {"connect_timeout": "2s", "io_timeout": "10s"}
        if self.mariadb is not None:
            password_file = os.path.join(self.root, "store-password")
            with open(os.open(password_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(self.mariadb.password)
            store_settings.update(url=self.mariadb.url(self.database), password_file=password_file)
        else:
            store_settings.update(url="sqlite:baton.db")
        chosen = PROFILES[profile]
        self.settings = {
            "core": {"dags_folder": "dags", "logs_folder": "logs", "parallelism": 16,
                     "default_timezone": "UTC"},
            "store": store_settings,
            "scheduler": dict(chosen["scheduler"]),
            "executor": {"kind": "local"},
            "failover": dict(chosen["failover"]),
            "alerts": {
                "command": 'echo "$BATON_ALERT_KIND $BATON_ALERT_NODE $BATON_ALERT_EPOCH '
                           f'$BATON_ALERT_SUBJECT" >> {shlex.quote(self.alerts_path)}',
            },
            "logging": {"level": "debug"},
        }
        self.settings["failover"].update({
            "nodes": self.nodes,
            "pidfile": os.path.join(self.root, "scheduler-{node}.pid"),
            "scheduler_log": os.path.join(self.root, "scheduler-{node}.log"),
        })
        if transport == "ssh":
            any_server = next(iter(self.ssh.values()))
            self.settings["failover"].update({
                "ssh_user": any_server.user,
                "ssh_identity_file": any_server.identity_file,
                "known_hosts": self.known_hosts_path,
            })
        for section, values in (settings or {}).items():
            self.settings.setdefault(section, {}).update(values)
        self.node_overrides = {node: dict((node_overrides or {}).get(node, {}))
                               for node in self.nodes}
        self.write_configs()
        self.run_ok("db", "init")

    # ----- configuration -------------------------------------------------------

    def config_of(self, node):
        return os.path.join(self.path, f"node-{node}.toml")

    def node_settings(self, node):
        """{section: {key: value}} of node NODE's baton.toml."""
        settings = copy.deepcopy(self.settings)
        logging = settings.pop("logging")
        settings["failover"]["node_name"] = node
        for name in self.nodes:
            table = {}
            if self.transport == "ssh":
                table.update(ssh_host="127.0.0.1", ssh_port=self.ssh[name].port)
            else:
                table["local"] = True
            table.update(self.node_overrides[name])
            settings[f"failover.node.{name}"] = table
        settings["logging"] = logging
        return settings

    def write_configs(self):
        """Writes every node's baton.toml, and $BATON_HOME/baton.toml (the first
        node's, for the CLI calls of the harness)."""
        for node in self.nodes:
            text = render_toml(self.node_settings(node))
            self._write_atomically(self.config_of(node), text)
        self.write_config(render_toml(self.node_settings(self.nodes[0])))

    def write_known_hosts(self):
        """known_hosts with the host key of every node's sshd, but those in
        `untrusted_host_keys`."""
        lines = []
        for node in self.nodes:
            if node not in self.untrusted_host_keys:
                lines.append(self.ssh[node].known_hosts_line())
        self._write_atomically(self.known_hosts_path, "".join(lines))

    # ----- DAGs and the ledger ---------------------------------------------------

    def ledger_command(self, body=""):
        """A task command that records "DAG RUN TASK TRY EPOCH START PPID", then runs `body`."""
        record = ("e=$(tr '\\0' '\\n' </proc/$PPID/cmdline 2>/dev/null | "
                  "sed -n '/^--epoch$/{n;p;q;}'); "
                  'echo "$BATON_DAG_ID $BATON_RUN_ID $BATON_TASK_ID $BATON_TRY_NUMBER '
                  '${e:-none} $(date +%s.%N) $PPID" >> ' + shlex.quote(self.ledger_path))
        return record + ("\n" + body if body else "")

    def ledger_entries(self):
        """[{dag_id, run_id, task_id, try_number, epoch, start, ppid}] in start order."""
        entries = []
        for dag_id, run_id, task_id, try_number, epoch, start, ppid in self.ledger_lines():
            entries.append({"dag_id": dag_id, "run_id": run_id, "task_id": task_id,
                            "try_number": int(try_number),
                            "epoch": None if epoch == "none" else int(epoch),
                            "start": float(start), "ppid": int(ppid)})
        return entries

    def write_chains_dag(self, dag_id, chains, length, seconds, retries=2, **dag_keys):
        """`chains` independent chains of `length` tasks (cK_1 -> cK_2 -> ...), each
        recording its start in the ledger, then sleeping `seconds`. Returns the task ids."""
        command = self.ledger_command(self.sleep_command(seconds))
        text = dedent(f"""
            dag_id = "{dag_id}"
            """)
        for key, value in dag_keys.items():
            text += f"{key} = {json.dumps(value)}\n"
        text += dedent(f"""

            [defaults]
            retries = {retries}
            retry_delay = "0s"
            """)
        tasks = []
        for chain in range(1, chains + 1):
            for step in range(1, length + 1):
                upstream = [f"c{chain}_{step - 1}"] if step > 1 else []
                text += task_toml(f"c{chain}_{step}", command, upstream=upstream)
                tasks.append(f"c{chain}_{step}")
        self.write_dag(dag_id, text)
        return tasks

    # ----- controllers -----------------------------------------------------------

    def run_on(self, node, *args, **kwargs):
        """`baton --config node-NODE.toml ARGS` (a CompletedProcess)."""
        return self.run("--config", self.config_of(node), *args, **kwargs)

    def start_controller(self, node, wait_ready=True):
        """Starts NODE's `baton failover start`; with `wait_ready`, returns once its
        job row is in the store."""
        log_path = os.path.join(self.root, f"controller-{node}-{len(self._controller_history)}.log")
        process = self.start_daemon([BATON_BIN, "--config", self.config_of(node), "failover",
                                     "start"], log_path)
        controller = Controller(node, process, log_path)
        self.controllers[node] = controller
        self._controller_history.append(controller)
        if wait_ready:
            self.wait_for_controller(node)
        return controller

    def wait_for_controller(self, node, timeout=CONTROLLER_READY_TIMEOUT):
        controller = self.controllers[node]

        def registered():
            if not controller.alive():
                self.test.fail(f"controller {node} exited with status "
                               f"{controller.process.returncode} while starting:\n"
                               f"{tail(controller.output(), 60)}")
            rows = self.sql("SELECT COUNT(*) FROM job WHERE kind = 'controller' AND state = "
                            f"'running' AND name = '{node}' AND pid = {controller.pid}")
            return rows and rows[0][0] != "0"

        self.wait_until(registered, timeout, f"controller {node} to register in the store")

    def start_controllers(self, *nodes, timeout=30):
        """Starts the controllers of `nodes` (default: all): the first one alone
        until it holds the lease, so it is the active one, then the others.
        Returns the lease."""
        nodes = list(nodes) or self.nodes
        self.start_controller(nodes[0])
        lease = self.wait_for_lease(holder=nodes[0], timeout=timeout)
        for node in nodes[1:]:
            self.start_controller(node, wait_ready=False)
        for node in nodes[1:]:
            self.wait_for_controller(node)
        return lease

    def kill_controller(self, node, sig=signal.SIGKILL):
        controller = self.controllers[node]
        controller.stopped_on_purpose = True
        controller.process.send_signal(sig)
        if sig == signal.SIGKILL:
            controller.process.wait()

    def stop_controller(self, node, timeout=30):
        """SIGTERM; returns the exit status."""
        controller = self.controllers[node]
        controller.stopped_on_purpose = True
        return self.stop_daemon(controller.process, signal.SIGTERM, timeout,
                                f"controller {node}", controller.log_path)

    def pause_controller(self, node):
        """SIGSTOP: the controller is frozen, as on a stalled or partitioned host."""
        controller = self.controllers[node]
        controller.paused = True
        os.kill(controller.pid, signal.SIGSTOP)

    def resume_controller(self, node):
        controller = self.controllers[node]
        os.kill(controller.pid, signal.SIGCONT)
        controller.paused = False

    def controller_output(self, node):
        return self.controllers[node].output()

    # ----- schedulers --------------------------------------------------------------

    def pidfile_of(self, node):
        return os.path.join(self.root, f"scheduler-{node}.pid")

    def scheduler_log_of(self, node):
        return os.path.join(self.root, f"scheduler-{node}.log")

    def scheduler_pid(self, node):
        """The pid of NODE's scheduler per its pidfile when that process runs (same
        pid, same start time, not a zombie); else None."""
        try:
            with open(self.pidfile_of(node)) as f:
                fields = f.read().split()
        except OSError:
            return None
        if len(fields) < 2:
            return None
        pid, ticks = int(fields[0]), int(fields[1])
        if process_start_ticks(pid) != ticks or not process_alive(pid):
            return None
        return pid

    def scheduler_epoch(self, pid):
        return argv_epoch(process_argv(pid))

    def kill_scheduler_of(self, node, sig=signal.SIGKILL, with_tasks=False):
        """Signals NODE's scheduler; with SIGKILL and `with_tasks` its task processes
        die with it (as when its host dies). Returns the scheduler's pid."""
        pid = self.scheduler_pid(node)
        if pid is None:
            self.test.fail(f"no scheduler runs on {node} (pidfile {self.pidfile_of(node)})")
        if sig == signal.SIGKILL and with_tasks:
            os.kill(pid, signal.SIGSTOP)  # frozen first: it sees none of its tasks die
            for task in descendants(pid):
                signal_quietly(task, signal.SIGKILL)
        os.kill(pid, sig)
        return pid

    def kill_host(self, node):
        """NODE's host dies: SIGKILL to its controller, its scheduler and the
        scheduler's tasks, at once (each frozen first, so none acts on another's
        death), and its sshd falls silent (SIGSTOP: connections to it time out).
        Returns the scheduler's pid (None when none ran there)."""
        controller = self.controllers[node]
        controller.stopped_on_purpose = True
        if node in self.ssh:
            self.ssh[node].pause()
        os.kill(controller.pid, signal.SIGSTOP)
        scheduler = self.scheduler_pid(node)
        if scheduler is not None:
            os.kill(scheduler, signal.SIGSTOP)
            for task in descendants(scheduler):
                signal_quietly(task, signal.SIGKILL)
            os.kill(scheduler, signal.SIGKILL)
        controller.process.kill()
        controller.process.wait()
        return scheduler

    def wait_for_process_exit(self, pid, timeout, description):
        self.wait_until(lambda: not process_alive(pid), timeout, description)

    # ----- the failover state ------------------------------------------------------

    def metadata(self, node=None):
        args = ("failover", "metadata", "--json")
        result = self.run_on(node, *args) if node else self.run(*args)
        if result.returncode != 0:
            return None  # the store may be busy; callers poll
        return json.loads(result.stdout)

    def lease(self):
        """The lease row as `failover metadata --json` prints it."""
        metadata = self.metadata()
        return metadata["lease"] if metadata else None

    def status(self, node=None):
        result = (self.run_on(node, "failover", "status", "--json") if node
                  else self.run("failover", "status", "--json"))
        return json.loads(result.stdout) if result.returncode == 0 else None

    def active_node(self):
        lease = self.lease()
        return lease["holder"] if lease and lease["held"] else None

    def events(self, after_id=0):
        """The whole failover history, oldest first: [{id, node, epoch, kind, message}]."""
        rows = self.sql("SELECT id, node, epoch, kind, message FROM failover_event "
                        f"WHERE id > {int(after_id)} ORDER BY id")
        return [{"id": int(i), "node": n, "epoch": int(e), "kind": k, "message": m}
                for i, n, e, k, m in rows]

    def wait_for_event(self, kind, node=None, epoch=None, after_id=0, timeout=20):
        """Waits until the history has a `kind` event (of node/epoch when given)
        after `after_id`; returns it. A controller records a decision once its
        commands ended."""
        def recorded():
            return next((e for e in self.events(after_id) if e["kind"] == kind
                         and node in (None, e["node"]) and epoch in (None, e["epoch"])), None)
        return self.wait_until(recorded, timeout,
                               f"a '{kind}' event (node {node}, epoch {epoch}) in the history")

    def last_event_id(self):
        rows = self.sql("SELECT MAX(id) FROM failover_event")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def event_kinds(self, after_id=0, node=None, epoch=None):
        return [e["kind"] for e in self.events(after_id)
                if (node is None or e["node"] == node) and (epoch is None or e["epoch"] == epoch)]

    def wait_for_lease(self, holder=None, epoch=None, min_epoch=None, timeout=30):
        """Waits until the lease is held (by `holder`, at `epoch` / at least
        `min_epoch`, when given); returns it."""

        def held():
            lease = self.lease()
            if not lease or not lease["held"]:
                return None
            if holder is not None and lease["holder"] != holder:
                return None
            if epoch is not None and lease["epoch"] != epoch:
                return None
            if min_epoch is not None and lease["epoch"] < min_epoch:
                return None
            return lease

        wanted = " ".join(filter(None, [holder and f"by {holder}", epoch and f"at epoch {epoch}",
                                        min_epoch and f"at epoch >= {min_epoch}"]))
        return self.wait_until(held, timeout, f"the lease to be held {wanted}".rstrip())

    def healthy_scheduler(self, node=None, epoch=None, min_epoch=None, not_pid=None):
        """{"node", "epoch", "pid", "holder"} when the lease is held and the
        scheduler it names runs (pidfile) with a fresh heartbeat, matching the
        filters; else None."""
        metadata = self.metadata()
        if not metadata:
            return None
        lease = metadata["lease"]
        where = lease["scheduler_node"]
        if not lease["held"] or not where or (node is not None and where != node):
            return None
        if epoch is not None and lease["epoch"] != epoch:
            return None
        if min_epoch is not None and lease["epoch"] < min_epoch:
            return None
        pid = self.scheduler_pid(where)
        if pid is None or pid == not_pid or self.scheduler_epoch(pid) != lease["epoch"]:
            return None
        rows = [s for s in metadata["schedulers"] if s["pid"] == pid and s["node"] == where]
        if not rows or not rows[0]["healthy"]:
            return None
        return {"node": where, "epoch": lease["epoch"], "pid": pid, "holder": lease["holder"]}

    def wait_for_healthy_scheduler(self, node=None, epoch=None, min_epoch=None, not_pid=None,
                                   timeout=45):
        """Waits until healthy_scheduler(...) finds one; returns it."""
        wanted = " ".join(filter(None, [node and f"on {node}", epoch and f"at epoch {epoch}",
                                        min_epoch and f"at epoch >= {min_epoch}",
                                        not_pid and f"other than pid {not_pid}"]))
        return self.wait_until(
            lambda: self.healthy_scheduler(node, epoch, min_epoch, not_pid), timeout,
            f"a healthy scheduler {wanted}".rstrip())

    def alerts(self):
        """The alerts sent so far, a line each: "KIND NODE EPOCH SUBJECT"."""
        return read_log(self.alerts_path).splitlines()

    def wait_for_alert(self, prefix, timeout=20):
        """Waits for an alert whose line starts with `prefix`; returns that line."""
        def sent():
            return next((line for line in self.alerts() if line.startswith(prefix)), None)
        return self.wait_until(sent, timeout, f"an alert starting {prefix!r}")

    # ----- ends of scenarios -------------------------------------------------------

    def task_processes(self):
        """(pid, command line) of every live task process of this home: a process
        with the home's token that the local executor started (its environment
        carries the try marker). Controllers and schedulers are not tasks."""
        return [(pid, command) for pid, command in self.live_processes()
                if has_environment_variable(pid, "BATON_TRY_MARKER")]

    def assert_no_task_processes_left(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            alive = self.task_processes()
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(POLL_INTERVAL)
        self.test.assertEqual(alive, [], "task processes were left running")

    def finish(self, dag_id, run_ids, states=("success",), timeout=90):
        """The checks every scenario ends with: each run reaches one of `states`
        with every task instance terminal, no (task, try) started twice, and no
        task process is left. Returns {run_id: {task_id: record}}."""
        if isinstance(run_ids, str):
            run_ids = [run_ids]
        finished = {}
        for run_id in run_ids:
            self.wait_for_run_state(dag_id, run_id, states, timeout=timeout)
            finished[run_id] = self.assert_all_tasks_terminal(dag_id, run_id)
        self.assert_no_try_started_twice()
        self.assert_no_task_processes_left()
        return finished

    # ----- liveness, cleanup and diagnostics ---------------------------------------

    def assert_scheduler_alive(self):
        """Every controller not stopped on purpose still runs (checked by every wait)."""
        for controller in self.controllers.values():
            if not controller.stopped_on_purpose and not controller.alive():
                self.test.fail(f"controller {controller.node} exited with status "
                               f"{controller.process.returncode}:\n"
                               f"{tail(controller.output(), 80)}")

    assert_daemons_alive = assert_scheduler_alive

    def _kill_everything(self):
        # Controllers first, so that none starts a scheduler again; frozen ones
        # die from SIGKILL as well.
        for controller in self._controller_history:
            self.kill_daemon(controller.process)
        for node in self.nodes:
            pid = self.scheduler_pid(node)
            if pid is not None:
                for task in descendants(pid):
                    signal_quietly(task, signal.SIGKILL)
                signal_quietly(pid, signal.SIGKILL)
        for server in self.ssh.values():
            resume = getattr(server, "resume", None)
            if resume is not None:
                try:
                    resume()
                except Exception:  # closed anyway by its own cleanup
                    pass
        super()._kill_everything()  # everything else with the token: tasks, shells

    def _collect_diagnostics(self):
        add = getattr(self.test, "add_diagnostic", None)
        if add is None:
            return
        for index, controller in enumerate(self._controller_history):
            add(f"controller {controller.node} #{index} (pid {controller.pid}, "
                f"{controller.state()}) log", tail(controller.output(), 250))
        for node in self.nodes:
            path = self.scheduler_log_of(node)
            if os.path.exists(path):
                add(f"scheduler log of {node}", tail(read_log(path), 150))
        self._add_store_diagnostics(add, {
            "failover history": lambda: "\n".join(
                f"{e['id']}\t{e['node']}\tepoch {e['epoch']}\t{e['kind']}: {e['message']}"
                for e in self.events()) or "(empty)",
            "store: failover_lease":
                "SELECT holder, holder_job_id, epoch, expires_at, scheduler_node, promote_to, "
                "maintenance FROM failover_lease",
            "store: job":
                "SELECT id, kind, name, pid, state, start_date, latest_heartbeat FROM job "
                "ORDER BY id",
            "store: task_instance":
                "SELECT dag_id, run_id, task_id, state, try_number, hostname, pid, owner_job_id "
                "FROM task_instance ORDER BY dag_id, run_id, task_id",
        })
        if os.path.exists(self.alerts_path):
            add("alerts", read_log(self.alerts_path))
        super()._collect_diagnostics()
