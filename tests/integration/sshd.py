"""A real OpenSSH server for tests, private to its user, like those in servers.py.

sshd -D -e runs on 127.0.0.1 on a free port as the current user (root or not),
with its config, an Ed25519 host key, a client key pair it authorizes, a
known_hosts file naming it, its pid file and its log in a temporary directory of
its own. It is a context manager, `for_test(test)` registers its cleanup with a
unittest.TestCase, and a missing sshd raises unittest.SkipTest naming the Debian
package to install. stop() and start() keep the port and the keys (a restart);
stop() also ends the sessions sshd forked for its clients, which would outlive
it otherwise, so to a client the node went down.

    with SshServer() as sshd:
        sshd.port, sshd.user          # log in as sshd.user@127.0.0.1:sshd.port
        sshd.identity_file            # the client's key (.pub beside it), one for
                                      # every server of the process
        sshd.known_hosts_file         # "[127.0.0.1]:PORT ssh-ed25519 AAAA..."
        sshd.host_public_key          # "ssh-ed25519 AAAA..."
        sshd.write_hashed_known_hosts()   # a copy with the entry hashed; its path
        sshd.generate_key("other")        # a key pair the server does not authorize
        sshd.ssh("echo hi")               # runs a command with the OpenSSH client
        sshd.pause(); sshd.resume()       # the node falls silent (SIGSTOP), and back

As root, sshd needs its privilege separation directory /run/sshd, which is
created when missing (as Debian's unit does). Nothing sleeps a fixed time:
start-up polls the port until sshd sends its banner.
"""

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from servers import _Server, _as_root, _find_binary

PRIVILEGE_SEPARATION_DIR = "/run/sshd"

# The client key pair every server of the process authorizes, made once, so a
# client reaches them all with one identity, as an operator's does.
_client_key_lock = threading.Lock()
_client_key = None


def _shared_client_key(ssh_keygen):
    global _client_key
    with _client_key_lock:
        if _client_key is None:
            root = tempfile.mkdtemp(prefix="baton-ssh-client-")
            atexit.register(shutil.rmtree, root, ignore_errors=True)
            path = os.path.join(root, "id_ed25519")
            subprocess.run([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C",
                            "baton-test-client", "-f", path],
                           stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=60)
            _client_key = path
        return _client_key


def _public_key(path):
    """'ssh-ed25519 AAAA...' from a .pub file: its first two words, no comment."""
    with open(path) as f:
        return " ".join(f.read().split()[:2])


