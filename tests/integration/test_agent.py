"""The real `baton agent` against a real Redis and a real MariaDB (one test on SQLite).

No scheduler runs here: each test plays its part by hand, moving a task instance
to queued in the store and pushing its message on a Redis queue, so every
decision the agent makes is the agent's own. Covered: claiming, running and
recording success, failures and retries (one start per try in the ledger);
duplicate, stale and malformed messages dropped; start-up recovery of the
processing list (reclaim and abandon) after a SIGKILL; SIGTERM with running
tasks (grace, then kill, recorded); /health and /log over HTTP; `baton tasks
log` fetching from the agent; start-up errors.
"""

import copy
import http.client
import json
import os
import socket
import sqlite3
import time
import urllib.parse

from cluster import Cluster, render_toml
from harness import BatonTestCase, dedent, tail, task_toml, toml_string
from servers import free_port

HOST = socket.gethostname()


class AgentCluster(Cluster):
    """A Cluster without a scheduler, where the test queues task instances itself."""

    def write_sql(self, statement):
        if self.mariadb is not None:
            self.mariadb.query(statement, database=self.database)
            return
        connection = sqlite3.connect(self.db_path, timeout=10)
        try:
            connection.execute(statement)
            connection.commit()
        finally:
            connection.close()

    def trigger_solo_dag(self, dag_id, *task_ids):
        """Writes a DAG of independent tasks (their commands come with the
        messages) and triggers a run of it; returns the run id."""
        text = f"dag_id = {toml_string(dag_id)}\n"
        for task_id in task_ids:
            text += task_toml(task_id, "true")
        self.write_dag(dag_id, text)
        return self.trigger(dag_id)

    def run_solo_try(self, dag_id, task_id, command, agent="a1"):
        """Runs one task of a new solo DAG on a new agent to success; returns the run id."""
        run_id = self.trigger_solo_dag(dag_id, task_id)
        self.queue_try(dag_id, run_id, task_id, 1, command)
        self.start_agent(agent)
        self.wait_for_task_state(dag_id, run_id, task_id, "success")
        return run_id

    def queue_instance(self, dag_id, run_id, task_id, try_number, state="queued", owner=0):
        """Sets the instance as the scheduler does when it queues a try."""
        self.write_sql(
            f"UPDATE task_instance SET state = '{state}', try_number = {try_number}, "
            f"owner_job_id = {owner}, hostname = '', pid = 0, start_date = NULL, "
            f"end_date = NULL, exit_code = NULL, next_retry_at = NULL "
            f"WHERE dag_id = '{dag_id}' AND run_id = '{run_id}' AND task_id = '{task_id}'")

    def message(self, dag_id, run_id, task_id, try_number, command, max_tries=1,
                retry_delay_ms=0, timeout_ms=None, queue="default"):
        """A task message as the scheduler encodes it (engine/task_message.cc)."""
        return json.dumps({
            "dag_id": dag_id, "run_id": run_id, "task_id": task_id,
            "try_number": try_number, "command": command,
            "env": {"BATON_DAG_ID": dag_id, "BATON_RUN_ID": run_id, "BATON_TASK_ID": task_id,
                    "BATON_TRY_NUMBER": str(try_number)},
            "cwd": "", "queue": queue, "max_tries": max_tries,
            "retry_delay_ms": retry_delay_ms, "timeout_ms": timeout_ms,
        })

    def queue_try(self, dag_id, run_id, task_id, try_number, body="", **message):
        """Queues the instance at `try_number` and pushes the message of that try
        (`message`: message()'s options), as the scheduler does. Its command
        records the try's start in the ledger, then runs `body`."""
        self.queue_instance(dag_id, run_id, task_id, try_number)
        self.push(self.message(dag_id, run_id, task_id, try_number, self.ledger_command(body),
                               **message))

    def push(self, message, queue="default"):
        """LPUSH, as the scheduler does: agents take from the right."""
        self.redis.command("LPUSH", self.queue_key(queue), message)

    def put_in_processing(self, agent_name, message):
        self.redis.command("LPUSH", self.processing_key(agent_name), message)

    def list_length(self, key):
        return self.redis.command("LLEN", key)

    def events(self):
        raw = self.redis.command("LRANGE", f"{self.key_prefix}:events", 0, -1)
        return [json.loads(e) for e in raw]

    def row(self, dag_id, run_id, task_id):
        columns = ("state", "try_number", "hostname", "pid", "owner_job_id", "exit_code",
                   "start_date", "end_date", "next_retry_at")
        rows = self.sql(f"SELECT {', '.join(columns)} FROM task_instance WHERE dag_id = "
                        f"'{dag_id}' AND run_id = '{run_id}' AND task_id = '{task_id}'")
        return dict(zip(columns, rows[0]))

    def tries(self, dag_id, run_id, task_id):
        return self.sql(f"SELECT try_number, state, exit_code FROM task_try WHERE dag_id = "
                        f"'{dag_id}' AND run_id = '{run_id}' AND task_id = '{task_id}' "
                        f"ORDER BY try_number")

    def agent_job(self, name, state="running"):
        """{id, queues, endpoint, hostname, state, running_count} of the agent's job."""
        columns = ("id", "queues", "endpoint", "hostname", "state", "running_count",
                   "latest_heartbeat")
        rows = self.sql(f"SELECT {', '.join(columns)} FROM job WHERE kind = 'agent' AND "
                        f"name = '{name}' AND state = '{state}' ORDER BY id DESC")
        return dict(zip(columns, rows[0])) if rows else None

    def wait_for_drained(self, agent_name, timeout=15):
        """Waits until the default queue and the agent's processing list are empty."""
        self.wait_until(
            lambda: (self.list_length(self.queue_key()) == 0
                     and self.list_length(self.processing_key(agent_name)) == 0),
            timeout, f"the queue and {agent_name}'s processing list to empty")

    def config_with(self, name, **sections):
        """Writes ROOT/NAME: this cluster's baton.toml with `sections` merged in."""
        settings = copy.deepcopy(self.settings)
        for section, values in sections.items():
            settings.setdefault(section, {}).update(values)
        return self.write_file(name, render_toml(settings))


