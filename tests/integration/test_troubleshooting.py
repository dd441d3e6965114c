"""docs/troubleshooting.md quotes Baton's error messages as the binary prints them.
Each test here makes a situation the page describes (a broken baton.toml or DAG
file, a store or Redis that refuses, an SSH host key that is unknown), runs the
real `baton`, and checks that every line it prints is quoted on the page once
this machine's names are replaced by the page's (the temporary home by
/var/lib/baton, its baton.toml by /etc/baton/baton.toml, a server on 127.0.0.1
by db1.example.com:3306, redis1.example.com:6379 or master2, ...), and that it
exits with the status the page gives. A page that drifts from the binary fails.
"""

import difflib
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import unittest

from harness import (BATON_BIN, COMMAND_TIMEOUT, FAST_CONFIG, SOURCE_DIR, BatonTestCase, dedent,
                     describe, task_toml)
from servers import MariaDbServer, RedisServer, free_port

PAGE_PATH = os.path.join(SOURCE_DIR, "docs", "troubleshooting.md")

# The page's example of a host key fingerprint, put in place of the test sshd's.
PAGE_FINGERPRINT = "SHA256:pAyvBKzuAOxM8vM3SQIPHpymhaMYGq/CmPZNpx3xWyc"

# "2026-11-23T19:51:17.684 error [9934] ": the time and pid of a daemon's log line
# differ at every run, on the page as here.
LOG_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3} (\w+) \[\d+\] ")


def without_log_time(line):
    return LOG_PREFIX.sub(r"TIME \1 [PID] ", line)


def quoted_on_page(path=PAGE_PATH):
    """The set of lines the page quotes: those of its fenced blocks (not the
    `sh` ones, which are commands), each message of its DAG-file table with the
    `baton: /var/lib/baton/dags/` the page says starts it, and inline `baton: ...`
    spans of its prose."""
    quoted = set()
    language = None  # outside a fenced block; "" in one of quoted output
    with open(path) as page:
        for line in page.read().splitlines():
            if line.startswith("```"):
                language = line[3:] if language is None else None
            elif language == "":
                quoted.add(without_log_time(line.rstrip()))
            elif language is None:
                row = re.match(r"^\| `([^`]+)` \|", line)
                if row:
                    quoted.add("baton: /var/lib/baton/dags/" + row.group(1))
                quoted.update(re.findall(r"`(baton: [^`]+)`", line))
    return quoted


