"""test_floodgate - tests of the Python binding and the WSGI middleware (TAP).

Run by contrib/python/test-python.sh from make check.  Every test makes its
own segment, named after the pid and the test, with fg_create through
floodgate.Owner, and unlinks it afterwards.

The counting tests use rules that refill one token an hour: during a test
that lasts seconds nothing refills, so the token-bucket math says exactly
`capacity` requests of one key are admitted, however many processes ask.

The gunicorn tests run Debian's gunicorn with four sync workers on
loopback (a port in 23000-23999), once with the middleware built in each
worker and once with --preload (built in the master, before fork), and
drive it with ab from 8 connections.
"""
import contextlib
import io
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

import floodgate
import floodgate_wsgi

HOUR_MS = 3600 * 1000
PID = os.getpid()
_seq = 0


def seg_name(tag):
    global _seq
    _seq += 1
    return "fgpy-%d-%d-%s" % (PID, _seq, tag)


class SegmentCase(unittest.TestCase):
    """A fresh segment with rule "t" (capacity CAP, one token an hour)."""
    CAP = 5

    def setUp(self):
        self.seg = seg_name(self.id().rsplit(".", 1)[-1][:20])
        self.owner = floodgate.Owner(self.seg, capacity=1024)
        self.owner.set_rule("t", self.CAP, 1, HOUR_MS)

    def tearDown(self):
        self.owner.unlink()
        self.owner.close()


class TestBinding(SegmentCase):
    def test_decisions_follow_the_bucket_then_deny(self):
        with floodgate.Client(self.seg) as c:
            for i in range(self.CAP):
                d = c.allow("t", "alice")
                self.assertTrue(d.allowed)
                self.assertTrue(d)
                self.assertEqual(d.limit, self.CAP)
                self.assertEqual(d.remaining, self.CAP - 1 - i)
                self.assertEqual(d.retry_after_ms, 0)
                self.assertEqual(d.flags, 0)
            d = c.allow("t", "alice")
            self.assertFalse(d.allowed)
            self.assertEqual(d.remaining, 0)
            # one token an hour: the next one is at most an hour away
            self.assertGreater(d.retry_after_ms, HOUR_MS - 60000)
            self.assertLessEqual(d.retry_after_ms, HOUR_MS)
            self.assertGreaterEqual(d.retry_after, 3540)
            self.assertGreater(d.reset_ms, d.retry_after_ms)
            # another key has its own full bucket
            self.assertEqual(c.allow("t", b"bob").remaining, self.CAP - 1)

    def test_cost_takes_that_many_tokens(self):
        with floodgate.Client(self.seg) as c:
            self.assertEqual(c.allow("t", "k", cost=3).remaining, 2)
            self.assertFalse(c.allow("t", "k", cost=3).allowed)
            self.assertTrue(c.allow("t", "k", cost=2).allowed)

    def test_allow_request_uses_the_endpoint_rule(self):
        with floodgate.Client(self.seg) as c:
            got = [c.allow_request("u", "t") for _ in range(self.CAP + 1)]
        self.assertEqual(got, [True] * self.CAP + [False])

    def test_default_segment_comes_from_the_environment(self):
        old = os.environ.get("FLOODGATE_SEGMENT")
        os.environ["FLOODGATE_SEGMENT"] = self.seg
        try:
            with floodgate.Client() as c:
                self.assertTrue(c.allow("t", "env").allowed)
        finally:
            if old is None:
                del os.environ["FLOODGATE_SEGMENT"]
            else:
                os.environ["FLOODGATE_SEGMENT"] = old

    def test_stats_count_admitted_and_denied(self):
        with floodgate.Client(self.seg) as c:
            for _ in range(self.CAP + 2):
                c.allow("t", "s")
            st = c.stats()
        self.assertEqual((st["consumed"], st["denied"]), (self.CAP, 2))