def http_get(endpoint, path, method="GET"):
    """(status, body) of a request with `path` sent exactly as given."""
    host, port = endpoint.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def log_path(dag_id, run_id, task_id, try_number):
    quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731
    return f"/log/{quote(dag_id)}/{quote(run_id)}/{quote(task_id)}/{try_number}"


class AgentTest(BatonTestCase):
    STORE = "mariadb"

    def cluster(self, **settings):
        return AgentCluster(self, store=self.STORE, settings=settings or None)

    def test_claims_a_queued_task_runs_it_and_records_success(self):
        cluster = self.cluster()
        run_id = cluster.trigger_solo_dag("solo", "hello")
        cluster.queue_try("solo", run_id, "hello", 1, 'echo "hello from the agent"')
        cluster.start_agent("a1")
        job = cluster.agent_job("a1")

        cluster.wait_for_task_state("solo", run_id, "hello", "success", timeout=20)
        cluster.wait_for_drained("a1")
        self.assertEqual(cluster.ledger(), [("solo", run_id, "hello", 1)])
        self.assertEqual(cluster.agents_of("solo", run_id, "hello"), {1: "a1"})

        row = cluster.row("solo", run_id, "hello")
        self.assertEqual((row["try_number"], row["hostname"], row["owner_job_id"], row["exit_code"]),
                         ("1", HOST, job["id"], "0"))
        self.assertNotEqual(row["pid"], "0", "the end write records the try's pid")
        self.assertIsNotNone(row["start_date"])
        self.assertEqual(cluster.tries("solo", run_id, "hello"), [("1", "success", "0")])

        # The scheduler hears of the end (a claim publishes nothing).
        events = [(e["task_id"], e["state"], e["try_number"], e["owner_job_id"])
                  for e in cluster.events()]
        self.assertEqual(events, [("hello", "success", 1, int(job["id"]))])

        # Its job row: name, queues, endpoint, heartbeats with the running count.
        self.assertEqual((job["queues"], job["hostname"]), ("default", HOST))
        self.assertRegex(job["endpoint"], r"^127\.0\.0\.1:\d+$")
        first_beat = job["latest_heartbeat"]
        cluster.wait_until(lambda: cluster.agent_job("a1")["latest_heartbeat"] != first_beat, 10,
                           "a heartbeat of the agent")
        with open(os.path.join(cluster.logs_folder, "solo", run_id, "hello", "1.log")) as f:
            self.assertIn("hello from the agent", f.read())

        self.assertEqual(cluster.stop_agent("a1"), 0)
        self.assertEqual(cluster.agent_job("a1", state="ended")["id"], job["id"])
        cluster.assert_no_leftover_processes()

    def test_failed_tries_are_retried_and_each_try_starts_once(self):
        cluster = self.cluster()
        run_id = cluster.trigger_solo_dag("flaky", "second_time_lucky", "hopeless")
        lucky = cluster.ledger_command('[ "$BATON_TRY_NUMBER" -ge 2 ] || exit 3')
        hopeless = cluster.ledger_command("exit 4")
        cluster.start_agent("a1")

        for try_number in (1, 2):
            if try_number == 2:
                # What the scheduler does once retry_delay has passed.
                cluster.write_sql("UPDATE task_instance SET state = 'queued', try_number = 2 "
                                  f"WHERE run_id = '{run_id}' AND state = 'up_for_retry'")
            else:
                cluster.queue_instance("flaky", run_id, "second_time_lucky", 1)
                cluster.queue_instance("flaky", run_id, "hopeless", 1)
            cluster.push(cluster.message("flaky", run_id, "second_time_lucky", try_number, lucky,
                                         max_tries=3, retry_delay_ms=60000))
            cluster.push(cluster.message("flaky", run_id, "hopeless", try_number, hopeless,
                                         max_tries=2, retry_delay_ms=0))
            if try_number == 1:
                cluster.wait_for_task_state("flaky", run_id, "second_time_lucky", "up_for_retry")
                row = cluster.wait_for_task_state("flaky", run_id, "hopeless", "up_for_retry")
                self.assertEqual(row["exit_code"], 4)
                lucky_row = cluster.row("flaky", run_id, "second_time_lucky")
                self.assertEqual(lucky_row["exit_code"], "3")
                # Due retry_delay after the try ended.
                self.assertEqual(int(lucky_row["next_retry_at"]) - int(lucky_row["end_date"]),
                                 60_000_000)
                cluster.wait_for_drained("a1")

        cluster.wait_for_task_state("flaky", run_id, "second_time_lucky", "success")
        row = cluster.wait_for_task_state("flaky", run_id, "hopeless", "failed")
        self.assertEqual(row["exit_code"], 4)
        cluster.wait_for_drained("a1")

        self.assertEqual(cluster.tries("flaky", run_id, "second_time_lucky"),
                         [("1", "up_for_retry", "3"), ("2", "success", "0")])
        self.assertEqual(cluster.tries("flaky", run_id, "hopeless"),
                         [("1", "up_for_retry", "4"), ("2", "failed", "4")])
        self.assertEqual(sorted(cluster.tries_of("flaky", run_id, "second_time_lucky")), [1, 2])
        self.assertEqual(sorted(cluster.tries_of("flaky", run_id, "hopeless")), [1, 2])
        cluster.assert_no_try_started_twice()

    def test_duplicate_messages_of_a_try_run_it_once(self):
        cluster = self.cluster()
        run_id = cluster.trigger_solo_dag("dup", "once", "contested")
        cluster.queue_instance("dup", run_id, "once", 1)
        message = cluster.message("dup", run_id, "once", 1, cluster.ledger_command("sleep 0.5"))
        for _ in range(3):
            cluster.push(message)
        # Four slots: all three copies are taken at once and claimed together.
        cluster.start_agent("a1", "--concurrency", 4)
        cluster.wait_for_task_state("dup", run_id, "once", "success")
        cluster.wait_for_drained("a1")
        output = cluster.agent_output("a1")
        self.assertEqual(output.count("dropping a duplicate message of dup/"), 2, output)

        # A copy that arrives after the try ended is stale, and dropped too.
        cluster.push(message)
        cluster.wait_for_drained("a1")
        self.assertEqual(cluster.ledger(), [("dup", run_id, "once", 1)])
        self.assertEqual(cluster.tries("dup", run_id, "once"), [("1", "success", "0")])
        output = cluster.agent_output("a1")
        self.assertIn("the task instance is success at try 1", output)

        # Two agents, two copies: the store's compare-and-set lets one claim it.
        cluster.stop_agent("a1")
        cluster.queue_instance("dup", run_id, "contested", 1)
        message = cluster.message("dup", run_id, "contested", 1,
                                  cluster.ledger_command("sleep 0.5"))
        cluster.push(message)
        cluster.push(message)
        cluster.start_agent("b1", "--concurrency", 1, wait_ready=False)
        cluster.start_agent("b2", "--concurrency", 1, wait_ready=False)
        cluster.wait_for_agent("b1")
        cluster.wait_for_agent("b2")
        cluster.wait_for_task_state("dup", run_id, "contested", "success")
        cluster.wait_for_drained("b1")
        cluster.wait_for_drained("b2")
        self.assertEqual(cluster.tries_of("dup", run_id, "contested"), [1])
        self.assertEqual(cluster.tries("dup", run_id, "contested"), [("1", "success", "0")])
        drops = (cluster.agent_output("b1") + cluster.agent_output("b2")).count(
            "dropping the message of dup/")
        self.assertEqual(drops, 1)

    def test_messages_whose_instance_is_not_queued_at_their_try_are_dropped(self):
        cluster = self.cluster()
        run_id = cluster.trigger_solo_dag("stale", "waiting", "moved_on", "cleared")
        command = cluster.ledger_command()
        # Still none: the scheduler never queued it.
        cluster.push(cluster.message("stale", run_id, "waiting", 1, command))
        # Queued again at try 2: a message of try 1 is stale.
        cluster.queue_instance("stale", run_id, "moved_on", 2)
        cluster.push(cluster.message("stale", run_id, "moved_on", 1, command))
        # Already finished.
        cluster.queue_instance("stale", run_id, "cleared", 1, state="success")
        cluster.push(cluster.message("stale", run_id, "cleared", 1, command))
        # Not a task message at all.
        cluster.push("this is not a task message")
        cluster.push(json.dumps({"dag_id": "stale"}))

        cluster.start_agent("a1")
        cluster.wait_for_drained("a1")
        time.sleep(0.5)  # nothing may start late either
        self.assertEqual(cluster.ledger(), [])
        states = cluster.task_states("stale", run_id)
        self.assertEqual({t: (s["state"], s["try_number"]) for t, s in states.items()},
                         {"waiting": ("none", 0), "moved_on": ("queued", 2),
                          "cleared": ("success", 1)})
        self.assertEqual(cluster.events(), [])
        output = cluster.agent_output("a1")
        self.assertEqual(output.count("dropping a malformed message"), 2, output)
        self.assertIn("is none at try 0", output)
        self.assertIn("is queued at try 2", output)

    def test_restart_reclaims_what_was_never_claimed_and_abandons_the_rest(self):
        cluster = self.cluster()
        run_id = cluster.trigger_solo_dag("recover", "held", "unclaimed", "finished", "waiting")

        # The agent's first life claims a long try and dies with it (SIGKILL).
        cluster.queue_try("recover", run_id, "held", 1, cluster.sleep_command(60))
        cluster.start_agent("r1", "--concurrency", 1)
        first_job = cluster.agent_job("r1")["id"]
        cluster.wait_for_ledger("recover", run_id, "held", 1)
        cluster.kill_agent("r1")
        self.assertEqual(cluster.list_length(cluster.processing_key("r1")), 1)

        # Messages it had taken without claiming, put there by hand: one whose
        # instance is still queued at its try, one whose instance has moved on.
        command = cluster.ledger_command()
        cluster.queue_instance("recover", run_id, "unclaimed", 1)
        cluster.put_in_processing("r1", cluster.message("recover", run_id, "unclaimed", 1, command))
        cluster.queue_instance("recover", run_id, "finished", 1, state="success")
        cluster.put_in_processing("r1", cluster.message("recover", run_id, "finished", 1, command))
        # And one waiting in the queue: the reclaimed message goes before it.
        cluster.queue_try("recover", run_id, "waiting", 1)

        cluster.start_agent("r1", "--concurrency", 1)
        # The first life's job is ended at once: its process is gone.
        self.assertEqual(cluster.agent_job("r1", state="ended")["id"], first_job)
        cluster.wait_for_task_state("recover", run_id, "unclaimed", "success")
        cluster.wait_for_task_state("recover", run_id, "waiting", "success")
        cluster.wait_for_drained("r1")

        self.assertEqual([task for _, _, task, _ in cluster.ledger()],
                         ["held", "unclaimed", "waiting"])
        cluster.assert_no_try_started_twice()
        # What the first life held is the scheduler's to fail: the agent leaves it.
        held = cluster.row("recover", run_id, "held")
        self.assertEqual((held["state"], held["owner_job_id"]), ("running", first_job))
        self.assertEqual(cluster.row("recover", run_id, "finished")["state"], "success")
        output = cluster.agent_output("r1")
        self.assertEqual(output.count("recovery: abandoning"), 2, output)
        self.assertEqual(output.count("back to queue default"), 1, output)

    def test_sigterm_gives_running_tasks_the_grace_period_then_kills_and_records_them(self):
        cluster = self.cluster()
        run_id = cluster.trigger_solo_dag("stop", "quick", "slow")
        cluster.queue_try("stop", run_id, "quick", 1, cluster.sleep_command(1))
        cluster.queue_try("stop", run_id, "slow", 1, cluster.sleep_command(60), max_tries=2)
        cluster.start_agent("a1")
        cluster.wait_for_ledger("stop", run_id, "quick", 1)
        cluster.wait_for_ledger("stop", run_id, "slow", 1)
        job = cluster.agent_job("a1")

        started = time.monotonic()
        self.assertEqual(cluster.stop_agent("a1"), 0, tail(cluster.agent_output("a1"), 40))
        elapsed = time.monotonic() - started
        # kill_grace_period is 2s: the slow one is killed then, not sooner.
        self.assertGreaterEqual(elapsed, 1.8)
        self.assertLess(elapsed, 15)

        states = cluster.task_states("stop", run_id)
        self.assertEqual(states["quick"]["state"], "success")
        self.assertEqual(states["slow"]["state"], "up_for_retry")
        self.assertIsNone(states["slow"]["exit_code"])
        self.assertEqual(cluster.tries("stop", run_id, "slow"), [("1", "up_for_retry", None)])
        self.assertEqual(cluster.list_length(cluster.processing_key("a1")), 0)
        self.assertEqual(cluster.agent_job("a1", state="ended")["id"], job["id"])
        self.assertEqual(cluster.events()[-1]["state"], "up_for_retry")
        cluster.assert_no_leftover_processes()

    def test_health_and_logs_over_http_and_tasks_log_fetches_from_the_agent(self):
        cluster = self.cluster()
        run_id = cluster.run_solo_try("web", "talk", 'echo "a line from the agent"')
        job = cluster.agent_job("a1")
        endpoint = job["endpoint"]

        status, body = http_get(endpoint, "/health")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok", "name": "a1", "running": 0,
                                            "job_id": int(job["id"])})

        status, body = http_get(endpoint, log_path("web", run_id, "talk", 1))
        self.assertEqual((status, body), (200, "a line from the agent\n"))
        self.assertEqual(http_get(endpoint, log_path("web", run_id, "talk", 2))[0], 404)
        self.assertEqual(http_get(endpoint, log_path("web", "no-such-run", "talk", 1))[0], 404)
        for bad in ("/log/web/../talk/1", "/log/web/%2E%2E/talk/1", "/log/web/a%2Fb/talk/1",
                    "/log/web//talk/1", "/log/web/./talk/1", f"/log/web/{run_id}/talk/zero",
                    f"/log/web/{run_id}/talk/0", f"/log/web/{run_id}/talk", "/log/%2E%2E/x/y/1"):
            self.assertEqual(http_get(endpoint, bad)[0], 400, bad)
        for elsewhere in ("/", "/logs", "/health/x", "/etc/passwd"):
            self.assertEqual(http_get(endpoint, elsewhere)[0], 404, elsewhere)
        self.assertEqual(http_get(endpoint, "/health", method="POST")[0], 405)

        # The CLI on a "host" whose logs folder does not have the file.
        other = cluster.config_with("other-host.toml", core={"logs_folder": "other-logs"})
        result = cluster.run_ok("--config", other, "tasks", "log", "web", run_id, "talk")
        self.assertEqual(result.stdout, "a line from the agent\n")

        # With the agent gone, the error names where the log is.
        self.assertEqual(cluster.stop_agent("a1"), 0)
        result = cluster.run("--config", other, "tasks", "log", "web", run_id, "talk")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(HOST, result.stderr)
        self.assertIn("agent 'a1'", result.stderr)
        self.assertIn(endpoint, result.stderr)
        # This host's own copy is still read directly.
        self.assertEqual(cluster.run_ok("tasks", "log", "web", run_id, "talk").stdout,
                         "a line from the agent\n")

    def test_a_silent_try_makes_no_log_file_and_tasks_log_says_it_wrote_nothing(self):
        cluster = self.cluster()
        run_id = cluster.run_solo_try("quiet", "hush", "true")
        self.assertFalse(os.path.exists(os.path.join(cluster.logs_folder, "quiet", run_id, "hush")))
        endpoint = cluster.agent_job("a1")["endpoint"]
        self.assertEqual(http_get(endpoint, log_path("quiet", run_id, "hush", 1))[0], 404)

        # On this host, and on one whose logs folder is elsewhere (fetched from the agent).
        other = cluster.config_with("other-host.toml", core={"logs_folder": "other-logs"})
        for config in ([], ["--config", other]):
            result = cluster.run_ok(*config, "tasks", "log", "quiet", run_id, "hush")
            self.assertEqual(result.stdout, "")
            self.assertIn(f"try 1 of task quiet/{run_id}/hush wrote no output", result.stderr)

    def test_start_up_errors_are_clear_and_exit_non_zero(self):
        cluster = self.cluster()
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        self.addCleanup(taken.close)
        busy = cluster.config_with("busy.toml", agent={"log_port": taken.getsockname()[1]})
        result = cluster.run("--config", busy, "agent", "--name", "x1")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("Address already in use", result.stderr)
        self.assertIn(f"127.0.0.1:{taken.getsockname()[1]}", result.stderr)

        no_redis = cluster.config_with("no-redis.toml",
                                       redis={"url": f"redis://127.0.0.1:{free_port()}/0",
                                              "connect_timeout": "500ms"})
        result = cluster.run("--config", no_redis, "agent", "--name", "x2")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("127.0.0.1", result.stderr)

        result = cluster.run("agent", "--concurrency", "0")
        self.assertEqual(result.returncode, 2, result.stderr)
        result = cluster.run("agent", "--queues", "a,,b")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("queue", result.stderr)

        # One name, one live agent per host: a second would share its processing list.
        cluster.start_agent("twin")
        result = cluster.run("agent", "--name", "twin")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("already runs", result.stderr)
        self.assertTrue(cluster.agents["twin"].alive())


