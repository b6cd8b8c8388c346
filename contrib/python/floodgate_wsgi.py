"""floodgate_wsgi - WSGI middleware that rate-limits requests with floodgate.

    from floodgate_wsgi import RateLimit
    application = RateLimit(application, rule="api")            # by client address
    application = RateLimit(application, rule="api",
                            key=lambda environ: environ.get("HTTP_X_API_KEY"))

Each request takes `cost` tokens from the bucket of (rule, key(environ)).
Denied: 429 Too Many Requests with Retry-After (whole seconds, at least 1)
and RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset; the
application is not called.  Allowed: the application's response, with the
three RateLimit-* headers added.  A key function that returns None or ""
exempts the request.  Keys longer than floodgate.KEY_MAX bytes, or holding
a NUL byte, are replaced by their SHA-256 in hex (64 bytes): a client
cannot escape its limit by sending a long key, and two keys share a bucket
only if their hashes collide.

Failing open.  A limiter must never take the site down: when the library
or the segment is missing (floodgated not running yet), or the rule does
not exist, requests go through without headers, and the condition is
logged once (at WARNING) until it clears; then attaching is retried at most
every `retry_interval` seconds, so the middleware picks up a segment that
appears later without costing a system call per request.

Pre-fork servers.  The client is opened when the middleware is built: with
gunicorn --preload that is in the master, before fork, which libfloodgate
supports (see floodgate.py); without it, in each worker.
"""
import hashlib
import logging
import threading
import time

import floodgate

_log = logging.getLogger("floodgate")


def remote_addr(environ):
    """The default key: the peer address of the connection."""
    return environ.get("REMOTE_ADDR")


def _bucket_key(key):
    b = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key
    if len(b) > floodgate.KEY_MAX or b"\0" in b:
        return hashlib.sha256(b).hexdigest().encode()
    return b


class RateLimit:
    def __init__(self, app, rule, key=remote_addr, cost=1, segment=None,
                 retry_interval=5.0, logger=None):
        self.app = app
        self.rule = rule
        self.key = key
        self.cost = cost
        self.segment = segment
        self.retry_interval = retry_interval
        self.log = logger or _log
        self._client = None
        self._next_attach = 0.0
        self._problem = None  # the condition last logged; None when healthy
        self._lock = threading.Lock()
        self._attach()

    def _warn_once(self, what, err):
        with self._lock:
            if self._problem == what:
                return
            self._problem = what
        self.log.warning("floodgate: %s (%s); requests are not limited "
                         "until this clears", what, err)

    def _healthy(self):
        if self._problem is not None:
            self.log.warning("floodgate: limiting again with rule %r",
                             self.rule)
            self._problem = None

    def _attach(self):
        self._next_attach = time.monotonic() + self.retry_interval
        try:
            self._client = floodgate.Client(self.segment)
        except floodgate.Error as e:
            self._warn_once("cannot attach to segment %r" % (
                self.segment or "(default)",), e)

    def close(self):
        c, self._client = self._client, None
        if c is not None:
            c.close()

    def _headers(self, d):
        return [("RateLimit-Limit", str(d.limit)),
                ("RateLimit-Remaining", str(d.remaining)),
                ("RateLimit-Reset", str(d.reset))]

    def _decide(self, environ):
        """A Decision, or None when the request is not limited."""
        if self._client is None:
            if time.monotonic() < self._next_attach:
                return None
            self._attach()
            if self._client is None:
                return None
        key = self.key(environ)
        if key is None or key == "" or key == b"":
            return None
        try:
            d = self._client.allow(self.rule, _bucket_key(key), self.cost)
        except floodgate.Error as e:
            self._warn_once("rule %r cannot be checked" % (self.rule,), e)
            return None
        self._healthy()
        return d

    def __call__(self, environ, start_response):
        d = self._decide(environ)
        if d is None:
            return self.app(environ, start_response)
        headers = self._headers(d)
        if not d.allowed:
            body = b"Too Many Requests\n"
            start_response("429 Too Many Requests", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(max(1, d.retry_after)))] + headers)
            return [body]

        def add_headers(status, response_headers, exc_info=None):
            return start_response(status, list(response_headers) + headers,
                                  exc_info)

        return self.app(environ, add_headers)
