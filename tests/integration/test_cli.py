"""The `baton` commands against their contract: exit statuses, JSON fields, and
what each command does to the store and to runs the scheduler executes.
"""

import json
import os
import re
import signal
import time
import unittest

from harness import FAST_CONFIG, ISO_8601_UTC, BatonTestCase, dedent, toml_string

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


def single_task_dag(home, dag_id, command=None, extra=""):
    """A DAG of one task, `only_task`; `extra` holds more top-level keys."""
    return (f'dag_id = "{dag_id}"\n' + dedent(extra) + "\n[[task]]\n" + 'id = "only_task"\n'
            + f"command = {toml_string(command or home.ledger_command())}\n")


def sync_dags(home, *dag_ids):
    """Lets a scheduler record the DAG files in the store, then stops it cleanly."""
    home.start_scheduler()
    home.wait_for_dags(*dag_ids)
    status = home.stop_scheduler()
    if status != 0:
        home.test.fail(f"the scheduler exited {status}:\n{home.scheduler_output()}")


class DbCommandsTest(BatonTestCase):
    def test_db_init_creates_a_home_and_is_idempotent(self):
        home = self.home(config=None, init=False)
        home.run_ok("db", "init")
        for path in (home.config_path, home.dags_folder, home.logs_folder, home.db_path):
            self.assertTrue(os.path.exists(path), f"db init did not create {path}")
        with open(home.config_path) as f:
            written = f.read()
        home.run_ok("db", "check")

        home.run_ok("db", "init")
        with open(home.config_path) as f:
            self.assertEqual(f.read(), written, "a second db init rewrote baton.toml")
        home.run_ok("db", "check")

    def test_db_init_keeps_an_existing_config_and_the_runs(self):
        custom = "# hand-written, must survive db init\n" + FAST_CONFIG
        home = self.home(config=custom)
        home.write_dag("kept", single_task_dag(home, "kept"))
        sync_dags(home, "kept")
        run_id = home.trigger("kept")

        home.run_ok("db", "init")
        with open(home.config_path) as f:
            self.assertEqual(f.read(), custom)
        self.assertIsNotNone(home.run_record("kept", run_id), "db init lost a run")

    def test_db_check_fails_before_db_init_and_passes_after(self):
        home = self.home(init=False)
        result = home.run("db", "check")
        self.assertEqual(result.returncode, 1, result)
        home.run_ok("db", "init")
        home.run_ok("db", "check")


