# SPDX-License-Identifier: ISC
"""test_nginx - ngx_http_floodgate_module in a real nginx (TAP).

Run by contrib/nginx/test-nginx.sh from make check, which finds the module
built in the tree ($FLOODGATE_NGINX_MODULE) and Debian's nginx ($NGINX).

Each test class starts nginx with its own prefix, configuration and logs in
a temporary directory: a master and WORKERS workers on a port of 21000-21999
(reuseport, so the kernel spreads connections over the workers), static
files, and locations limited by floodgate_rule.  The access log names the
worker ($pid) and $floodgate_status of each request.  As root the workers
run as nobody and the segment is 0660 root with group nogroup: the master
never opens it, each worker attaches after the fork.  Rules refill one
token an hour: exactly `capacity` requests of one key are admitted.
"""
import concurrent.futures
import grp
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
import tempfile
import unittest

import fgtest
import floodgate

MODULE = os.environ.get("FLOODGATE_NGINX_MODULE", "")
NGINX = os.environ.get("NGINX_BIN", "/usr/sbin/nginx")
HOUR_MS = fgtest.HOUR_MS
ROOT = os.geteuid() == 0
WORKERS = 2

LOCATIONS = """
        location /t/ { floodgate_rule t; }
        location /h/ { floodgate_rule h key=$http_x_client; }
        location /two/ {
            floodgate_rule wide;
            floodgate_rule narrow key=$http_x_client cost=2;
        }
        location /dry/ {
            floodgate_rule dry;
            floodgate_rule dt;
        }
        location /status/ {
            floodgate_rule e;
            floodgate_status 503;
        }
        location /err/ {
            floodgate_rule e2;
            error_page 429 /errpage.html;
        }
        location = /errpage.html { }
        location /redir/ {
            floodgate_rule r;
            try_files /nonexistent /r2/index.html;
        }
        location /r2/ { floodgate_rule r2; }
        location /proxy/ {
            floodgate_rule p;
            proxy_pass http://127.0.0.1:{port}/free/;
        }
        location /absent/ { floodgate_rule no-such-rule; }
        location /d/ {
            floodgate_rule d;
            floodgate_delay 2s;
        }
        location /d2/ {
            floodgate_rule d2;
            floodgate_delay 500ms;
        }
        location /dm/ {
            floodgate_rule dm;
            floodgate_rule dmw;
            floodgate_delay 2s;
        }
        location /free/ { }
"""

SERVER_RULES = """
    server {
        listen 127.0.0.1:{port2} reuseport;
        root {root};
        floodgate_rule s;
        location /inherits/ { }
        location /own/ { floodgate_rule o; }
        location /off/ { floodgate_rule off; }
    }
"""


def fields(value):
    """A RateLimit or RateLimit-Policy value, '"RULE";k=v;...', as
    (RULE, {k: int(v)})."""
    name, _, params = value.partition(";")
    return name.strip('"'), {k: int(v) for k, _, v in
                             (p.partition("=") for p in params.split(";"))}


def remaining(h):
    return fields(h["ratelimit"])[1]["r"]


def quota(h):
    """(rule, capacity) of RateLimit-Policy."""
    name, f = fields(h["ratelimit-policy"])
    return name, f["q"]


def nginx_conf(tmp, port, port2, seg, locations=LOCATIONS):
    user = "user nobody nogroup;" if ROOT else ""
    root = os.path.join(tmp, "www")
    seg_line = "floodgate_segment %s;" % seg if seg else ""
    return """
load_module {module};
{user}
daemon off;
master_process on;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/error.log notice;
events {{ worker_connections 512; }}
http {{
    log_format fg '$pid $status $floodgate_status $uri';
    access_log {tmp}/access.log fg;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    {seg_line}
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {root};
        {locations}
    }}
    {server_rules}
}}
""".format(module=MODULE, user=user, workers=WORKERS, tmp=tmp,
           seg_line=seg_line, port=port, root=root,
           locations=locations.replace("{port}", str(port)),
           server_rules=SERVER_RULES.replace("{port2}", str(port2))
           .replace("{root}", root))


