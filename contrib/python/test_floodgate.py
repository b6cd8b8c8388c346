# SPDX-License-Identifier: ISC
"""test_floodgate - tests of the Python package: the binding, the WSGI
middleware, and the middleware in real gunicorn and uWSGI servers (TAP).

Run by contrib/python/test-python.sh from make check, which installs the
package (pip install ./contrib/python) into a venv and runs this file with
the venv's python from a directory without the sources, so what is tested
is the installed package.  Every test makes its own segment, named
fg-int-py-..., with fg_create through floodgate.Owner, and unlinks it
afterwards.

The counting tests use rules that refill one token an hour: during a test
that lasts seconds nothing refills, so the token-bucket math says exactly
`capacity` requests of one key are admitted, however many processes ask.

The server tests run Debian's gunicorn (four sync workers) and uWSGI (four
processes, python3 plugin, the venv's packages) on loopback (ports in
21000-21999), each with the middleware built in the master before fork
(gunicorn --preload; uWSGI's default) and in each worker (gunicorn's
default; uWSGI --lazy-apps), and drive them with ab from 8 connections.
"""
import contextlib
import http.client
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import fgtest
import floodgate
import floodgate_wsgi

HOUR_MS = fgtest.HOUR_MS
HERE = os.path.dirname(os.path.abspath(__file__))