def listening_socket():
    """A socket on 127.0.0.1 that takes connections (the kernel completes them)
    and never says a word: a server that hangs, or a network that drops packets."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    return silent


_shared = {}


def shared_mariadb():
    """One MariaDB server for the module; tests reset its database `baton`."""
    if "mariadb" not in _shared:
        _shared["mariadb"] = MariaDbServer()
    return _shared["mariadb"]


def tearDownModule():
    for server in _shared.values():
        server.close()


class TroubleshootingTestCase(BatonTestCase):
    page = None

    @classmethod
    def setUpClass(cls):
        cls.page = quoted_on_page()

    def home(self, **kwargs):
        """A BatonHome whose commands see no password, config or ssh-agent of the
        environment the tests run in: each test sets what its situation needs."""
        home = super().home(**kwargs)
        for name in ("BATON_STORE_PASSWORD", "BATON_REDIS_PASSWORD", "SSH_AUTH_SOCK"):
            home.env.pop(name, None)
        return home

    def names(self, home, *pairs):
        """(this machine's text, the page's) replacements for `home`: `pairs` first,
        as they are the more specific, then its config file, its etc folder (where
        secret files go, as in /etc/baton) and the home itself."""
        return [*pairs, (home.config_path, "/etc/baton/baton.toml"),
                (self.etc_folder(home), "/etc/baton"), (home.path, "/var/lib/baton")]

    @staticmethod
    def etc_folder(home):
        path = os.path.join(home.root, "etc")
        os.makedirs(path, exist_ok=True)
        return path

    def assert_on_page(self, result, status, names, stream="stderr", keep=None, count=None):
        """Every line `result` printed on `stream` (those for which `keep` holds,
        when given) is quoted on the page once `names` are replaced; there are
        `count` of them (at least one when no count is given), and the exit status
        is `status`. Returns the lines as the page reads them."""
        context = describe(result, "")
        lines = self.assert_lines_on_page(getattr(result, stream), names, keep, count, context)
        self.assertEqual(result.returncode, status, describe(result, f"expected exit {status}"))
        return lines

    def assert_lines_on_page(self, text, names, keep=None, count=None, context=None):
        """assert_on_page for the lines of `text` (a daemon's log, say); a failure
        shows `context`, or else `text`."""
        context = context if context is not None else "\n" + text
        lines = []
        for line in text.splitlines():
            for ours, the_pages in names:
                line = line.replace(ours, the_pages)
            line = without_log_time(line)
            if keep is None or keep(line):
                lines.append(line)
        if count is None:
            self.assertNotEqual(lines, [], f"nothing to compare{context}")
        else:
            self.assertEqual(len(lines), count, f"expected {count} line(s){context}")
        for line in lines:
            if line not in self.page:
                closest = difflib.get_close_matches(line, self.page, n=1, cutoff=0.5)
                self.fail(f"not on {os.path.relpath(PAGE_PATH, SOURCE_DIR)}:\n  printed: {line}"
                          f"\n  closest: {closest[0] if closest else '(none)'}\n{context}")
        return lines

    def run_as_another_user(self, home, *args):
        """`baton ARGS` as user nobody, for whom the home's files (root's) are
        read-only and 0600 files unreadable, as for user `baton` when root made them."""
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            self.skipTest("running baton as another user needs root and setpriv")
        nobody = pwd.getpwnam("nobody")
        os.chmod(home.root, 0o755)  # mkdtemp's 0700 would hide everything
        argv = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                "--clear-groups", BATON_BIN, *args]
        return subprocess.run(argv, env=home.env, cwd=home.root, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


class ConfigFileMessagesTest(TroubleshootingTestCase):
    def test_config_mistakes_are_printed_with_the_pages_positions(self):
        home = self.home(init=False)
        broken = {
            "unclosed string": '[store]\nurl = "sqlite:baton.db\n',
            "unknown key": '[scheduler]\nloop_intervall = "1s"\n',
            "unknown section": '[schedular]\nloop_interval = "1s"\n',
            "not a duration": '[failover]\nlease_ttl = "10 seconds"\n',
            "lease too short": '[failover]\nheartbeat_interval = "5s"\nlease_ttl = "9s"\n',
        }
        for mistake, text in broken.items():
            with self.subTest(mistake=mistake):
                home.write_config(text)
                self.assert_on_page(home.run("config", "check"), 2, self.names(home), count=1)

    def test_missing_config_named_by_flag_or_environment_is_bad_input(self):
        home = self.home(init=False)
        os.remove(home.config_path)
        names = self.names(home)
        self.assert_on_page(home.run("--config", home.config_path, "config", "check"), 2, names,
                            count=1)
        self.assert_on_page(home.run("config", "check", env={"BATON_CONFIG": home.config_path}),
                            2, names, count=1)

    def test_unreadable_config_is_a_failed_operation(self):
        home = self.home(init=False)
        os.chmod(home.config_path, 0o600)
        result = self.run_as_another_user(home, "config", "check")
        self.assert_on_page(result, 1, self.names(home), count=1)

    def test_missing_dags_folder_points_to_db_init(self):
        home = self.home()
        os.rmdir(home.dags_folder)
        self.assert_on_page(home.run("dags", "list"), 1, self.names(home), count=1)


class DagFileMessagesTest(TroubleshootingTestCase):
    # One file per row of the page's table, each broken at the position the
    # page gives.
    BROKEN_DAGS = {
        "syntax": 'dag_id = "syntax"\n' + task_toml("extract", "true", retries=1)
                  + 'retry_delay = "5m\n',
        "etl": 'dag_id = "etl"\n' + task_toml("extract", "true", retires=2),
        "cycle": ('dag_id = "cycle"\n' + task_toml("a", "true", upstream=["c"])
                  + task_toml("b", "true", upstream=["a"]) + task_toml("c", "true", upstream=["b"])),
        "upstream": ('dag_id = "upstream"\n' + task_toml("load", "true", upstream=["extrct"])
                     + task_toml("extract", "true")),
        "dup": 'dag_id = "dup"\n' + task_toml("a", "true") + task_toml("a", "true"),
        "cron": ('dag_id = "cron"\nschedule = "61 * * * *"\nstart_date = 2026-01-01\n'
                 + task_toml("a", "true")),
        "nostart": 'dag_id = "nostart"\nschedule = "@daily"\n' + task_toml("a", "true"),
        "pool": 'dag_id = "pool"\n' + task_toml("a", "true", pool="gpus"),
        "tz": ('dag_id = "tz"\nschedule = "@daily"\nstart_date = 2026-01-01\n'
               'timezone = "Europe/Pariss"\n' + task_toml("a", "true")),
    }

    def test_validate_and_list_print_each_broken_file_as_the_page_quotes_it(self):
        home = self.home()
        for name, text in self.BROKEN_DAGS.items():
            home.write_dag(name, text)
        names = self.names(home)
        count = len(self.BROKEN_DAGS)
        lines = self.assert_on_page(home.run("dags", "validate"), 2, names, count=count + 1)
        self.assertEqual(lines[-1], f"baton: {count} of {count} DAG file(s) are invalid")
        listed = self.assert_on_page(home.run("dags", "list"), 0, names, count=count)
        self.assertEqual(listed, lines[:-1])

    def test_scheduler_logs_a_broken_file_and_loads_the_others(self):
        home = self.home()
        for dag_id in ("first", "second"):
            home.write_dag(dag_id, f'dag_id = "{dag_id}"\n' + task_toml("a", "true"))
        home.write_dag("etl", self.BROKEN_DAGS["etl"])
        result = home.run("scheduler", "--num-runs", "1")
        self.assert_on_page(result, 0, self.names(home), count=2,
                            keep=lambda line: "etl.toml" in line or "DAG(s) loaded" in line)


class StoreMessagesTest(TroubleshootingTestCase):
    def setUp(self):
        self.mariadb = shared_mariadb()
        self.mariadb.drop_database("baton")
        self.mariadb.create_database("baton")

    def store_home(self, url=None):
        """A home whose store is `url` (the shared server's database `baton` by
        default), with its password in the environment."""
        url = url or self.mariadb.url("baton")
        home = self.home(config=FAST_CONFIG.replace('url = "sqlite:baton.db"',
                                                    f'url = "{url}"\nconnect_timeout = "1s"'),
                         init=False)
        home.env["BATON_STORE_PASSWORD"] = self.mariadb.password
        return home

    def store_names(self, home, port=None):
        server = f"127.0.0.1:{port or self.mariadb.port}"
        return self.names(home, (server, "db1.example.com:3306"),
                          ("'baton'@'127.0.0.1'", "'baton'@'10.0.0.11'"),
                          ("server on '127.0.0.1'", "server on 'db1.example.com'"))

    def test_uninitialized_store_asks_for_db_init(self):
        home = self.store_home()
        names = self.store_names(home)
        self.assert_on_page(home.run("scheduler", "--num-runs", "1"), 1, names, count=1)
        self.assert_on_page(home.run("db", "check"), 1, names, count=1)

    def test_store_newer_than_the_binary_asks_for_an_upgrade(self):
        home = self.store_home()
        home.run_ok("db", "init")
        self.mariadb.query("INSERT INTO baton_schema (version) VALUES (4)", database="baton")
        names = self.store_names(home)
        self.assert_on_page(home.run("scheduler", "--num-runs", "1"), 1, names, count=1)
        self.assert_on_page(home.run("db", "check"), 1, names, count=1)
        self.assert_on_page(home.run("db", "init"), 1, names, count=1)

    def test_unreachable_store_is_named_with_the_reason(self):
        closed_port = free_port()
        home = self.store_home(f"mysql://baton@127.0.0.1:{closed_port}/baton")
        self.assert_on_page(home.run("db", "check"), 1, self.store_names(home, closed_port),
                            count=1)

        home = self.store_home("mysql://baton@db1.invalid:3306/baton")
        self.assert_on_page(home.run("db", "check"), 1, self.store_names(home), count=1)

        silent = listening_socket()
        self.addCleanup(silent.close)
        silent_port = silent.getsockname()[1]
        home = self.store_home(f"mysql://baton@127.0.0.1:{silent_port}/baton")
        self.assert_on_page(home.run("db", "check"), 1, self.store_names(home, silent_port),
                            count=1)

    def test_refused_login_or_database_is_bad_input(self):
        home = self.store_home()
        home.env["BATON_STORE_PASSWORD"] = "not-" + self.mariadb.password
        self.assert_on_page(home.run("db", "check"), 2, self.store_names(home), count=1)

        home = self.store_home(self.mariadb.url("otherdb"))
        self.assert_on_page(home.run("db", "init"), 2, self.store_names(home), count=1)


class StoreSettingsMessagesTest(TroubleshootingTestCase):
    """Store messages that come before any server is reached."""

    def test_missing_or_unreadable_password_file_is_named(self):
        home = self.home(init=False)
        password_file = os.path.join(self.etc_folder(home), "store-password")
        home.write_config(FAST_CONFIG.replace(
            'url = "sqlite:baton.db"', 'url = "mysql://baton@db1.example.com:3306/baton"\n'
            f'password_file = "{password_file}"'))
        names = self.names(home)
        self.assert_on_page(home.run("db", "check"), 1, names, count=1)

        with open(password_file, "w") as f:
            f.write("secret")
        os.chmod(password_file, 0o600)
        self.assert_on_page(self.run_as_another_user(home, "db", "check"), 1, names, count=1)

    def test_password_in_the_store_url_is_refused(self):
        home = self.home(init=False)
        home.write_config(FAST_CONFIG.replace(
            'url = "sqlite:baton.db"', 'url = "mysql://baton:secret@db1.example.com:3306/baton"'))
        for command in (["dags", "list"], ["db", "init"], ["db", "check"]):
            with self.subTest(command=command):
                self.assert_on_page(home.run(*command), 2, self.names(home), count=1)

    def test_sqlite_file_of_another_user_is_read_only(self):
        home = self.home()
        self.assert_on_page(self.run_as_another_user(home, "dags", "list"), 1, self.names(home),
                            count=1)


# A DAG whose task waits for an agent of queue `gpu`.
GPU_JOB = 'dag_id = "gpu_job"\n' + task_toml("train", "true", queue="gpu")


def redis_config(port, log_port=0):
    """FAST_CONFIG with the Redis executor at 127.0.0.1:`port`."""
    return FAST_CONFIG + dedent(f"""
        [executor]
        kind = "redis"

        [redis]
        url = "redis://127.0.0.1:{port}/0"
        connect_timeout = "2s"
        requeue_check_interval = "1s"

        [agent]
        log_port = {log_port}
        """)


class RedisMessagesTest(TroubleshootingTestCase):
    def redis_home(self, port):
        return self.home(config=redis_config(port))

    def redis_names(self, home, port):
        return self.names(home, (f"127.0.0.1:{port}", "redis1.example.com:6379"))

    def test_agent_stops_when_redis_refuses_the_connection(self):
        port = free_port()
        home = self.redis_home(port)
        self.assert_on_page(home.run("agent", "--name", "worker1"), 1,
                            self.redis_names(home, port), count=1)

    def test_agent_stops_when_the_redis_password_does_not_fit(self):
        redis = RedisServer.for_test(self)
        home = self.redis_home(redis.port)
        names = self.redis_names(home, redis.port)
        self.assert_on_page(home.run("agent", "--name", "worker1",
                                     env={"BATON_REDIS_PASSWORD": "secret"}), 2, names, count=1)
        redis.command("CONFIG", "SET", "requirepass", "secret")
        self.assert_on_page(home.run("agent", "--name", "worker1"), 2, names, count=1)
        self.assert_on_page(home.run("agent", "--name", "worker1",
                                     env={"BATON_REDIS_PASSWORD": "not-secret"}), 2, names,
                            count=1)

    def test_queued_try_waits_for_an_agent_of_its_queue_and_survives_a_flush(self):
        redis = RedisServer.for_test(self)
        home = self.home(config=redis_config(redis.port))
        home.write_dag("gpu_job", GPU_JOB)
        home.start_scheduler()
        home.wait_for_dags("gpu_job")
        run_id = home.trigger("gpu_job")
        home.wait_for_task_state("gpu_job", run_id, "train", "queued")
        self.assert_on_page(home.run("tasks", "failed-deps", "gpu_job", run_id, "train"), 0,
                            self.names(home), stream="stdout", count=1)

        redis.command("FLUSHALL")
        home.wait_until(lambda: "was lost" in home.scheduler_output(), 15,
                        "the scheduler to push the lost message again")
        self.assert_lines_on_page(home.scheduler_output(), self.names(
            home, (run_id, "manual__2026-11-23T19:51:35.198519Z")), count=1,
            keep=lambda line: "was lost" in line)

    def test_scheduler_keeps_retrying_while_redis_is_away(self):
        port = free_port()
        home = self.home(config=redis_config(port))
        home.write_dag("gpu_job", GPU_JOB)
        home.run_ok("scheduler", "--num-runs", "1")
        home.trigger("gpu_job")
        home.start_scheduler()
        home.wait_until(lambda: "cannot send task messages" in home.scheduler_output(), 15,
                        "the scheduler to fail to send the message")
        lines = self.assert_lines_on_page(home.scheduler_output(), self.redis_names(home, port),
                                          keep=lambda line: "Redis executor:" in line)
        self.assertTrue(any("cannot read instance events" in line for line in lines), lines)


class AgentMessagesTest(TroubleshootingTestCase):
    def test_second_agent_of_a_name_or_a_port_is_refused(self):
        redis = RedisServer.for_test(self)
        home = self.home(config=redis_config(redis.port))
        agent = home.start_daemon([BATON_BIN, "agent", "--name", "worker1"],
                                  os.path.join(home.root, "agent.log"))
        self.addCleanup(home.kill_daemon, agent)
        job = home.wait_until(
            lambda: next((j for j in home.run_json("jobs", "list", "--kind", "agent", "--json")
                          if j["name"] == "worker1"), None), 20, "agent worker1 to register")
        names = self.names(home, (f"on {job['hostname']} (pid {job['pid']}, job {job['id']})",
                                  "on worker1 (pid 9749, job 11)"))
        self.assert_on_page(home.run("agent", "--name", "worker1"), 1, names, count=1)

        taken = listening_socket()
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        home.write_config(redis_config(redis.port, log_port=port))
        self.assert_on_page(home.run("agent", "--name", "worker2"), 1,
                            self.names(home, (f"127.0.0.1:{port}", "127.0.0.1:8793")), count=1)


class WaitingTaskMessagesTest(TroubleshootingTestCase):
    def test_failed_deps_says_what_a_task_waits_for(self):
        home = self.home()
        home.write_dag("report", 'dag_id = "report"\n' + task_toml("extract", home.sleep_command(60))
                       + task_toml("load", "true", upstream=["extract"]))
        home.write_dag("gpu_job", 'dag_id = "gpu_job"\n' + task_toml("train", "true"))
        home.run_ok("scheduler", "--num-runs", "1")
        run_id = home.trigger("report")
        names = self.names(home, (run_id, "manual__2026-11-23T19:51:07.530899Z"))

        def failed_deps(count, dag_id="report", run=run_id, task="load"):
            return self.assert_on_page(home.run("tasks", "failed-deps", dag_id, run, task), 0,
                                       names, stream="stdout", count=count)

        failed_deps(2)
        home.run_ok("dags", "pause", "report")
        self.assertIn("is paused", failed_deps(3)[0])
        home.run_ok("dags", "unpause", "report")

        home.start_scheduler()
        home.wait_for_task_state("report", run_id, "extract", "running")
        self.assertIn("(running)", failed_deps(1)[0])
        finished = home.trigger("gpu_job")
        home.wait_for_run_state("gpu_job", finished, "success")
        failed_deps(1, "gpu_job", finished, "train")

    def test_scheduler_warns_of_an_active_run_whose_dag_file_is_gone(self):
        home = self.home()
        dag_file = home.write_dag("gpu_job", 'dag_id = "gpu_job"\n'
                                  + task_toml("train", home.sleep_command(60)))
        home.start_scheduler()
        home.wait_for_dags("gpu_job")
        run_id = home.trigger("gpu_job")
        home.wait_for_task_state("gpu_job", run_id, "train", "running")
        home.kill_scheduler()  # a clean stop would wait for the task and end the run
        os.remove(dag_file)
        self.assert_on_page(home.run("scheduler", "--num-runs", "1"), 0,
                            self.names(home, (run_id, "manual__2026-11-23T19:51:35.198519Z")),
                            count=1, keep=lambda line: "no DAG file defines" in line)


class FailoverMessagesTest(TroubleshootingTestCase):
    def test_node_missing_from_nodes_is_bad_input(self):
        home = self.home()
        home.write_config(FAST_CONFIG + '\n[failover]\nnodes = ["master1", "master2"]\n'
                          'node_name = "master9"\n')
        self.assert_on_page(home.run("failover", "test_connection"), 2, self.names(home), count=1)
        home.write_config(FAST_CONFIG + "\n[failover]\nnodes = []\n")
        self.assert_on_page(home.run("failover", "start"), 2, self.names(home), count=1)

    def test_clear_metadata_and_test_email_refuse_without_what_they_need(self):
        home = self.home()
        self.assert_on_page(home.run("failover", "clear_metadata"), 2, self.names(home), count=1)
        self.assert_on_page(home.run("failover", "send_test_email"), 2, self.names(home),
                            count=1)

    def test_scheduler_refuses_an_epoch_other_than_the_leases(self):
        home = self.home()
        store = sqlite3.connect(home.db_path, timeout=10)
        try:
            with store:
                store.execute("UPDATE failover_lease SET epoch = 2")
        finally:
            store.close()
        for epoch in (1, 9):
            with self.subTest(epoch=epoch):
                self.assert_on_page(home.run("scheduler", "--epoch", epoch), 1,
                                    self.names(home), count=1)


class SshMessagesTest(TroubleshootingTestCase):
    def setUp(self):
        import sshd  # here: the other tests do not need OpenSSH
        self.sshd = sshd.SshServer.for_test(self)
        self.baton_home = self.home()
        self.ssh_folder = os.path.join(self.baton_home.path, ".ssh")
        os.makedirs(self.ssh_folder)
        self.known_hosts = os.path.join(self.ssh_folder, "known_hosts")
        shutil.copyfile(self.sshd.known_hosts_file, self.known_hosts)
        self.use_key(self.sshd.identity_file)

    def use_key(self, private_key, name="id_ed25519"):
        for suffix in ("", ".pub"):
            path = os.path.join(self.ssh_folder, name + suffix)
            shutil.copyfile(private_key + suffix, path)
            os.chmod(path, 0o600)

    def connect_to_master2(self, port=None, host="127.0.0.1", identity=".ssh/id_ed25519"):
        """`baton failover test_connection` from master1 (local) to master2 at
        `host`:`port` (the sshd's by default)."""
        home = self.baton_home
        home.write_config(FAST_CONFIG + dedent(f"""
            [failover]
            nodes = ["master1", "master2"]
            node_name = "master1"
            ssh_user = "{self.sshd.user}"
            ssh_identity_file = "{identity}"
            known_hosts = ".ssh/known_hosts"
            ssh_connect_timeout = "5s"

            [failover.node.master1]
            local = true

            [failover.node.master2]
            ssh_host = "{host}"
            ssh_port = {port or self.sshd.port}
            """))
        return home.run("failover", "test_connection")

    def assert_master2_failed(self, result, port=None):
        port = port or self.sshd.port
        user = self.sshd.user
        fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", self.sshd.host_key + ".pub"],
                                     capture_output=True, text=True, check=True).stdout.split()[1]
        names = self.names(self.baton_home,
                           (f"'[127.0.0.1]:{port}'", "master2"), (f"[127.0.0.1]:{port}", "master2"),
                           (f"-p {port} 127.0.0.1", "master2"), (f"127.0.0.1:{port}", "master2:22"),
                           (f"({user}@", "(baton@"), (f"ssh {user}@", "ssh baton@"),
                           (f"for user '{user}'", "for user 'baton'"), (f"~{user}/", "~baton/"),
                           (fingerprint, PAGE_FINGERPRINT))
        self.assert_on_page(result, 1, names, stream="stdout", count=1,
                            keep=lambda line: line.startswith("node master2 "))
        self.assert_on_page(result, 1, names, count=1)

    def test_unknown_host_key_is_refused_with_its_fingerprint(self):
        with open(self.known_hosts, "w"):
            pass
        self.assert_master2_failed(self.connect_to_master2())
        os.remove(self.known_hosts)
        self.assert_master2_failed(self.connect_to_master2())

    def test_changed_host_key_is_refused_as_a_possible_interception(self):
        other = self.sshd.generate_key("reinstalled_host_key")
        with open(other + ".pub") as public, open(self.known_hosts, "w") as known_hosts:
            known_hosts.write(self.sshd.known_hosts_line(" ".join(public.read().split()[:2])))
        self.assert_master2_failed(self.connect_to_master2())

    def test_refused_keys_are_named_and_rsa_explained(self):
        self.use_key(self.sshd.generate_key("unauthorized"))
        self.assert_master2_failed(self.connect_to_master2())
        rsa = self.sshd.generate_key("rsa_key", key_type="rsa")
        self.sshd.authorize_key(rsa)
        self.use_key(rsa, name="id_rsa")
        self.assert_master2_failed(self.connect_to_master2(identity=".ssh/id_rsa"))

    def test_missing_identity_is_named(self):
        os.remove(os.path.join(self.ssh_folder, "id_ed25519"))
        self.assert_master2_failed(self.connect_to_master2())
        self.assert_master2_failed(self.connect_to_master2(identity=""))

    def test_host_that_does_not_answer_is_named_with_the_reason(self):
        closed_port = free_port()
        self.assert_master2_failed(self.connect_to_master2(port=closed_port), port=closed_port)
        silent = listening_socket()
        self.addCleanup(silent.close)
        silent_port = silent.getsockname()[1]
        self.assert_master2_failed(self.connect_to_master2(port=silent_port), port=silent_port)
        self.assert_master2_failed(self.connect_to_master2(port=22, host="master2.invalid"), port=22)


if __name__ == "__main__":
    unittest.main()
