# SPDX-License-Identifier: ISC
"""testapp - the WSGI application the gunicorn and uWSGI tests and the
benchmark serve.

A constant small body, so that what is measured is the server and the
limiter.  The environment chooses the limiter:
  FG_TEST_SEGMENT   segment name; unset: no middleware (the benchmark's
                    baseline)
  FG_TEST_RULE      rule name (default "t"); the key is REMOTE_ADDR
  FG_TEST_POLICIES  a directory: routes with the policies of issue 16
                    (floodgate_wsgi.by_path) besides "/" under FG_TEST_RULE:
                    /m/ two rules, m1 by address and m2 by X-User; /d/
                    rule d delayed up to 2 s; /slow/ at most the in-flight
                    rule conc's places by address, where /slow/hold marks
                    its start in the directory's marks/ and streams until
                    the file "release" is there.
"""
import os
import time

BODY = b"hello from floodgate testapp\n"


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


def hold(environ, start_response, top):
    """A request that lasts until top/release exists, writing all the
    while, so that a client gone is noticed at the next write."""
    mark = os.path.join(top, "marks", "%d-%d" % (os.getpid(),
                                                  time.monotonic_ns()))
    open(mark, "w").close()
    start_response("200 OK", [("Content-Type", "text/plain")])
    while not os.path.exists(os.path.join(top, "release")):
        yield b"waiting\n"
        time.sleep(0.05)
    yield b"done\n"


def hello_or_hold(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/slow/hold"):
        return hold(environ, start_response, os.environ["FG_TEST_POLICIES"])
    return hello(environ, start_response)


application = hello
if os.environ.get("FG_TEST_SEGMENT"):
    import floodgate_wsgi
    from floodgate_wsgi import RateLimit

    seg = os.environ["FG_TEST_SEGMENT"]
    rule = os.environ.get("FG_TEST_RULE", "t")
    if os.environ.get("FG_TEST_POLICIES"):
        application = floodgate_wsgi.by_path(hello_or_hold, {
            "/": dict(rule=rule),
            "/m/": dict(rule=["m1", ("m2", lambda e: e.get("HTTP_X_USER"))]),
            "/d/": dict(rule="d", delay=2.0),
            "/slow/": dict(concurrency="conc"),
        }, segment=seg)
    else:
        application = RateLimit(hello, rule=rule, segment=seg)