def seg_name(tag):
    return fgtest.seg_name("py-" + tag)


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

    def test_ratelimit_headers_are_the_librarys_values(self):
        # CAP tokens, one an hour: full from empty in CAP hours; the
        # tokens taken at one instant come back an hour apart
        with floodgate.Client(self.seg) as c:
            d = c.allow("t", "h")
            self.assertEqual(c.ratelimit_headers(d), (
                '"t";q=%d;w=%d' % (self.CAP, self.CAP * 3600),
                '"t";r=%d;t=3600' % (self.CAP - 1)))
            self.owner.remove_rule("t")
            with self.assertRaises(floodgate.Error) as cm:
                c.ratelimit_headers(d)
            self.assertEqual(cm.exception.code, floodgate.ENORULE)

    def test_allow_many_admits_all_or_none(self):
        self.owner.set_rule("one", 1, 1, HOUR_MS)
        with floodgate.Client(self.seg) as c:
            d = c.allow_many([("t", "k", 1), ("one", "k", 1)])
            self.assertTrue(d.allowed)
            self.assertEqual(c.ratelimit_headers(d)[1], '"one";r=0;t=3600')
            d = c.allow_many([("t", "k", 1), ("one", "k", 1)])
            self.assertFalse(d.allowed)
            # "t" kept nothing of the denied request
            self.assertEqual(c.allow("t", "k").remaining, self.CAP - 2)
            with self.assertRaises(floodgate.Error) as cm:
                c.allow_many([("t", "k", 1), ("nope", "k", 1)])
            self.assertEqual(cm.exception.code, floodgate.ENORULE)
            with self.assertRaises(floodgate.Error) as cm:
                c.allow_many([])
            self.assertEqual(cm.exception.code, floodgate.EINVAL)

    def test_reserve_delays_up_to_the_rules_max_delay(self):
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=1500)
        with floodgate.Client(self.seg) as c:
            d, delay = c.reserve("d", "k")
            self.assertEqual((d.allowed, delay), (True, 0))
            d, delay = c.reserve("d", "k")
            self.assertTrue(d.allowed)
            self.assertGreater(delay, 900 * 10**6)
            self.assertLessEqual(delay, 10**9)
            d, delay = c.reserve("d", "k")  # 2 s away: beyond 1.5 s
            self.assertEqual((d.allowed, delay), (False, 0))

    def test_reserve_many_waits_for_the_slowest_or_takes_nothing(self):
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=1500)
        self.owner.set_rule("n", 10, 1, 3600000)  # no max-delay
        t = [("n", "k", 1), ("d", "k", 1)]
        with floodgate.Client(self.seg) as c:
            self.assertEqual(c.reserve_many(t)[1], 0)
            d, delay = c.reserve_many(t)
            self.assertTrue(d.allowed)
            self.assertGreater(delay, 900 * 10**6)
            self.assertLessEqual(delay, 10**9)
            d, delay = c.reserve_many(t)  # d 2 s away: beyond 1.5 s
            self.assertEqual((d.allowed, delay), (False, 0))
            # n paid for the two reserved only: 8 left
            self.assertEqual(c.allow_many([("n", "k", 8)]).allowed, True)
            self.assertEqual(c.allow_many([("n", "k", 1)]).allowed, False)
            with self.assertRaises(floodgate.Error) as cm:
                c.reserve_many([("n", "k", 1), ("nosuch", "k", 1)])
            self.assertEqual(cm.exception.code, floodgate.ENORULE)

    def test_a_penalty_blocks_a_key_denied_3_times_within_10s(self):
        self.owner.set_rule("p", 1, 1, 3600000, penalty=(3, 10000, 30000))
        with floodgate.Client(self.seg) as c:
            info = c.rule("p")
            self.assertEqual((info["penalty_denials"],
                              info["penalty_window_ms"],
                              info["penalty_block_ms"], info["penalties"]),
                             (3, 10000, 30000, 0))
            self.assertTrue(info["flags"] & floodgate.RULE_PENALTY)
            self.assertTrue(c.allow("p", "k").allowed)
            for _ in range(3):
                d = c.allow("p", "k")
                self.assertFalse(d.allowed)
            # empty 30 s from the block, a token an hour after that
            self.assertGreater(d.retry_after_ms, 3600000 + 29000)
            self.assertEqual(c.rule("p")["penalties"], 1)

    def test_window_rules_admit_their_rate_a_window(self):
        self.owner.set_rule("fw", 3, 3, 3600000, floodgate.RULE_FIXED_WINDOW)
        self.owner.set_rule("sw", 2, 2, 3600000,
                            floodgate.RULE_SLIDING_WINDOW)
        with floodgate.Client(self.seg) as c:
            self.assertEqual([c.allow("fw", "k").allowed for _ in range(4)],
                             [True, True, True, False])
            self.assertEqual([c.allow("sw", "k").allowed for _ in range(3)],
                             [True, True, False])
            info = c.rule("fw")
            self.assertTrue(info["flags"] & floodgate.RULE_FIXED_WINDOW)
        with self.assertRaises(floodgate.Error) as cm:  # capacity != rate
            self.owner.set_rule("bad", 2, 3, 1000,
                                floodgate.RULE_FIXED_WINDOW)
        self.assertEqual(cm.exception.code, floodgate.ERULE)

    def test_acquire_holds_a_place_until_release(self):
        self.owner.set_rule("c", 1, 0, 0, floodgate.RULE_IN_FLIGHT,
                            lease_ms=60000)
        with floodgate.Client(self.seg) as c:
            lease = c.acquire("c", "k")
            self.assertTrue(lease)
            denied = c.acquire("c", "k")
            self.assertFalse(denied)
            self.assertFalse(c.release(denied))
            self.assertTrue(c.release(lease))
            self.assertFalse(c.release(lease))  # once
            again = c.acquire("c", "k")
            self.assertTrue(again)
            self.assertTrue(c.release(again))

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
    log = logging.getLogger("floodgate." + fgtest.seg_name("log"))
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
        # 2 tokens, one an hour: full from empty in 7200 s, the next
        # token in 3600 s
        self.assertEqual(r.headers["RateLimit-Policy"], '"t";q=2;w=7200')
        self.assertEqual(r.headers["RateLimit"], '"t";r=1;t=3600')
        self.assertNotIn("Retry-After", r.headers)
        self.assertNotIn("RateLimit-Limit", r.headers)  # no legacy names
        mw.close()

    def test_denied_requests_get_429_with_headers(self):
        mw = floodgate_wsgi.RateLimit(app_ok, rule="t", segment=self.seg)
        for _ in range(self.CAP):
            self.assertEqual(self.call(mw)[0].status, "200 OK")
        r, body = self.call(mw)
        self.assertEqual(r.status, "429 Too Many Requests")
        self.assertNotEqual(body, b"ok")
        self.assertEqual(r.headers["Retry-After"], "3600")
        self.assertEqual(r.headers["RateLimit-Policy"], '"t";q=2;w=7200')
        self.assertEqual(r.headers["RateLimit"], '"t";r=0;t=3600')
        # another address is not affected
        self.assertEqual(self.call(mw, addr="192.0.2.2")[0].status, "200 OK")
        mw.close()

    def test_key_function_picks_the_bucket(self):
        mw = floodgate_wsgi.RateLimit(
            app_ok, rule="t", segment=self.seg, cost=2,
            key=lambda e: e.get("HTTP_X_USER"))
        self.assertEqual(self.call(mw, HTTP_X_USER="a")[0].status, "200 OK")
        self.assertEqual(self.call(mw, HTTP_X_USER="a")[0].status[:3], "429")
        self.assertEqual(self.call(mw, HTTP_X_USER="b")[0].status, "200 OK")
        mw.close()

    def test_missing_key_is_limited_by_the_client_address(self):
        mw = floodgate_wsgi.RateLimit(
            app_ok, rule="t", segment=self.seg,
            key=lambda e: e.get("HTTP_X_API_KEY"))
        got = [self.call(mw)[0] for _ in range(3)]  # no header
        self.assertEqual([r.status[:3] for r in got], ["200", "200", "429"])
        self.assertEqual(got[0].headers["RateLimit"], '"t";r=1;t=3600')
        # an empty header is missing too, and the same address
        self.assertEqual(self.call(mw, HTTP_X_API_KEY="")[0].status[:3],
                         "429")
        self.assertEqual(self.call(mw, HTTP_X_API_KEY="k")[0].status,
                         "200 OK")
        mw.close()

    def test_missing_key_denied_when_configured(self):
        mw = floodgate_wsgi.RateLimit(
            app_ok, rule="t", segment=self.seg, missing_key="deny",
            key=lambda e: e.get("HTTP_X_API_KEY"))
        r, body = self.call(mw)
        self.assertEqual(r.status, "403 Forbidden")
        self.assertNotEqual(body, b"ok")
        self.assertEqual(self.call(mw, HTTP_X_API_KEY="k")[0].status,
                         "200 OK")
        self.assertEqual(self.owner.stats()["consumed"], 1)
        mw.close()

    def test_only_exempt_lets_a_request_through_unlimited(self):
        mw = floodgate_wsgi.RateLimit(
            app_ok, rule="t", segment=self.seg,
            key=lambda e: floodgate_wsgi.EXEMPT
            if e.get("PATH_INFO") == "/health" else e.get("HTTP_X_API_KEY"))
        for _ in range(5):
            r, _ = self.call(mw, PATH_INFO="/health")
            self.assertEqual(r.status, "200 OK")
            self.assertNotIn("RateLimit", r.headers)
        self.assertEqual(self.owner.stats()["consumed"], 0)
        mw.close()

    def test_request_without_any_address_is_denied_and_logged_once(self):
        with captured_log() as (log, buf):
            mw = floodgate_wsgi.RateLimit(app_ok, rule="t", segment=self.seg,
                                          logger=log)
            for _ in range(3):
                self.assertEqual(self.call(mw, addr="")[0].status,
                                 "403 Forbidden")
            self.assertEqual(buf.getvalue().count("without a client "
                                                  "address"), 1)
            mw.close()

    def test_shadow_rule_would_be_denial_shows_nothing(self):
        self.owner.set_rule("dry", 1, 1, HOUR_MS, floodgate.RULE_SHADOW)
        mw = floodgate_wsgi.RateLimit(app_ok, rule="dry", segment=self.seg)
        self.assertIn("RateLimit", self.call(mw)[0].headers)
        r, _ = self.call(mw)
        self.assertEqual(r.status, "200 OK")
        self.assertNotIn("RateLimit", r.headers)
        self.assertEqual(self.owner.stats()["denied"], 1)
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
                self.assertNotIn("RateLimit", r.headers)
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