class AgentWithSchedulerTest(BatonTestCase):
    """`baton scheduler` with [executor] kind = "redis" and two agents on MariaDB."""

    def test_a_run_with_a_retry_completes_and_its_logs_come_from_the_agents(self):
        cluster = AgentCluster(self)
        cluster.write_dag("chain", dedent(f"""
            dag_id = "chain"

            [[task]]
            id = "first"
            command = {toml_string(cluster.ledger_command('echo "first on $BATON_IT_AGENT"'))}

            [[task]]
            id = "flaky"
            upstream = ["first"]
            retries = 1
            retry_delay = "0s"
            command = {toml_string(cluster.ledger_command(
                'echo "flaky try $BATON_TRY_NUMBER"; [ "$BATON_TRY_NUMBER" -ge 2 ]'))}
            """))
        cluster.start(agents=2)
        cluster.run_ok("dags", "unpause", "chain")
        run_id = cluster.trigger("chain")
        states = cluster.wait_for_run_terminal("chain", run_id, timeout=60)
        self.assertEqual(states["flaky"]["try_number"], 2)
        self.assertEqual(sorted(cluster.tries_of("chain", run_id, "flaky")), [1, 2])
        cluster.assert_no_try_started_twice()

        other = cluster.config_with("other-host.toml", core={"logs_folder": "other-logs"})
        log = cluster.run_ok("--config", other, "tasks", "log", "chain", run_id, "flaky",
                             "--try", 1).stdout
        self.assertEqual(log, "flaky try 1\n")
        log = cluster.run_ok("--config", other, "tasks", "log", "chain", run_id, "first").stdout
        self.assertRegex(log, r"^first on a[12]\n$")


class AgentOnSqliteTest(BatonTestCase):
    """The agent on the embedded store, shared by processes of one host."""

    def test_claims_runs_and_records_on_sqlite(self):
        cluster = AgentCluster(self, store="sqlite")
        run_id = cluster.trigger_solo_dag("lite", "one", "two")
        for task_id, command in (("one", "true"), ("two", "exit 5")):
            cluster.queue_try("lite", run_id, task_id, 1, command)
        cluster.start_agent("a1")
        cluster.wait_for_task_state("lite", run_id, "one", "success")
        row = cluster.wait_for_task_state("lite", run_id, "two", "failed")
        self.assertEqual(row["exit_code"], 5)
        cluster.wait_for_drained("a1")
        self.assertEqual(sorted(cluster.ledger()),
                         [("lite", run_id, "one", 1), ("lite", run_id, "two", 1)])
        self.assertEqual(cluster.stop_agent("a1"), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
