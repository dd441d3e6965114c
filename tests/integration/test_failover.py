"""The failover controller with real processes: `baton failover start` on every
node, schedulers started and stopped by the controllers (locally or over SSH to
a real sshd per node), a MariaDB store (or a shared SQLite file), and faults
made with signals: a master's host dies (SIGKILL to its controller, its
scheduler and its tasks), the scheduler alone crashes or freezes, a node's start
command fails, a master is cut off (its controller and sshd frozen) while its
scheduler still reaches the store, SSH host keys are unknown or changed, and
the operator switches over and sets maintenance.

Every scenario with a DAG run ends with the run finished, every task instance in
a terminal state, no (task, try) started twice per the ledger, and no task
process left. Timings are the fast profile (failover_cluster.FAST_PROFILE):
lease 4 s renewed every second, scheduler polled every 2 s.
"""

import os
import signal
import time
import unittest
import uuid

from failover_cluster import FailoverCluster, orphan_exit_code, process_alive
from harness import BatonTestCase, read_log
from servers import MariaDbServer

_mariadb = None


def shared_mariadb():
    """One MariaDB server for the whole module; each test has a database of its own."""
    global _mariadb
    if _mariadb is None:
        _mariadb = MariaDbServer()
    return _mariadb


def tearDownModule():
    if _mariadb is not None:
        _mariadb.close()


class FailoverTestCase(BatonTestCase):
    def cluster(self, **kwargs):
        if kwargs.get("store", "mariadb") == "mariadb":
            kwargs.setdefault("mariadb", shared_mariadb())
            kwargs.setdefault("database", "failover_" + uuid.uuid4().hex[:10])
        return FailoverCluster(self, **kwargs)

    def start_run(self, cluster, dag_id, started=4):
        """Triggers a run of `dag_id` and returns its id once `started` tries began."""
        cluster.wait_for_dags(dag_id)
        run_id = cluster.trigger(dag_id)
        cluster.wait_until(
            lambda: len([e for e in cluster.ledger() if e[1] == run_id]) >= started, 30,
            f"{started} tasks of run {run_id} to start")
        return run_id

    def assert_event(self, events, kind, node=None, epoch=None):
        for event in events:
            if event["kind"] == kind and node in (None, event["node"]) and epoch in (None, event["epoch"]):
                return event
        self.fail(f"no '{kind}' event (node {node}, epoch {epoch}) in the failover history: "
                  f"{[(e['node'], e['epoch'], e['kind'], e['message']) for e in events]}")

    def assert_no_event(self, events, kinds, node=None):
        found = [e for e in events if e["kind"] in kinds and node in (None, e["node"])]
        self.assertEqual(found, [], f"unexpected {kinds} events")


class TakeoverTest(FailoverTestCase):
    def run_takeover(self, cluster, first_node):
        cluster.write_chains_dag("takeover", chains=4, length=5, seconds=1)
        cluster.start_controllers()
        first = cluster.wait_for_healthy_scheduler(node=first_node)
        self.assertEqual(first["holder"], first_node)
        run_id = self.start_run(cluster, "takeover")

        mark = cluster.last_event_id()
        old_scheduler = cluster.kill_host(first_node)
        killed_at = time.time()  # no try of the old epoch can start after this
        self.assertEqual(old_scheduler, first["pid"])

        second = cluster.wait_for_healthy_scheduler(min_epoch=first["epoch"] + 1, timeout=45)
        self.assertEqual(second["epoch"], first["epoch"] + 1, second)
        self.assertNotEqual(second["holder"], first_node)
        # A new epoch starts a scheduler on the new holder's own node.
        self.assertEqual(second["node"], second["holder"])
        started = cluster.wait_for_event("scheduler_started", second["holder"], second["epoch"],
                                         after_id=mark)
        # The new scheduler starts first, then the old one is stopped: locally
        # there is none left; over SSH the dead host is silent, so that stop
        # fails after ssh_connect_timeout, without delaying the start.
        self.assertIn(f"start on {second['holder']}: exit status 0", started["message"])
        if cluster.transport == "ssh":
            self.assertIn(f"stop on {first_node}: ssh ", started["message"])
        events = cluster.events(mark)
        self.assert_event(events, "acquired", second["holder"], second["epoch"])
        cluster.wait_for_alert(f"acquired {second['holder']} {second['epoch']} ")
        # One standby took over; any other stayed standby.
        self.assertEqual([e["node"] for e in events if e["kind"] == "acquired"],
                         [second["holder"]])

        cluster.finish("takeover", run_id)
        for entry in cluster.ledger_entries():
            expected = second["epoch"] if entry["start"] >= killed_at else first["epoch"]
            self.assertEqual(entry["epoch"], expected, entry)
        return second

    def test_standby_takes_over_when_the_active_masters_host_dies(self):
        cluster = self.cluster(nodes=["m1", "m2", "m3"])
        self.run_takeover(cluster, "m1")

    def test_standby_takes_over_on_a_shared_sqlite_store_with_local_nodes(self):
        cluster = self.cluster(nodes=["m1", "m2"], store="sqlite", transport="local")
        second = self.run_takeover(cluster, "m1")
        self.assertEqual(second["holder"], "m2")