class DagsCommandsTest(BatonTestCase):
    def test_dags_list_json_has_the_contract_fields(self):
        home = self.home()
        home.write_dag("listed_manual", single_task_dag(home, "listed_manual"))
        home.write_dag("listed_cron", single_task_dag(
            home, "listed_cron", extra='schedule = "*/5 * * * *"\nstart_date = 2099-01-01'))
        sync_dags(home, "listed_manual", "listed_cron")

        listing = home.dags()
        self.assertEqual(set(listing), {"dags", "import_errors"})
        self.assertEqual(listing["import_errors"], [])
        dags = {d["dag_id"]: d for d in listing["dags"]}
        self.assertEqual(set(dags), {"listed_manual", "listed_cron"})
        for dag in dags.values():
            self.assertEqual(set(dag), {"dag_id", "file", "schedule", "is_paused"}, dag)
            self.assertIs(dag["is_paused"], False)
            self.assertTrue(dag["file"].endswith(dag["dag_id"] + ".toml"), dag)
        self.assertEqual(dags["listed_cron"]["schedule"], "*/5 * * * *")
        self.assertIn(dags["listed_manual"]["schedule"], (None, "", "none"))

        text = home.run_ok("dags", "list").stdout
        self.assertIn("listed_manual", text)
        self.assertIn("listed_cron", text)

    def test_dags_show_describes_the_dag_and_its_tasks(self):
        home = self.home()
        home.write_dag("shown", dedent(f"""
            dag_id = "shown"
            schedule = "15 4 * * *"
            start_date = 2099-01-01

            [[task]]
            id = "first_step"
            command = {toml_string(home.ledger_command())}

            [[task]]
            id = "second_step"
            upstream = ["first_step"]
            command = {toml_string(home.ledger_command())}
            """))
        sync_dags(home, "shown")
        text = home.run_ok("dags", "show", "shown").stdout
        for expected in ("shown", "15 4 * * *", "first_step", "second_step"):
            self.assertIn(expected, text)

        missing = home.run("dags", "show", "no_such_dag")
        self.assertEqual(missing.returncode, 1, missing)
        self.assertIn("no_such_dag", missing.stderr + missing.stdout)

    def test_pause_blocks_a_triggered_run_and_unpause_lets_it_run(self):
        home = self.home()
        home.write_dag("pausable", single_task_dag(home, "pausable"))
        home.start_scheduler()
        home.wait_for_dags("pausable")
        home.run_ok("dags", "pause", "pausable")
        self.assertIs(self._is_paused(home, "pausable"), True)

        run_id = home.trigger("pausable")
        # Nothing to poll for when nothing must happen: give the scheduler a
        # few of its 200ms loops, then check the run did not start.
        time.sleep(1.5)
        home.assert_scheduler_alive()
        self.assertEqual(home.run_record("pausable", run_id)["state"], "queued")
        self.assertEqual(home.ledger(), [])

        home.run_ok("dags", "unpause", "pausable")
        self.assertIs(self._is_paused(home, "pausable"), False)
        home.wait_for_run_state("pausable", run_id, "success")
        self.assertEqual(home.tries_of("pausable", run_id, "only_task"), [1])

    def _is_paused(self, home, dag_id):
        return {d["dag_id"]: d for d in home.dags()["dags"]}[dag_id]["is_paused"]

    def test_next_run_gives_the_next_cron_times_in_utc(self):
        home = self.home()
        # 06:30 on weekdays in Paris is 05:30 UTC in winter; 2099-01-01 is a
        # Thursday, so the weekend is skipped after the second time.
        home.write_dag("weekday_mornings", single_task_dag(home, "weekday_mornings", extra=dedent("""
            schedule = "30 6 * * 1-5"
            timezone = "Europe/Paris"
            start_date = 2099-01-01
            """)))
        sync_dags(home, "weekday_mornings")
        fire_times = ["2099-01-01T05:30:00", "2099-01-02T05:30:00", "2099-01-05T05:30:00",
                      "2099-01-06T05:30:00"]

        result = home.run_ok("dags", "next-run", "weekday_mornings", "-n", "3")
        lines = [TIMESTAMP.findall(line) for line in result.stdout.splitlines()]
        lines = [stamps for stamps in lines if stamps]
        self.assertEqual(len(lines), 3, result.stdout)
        for stamps in lines:
            for stamp in stamps:
                self.assertRegex(stamp, ISO_8601_UTC, "times must be printed in UTC")
        firsts = [re.sub(r"(\.0+)?(Z|\+00:00)$", "", stamps[0]) for stamps in lines]
        # Either the logical dates of the next three runs, or the instants they
        # fall due (one interval later): both are consecutive fire times.
        self.assertIn(firsts, (fire_times[0:3], fire_times[1:4]), result.stdout)


