"""Bad input is refused with exit status 2 and a message that says where and what
(file:line:col and the field), and the store is left exactly as it was.
"""

import re
import unittest

from harness import FAST_CONFIG, BatonTestCase, dedent, describe

GOOD_TASK = dedent("""
    [[task]]
    id = "fine"
    command = "true"
    """)


def columns_of(text, line, *anchors):
    """1-based columns where each anchor starts on `line` (1-based) of `text`."""
    line_text = text.splitlines()[line - 1]
    columns = []
    for anchor in anchors:
        index = line_text.find(anchor)
        assert index >= 0, f"{anchor!r} is not on line {line}: {line_text!r}"
        columns.append(index + 1)
    return columns


class BadInputTestCase(BatonTestCase):
    def assert_rejected(self, home, args, file_name, lines, columns=None, mentions=(),
                        env=None):
        """Runs `baton ARGS`, expects status 2 and `file_name:LINE[:COL]` in the
        message with LINE in `lines` (and COL in `columns`, when given), every
        text of `mentions`, and an untouched store. Returns the output."""
        before = home.store_dump()
        result = home.run(*args, env=env)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 2, describe(result, "expected exit status 2"))
        position = re.search(re.escape(file_name) + r":(\d+)(?::(\d+))?", output)
        self.assertIsNotNone(position, describe(result, f"no {file_name}:LINE in the message"))
        self.assertIn(int(position.group(1)), lines, describe(result, "wrong line"))
        if columns is not None:
            self.assertIsNotNone(position.group(2), describe(result, "no column in the message"))
            self.assertIn(int(position.group(2)), columns, describe(result, "wrong column"))
        for text in mentions:
            self.assertIn(text, output, describe(result, f"the message does not mention {text!r}"))
        self.assertEqual(home.store_dump(), before, "the store changed")
        return output


class BadConfigTest(BadInputTestCase):
    def break_config(self, home, text):
        """Replaces the home's good baton.toml; returns the text for positions."""
        home.write_config(text)
        return text

    def test_malformed_config_is_refused_with_its_position(self):
        home = self.home()
        # loop_interval's value opens a string it never closes.
        text = self.break_config(home, FAST_CONFIG.replace(
            'loop_interval = "200ms"', 'loop_interval = "200ms'))
        line = text.splitlines().index('loop_interval = "200ms') + 1
        self.assert_rejected(home, ["runs", "list", "--json"], "baton.toml", {line})

    def test_unknown_config_key_is_refused_with_a_suggestion(self):
        home = self.home()
        text = self.break_config(home, FAST_CONFIG.replace(
            'loop_interval = "200ms"', 'loop_intervall = "200ms"'))
        line = text.splitlines().index('loop_intervall = "200ms"') + 1
        output = self.assert_rejected(home, ["runs", "list", "--json"], "baton.toml", {line},
                                      columns_of(text, line, "loop_intervall", '"200ms"'),
                                      mentions=["loop_intervall", "did you mean"])
        self.assertRegex(output, r"loop_interval\b", "no suggestion of the right key")

    def test_bad_duration_in_config_is_refused_naming_the_field(self):
        home = self.home()
        text = self.break_config(home, FAST_CONFIG.replace(
            'heartbeat_interval = "500ms"', 'heartbeat_interval = "5 parsecs"'))
        line = text.splitlines().index('heartbeat_interval = "5 parsecs"') + 1
        self.assert_rejected(home, ["dags", "list"], "baton.toml", {line},
                             columns_of(text, line, "heartbeat_interval", '"5 parsecs"'),
                             mentions=["heartbeat_interval"])

    def test_config_given_with_the_flag_or_the_environment_is_the_one_read(self):
        home = self.home()
        text = FAST_CONFIG.replace('[logging]\nlevel = "debug"', '[logging]\nlevel = "chatty"')
        line = text.splitlines().index('level = "chatty"') + 1
        bad = home.write_file("elsewhere.toml", text)
        self.assert_rejected(home, ["--config", bad, "runs", "list"], "elsewhere.toml", {line},
                             mentions=["level", "chatty"])
        self.assert_rejected(home, ["runs", "list"], "elsewhere.toml", {line},
                             mentions=["level", "chatty"], env={"BATON_CONFIG": bad})
        # The good $BATON_HOME/baton.toml still works: the failures came from `bad`.
        home.run_ok("runs", "list")


