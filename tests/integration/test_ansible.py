"""The Ansible playbook in ansible/, run for real against lab hosts.

ansible-lint must pass. Then site.yml sets up two masters and a worker
(lab_hosts.Lab: each host a network, mount, UTS and PID namespace of its own,
reached over SSH like any server) from the .deb, with a MariaDB store on the
lab's bridge and the store's password in an ansible-vault file: the play must
succeed, write each host's baton.toml, give the masters' baton users keys that
trust each other and each other's host keys, and pass `baton failover
test_connection` on every master. Run again, it must change nothing. Run with a
setting `baton config check` refuses, it must fail and leave the file as it was.

Environment: BATON_DEB (the package; else the newest baton_*_amd64.deb in the
build directory of BATON_BIN), BATON_BIN and BATON_SOURCE_DIR as for every
integration test. Skipped without root, network namespaces, ansible or a .deb.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import tomllib
import unittest
import uuid

from harness import BATON_BIN, SOURCE_DIR, BatonTestCase, processes_with_token, tail
from lab_hosts import Lab, LabMariaDb, require_lab

ANSIBLE_DIR = os.path.join(SOURCE_DIR, "ansible")

LINT_TIMEOUT = 180
PLAYBOOK_TIMEOUT = 240

MASTERS = ("master1", "master2")
WORKERS = ("worker1",)

TEST_CONNECTION_TASK = "Check the connections to the store and every master"
NO_SYSTEMD_TASKS = {"master": "Say why the failover controller was not enabled",
                    "worker": "Say why the agent was not enabled"}


def _require_tool(name, package):
    path = shutil.which(name)
    if path is None:
        raise unittest.SkipTest(f"{name} is not installed (Debian package {package})")
    return path


def find_deb(test):
    """The package to install: $BATON_DEB, else the newest baton_*_amd64.deb beside
    the build's cli/ directory; skips the test when there is none."""
    path = os.environ.get("BATON_DEB")
    if path:
        if not os.path.isfile(path):
            test.fail(f"BATON_DEB={path} is not a file")
        return os.path.abspath(path)
    build_dir = os.path.dirname(os.path.dirname(os.path.abspath(BATON_BIN)))
    found = sorted(glob.glob(os.path.join(build_dir, "baton_*_amd64.deb")), key=os.path.getmtime)
    if not found:
        raise unittest.SkipTest(f"no baton_*_amd64.deb in {build_dir}: build the `package` "
                                "target, or set BATON_DEB")
    return found[-1]