class TestErrors(SegmentCase):
    def assertFgError(self, code, fn, *args, **kw):
        with self.assertRaises(floodgate.Error) as cm:
            fn(*args, **kw)
        e = cm.exception
        self.assertEqual(e.code, code)
        self.assertEqual(e.name, floodgate.ERROR_NAMES[code])
        # the message is the library's own
        self.assertTrue(e.message.startswith(floodgate.strerror(code)), e)
        self.assertIn(floodgate.strerror(code), str(e))
        return e

    def test_missing_segment_raises_enoseg(self):
        self.assertFgError(floodgate.ENOSEG, floodgate.Client,
                           seg_name("absent"))

    def test_invalid_segment_name_raises_ename(self):
        self.assertFgError(floodgate.ENAME, floodgate.Client, "a/b")

    def test_unknown_rule_raises_enorule(self):
        with floodgate.Client(self.seg) as c:
            e = self.assertFgError(floodgate.ENORULE, c.allow, "nope", "k")
            self.assertIn("nope", str(e))

    def test_bad_keys_raise_and_consume_nothing(self):
        with floodgate.Client(self.seg) as c:
            self.assertFgError(floodgate.EKEY, c.allow, "t", "")
            self.assertFgError(floodgate.EKEYLEN, c.allow, "t",
                               "x" * (floodgate.KEY_MAX + 1))
            self.assertFgError(floodgate.EINVAL, c.allow, "t", "a\0b")
            self.assertEqual(c.allow("t", "x" * floodgate.KEY_MAX).remaining,
                             self.CAP - 1)
            self.assertEqual(c.stats()["consumed"], 1)

    def test_bad_costs_raise_ecost(self):
        with floodgate.Client(self.seg) as c:
            self.assertFgError(floodgate.ECOST, c.allow, "t", "k", cost=0)
            self.assertFgError(floodgate.ECOST, c.allow, "t", "k",
                               cost=self.CAP + 1)
            self.assertFgError(floodgate.ECOST, c.allow, "t", "k", cost=-1)
            self.assertFgError(floodgate.ECOST, c.allow, "t", "k",
                               cost=1 << 32)

    def test_closed_client_raises_einval(self):
        c = floodgate.Client(self.seg)
        c.close()
        c.close()  # idempotent
        self.assertFgError(floodgate.EINVAL, c.allow, "t", "k")

    def test_owner_rejects_invalid_rule(self):
        self.assertFgError(floodgate.ERULE, self.owner.set_rule, "z", 0, 1, 1)


