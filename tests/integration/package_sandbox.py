"""A copy-on-write view of this machine in which the .deb (BATON_DEB) is installed.

A Sandbox is this machine's /etc, /usr and /var as overlayfs mounts whose writes land
on a tmpfs (/dev/shm), in private mount namespaces: what is installed there is never
visible outside, and is gone with the sandbox. Either each command runs in a mount
namespace of its own over the same upper directories, with an empty /run in which
systemd seems to run (test_package.py), or the sandbox is booted: a real systemd
runs as PID 1 of a PID namespace over those mounts, in cgroups of its own, and each
command runs inside that namespace (test_systemd_units.py).

Everything needs root.
"""

import ctypes
import glob
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

from harness import SOURCE_DIR, read_log, wait_for

DEB = os.environ.get("BATON_DEB") or next(
    iter(sorted(glob.glob(os.path.join(SOURCE_DIR, "build", "baton_*.deb")))), "")

DPKG_TIMEOUT = 120

# Where dpkg writes. /lib is a symlink to usr/lib on Debian 12, and then
# needs no overlay of its own.
OVERLAID = ["/etc", "/usr", "/var"] + ([] if os.path.islink("/lib") else ["/lib"])

# Commands that would enable or start units; unless the sandbox runs the real
# ones, stand-ins record each call.
RECORDED_COMMANDS = ("/usr/bin/systemctl", "/usr/bin/deb-systemd-helper",
                     "/usr/bin/deb-systemd-invoke")

SYSTEMD = "/lib/systemd/systemd"

# The unit the booted systemd starts: nothing but itself, so the boot takes a
# fraction of a second and starts none of this machine's services.
BOOT_TARGET = "baton-test.target"

# The environment of commands run in a booted sandbox: none of the caller's.
BOOTED_ENVIRONMENT = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "LANG=C.UTF-8")

BOOT_TIMEOUT = 30

_PR_SET_PDEATHSIG = 1