class BackfillTest(BatonTestCase):
    def setUp(self):
        self.baton_home = self.home()
        self.baton_home.write_dag("filled", single_task_dag(self.baton_home, "filled", extra=dedent("""
            schedule = "@daily"
            start_date = 2024-03-01
            catchup = false
            """)))

    def runs_between(self, first_day, last_day):
        return sorted((r for r in self.baton_home.runs("filled")
                       if first_day <= r["logical_date"][:10] <= last_day),
                      key=lambda r: r["logical_date"])

    def test_backfill_dry_run_lists_the_intervals_and_creates_nothing(self):
        home = self.baton_home
        home.start_scheduler()
        home.wait_for_dags("filled")
        result = home.run_ok("dags", "backfill", "filled", "--start", "2024-03-02",
                             "--end", "2024-03-03", "--dry-run")
        self.assertIn("2024-03-02", result.stdout)
        self.assertIn("2024-03-03", result.stdout)
        self.assertNotIn("2024-03-01", result.stdout)
        self.assertEqual(self.runs_between("2024-03-01", "2024-03-04"), [])

    def test_backfill_creates_runs_that_complete_and_skips_existing_ones(self):
        home = self.baton_home
        home.start_scheduler()
        home.wait_for_dags("filled")
        home.run_ok("dags", "backfill", "filled", "--start", "2024-03-02", "--end", "2024-03-03",
                    timeout=60)
        runs = home.wait_until(lambda: len(self.runs_between("2024-03-01", "2024-03-04")) >= 2
                               and self.runs_between("2024-03-01", "2024-03-04"), 15,
                               "the backfill's runs")
        self.assertEqual([r["logical_date"][:10] for r in runs], ["2024-03-02", "2024-03-03"])
        for run in runs:
            home.wait_for_run_state("filled", run["run_id"], "success")
            self.assertEqual(home.tries_of("filled", run["run_id"], "only_task"), [1])

        home.run_ok("dags", "backfill", "filled", "--start", "2024-03-02", "--end", "2024-03-03",
                    timeout=60)
        again = self.runs_between("2024-03-01", "2024-03-04")
        self.assertEqual([(r["run_id"], r["state"]) for r in again],
                         [(r["run_id"], "success") for r in runs])
        home.assert_no_try_started_twice()