class SchedulerSupervisionTest(FailoverTestCase):
    def test_killed_scheduler_is_restarted_on_its_node_in_a_new_epoch(self):
        cluster = self.cluster(nodes=["m1", "m2"])
        cluster.write_chains_dag("restart", chains=3, length=5, seconds=1)
        cluster.start_controllers()
        first = cluster.wait_for_healthy_scheduler(node="m1")
        run_id = self.start_run(cluster, "restart")

        mark = cluster.last_event_id()
        killed = cluster.kill_scheduler_of("m1", signal.SIGKILL)  # its tasks live on
        # Every start serves an epoch of its own, so a scheduler that only hung
        # could not come back and write beside its successor.
        second = cluster.wait_for_healthy_scheduler(node="m1", epoch=first["epoch"] + 1,
                                                    not_pid=killed, timeout=30)
        self.assertEqual(second["holder"], "m1")
        cluster.wait_for_event("scheduler_restarted", "m1", first["epoch"] + 1, after_id=mark)
        self.assert_no_event(cluster.events(mark), ("acquired", "moved", "lost_lease"))
        cluster.finish("restart", run_id)

    def test_start_command_failing_on_a_node_moves_the_scheduler_to_the_next(self):
        cluster = self.cluster(nodes=["m1", "m2"], node_overrides={"m1": {"start_command": "false"}})
        cluster.write_chains_dag("move", chains=3, length=3, seconds=1)
        lease = cluster.start_controllers()
        # m1 holds the lease, cannot start a scheduler at home, and moves it to
        # m2 (over SSH) after restart_retries failed restarts.
        # Each start, failed or not, serves a new epoch: the first start, two
        # restarts in place, then the move.
        moved_epoch = lease["epoch"] + 3
        moved = cluster.wait_for_healthy_scheduler(node="m2", epoch=moved_epoch, timeout=60)
        self.assertEqual(moved["holder"], "m1")
        moved = cluster.wait_for_event("moved", "m1", moved_epoch)
        events = cluster.events()
        self.assertIn("start on m2: exit status 0", moved["message"])
        self.assert_no_event(events, ("lost_lease",))
        # The first start, then restart_retries (2) restarts in place, then the move.
        before_move = [e["kind"] for e in events if e["id"] < moved["id"]
                       and e["kind"] in ("scheduler_started", "scheduler_restarted")]
        self.assertEqual(before_move, ["scheduler_started", "scheduler_restarted",
                                       "scheduler_restarted"], events)
        cluster.wait_for_alert(f"moved m1 {moved_epoch} ")
        self.assertIsNone(cluster.scheduler_pid("m1"))
        run_id = self.start_run(cluster, "move", started=2)
        cluster.finish("move", run_id)
        self.assertTrue(all(e["epoch"] == moved_epoch for e in cluster.ledger_entries()))

    def test_frozen_scheduler_is_replaced_once_its_heartbeat_is_stale(self):
        cluster = self.cluster(nodes=["m1", "m2"])
        cluster.write_chains_dag("frozen", chains=3, length=5, seconds=1)
        cluster.start_controllers()
        first = cluster.wait_for_healthy_scheduler(node="m1")
        run_id = self.start_run(cluster, "frozen")

        mark = cluster.last_event_id()
        frozen = cluster.kill_scheduler_of("m1", signal.SIGSTOP)
        # Its process still runs, so only the stale heartbeat tells: 5 s, and
        # a stop that must end in SIGKILL (a frozen process ignores SIGTERM).
        second = cluster.wait_for_healthy_scheduler(epoch=first["epoch"] + 1, not_pid=frozen,
                                                    timeout=60)
        self.assertEqual(second["holder"], "m1")
        cluster.wait_for_process_exit(frozen, 30, f"the frozen scheduler (pid {frozen}) to be killed")
        cluster.wait_for_event("scheduler_restarted", "m1", first["epoch"] + 1, after_id=mark)
        self.assert_no_event(cluster.events(mark), ("acquired", "lost_lease"))
        cluster.finish("frozen", run_id)