def _wait_child(pid, seconds):
    """Exit status of pid, or None (after killing it) if it is still
    running after seconds: a hung child fails the test instead of hanging
    make check."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        p, status = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


class TestFork(SegmentCase):
    CAP = 1000
    CHILDREN = 4

    def test_client_made_before_fork_admits_exactly_capacity(self):
        c = floodgate.Client(self.seg)
        pids = []
        rfd, wfd = os.pipe()
        for _ in range(self.CHILDREN):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    os.close(rfd)
                    n = sum(c.allow("t", "shared").allowed
                            for _ in range(self.CAP))
                    c.close()  # the child's copy only
                    os.write(wfd, b"%d\n" % n)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        os.close(wfd)
        with os.fdopen(rfd) as r:
            counts = [int(x) for x in r.read().split()]
        self.assertEqual([_wait_child(p, 60) for p in pids],
                         [0] * self.CHILDREN)
        self.assertEqual(len(counts), self.CHILDREN)
        # 4000 checks of one key from four processes: one bucket's worth
        self.assertEqual(sum(counts), self.CAP)
        # the children closed their copies; the parent's handle still works
        self.assertFalse(c.allow("t", "shared").allowed)
        self.assertEqual(c.allow("t", "other").remaining, self.CAP - 1)
        c.close()

    def test_child_is_not_blocked_by_a_lock_held_at_fork(self):
        c = floodgate.Client(self.seg)
        c._lock.acquire()  # as another thread mid-check would hold it
        try:
            pid = os.fork()
            if pid == 0:
                try:
                    ok = c.allow("t", "forked").allowed
                finally:
                    os._exit(0 if ok else 2)
        finally:
            c._lock.release()
        self.assertEqual(_wait_child(pid, 20), 0)
        c.close()


class FakeResponse:
    def __init__(self):
        self.status = None
        self.headers = None

    def __call__(self, status, headers, exc_info=None):
        self.status = status
        self.headers = dict(headers)


def app_ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@contextlib.contextmanager
def captured_log():
    """A private logger and the text it receives."""
    global _seq
    _seq += 1
    log = logging.getLogger("floodgate.test%d" % _seq)
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    log.addHandler(handler)
    log.propagate = False
    try:
        yield log, buf
    finally:
        log.removeHandler(handler)


class TestMiddleware(SegmentCase):
    CAP = 2

    def call(self, mw, addr="192.0.2.1", **env):
        environ = {"REMOTE_ADDR": addr, "REQUEST_METHOD": "GET"}
        environ.update(env)
        r = FakeResponse()
        body = b"".join(mw(environ, r))
        return r, body

    def test_allowed_responses_carry_ratelimit_headers(self):
        mw = floodgate_wsgi.RateLimit(app_ok, rule="t", segment=self.seg)
        r, body = self.call(mw)
        self.assertEqual((r.status, body), ("200 OK", b"ok"))
        self.assertEqual(r.headers["RateLimit-Limit"], "2")
        self.assertEqual(r.headers["RateLimit-Remaining"], "1")
        self.assertEqual(r.headers["RateLimit-Reset"], "3600")
        self.assertNotIn("Retry-After", r.headers)
        mw.close()

    def test_denied_requests_get_429_with_headers(self):
        mw = floodgate_wsgi.RateLimit(app_ok, rule="t", segment=self.seg)
        for _ in range(self.CAP):
            self.assertEqual(self.call(mw)[0].status, "200 OK")
        r, body = self.call(mw)
        self.assertEqual(r.status, "429 Too Many Requests")
        self.assertNotEqual(body, b"ok")
        self.assertEqual(r.headers["Retry-After"], "3600")
        self.assertEqual(r.headers["RateLimit-Limit"], "2")
        self.assertEqual(r.headers["RateLimit-Remaining"], "0")
        self.assertEqual(int(r.headers["RateLimit-Reset"]), 7200)
        # another address is not affected
        self.assertEqual(self.call(mw, addr="192.0.2.2")[0].status, "200 OK")
        mw.close()

    def test_key_function_picks_the_bucket_and_none_exempts(self):
        mw = floodgate_wsgi.RateLimit(
            app_ok, rule="t", segment=self.seg, cost=2,
            key=lambda e: e.get("HTTP_X_USER"))
        self.assertEqual(self.call(mw, HTTP_X_USER="a")[0].status, "200 OK")
        self.assertEqual(self.call(mw, HTTP_X_USER="a")[0].status[:3], "429")
        r, _ = self.call(mw)  # no header: not limited, no headers
        self.assertEqual(r.status, "200 OK")
        self.assertNotIn("RateLimit-Limit", r.headers)
        mw.close()

    def test_long_keys_are_hashed_not_truncated(self):
        mw = floodgate_wsgi.RateLimit(app_ok, rule="t", segment=self.seg,
                                      key=lambda e: e["HTTP_X_USER"])
        long_a = "p" * 100 + "a"
        long_b = "p" * 100 + "b"
        for _ in range(self.CAP):
            self.assertEqual(self.call(mw, HTTP_X_USER=long_a)[0].status,
                             "200 OK")
        self.assertEqual(self.call(mw, HTTP_X_USER=long_a)[0].status[:3],
                         "429")
        self.assertEqual(self.call(mw, HTTP_X_USER=long_b)[0].status,
                         "200 OK")
        mw.close()

    def test_missing_segment_fails_open_logged_once_then_attaches(self):
        absent = seg_name("late")
        with captured_log() as (log, buf):
            mw = floodgate_wsgi.RateLimit(app_ok, rule="t", segment=absent,
                                          retry_interval=0, logger=log)
            for _ in range(5):
                r, body = self.call(mw)
                self.assertEqual((r.status, body), ("200 OK", b"ok"))
                self.assertNotIn("RateLimit-Limit", r.headers)
            self.assertEqual(buf.getvalue().count("cannot attach"), 1)
            self.assertIn("segment does not exist", buf.getvalue())
            # the segment appears: the next request attaches and is limited
            late = floodgate.Owner(absent, capacity=64)
            try:
                late.set_rule("t", 1, 1, HOUR_MS)
                self.assertEqual(self.call(mw)[0].status, "200 OK")
                self.assertEqual(self.call(mw)[0].status[:3], "429")
                self.assertIn("limiting again", buf.getvalue())
            finally:
                late.unlink()
                late.close()
            mw.close()

    def test_unknown_rule_fails_open_logged_once(self):
        with captured_log() as (log, buf):
            mw = floodgate_wsgi.RateLimit(app_ok, rule="missing",
                                          segment=self.seg, logger=log)
            for _ in range(3):
                self.assertEqual(self.call(mw)[0].status, "200 OK")
            self.assertEqual(buf.getvalue().count("cannot be checked"), 1)
            mw.close()


# ---------------------------------------------------------------- gunicorn

def free_port():
    """A free TCP port on loopback in 23000-23999 (this suite's range)."""
    start = 23000 + (PID * 7) % 1000
    for i in range(1000):
        port = 23000 + (start - 23000 + i) % 1000
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in 23000-23999")


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return f.read().split()
    except OSError:
        return []


def run_ab(url, n, c):
    """ab's counts: (complete, non-2xx, failed connects + exceptions)."""
    out = subprocess.run(["ab", "-q", "-n", str(n), "-c", str(c), url],
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise AssertionError("ab failed: %s %s" % (out.stdout, out.stderr))

    def field(name):
        m = re.search(r"^%s:\s+(\d+)" % re.escape(name), out.stdout, re.M)
        return int(m.group(1)) if m else 0

    m = re.search(r"Failed requests:.*\n\s+\(Connect: (\d+), Receive: (\d+), "
                  r"Length: \d+, Exceptions: (\d+)\)", out.stdout)
    broken = sum(int(x) for x in m.groups()) if m else 0
    return field("Complete requests"), field("Non-2xx responses"), broken


class GunicornServer:
    def __init__(self, seg, workers, preload):
        self.port = free_port()
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, FG_TEST_SEGMENT=seg, FG_TEST_RULE="t",
                   PYTHONPATH=here)
        cmd = [shutil.which("gunicorn"), "-w", str(workers), "-k", "sync",
               "-b", "127.0.0.1:%d" % self.port, "--log-level", "warning",
               "--graceful-timeout", "5"]
        if preload:
            cmd.append("--preload")
        cmd.append("testapp:application")
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.workers = workers

    def wait_ready(self, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("gunicorn exited: " +
                                     self.proc.stderr.read())
            if len(children(self.proc.pid)) >= self.workers:
                try:
                    socket.create_connection(("127.0.0.1", self.port),
                                             timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("gunicorn not ready in %d s" % seconds)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read()


@unittest.skipUnless(shutil.which("gunicorn") and shutil.which("ab"),
                     "gunicorn or ab (apache2-utils) not installed")
class TestGunicorn(SegmentCase):
    CAP = 400
    REQUESTS = 1200
    WORKERS = 4

    def run_server(self, preload):
        srv = GunicornServer(self.seg, self.WORKERS, preload)
        try:
            srv.wait_ready()
            url = "http://127.0.0.1:%d/" % srv.port
            # one request first: an allowed response and its headers
            with urllib.request.urlopen(url, timeout=10) as r:
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers["RateLimit-Limit"], str(self.CAP))
                self.assertEqual(r.headers["RateLimit-Remaining"],
                                 str(self.CAP - 1))
                self.assertEqual(r.headers["RateLimit-Reset"], "3600")
            complete, non2xx, broken = run_ab(url, self.REQUESTS, 8)
            self.assertEqual((complete, broken), (self.REQUESTS, 0))
            # exactly the bucket: CAP tokens, nothing refills in an hour
            self.assertEqual(complete - non2xx, self.CAP - 1)
            st = self.owner.stats()
            self.assertEqual(st["consumed"], self.CAP)
            self.assertEqual(st["denied"], self.REQUESTS - self.CAP + 1)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(url, timeout=10)
            h = cm.exception.headers
            self.assertEqual(cm.exception.code, 429)
            self.assertGreaterEqual(int(h["Retry-After"]), 3500)
            self.assertEqual(h["RateLimit-Limit"], str(self.CAP))
            self.assertEqual(h["RateLimit-Remaining"], "0")
            self.assertGreater(int(h["RateLimit-Reset"]), 3600)
        finally:
            err = srv.stop()
        self.assertNotIn("Traceback", err)
        self.assertNotIn("floodgate:", err)  # never failed open

    def test_sync_workers_admit_exactly_the_bucket(self):
        self.run_server(preload=False)

    def test_preloaded_middleware_shared_across_fork_admits_exactly(self):
        self.run_server(preload=True)


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


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__])
    if len(sys.argv) > 1:
        suite = unittest.defaultTestLoader.loadTestsFromNames(
            sys.argv[1:], sys.modules[__name__])
    print("1..%d" % suite.countTestCases())
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