class RunsAndTasksCommandsTest(BatonTestCase):
    def assert_times(self, record, fields, allow_null):
        for field in fields:
            value = record[field]
            if value is None and allow_null:
                continue
            self.assertIsInstance(value, str, f"{field} of {record}")
            self.assertRegex(value, ISO_8601_UTC, f"{field} of {record}")

    def test_runs_list_and_tasks_states_json_have_exactly_the_contract_fields(self):
        home = self.home()
        home.write_dag("fields", single_task_dag(home, "fields"))
        home.start_scheduler()
        home.wait_for_dags("fields")
        run_id = home.trigger("fields")
        home.wait_for_run_state("fields", run_id, "success")

        runs = home.run_json("runs", "list", "--json")
        self.assertIsInstance(runs, list)
        self.assertEqual(len(runs), 1, runs)
        run = runs[0]
        self.assertEqual((run["dag_id"], run["run_id"], run["state"]), ("fields", run_id, "success"))
        self.assert_times(run, ("logical_date", "start_date", "end_date"), allow_null=False)

        tasks = home.run_json("tasks", "states", "fields", run_id, "--json")
        self.assertIsInstance(tasks, list)
        self.assertEqual(len(tasks), 1, tasks)
        task = tasks[0]
        self.assertEqual((task["task_id"], task["state"], task["try_number"], task["exit_code"]),
                         ("only_task", "success", 1, 0))
        self.assert_times(task, ("start_date", "end_date"), allow_null=False)
        self.assertLessEqual(task["start_date"][:19], task["end_date"][:19])

        # A run nobody has started yet: no start or end, still well-formed.
        home.stop_scheduler()
        waiting = home.trigger("fields")
        record = home.run_record("fields", waiting)
        self.assertEqual(record["state"], "queued")
        self.assert_times(record, ("logical_date", "start_date", "end_date"), allow_null=True)
        self.assertIsNone(record["end_date"])

        # Filters.
        self.assertEqual([r["run_id"] for r in home.run_json(
            "runs", "list", "--state", "success", "--json")], [run_id])
        self.assertEqual([r["run_id"] for r in home.run_json(
            "runs", "list", "--state", "queued", "--json")], [waiting])
        self.assertEqual(home.run_json("runs", "list", "--dag", "other_dag", "--json"), [])
        text = home.run_ok("runs", "list").stdout
        self.assertIn(run_id, text)

        # Exactly the contract's fields (and run_type: scheduled, manual or
        # backfill), checked last so that an extra field does not hide a wrong
        # value above.
        self.assertEqual(set(run), {"dag_id", "run_id", "run_type", "state", "logical_date",
                                    "start_date", "end_date"})
        self.assertEqual(run["run_type"], "manual")
        self.assertEqual(set(task),
                         {"task_id", "state", "try_number", "start_date", "end_date", "exit_code"})

    def test_conf_and_run_id_reach_the_task(self):
        home = self.home()
        conf_file = os.path.join(home.root, "conf.json")
        rendered_file = os.path.join(home.root, "rendered.txt")
        command = (f"printf '%s' \"$BATON_CONF\" > {conf_file}\n"
                   f"echo \"{{{{ run_id }}}}|{{{{ ds }}}}|$BATON_DS|$BATON_RUN_ID|{{{{ conf.day }}}}\""
                   f" > {rendered_file}")
        home.write_dag("configured", single_task_dag(home, "configured", command))
        home.start_scheduler()
        home.wait_for_dags("configured")
        conf = {"day": "2026-11-23", "count": 3}
        result = home.run_ok("dags", "trigger", "configured", "--run-id", "my_custom_run",
                             "--conf", json.dumps(conf))
        self.assertIn("my_custom_run", result.stdout)
        run = home.wait_for_run_state("configured", "my_custom_run", "success")

        with open(conf_file) as f:
            self.assertEqual(json.load(f), conf)
        with open(rendered_file) as f:
            rendered_run_id, rendered_ds, env_ds, env_run_id, day = f.read().strip().split("|")
        self.assertEqual(rendered_run_id, "my_custom_run")
        self.assertEqual(env_run_id, "my_custom_run")
        self.assertEqual(rendered_ds, env_ds)
        self.assertEqual(rendered_ds, run["logical_date"][:10])
        self.assertEqual(day, "2026-11-23")

    def test_tasks_log_of_a_silent_try_says_it_wrote_no_output(self):
        home = self.home()
        home.write_dag("quiet", single_task_dag(home, "quiet", "true"))
        home.write_dag("loud", single_task_dag(home, "loud", "echo spoken"))
        home.start_scheduler()
        home.wait_for_dags("quiet", "loud")
        for dag_id in ("quiet", "loud"):
            home.run_ok("dags", "trigger", dag_id, "--run-id", "r1")
            home.wait_for_run_state(dag_id, "r1", "success")
        # A log file is made at a try's first byte: the silent try has none.
        self.assertFalse(os.path.exists(os.path.join(home.logs_folder, "quiet", "r1")))
        result = home.run_ok("tasks", "log", "quiet", "r1", "only_task")
        self.assertEqual(result.stdout, "")
        self.assertIn("try 1 of task quiet/r1/only_task wrote no output", result.stderr)
        self.assertEqual(home.run_ok("tasks", "log", "loud", "r1", "only_task").stdout, "spoken\n")
        # A try that never ran is still an error.
        result = home.run("tasks", "log", "quiet", "r1", "only_task", "--try", "2")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("task quiet/r1/only_task has no try 2 (its latest is try 1)", result.stderr)

    def test_tasks_clear_reruns_a_failed_task_with_the_next_try_number(self):
        home = self.home()
        flag = os.path.join(home.root, "let-it-pass")
        home.write_dag("clearable", dedent(f"""
            dag_id = "clearable"

            [[task]]
            id = "gate"
            command = {toml_string(home.ledger_command(f"test -e {flag}"))}

            [[task]]
            id = "after_gate"
            upstream = ["gate"]
            command = {toml_string(home.ledger_command())}

            [[task]]
            id = "bystander"
            command = {toml_string(home.ledger_command())}
            """))
        home.start_scheduler()
        home.wait_for_dags("clearable")
        run_id = home.trigger("clearable")
        home.wait_for_run_state("clearable", run_id, "failed")
        states = home.task_states("clearable", run_id)
        self.assertEqual(states["gate"]["state"], "failed")
        self.assertEqual(states["after_gate"]["state"], "upstream_failed")

        with open(flag, "w"):
            pass
        home.run_ok("tasks", "clear", "clearable", run_id, "gate")
        home.wait_for_run_state("clearable", run_id, "success")

        states = home.task_states("clearable", run_id)
        self.assertEqual((states["gate"]["state"], states["gate"]["try_number"]), ("success", 2))
        self.assertEqual(states["after_gate"]["state"], "success")
        # Clearing reaches downstream only: the bystander is not run again.
        self.assertEqual(states["bystander"]["try_number"], 1)
        self.assertEqual(home.tries_of("clearable", run_id, "gate"), [1, 2])
        self.assertEqual(home.tries_of("clearable", run_id, "after_gate"), [1])
        self.assertEqual(home.tries_of("clearable", run_id, "bystander"), [1])

    def test_failed_deps_names_the_unfinished_upstream(self):
        home = self.home()
        home.write_dag("blocked", dedent(f"""
            dag_id = "blocked"

            [[task]]
            id = "slow_upstream"
            command = {toml_string(home.ledger_command(home.sleep_command(60)))}

            [[task]]
            id = "finished_upstream"
            command = {toml_string(home.ledger_command())}

            [[task]]
            id = "waiting_task"
            upstream = ["slow_upstream", "finished_upstream"]
            command = {toml_string(home.ledger_command())}
            """))
        home.start_scheduler()
        home.wait_for_dags("blocked")
        run_id = home.trigger("blocked")
        home.wait_for_ledger("blocked", run_id, "slow_upstream")
        home.wait_for_task_state("blocked", run_id, "finished_upstream", "success")

        result = home.run_ok("tasks", "failed-deps", "blocked", run_id, "waiting_task")
        self.assertIn("slow_upstream", result.stdout)
        # Only what blocks the task is named, not an upstream that is done.
        self.assertNotIn("finished_upstream", result.stdout)


