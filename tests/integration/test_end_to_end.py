"""End to end: the real `baton scheduler` runs DAGs to their final states.

Covers the example DAGs, retries, timeouts that must kill a whole process tree,
a scheduler killed mid-run and restarted, a clean SIGTERM shutdown, and DAG files
that change or break while the scheduler runs.
"""

import datetime
import signal
import time
import unittest

from harness import BatonTestCase, dedent, task_toml


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class ExampleDagsTest(BatonTestCase):
    def test_every_example_dag_runs_to_success(self):
        home = self.home()
        home.copy_example_dags()
        home.start_scheduler()
        home.wait_for_dags("example_etl", "example_hello", "example_trigger_rules")

        hello = home.trigger("example_hello")
        rules = home.trigger("example_trigger_rules")
        home.wait_for_run_state("example_hello", hello, "success", timeout=30)
        home.wait_for_run_state("example_trigger_rules", rules, "success", timeout=30)

        # example_etl is @daily without catchup: the scheduler creates the run of
        # the latest complete day by itself, and only that one.
        etl_runs = home.wait_until(lambda: home.runs("example_etl"), 15,
                                   "the scheduler to create example_etl's run")
        for run in etl_runs:
            home.wait_for_run_state("example_etl", run["run_id"], "success", timeout=40)
        etl_runs = home.runs("example_etl")
        self.assertEqual(len(etl_runs), 1, etl_runs)
        yesterday = (datetime.datetime.now(datetime.timezone.utc).date()
                     - datetime.timedelta(days=1))
        self.assertEqual(parse_time(etl_runs[0]["logical_date"]).date(), yesterday, etl_runs)

        self.assertEqual({r["state"] for r in home.runs()}, {"success"}, home.runs())

        # The trigger rules do what the example's comments promise.
        states = home.task_states("example_trigger_rules", rules)
        self.assertEqual({t: s["state"] for t, s in states.items()}, {
            "start": "success", "flaky": "success", "on_failure": "skipped",
            "cleanup": "success", "report": "success", "alert": "skipped",
        })
        self.assertEqual(states["flaky"]["try_number"], 2)

        # Placeholders and BATON_* variables reached the command.
        log = home.run_ok("tasks", "log", "example_hello", hello, "hello").stdout
        self.assertIn(f"from example_hello, run {hello}", log)


class RetriesTest(BatonTestCase):
    def test_task_failing_twice_succeeds_on_its_third_try(self):
        home = self.home()
        command = home.ledger_command(
            'echo "output of try $BATON_TRY_NUMBER"\n[ "$BATON_TRY_NUMBER" -ge 3 ]')
        home.write_dag("flaky", 'dag_id = "flaky"\n'
                       + task_toml("flaky_task", command, retries=2, retry_delay="0s")
                       + task_toml("after_flaky", home.ledger_command(), upstream=["flaky_task"]))
        home.start_scheduler()
        home.wait_for_dags("flaky")
        run_id = home.trigger("flaky")
        home.wait_for_run_state("flaky", run_id, "success")

        states = home.task_states("flaky", run_id)
        self.assertEqual(states["flaky_task"]["state"], "success")
        self.assertEqual(states["flaky_task"]["try_number"], 3)
        self.assertEqual(states["flaky_task"]["exit_code"], 0)
        self.assertEqual(states["after_flaky"]["state"], "success")
        self.assertEqual(home.tries_of("flaky", run_id, "flaky_task"), [1, 2, 3])
        self.assertEqual(home.tries_of("flaky", run_id, "after_flaky"), [1])
        home.assert_no_try_started_twice()

        # Each try keeps its own log.
        first = home.run_ok("tasks", "log", "flaky", run_id, "flaky_task", "--try", "1").stdout
        self.assertIn("output of try 1", first)
        self.assertNotIn("output of try 2", first)
        self.assertNotIn("output of try 3", first)
        third = home.run_ok("tasks", "log", "flaky", run_id, "flaky_task", "--try", "3").stdout
        self.assertIn("output of try 3", third)
        self.assertNotIn("output of try 1", third)

    def test_exhausted_retries_fail_the_task_and_its_downstream(self):
        home = self.home()
        home.write_dag("doomed", 'dag_id = "doomed"\n'
                       + task_toml("always_fails", home.ledger_command("exit 3"),
                                   retries=1, retry_delay="0s")
                       + task_toml("never_runs", home.ledger_command(), upstream=["always_fails"]))
        home.start_scheduler()
        home.wait_for_dags("doomed")
        run_id = home.trigger("doomed")
        home.wait_for_run_state("doomed", run_id, "failed")

        states = home.task_states("doomed", run_id)
        self.assertEqual(states["always_fails"]["state"], "failed")
        self.assertEqual(states["always_fails"]["try_number"], 2)
        self.assertEqual(states["always_fails"]["exit_code"], 3)
        self.assertEqual(states["never_runs"]["state"], "upstream_failed")
        self.assertEqual(home.tries_of("doomed", run_id, "always_fails"), [1, 2])
        self.assertEqual(home.tries_of("doomed", run_id, "never_runs"), [])


