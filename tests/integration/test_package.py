"""The .deb that `cmake --build build --target package` writes (BATON_DEB).

lintian finds no error in it, its man page names every command of the binary it
was built with, and its maintainer scripts do what packaging/debian/ says:
installed with dpkg, the package creates the user, the group and the
directories, keeps an existing user as it is, starts no daemon, and on purge
removes /etc/baton and /var/log/baton but keeps /var/lib/baton and the user.

The installs never touch this machine: each runs in a private mount namespace
in which /etc, /usr and /var are overlayfs mounts whose writes land on a tmpfs
(/dev/shm), /run is an empty tmpfs, and systemctl and the deb-systemd-*
helpers are stand-ins that only record how they were called (a Sandbox of
package_sandbox.py). The installs need root; without it those tests are
skipped.
"""

import glob
import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
import unittest

from harness import BATON_BIN, SOURCE_DIR
from package_sandbox import DEB, DPKG_TIMEOUT, Sandbox

LINTIAN_TIMEOUT = 600

# The directories the postinst creates, owned baton:baton, mode 0750.
STATE_DIRECTORIES = ("/var/lib/baton", "/var/lib/baton/dags", "/var/log/baton")


def deb_members():
    """{path: bytes} of the package's regular files, paths without the leading '.'."""
    tar_bytes = subprocess.run(["dpkg-deb", "--fsys-tarfile", DEB], check=True,
                               capture_output=True, timeout=DPKG_TIMEOUT).stdout
    members = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
        for member in archive.getmembers():
            if member.isfile():
                members[member.name.lstrip(".")] = archive.extractfile(member).read()
    return members


def command_paths(words=()):
    """Every command of the binary, as word tuples, from its --help, depth first."""
    help_text = subprocess.run([BATON_BIN, *words, "--help"], check=True, capture_output=True,
                               text=True, timeout=30).stdout
    paths = []
    inside = False
    for line in help_text.splitlines():
        if line == "Subcommands:":
            inside = True
        elif not line.startswith(" "):
            inside = False
        elif inside and re.match(r"^  \S", line):
            path = (*words, line.split()[0])
            paths.append(path)
            paths.extend(command_paths(path))
    return paths


class PackageTestCase(unittest.TestCase):
    def setUp(self):
        if not DEB or not os.path.isfile(DEB):
            self.fail(f"no package at BATON_DEB={DEB!r}: run `cmake --build build --target package`")
        if os.path.getmtime(DEB) < os.path.getmtime(BATON_BIN):
            self.fail(f"{DEB} is older than {BATON_BIN}: run `cmake --build build --target package`")


class PackageContentsTest(PackageTestCase):
    def test_lintian_reports_no_error(self):
        if shutil.which("lintian") is None:
            self.fail("lintian is not installed (scripts/install-deps.sh --test installs it)")
        result = subprocess.run(["lintian", "--tag-display-limit", "0", "--fail-on", "error", DEB],
                                capture_output=True, text=True, timeout=LINTIAN_TIMEOUT)
        report = "lintian:\n" + result.stdout + result.stderr
        errors = [line for line in result.stdout.splitlines() if line.startswith("E: ")]
        self.assertEqual(errors, [], report)
        # Non-zero without an error tag: lintian could not check the package.
        self.assertEqual(result.returncode, 0, report)

    def test_man_page_names_every_command(self):
        page = gzip.decompress(deb_members()["/usr/share/man/man1/baton.1.gz"]).decode()
        headings = set(re.findall(r'^\.SS "(.*)"$', page, re.MULTILINE))
        commands = command_paths()
        self.assertTrue(commands, "baton --help lists no subcommand")
        for words in commands:
            name = " ".join(["baton", *words]).replace("-", "\\-")
            self.assertTrue(any(h == name or h.startswith(name + " ") for h in headings),
                            f"baton.1 has no section for `{name}`; headings: {sorted(headings)}")

    def test_changelog_names_the_package_version(self):
        version = subprocess.run(["dpkg-deb", "--field", DEB, "Version"], check=True,
                                 capture_output=True, text=True).stdout.strip()
        changelog = gzip.decompress(
            deb_members()["/usr/share/doc/baton/changelog.Debian.gz"]).decode()
        self.assertTrue(changelog.startswith(f"baton ({version}) "),
                        f"packaging/changelog does not start with version {version}:\n"
                        + changelog.splitlines()[0])


