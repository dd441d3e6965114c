"""Cluster faults: a scheduler and agents on real MariaDB and Redis servers lose a
piece of the cluster in the middle of a run, and the run still ends well.

Covers an agent whose host dies while it runs a task (on the scheduler's host,
and on a host of its own), Redis restarted with every key lost, MariaDB
restarted (cleanly, after a crash, and after an outage longer than the health
threshold), and agents racing for duplicate copies of the same task messages. Every test ends with each task
instance in a terminal state and the ledger showing that no try of a task
started twice.
"""

import json
import signal
import time
import unittest

from cluster import Cluster
from harness import BatonTestCase, dedent, task_toml


def parallel_chains_dag(cluster, dag_id, chains, length, seconds, retries=0):
    """`chains` independent chains of `length` tasks (cK_1 -> cK_2 -> ...), each
    recording its start in the ledger, then sleeping `seconds`."""
    command = cluster.ledger_command(cluster.sleep_command(seconds))
    text = dedent(f"""
        dag_id = "{dag_id}"

        [defaults]
        retries = {retries}
        retry_delay = "0s"
        """)
    for chain in range(1, chains + 1):
        for step in range(1, length + 1):
            upstream = [f"c{chain}_{step - 1}"] if step > 1 else []
            text += task_toml(f"c{chain}_{step}", command, upstream=upstream)
    cluster.write_dag(dag_id, text)
    return [f"c{chain}_{step}" for chain in range(1, chains + 1) for step in range(1, length + 1)]


class AgentDeathTest(BatonTestCase):
    def run_agent_death(self, separate_hosts):
        cluster = Cluster(self)
        cluster.write_dag("agent_death", 'dag_id = "agent_death"\n'
                          + task_toml("victim", cluster.ledger_command(cluster.sleep_command(3)),
                                      retries=1, retry_delay="0s")
                          + task_toml("after", cluster.ledger_command(), upstream=["victim"]))
        cluster.start(agents=2, separate_hosts=separate_hosts)
        cluster.wait_for_dags("agent_death")
        run_id = cluster.trigger("agent_death")
        cluster.wait_for_ledger("agent_death", run_id, "victim", 1)
        first_agent = cluster.agents_of("agent_death", run_id, "victim")[1]
        self.assertIn(first_agent, ("a1", "a2"), cluster.ledger_entries())
        survivor = "a2" if first_agent == "a1" else "a1"

        # The host dies: the agent and the task it runs, with no chance to record anything.
        killed_tasks = cluster.kill_agent(first_agent, signal.SIGKILL, with_tasks=True)
        self.assertTrue(killed_tasks, f"agent {first_agent} had no task process to kill")

        states = cluster.wait_for_run_terminal("agent_death", run_id, ("success",), timeout=60)
        self.assertEqual(states["victim"]["state"], "success", states)
        self.assertEqual(states["victim"]["try_number"], 2, states)
        self.assertEqual(states["after"]["state"], "success", states)
        self.assertEqual(cluster.tries_of("agent_death", run_id, "victim"), [1, 2])
        self.assertEqual(cluster.agents_of("agent_death", run_id, "victim"),
                         {1: first_agent, 2: survivor})
        cluster.assert_no_try_started_twice()

        # Restarted under its name, the agent takes back what it held in Redis:
        # the message of the try that died with it must not run again.
        cluster.start_agent(first_agent,
                            hostname=f"host-{first_agent}" if separate_hosts else None)
        cluster.wait_until(
            lambda: cluster.redis.command("LLEN", cluster.processing_key(first_agent)) == 0, 15,
            f"agent {first_agent} to empty its processing list")
        cluster.wait_until(lambda: cluster.redis.command("LLEN", cluster.queue_key()) == 0, 15,
                           "the queue to be empty")
        time.sleep(1.5)  # a wrong re-run would start within this
        self.assertEqual(cluster.tries_of("agent_death", run_id, "victim"), [1, 2])
        self.assertEqual(cluster.tries_of("agent_death", run_id, "after"), [1])
        self.assertEqual(cluster.task_states("agent_death", run_id)["victim"]["try_number"], 2)
        cluster.assert_no_try_started_twice()
        cluster.assert_no_leftover_processes()

    def test_task_of_an_agent_on_another_host_that_died_is_retried_on_another_agent(self):
        # The scheduler cannot see that agent's process: only its heartbeat
        # going stale (health_threshold, 3s here) tells it the agent is gone.
        self.run_agent_death(separate_hosts=True)

    def test_task_of_a_killed_agent_on_the_schedulers_host_is_retried_on_another_agent(self):
        # On its own host the scheduler knows at once: the agent's pid is gone.
        self.run_agent_death(separate_hosts=False)


class RedisLossTest(BatonTestCase):
    def test_run_completes_after_redis_restarts_with_every_key_lost(self):
        # Two slots per agent for ten chains: messages wait in the queue, so the
        # restart loses some that no agent has taken yet.
        cluster = Cluster(self, settings={"agent": {"concurrency": 2}})
        tasks = parallel_chains_dag(cluster, "redis_loss", chains=10, length=3, seconds=0.3)
        cluster.start(agents=2)
        cluster.wait_for_dags("redis_loss")
        run_id = cluster.trigger("redis_loss")
        cluster.wait_until(lambda: len(cluster.ledger()) >= 6, 30, "six tasks to start")

        waiting = cluster.redis.command("LLEN", cluster.queue_key())
        cluster.redis.restart(wipe=True)
        started_before = len(cluster.ledger())
        self.assertGreater(waiting, 0, "no message was waiting in Redis when it restarted")
        self.assertLess(started_before, len(tasks), "the run ended before Redis restarted")

        states = cluster.wait_for_run_terminal("redis_loss", run_id, ("success",), timeout=60)
        self.assertEqual(set(states), set(tasks))
        self.assertEqual({t: s["state"] for t, s in states.items() if s["state"] != "success"},
                         {})
        for task in tasks:
            self.assertEqual(cluster.tries_of("redis_loss", run_id, task), [1], task)
        cluster.assert_no_try_started_twice()
        cluster.assert_no_leftover_processes()