def ansible_env(work, lab):
    """The environment of ansible-playbook: our ansible.cfg, the lab's admin key and
    known_hosts (strict), SSH connections shared per host within the run, and
    Ansible's own files in `work`."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ANSIBLE_DIR, "ansible.cfg"),
        "ANSIBLE_HOME": os.path.join(work, "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": os.path.join(work, "ansible-tmp"),
        "ANSIBLE_PRIVATE_KEY_FILE": lab.admin_key,
        "ANSIBLE_HOST_KEY_CHECKING": "true",
        "ANSIBLE_SSH_ARGS": " ".join([
            "-o ControlMaster=auto", "-o ControlPersist=60s",
            f"-o ControlPath={work}/cp-%C",
            *[" ".join(pair) for pair in zip(lab.ssh_options()[0::2], lab.ssh_options()[1::2])],
        ]),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
    })
    return env


def failures_summary(report):
    """The failed or unreachable task results of a json-callback report, as text."""
    lines = []
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            for host, result in task.get("hosts", {}).items():
                if result.get("failed") or result.get("unreachable"):
                    details = {k: result.get(k) for k in ("msg", "rc", "stdout", "stderr")
                               if result.get(k) not in (None, "")}
                    lines.append(f"{task['task']['name']} on {host}: {json.dumps(details)[:2000]}")
    return "\n".join(lines) or "(no failed task)"


def task_results(report, task_name):
    """{host: result} of every run of the task named `task_name` (the report names
    a role's task "ROLE : NAME")."""
    results = {}
    for play in report.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"].split(" : ")[-1] == task_name:
                results.update(task.get("hosts", {}))
    return results


class AnsibleTest(BatonTestCase):

    def test_ansible_lint_passes(self):
        lint = _require_tool("ansible-lint", "ansible-lint")
        env = dict(os.environ, NO_COLOR="1", ANSIBLE_HOME=tempfile.mkdtemp(prefix="baton-lint-"))
        self.addCleanup(shutil.rmtree, env["ANSIBLE_HOME"], ignore_errors=True)
        result = subprocess.run([lint, "--offline", "--nocolor"], cwd=ANSIBLE_DIR, env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=LINT_TIMEOUT)
        self.assertEqual(result.returncode, 0,
                         f"ansible-lint failed:\n{result.stdout}\n{result.stderr}")
        self.assertIn("Passed with production profile", result.stdout + result.stderr)

    def test_playbook_sets_up_masters_and_workers_and_changes_nothing_when_run_again(self):
        playbook_binary = _require_tool("ansible-playbook", "ansible")
        vault_binary = _require_tool("ansible-vault", "ansible")
        require_lab()
        # The lab hosts share this machine's software, and Ansible's apt module
        # needs python3-apt on the host it installs the .deb on.
        if subprocess.run(["/usr/bin/python3", "-c", "import apt"],
                          capture_output=True).returncode != 0:
            raise unittest.SkipTest("python3-apt is not installed (Debian package python3-apt), "
                                    "which the apt module needs on the hosts")
        deb = find_deb(self)

        lab = Lab.for_test(self)
        hosts = {name: lab.add_host(name) for name in (*MASTERS, *WORKERS)}
        store = LabMariaDb.for_lab(self, lab, database="baton_cluster")

        work = tempfile.mkdtemp(prefix=f"baton-ansible-{uuid.uuid4().hex[:8]}-")
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)
        self.addCleanup(self._kill_ssh_masters, work)
        inventory = self._write_inventory(work, lab, hosts, store, deb)
        vault_password_file = self._write_vault(work, vault_binary, store.password)

        def play(label, *extra, succeed=True):
            argv = [playbook_binary, "-i", inventory, "--vault-password-file",
                    vault_password_file, *extra, os.path.join(ANSIBLE_DIR, "site.yml")]
            result = subprocess.run(argv, cwd=ANSIBLE_DIR, env=ansible_env(work, lab),
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=PLAYBOOK_TIMEOUT)
            try:
                report = json.loads(result.stdout)
            except json.JSONDecodeError:
                self.fail(f"{label}: ansible-playbook exited {result.returncode} without a JSON "
                          f"report:\n{tail(result.stdout, 80)}\n{tail(result.stderr, 80)}")
            self.add_diagnostic(f"{label}: failed tasks", failures_summary(report))
            self.add_diagnostic(f"{label}: ansible-playbook stderr", tail(result.stderr, 80))
            self.assertNotIn(store.password, result.stdout + result.stderr,
                             f"{label}: the store's password was printed")
            if not succeed:
                self.assertNotEqual(result.returncode, 0, f"{label} succeeded")
                return report
            self.assertEqual(result.returncode, 0,
                             f"{label} failed:\n{failures_summary(report)}\n"
                             f"{tail(result.stderr, 40)}")
            stats = report["stats"]
            self.assertEqual(sorted(stats), sorted(hosts), f"{label}: hosts in the recap")
            for name, counts in stats.items():
                self.assertEqual((counts["failures"], counts["unreachable"]), (0, 0),
                                 f"{label}: {name}: {counts}")
            return report

        first = play("first run")
        self._check_hosts(lab, hosts, store)
        self._check_test_connection_ran(first, hosts, store)
        for name in hosts:
            role = "master" if name in MASTERS else "worker"
            message = task_results(first, NO_SYSTEMD_TASKS[role]).get(name, {}).get("msg", "")
            self.assertIn("does not run systemd", message, f"{name}: no word on systemd")

        second = play("second run")
        self.assertEqual({name: counts["changed"] for name, counts in second["stats"].items()},
                         {name: 0 for name in hosts},
                         "the second run changed something: " + "; ".join(
                             f"{task['task']['name']} on {host}"
                             for play_report in second["plays"]
                             for task in play_report["tasks"]
                             for host, result in task["hosts"].items() if result.get("changed")))
        self._check_test_connection_ran(second, hosts, store)

        # A setting `baton config check` refuses never replaces the file in place.
        worker = hosts[WORKERS[0]]
        before = worker.read_file("/etc/baton/baton.toml")
        refused = play("a run with a bad setting", "--limit", WORKERS[0], "--extra-vars",
                       json.dumps({"baton_config_overrides": {"agent": {"concurrency": "many"}}}),
                       succeed=False)
        result = task_results(refused, "Write baton.toml").get(WORKERS[0], {})
        self.assertTrue(result.get("failed"), result)
        self.assertIn("field 'agent.concurrency'", result.get("stderr", ""), result)
        self.assertEqual(worker.read_file("/etc/baton/baton.toml"), before)

    # ----- setup -----------------------------------------------------------------

    def _write_inventory(self, work, lab, hosts, store, deb):
        lines = ["[masters]"]
        lines += [f"{name} ansible_host={hosts[name].address}" for name in MASTERS]
        lines += ["", "[workers]"]
        lines += [f"{name} ansible_host={hosts[name].address}" for name in WORKERS]
        lines += ["", "[all:vars]",
                  "ansible_user=root",
                  "# The lab hosts have no sudo; root becomes the baton user with su.",
                  "ansible_become_method=su",
                  f"baton_deb={deb}",
                  f"baton_store_url={store.url()}",
                  "baton_executor_kind=redis",
                  f"baton_redis_url=redis://{lab.gateway}:6379/0",
                  ""]
        path = os.path.join(work, "inventory.ini")
        with open(path, "w") as f:
            f.write("\n".join(lines))
        # group_vars beside the inventory: the worker's agent settings (a list,
        # which a [group:vars] line would give as a string).
        os.makedirs(os.path.join(work, "group_vars", "all"))
        with open(os.path.join(work, "group_vars", "workers.yml"), "w") as f:
            f.write("baton_agent_queues: [default, gpu]\nbaton_agent_concurrency: 3\n")
        return path

    def _write_vault(self, work, vault_binary, password):
        """The store's password in group_vars/all/vault.yml, encrypted with
        ansible-vault as an operator keeps it; returns the vault password file."""
        vault_password_file = os.path.join(work, "vault-password")
        with open(vault_password_file, "w") as f:
            f.write(uuid.uuid4().hex + "\n")
        os.chmod(vault_password_file, 0o600)
        vault = os.path.join(work, "group_vars", "all", "vault.yml")
        with open(vault, "w") as f:
            f.write(f"baton_store_password: {json.dumps(password)}\n")
        subprocess.run([vault_binary, "encrypt", "--vault-password-file", vault_password_file,
                        vault], stdin=subprocess.DEVNULL, capture_output=True, check=True,
                       timeout=120, env=dict(os.environ, ANSIBLE_HOME=os.path.join(work, "ah")))
        with open(vault) as f:
            self.assertTrue(f.read().startswith("$ANSIBLE_VAULT;"))
        return vault_password_file

    @staticmethod
    def _kill_ssh_masters(work):
        # The SSH connections Ansible keeps open (ControlPersist) carry `work`
        # in their command line (ControlPath).
        for pid, _command in processes_with_token(work):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    # ----- checks ----------------------------------------------------------------

    def _check_hosts(self, lab, hosts, store):
        public_keys = {name: " ".join(hosts[name].read_file(
            "/var/lib/baton/.ssh/id_ed25519.pub").split()[:2]) for name in MASTERS}
        self.assertEqual(len(set(public_keys.values())), len(MASTERS),
                         f"each master has a key pair of its own: {public_keys}")
        for name, host in hosts.items():
            with self.subTest(host=name):
                self.assertEqual(host.run("dpkg-query -W -f '${Status}' baton").stdout,
                                 "install ok installed")
                config = tomllib.loads(host.read_file("/etc/baton/baton.toml"))
                self.assertEqual(config["store"]["url"], store.url())
                self.assertEqual(config["store"]["password_file"], "/etc/baton/store-password")
                self.assertEqual(host.read_file("/etc/baton/store-password").strip(),
                                 store.password)
                self.assertEqual(host.run("stat -c '%U:%G %a' /etc/baton/store-password "
                                          "/etc/baton/baton.toml").stdout.split("\n")[:2],
                                 ["root:baton 640", "root:baton 640"])
                failover = config["failover"]
                self.assertEqual(failover["nodes"], list(MASTERS))
                self.assertEqual({node: table["ssh_host"] for node, table in
                                  failover["node"].items()},
                                 {node: hosts[node].address for node in MASTERS})
                shell = host.run("getent passwd baton | cut -d: -f7").stdout.strip()
                if name in MASTERS:
                    self.assertEqual(failover["node_name"], name)
                    self.assertEqual(failover["ssh_user"], "baton")
                    self.assertEqual(failover["ssh_identity_file"],
                                     "/var/lib/baton/.ssh/id_ed25519")
                    self.assertNotIn("agent", config)
                    self.assertEqual(shell, "/bin/bash")
                    self._check_ssh_trust(host, hosts, public_keys)
                else:
                    self.assertNotIn("node_name", failover)
                    self.assertEqual(config["executor"]["kind"], "redis")
                    self.assertEqual(config["agent"]["queues"], ["default", "gpu"])
                    self.assertEqual(config["agent"]["concurrency"], 3)
                    self.assertEqual(config["agent"]["log_bind"], host.address)
                    self.assertEqual(shell, "/usr/sbin/nologin")

    def _check_ssh_trust(self, host, hosts, public_keys):
        known = {}
        for line in host.read_file("/var/lib/baton/.ssh/known_hosts").splitlines():
            fields = line.split()
            if fields and not line.startswith("#"):
                known[fields[0]] = " ".join(fields[1:3])
        self.assertEqual(known, {hosts[name].address: hosts[name].host_public_key
                                 for name in MASTERS}, "known_hosts: every master's host key")
        authorized = {" ".join(line.split()[:2]) for line in
                      host.read_file("/var/lib/baton/.ssh/authorized_keys").splitlines()
                      if line.strip() and not line.startswith("#")}
        self.assertEqual(authorized, set(public_keys.values()),
                         "authorized_keys: every master's baton key")
        self.assertEqual(host.run("stat -c '%U %a' /var/lib/baton/.ssh "
                                  "/var/lib/baton/.ssh/authorized_keys "
                                  "/var/lib/baton/.ssh/known_hosts").stdout.split("\n")[:3],
                         ["baton 700", "baton 600", "baton 644"])

    def _check_test_connection_ran(self, report, hosts, store):
        results = task_results(report, TEST_CONNECTION_TASK)
        self.assertEqual(sorted(results), sorted(MASTERS), "test_connection ran on every master")
        for name, result in results.items():
            with self.subTest(master=name):
                self.assertFalse(result.get("skipped"), result)
                self.assertEqual(result.get("rc"), 0, result)
                self.assertFalse(result.get("changed"), "test_connection reports no change")
                lines = result["stdout_lines"]
                self.assertEqual(len(lines), 1 + len(MASTERS), lines)
                self.assertTrue(lines[0].startswith(f"store {store.url()}: OK"), lines)
                for line, node in zip(lines[1:], MASTERS):
                    self.assertTrue(line.startswith(f"node {node} "), lines)
                    self.assertIn(": OK (", line)
                    if node != name:
                        self.assertIn(hosts[node].address, line, "reached over SSH")


if __name__ == "__main__":
    unittest.main()