class BadDagFileTest(BadInputTestCase):
    def validate(self, name, text, lines, columns=None, mentions=()):
        home = self.home()
        path = home.write_file(name, text)
        return self.assert_rejected(home, ["dags", "validate", path], name, lines, columns,
                                    mentions)

    @staticmethod
    def line_of(text, fragment):
        return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)

    def test_toml_syntax_error_gives_its_position(self):
        text = dedent("""
            dag_id = "syntax"
            catchup =
            """) + GOOD_TASK
        self.validate("syntax.toml", text, {2})

    def test_unknown_key_is_named_with_a_suggestion(self):
        text = dedent("""
            dag_id = "typo"

            [[task]]
            id = "fine"
            command = "true"
            retires = 2
            """)
        line = self.line_of(text, "retires")
        self.validate("typo.toml", text, {line}, columns_of(text, line, "retires", "2"),
                      mentions=["retires", "did you mean", "retries"])

    def test_cycle_is_rejected_and_named(self):
        text = dedent("""
            dag_id = "cyclic"

            [[task]]
            id = "outside_x"
            command = "true"

            [[task]]
            id = "extract_x"
            upstream = ["outside_x", "load_x"]
            command = "true"

            [[task]]
            id = "transform_x"
            upstream = ["extract_x"]
            command = "true"

            [[task]]
            id = "load_x"
            upstream = ["transform_x"]
            command = "true"
            """)
        # Any upstream entry of the cycle may be the one blamed.
        lines = {self.line_of(text, '"outside_x", "load_x"'), self.line_of(text, '["extract_x"]'),
                 self.line_of(text, '["transform_x"]')}
        output = self.validate("cyclic.toml", text, lines, mentions=["cycle"])
        cycle = re.search(r"(\w+) -> (\w+) -> (\w+) -> (\w+)", output)
        self.assertIsNotNone(cycle, output)
        # In the direction work flows, from whichever task of the loop.
        loop = ["extract_x", "transform_x", "load_x"]
        self.assertIn(cycle.group(1), loop, output)
        start = loop.index(cycle.group(1))
        self.assertEqual(list(cycle.groups()), (loop[start:] + loop[:start])
                         + [cycle.group(1)], output)
        self.assertNotIn("outside_x", output.split("cycle", 1)[1])

    def test_unknown_upstream_is_named(self):
        text = dedent("""
            dag_id = "dangling"

            [[task]]
            id = "extract"
            command = "true"

            [[task]]
            id = "load"
            upstream = ["extrakt"]
            command = "true"
            """)
        line = self.line_of(text, "extrakt")
        self.validate("dangling.toml", text, {line},
                      columns_of(text, line, "upstream", '["extrakt"]', '"extrakt"'),
                      mentions=["upstream", "extrakt"])

    def test_bad_cron_is_named(self):
        text = dedent("""
            dag_id = "bad_cron"
            schedule = "61 * * * *"
            start_date = 2024-01-01
            """) + GOOD_TASK
        self.validate("bad_cron.toml", text, {2},
                      columns_of(text, 2, "schedule", '"61 * * * *"'), mentions=["schedule"])

    def test_bad_duration_is_named(self):
        text = dedent("""
            dag_id = "bad_duration"

            [[task]]
            id = "fine"
            command = "true"
            retry_delay = "ten seconds"
            """)
        line = self.line_of(text, "retry_delay")
        self.validate("bad_duration.toml", text, {line},
                      columns_of(text, line, "retry_delay", '"ten seconds"'),
                      mentions=["retry_delay"])

    def test_unknown_pool_is_named(self):
        text = dedent("""
            dag_id = "no_such_pool"

            [[task]]
            id = "fine"
            command = "true"
            pool = "gpu"
            """)
        line = self.line_of(text, "gpu")
        self.validate("no_such_pool.toml", text, {line}, columns_of(text, line, "pool", '"gpu"'),
                      mentions=["pool", "gpu"])

    def test_unknown_trigger_rule_is_named(self):
        text = dedent("""
            dag_id = "bad_rule"

            [[task]]
            id = "fine"
            command = "true"
            trigger_rule = "all_sucess"
            """)
        line = self.line_of(text, "all_sucess")
        self.validate("bad_rule.toml", text, {line},
                      columns_of(text, line, "trigger_rule", '"all_sucess"'),
                      mentions=["trigger_rule", "all_sucess"])

    def test_validate_accepts_good_files_and_checks_the_whole_folder(self):
        home = self.home()
        good = home.write_dag("good", 'dag_id = "good"\n' + GOOD_TASK)
        home.run_ok("dags", "validate", good)
        home.run_ok("dags", "validate")
        home.write_dag("bad", 'dag_id = "bad"\nschedule = "@sometimes"\n' + GOOD_TASK)
        self.assert_rejected(home, ["dags", "validate"], "bad.toml", {2},
                             mentions=["schedule"])
        self.assert_rejected(home, ["dags", "validate", home.dags_folder], "bad.toml", {2},
                             mentions=["schedule"])


class BadCommandArgumentsTest(BadInputTestCase):
    def setUp(self):
        self.baton_home = self.home()
        self.baton_home.write_dag("target", 'dag_id = "target"\n' + GOOD_TASK)
        # Let a scheduler record the DAG in the store, then stop it so that the
        # store only changes when a command changes it.
        self.baton_home.start_scheduler()
        self.baton_home.wait_for_dags("target")
        self.assertEqual(self.baton_home.stop_scheduler(), 0)

    def assert_status(self, args, status, mentions=()):
        home = self.baton_home
        before = home.store_dump()
        result = home.run(*args)
        self.assertEqual(result.returncode, status, describe(result, f"expected {status}"))
        for text in mentions:
            self.assertIn(text, result.stdout + result.stderr, describe(result, f"no {text!r}"))
        self.assertEqual(home.store_dump(), before, "the store changed")
        self.assertEqual(home.runs(), [])

    def test_trigger_conf_that_is_not_a_json_object_is_bad_input(self):
        for conf in ("not json", "[1, 2]", '"a string"', "{\"unclosed\": 1"):
            with self.subTest(conf=conf):
                self.assert_status(["dags", "trigger", "target", "--conf", conf], 2, ["conf"])

    def test_trigger_of_an_unknown_dag_is_a_failed_operation(self):
        self.assert_status(["dags", "trigger", "no_such_dag"], 1, ["no_such_dag"])

    def test_unknown_run_state_filter_is_bad_input(self):
        self.assert_status(["runs", "list", "--state", "bogus"], 2, ["bogus"])

    def test_backfill_with_a_bad_date_is_bad_input(self):
        for start in ("2024-13-45", "yesterday"):
            with self.subTest(start=start):
                self.assert_status(["dags", "backfill", "target", "--start", start,
                                    "--end", "2024-03-03"], 2, [start])

    def test_unknown_command_or_option_is_bad_usage(self):
        self.assert_status(["dags", "frobnicate"], 2)
        self.assert_status(["runs", "list", "--no-such-option"], 2)


if __name__ == "__main__":
    unittest.main()
