"""A whole Baton cluster on one machine, for fault tests and benchmarks.

A Cluster is a harness.BatonHome (its CLI helpers, waits, ledger and cleanup)
whose store is a private MariaDB and whose executor is Redis: it writes the
baton.toml, runs `baton db init`, and starts `baton scheduler` and any number of
`baton agent --name NAME` processes, each with its output in a file of its own.

    class MyTest(harness.BatonTestCase):
        def test_something(self):
            cluster = Cluster(self)                  # servers up, store initialised
            cluster.write_dag("d", text)             # as BatonHome
            cluster.start(agents=2)                  # scheduler + agents a1, a2
            run_id = cluster.trigger("d")
            cluster.wait_for_run_state("d", run_id, "success")
            cluster.kill_agent("a1")                 # SIGKILL, with its tasks
            cluster.start_agent("a3", hostname="host-a3")   # "on another host"
            cluster.assert_no_try_started_twice()

Task commands made by `ledger_command` record "DAG RUN TASK TRY AGENT PPID" in
the ledger: AGENT is the name of the agent whose process ran the try (each
agent gets it in $BATON_IT_AGENT, which its tasks inherit). `ledger()` keeps the
harness's four fields; `ledger_entries()` has them all.

Every process is killed and every directory and server removed in cleanup, even
when the test fails; a failing test prints the scheduler's and every agent's
output, the servers' logs, the store's task instances and jobs, the Redis keys
and the ledger.

Outside unittest (a benchmark), pass a `StandaloneOwner()` as the test and call
its `close()` (or use it as a context manager) when done.

MariaDB's password goes to every baton process in $BATON_STORE_PASSWORD.
`store="sqlite"` (or BATON_IT_STORE=sqlite in the environment, for a run by
hand) keeps the store in the home's SQLite file instead: every process is on
this machine, so they can share it; `mariadb` is then None.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import unittest

from harness import BATON_BIN, BatonHome, read_log, tail, toml_value
from servers import MariaDbServer, RedisServer

TERMINAL_TASK_STATES = ("success", "failed", "skipped", "upstream_failed")

# How long an agent gets to register its job row in the store after it started.
AGENT_READY_TIMEOUT = 20


def cluster_settings(db_url, redis_url, key_prefix):
    """The baton.toml of a test cluster as {section: {key: value}}: short
    intervals, so a dead agent or lost message is noticed within seconds."""
    return {
        "core": {
            "dags_folder": "dags",
            "logs_folder": "logs",
            "parallelism": 32,
            "default_timezone": "UTC",
        },
        "store": {
            "url": db_url,
            "connect_timeout": "2s",
            "io_timeout": "10s",
        },
        "scheduler": {
            "loop_interval": "200ms",
            "heartbeat_interval": "1s",
            # Also what makes an agent without a heartbeat this long a dead one.
            "health_threshold": "3s",
            "dag_dir_list_interval": "500ms",
            "kill_grace_period": "2s",
        },
        "executor": {"kind": "redis"},
        "redis": {
            "url": redis_url,
            "key_prefix": key_prefix,
            "connect_timeout": "2s",
            "command_timeout": "5s",
            "requeue_check_interval": "1s",
        },
        "agent": {
            "concurrency": 4,
            "heartbeat_interval": "1s",
            "kill_grace_period": "2s",
            "log_port": 0,
        },
        "logging": {"level": "debug"},
    }


def render_toml(settings):
    """TOML text of {section: {key: value}} (strings, numbers, booleans, lists)."""
    lines = []
    for section, values in settings.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


class StandaloneOwner:
    """What a Cluster needs of a unittest.TestCase, for use outside one (benchmarks):
    cleanups run by close(), failures raised as AssertionError, diagnostics
    printed to stderr when the `with` block raised."""

    def __init__(self):
        self._cleanups = []
        self._diagnostics = []

    def addCleanup(self, function, *args, **kwargs):
        self._cleanups.append((function, args, kwargs))

    def add_diagnostic(self, title, text):
        self._diagnostics.append((title, text))

    def fail(self, message=None):
        raise AssertionError(message)

    def assertEqual(self, first, second, message=None):
        if first != second:
            self.fail(f"{first!r} != {second!r}" + (f": {message}" if message else ""))

    def close(self, failed=False):
        while self._cleanups:
            function, args, kwargs = self._cleanups.pop()
            try:
                function(*args, **kwargs)
            except Exception as error:  # one failed cleanup must not skip the others
                sys.stderr.write(f"cleanup {function!r} failed: {error}\n")
        if failed:
            for title, text in self._diagnostics:
                sys.stderr.write(f"\n----- {title} -----\n{text}\n")
        self._diagnostics = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest):
        self.close(failed=exc_type is not None)


class Daemon:
    """One daemon process this process started, with its output in a file of its own."""

    def __init__(self, process, log_path):
        self.process = process
        self.log_path = log_path
        self.stopped_on_purpose = False

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def output(self):
        return read_log(self.log_path)

    def state(self):
        """"running", or "exited CODE" (negative: the signal), for diagnostics."""
        return "running" if self.alive() else f"exited {self.process.returncode}"


class Agent(Daemon):
    """One `baton agent` process and what the cluster knows of it."""

    def __init__(self, name, process, log_path):
        super().__init__(process, log_path)
        self.name = name


class ClusterHome(BatonHome):
    """What Cluster and failover_cluster.FailoverCluster share: a store that is a
    MariaDB database (`mariadb`, `database`) or the home's SQLite file."""

    def _choose_store(self, test, store, mariadb, database):
        """Sets store_kind, mariadb and database; call it before BatonHome's
        __init__, so that a server started here is closed after the home's cleanups."""
        self.store_kind = store
        if store == "mariadb":
            self.mariadb = mariadb or MariaDbServer.for_test(test)
            self.database = database or self.mariadb.database
            if database:
                self.mariadb.create_database(database)
        elif store == "sqlite":
            self.mariadb = None
            self.database = None
        else:
            raise ValueError(f"unknown store kind {store!r} (mariadb or sqlite)")

    def sql(self, statement):
        """Rows of a query on the store (MariaDB as root, or SQLite read-only), as
        tuples of strings (NULL: None). Plain SQL both dialects understand."""
        if self.mariadb is not None:
            return self.mariadb.query(statement, database=self.database)
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return [tuple(None if v is None else str(v) for v in row)
                    for row in connection.execute(statement)]
        finally:
            connection.close()

    def assert_all_tasks_terminal(self, dag_id, run_id):
        states = self.task_states(dag_id, run_id)
        unfinished = {t: s["state"] for t, s in states.items()
                      if s["state"] not in TERMINAL_TASK_STATES}
        self.test.assertEqual(unfinished, {}, f"task instances not finished: {states}")
        return states

    def _add_store_diagnostics(self, add, queries):
        """Adds each of `queries` ({title: SQL, or a function that returns the text})
        as a diagnostic; once one fails, says the store is unreadable instead."""
        try:
            for title, query in queries.items():
                add(title, query() if callable(query) else _table(self.sql(query)))
        except Exception as error:  # the store may be the thing that broke
            add("store", f"unreadable: {error}")