class FencingTest(FailoverTestCase):
    def test_stale_epoch_schedulers_are_refused_and_fenced(self):
        cluster = self.cluster(nodes=["m1", "m2"])
        cluster.write_chains_dag("fence", chains=4, length=8, seconds=1)
        cluster.start_controllers()
        first = cluster.wait_for_healthy_scheduler(node="m1")
        old_epoch = first["epoch"]
        run_id = self.start_run(cluster, "fence")

        # m1 is cut off: its controller is frozen and nobody reaches it over SSH,
        # but its scheduler still reaches the store and keeps scheduling.
        cluster.ssh["m1"].pause()
        cluster.pause_controller("m1")
        second = cluster.wait_for_healthy_scheduler(node="m2", epoch=old_epoch + 1, timeout=45)
        self.assertEqual(second["holder"], "m2")

        # The old scheduler's next scheduling write is fenced: it stops by itself
        # (its controller is frozen and m2 cannot reach m1).
        cluster.wait_for_process_exit(first["pid"], 30,
                                      f"the scheduler of epoch {old_epoch} to stop, fenced")
        old_log = read_log(cluster.scheduler_log_of("m1"))
        self.assertIn("fenced", old_log)
        exit_code = orphan_exit_code(first["pid"])
        if exit_code is not None:  # reaped here, so its status is known
            self.assertNotEqual(exit_code, 0, "a fenced scheduler must exit with a failure")

        # A scheduler started for the old epoch is refused at once, naming both epochs.
        refused = cluster.run_on("m1", "scheduler", "--epoch", old_epoch, "--node", "m1",
                                 "--pidfile", os.path.join(cluster.root, "stale.pid"))
        self.assertNotEqual(refused.returncode, 0, refused)
        said = refused.stdout + refused.stderr
        self.assertIn(f"epoch {old_epoch}", said)
        self.assertIn(f"epoch {old_epoch + 1}", said)
        self.assertFalse(os.path.exists(os.path.join(cluster.root, "stale.pid")))

        # m1 comes back: it finds its lease gone and stands by; m2's scheduler
        # is left alone.
        mark = cluster.last_event_id()
        cluster.resume_controller("m1")
        cluster.ssh["m1"].resume()
        cluster.wait_until(lambda: "lost_lease" in cluster.event_kinds(mark, node="m1"), 20,
                           "m1 to record that it lost the lease")
        time.sleep(5)  # two polls of m1's, had it kept acting
        self.assertEqual(cluster.status("m1")["role"], "standby")
        lease = cluster.lease()
        self.assertEqual((lease["holder"], lease["epoch"], lease["scheduler_node"]),
                         ("m2", old_epoch + 1, "m2"))
        self.assertEqual(cluster.scheduler_pid("m2"), second["pid"])
        self.assertIsNone(cluster.scheduler_pid("m1"))
        self.assert_no_event(cluster.events(mark),
                             ("acquired", "scheduler_started", "scheduler_restarted", "moved"),
                             node="m1")

        cluster.finish("fence", run_id)
        # Every try the old scheduler started began before the new epoch's scheduler.
        for entry in cluster.ledger_entries():
            self.assertIn(entry["epoch"], (old_epoch, old_epoch + 1), entry)