def running_installed_baton():
    """Pids of processes running /usr/bin/baton: only the sandbox has one."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe").startswith("/usr/bin/baton"):
                    pids.append(int(entry))
            except OSError:
                pass  # gone, or a kernel thread
    return pids


class PackageInstallTest(PackageTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("installing in a mount namespace needs root")
        if shutil.which("unshare") is None:
            self.fail("unshare (util-linux) is not installed")
        self.sandbox = Sandbox(self.addCleanup)

    def version(self):
        return subprocess.run(["dpkg-deb", "--field", DEB, "Version"], check=True,
                              capture_output=True, text=True).stdout.strip()

    def assert_state_directories(self):
        for directory in STATE_DIRECTORIES:
            self.assertEqual(self.sandbox.owner_and_mode(directory), "baton:baton 750", directory)

    def test_install_creates_user_and_directories_and_starts_nothing(self):
        sandbox = self.sandbox
        if sandbox.passwd("baton") is not None:
            self.skipTest("this machine has a user baton: postinst would not create one")
        sandbox.install()

        project_version = self.version().rsplit("-", 1)[0]
        self.assertEqual(sandbox.output("baton", "--version").strip(), f"baton {project_version}")
        user = sandbox.passwd("baton")
        self.assertIsNotNone(user, "postinst did not create the user baton")
        self.assertEqual(user[5:], ["/var/lib/baton", "/usr/sbin/nologin"])
        self.assertLess(int(user[2]), 1000, "baton is not a system user")
        group = sandbox.output("getent", "group", "baton").strip().split(":")
        self.assertEqual(group[2], user[3], "baton's primary group is not baton")
        self.assert_state_directories()

        self.assertEqual(sandbox.owner_and_mode("/etc/baton/baton.toml"), "root:baton 640")
        conffiles = sandbox.output("dpkg-query", "--show", "--showformat=${Conffiles}", "baton")
        self.assertRegex(conffiles, r"(?m)^ /etc/baton/baton\.toml [0-9a-f]{32}$")

        units = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SOURCE_DIR, "systemd",
                                                                           "*.service")))
        for unit in units:
            self.assertTrue(sandbox.exists(f"/lib/systemd/system/{unit}"), unit)
        if os.path.exists(os.path.join(SOURCE_DIR, "systemd", "baton-scheduler.rules")):
            self.assertTrue(
                sandbox.exists("/usr/share/polkit-1/rules.d/50-baton-scheduler.rules"))
        for path in ("/usr/share/man/man1/baton.1.gz", "/usr/share/doc/baton/copyright",
                     "/usr/share/doc/baton/README.md", "/usr/share/doc/baton/changelog.Debian.gz"):
            self.assertTrue(sandbox.exists(path), path)

        # Nothing enabled or started: at most a daemon-reload, and no daemon runs.
        self.assertEqual([c for c in sandbox.calls() if "daemon-reload" not in c], [])
        self.assertEqual(running_installed_baton(), [])

    def test_packaged_config_serves_the_baton_user(self):
        sandbox = self.sandbox
        sandbox.install()
        # As the daemons run: user baton, the units' environment.
        as_baton = ["setpriv", "--reuid=baton", "--regid=baton", "--init-groups",
                    "env", "BATON_HOME=/var/lib/baton", "BATON_CONFIG=/etc/baton/baton.toml",
                    "baton"]
        sandbox.output(*as_baton, "db", "init")
        listed = sandbox.run(*as_baton, "dags", "list", check=False)
        self.assertEqual(listed.returncode, 0, listed.stdout + listed.stderr)
        self.assertEqual(sandbox.owner_and_mode("/var/lib/baton/baton.db").split()[0],
                         "baton:baton")

    def test_reinstall_keeps_the_user_and_the_administrators_changes(self):
        sandbox = self.sandbox
        sandbox.install()
        uid = sandbox.passwd("baton")[2]
        # What the Ansible role does on masters, then an administrator's choices.
        sandbox.shell("usermod --shell /bin/bash baton\n"
                      "chmod 0755 /var/lib/baton\n"
                      "rmdir /var/lib/baton/dags\n"
                      "echo '# edited' >> /etc/baton/baton.toml\n")
        sandbox.install()
        user = sandbox.passwd("baton")
        self.assertEqual((user[2], user[6]), (uid, "/bin/bash"))
        self.assertEqual(sandbox.owner_and_mode("/var/lib/baton"), "baton:baton 755")
        self.assertEqual(sandbox.owner_and_mode("/var/lib/baton/dags"), "baton:baton 750")
        self.assertIn("# edited", sandbox.output("cat", "/etc/baton/baton.toml"))
        self.assertEqual(sandbox.owner_and_mode("/etc/baton/baton.toml"), "root:baton 640")
        self.assertEqual(sandbox.output("dpkg-query", "--show", "--showformat=${Status}",
                                        "baton"), "install ok installed")

    def test_install_keeps_an_existing_user(self):
        sandbox = self.sandbox
        sandbox.shell("groupadd --system baton\n"
                      "useradd --system --gid baton --home-dir /var/lib/baton --create-home "
                      "--shell /bin/bash --comment 'made before the package' baton\n")
        before = sandbox.passwd("baton")
        sandbox.install()
        self.assertEqual(sandbox.passwd("baton"), before)
        self.assert_state_directories()

    def test_purge_removes_configuration_and_logs_and_keeps_the_store(self):
        sandbox = self.sandbox
        sandbox.install()
        sandbox.shell("touch /var/lib/baton/baton.db /var/log/baton/task.log\n"
                      "mkdir -p /etc/systemd/system/multi-user.target.wants\n"
                      "ln -s /lib/systemd/system/baton-failover.service "
                      "/etc/systemd/system/multi-user.target.wants/baton-failover.service\n")
        sandbox.run("dpkg", "--purge", "baton")

        for gone in ("/usr/bin/baton", "/etc/baton", "/var/log/baton",
                     "/lib/systemd/system/baton-failover.service",
                     "/etc/systemd/system/multi-user.target.wants/baton-failover.service",
                     "/usr/share/doc/baton"):
            self.assertFalse(sandbox.exists(gone) or sandbox.run("test", "-L", gone,
                                                                 check=False).returncode == 0,
                             f"{gone} is still there after purge")
        for kept in ("/var/lib/baton/baton.db", "/var/lib/baton/dags"):
            self.assertTrue(sandbox.exists(kept), f"{kept} was removed by purge")
        self.assertIsNotNone(sandbox.passwd("baton"), "purge removed the user baton")
        # prerm stops whatever ran (failover controller first) and starts nothing.
        calls = sandbox.calls()
        self.assertIn("deb-systemd-invoke stop baton-failover.service", calls)
        self.assertEqual([c for c in calls if re.search(r"\b(start|enable|restart)\b", c)], [])


if __name__ == "__main__":
    unittest.main()