class TimeoutTest(BatonTestCase):
    def test_timeout_kills_the_whole_process_tree(self):
        home = self.home()
        sleeper = home.sleep_command(300)
        # One sleeper in the background and one in the foreground: killing only
        # the shell, or only its direct child, would leave one behind.
        command = home.ledger_command(f"{sleeper} & {sleeper}; wait")
        home.write_dag("hangs", 'dag_id = "hangs"\n'
                       + task_toml("hangs_forever", command, timeout="1s"))
        home.start_scheduler()
        home.wait_for_dags("hangs")
        run_id = home.trigger("hangs")
        home.wait_for_ledger("hangs", run_id, "hangs_forever")
        # The scan must see the tree while it lives, or its empty answer later
        # would prove nothing: the shell and its two sleepers.
        home.wait_until(lambda: len(home.live_processes()) >= 3, 10,
                        "the task's shell and both sleepers to be running")

        home.wait_for_run_state("hangs", run_id, "failed", timeout=20)
        task = home.task_states("hangs", run_id)["hangs_forever"]
        self.assertEqual(task["state"], "failed")
        elapsed = parse_time(task["end_date"]) - parse_time(task["start_date"])
        self.assertLess(elapsed.total_seconds(), 10, task)
        home.assert_no_leftover_processes()


class SchedulerCrashTest(BatonTestCase):
    def test_run_completes_after_the_scheduler_is_killed_and_restarted(self):
        home = self.home()
        command = home.ledger_command(home.sleep_command(1))
        home.write_dag("crash", dedent("""
            dag_id = "crash"

            [defaults]
            retries = 1
            retry_delay = "0s"
            """) + task_toml("first", command)
            + task_toml("second", command, upstream=["first"])
            + task_toml("third", command, upstream=["second"]))
        home.start_scheduler()
        home.wait_for_dags("crash")
        run_id = home.trigger("crash")
        home.wait_for_ledger("crash", run_id, "second")

        # As if its host died: no chance to record anything or kill its tasks.
        home.kill_scheduler()
        home.start_scheduler()
        home.wait_for_run_state("crash", run_id, "success", timeout=45)

        states = home.task_states("crash", run_id)
        self.assertEqual({t: s["state"] for t, s in states.items()},
                         {"first": "success", "second": "success", "third": "success"})
        for task in ("first", "second", "third"):
            self.assertTrue(home.tries_of("crash", run_id, task), f"{task} never started")
        home.assert_no_try_started_twice()
        home.assert_no_leftover_processes()


class GracefulShutdownTest(BatonTestCase):
    def test_sigterm_lets_a_short_task_finish_and_queues_nothing_new(self):
        home = self.home()
        short = home.ledger_command(home.sleep_command(1) + "\necho finished")
        home.write_dag("graceful", 'dag_id = "graceful"\n'
                       + task_toml("finishes_in_grace", short)
                       + task_toml("not_started", home.ledger_command(),
                                   upstream=["finishes_in_grace"]))
        home.start_scheduler()
        home.wait_for_dags("graceful")
        run_id = home.trigger("graceful")
        home.wait_for_ledger("graceful", run_id, "finishes_in_grace")

        status = home.stop_scheduler(signal.SIGTERM, timeout=15)
        self.assertEqual(status, 0, home.scheduler_output())

        states = home.task_states("graceful", run_id)
        self.assertEqual(states["finishes_in_grace"]["state"], "success", states)
        self.assertEqual(states["finishes_in_grace"]["exit_code"], 0, states)
        # Shutting down stops queueing: the downstream task must not have started.
        self.assertIn(states["not_started"]["state"], ("none", "scheduled"), states)
        self.assertEqual(home.tries_of("graceful", run_id, "not_started"), [])
        log = home.run_ok("tasks", "log", "graceful", run_id, "finishes_in_grace").stdout
        self.assertIn("finished", log)

    def test_sigterm_kills_tasks_that_outlast_the_grace_period(self):
        home = self.home()
        long_task = home.ledger_command(home.sleep_command(60))
        home.write_dag("overstays", 'dag_id = "overstays"\n'
                       + task_toml("no_retries_left", long_task)
                       + task_toml("has_retries", long_task, retries=1, retry_delay="0s"))
        home.start_scheduler()
        home.wait_for_dags("overstays")
        run_id = home.trigger("overstays")
        home.wait_for_ledger("overstays", run_id, "no_retries_left")
        home.wait_for_ledger("overstays", run_id, "has_retries")

        started = time.monotonic()
        home.stop_scheduler(signal.SIGTERM, timeout=15)
        elapsed = time.monotonic() - started
        # kill_grace_period is 2s: the tasks get it, and not much more.
        self.assertGreaterEqual(elapsed, 1.5, "the tasks were not given the grace period")
        self.assertLess(elapsed, 10)

        states = home.task_states("overstays", run_id)
        self.assertEqual(states["no_retries_left"]["state"], "failed", states)
        self.assertEqual(states["has_retries"]["state"], "up_for_retry", states)
        self.assertEqual(home.tries_of("overstays", run_id, "has_retries"), [1])
        home.assert_no_leftover_processes()


