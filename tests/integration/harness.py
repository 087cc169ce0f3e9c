"""Integration-test harness: starts the real binaries on free loopback ports,
waits for them, and always stops every process it started, by pid."""
import os
import re
import signal
import socket
import subprocess
import time

BUILD = os.environ.get("XG_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def binary(name):
    """Absolute path of a built binary (xdsgate, control-plane-stub, ...)."""
    return os.path.abspath(os.path.join(BUILD, name))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0):
    """Waits until something accepts on host:port; raises on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listening on %s:%d after %.1fs" % (host, port, timeout))


class Proc:
    """A started process whose stdout and stderr go to files in workdir."""

    def __init__(self, argv, name, workdir, env=None, stdin=None):
        self.name = name
        self.argv = argv
        self.out_path = os.path.join(workdir, name + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.p = subprocess.Popen(argv, stdout=self._out, stderr=self._err, env=full_env,
                                  stdin=stdin if stdin is not None else subprocess.DEVNULL)
        self.pid = self.p.pid

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def wait_output(self, pattern, timeout=10.0, stream="both", start=0):
        """Waits until regex pattern appears in the output; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self._text(stream)[start:]
            m = rx.search(text)
            if m:
                return m
            if time.monotonic() > deadline:
                raise TimeoutError("%s: /%s/ not seen in %.1fs; stderr tail:\n%s" % (
                    self.name, pattern, timeout, self.stderr()[-3000:]))
            if not self.alive():
                text = self._text(stream)[start:]
                m = rx.search(text)
                if m:
                    return m
                raise RuntimeError("%s exited with %s before /%s/; stderr tail:\n%s" % (
                    self.name, self.p.returncode, pattern, self.stderr()[-3000:]))
            time.sleep(0.05)

    def _text(self, stream):
        if stream == "stdout":
            return self.stdout()
        if stream == "stderr":
            return self.stderr()
        return self.stdout() + self.stderr()

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=10.0):
        """Waits for exit; returns the exit code (negative for a signal)."""
        return self.p.wait(timeout=timeout)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit code."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait()
        self._out.close()
        self._err.close()
        return self.p.returncode


class Procs:
    """Tracks the processes a test starts; stop_all() ends every one."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.started = []

    def start(self, argv, name=None, env=None, stdin=None):
        name = name or os.path.basename(argv[0])
        p = Proc(argv, "%s-%d" % (name, len(self.started)), self.workdir, env=env, stdin=stdin)
        self.started.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.started):
            try:
                p.stop()
            except Exception:  # keep stopping the others
                if p.alive():
                    os.kill(p.pid, signal.SIGKILL)
