# SPDX-License-Identifier: ISC
"""fgtest - what the contrib/ integration tests share (TAP, ports, waiting).

The tests of contrib/php, contrib/nginx and contrib/python are unittest
modules that start a real server from Debian on loopback and print TAP for
automake's driver.  This module holds the parts they have in common:

  main()            runs the calling module's tests and prints TAP
  skip_all(why)     the plan "1..0 # SKIP why" (a missing server)
  free_port()       a free TCP port in 21000-21999 (this suite's range)
  seg_name(tag)     a segment name "fg-int-..." unique to this process
  wait_for(...)     polls a condition until an absolute deadline: tests
                    never sleep to synchronise
  children(pid)     the live children of a server's master
  run_ab(...)       ab's counts of a load run
  stop(proc)        SIGTERM, then SIGKILL past a deadline

Needs the Python binding (floodgate) on sys.path for Owner.
"""
import os
import fcntl
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

PORTS = (21000, 21999)
HOUR_MS = 3600 * 1000
_seq = 0
_held = []  # the port locks this process holds


def skip_all(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


def seg_name(tag):
    global _seq
    _seq += 1
    return "fg-int-%s-%d-%d" % (tag[:16], os.getpid(), _seq)


def _port_lock(port):
    """Hold the lock of @port for the rest of this process (tests/ports.h
    locks the C tests' blocks the same way, in another range): another
    test of the run that checked the port free before we bound it would
    otherwise bind it too."""
    d = "/tmp/fg-test-ports-%d" % os.getuid()
    os.makedirs(d, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(d, "p%d" % port),
                 os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def free_port():
    """A TCP port of PORTS nobody listens on and no other test of the run
    holds: its lock is ours until we exit.  The start depends on the pid
    and on the calls so far, so that parallel test processes seldom try
    the same ones first."""
    global _seq
    _seq += 1
    lo, hi = PORTS
    n = hi - lo + 1
    start = (os.getpid() * 7919 + _seq * 101) % n
    for i in range(n):
        port = lo + (start + i * 13) % n
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        if _port_lock(port):
            return port
    raise RuntimeError("no free port in %d-%d" % PORTS)


def wait_for(cond, seconds, what, interval=0.01):
    """Call cond() until it returns a true value, which is returned; fail
    with `what` when the deadline passes first."""
    deadline = time.monotonic() + seconds
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %g s" % (what, seconds))
        time.sleep(interval)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def run_ab(url, n, c, headers=()):
    """ab's counts: (complete, non-2xx, failed connects + receives +
    exceptions)."""
    cmd = ["ab", "-q", "-n", str(n), "-c", str(c)]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise AssertionError("ab failed: %s %s" % (out.stdout, out.stderr))

    def field(name):
        m = re.search(r"^%s:\s+(\d+)" % re.escape(name), out.stdout, re.M)
        return int(m.group(1)) if m else 0

    m = re.search(r"Failed requests:.*\n\s+\(Connect: (\d+), Receive: (\d+), "
                  r"Length: \d+, Exceptions: (\d+)\)", out.stdout)
    broken = sum(int(x) for x in m.groups()) if m else 0
    return field("Complete requests"), field("Non-2xx responses"), broken


def stop(proc, seconds=20, sig=signal.SIGTERM):
    """Stop a subprocess.Popen: sig, then SIGKILL after `seconds`."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


# ---------------------------------------------------------------- TAP

class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n,
                                test.id().split(".", 1)[-1], extra))
        sys.stdout.flush()

    def _diag(self, text):
        for line in text.rstrip().splitlines():
            print("# " + line)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._diag(self.failures[-1][1])
        self._line(False, test)

    def addError(self, test, err):
        super().addError(test, err)
        self._diag(self.errors[-1][1])
        self._line(False, test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP " + reason)


def main(module_name="__main__"):
    """Run the tests of a module (or those named on the command line) and
    print TAP; return the exit status."""
    module = sys.modules[module_name]
    loader = unittest.defaultTestLoader
    if len(sys.argv) > 1:
        suite = loader.loadTestsFromNames(sys.argv[1:], module)
    else:
        suite = loader.loadTestsFromModule(module)
    print("1..%d" % suite.countTestCases())
    sys.stdout.flush()
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1