class ConnectionTest(FailoverTestCase):
    def node_line(self, result, node):
        lines = [l for l in result.stdout.splitlines() if l.startswith(f"node {node} ")]
        self.assertEqual(len(lines), 1, result.stdout)
        return lines[0]

    def test_test_connection_refuses_unknown_and_changed_host_keys_and_names_down_nodes(self):
        cluster = self.cluster(nodes=["m1", "m2", "m3"], untrusted_host_keys=["m3"])

        unknown = cluster.run_on("m1", "failover", "test_connection")
        self.assertNotEqual(unknown.returncode, 0, unknown)
        line = self.node_line(unknown, "m3")
        self.assertIn("FAILED", line)
        self.assertIn("host key", line)
        self.assertIn(f"is not in {cluster.known_hosts_path}", line)
        self.assertIn("OK", self.node_line(unknown, "m2"))
        self.assertIn("OK", self.node_line(unknown, "m1"))

        # m3's address with another server's key: a changed key, refused too.
        with open(cluster.known_hosts_path, "a") as f:
            f.write(cluster.ssh["m3"].known_hosts_line(cluster.ssh["m2"].host_public_key))
        changed = cluster.run_on("m1", "failover", "test_connection")
        self.assertNotEqual(changed.returncode, 0, changed)
        line = self.node_line(changed, "m3")
        self.assertIn("FAILED", line)
        self.assertIn("host key", line)
        self.assertIn("differs from the one in", line)

        cluster.untrusted_host_keys.clear()
        cluster.write_known_hosts()
        cluster.ssh["m2"].stop()
        down = cluster.run_on("m1", "failover", "test_connection")
        self.assertNotEqual(down.returncode, 0, down)
        self.assertIn("FAILED", self.node_line(down, "m2"))
        self.assertIn("OK", self.node_line(down, "m3"))

        cluster.ssh["m2"].start()
        fine = cluster.run_on("m1", "failover", "test_connection")
        self.assertEqual(fine.returncode, 0, fine)
        for node in cluster.nodes:
            self.assertIn(": OK", self.node_line(fine, node))
        store_lines = [l for l in fine.stdout.splitlines() if l.startswith("store ")]
        self.assertEqual(len(store_lines), 1, fine.stdout)
        self.assertIn(": OK", store_lines[0])


class SwitchoverTest(FailoverTestCase):
    def test_promote_moves_the_scheduler_and_maintenance_holds_the_controller_back(self):
        cluster = self.cluster(nodes=["m1", "m2"])
        tasks = cluster.write_chains_dag("switch", chains=3, length=4, seconds=1)
        cluster.start_controllers()
        first = cluster.wait_for_healthy_scheduler(node="m1")
        run_id = self.start_run(cluster, "switch")

        mark = cluster.last_event_id()
        cluster.run_ok("failover", "promote", "m2")
        second = cluster.wait_for_healthy_scheduler(node="m2", epoch=first["epoch"] + 1,
                                                    timeout=45)
        self.assertEqual(second["holder"], "m2")
        self.assertFalse(process_alive(first["pid"]))
        events = cluster.events(mark)
        self.assert_event(events, "promote")
        self.assert_event(events, "acquired", "m2", second["epoch"])
        self.assert_no_event(events, ("lost_lease", "moved", "scheduler_unhealthy"))
        # A planned switchover: the old scheduler let its tasks finish, nothing
        # was retried.
        cluster.finish("switch", run_id)
        for task in tasks:
            self.assertEqual(cluster.tries_of("switch", run_id, task), [1], task)

        # Maintenance: the active controller keeps the lease and leaves a dead
        # scheduler alone.
        run2 = self.start_run(cluster, "switch", started=2)
        mark = cluster.last_event_id()
        cluster.run_ok("failover", "maintenance", "on")  # through m1's config: recorded by m1
        self.assertTrue(cluster.lease()["maintenance"])
        # The active controller (m2) takes note at its next poll.
        cluster.wait_until(lambda: "maintenance" in cluster.event_kinds(mark, node="m2"), 10,
                           "the active controller to record maintenance")
        mark = cluster.last_event_id()
        killed = cluster.kill_scheduler_of("m2", signal.SIGKILL)
        time.sleep(12)  # well past scheduler_health_threshold and a few polls
        self.assertIsNone(cluster.scheduler_pid("m2"))
        self.assertIsNone(cluster.scheduler_pid("m1"))
        self.assert_no_event(cluster.events(mark),
                             ("scheduler_started", "scheduler_restarted", "moved", "acquired"))
        lease = cluster.lease()
        self.assertEqual((lease["holder"], lease["epoch"]), ("m2", second["epoch"]))

        cluster.run_ok("failover", "maintenance", "off")
        third = cluster.wait_for_healthy_scheduler(node="m2", epoch=second["epoch"] + 1,
                                                   not_pid=killed, timeout=30)
        self.assertEqual(third["holder"], "m2")
        cluster.finish("switch", run2)


if __name__ == "__main__":
    unittest.main()