class TestPolicies(SegmentCase):
    """Several rules, delay instead of deny, in-flight limits (issue 16),
    in process; the servers' tests below run them under gunicorn and
    uWSGI."""
    CAP = 5

    def open(self, app=app_ok, **kw):
        mw = floodgate_wsgi.RateLimit(app, segment=self.seg, **kw)
        self.addCleanup(mw.close)
        return mw

    def start(self, mw, addr="192.0.2.1", **env):
        """(response, body iterable), the body not yet closed."""
        environ = {"REMOTE_ADDR": addr, "REQUEST_METHOD": "GET"}
        environ.update(env)
        r = FakeResponse()
        return r, mw(environ, r)

    def call(self, mw, **kw):
        r, body = self.start(mw, **kw)
        try:
            b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        return r

    def timed(self, mw, **kw):
        t = time.monotonic()
        r = self.call(mw, **kw)
        return r, time.monotonic() - t

    def test_several_rules_all_must_admit_and_a_denial_takes_nothing(self):
        self.owner.set_rule("two", 2, 1, HOUR_MS)
        mw = self.open(rule=["t", ("two", lambda e: e.get("HTTP_X_USER"))])
        got = [self.call(mw, HTTP_X_USER="a") for _ in range(4)]
        self.assertEqual([r.status[:3] for r in got],
                         ["200", "200", "429", "429"])
        # the headers are the deciding rule's: two, then its denial
        self.assertEqual(got[1].headers["RateLimit"], '"two";r=0;t=3600')
        self.assertEqual(got[2].headers["RateLimit-Policy"],
                         '"two";q=2;w=7200')
        # t gave nothing to the two denied requests: 5 - 2 left, less one
        self.assertEqual(self.owner.allow("t", "192.0.2.1").remaining, 2)
        self.assertEqual(self.call(mw, HTTP_X_USER="b").status, "200 OK")

    def test_a_rule_keyed_exempt_does_not_limit(self):
        mw = self.open(rule=[("t", lambda e: floodgate_wsgi.EXEMPT)])
        for _ in range(self.CAP + 1):
            r = self.call(mw)
            self.assertEqual(r.status, "200 OK")
            self.assertNotIn("RateLimit", r.headers)

    def test_delay_serves_after_the_wait_within_the_bound(self):
        # one token a second, 1.5 s of debt at most
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=1500)
        mw = self.open(rule="d", delay=2.0)
        t0 = time.monotonic()
        r1, _ = self.timed(mw)
        r2, took = self.timed(mw)
        self.assertEqual((r1.status, r2.status), ("200 OK", "200 OK"))
        # the token is there 1 s after the first was admitted
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertLess(took, 2.0)
        self.assertEqual(r2.headers["RateLimit-Policy"], '"d";q=1;w=1')

    def test_delay_beyond_the_rules_max_delay_is_429_at_once(self):
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=500)
        mw = self.open(rule="d", delay=2.0)
        self.assertEqual(self.call(mw).status, "200 OK")
        r, took = self.timed(mw)  # the token is 1 s away: beyond 0.5 s
        self.assertEqual(r.status, "429 Too Many Requests")
        self.assertEqual(r.headers["Retry-After"], "1")
        self.assertLess(took, 0.5)

    def test_delay_with_two_rules_waits_for_the_slower(self):
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=1500)
        self.owner.set_rule("d5", 1, 1, 1000, max_delay_ms=500)
        self.owner.set_rule("n", 10, 1, 3600000)  # no max-delay
        mw = self.open(rule=["n", "d"], delay=2.0)
        r1, _ = self.timed(mw)
        r2, took = self.timed(mw)
        self.assertEqual((r1.status, r2.status), ("200 OK", "200 OK"))
        self.assertGreater(took, 0.5)  # d's token, 1 s after the first
        self.assertLess(took, 2.0)
        mw = self.open(rule=["n", "d5"], delay=2.0)
        self.assertEqual(self.call(mw).status, "200 OK")
        r4, took = self.timed(mw)  # d5 1 s away: beyond 0.5 s
        self.assertEqual(r4.status, "429 Too Many Requests")
        self.assertLess(took, 0.5)
        with floodgate.Client(self.seg) as c:  # n paid for 3 only
            self.assertTrue(c.allow_many([("n", "192.0.2.1", 7)]).allowed)
            self.assertFalse(c.allow_many([("n", "192.0.2.1", 1)]).allowed)

    def test_a_max_delay_over_the_bound_is_not_delayed_and_says_so(self):
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=1500)
        with captured_log() as (log, buf):
            mw = self.open(rule="d", delay=0.5, logger=log)
            self.assertEqual(self.call(mw).status, "200 OK")
            r, took = self.timed(mw)
            self.assertEqual(r.status, "429 Too Many Requests")
            self.assertLess(took, 0.5)
            self.call(mw)
        self.assertEqual(buf.getvalue().count("exceeds delay=0.5"), 1)

    def test_in_flight_limit_holds_until_the_response_is_closed(self):
        self.owner.set_rule("c", 2, 0, 0, floodgate.RULE_IN_FLIGHT,
                            lease_ms=60000)
        mw = self.open(concurrency="c")
        (r1, b1), (r2, b2) = self.start(mw), self.start(mw)
        self.assertEqual((r1.status, r2.status), ("200 OK", "200 OK"))
        r3 = self.call(mw)
        self.assertEqual(r3.status, "429 Too Many Requests")
        self.assertEqual(r3.headers["Retry-After"], "1")
        self.assertEqual(self.call(mw, addr="192.0.2.9").status, "200 OK")
        b1.close()  # what a server does at the end, the client gone or not
        r4, b4 = self.start(mw)
        self.assertEqual(r4.status, "200 OK")
        b2.close()
        b4.close()

    def test_in_flight_place_comes_back_when_the_app_raises(self):
        self.owner.set_rule("c", 1, 0, 0, floodgate.RULE_IN_FLIGHT,
                            lease_ms=60000)

        def broken(environ, start_response):
            raise RuntimeError("boom")

        with self.assertRaises(RuntimeError):
            self.call(self.open(broken, concurrency="c"))
        self.assertEqual(self.call(self.open(concurrency="c")).status,
                         "200 OK")

    def test_a_rate_denial_gives_the_in_flight_place_back(self):
        self.owner.set_rule("c", 1, 0, 0, floodgate.RULE_IN_FLIGHT,
                            lease_ms=60000)
        self.owner.set_rule("one", 1, 1, HOUR_MS)
        mw = self.open(rule="one", concurrency="c")
        self.assertEqual(self.call(mw).status, "200 OK")
        self.assertEqual(self.call(mw).status, "429 Too Many Requests")
        lease = self.owner.acquire("c", "192.0.2.1")
        self.assertTrue(lease, "the denied request kept its place")
        self.owner.release(lease)

    def test_by_path_gives_each_route_its_policy(self):
        self.owner.set_rule("one", 1, 1, HOUR_MS)
        app = floodgate_wsgi.by_path(app_ok, {
            "/api/": dict(rule="t"), "/api/small/": dict(rule="one")},
            segment=self.seg)
        self.addCleanup(app.close)
        got = [self.call(app, PATH_INFO="/api/small/x").status[:3]
               for _ in range(2)]
        self.assertEqual(got, ["200", "429"])
        r = self.call(app, PATH_INFO="/api/x")
        self.assertEqual(r.headers["RateLimit"], '"t";r=4;t=3600')
        r = self.call(app, PATH_INFO="/other")
        self.assertEqual(r.status, "200 OK")
        self.assertNotIn("RateLimit", r.headers)

    def test_bad_policy_settings_are_refused(self):
        for kw in (dict(), dict(rule=["t"] * 9), dict(rule="t", delay=-1),
                   dict(rule="t", delay=61)):
            with self.assertRaises(ValueError, msg=repr(kw)):
                floodgate_wsgi.RateLimit(app_ok, segment=self.seg, **kw)


