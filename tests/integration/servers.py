"""Real MariaDB and Redis servers for tests and benchmarks, each private to its user.

Each server runs on 127.0.0.1 on a free port, with its data, socket, pid file
and log in a temporary directory of its own. It can be stopped and started
again on the same port with the same data (a restart), killed with SIGKILL (a
crash), and closed (process killed, directory removed). Both are context
managers, and `for_test(test)` registers the cleanup with a unittest.TestCase,
so nothing outlives a failing test. A missing server binary raises
unittest.SkipTest naming the Debian package to install.

    with MariaDbServer() as db, RedisServer() as redis:
        db.url()            # "mysql://baton@127.0.0.1:PORT/baton"
        db.password         # the password of user `baton` (random)
        db.create_database("other")
        db.query("SELECT state FROM task_instance")   # [("success",), ...]
        redis.url()         # "redis://127.0.0.1:PORT/0"
        redis.restart(wipe=True)   # the same port, every key lost
        db.restart()               # the same port and data
        db.cpu_seconds()           # the server's user + system CPU time so far

Works as root (mariadbd then needs --user=root) and as any other user. Start-up
polls the server until it answers; nothing sleeps a fixed time.
"""

import atexit
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

# How long a server gets to answer after it was started, or to exit after it
# was asked to.
START_TIMEOUT = 60
STOP_TIMEOUT = 30
POLL_INTERVAL = 0.02


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _find_binary(names, package):
    for name in names:
        for directory in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
            path = os.path.join(directory, name)
            if os.access(path, os.X_OK):
                return path
        found = shutil.which(name)
        if found:
            return found
    raise unittest.SkipTest(f"{' or '.join(names)} is not installed (Debian package {package})")


def _cpu_seconds(pid):
    """utime + stime of a live process, in seconds (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    # The command name (field 2) may hold spaces; the fields after it are fixed.
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def _tail(path, lines=60):
    try:
        with open(path, errors="replace") as f:
            return "\n".join(f.read().splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _Server:
    """What both servers share: a temporary directory, one child process, its log."""

    kind = "server"

    def __init__(self, prefix):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.port = None
        self.process = None
        self.log_path = os.path.join(self.root, "server.log")
        self._cpu_before = 0.0  # CPU time of earlier incarnations, for cpu_seconds()
        self._closed = False

    # ----- lifetime ----------------------------------------------------------

    @classmethod
    def for_test(cls, test, **kwargs):
        """A started server that `test` closes in its cleanup, and whose log it
        shows on failure when `test` has add_diagnostic (harness.BatonTestCase)."""
        server = cls(**kwargs)
        test.addCleanup(server.close)
        add = getattr(test, "add_diagnostic", None)
        if add is not None:
            test.addCleanup(lambda: add(f"{server.kind} log ({server.root})",
                                        _tail(server.log_path, 80)))
        return server

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # A last resort: a forgotten server must not outlive the interpreter.
        if not getattr(self, "_closed", True):
            self.close()

    @property
    def pid(self):
        return self.process.pid if self.running() else None

    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        """Starts the server on its port with its data; returns once it answers."""
        if self.running():
            return
        self._launch()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with status {self.process.returncode} "
                                   f"while starting on port {self.port}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.kind} did not answer on port {self.port} within "
                                   f"{START_TIMEOUT}s:\n{self.log()}")
            time.sleep(POLL_INTERVAL)

    def stop(self):
        """SIGTERM: a clean shutdown. Returns once the process has exited."""
        if not self.running():
            return
        self._cpu_before += _cpu_seconds(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"{self.kind} did not exit within {STOP_TIMEOUT}s of SIGTERM:\n"
                               f"{self.log()}")

    def kill(self):
        """SIGKILL: a crash, no chance to flush or say goodbye."""
        if not self.running():
            return
        self._cpu_before += _cpu_seconds(self.process.pid)
        self.process.kill()
        self.process.wait()

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        """Kills the server and removes its directory; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    # ----- facts -------------------------------------------------------------

    def cpu_seconds(self):
        """User + system CPU time of the server process, over all its starts."""
        current = _cpu_seconds(self.process.pid) if self.running() else 0.0
        return self._cpu_before + current

    def log(self, lines=60):
        return _tail(self.log_path, lines)

    # ----- for subclasses ----------------------------------------------------

    def _start_on_a_free_port(self, attempts=3):
        """The first start, on a port found free; on another when that one was
        taken between free_port() and the server's bind."""
        for attempt in range(attempts):
            self.port = free_port()
            try:
                self.start()
                return
            except RuntimeError:
                if attempt == attempts - 1 or "already in use" not in self.log(20):
                    raise

    def _spawn(self, argv):
        log = open(self.log_path, "a")
        try:
            # A session of its own: a Ctrl-C to the test runner must not reach it.
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            cwd=self.root)
        finally:
            log.close()

    def _launch(self):
        raise NotImplementedError

    def _answers(self):
        raise NotImplementedError


