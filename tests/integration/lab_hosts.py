"""Lab hosts: small Debian machines on this machine, each with a network, a
file system and an OpenSSH server of its own, for tests that configure hosts the
way an operator does (the Ansible playbook).

A Lab is a bridge in the root network namespace with the address 10.213.X.1/24
(X is a subnet no interface here uses yet, chosen under a lock so concurrent
runs do not pick the same one). Each LabHost is

- a network namespace with a veth pair into the bridge (eth0 10.213.X.N/24,
  default route via the bridge's address, so it reaches servers the test binds
  there);
- a UTS namespace (its host name), a PID namespace whose PID 1 is its sshd, and
  a private mount namespace in which /etc, /usr, /var, /home, /opt and /srv are
  overlayfs mounts: the machine's directory below, the host's changes above on
  a tmpfs of its own. So each host has its own users, dpkg database, packages,
  configuration and keys while it shares the software installed here. /root is
  a fresh root home (Debian's skeleton files) rather than an overlay of this
  machine's, whose shell start-up files and credentials belong to its user, not
  to a lab host. /run and /tmp are empty tmpfs mounts, as after a boot;
- an sshd (`sshd -D -e`) with new host keys in its /etc/ssh, on port 22 of its
  address, that lets root in with the lab's admin key only; every session it
  forks sees the host's mounts.

    lab = Lab.for_test(test)                    # SkipTest when it cannot be built
    master1 = lab.add_host("master1")
    master1.address                             # "10.213.X.2"
    master1.run("id baton")                     # a command inside the host (nsenter)
    master1.read_file("/etc/baton/baton.toml")
    master1.ssh("hostname")                     # as root over SSH, strict host key
    lab.gateway                                 # "10.213.X.1": bind servers here
    lab.admin_key, lab.known_hosts_file         # what a client (Ansible) needs

Cleanup (close(), or the test's cleanups with for_test) kills each host's PID 1,
which takes every process of the host with it (and its mount namespace, tmpfs
included), deletes the network namespaces, veths and the bridge, and removes
the lab's directory, even when the test failed. Names carry the pid of the
process that made them and a random token, so a leftover of a crashed run
never clashes with a new one; a new Lab also removes the leftovers of labs
whose process is gone. If the test runner itself is killed, its hosts die with
it (their PID 1 has a parent-death signal).

Needs root, iproute2, util-linux (unshare, nsenter), overlayfs and openssh-server;
require_lab() raises unittest.SkipTest naming what is missing.
"""

import ctypes
import fcntl
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

from servers import MariaDbServer, _find_binary
from sshd import ssh_banner_answers

# Every name a lab makes starts with this (network namespaces, link aliases,
# directories), followed by the pid of the process that made it.
LAB_PREFIX = "batonlab"

# The lab's subnets: 10.213.X.0/24 with X from 0 to 254.
SUBNET_PREFIX = "10.213"

# Directories each host overlays on the machine's own.
OVERLAID_DIRECTORIES = ("etc", "usr", "var", "home", "opt", "srv")

# The lock that keeps two labs of concurrent runs from taking the same subnet.
SUBNET_LOCK = f"/run/{LAB_PREFIX}.lock"

# How long a host's sshd gets to answer after it started.
HOST_START_TIMEOUT = 30

COMMAND_TIMEOUT = 60

_PR_SET_PDEATHSIG = 1