class Sandbox:
    """This machine's /etc, /usr and /var, with every write going to a tmpfs.

    Until boot(), each run() mounts the overlays afresh in a new private mount
    namespace over the same upper directories, so what one command installs the
    next one sees, and nothing of it is visible outside. With record_systemctl,
    systemctl and the deb-systemd-* commands are stand-ins that record their calls
    (calls()); without it they are the real ones.

    add_cleanup registers the teardown (a TestCase's addCleanup, or a class's
    addClassCleanup): the tmpfs directories, and after boot() the namespace's
    every process and the cgroups it ran in.
    """

    def __init__(self, add_cleanup, record_systemctl=True):
        self.root = tempfile.mkdtemp(prefix="baton-package-test-", dir="/dev/shm")
        add_cleanup(shutil.rmtree, self.root, ignore_errors=True)
        self._add_cleanup = add_cleanup
        self.calls_path = os.path.join(self.root, "calls")
        open(self.calls_path, "w").close()
        self.init_pid = None  # PID 1 of the booted namespace, as this machine numbers it
        self.console_path = os.path.join(self.root, "console.log")
        self._unshare = None
        self._cgroups = []
        for directory in OVERLAID:
            os.makedirs(self._upper(directory))
            os.makedirs(os.path.join(self.root, "work" + directory))
        if record_systemctl:
            for command in RECORDED_COMMANDS:
                stand_in = self._upper(command)
                os.makedirs(os.path.dirname(stand_in), exist_ok=True)
                with open(stand_in, "w") as f:
                    f.write("#!/bin/sh\n"
                            f'echo "{os.path.basename(command)} $*" >> '
                            f"{shlex.quote(self.calls_path)}\n")
                os.chmod(stand_in, 0o755)
        # man-db's trigger rebuilds its whole index after each dpkg run (seconds);
        # Debian's container images turn it off the same way.
        self.run("rm", "-f", "/var/lib/man-db/auto-update")

    def _upper(self, path):
        return os.path.join(self.root, "upper" + path)

    def _mount_overlays(self):
        return "".join(
            f"mount -t overlay overlay -o lowerdir={d},upperdir={self._upper(d)},"
            f"workdir={self.root}/work{d} {d}\n" for d in OVERLAID)

    def run(self, *argv, check=True, timeout=DPKG_TIMEOUT, input=None):
        if self.init_pid is not None:
            command = self._booted_argv(argv)
        else:
            # An empty /run, in which systemd seems to run: postinst's systemctl
            # calls reach the stand-in, and no socket of the real system is there.
            script = f"set -e\n{self._mount_overlays()}mount -t tmpfs tmpfs /run\n" \
                     'mkdir -p /run/systemd/system\nexec "$@"\n'
            command = ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                       script, "sandbox", *argv]
        result = subprocess.run(command, input=input,
                                stdin=subprocess.DEVNULL if input is None else None,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"in the sandbox, {shlex.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def _booted_argv(self, argv):
        return ["nsenter", "--target", str(self.init_pid), "--mount", "--pid", "--cgroup",
                "--uts", "--ipc", "--net", "--wd=/", "--", "env", "-i", *BOOTED_ENVIRONMENT,
                *argv]

    def output(self, *argv):
        return self.run(*argv).stdout

    def shell(self, script):
        return self.run("/bin/sh", "-ec", script)

    def write_file(self, path, text, owner="root:root", mode=0o644):
        """Writes `path` in the sandbox, owned by `owner` ("user:group")."""
        quoted = shlex.quote(path)
        self.run("/bin/sh", "-ec", f"cat > {quoted}\nchown {shlex.quote(owner)} {quoted}\n"
                 f"chmod {mode:o} {quoted}\n", input=text)

    def exists(self, path):
        return self.run("test", "-e", path, check=False).returncode == 0

    def owner_and_mode(self, path):
        return self.output("stat", "-c", "%U:%G %a", path).strip()

    def passwd(self, user):
        """The passwd entry of `user` as a list of fields, or None."""
        result = self.run("getent", "passwd", user, check=False)
        return result.stdout.strip().split(":") if result.returncode == 0 else None

    def calls(self):
        with open(self.calls_path) as f:
            return f.read().splitlines()

    def install(self):
        # From a copy beside the overlays: a booted sandbox has a /tmp of its
        # own, which hides a package built below this machine's /tmp.
        copy = os.path.join(self.root, os.path.basename(DEB))
        shutil.copyfile(DEB, copy)
        return self.run("dpkg", "--install", copy)

    # ----- a booted systemd -------------------------------------------------

    def boot(self):
        """Starts systemd as PID 1 of a new PID namespace over the overlays, with
        /run, /tmp and /proc of its own, and returns once it is running.

        The namespace's cgroups are children of this process's own in every
        hierarchy, so what systemd creates stays below them. Whatever happens to
        the test, the namespace dies with this process: unshare gets SIGKILL when
        it does, and its child, the namespace's PID 1, when unshare dies.
        """
        self._add_cleanup(self.shutdown)
        name = f"baton-test-{uuid.uuid4().hex[:12]}"
        unified = False
        for mount_point, path, is_cgroup2 in own_cgroups():
            directory = os.path.join(mount_point + path, name)
            try:
                os.mkdir(directory)
            except OSError as error:
                raise RuntimeError(f"cannot create the namespace's cgroup {directory}: {error}")
            self._cgroups.append(directory)
            for key in ("cpuset.cpus", "cpuset.mems"):
                # A cpuset v1 child starts with no CPU and no memory node.
                parent_value = os.path.join(os.path.dirname(directory), key)
                if os.path.exists(parent_value):
                    with open(parent_value) as source, open(os.path.join(directory, key),
                                                            "w") as target:
                        target.write(source.read())
            unified = unified or (is_cgroup2 and mount_point == "/sys/fs/cgroup")
        procs = [os.path.join(d, "cgroup.procs") for d in self._cgroups]

        if unified:
            cgroups = "mount -t cgroup2 cgroup2 /sys/fs/cgroup\n"
        else:
            # The hybrid layout: systemd mounts the controllers it uses itself.
            cgroups = ("mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup\n"
                       "mkdir /sys/fs/cgroup/systemd /sys/fs/cgroup/unified\n"
                       "mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd\n"
                       "mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified\n")
        script = (f"set -e\n{self._mount_overlays()}"
                  "mount -t tmpfs -o mode=755 tmpfs /run\n"
                  "mount -t tmpfs -o mode=1777 tmpfs /tmp\n"
                  "mount -t proc proc /proc\n"
                  f"{cgroups}"
                  "mkdir -p /run/systemd/system\n"
                  f"printf '[Unit]\\nDescription=Baton unit tests\\nDefaultDependencies=no\\n' "
                  f"> /run/systemd/system/{BOOT_TARGET}\n"
                  "export container=baton-test\n"
                  f"exec {SYSTEMD} --system --unit={BOOT_TARGET}\n")

        def enter_cgroups_and_die_with_parent():
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            for path in procs:
                with open(path, "w") as f:
                    f.write(str(os.getpid()))

        with open(self.console_path, "w") as console:
            self._unshare = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--kill-child=SIGKILL", "--mount", "--cgroup",
                 "--uts", "--ipc", "--net", "--propagation", "private", "--", "/bin/sh", "-c",
                 script],
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                preexec_fn=enter_cgroups_and_die_with_parent)

        def init_started():
            if self._unshare.poll() is not None:
                raise AssertionError(f"the booted namespace exited {self._unshare.returncode}:\n"
                                     + self.console())
            unshare = self._unshare.pid
            try:
                with open(f"/proc/{unshare}/task/{unshare}/children") as f:
                    children = f.read().split()
            except OSError:
                children = []
            pid = children[0] if children else None
            if pid and os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(SYSTEMD):
                return int(pid)
            return None

        self.init_pid = wait_for(init_started, BOOT_TIMEOUT, "systemd to start in the namespace")

        def booted():
            state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("degraded", "maintenance", "stopping"):
                raise AssertionError(f"the booted systemd is {state}:\n"
                                     + self.output("systemctl", "--failed", "--no-pager")
                                     + self.console())
            return state == "running"

        wait_for(booted, BOOT_TIMEOUT, "the booted systemd to be running")

    def console(self):
        """What the booted systemd wrote to its console."""
        return read_log(self.console_path)

    def shutdown(self):
        """Kills the booted namespace's PID 1, and with it every process in the
        namespace, then removes the cgroups it ran in. The mounts lived in the
        namespace only and are gone with its last process."""
        if self._unshare is not None:
            # While unshare runs, it has not reaped its child: the pid is still
            # the namespace's PID 1, never another process's.
            if self.init_pid is not None and self._unshare.poll() is None:
                try:
                    os.kill(self.init_pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if self._unshare.poll() is None:
                try:
                    self._unshare.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._unshare.kill()
                    self._unshare.wait()
            self._unshare = None
        self.init_pid = None
        for directory in self._cgroups:
            remove_cgroup_tree(directory)
        leftovers = [d for d in self._cgroups if os.path.exists(d)]
        self._cgroups = []
        if leftovers:
            raise AssertionError(f"cgroups of the booted namespace still in use: {leftovers}")


def own_cgroups():
    """(mount point, this process's cgroup path, is cgroup2) of every writable
    cgroup hierarchy mounted below /sys/fs/cgroup."""
    memberships = {}  # the controllers of a v1 hierarchy ("" for cgroup2) -> path
    with open("/proc/self/cgroup") as f:
        for line in f:
            _id, controllers, path = line.rstrip("\n").split(":", 2)
            memberships[controllers] = path
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            separator = fields.index("-")
            mount_root, mount_point = fields[3], fields[4]
            fstype, super_options = fields[separator + 1], fields[separator + 3].split(",")
            if not mount_point.startswith("/sys/fs/cgroup") or fstype not in ("cgroup",
                                                                              "cgroup2"):
                continue
            if "rw" not in fields[5].split(","):
                continue
            if fstype == "cgroup2":
                key = ""
            else:
                key = ",".join(o for o in super_options if o not in ("rw", "ro", "xattr")
                               and not o.startswith(("release_agent=", "clone_children")))
            path = memberships.get(key)
            if path is None or not (path + "/").startswith(mount_root.rstrip("/") + "/"):
                continue
            relative = path[len(mount_root.rstrip("/")):]
            found.append((mount_point, relative.rstrip("/"), fstype == "cgroup2"))
    return found


def remove_cgroup_tree(directory, timeout=10):
    """Removes a cgroup and every cgroup below it, deepest first, waiting for the
    kernel to release those whose processes have just been killed."""
    deadline = time.monotonic() + timeout
    while os.path.exists(directory):
        below = sorted((root for root, _dirs, _files in os.walk(directory)),
                       key=lambda d: d.count("/"), reverse=True)
        for path in below:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError:
                break  # still busy: try the whole tree again
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)