# ----- MariaDB ---------------------------------------------------------------

# mariadb-install-db runs once per process into this template; each server copies it.
_template_lock = threading.Lock()
_template_dir = None

# Options given both to mariadb-install-db and to mariadbd, so the files it makes
# fit the server that opens them. Small: a test database holds little.
_INNODB_OPTIONS = [
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
]


def _as_root():
    return os.geteuid() == 0


def _template_datadir(install_db):
    global _template_dir
    with _template_lock:
        if _template_dir is not None:
            return os.path.join(_template_dir, "data")
        root = tempfile.mkdtemp(prefix="baton-mariadb-template-")
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        datadir = os.path.join(root, "data")
        argv = [install_db, "--no-defaults", f"--datadir={datadir}",
                "--auth-root-authentication-method=normal", "--skip-test-db",
                "--skip-name-resolve", *_INNODB_OPTIONS]
        if _as_root():
            argv.append("--user=root")
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=120, cwd=root)
        if result.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"mariadb-install-db failed ({result.returncode}):\n"
                               f"{result.stdout}\n{result.stderr}")
        _template_dir = root
        return datadir


class MariaDbServer(_Server):
    """A private mariadbd with a user `baton` (random password) and a database.

    `url()` is what `[store] url` takes; the password goes in $BATON_STORE_PASSWORD.
    root has no password and is reached over the server's own socket (`query`).
    """

    kind = "mariadb"
    user = "baton"

    def __init__(self, database="baton", start=True):
        self.mariadbd = _find_binary(["mariadbd", "mysqld"], "mariadb-server")
        self.client = _find_binary(["mariadb", "mysql"], "mariadb-client")
        install_db = _find_binary(["mariadb-install-db", "mysql_install_db"], "mariadb-server")
        super().__init__("baton-mariadb-")
        self.database = database
        self.password = secrets.token_hex(12)
        self.datadir = os.path.join(self.root, "data")
        self.socket_path = os.path.join(self.root, "mysqld.sock")
        self.pid_path = os.path.join(self.root, "mysqld.pid")
        self.tmpdir = os.path.join(self.root, "tmp")
        os.makedirs(self.tmpdir)
        try:
            shutil.copytree(_template_datadir(install_db), self.datadir, symlinks=True)
            if start:
                self._first_start()
        except BaseException:
            self.close()
            raise

    def _first_start(self):
        self._start_on_a_free_port()
        self.query(f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}'")
        self.create_database(self.database)

    def url(self, database=None):
        """mysql://baton@127.0.0.1:PORT/DATABASE (the password is not in it)."""
        return f"mysql://{self.user}@127.0.0.1:{self.port}/{database or self.database}"

    def create_database(self, name):
        """Creates database `name` (if missing) and lets user `baton` do anything in it."""
        self.query(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        self.query(f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{self.user}'@'%'")

    def drop_database(self, name):
        self.query(f"DROP DATABASE IF EXISTS `{name}`")

    def query(self, sql, database=None, timeout=30):
        """Runs SQL as root; returns the result rows as tuples of strings (NULL: None)."""
        argv = [self.client, "--no-defaults", f"--socket={self.socket_path}", "--user=root",
                "--batch", "--skip-column-names", "--raw", "--execute", sql]
        if database:
            argv.append(database)
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb query failed ({result.returncode}): {sql}\n"
                               f"{result.stderr.strip()}")
        rows = []
        for line in result.stdout.splitlines():
            rows.append(tuple(None if v == "NULL" else v for v in line.split("\t")))
        return rows

    def _launch(self):
        argv = [self.mariadbd, "--no-defaults",
                f"--datadir={self.datadir}",
                f"--socket={self.socket_path}",
                f"--pid-file={self.pid_path}",
                f"--tmpdir={self.tmpdir}",
                f"--log-error={self.log_path}",
                "--bind-address=127.0.0.1",
                f"--port={self.port}",
                "--skip-log-bin",
                "--skip-name-resolve",
                "--performance-schema=OFF",
                "--max-connections=500",
                *_INNODB_OPTIONS,
                # Test data need not survive a crash of the machine, only of the
                # server: commits reach the OS at once, the disk within a second.
                "--innodb-flush-log-at-trx-commit=2"]
        if _as_root():
            argv.append("--user=root")  # mariadbd refuses to run as root otherwise
        self._spawn(argv)

    def _answers(self):
        # The server opens its sockets once it is ready for connections; its
        # handshake is the answer (protocol version 10 in the first payload byte).
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                header = connection.recv(5)
                return len(header) == 5 and header[4] == 10
        except OSError:
            return False


# ----- Redis -----------------------------------------------------------------


class RedisServer(_Server):
    """A private redis-server without persistence, database 0.

    restart(wipe=True) loses every key, as when Redis is restarted without
    persistence or flushed; restart(wipe=False) keeps them (saved on the way down).
    """

    kind = "redis"

    def __init__(self, start=True):
        self.redis_server = _find_binary(["redis-server"], "redis-server")
        super().__init__("baton-redis-")
        self.data_dir = os.path.join(self.root, "data")
        os.makedirs(self.data_dir)
        if start:
            try:
                self._start_on_a_free_port()
            except BaseException:
                self.close()
                raise

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def command(self, *args, timeout=10):
        """Sends one command; returns the reply (bytes, int, list or None); raises
        RuntimeError on an error reply. No dependency on a Redis client library."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as connection:
            payload = f"*{len(args)}\r\n".encode()
            for arg in args:
                data = arg if isinstance(arg, bytes) else str(arg).encode()
                payload += f"${len(data)}\r\n".encode() + data + b"\r\n"
            connection.sendall(payload)
            return _read_reply(connection.makefile("rb"))

    def client(self, **kwargs):
        """A redis-py client (Debian's python3-redis) on this server, decoding to str."""
        try:
            import redis
        except ImportError:
            raise unittest.SkipTest("python3-redis is not installed")
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, decode_responses=True,
                           socket_timeout=10, **kwargs)

    def stop(self, save=False):
        """A clean shutdown; with `save`, every key is written to disk first and
        comes back at the next start."""
        if save and self.running():
            try:
                self.command("SHUTDOWN", "SAVE")
            except (OSError, RuntimeError):
                pass  # the connection closes as the server exits
        super().stop()

    def restart(self, wipe=True):
        """Stops and starts on the same port; `wipe` loses every key."""
        self.stop(save=not wipe)
        if wipe:
            for name in os.listdir(self.data_dir):
                os.remove(os.path.join(self.data_dir, name))
        self.start()

    def _launch(self):
        self._spawn([self.redis_server,
                     "--bind", "127.0.0.1",
                     "--port", str(self.port),
                     "--dir", self.data_dir,
                     "--save", "",
                     "--appendonly", "no",
                     "--daemonize", "no",
                     "--protected-mode", "no",
                     "--logfile", "",  # to stdout, which is the log file
                     "--databases", "16"])

    def _answers(self):
        try:
            return self.command("PING", timeout=1) == b"PONG"
        except (OSError, RuntimeError):
            return False


def _read_reply(stream):
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError(rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return None
        data = stream.read(length + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        return [_read_reply(stream) for _ in range(count)]
    raise OSError(f"unexpected reply {line!r}")


if __name__ == "__main__":
    # A self-check by hand: /usr/bin/python3 servers.py
    started = time.monotonic()
    with MariaDbServer() as db, RedisServer() as redis_server:
        print(f"both up in {time.monotonic() - started:.2f}s: {db.url()} {redis_server.url()}")
        db.query("CREATE TABLE t (v INT)", database="baton")
        db.query("INSERT INTO t VALUES (1), (2)", database="baton")
        redis_server.command("SET", "k", "v")
        t = time.monotonic()
        db.restart()
        print(f"mariadb restart {time.monotonic() - t:.2f}s, rows {db.query('SELECT v FROM t', 'baton')}")
        t = time.monotonic()
        db.kill()
        db.start()
        print(f"mariadb kill+start {time.monotonic() - t:.2f}s, rows {db.query('SELECT v FROM t', 'baton')}")
        t = time.monotonic()
        redis_server.restart(wipe=False)
        print(f"redis restart kept k={redis_server.command('GET', 'k')} in {time.monotonic() - t:.2f}s")
        redis_server.restart(wipe=True)
        print(f"redis restart wiped k={redis_server.command('GET', 'k')}")
        print(f"cpu: mariadb {db.cpu_seconds():.2f}s redis {redis_server.cpu_seconds():.2f}s")
        check = subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{db.port}",
                                "-ubaton", f"-p{db.password}", "-e", "SELECT CURRENT_USER()",
                                "baton"], capture_output=True, text=True)
        print("baton user over TCP:", check.stdout.split(), check.stderr.strip())
        r = redis_server.client()
        print("redis-py ping:", r.ping())
        root = db.root
    print("cleaned:", not os.path.exists(root))