def _run(argv, check=True, timeout=COMMAND_TIMEOUT, **kwargs):
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(f"`{shlex.join(argv)}` exited {result.returncode}: "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_parent():
    # Runs in the child between fork and exec: SIGKILL when the test runner dies.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def require_lab():
    """Raises unittest.SkipTest unless this process can build lab hosts."""
    if os.geteuid() != 0:
        raise unittest.SkipTest("lab hosts need root (network and mount namespaces)")
    for tool, package in (("ip", "iproute2"), ("unshare", "util-linux"),
                          ("nsenter", "util-linux")):
        _find_binary([tool], package)
    _find_binary(["sshd"], "openssh-server")
    _find_binary(["ssh-keygen", "ssh"], "openssh-client")
    probe = f"{LAB_PREFIX}-{os.getpid()}-probe-{uuid.uuid4().hex[:6]}"
    created = _run(["ip", "netns", "add", probe], check=False)
    if created.returncode != 0:
        raise unittest.SkipTest(f"cannot create a network namespace: {created.stderr.strip()}")
    _run(["ip", "netns", "delete", probe], check=False)
    scratch = tempfile.mkdtemp(prefix=f"{LAB_PREFIX}-probe-")
    try:
        upper, work = os.path.join(scratch, "upper"), os.path.join(scratch, "work")
        os.makedirs(upper)
        os.makedirs(work)
        overlay = _run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        f"mount -t overlay overlay -o lowerdir=/etc,upperdir={upper},"
                        f"workdir={work} /etc"], check=False)
        if overlay.returncode != 0:
            raise unittest.SkipTest(f"cannot mount an overlay on /etc in a mount namespace: "
                                    f"{overlay.stderr.strip()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def sweep_leftovers():
    """Removes the network namespaces, processes, directories and links of labs
    whose process is gone (a crashed or killed run). Those of live processes are
    left alone."""
    pattern = re.compile(rf"^{LAB_PREFIX}-(\d+)-")
    listed = _run(["ip", "netns", "list"], check=False).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        match = pattern.match(name)
        if not match or _pid_alive(int(match.group(1))):
            continue
        pids = _run(["ip", "netns", "pids", name], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        _run(["ip", "netns", "delete", name], check=False)
    for entry in os.listdir(tempfile.gettempdir()):
        match = pattern.match(entry)
        if match and not _pid_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(tempfile.gettempdir(), entry), ignore_errors=True)
    links = _run(["ip", "-o", "link", "show"], check=False).stdout
    # "12: blab12ab34br: <...> ...\    alias batonlab 4242 ab12ab34" (one line per link)
    for match in re.finditer(rf"^\d+: ([^:@]+)[:@].*?alias {LAB_PREFIX} (\d+) ", links,
                             re.MULTILINE):
        if not _pid_alive(int(match.group(2))):
            _run(["ip", "link", "delete", match.group(1)], check=False)


def _used_subnets():
    """The X of every 10.213.X.0/24 that an address or route here touches."""
    text = (_run(["ip", "-4", "-o", "addr", "show"], check=False).stdout
            + _run(["ip", "-4", "route", "show", "table", "all"], check=False).stdout)
    return {int(x) for x in re.findall(rf"\b{re.escape(SUBNET_PREFIX)}\.(\d+)\.", text)}


def _public_key(path):
    """'ssh-ed25519 AAAA...': the first two words of a .pub file, no comment."""
    with open(path) as f:
        return " ".join(f.read().split()[:2])


class Lab:
    """A bridge and the hosts on it; see the module's documentation."""

    def __init__(self):
        require_lab()
        sweep_leftovers()
        self.token = uuid.uuid4().hex[:8]
        self.tag = f"{LAB_PREFIX} {os.getpid()} {self.token}"  # every link's alias
        self.root = tempfile.mkdtemp(prefix=f"{LAB_PREFIX}-{os.getpid()}-{self.token}-")
        self.hosts = {}  # name -> LabHost, in start order
        self.bridge = f"bl{self.token}br"  # at most 15 characters, as every link name
        self.subnet = None
        self._bridge_created = False
        self._closed = False
        try:
            self._create_bridge()
            self.admin_key = os.path.join(self.root, "admin_ed25519")
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"lab-admin-{self.token}",
                  "-f", self.admin_key])
            self.known_hosts_file = os.path.join(self.root, "known_hosts")
            open(self.known_hosts_file, "w").close()
        except BaseException:
            self.close()
            raise

    @classmethod
    def for_test(cls, test):
        """A lab that `test` closes in its cleanup, and whose hosts' sshd logs it
        shows on failure when `test` has add_diagnostic (harness.BatonTestCase)."""
        lab = cls()
        test.addCleanup(lab.close)
        add = getattr(test, "add_diagnostic", None)
        if add is not None:
            test.addCleanup(lab._add_diagnostics, add)
        return lab

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def gateway(self):
        """The bridge's address: the hosts' default route, where servers for them listen."""
        return f"{self.subnet}.1"

    def _create_bridge(self):
        os.makedirs(os.path.dirname(SUBNET_LOCK), exist_ok=True)
        with open(SUBNET_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            used = _used_subnets()
            free = [x for x in range(0, 255) if x not in used]
            if not free:
                raise RuntimeError(f"every subnet {SUBNET_PREFIX}.X.0/24 is in use")
            self.subnet = f"{SUBNET_PREFIX}.{free[0]}"
            _run(["ip", "link", "add", self.bridge, "type", "bridge"])
            self._bridge_created = True
            _run(["ip", "link", "set", self.bridge, "alias", self.tag])
            _run(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
            _run(["ip", "link", "set", self.bridge, "up"])

    # ----- hosts ---------------------------------------------------------------

    def add_host(self, name):
        """Starts host `name` (a host name: letters, digits, '-') and returns it once
        its sshd answers and its host key is in known_hosts_file."""
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", name) or name in self.hosts:
            raise ValueError(f"bad or duplicate host name {name!r}")
        index = len(self.hosts) + 2  # .1 is the bridge
        if index > 254:
            raise RuntimeError("a lab holds at most 253 hosts")
        host = LabHost(self, name, f"{self.subnet}.{index}", index)
        self.hosts[name] = host
        host.start()
        with open(self.known_hosts_file, "a") as f:
            f.write(f"{host.address} {host.host_public_key}\n")
        return host

    def ssh_options(self):
        """OpenSSH client options that reach the hosts as root with the admin key,
        checking their host keys strictly and never prompting."""
        return ["-o", "IdentitiesOnly=yes", "-i", self.admin_key,
                "-o", f"UserKnownHostsFile={self.known_hosts_file}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes",
                "-o", "ConnectTimeout=10"]

    # ----- cleanup ---------------------------------------------------------------

    def close(self):
        """Stops every host and removes every namespace, link and file; safe twice."""
        if self._closed:
            return
        self._closed = True
        for host in reversed(list(self.hosts.values())):
            host.close()
        if self._bridge_created:
            _run(["ip", "link", "delete", self.bridge], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __del__(self):
        if not getattr(self, "_closed", True):
            self.close()

    def _add_diagnostics(self, add):
        for host in self.hosts.values():
            add(f"lab host {host.name} ({host.address}) sshd log, last lines",
                "\n".join(host.log().splitlines()[-40:]))


# The sshd of every host: Debian's defaults where they matter (PAM, StrictModes,
# the sftp subsystem Ansible copies files with), root by key only.
_SSHD_CONFIG = """\
Port 22
ListenAddress {address}
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
MaxStartups 100
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
"""

# Run by sh as PID 1 of the host's namespaces: $1 the seed directory (files
# from the lab), $2 the directory the host's tmpfs is mounted on, $3 the name,
# $4 the address. It ends by becoming the host's sshd.
_HOST_INIT = r"""
set -eu
seed=$1 state=$2 name=$3 address=$4
hostname "$name"
mount -t tmpfs -o mode=0755,size=2g "lab-$name" "$state"
for dir in $OVERLAID; do
  [ -d "/$dir" ] || continue
  mkdir "$state/upper-$dir" "$state/work-$dir"
  mount -t overlay "lab-$name-$dir" \
    -o "lowerdir=/$dir,upperdir=$state/upper-$dir,workdir=$state/work-$dir" "/$dir"
done
mkdir -m 0700 "$state/root"
mount --bind "$state/root" /root
cp /usr/share/base-files/dot.bashrc /root/.bashrc
cp /usr/share/base-files/dot.profile /root/.profile
install -d -m 0700 /root/.ssh
install -m 0600 "$seed/authorized_keys" /root/.ssh/authorized_keys
echo "$name" > /etc/hostname
tr -d '-' < /proc/sys/kernel/random/uuid > /etc/machine-id
printf '%s\t%s\n' "$address" "$name" >> /etc/hosts
rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub
ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f /etc/ssh/ssh_host_ed25519_key
cp "$seed/sshd_config" /etc/ssh/sshd_config
mount -t tmpfs -o mode=0755 "lab-$name-run" /run
install -d -m 0755 /run/sshd
install -d -m 1777 /run/lock
mount -t tmpfs -o mode=1777 "lab-$name-tmp" /tmp
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
"""


class LabHost:
    """One host of a Lab: its namespaces, its sshd (PID 1 of its PID namespace)."""

    def __init__(self, lab, name, address, index):
        self.lab = lab
        self.name = name
        self.address = address
        self.netns = f"{LAB_PREFIX}-{os.getpid()}-{lab.token}-{name}"
        self.veth = f"bl{lab.token}{index:02x}"  # 12 characters
        self.directory = os.path.join(lab.root, name)
        self.seed = os.path.join(self.directory, "seed")
        self.state = os.path.join(self.directory, "state")  # the tmpfs, inside the host only
        self.log_path = os.path.join(self.directory, "sshd.log")
        self.process = None  # unshare, the parent of the host's PID 1
        self.init_pid = None  # the host's PID 1 (its sshd), as seen from here
        self.host_public_key = None
        self._netns_created = False
        os.makedirs(self.seed)
        os.makedirs(self.state)

    def start(self):
        _run(["ip", "netns", "add", self.netns])
        self._netns_created = True
        _run(["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0",
              "netns", self.netns])
        _run(["ip", "link", "set", self.veth, "alias", self.lab.tag])
        _run(["ip", "link", "set", self.veth, "master", self.lab.bridge])
        _run(["ip", "link", "set", self.veth, "up"])
        inside = ["ip", "-n", self.netns]
        _run([*inside, "link", "set", "lo", "up"])
        _run([*inside, "addr", "add", f"{self.address}/24", "dev", "eth0"])
        _run([*inside, "link", "set", "eth0", "up"])
        _run([*inside, "route", "add", "default", "via", self.lab.gateway])

        with open(os.path.join(self.seed, "sshd_config"), "w") as f:
            f.write(_SSHD_CONFIG.format(address=self.address))
        shutil.copyfile(self.lab.admin_key + ".pub", os.path.join(self.seed, "authorized_keys"))

        argv = ["ip", "netns", "exec", self.netns,
                "unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child",
                "--mount-proc", "--propagation", "private",
                "sh", "-c", _HOST_INIT, "lab-init", self.seed, self.state, self.name,
                self.address]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "OVERLAID": " ".join(OVERLAID_DIRECTORIES), "LANG": "C.UTF-8"}
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True,
                                            preexec_fn=_die_with_parent)
        deadline = time.monotonic() + HOST_START_TIMEOUT
        while not self._sshd_answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"lab host {self.name} exited with status "
                                   f"{self.process.returncode} while starting:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"lab host {self.name}'s sshd did not answer on "
                                   f"{self.address}:22 within {HOST_START_TIMEOUT}s:\n{self.log()}")
            time.sleep(0.05)
        self.init_pid = self._find_init_pid()
        self.host_public_key = self.read_file("/etc/ssh/ssh_host_ed25519_key.pub").split()
        self.host_public_key = " ".join(self.host_public_key[:2])

    def _find_init_pid(self):
        # unshare --fork has one child: the host's PID 1.
        with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
            children = f.read().split()
        if len(children) != 1:
            raise RuntimeError(f"lab host {self.name}: unshare has children {children}")
        return int(children[0])

    def _sshd_answers(self):
        # Through the bridge, as any client.
        return ssh_banner_answers(self.address, 22)

    # ----- inside the host ---------------------------------------------------------

    def run(self, command, check=False, timeout=COMMAND_TIMEOUT):
        """Runs the shell `command` inside the host (all its namespaces) as root;
        the CompletedProcess (text). With `check`, a failure raises."""
        argv = ["nsenter", f"--target={self.init_pid}", "--mount", "--uts", "--net", "--pid",
                "--", "/bin/sh", "-c", command]
        result = _run(argv, check=False, timeout=timeout,
                      env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        if check and result.returncode != 0:
            raise RuntimeError(f"on {self.name}: `{command}` exited {result.returncode}: "
                               f"{result.stderr.strip()}")
        return result

    def read_file(self, path):
        """The text of `path` as the host sees it; raises when it is missing."""
        return self.run(f"cat {shlex.quote(path)}", check=True).stdout

    def ssh_argv(self, command, user="root"):
        return ["ssh", *self.lab.ssh_options(), f"{user}@{self.address}", command]

    def ssh(self, command, timeout=COMMAND_TIMEOUT):
        """Runs `command` over SSH as root with the lab's admin key."""
        return _run(self.ssh_argv(command), check=False, timeout=timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # ----- cleanup ---------------------------------------------------------------

    def close(self):
        if self.process is not None and self.process.poll() is None:
            # unshare's child, the host's PID 1, gets SIGKILL with it
            # (--kill-child); the kernel then kills the rest of the namespace.
            self.process.kill()
            self.process.wait()
        if self.init_pid is not None:
            deadline = time.monotonic() + 10
            while _pid_alive(self.init_pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        _run(["ip", "link", "delete", self.veth], check=False)
        if self._netns_created:
            _run(["ip", "netns", "delete", self.netns], check=False)


class LabMariaDb(MariaDbServer):
    """A servers.MariaDbServer that also listens on the lab's bridge address, so
    that lab hosts reach it; url() names that address."""

    def __init__(self, lab, **kwargs):
        self.lab_address = lab.gateway
        super().__init__(**kwargs)

    def _spawn(self, argv):
        # MariaDB 10.11 takes a comma-separated list of addresses.
        argv = [f"--bind-address=127.0.0.1,{self.lab_address}"
                if a.startswith("--bind-address=") else a for a in argv]
        super()._spawn(argv)

    def url(self, database=None):
        return f"mysql://{self.user}@{self.lab_address}:{self.port}/{database or self.database}"

    @classmethod
    def for_lab(cls, test, lab, **kwargs):
        server = cls(lab, **kwargs)
        test.addCleanup(server.close)
        add = getattr(test, "add_diagnostic", None)
        if add is not None:
            test.addCleanup(lambda: add(f"mariadb log ({server.root})", server.log(80)))
        return server


if __name__ == "__main__":
    # A self-check by hand: /usr/bin/python3 lab_hosts.py
    started = time.monotonic()
    with Lab() as lab:
        one, two = lab.add_host("one"), lab.add_host("two")
        print(f"two hosts up in {time.monotonic() - started:.2f}s on {lab.subnet}.0/24")
        print("hostname over ssh:", one.ssh("hostname").stdout.strip(),
              two.ssh("hostname").stdout.strip())
        one.run("useradd -m labuser", check=True)
        print("labuser on one:", one.run("id -un labuser").stdout.strip(),
              "on two:", two.run("id labuser").returncode != 0,
              "here:", _run(["id", "labuser"], check=False).returncode != 0)
        print("host keys differ:", one.host_public_key != two.host_public_key)
        print("processes in one:", one.run("ls /proc | grep -c '^[0-9]'").stdout.strip())
        print("one reaches two over ssh:", one.run(
            f"ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
            f"{two.address} true 2>&1; echo $?").stdout.strip()[-40:])
        root, bridge = lab.root, lab.bridge
    print("cleaned:", not os.path.exists(root),
          _run(["ip", "link", "show", bridge], check=False).returncode != 0,
          LAB_PREFIX not in _run(["ip", "netns", "list"]).stdout)
