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
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import unittest
import urllib.error
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

    def __init__(self, seg, cmd, ready_line=None, ready_count=0):
        self.ready_line = ready_line
        self.ready_count = ready_count
        self.port = fgtest.free_port()
        self.app = app_dir()
        env = dict(os.environ, FG_TEST_SEGMENT=seg, FG_TEST_RULE="t",
                   PYTHONPATH=self.app)
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


if __name__ == "__main__":
    sys.exit(fgtest.main())