class StoreRestartTest(BatonTestCase):
    def run_through_store_outage(self, interrupt):
        cluster = Cluster(self)
        if cluster.mariadb is None:
            self.skipTest("the store is not MariaDB (BATON_IT_STORE)")
        # Tasks of a second, so some end while the store is away and their agents
        # must record the end once it is back.
        tasks = parallel_chains_dag(cluster, "store_restart", chains=6, length=3, seconds=1)
        cluster.start(agents=2)
        cluster.wait_for_dags("store_restart")
        run_id = cluster.trigger("store_restart")
        cluster.wait_until(lambda: len(cluster.ledger()) >= 6, 30, "six tasks to start")

        interrupt(cluster.mariadb)
        self.assertLess(len(cluster.ledger()), len(tasks), "the run ended before the restart")

        states = cluster.wait_for_run_terminal("store_restart", run_id, ("success",), timeout=60)
        self.assertEqual(set(states), set(tasks))
        for task in tasks:
            self.assertEqual(cluster.tries_of("store_restart", run_id, task), [1], task)
        cluster.assert_no_try_started_twice()
        cluster.assert_no_leftover_processes()

    def test_run_completes_after_mariadb_restarts(self):
        self.run_through_store_outage(lambda mariadb: mariadb.restart())

    def test_run_completes_after_mariadb_crashes_and_comes_back(self):
        def crash(mariadb):
            mariadb.kill()
            time.sleep(1)  # an outage clients notice: connections refused, not just reset
            mariadb.start()

        self.run_through_store_outage(crash)

    # No heartbeat could be written during the outage, the scheduler's neither:
    # it must give owners health_threshold to beat again before judging them.
    def test_run_completes_after_a_store_outage_longer_than_the_health_threshold(self):
        def long_outage(mariadb):
            mariadb.stop()
            time.sleep(6)  # twice health_threshold: every heartbeat in the store goes stale
            mariadb.start()

        self.run_through_store_outage(long_outage)


class DuplicateMessagesTest(BatonTestCase):
    COPIES = 4

    def test_agents_racing_for_copies_of_a_message_run_each_try_once(self):
        cluster = Cluster(self)
        command = cluster.ledger_command(cluster.sleep_command(1))
        tasks = [f"t{i}" for i in range(1, 9)]
        cluster.write_dag("duplicates", 'dag_id = "duplicates"\n'
                          + "".join(task_toml(task, command) for task in tasks))
        cluster.start_scheduler()
        cluster.wait_for_dags("duplicates")
        run_id = cluster.trigger("duplicates")

        # No agent yet: every message waits in the queue.
        def all_queued():
            raw = cluster.redis.command("LRANGE", cluster.queue_key(), 0, -1)
            return raw if len(raw) >= len(tasks) else None

        raw_messages = cluster.wait_until(all_queued, 20, "a message per task in the queue")
        originals = {}
        for raw in raw_messages:
            message = json.loads(raw)
            originals.setdefault(message["task_id"], raw)
        self.assertEqual(set(originals), set(tasks))

        # Copies of one message side by side at the tail, where agents take
        # from: two agents starting together take copies of the same message at
        # the same moment.
        redis = cluster.redis.client()
        with redis.pipeline(transaction=True) as pipeline:
            pipeline.delete(cluster.queue_key())
            for task in tasks:
                for _ in range(self.COPIES):
                    pipeline.lpush(cluster.queue_key(), originals[task])
            pipeline.execute()

        cluster.start_agent("a1", wait_ready=False)
        cluster.start_agent("a2", wait_ready=False)
        cluster.wait_for_agent("a1")
        cluster.wait_for_agent("a2")
        states = cluster.wait_for_run_terminal("duplicates", run_id, ("success",), timeout=60)
        for task in tasks:
            self.assertEqual(states[task]["try_number"], 1, states)
            self.assertEqual(cluster.tries_of("duplicates", run_id, task), [1], task)
        cluster.assert_no_try_started_twice()

        # Stale copies of messages whose tries have ended are dropped, not run.
        for task in tasks:
            redis.lpush(cluster.queue_key(), originals[task])

        def drained():
            keys = [cluster.queue_key(), cluster.processing_key("a1"), cluster.processing_key("a2")]
            return all(redis.llen(key) == 0 for key in keys)

        cluster.wait_until(drained, 15, "the stale copies to be taken and dropped")
        time.sleep(1)  # a wrong re-run would start within this
        for task in tasks:
            self.assertEqual(cluster.tries_of("duplicates", run_id, task), [1], task)
        self.assertEqual({t: (s["state"], s["try_number"])
                          for t, s in cluster.task_states("duplicates", run_id).items()},
                         {task: ("success", 1) for task in tasks})
        cluster.assert_no_try_started_twice()
        cluster.assert_no_leftover_processes()


if __name__ == "__main__":
    unittest.main()