def _descendants(root):
    """Pids of every process below `root`, parents first (from /proc)."""
    parent_of = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        parent_of[int(name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    found, parents = [], [root]
    while parents:
        parent = parents.pop(0)
        children = [pid for pid, ppid in parent_of.items() if ppid == parent]
        found.extend(children)
        parents.extend(children)
    return found


def _command_name(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def ssh_banner_answers(address, port):
    """Whether an SSH server at address:port sends its banner within a second."""
    try:
        with socket.create_connection((address, port), timeout=1) as connection:
            banner = b""
            while len(banner) < 8:
                chunk = connection.recv(8 - len(banner))
                if not chunk:
                    break
                banner += chunk
            return banner == b"SSH-2.0-"
    except OSError:
        return False


class SshServer(_Server):
    """A private sshd that lets the current user in with its own key only."""

    kind = "sshd"

    def __init__(self, start=True):
        self.sshd = _find_binary(["sshd"], "openssh-server")
        self.ssh_keygen = _find_binary(["ssh-keygen"], "openssh-client")
        super().__init__("baton-sshd-")
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        self.config_path = os.path.join(self.root, "sshd_config")
        self.pid_path = os.path.join(self.root, "sshd.pid")
        self.host_key = os.path.join(self.root, "ssh_host_ed25519_key")
        self.authorized_keys = os.path.join(self.root, "authorized_keys")
        self.known_hosts_file = os.path.join(self.root, "known_hosts")
        try:
            self.generate_key("ssh_host_ed25519_key")
            self.identity_file = _shared_client_key(self.ssh_keygen)
            self.authorize_key(self.identity_file)
            self.host_public_key = _public_key(self.host_key + ".pub")
            if _as_root():
                os.makedirs(PRIVILEGE_SEPARATION_DIR, mode=0o755, exist_ok=True)
            if start:
                self._start_on_a_free_port()
        except BaseException:
            self.close()
            raise

    # ----- keys and known_hosts ------------------------------------------------

    @property
    def host_pattern(self):
        """How known_hosts names this server: "[127.0.0.1]:PORT"."""
        return f"[127.0.0.1]:{self.port}"

    def known_hosts_line(self, public_key=None):
        """A known_hosts line for this server with `public_key` (default: its own)."""
        return f"{self.host_pattern} {public_key or self.host_public_key}\n"

    def generate_key(self, name, key_type="ed25519"):
        """A new key pair in the server's directory, not authorized; the private
        key's path (the public one is at .pub)."""
        path = os.path.join(self.root, name)
        subprocess.run([self.ssh_keygen, "-q", "-t", key_type, "-N", "", "-C",
                        f"baton-test-{name}", "-f", path],
                       stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=60)
        return path

    def authorize_key(self, private_key):
        """Lets the key pair at `private_key` (and .pub) log in from now on."""
        with open(private_key + ".pub") as public, open(self.authorized_keys, "a") as keys:
            keys.write(public.read())

    def write_hashed_known_hosts(self, path=None):
        """A copy of known_hosts_file with its entry hashed (ssh-keygen -H), as ssh
        writes it with HashKnownHosts; its path."""
        path = path or os.path.join(self.root, "known_hosts_hashed")
        shutil.copyfile(self.known_hosts_file, path)
        subprocess.run([self.ssh_keygen, "-H", "-f", path], stdin=subprocess.DEVNULL,
                       capture_output=True, check=True, timeout=60)
        return path

    # ----- clients ---------------------------------------------------------------

    def ssh_argv(self, command, identity_file=None, known_hosts_file=None, connect_timeout=10):
        """The OpenSSH client's argv for `command` on this server, strict about
        the host key and never prompting."""
        return ["ssh", "-p", str(self.port),
                "-i", identity_file or self.identity_file,
                "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known_hosts_file or self.known_hosts_file}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes",
                "-o", f"ConnectTimeout={connect_timeout}",
                f"{self.user}@127.0.0.1", command]

    def ssh(self, command, timeout=30, **kwargs):
        """Runs `command` with the OpenSSH client; the CompletedProcess (text)."""
        return subprocess.run(self.ssh_argv(command, **kwargs), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)

    # ----- lifetime --------------------------------------------------------------

    def stop(self):
        self._signal_sessions(signal.SIGKILL)
        if self.running():
            self.process.send_signal(signal.SIGCONT)  # a paused server would not see SIGTERM
        super().stop()

    def kill(self):
        self._signal_sessions(signal.SIGKILL)
        super().kill()

    def close(self):
        if not self._closed:
            self._signal_sessions(signal.SIGKILL)
        super().close()

    def pause(self):
        """Stops (SIGSTOP) the server and the sshd processes serving its
        connections: to a client, the network drops every packet, on open
        connections and new ones alike."""
        if self.running():
            self.process.send_signal(signal.SIGSTOP)
            self._signal_sessions(signal.SIGSTOP, sshd_only=True)

    def resume(self):
        if self.running():
            self._signal_sessions(signal.SIGCONT)
            self.process.send_signal(signal.SIGCONT)

    def _signal_sessions(self, signal_number, sshd_only=False):
        # sshd forks each session as a session leader of its own: it outlives
        # the listener unless it is signalled itself.
        if not self.running():
            return
        for pid in _descendants(self.process.pid):
            if sshd_only and _command_name(pid) != "sshd":
                continue
            try:
                os.kill(pid, signal_number)
            except ProcessLookupError:
                pass

    # ----- for _Server -------------------------------------------------------------

    def _launch(self):
        # As the current user, so the same config serves root and anyone else:
        # without PAM (which only root may use) and StrictModes (the files are
        # in a temporary directory, not the user's home). SHLVL=1 makes bash take
        # a command's shell for a nested one, which does not read ~/.bashrc
        # (Debian's bash reads it for sshd's commands otherwise).
        with open(self.config_path, "w") as f:
            f.write(f"Port {self.port}\n"
                    "ListenAddress 127.0.0.1\n"
                    f"HostKey {self.host_key}\n"
                    f"PidFile {self.pid_path}\n"
                    f"AuthorizedKeysFile {self.authorized_keys}\n"
                    "UsePAM no\n"
                    "StrictModes no\n"
                    "PubkeyAuthentication yes\n"
                    "PasswordAuthentication no\n"
                    "KbdInteractiveAuthentication no\n"
                    "PermitRootLogin prohibit-password\n"
                    "AllowTcpForwarding no\n"
                    "X11Forwarding no\n"
                    "PrintMotd no\n"
                    "MaxStartups 100\n"
                    "SetEnv SHLVL=1\n"
                    "LogLevel VERBOSE\n")
        with open(self.known_hosts_file, "w") as f:
            f.write(self.known_hosts_line())
        self._spawn([self.sshd, "-D", "-e", "-f", self.config_path])

    def _answers(self):
        return ssh_banner_answers("127.0.0.1", self.port)


if __name__ == "__main__":
    # A self-check by hand: /usr/bin/python3 sshd.py
    started = time.monotonic()
    with SshServer() as sshd:
        print(f"sshd up in {time.monotonic() - started:.2f}s on port {sshd.port} as {sshd.user}")
        print("command:", sshd.ssh("echo hello; id -un").stdout.split())
        hashed = sshd.write_hashed_known_hosts()
        print("hashed known_hosts:", sshd.ssh("true", known_hosts_file=hashed).returncode == 0)
        other = sshd.generate_key("other")
        refused = sshd.ssh("true", identity_file=other)
        print("other key refused:", refused.returncode != 0, refused.stderr.strip()[-60:])
        t = time.monotonic()
        sshd.restart()
        print(f"restart {time.monotonic() - t:.2f}s, same port:",
              sshd.ssh("true").returncode == 0)
        sshd.pause()
        paused = sshd.ssh("true", timeout=30, connect_timeout=1)
        sshd.resume()
        print("paused: no answer:", paused.returncode != 0, paused.stderr.strip()[-50:],
              "; resumed:", sshd.ssh("true").returncode == 0)
        sshd.pause()
        root = sshd.root
    print("cleaned:", not os.path.exists(root))