class DagFolderChangesTest(BatonTestCase):
    def evolving_dag(self, home, version, schedule_lines, tasks):
        text = 'dag_id = "evolving"\n' + schedule_lines
        for task_id, upstream in tasks:
            command = home.ledger_command(f'echo "{task_id} of version {version}"')
            text += task_toml(task_id, command, upstream=upstream)
        return text

    def test_changed_dag_file_is_reread_and_the_next_run_has_the_new_task(self):
        home = self.home()
        home.write_dag("evolving", self.evolving_dag(home, 1, "", [("original", [])]))
        home.start_scheduler()
        home.wait_for_dags("evolving")
        first_run = home.trigger("evolving", "--run-id", "before_change")
        home.wait_for_run_state("evolving", first_run, "success")
        self.assertEqual(set(home.task_states("evolving", first_run)), {"original"})

        # Version 2 is scheduled, so only a scheduler that re-read the file can
        # create its next run: `dags trigger` reads the file itself and would
        # prove nothing about the daemon.
        home.write_dag("evolving", self.evolving_dag(
            home, 2, 'schedule = "@daily"\nstart_date = 2024-01-01\ncatchup = false\n',
            [("original", []), ("added", ["original"])]))

        def scheduled_run():
            return [r for r in home.runs("evolving") if r["run_id"] != first_run]

        runs = home.wait_until(scheduled_run, 15, "the scheduler to re-read the DAG file and "
                                                  "create the run its new schedule makes due")
        self.assertEqual(len(runs), 1, runs)
        next_run = runs[0]["run_id"]
        home.wait_for_run_state("evolving", next_run, "success")
        states = home.task_states("evolving", next_run)
        self.assertEqual(set(states), {"original", "added"})
        self.assertEqual(states["added"]["state"], "success")
        self.assertEqual(home.tries_of("evolving", next_run, "added"), [1])
        log = home.run_ok("tasks", "log", "evolving", next_run, "original").stdout
        self.assertIn("original of version 2", log)

    def test_broken_dag_files_are_reported_and_the_other_dags_still_run(self):
        home = self.home()
        home.write_dag("healthy",
                       'dag_id = "healthy"\n' + task_toml("works", home.ledger_command()))
        # One file is broken when the scheduler starts (line 5: an unknown key)...
        home.write_dag("broken_at_start", dedent("""
            dag_id = "broken_at_start"

            [[task]]
            id = "typo"
            comand = "true"
            """))
        home.start_scheduler()
        home.wait_for_dags("healthy")

        # ... and one breaks while it runs (line 4 opens a string it never closes).
        home.write_dag("broken", dedent("""
            dag_id = "broken"

            [[task]]
            id = "never_closed
            command = "true"
            """))

        def reported():
            errors = {e["file"].rsplit("/", 1)[-1]: e for e in home.dags()["import_errors"]}
            return errors if {"broken.toml", "broken_at_start.toml"} <= set(errors) else None

        errors = home.wait_until(reported, 15, "both broken files to be reported")
        self.assertEqual(len(errors), 2, errors)
        for error in errors.values():
            self.assertEqual(set(error), {"file", "message"})
        self.assertRegex(errors["broken.toml"]["message"], r"broken\.toml:4:\d+")
        self.assertRegex(errors["broken_at_start.toml"]["message"],
                         r"broken_at_start\.toml:5:\d+: .*comand")
        self.assertEqual([d["dag_id"] for d in home.dags()["dags"]], ["healthy"])

        run_id = home.trigger("healthy")
        home.wait_for_run_state("healthy", run_id, "success")
        self.assertEqual(home.tries_of("healthy", run_id, "works"), [1])


if __name__ == "__main__":
    unittest.main()