class TestProxies(SegmentCase):
    """trusted_proxies=N: the N-th forwarded address from the right."""
    CAP = 1

    def mw(self, **kw):
        return floodgate_wsgi.RateLimit(app_ok, rule="t", segment=self.seg,
                                        **kw)

    def addr(self, mw, **env):
        env.setdefault("REMOTE_ADDR", "10.0.0.2")
        return mw.client_address(env)

    def test_without_trusted_proxies_forwarding_headers_are_ignored(self):
        mw = self.mw()
        self.assertEqual(self.addr(mw, HTTP_X_FORWARDED_FOR="192.0.2.9"),
                         "10.0.0.2")
        mw.close()

    def test_one_proxy_takes_the_rightmost_entry(self):
        mw = self.mw(trusted_proxies=1)
        self.assertEqual(self.addr(mw, HTTP_X_FORWARDED_FOR="192.0.2.9"),
                         "192.0.2.9")
        # what the client wrote itself is left of what the proxy appended
        self.assertEqual(self.addr(
            mw, HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4,192.0.2.9"),
            "192.0.2.9")
        mw.close()

    def test_two_proxies_take_the_second_from_the_right(self):
        mw = self.mw(trusted_proxies=2)
        self.assertEqual(self.addr(
            mw, HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.9, 10.0.0.1"),
            "192.0.2.9")
        mw.close()

    def test_spoofed_entries_cannot_choose_the_bucket(self):
        mw = self.mw(trusted_proxies=1)
        env = {"REMOTE_ADDR": "10.0.0.2", "REQUEST_METHOD": "GET"}
        codes = []
        for fake in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
            env["HTTP_X_FORWARDED_FOR"] = fake + ", 192.0.2.9"
            r = FakeResponse()
            b"".join(mw(dict(env), r))
            codes.append(r.status[:3])
        self.assertEqual(codes, ["200", "429", "429"])
        mw.close()

    def test_fewer_entries_than_proxies_use_remote_addr_and_warn_once(self):
        with captured_log() as (log, buf):
            mw = self.mw(trusted_proxies=2, logger=log)
            for _ in range(2):
                self.assertEqual(
                    self.addr(mw, HTTP_X_FORWARDED_FOR="192.0.2.9"),
                    "10.0.0.2")
            self.assertEqual(buf.getvalue().count("fewer than "
                                                  "trusted_proxies=2"), 1)
            mw.close()

    def test_forwarded_header_rfc7239(self):
        mw = self.mw(trusted_proxies=2, proxy_header="Forwarded")
        fwd = ('for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, '
               'for=10.0.0.1;by=10.0.0.2')
        self.assertEqual(self.addr(mw, HTTP_FORWARDED=fwd),
                         "2001:db8:cafe::17")
        mw.close()
        mw = self.mw(trusted_proxies=1, proxy_header="Forwarded")
        # an element without for= is still a hop; IPv4 loses its port
        self.assertEqual(self.addr(mw, HTTP_FORWARDED="for=1.2.3.4, proto=http"),
                         None)
        self.assertEqual(self.addr(mw, HTTP_FORWARDED='For="192.0.2.3:80"'),
                         "192.0.2.3")
        mw.close()

    def test_forwarded_for_parses_and_normalises(self):
        f = floodgate_wsgi.forwarded_for
        self.assertEqual(f({"HTTP_X_FORWARDED_FOR": " 192.0.2.1 ,, "
                            "2001:DB8::1 ,unknown"}),
                         ["192.0.2.1", "2001:db8::1", "unknown"])
        self.assertEqual(f({}), [])
        self.assertEqual(f({"HTTP_FORWARDED": "for=_hidden;by=x, for=unknown"},
                           "Forwarded"), ["_hidden", "unknown"])

    def test_bad_settings_are_refused(self):
        with self.assertRaises(ValueError):
            self.mw(missing_key="skip")
        with self.assertRaises(ValueError):
            self.mw(trusted_proxies=-1)


class TestPackage(unittest.TestCase):
    """What pip installed: the modules, and how they find libfloodgate."""

    def test_modules_come_from_the_installed_package(self):
        if not os.environ.get("FG_TEST_INSTALLED"):
            self.skipTest("not run from an installed package")
        site = sysconfig.get_paths()["purelib"]
        for m in (floodgate, floodgate_wsgi):
            self.assertEqual(os.path.dirname(m.__file__), site, m.__file__)

    def loaded_from(self, env):
        """The file of libfloodgate a fresh interpreter loads under env."""
        code = ("import floodgate; floodgate.load_library()\n"
                "print([l.split()[-1] for l in open('/proc/self/maps')"
                " if 'libfloodgate' in l][0])")
        base = {k: v for k, v in os.environ.items()
                if k not in ("FLOODGATE_LIBRARY", "LD_LIBRARY_PATH",
                             "PKG_CONFIG_PATH")}
        out = subprocess.run([sys.executable, "-c", code],
                             env=dict(base, **env), capture_output=True,
                             text=True, timeout=60)
        return out.returncode, out.stdout.strip(), out.stderr

    def installed_prefix(self):
        """A prefix holding the built library as make install would."""
        real = os.path.realpath(os.environ["FLOODGATE_LIBRARY"])
        tmp = tempfile.mkdtemp(prefix="fg-int-prefix.")
        self.addCleanup(shutil.rmtree, tmp)
        lib = os.path.join(tmp, "lib")
        os.makedirs(os.path.join(lib, "pkgconfig"))
        for name in ("libfloodgate.so", "libfloodgate.so.0"):
            os.symlink(real, os.path.join(lib, name))
        with open(os.path.join(lib, "pkgconfig", "floodgate.pc"), "w") as f:
            f.write("prefix=%s\nlibdir=${prefix}/lib\n"
                    "includedir=${prefix}/include\n\nName: floodgate\n"
                    "Description: test\nVersion: 0.1.0\n"
                    "Libs: -L${libdir} -lfloodgate\n" % tmp)
        return tmp, real

    def test_library_found_on_the_loader_path(self):
        if not shutil.which("ld"):
            self.skipTest("find_library reads LD_LIBRARY_PATH through ld")
        tmp, real = self.installed_prefix()
        rc, path, err = self.loaded_from(
            {"LD_LIBRARY_PATH": os.path.join(tmp, "lib")})
        self.assertEqual((rc, os.path.realpath(path)), (0, real), err)

    def test_library_found_through_pkg_config(self):
        if not shutil.which("pkg-config"):
            self.skipTest("pkg-config not installed")
        tmp, real = self.installed_prefix()
        rc, path, err = self.loaded_from(
            {"PKG_CONFIG_PATH": os.path.join(tmp, "lib", "pkgconfig")})
        self.assertEqual((rc, os.path.realpath(path)), (0, real), err)

    def test_floodgate_library_overrides_the_search(self):
        tmp, real = self.installed_prefix()
        rc, path, err = self.loaded_from(
            {"FLOODGATE_LIBRARY": os.path.join(tmp, "lib",
                                               "libfloodgate.so.0")})
        self.assertEqual((rc, os.path.realpath(path)), (0, real), err)

    def test_no_library_is_a_clear_error(self):
        code = ("import floodgate\ntry:\n floodgate.Client('x')\n"
                "except floodgate.Error as e:\n print(e.code, e)")
        env = {k: v for k, v in os.environ.items()
               if k not in ("FLOODGATE_LIBRARY", "LD_LIBRARY_PATH",
                            "PKG_CONFIG_PATH")}
        out = subprocess.run([sys.executable, "-c", code], env=env,
                             capture_output=True, text=True, timeout=60)
        if "libfloodgate not found" not in out.stdout:
            self.skipTest("a libfloodgate is installed on this system")
        self.assertIn("None libfloodgate not found (install it", out.stdout)


# ---------------------------------------------------------------- gunicorn

def app_dir():
    """A directory holding testapp.py and nothing else, for the servers'
    path: the installed package, not the sources, must be imported."""
    d = tempfile.mkdtemp(prefix="fg-int-app.")
    shutil.copy(os.path.join(HERE, "testapp.py"), d)
    os.chmod(d, 0o755)
    return d


class Server:
    """A prefork server on loopback serving testapp with the middleware."""
    WORKERS = 4

    def __init__(self, seg, cmd, ready_line=None, ready_count=0,
                 policies=False):
        self.ready_line = ready_line
        self.ready_count = ready_count
        self.port = fgtest.free_port()
        self.app = app_dir()
        env = dict(os.environ, FG_TEST_SEGMENT=seg, FG_TEST_RULE="t",
                   PYTHONPATH=self.app)
        if policies:  # testapp's routes of issue 16, its files here
            os.mkdir(os.path.join(self.app, "marks"), 0o777)
            os.chmod(os.path.join(self.app, "marks"), 0o777)
            env["FG_TEST_POLICIES"] = self.app
        self.log = open(os.path.join(self.app, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [a.format(port=self.port, app=self.app, n=self.WORKERS)
             for a in cmd],
            env=env, cwd=self.app, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, seconds=60):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("server exited: " + self.output())
            if (self.ready_line and self.output().count(self.ready_line) <
                    self.ready_count):
                return False  # the app is not loaded everywhere yet
            return (len(fgtest.children(self.proc.pid)) >= self.WORKERS and
                    fgtest.port_open(self.port))
        fgtest.wait_for(ready, seconds, "%d workers and port %d" %
                        (self.WORKERS, self.port))

    def output(self):
        self.log.flush()
        return fgtest.read(self.log.name)

    def stop(self, sig=signal.SIGTERM):
        fgtest.stop(self.proc, sig=sig)
        out = self.output()
        self.log.close()
        shutil.rmtree(self.app, ignore_errors=True)
        return out


class ServerCase(SegmentCase):
    CAP = 400
    REQUESTS = 1200
    STOP_SIGNAL = signal.SIGTERM

    def run_server(self, cmd, **ready):
        srv = Server(self.seg, cmd, **ready)
        try:
            srv.wait_ready()
            url = "http://127.0.0.1:%d/" % srv.port
            # one request first: an allowed response and its headers
            with urllib.request.urlopen(url, timeout=30) as r:
                self.assertEqual(r.status, 200)
                # CAP tokens, one an hour
                self.assertEqual(r.headers["RateLimit-Policy"],
                                 '"t";q=%d;w=%d' % (self.CAP, self.CAP * 3600))
                self.assertEqual(r.headers["RateLimit"],
                                 '"t";r=%d;t=3600' % (self.CAP - 1))
            complete, non2xx, broken = fgtest.run_ab(url, self.REQUESTS, 8)
            self.assertEqual((complete, broken), (self.REQUESTS, 0))
            # exactly the bucket: CAP tokens, nothing refills in an hour
            self.assertEqual(complete - non2xx, self.CAP - 1)
            st = self.owner.stats()
            self.assertEqual(st["consumed"], self.CAP)
            self.assertEqual(st["denied"], self.REQUESTS - self.CAP + 1)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(url, timeout=30)
            h = cm.exception.headers
            self.assertEqual(cm.exception.code, 429)
            self.assertGreaterEqual(int(h["Retry-After"]), 3500)
            self.assertEqual(h["RateLimit-Policy"],
                             '"t";q=%d;w=%d' % (self.CAP, self.CAP * 3600))
            self.assertRegex(h["RateLimit"], r'^"t";r=0;t=\d+$')
            self.assertLessEqual(int(h["RateLimit"].rsplit("=", 1)[1]),
                                 int(h["Retry-After"]))
        finally:
            out = srv.stop(self.STOP_SIGNAL)
        self.assertNotIn("Traceback", out)
        self.assertNotIn("floodgate:", out)  # never failed open

    HOLDS = 3  # in flight at once: fewer than Server.WORKERS

    def run_policies(self, cmd, **ready):
        """testapp's /m/ (two rules), /d/ (delay) and /slow/ (in flight)
        under a real server."""
        self.owner.set_rule("m1", 20, 1, HOUR_MS)
        self.owner.set_rule("m2", 8, 1, HOUR_MS)
        self.owner.set_rule("d", 1, 1, 1000, max_delay_ms=1500)
        self.owner.set_rule("conc", self.HOLDS, 0, 0,
                            floodgate.RULE_IN_FLIGHT, lease_ms=60000)
        srv = Server(self.seg, cmd, policies=True, **ready)
        try:
            srv.wait_ready()
            url = "http://127.0.0.1:%d" % srv.port
            self.check_several_rules(url)
            self.check_delay(url)
            self.check_in_flight(srv, url)
        finally:
            out = srv.stop(self.STOP_SIGNAL)
        self.assertNotIn("floodgate:", out)  # never failed open

    def check_several_rules(self, url):
        # u1 and u2 get m2's 8 each, u3 the last 4 of m1's 20: a request
        # m2 denies takes nothing from m1
        got = []
        for u in ("u1", "u2", "u3"):
            complete, non2xx, broken = fgtest.run_ab(
                url + "/m/", 50, 8, headers=["X-User: " + u])
            got.append((complete, complete - non2xx, broken))
        self.assertEqual(got, [(50, 8, 0), (50, 8, 0), (50, 4, 0)])
        self.assertFalse(self.owner.allow("m1", "127.0.0.1").allowed)
        self.assertEqual(self.owner.allow("m2", "u3").remaining, 3)

    def check_delay(self, url):
        t0 = time.monotonic()
        statuses = []
        for _ in range(2):
            t = time.monotonic()
            with urllib.request.urlopen(url + "/d/", timeout=30) as r:
                statuses.append(r.status)
            took = time.monotonic() - t
        self.assertEqual(statuses, [200, 200])
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertLess(took, 2.0)  # the bound

    def status(self, url):
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def check_in_flight(self, srv, url):
        top = srv.app
        marks = os.path.join(top, "marks")
        holds = [Hold(url + "/slow/hold") for _ in range(self.HOLDS)]
        fgtest.wait_for(lambda: len(os.listdir(marks)) == self.HOLDS, 30,
                        "%d requests in flight" % self.HOLDS)
        self.assertEqual(self.status(url + "/slow/x"), 429)
        open(os.path.join(top, "release"), "w").close()
        self.assertEqual([h.finish() for h in holds], [200] * self.HOLDS)
        self.assertEqual(self.status(url + "/slow/x"), 200)
        # a client that goes away mid-request frees its place
        os.unlink(os.path.join(top, "release"))
        for m in os.listdir(marks):
            os.unlink(os.path.join(marks, m))
        holds = [Hold(url + "/slow/hold") for _ in range(self.HOLDS)]
        fgtest.wait_for(lambda: len(os.listdir(marks)) == self.HOLDS, 30,
                        "%d requests in flight" % self.HOLDS)
        self.assertEqual(self.status(url + "/slow/x"), 429)
        holds[0].abort()
        # 10 s: far less than the 60 s lease
        fgtest.wait_for(lambda: self.status(url + "/slow/x") == 200, 10,
                        "the place of the client gone")
        open(os.path.join(top, "release"), "w").close()
        self.assertEqual([h.finish() for h in holds[1:]],
                         [200] * (self.HOLDS - 1))


class Hold:
    """A request to testapp's /slow/hold: its headers read, its body
    streaming until the test releases it or the client aborts."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port,
                                               timeout=30)
        self.conn.request("GET", u.path)
        self.sock = self.conn.sock  # the response may take it over
        self.resp = self.conn.getresponse()

    def finish(self):
        self.resp.read()
        self.conn.close()
        return self.resp.status

    def abort(self):
        """The client goes away: the socket closed, the body unread."""
        self.sock.shutdown(socket.SHUT_RDWR)
        self.resp.close()
        self.conn.close()


@unittest.skipUnless(shutil.which("gunicorn") and shutil.which("ab"),
                     "gunicorn or ab (apache2-utils) not installed")
class TestGunicorn(ServerCase):
    # Debian's gunicorn, run by this interpreter so that it imports the
    # package installed in the venv (which sees the system's packages)
    CMD = [sys.executable, "-m", "gunicorn", "-w", "{n}", "-k", "sync",
           "-b", "127.0.0.1:{port}", "--log-level", "warning",
           "--graceful-timeout", "5"]

    def test_sync_workers_admit_exactly_the_bucket(self):
        self.run_server(self.CMD + ["testapp:application"])

    def test_preloaded_middleware_shared_across_fork_admits_exactly(self):
        self.run_server(self.CMD + ["--preload", "testapp:application"])

    def test_several_rules_delay_and_in_flight_places(self):
        self.run_policies(self.CMD + ["--preload", "testapp:application"])


def uwsgi_python3():
    """Whether uWSGI with the python3 plugin runs."""
    if not shutil.which("uwsgi"):
        return False
    out = subprocess.run(["uwsgi", "--plugin", "python3", "--version"],
                         capture_output=True, timeout=30)
    return out.returncode == 0


@unittest.skipUnless(uwsgi_python3() and shutil.which("ab"),
                     "uwsgi with the python3 plugin (uwsgi-plugin-python3) "
                     "or ab (apache2-utils) not installed")
class TestUwsgi(ServerCase):
    # Debian's uWSGI with its python3 plugin; the venv's site-packages
    # (the installed package) first on its path.
    STOP_SIGNAL = signal.SIGINT
    CMD = ["uwsgi", "--plugin", "python3", "--master", "--processes", "{n}",
           "--http-socket", "127.0.0.1:{port}", "--wsgi-file",
           "{app}/testapp.py", "--pythonpath",
           sysconfig.get_paths()["purelib"], "--need-app",
           "--disable-logging", "--die-on-term"]
    if os.geteuid() == 0:
        CMD += ["--uid", "nobody", "--gid", "nogroup"]

    def setUp(self):
        super().setUp()
        if os.geteuid() == 0:  # the workers run as nobody
            import grp
            os.chown("/dev/shm/" + self.seg, 0, grp.getgrnam("nogroup").gr_gid)
            os.chmod("/dev/shm/" + self.seg, 0o660)

    READY = "WSGI app 0 (mountpoint='') ready"

    def test_app_loaded_before_fork_admits_exactly_the_bucket(self):
        self.run_server(self.CMD, ready_line=self.READY, ready_count=1)

    def test_lazy_apps_each_worker_attaches_and_admits_exactly(self):
        self.run_server(self.CMD + ["--lazy-apps"], ready_line=self.READY,
                        ready_count=Server.WORKERS)

    def test_several_rules_delay_and_in_flight_places(self):
        self.run_policies(self.CMD, ready_line=self.READY, ready_count=1)


if __name__ == "__main__":
    sys.exit(fgtest.main())