class Nginx:
    def __init__(self, seg, locations=LOCATIONS):
        self.tmp = tempfile.mkdtemp(prefix="fg-int-nginx.")
        self.port = fgtest.free_port()
        self.port2 = fgtest.free_port()
        www = os.path.join(self.tmp, "www")
        for d in ("t", "h", "two", "dry", "status", "err", "redir", "r2", "d",
                  "d2", "dm", "free", "absent", "inherits", "own", "off"):
            os.makedirs(os.path.join(www, d))
            with open(os.path.join(www, d, "index.html"), "w") as f:
                f.write("hello %s\n" % d)
        with open(os.path.join(www, "errpage.html"), "w") as f:
            f.write("slow down\n")
        if ROOT:
            os.chmod(self.tmp, 0o755)
        self.conf = os.path.join(self.tmp, "nginx.conf")
        self.write_conf(seg, locations)
        self.error_log = os.path.join(self.tmp, "error.log")
        self.access_log = os.path.join(self.tmp, "access.log")
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.tmp, "-c", self.conf, "-e", self.error_log],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.wait_workers(set())

    def write_conf(self, seg, locations=LOCATIONS):
        with open(self.conf, "w") as f:
            f.write(nginx_conf(self.tmp, self.port, self.port2, seg,
                               locations))

    def workers(self):
        return set(fgtest.children(self.proc.pid))

    def wait_workers(self, old):
        """Wait for WORKERS workers, none of them in old, and the port."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited: " +
                                     fgtest.read(self.error_log))
            w = self.workers()
            return (len(w) == WORKERS and not (w & old) and
                    fgtest.port_open(self.port))
        fgtest.wait_for(ready, 30, "nginx with %d new workers" % WORKERS)

    def reload(self, seg):
        old = self.workers()
        self.write_conf(seg)
        os.kill(self.proc.pid, signal.SIGHUP)
        self.wait_workers(old)

    def get(self, path, headers=None, port=None):
        c = http.client.HTTPConnection("127.0.0.1", port or self.port,
                                       timeout=30)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def codes(self, path, n, headers=None, port=None):
        return [self.get(path, headers, port)[0] for _ in range(n)]

    def stop(self):
        fgtest.stop(self.proc, sig=signal.SIGQUIT)
        log = fgtest.read(self.error_log)
        if not os.environ.get("FG_TEST_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        return log


RULES = {"t": 300, "dt": 50, "h": 5, "wide": 10, "narrow": 6, "dry": 1, "e": 1,
         "e2": 1, "r": 10, "r2": 10, "p": 10, "s": 2, "o": 3, "dmw": 10}


class NginxCase(unittest.TestCase):
    """One nginx for the class, a fresh segment and rules for each test."""

    @classmethod
    def setUpClass(cls):
        cls.seg = fgtest.seg_name("nginx")
        cls.owner = floodgate.Owner(cls.seg, capacity=4096)
        cls.set_rules()
        if ROOT:  # the workers (nobody) share the segment through its group
            os.chown("/dev/shm/" + cls.seg, 0, grp.getgrnam("nogroup").gr_gid)
            os.chmod("/dev/shm/" + cls.seg, 0o660)
        cls.nginx = Nginx(cls.seg)

    @classmethod
    def set_rules(cls):
        for name, cap in RULES.items():
            flags = floodgate.RULE_SHADOW if name == "dry" else 0
            cls.owner.set_rule(name, cap, 1, HOUR_MS, flags)
        # one token a second, up to 1.5 s of debt
        for name in ("d", "d2", "dm"):
            cls.owner.set_rule(name, 1, 1, 1000, max_delay_ms=1500)

    @classmethod
    def tearDownClass(cls):
        cls.log = cls.nginx.stop()
        cls.owner.unlink()
        cls.owner.close()


class TestNginx(NginxCase):
    def test_1_allowed_response_carries_ratelimit_headers(self):
        status, h, body = self.nginx.get("/t/")
        self.assertEqual((status, body), (200, b"hello t\n"))
        # 300 tokens, one an hour: full from empty in 300 h; the next in 1 h
        self.assertEqual((h["ratelimit-policy"], h["ratelimit"]),
                         ('"t";q=300;w=1080000', '"t";r=299;t=3600'))
        self.assertNotIn("retry-after", h)
        self.assertNotIn("ratelimit-limit", h)  # no legacy names

    def test_2_workers_share_one_bucket_exactly_under_load(self):
        n = 3000
        complete, non2xx, broken = fgtest.run_ab(
            "http://127.0.0.1:%d/t/" % self.nginx.port, n, 16)
        self.assertEqual((complete, broken), (n, 0))
        self.assertEqual(complete - non2xx, 299)  # test 1 took one
        st = self.owner.stats()
        self.assertEqual((st["consumed"], st["denied"]), (300, n - 299))
        status, h, _ = self.nginx.get("/t/")
        self.assertEqual(status, 429)
        self.assertGreaterEqual(int(h["retry-after"]), 3500)
        self.assertEqual(h["ratelimit-policy"], '"t";q=300;w=1080000')
        name, f = fields(h["ratelimit"])
        self.assertEqual((name, f["r"]), ("t", 0))
        self.assertLessEqual(f["t"], int(h["retry-after"]))
        # both workers answered, and the log agrees (a worker writes its
        # line after the response: wait for all n + 2 of them)
        def t_lines():
            lines = [l.split() for l in fgtest.read(self.nginx.access_log)
                     .splitlines()]
            # (a denial ends before the index module: its $uri is /t/)
            lines = [l for l in lines if l[3] in ("/t/", "/t/index.html")]
            return lines if len(lines) == n + 2 else None
        lines = fgtest.wait_for(t_lines, 30, "%d lines in the access log" %
                                (n + 2))
        self.assertEqual(len({l[0] for l in lines}), WORKERS)
        self.assertEqual(sum(l[1] == "200" for l in lines), 300)
        self.assertEqual(sum(l[1] == "429" and l[2] == "REJECTED"
                             for l in lines), n + 1 - 299)
        self.assertIn("limiting requests by floodgate rule \"t\"",
                      fgtest.read(self.nginx.error_log))

    def test_header_key_with_the_address_as_fallback(self):
        a = {"X-Client": "alice"}
        self.assertEqual(self.nginx.codes("/h/", 6, a),
                         [200] * 5 + [429])
        self.assertEqual(self.nginx.get("/h/", {"X-Client": "bob"})[0], 200)
        # no header: the client's address has a bucket of its own
        _, h, _ = self.nginx.get("/h/")
        self.assertEqual(remaining(h), 4)
        self.assertEqual(remaining(self.nginx.get("/h/", {"X-Client": ""})[1]),
                         3)

    def test_long_and_binary_keys_are_hashed_not_truncated(self):
        long_a = "p" * 100 + "a"
        self.assertEqual(self.nginx.codes("/h/", 6, {"X-Client": long_a}),
                         [200] * 5 + [429])
        self.assertEqual(self.nginx.get("/h/", {"X-Client": "p" * 100 + "b"})
                         [0], 200)

    def test_several_rules_all_must_admit_and_a_denial_takes_nothing(self):
        hdr = {"X-Client": "c1"}
        got = []
        for _ in range(4):
            status, h, _ = self.nginx.get("/two/", hdr)
            got.append((status, remaining(h), quota(h)))
        # narrow (6, cost 2) has fewer tokens left than wide (10, cost 1):
        # its numbers are in the headers; its denial is the 429
        n6 = ("narrow", 6)
        self.assertEqual(got, [(200, 4, n6), (200, 2, n6),
                               (200, 0, n6), (429, 0, n6)])
        with floodgate.Client(self.seg) as c:
            # wide gave a token to the 3 admitted requests only
            self.assertEqual(c.allow("wide", "127.0.0.1").remaining, 6)

    def test_shadow_rule_allows_logs_and_shows_nothing_to_the_client(self):
        got = [self.nginx.get("/dry/", {"X-Client": "d"}) for _ in range(3)]
        self.assertEqual([g[0] for g in got], [200] * 3)
        # the headers are rule dt's, never the dry run's
        for _, h, _ in got:
            self.assertEqual(quota(h), ("dt", 50))
            self.assertNotIn("retry-after", h)
        log = fgtest.read(self.nginx.error_log)
        self.assertEqual(log.count("dry run, by floodgate rule \"dry\""), 2)
        def dry_lines():  # logged after each response: wait for them
            got = [l.split()[2] for l in fgtest.read(self.nginx.access_log)
                   .splitlines() if "/dry/" in l]
            return got if len(got) == 3 else None
        statuses = fgtest.wait_for(dry_lines, 30, "3 lines logged")
        self.assertEqual(statuses, ["PASSED", "REJECTED_DRY_RUN",
                                    "REJECTED_DRY_RUN"])

    def timed(self, path):
        t = time.monotonic()
        status = self.nginx.get(path)[0]
        return status, time.monotonic() - t

    def test_delay_serves_after_the_wait_within_the_bound(self):
        t0 = time.monotonic()
        (s1, _), (s2, took) = self.timed("/d/"), self.timed("/d/")
        self.assertEqual((s1, s2), (200, 200))
        # the token is there 1 s after the first was admitted
        self.assertGreaterEqual(time.monotonic() - t0, 1.0)
        self.assertLess(took, 2.0)
        # three at once: one waits its token, the two behind it (2 and
        # 3 s away: beyond the rule's 1.5 s) are denied without waiting
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            got = sorted(pool.map(lambda _: self.timed("/d/"), range(3)))
        self.assertEqual([g[0] for g in got], [200, 429, 429])
        self.assertGreater(got[0][1], 0.2)
        self.assertLess(got[0][1], 2.0)
        self.assertTrue(all(g[1] < 0.5 for g in got[1:]), got)

    def test_delay_with_two_rules_waits_for_the_slower_or_takes_nothing(self):
        # dm as d, and dmw 10 an hour without a max-delay
        (s1, _), (s2, took) = self.timed("/dm/"), self.timed("/dm/")
        self.assertEqual((s1, s2), (200, 200))
        self.assertGreater(took, 0.5)
        self.assertLess(took, 2.0)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            got = sorted(pool.map(lambda _: self.timed("/dm/"), range(3)))
        self.assertEqual([g[0] for g in got], [200, 429, 429])
        self.assertGreater(got[0][1], 0.2)
        self.assertTrue(all(g[1] < 0.5 for g in got[1:]), got)
        with floodgate.Client(self.seg) as c:
            # dmw gave a token to the 3 served only
            self.assertEqual(c.allow("dmw", "127.0.0.1").remaining, 6)

    def test_a_max_delay_over_the_bound_is_not_delayed_and_says_so(self):
        self.assertEqual(self.timed("/d2/")[0], 200)
        status, took = self.timed("/d2/")
        self.assertEqual(status, 429)
        self.assertLess(took, 0.5)
        self.assertIn("rule \"d2\": its max-delay exceeds floodgate_delay",
                      fgtest.read(self.nginx.error_log))

    def test_floodgate_status_sets_the_denial_code(self):
        self.assertEqual(self.nginx.codes("/status/", 2), [200, 503])

    def test_error_page_of_a_429_keeps_the_headers(self):
        self.assertEqual(self.nginx.get("/err/")[0], 200)
        status, h, body = self.nginx.get("/err/")
        self.assertEqual((status, body), (429, b"slow down\n"))
        self.assertGreaterEqual(int(h["retry-after"]), 3500)
        self.assertEqual(remaining(h), 0)

    def test_internal_redirect_is_not_charged_again(self):
        status, h, body = self.nginx.get("/redir/")
        self.assertEqual((status, body), (200, b"hello r2\n"))
        self.assertEqual(remaining(h), 9)
        with floodgate.Client(self.seg) as c:
            self.assertEqual(c.allow("r2", "127.0.0.1").remaining, 9)

    def test_proxied_response_carries_the_headers(self):
        status, h, body = self.nginx.get("/proxy/")
        self.assertEqual((status, body), (200, b"hello free\n"))
        self.assertEqual(remaining(h), 9)

    def test_unknown_rule_fails_open_with_a_warning(self):
        self.assertEqual(self.nginx.codes("/absent/", 3), [200] * 3)
        self.assertNotIn("ratelimit", self.nginx.get("/absent/")[1])
        self.assertIn("floodgate: rule \"no-such-rule\": no such rule",
                      fgtest.read(self.nginx.error_log))

    def test_rules_inherit_only_where_a_level_has_none(self):
        p = self.nginx.port2
        self.assertEqual(self.nginx.codes("/inherits/", 3, port=p),
                         [200, 200, 429])
        self.assertEqual(self.nginx.codes("/own/", 4, port=p),
                         [200, 200, 200, 429])
        _, h, _ = self.nginx.get("/off/", port=p)
        self.assertNotIn("ratelimit", h)

    def test_z_reload_keeps_the_buckets_and_workers_attach_again(self):
        old = self.nginx.workers()
        self.nginx.reload(self.seg)
        self.assertFalse(self.nginx.workers() & old)
        # rule t is spent (test 2): the new workers see the same bucket
        self.assertEqual(self.nginx.get("/t/")[0], 429)


class TestNginxMissingSegment(unittest.TestCase):
    def test_missing_segment_fails_open_then_attaches_after_reload(self):
        seg = fgtest.seg_name("late")
        srv = Nginx(seg)
        owner = None
        try:
            _, h, _ = srv.get("/t/")
            self.assertNotIn("ratelimit", h)
            self.assertEqual(srv.get("/t/")[0], 200)
            self.assertIn("floodgate: cannot attach to segment \"%s\"" % seg,
                          fgtest.read(srv.error_log))
            owner = floodgate.Owner(seg, capacity=64, mode=0o660)
            if ROOT:
                os.chown("/dev/shm/" + seg, 0, grp.getgrnam("nogroup").gr_gid)
            owner.set_rule("t", 1, 1, HOUR_MS)
            srv.reload(seg)
            self.assertEqual(srv.codes("/t/", 2), [200, 429])
        finally:
            log = srv.stop()
            if owner:
                owner.unlink()
                owner.close()
        self.assertNotIn("[alert]", log)
        self.assertNotIn("[crit]", log)


class TestConfigErrors(unittest.TestCase):
    """nginx -t refuses a bad directive with a clear message."""

    def check(self, locations, message):
        tmp = tempfile.mkdtemp(prefix="fg-int-nginx-t.")
        try:
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(nginx_conf(tmp, 1, 2, "fg-int-unused", locations))
            out = subprocess.run([NGINX, "-t", "-p", tmp, "-c", conf, "-e",
                                  os.path.join(tmp, "e.log")],
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(message, out.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_cost_must_be_a_positive_32_bit_number(self):
        self.check("location / { floodgate_rule a cost=0; }",
                   'invalid cost "cost=0"')
        self.check("location / { floodgate_rule a cost=4294967296; }",
                   'invalid cost "cost=4294967296"')

    def test_unknown_parameter_is_refused(self):
        self.check("location / { floodgate_rule a burst=5; }",
                   'invalid parameter "burst=5"')

    def test_rule_name_is_checked(self):
        self.check("location / { floodgate_rule a+b; }",
                   "needs a rule name of 1-31 of [A-Za-z0-9_.:/-], or off")
        self.check("location / { floodgate_rule %s; }" % ("x" * 32),
                   "needs a rule name")

    def test_at_most_8_rules_in_one_location(self):
        self.check("location / { %s }" % " ".join(
            "floodgate_rule r%d;" % i for i in range(9)),
            "at most 8 rules at one level")

    def test_delay_is_at_most_60s(self):
        self.check("location / { floodgate_rule a; floodgate_delay 61s; }",
                   "floodgate_delay: at most 60s")

    def test_duplicate_rule_in_one_location_is_refused(self):
        self.check("location / { floodgate_rule a; floodgate_rule a; }",
                   '"floodgate_rule" directive is duplicate')

    def test_off_does_not_mix_with_rules(self):
        self.check("location / { floodgate_rule a; floodgate_rule off; }",
                   '"off" cannot be mixed')

    def test_segment_is_an_http_level_directive(self):
        self.check("location / { floodgate_segment x; }",
                   '"floodgate_segment" directive is not allowed here')

    def test_status_must_be_an_error_code(self):
        self.check("location / { floodgate_status 200; }",
                   "must be between 400 and 599")


if __name__ == "__main__":
    sys.exit(fgtest.main())