class JobsCheckTest(BatonTestCase):
    def test_jobs_check_follows_the_scheduler_heartbeat(self):
        home = self.home()
        self.assertEqual(home.run("jobs", "check").returncode, 1, "no scheduler has ever run")

        home.start_scheduler(wait_ready=False)
        home.wait_until(lambda: home.run("jobs", "check").returncode == 0, 10,
                        "jobs check to see the scheduler")
        home.run_ok("jobs", "check", "--local")

        self.assertEqual(home.stop_scheduler(signal.SIGTERM), 0, home.scheduler_output())
        # health_threshold is 3s: by then the heartbeat is stale even if the
        # scheduler did not record its end.
        home.wait_until(lambda: home.run("jobs", "check").returncode == 1, 6,
                        "jobs check to fail once the scheduler stopped")
        self.assertEqual(home.run("jobs", "check", "--local").returncode, 1)

    def test_jobs_check_fails_once_a_killed_schedulers_heartbeat_is_stale(self):
        home = self.home()
        home.start_scheduler(wait_ready=False)
        home.wait_until(lambda: home.run("jobs", "check").returncode == 0, 10,
                        "jobs check to see the scheduler")
        self.assertEqual([j["state"] for j in home.run_json("jobs", "list", "--json")], ["alive"])
        home.kill_scheduler()
        home.wait_until(lambda: home.run("jobs", "check").returncode == 1, 6,
                        "jobs check to fail once the heartbeat is stale")
        # The row of a scheduler killed with -9 stays, shown stale.
        self.assertEqual([j["state"] for j in home.run_json("jobs", "list", "--json")], ["stale"])
        self.assertIn("stale", home.run_ok("jobs", "list").stdout)


class SchedulerCommandTest(BatonTestCase):
    def test_scheduler_with_num_runs_exits_on_its_own(self):
        home = self.home()
        home.write_dag("quick", single_task_dag(home, "quick"))
        result = home.run("scheduler", "--num-runs", "3", timeout=20)
        self.assertEqual(result.returncode, 0, result)
        self.assertIn("quick", [d["dag_id"] for d in home.dags()["dags"]])


if __name__ == "__main__":
    unittest.main()
