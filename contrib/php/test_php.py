# SPDX-License-Identifier: ISC
"""test_php - the floodgate PHP extension in php-cli and a real php-fpm (TAP).

Run by contrib/php/test-php.sh from make check, which finds the extension
built in the tree ($FLOODGATE_PHP_EXT), php ($PHP) and php-fpm ($PHP_FPM).

The CLI tests check the decision array and every error against the
library's own answers (the Python binding reads the same segment).  The
FPM tests start Debian's php-fpm with a static pool of WORKERS workers on
a Unix socket in a temporary directory, the extension loaded by the master
(-d extension=) and the segment named only by the pool
(php_admin_value[floodgate.segment]), so each worker attaches after the
fork; as root the workers run as nobody and the segment is 0660 root with
group nogroup.  cgi-fcgi (libfcgi-bin) sends the requests, several at a
time; the pool's access log names the worker of each.  Rules refill one
token an hour, so exactly `capacity` requests of one key are admitted
whatever the concurrency.
"""
import base64
import concurrent.futures
import grp
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import fgtest
import floodgate

HERE = os.path.dirname(os.path.abspath(__file__))
EXT = os.environ.get("FLOODGATE_PHP_EXT", "")
PHP = os.environ.get("PHP", "php")
PHP_FPM = os.environ.get("PHP_FPM", "php-fpm8.2")
HOUR_MS = fgtest.HOUR_MS
ROOT = os.geteuid() == 0
WORKERS = 4


def php_cli(code, segment=None, env=None):
    """Run PHP code with only the extension loaded; its stdout."""
    cmd = [PHP, "-n", "-d", "extension=" + EXT]
    if segment is not None:
        cmd += ["-d", "floodgate.segment=" + segment]
    out = subprocess.run(cmd + ["-r", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, **(env or {})))
    if out.returncode != 0 or out.stderr:
        raise AssertionError("php failed (%d): %s %s" % (
            out.returncode, out.stdout, out.stderr))
    return out.stdout


def php_literal(v):
    """v as a PHP expression (strings may hold any byte)."""
    if isinstance(v, str):
        return "base64_decode('%s')" % base64.b64encode(v.encode()).decode()
    return repr(v)


# PHP that prints the exception of a call as JSON, or its result.
CATCH = r"""
function probe(...$a) {
    try { return floodgate_allow(...$a); }
    catch (FloodgateException $e) {
        return ['class' => get_class($e), 'code' => $e->getCode(),
                'message' => $e->getMessage(),
                'parent' => get_parent_class($e)];
    }
}
"""


class SegmentCase(unittest.TestCase):
    RULES = ()  # (name, capacity, rate, period_ms, flags)

    def setUp(self):
        self.seg = fgtest.seg_name("php")
        self.owner = floodgate.Owner(self.seg, capacity=4096)
        for r in self.RULES:
            self.owner.set_rule(*r)

    def tearDown(self):
        self.owner.unlink()
        self.owner.close()