class Cluster(ClusterHome):
    """A ClusterHome on MariaDB and Redis with a scheduler and named agents.

    `mariadb`/`redis`: servers to use (a test may share them between clusters
    with distinct `database`/`key_prefix`); by default each cluster starts its
    own. `settings`: {section: {key: value}} merged over cluster_settings().
    """

    def __init__(self, test, mariadb=None, redis=None, settings=None, database=None,
                 key_prefix="baton", store=None):
        self._choose_store(test, store or os.environ.get("BATON_IT_STORE") or "mariadb",
                           mariadb, database)
        self.redis = redis or RedisServer.for_test(test)
        self.key_prefix = key_prefix
        # BatonHome registers its cleanups (kill processes, collect diagnostics,
        # remove the directory) after the servers', so they run before the
        # servers are closed.
        super().__init__(test, config=None, init=False)
        self.agents = {}  # name -> the latest Agent of that name
        self._agent_history = []  # every Agent, in start order
        os.makedirs(self.dags_folder, exist_ok=True)
        os.makedirs(self.logs_folder, exist_ok=True)
        if self.mariadb is not None:
            self.env["BATON_STORE_PASSWORD"] = self.mariadb.password
            store_url = self.mariadb.url(self.database)
        else:
            store_url = "sqlite:baton.db"
        self.settings = cluster_settings(store_url, self.redis.url(), key_prefix)
        for section, values in (settings or {}).items():
            self.settings.setdefault(section, {}).update(values)
        self.write_config(render_toml(self.settings))
        self.run_ok("db", "init")

    # ----- daemons -----------------------------------------------------------

    def start(self, agents=2, separate_hosts=False):
        """Starts the scheduler and agents a1..aN; returns once all are registered.
        With `separate_hosts`, agent aN runs under host name "host-aN"."""
        if separate_hosts:
            self.require_host_names()
        self.start_scheduler()
        for index in range(1, agents + 1):
            name = f"a{index}"
            self.start_agent(name, wait_ready=False,
                             hostname=f"host-{name}" if separate_hosts else None)
        for index in range(1, agents + 1):
            self.wait_for_agent(f"a{index}")

    def start_agent(self, name, *args, wait_ready=True, env=None, hostname=None):
        """Starts `baton agent --name NAME ARGS` (e.g. "--queues", "q1,q2",
        "--concurrency", 2); with `wait_ready`, returns once its job row is in the
        store. A name used before starts a new process under the same name.

        `hostname`: the agent runs in a UTS namespace of its own under that host
        name, so the scheduler sees an agent on another host (it cannot look its
        pid up and must go by its heartbeat); see require_host_names()."""
        log_path = os.path.join(self.root, f"agent-{name}-{len(self._agent_history)}.log")
        agent_env = dict(self.env)
        agent_env["BATON_IT_AGENT"] = name
        if env:
            agent_env.update(env)
        argv = [BATON_BIN, "agent", "--name", name, *map(str, args)]
        if hostname:
            # unshare and sh exec in place: the Popen's pid stays the agent's.
            argv = [*_unshare_uts(), "--", "sh", "-c", 'hostname "$0" && exec "$@"', hostname,
                    *argv]
        agent = Agent(name, self.start_daemon(argv, log_path, env=agent_env), log_path)
        self.agents[name] = agent
        self._agent_history.append(agent)
        if wait_ready:
            self.wait_for_agent(name)
        return agent

    def require_host_names(self):
        """Skips the test when agents cannot be given host names of their own
        (no UTS namespaces for this user)."""
        result = subprocess.run([*_unshare_uts(), "--", "sh", "-c", "hostname baton-it-probe"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            raise unittest.SkipTest("cannot give an agent a host name of its own "
                                    f"(unshare --uts: {result.stderr.strip()})")

    def wait_for_agent(self, name, timeout=AGENT_READY_TIMEOUT):
        """Waits until the agent's process has its running job row in the store."""
        agent = self.agents[name]

        def registered():
            if not agent.alive():
                self.test.fail(f"agent {name} exited with status {agent.process.returncode} "
                               f"while starting:\n{tail(agent.output(), 60)}")
            rows = self.sql("SELECT COUNT(*) FROM job WHERE kind = 'agent' AND state = "
                            f"'running' AND name = '{name}' AND pid = {agent.pid}")
            return rows and rows[0][0] != "0"

        self.wait_until(registered, timeout, f"agent {name} to register in the store")
        return agent

    def kill_agent(self, name, sig=signal.SIGKILL, with_tasks=True):
        """Signals agent NAME. With SIGKILL and `with_tasks`, its task processes die
        with it, as when its host dies; without, they live on as orphans, as when
        only the agent crashed. Returns the pids of the task processes killed."""
        agent = self.agents[name]
        agent.stopped_on_purpose = True
        if sig != signal.SIGKILL or not with_tasks:
            agent.process.send_signal(sig)
            if sig == signal.SIGKILL:
                agent.process.wait()
            return []
        # Frozen first, so it sees none of its tasks die before it does.
        os.kill(agent.pid, signal.SIGSTOP)
        tasks = descendants(agent.pid)
        for pid in tasks:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        agent.process.kill()
        agent.process.wait()
        return tasks

    def stop_agent(self, name, sig=signal.SIGTERM, timeout=20):
        """Signals agent NAME and returns its exit status once it exited."""
        agent = self.agents[name]
        agent.stopped_on_purpose = True
        return self.stop_daemon(agent.process, sig, timeout, f"agent {name}", agent.log_path)

    def agent_output(self, name):
        return self.agents[name].output()

    def assert_scheduler_alive(self):
        """Every daemon not stopped on purpose is still running (called by every wait)."""
        super().assert_scheduler_alive()
        for agent in self.agents.values():
            if not agent.stopped_on_purpose and not agent.alive():
                self.test.fail(f"agent {agent.name} exited with status "
                               f"{agent.process.returncode}:\n{tail(agent.output(), 60)}")

    assert_daemons_alive = assert_scheduler_alive

    # ----- the ledger ----------------------------------------------------------

    # "DAG RUN TASK TRY AGENT PPID": the harness's four, and who ran the try.
    LEDGER_FIELDS = BatonHome.LEDGER_FIELDS + ("${BATON_IT_AGENT:-unknown}", "$PPID")

    def ledger_entries(self):
        """[{dag_id, run_id, task_id, try_number, agent, ppid}] in start order."""
        return [{"dag_id": dag_id, "run_id": run_id, "task_id": task_id,
                 "try_number": int(try_number), "agent": agent, "ppid": int(ppid)}
                for dag_id, run_id, task_id, try_number, agent, ppid in self.ledger_lines()]

    def agents_of(self, dag_id, run_id, task_id):
        """{try_number: agent name} of the tries that started."""
        return {e["try_number"]: e["agent"] for e in self.ledger_entries()
                if (e["dag_id"], e["run_id"], e["task_id"]) == (dag_id, run_id, task_id)}

    # ----- the store and Redis ---------------------------------------------------

    def queue_key(self, queue="default"):
        return f"{self.key_prefix}:queue:{queue}"

    def processing_key(self, agent_name):
        return f"{self.key_prefix}:processing:{agent_name}"

    def queued_messages(self, queue="default"):
        """The task messages waiting in a queue, as dicts, oldest first."""
        raw = self.redis.command("LRANGE", self.queue_key(queue), 0, -1)
        return [json.loads(m) for m in reversed(raw)]

    def redis_keys(self):
        return sorted(k.decode() for k in self.redis.command("KEYS", f"{self.key_prefix}:*"))

    def wait_for_run_terminal(self, dag_id, run_id, states=("success",), timeout=60):
        """Waits for the run to end in one of `states`, then checks that every task
        instance of it is in a terminal state; returns {task_id: record}."""
        self.wait_for_run_state(dag_id, run_id, states, timeout=timeout)
        return self.assert_all_tasks_terminal(dag_id, run_id)

    # ----- cleanup and diagnostics ---------------------------------------------

    def _kill_everything(self):
        for agent in self._agent_history:
            self.kill_daemon(agent.process)
        super()._kill_everything()

    def _collect_diagnostics(self):
        add = getattr(self.test, "add_diagnostic", None)
        if add is None:
            return
        for index, agent in enumerate(self._agent_history):
            add(f"agent {agent.name} #{index} (pid {agent.pid}, {agent.state()}) output",
                tail(agent.output(), 200))
        self._add_store_diagnostics(add, {
            "store: task_instance":
                "SELECT dag_id, run_id, task_id, state, try_number, hostname, pid, owner_job_id "
                "FROM task_instance ORDER BY dag_id, run_id, task_id",
            "store: task_try":
                "SELECT dag_id, run_id, task_id, try_number, state, pid, exit_code "
                "FROM task_try ORDER BY dag_id, run_id, task_id, try_number",
            "store: job":
                "SELECT id, kind, name, pid, state, start_date, latest_heartbeat, running_count "
                "FROM job ORDER BY id",
        })
        try:
            lines = []
            for key in self.redis_keys():
                kind = self.redis.command("TYPE", key).decode()
                if kind == "list":
                    items = self.redis.command("LRANGE", key, 0, 20)
                    lines.append(f"{key} ({self.redis.command('LLEN', key)}): "
                                 + " | ".join(i.decode(errors="replace")[:160] for i in items))
                else:
                    lines.append(f"{key} ({kind})")
            add("redis keys", "\n".join(lines) or "(none)")
        except Exception as error:
            add("redis", f"unreadable: {error}")
        super()._collect_diagnostics()


def _unshare_uts():
    """unshare's command for a UTS namespace; as a user other than root, inside a
    user namespace of its own where it is root."""
    argv = ["unshare", "--uts"]
    if os.geteuid() != 0:
        argv.append("--map-root-user")
    return argv


def descendants(pid):
    """Pids of every live descendant of `pid` (children, grandchildren, ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _table(rows):
    return "\n".join("\t".join("NULL" if v is None else v for v in row) for row in rows) or "(empty)"