class TestCli(SegmentCase):
    RULES = (("api", 3, 1, HOUR_MS, 0),
             ("dry", 1, 1, HOUR_MS, floodgate.RULE_SHADOW))

    def test_decisions_follow_the_bucket_then_deny_with_retry_after(self):
        out = php_cli(CATCH + r"""
            $r = [];
            for ($i = 0; $i < 4; $i++) $r[] = probe('api', 'alice');
            $r[] = probe('api', 'bob', 2);
            echo json_encode($r);""", self.seg)
        got = json.loads(out)
        for i, d in enumerate(got[:3]):
            self.assertEqual((d["allowed"], d["limit"], d["remaining"],
                              d["retry_after_ms"], d["shadow"],
                              d["untracked"]),
                             (True, 3, 2 - i, 0, False, False))
            self.assertEqual(d["reset"], (i + 1) * 3600)
            # 3 tokens, one an hour: full from empty in 3 h
            self.assertEqual((d["ratelimit_policy"], d["ratelimit"]),
                             ('"api";q=3;w=10800', '"api";r=%d;t=3600' %
                              (2 - i)))
        deny = got[3]
        self.assertFalse(deny["allowed"])
        self.assertEqual(deny["remaining"], 0)
        self.assertGreater(deny["retry_after_ms"], HOUR_MS - 60000)
        self.assertEqual(deny["retry_after"],
                         (deny["retry_after_ms"] + 999) // 1000)
        self.assertEqual(got[4]["remaining"], 1)  # cost 2 of bob's 3
        # the segment counted what PHP was told
        st = self.owner.stats()
        self.assertEqual((st["consumed"], st["denied"]), (5, 1))

    def test_shadow_rule_allows_and_flags(self):
        got = json.loads(php_cli(
            "echo json_encode([floodgate_allow('dry', 'k'),"
            " floodgate_allow('dry', 'k')]);", self.seg))
        self.assertEqual([(d["allowed"], d["shadow"]) for d in got],
                         [(True, False), (True, True)])
        self.assertEqual(self.owner.stats()["denied"], 1)

    def test_errors_are_floodgate_exceptions_with_the_library_code(self):
        cases = [
            (("nope", "k"), floodgate.ENORULE),
            (("api", ""), floodgate.EKEY),
            (("api", "x" * 65), floodgate.EKEYLEN),
            (("api", "a\0b"), floodgate.EINVAL),
            (("api", "k", 0), floodgate.ECOST),
            (("api", "k", -1), floodgate.ECOST),
            (("api", "k", 4), floodgate.ECOST),
            (("api", "k", 1 << 40), floodgate.ECOST),
        ]
        code = CATCH + "echo json_encode([%s]);" % ", ".join(
            "probe(%s)" % ", ".join(php_literal(a) for a in args)
            for args, _ in cases)
        got = json.loads(php_cli(code, self.seg))
        for (args, want), e in zip(cases, got):
            self.assertEqual((e["class"], e["parent"], e["code"]),
                             ("FloodgateException", "RuntimeException",
                              want), args)
            self.assertTrue(e["message"].startswith(floodgate.strerror(want)),
                            e)
        self.assertIn('"nope"', got[0]["message"])
        # nothing was consumed by the refused calls
        self.assertEqual(self.owner.stats()["consumed"], 0)

    def test_exception_constants_are_the_library_codes(self):
        names = ["EINVAL", "EKEY", "EKEYLEN", "ENORULE", "ECOST", "ENOSEG",
                 "EACCES", "EBADSEG", "EVERSION", "ENOMEM", "ESYS", "ENAME"]
        got = json.loads(php_cli("echo json_encode([%s]);" % ", ".join(
            "FloodgateException::" + n for n in names)))
        self.assertEqual(got, [getattr(floodgate, n) for n in names])

    def test_missing_segment_throws_enoseg_naming_it(self):
        absent = fgtest.seg_name("absent")
        e = json.loads(php_cli(CATCH + "echo json_encode(probe('a', 'b'));",
                               absent))
        self.assertEqual(e["code"], floodgate.ENOSEG)
        self.assertIn(absent, e["message"])

    def test_default_segment_comes_from_the_environment(self):
        d = json.loads(php_cli("echo json_encode(floodgate_allow('api', 'e'));",
                               env={"FLOODGATE_SEGMENT": self.seg}))
        self.assertEqual(d["remaining"], 2)

    def test_arginfo_is_generated_from_the_stub(self):
        import hashlib
        with open(os.path.join(HERE, "floodgate.stub.php"), "rb") as f:
            want = hashlib.sha1(f.read()).hexdigest()
        with open(os.path.join(HERE, "floodgate_arginfo.h")) as f:
            self.assertIn("Stub hash: " + want, f.read(),
                          "run contrib/php/gen-arginfo.sh")


class TestPolicies(SegmentCase):
    """Several rules, delays, in-flight limits (issue 16) from PHP; what
    the segment holds is read back through the Python binding."""
    RULES = (("api", 3, 1, HOUR_MS, 0), ("one", 1, 1, HOUR_MS, 0),
             ("d", 1, 1, 1000, 0, 1500),
             ("c", 1, 0, 0, floodgate.RULE_IN_FLIGHT, 0, 60000))

    def left(self, rule, key):
        """Tokens left of (rule, key): take them all, count, give none
        back (the tests that call it are done with the key)."""
        with floodgate.Client(self.seg) as c:
            return c.allow(rule, key).remaining + 1

    def test_allow_many_admits_all_or_takes_nothing(self):
        got = json.loads(php_cli(r"""
            $c = [['api', 'k'], ['one', 'k']];
            echo json_encode([floodgate_allow_many($c),
                              floodgate_allow_many($c)]);""", self.seg))
        self.assertEqual([(d["allowed"], d["which"]) for d in got],
                         [(True, 1), (False, 1)])
        self.assertEqual(got[1]["ratelimit_policy"], '"one";q=1;w=3600')
        self.assertEqual(self.left("api", "k"), 2, "the denial took none")

    def test_reserve_returns_the_wait_within_the_max_delay(self):
        got = json.loads(php_cli(r"""
            echo json_encode([floodgate_reserve('d', 'k'),
                              floodgate_reserve('d', 'k'),
                              floodgate_reserve('d', 'k')]);""", self.seg))
        self.assertEqual([d["allowed"] for d in got], [True, True, False])
        self.assertEqual(got[0]["delay_ns"], 0)
        self.assertGreater(got[1]["delay_ns"], 900 * 10**6)
        self.assertLessEqual(got[1]["delay_ns"], 10**9)
        self.assertAlmostEqual(got[1]["delay"], got[1]["delay_ns"] / 1e9)
        self.assertEqual(got[2]["delay_ns"], 0)

    def test_reserve_many_waits_for_the_slowest_or_takes_nothing(self):
        got = json.loads(php_cli(r"""
            $c = [['api', 'k'], ['d', 'k']];
            echo json_encode([floodgate_reserve_many($c),
                              floodgate_reserve_many($c),
                              floodgate_reserve_many($c)]);""", self.seg))
        self.assertEqual([d["allowed"] for d in got], [True, True, False])
        self.assertGreater(got[1]["delay_ns"], 900 * 10**6)
        self.assertEqual(got[2]["which"], 1)
        self.assertEqual(self.left("api", "k"), 1, "2 reserved, 1 left")

    def test_bad_lists_of_checks_throw_einval_and_take_nothing(self):
        got = json.loads(php_cli(r"""
            $r = [];
            foreach ([[], array_fill(0, 9, ['api', 'k']), [['api']],
                      ['api'], [['api', 'k', 'x']], [['api', 'k', 0]],
                      [['api', 'k'], ['nope', 'k']]] as $c) {
                try { floodgate_allow_many($c); $r[] = 'no throw'; }
                catch (FloodgateException $e) {
                    $r[] = [$e->getCode(), $e->getMessage()];
                }
            }
            echo json_encode($r);""", self.seg))
        codes = [g[0] for g in got]
        self.assertEqual(codes, [floodgate.EINVAL] * 5 +
                         [floodgate.ECOST, floodgate.ENORULE])
        self.assertIn("9 checks (1 to 8)", got[1][1])
        self.assertIn('"nope"', got[6][1])
        self.assertEqual(self.left("api", "k"), 3)

    def test_a_lease_is_held_until_released_or_freed(self):
        got = json.loads(php_cli(r"""
            $a = floodgate_acquire('c', 'k');
            $b = floodgate_acquire('c', 'k');
            $r = [$a['allowed'], $b['allowed'], $b['lease'],
                  $a['lease']->release(), $a['lease']->release()];
            $a = floodgate_acquire('c', 'k');
            unset($a);                 /* freed: given back */
            $r[] = floodgate_acquire('c', 'k')['allowed'];
            $keep = floodgate_acquire('c', 'k');   /* held at exit */
            echo json_encode($r);""", self.seg))
        self.assertEqual(got, [True, False, None, True, False, True])
        with floodgate.Client(self.seg) as c:  # the end gave it back
            self.assertTrue(c.acquire("c", "k"))


# ---------------------------------------------------------------- php-fpm

def fcgi(sock, script, remote="192.0.2.1", params=None, timeout=30):
    """One FastCGI request with cgi-fcgi: (status, headers, body)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
           "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "localhost",
           "SCRIPT_FILENAME": script, "SCRIPT_NAME": "/" +
           os.path.basename(script), "REQUEST_URI": "/", "QUERY_STRING": "",
           "REMOTE_ADDR": remote}
    env.update(params or {})
    out = subprocess.run(["cgi-fcgi", "-bind", "-connect", sock], env=env,
                         capture_output=True, timeout=timeout)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode(errors="replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if not head:
        return None, headers, body  # no answer (the worker died)
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


class Fpm:
    """php-fpm with a static pool on a Unix socket in a temporary dir."""

    def __init__(self, seg, workers=WORKERS):
        self.dir = tempfile.mkdtemp(prefix="fg-int-fpm.")
        self.sock = os.path.join(self.dir, "fpm.sock")
        self.log = os.path.join(self.dir, "fpm.log")
        self.access = os.path.join(self.dir, "access.log")
        self.run = os.path.join(self.dir, "run")  # writable by workers
        os.mkdir(self.run)
        self.docroot = os.path.join(self.dir, "www")
        os.mkdir(self.docroot)
        for f in ("example.php",):
            shutil.copy(os.path.join(HERE, f), self.docroot)
        for f in ("hold.php", "spin.php", "hello.php"):
            shutil.copy(os.path.join(HERE, "t", f), self.docroot)
        user = ""
        if ROOT:
            os.chmod(self.dir, 0o755)
            os.chmod(self.run, 0o777)
            user = "user = nobody\ngroup = nogroup\n"
        conf = os.path.join(self.dir, "fpm.conf")
        with open(conf, "w") as f:
            f.write("""[global]
pid = {d}/fpm.pid
error_log = {log}
log_level = notice
daemonize = no

[fg]
{user}listen = {sock}
listen.mode = 0666
pm = static
pm.max_children = {n}
ping.path = /ping
access.log = {access}
access.format = "%p %s %r"
request_terminate_timeout = 40s
catch_workers_output = yes
php_admin_value[floodgate.segment] = {seg}
php_admin_flag[log_errors] = on
""".format(d=self.dir, log=self.log, user=user, sock=self.sock,
           n=workers, access=self.access, seg=seg))
        self.proc = subprocess.Popen(
            [PHP_FPM, "-n", "-d", "extension=" + EXT, "-y", conf, "-F"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.workers = workers
        self.wait_ready()

    def script(self, name):
        return os.path.join(self.docroot, name)

    def pong(self):
        if not os.path.exists(self.sock):
            return False
        status, _, body = fcgi(self.sock, "/ping",
                               params={"SCRIPT_NAME": "/ping"}, timeout=5)
        return status == 200 and body.strip() == b"pong"

    def wait_ready(self, seconds=30):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("php-fpm exited: " +
                                     fgtest.read(self.log))
            return (len(fgtest.children(self.proc.pid)) == self.workers
                    and self.pong())
        fgtest.wait_for(ready, seconds, "php-fpm ready with %d workers" %
                        self.workers)

    def stop(self):
        fgtest.stop(self.proc, sig=signal.SIGQUIT)
        errors = fgtest.read(self.log)
        if not os.environ.get("FG_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return errors


def many(sock, script, n, concurrency=8, **kw):
    """n requests, `concurrency` at a time: the list of statuses."""
    with concurrent.futures.ThreadPoolExecutor(concurrency) as ex:
        futs = [ex.submit(fcgi, sock, script, **kw) for _ in range(n)]
        return [f.result()[0] for f in futs]


@unittest.skipUnless(shutil.which("cgi-fcgi"),
                     "cgi-fcgi not installed (libfcgi-bin)")
class TestFpm(SegmentCase):
    CAP = 150
    RULES = (("api", CAP, 1, HOUR_MS, 0), ("spin", 1, 1000000, 1, 0))

    def setUp(self):
        super().setUp()
        if ROOT:  # the workers (nobody) share the segment through its group
            os.chown("/dev/shm/" + self.seg, 0,
                     grp.getgrnam("nogroup").gr_gid)
            os.chmod("/dev/shm/" + self.seg, 0o660)
        self.fpm = Fpm(self.seg)

    def tearDown(self):
        errors = self.fpm.stop()
        super().tearDown()
        for bad in ("PHP Fatal", "PHP Warning", "floodgate:", "ALERT",
                    "ERROR"):
            self.assertNotIn(bad, errors)

    def test_example_sets_ratelimit_headers_then_429_with_retry_after(self):
        ex = self.fpm.script("example.php")
        status, h, body = fcgi(self.fpm.sock, ex, remote="198.51.100.7")
        self.assertEqual((status, body), (200, b"hello\n"))
        policy = '"api";q=%d;w=%d' % (self.CAP, self.CAP * 3600)
        self.assertEqual((h["ratelimit-policy"], h["ratelimit"]),
                         (policy, '"api";r=%d;t=3600' % (self.CAP - 1)))
        self.assertNotIn("retry-after", h)
        self.assertNotIn("ratelimit-limit", h)  # no legacy names
        statuses = many(self.fpm.sock, ex, self.CAP, remote="198.51.100.7")
        self.assertEqual(statuses.count(200), self.CAP - 1)
        status, h, body = fcgi(self.fpm.sock, ex, remote="198.51.100.7")
        self.assertEqual((status, body), (429, b"Too Many Requests\n"))
        self.assertGreaterEqual(int(h["retry-after"]), 3500)
        self.assertEqual(h["ratelimit-policy"], policy)
        rl, t = h["ratelimit"].rsplit(";t=", 1)
        self.assertEqual(rl, '"api";r=0')
        self.assertLessEqual(int(t), int(h["retry-after"]))
        # another client has its own bucket
        self.assertEqual(fcgi(self.fpm.sock, ex, remote="198.51.100.8")[0],
                         200)

    def test_pool_workers_share_one_bucket_exactly(self):
        n = 4 * self.CAP
        statuses = many(self.fpm.sock, self.fpm.script("example.php"), n)
        self.assertEqual(len(statuses), n)
        self.assertEqual(statuses.count(None), 0)
        self.assertEqual(statuses.count(200), self.CAP)
        self.assertEqual(statuses.count(429), n - self.CAP)
        st = self.owner.stats()
        self.assertEqual((st["consumed"], st["denied"]),
                         (self.CAP, n - self.CAP))
        # every worker of the pool took part
        pids = {line.split()[0] for line in
                fgtest.read(self.fpm.access).splitlines()
                if "example.php" in line}
        self.assertEqual(len(pids), WORKERS, pids)

    def kill_worker_mid_request(self, script):
        """Start a request of script, wait for its mark, SIGKILL its worker
        while the request runs; return the worker's mark."""
        mark = os.path.join(self.fpm.run, script + ".mark")
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(fcgi, self.fpm.sock, self.fpm.script(script),
                            params={"FG_MARK": mark}, timeout=60)
            text = fgtest.wait_for(
                lambda: os.path.exists(mark) and fgtest.read(mark),
                30, "%s running in a worker" % script)
            pid = int(text.split()[0])
            self.assertIn(pid, fgtest.children(self.fpm.proc.pid))
            os.kill(pid, signal.SIGKILL)
            status = fut.result()[0]
        self.assertIsNone(status)  # the client saw the worker die
        # the master replaces the worker
        fgtest.wait_for(lambda: pid not in fgtest.children(self.fpm.proc.pid)
                        and len(fgtest.children(self.fpm.proc.pid)) ==
                        WORKERS, 30, "worker %d replaced" % pid)
        self.assertIn("exited on signal 9", fgtest.read(self.fpm.log))
        return text

    def test_worker_killed_holding_a_request_leaves_the_bucket_exact(self):
        text = self.kill_worker_mid_request("hold.php")
        self.assertEqual(text.split()[1], "1")  # it had taken a token
        # the other workers and the new one admit exactly the rest
        n = 2 * self.CAP
        statuses = many(self.fpm.sock, self.fpm.script("example.php"), n)
        self.assertEqual((statuses.count(200), statuses.count(429)),
                         (self.CAP - 1, n - self.CAP + 1))
        st = self.owner.stats()
        self.assertEqual((st["consumed"], st["dead"]), (self.CAP, 0))

    def test_worker_killed_in_a_loop_of_inserts_leaves_the_table_working(
            self):
        self.kill_worker_mid_request("spin.php")
        # every worker still decides, and one bucket is still exact
        n = 3 * self.CAP
        statuses = many(self.fpm.sock, self.fpm.script("example.php"), n,
                        remote="203.0.113.77")
        self.assertEqual((statuses.count(200), statuses.count(429)),
                         (self.CAP, n - self.CAP))
        self.assertGreater(self.owner.stats()["inserts"], 2000)


if __name__ == "__main__":
    sys.exit(fgtest.main())
