# SPDX-License-Identifier: ISC
"""floodgate_wsgi - WSGI middleware that rate-limits requests with floodgate.

    from floodgate_wsgi import RateLimit
    application = RateLimit(application, rule="api")        # by client address
    application = RateLimit(application, rule="api",
                            key=lambda environ: environ.get("HTTP_X_API_KEY"))

Each request takes `cost` tokens from the bucket of (rule, key).  Denied:
429 Too Many Requests with Retry-After (whole seconds, at least 1) and
RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers-10, as
libfloodgate's fg_ratelimit_headers() writes them, the same as every other
floodgate front end); the application is not called.  Allowed: the
application's response, with RateLimit-Policy and RateLimit added.

Several rules, delay, in-flight.  rule may be a list of up to 8 rules,
each a name or a tuple (name, key function, cost) whose key function and
cost (None: the middleware's) are that rule's: the request is admitted
only if every rule admits it, and a denial takes nothing from any of them
(fg_allow_many()).  delay=SECONDS: a request the rules cannot admit now
waits, the worker sleeping, until their tokens are there
(fg_reserve_many(): each rule within its max-delay in floodgate.conf, a
rule without one admitting now or denying, the request going when the
slowest allows), within `delay`; beyond, 429 and no rule keeps anything.
A reservation cannot be taken back, so a route with a rule whose
max-delay exceeds `delay` is not delayed at all (a warning says so once).  concurrency=NAME or (NAME, key function): an
in-flight rule; a lease is taken before the rate rules (fg_acquire(); all
taken: 429 with Retry-After 1) and given back when the server closes the
response (PEP 3333: also when the client went away), when the application
raises, or at once when a rate rule denies.  by_path() gives each route
(a PATH_INFO prefix) its own settings.

No request is exempted silently.  The key is key(environ), by default the
client's address.  When the key function returns None or "" (the header it
reads is absent), missing_key decides: "address" (the default) limits the
request by the client's address, "deny" answers 403 Forbidden.  A request
whose client address is unknown is denied (403) too, with a warning logged
once.  Only a key function that returns EXEMPT lets a request through
unlimited: an exemption is always written down.  Keys longer than
floodgate.KEY_MAX bytes, or holding a NUL byte, are replaced by their
SHA-256 in hex (64 bytes): a client cannot escape its limit by sending a
long key.

The client's address.  Behind reverse proxies REMOTE_ADDR is the nearest
proxy's, and every client would share its bucket.  trusted_proxies=N says
that exactly N proxies, each appending the address of its peer to
X-Forwarded-For (or, with proxy_header="Forwarded", adding an RFC 7239
element with for=), stand in front of the application: the client is then
the N-th address from the right.  Everything left of those N entries comes
from the client and is ignored, so it cannot choose its bucket.  Getting N
wrong is the risk (README.md): too large and the client picks its own key
from the part it wrote, too small and clients share a proxy's bucket; and
with trusted_proxies set, an application reachable without going through
the proxies lets anyone claim any address.  A header with fewer entries
than N is logged once and REMOTE_ADDR is used.

Failing open.  A limiter must never take the site down: when the library
or the segment is missing (floodgated not running yet), or the rule does
not exist, requests go through without headers, and the condition is
logged once (at WARNING) until it clears; then attaching is retried at most
every `retry_interval` seconds, so the middleware picks up a segment that
appears later without costing a system call per request.

Pre-fork servers.  The client is opened when the middleware is built: with
gunicorn --preload or uWSGI without lazy-apps that is in the master, before
fork, which libfloodgate supports (see floodgate.py); else in each worker.
"""
import hashlib
import ipaddress
import logging
import threading
import time

import floodgate

__all__ = ["RateLimit", "EXEMPT", "forwarded_for", "by_path"]

_log = logging.getLogger("floodgate")

# Returned by a key function: this request is not limited, on purpose.
EXEMPT = object()

_FORBIDDEN = b"Forbidden: no rate-limit key\n"
_TOO_MANY = b"Too Many Requests\n"
_DELAY_MAX = 60.0


def _bucket_key(key):
    b = key.encode("utf-8", "surrogateescape") if isinstance(key, str) else key
    if len(b) > floodgate.KEY_MAX or b"\0" in b:
        return hashlib.sha256(b).hexdigest().encode()
    return b


def _node(value):
    """An address of a forwarding header as a key: an IP address in its
    canonical form (brackets and port removed); anything else (unknown,
    an obfuscated identifier) as written."""
    v = value.strip().strip('"')
    if v.startswith("["):  # [v6] or [v6]:port
        v = v[1:].split("]", 1)[0]
    elif v.count(":") == 1:  # v4:port
        v = v.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        return v or None


def forwarded_for(environ, header="X-Forwarded-For"):
    """The addresses a forwarding header lists, leftmost first (each proxy
    appends one).  "Forwarded" is RFC 7239: an element without for= still
    counts as one hop (None)."""
    name = "HTTP_" + header.upper().replace("-", "_")
    raw = environ.get(name, "")
    hops = []
    if header.lower() != "forwarded":
        return [_node(p) for p in raw.split(",") if p.strip()]
    for element in raw.split(","):
        if not element.strip():
            continue
        node = None
        for pair in element.split(";"):
            k, _, v = pair.partition("=")
            if k.strip().lower() == "for":
                node = _node(v)
        hops.append(node)
    return hops


def _rules(rule, cost):
    """rule as a list of (name, key function or None, cost)."""
    if rule is None:
        return []
    items = [rule] if isinstance(rule, (str, bytes)) else list(rule)
    out = []
    for item in items:
        if isinstance(item, (str, bytes)):
            item = (item,)
        name, key, c = (tuple(item) + (None, None))[:3]
        out.append((name, key, cost if c is None else c))
    if len(out) > floodgate.TRIPLES_MAX:
        raise ValueError("rule: at most %d rules" % floodgate.TRIPLES_MAX)
    return out


class _Closing:
    """The application's response, whose close() (which a WSGI server
    calls however the response ends) also gives the lease back."""

    def __init__(self, it, release):
        self._it = it
        self._release = release

    def __iter__(self):
        return iter(self._it)

    def close(self):
        try:
            close = getattr(self._it, "close", None)
            if close is not None:
                close()
        finally:
            self._release()


class RateLimit:
    def __init__(self, app, rule=None, key=None, cost=1, segment=None,
                 missing_key="address", trusted_proxies=0,
                 proxy_header="X-Forwarded-For", retry_interval=5.0,
                 logger=None, delay=0, concurrency=None):
        self.rules = _rules(rule, cost)
        if isinstance(concurrency, (str, bytes)):
            concurrency = (concurrency, None)
        if not self.rules and concurrency is None:
            raise ValueError("rule or concurrency: something to limit")
        if not 0 <= delay <= _DELAY_MAX:
            raise ValueError("delay: seconds, 0 to %g" % _DELAY_MAX)
        self.concurrency = concurrency
        self.delay = delay
        if missing_key not in ("address", "deny"):
            raise ValueError("missing_key: 'address' or 'deny', not %r" %
                             (missing_key,))
        if not isinstance(trusted_proxies, int) or trusted_proxies < 0:
            raise ValueError("trusted_proxies: a number of proxies, >= 0")
        self.app = app
        self.rule = ", ".join(str(r[0]) for r in self.rules) or concurrency[0]
        self.key = key
        self.cost = cost
        self.segment = segment
        self.missing_key = missing_key
        self.trusted_proxies = trusted_proxies
        self.proxy_header = proxy_header
        self.retry_interval = retry_interval
        self.log = logger or _log
        self._client = None
        self._next_attach = 0.0
        self._problem = None  # the condition last logged; None when healthy
        self._warned = set()  # request conditions logged once
        self._lock = threading.Lock()
        self._attach()

    def _warn_once(self, what, err):
        with self._lock:
            if self._problem == what:
                return
            self._problem = what
        self.log.warning("floodgate: %s (%s); requests are not limited "
                         "until this clears", what, err)

    def _note_once(self, what):
        with self._lock:
            if what in self._warned:
                return
            self._warned.add(what)
        self.log.warning("floodgate: %s", what)

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

    def client_address(self, environ):
        """The client's address: REMOTE_ADDR, or with trusted_proxies=N the
        N-th entry from the right of the forwarding header."""
        addr = environ.get("REMOTE_ADDR") or None
        n = self.trusted_proxies
        if n:
            hops = forwarded_for(environ, self.proxy_header)
            if len(hops) >= n:
                return hops[-n]
            self._note_once("%s lists fewer than trusted_proxies=%d "
                            "addresses: limiting by REMOTE_ADDR" %
                            (self.proxy_header, n))
        return addr

    def _key(self, environ, keyfunc=None):
        """The bucket key under keyfunc (None: the middleware's key),
        EXEMPT, or None (deny: no key)."""
        keyfunc = keyfunc or self.key
        if keyfunc is not None:
            key = keyfunc(environ)
            if key is EXEMPT:
                return EXEMPT
            if key is not None and key != "" and key != b"":
                return _bucket_key(key)
            if self.missing_key == "deny":
                return None
        addr = self.client_address(environ)
        if addr is None:
            self._note_once("a request without a client address is "
                            "denied (REMOTE_ADDR empty)")
            return None
        return _bucket_key(addr)

    def _headers(self, client, d):
        try:
            policy, ratelimit = client.ratelimit_headers(d)
        except floodgate.Error:
            return []  # the rule was withdrawn since: say nothing of it
        return [("RateLimit-Policy", policy), ("RateLimit", ratelimit)]

    def _client_now(self):
        if self._client is None and time.monotonic() >= self._next_attach:
            self._attach()
        return self._client

    def _keys(self, environ):
        """(triples, key of the in-flight rule or None), or None: no key,
        deny.  A rule whose key is EXEMPT does not limit this request."""
        triples = []
        for name, keyfunc, cost in self.rules:
            k = self._key(environ, keyfunc)
            if k is None:
                return None
            if k is not EXEMPT:
                triples.append((name, k, cost))
        conc = None
        if self.concurrency is not None:
            conc = self._key(environ, self.concurrency[1])
            if conc is None:
                return None
            if conc is EXEMPT:
                conc = None
        return triples, conc

    def _may_delay(self, client, names):
        """Whether the rules may delay: some rule with a max-delay, none's
        beyond self.delay (else a reservation refused here keeps its
        tokens)."""
        some = False
        for name in names:
            info = client.rule(name)
            if info is None or not info["max_delay_ms"]:
                continue
            if info["max_delay_ms"] > self.delay * 1000:
                self._note_once("rule %r: its max-delay (%d ms) exceeds "
                                "delay=%g: not delayed"
                                % (name, info["max_delay_ms"], self.delay))
                return False
            some = True
        return some

    def _check(self, client, triples):
        """(Decision, delay in ns) of the rate rules."""
        if self.delay > 0 and self._may_delay(client,
                                              [t[0] for t in triples]):
            return client.reserve_many(triples)
        return client.allow_many(triples), 0

    def _acquire(self, client, key):
        """The lease (false: every place taken), or None (fail open)."""
        try:
            return client.acquire(self.concurrency[0], key)
        except floodgate.Error as e:
            self._warn_once("in-flight rule %r cannot be checked" %
                            (self.concurrency[0],), e)
            return None

    @staticmethod
    def _release(client, lease):
        if lease:
            try:
                client.release(lease)
            except floodgate.Error:
                pass  # closed meanwhile: the lease ends by itself

    @staticmethod
    def _too_many(start_response, retry_after, headers):
        start_response("429 Too Many Requests", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(_TOO_MANY))),
            ("Retry-After", str(max(1, retry_after)))] + headers)
        return [_TOO_MANY]

    def __call__(self, environ, start_response):
        keys = self._keys(environ)
        if keys is None:
            start_response("403 Forbidden", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(_FORBIDDEN)))])
            return [_FORBIDDEN]
        triples, conc = keys
        client = self._client_now() if triples or conc else None
        if client is None:
            return self.app(environ, start_response)  # exempt or fail open
        lease = self._acquire(client, conc) if conc is not None else None
        if lease is not None and not lease:
            return self._too_many(start_response, 1, [])
        try:
            return self._limit(client, triples, lease, environ,
                               start_response)
        except BaseException:
            self._release(client, lease)
            raise

    def _limit(self, client, triples, lease, environ, start_response):
        headers, delay_ns = [], 0
        d = None
        if triples:
            try:
                d, delay_ns = self._check(client, triples)
            except floodgate.Error as e:
                self._warn_once("rule %r cannot be checked" % (self.rule,),
                                e)
        if d is not None:
            self._healthy()
        if d is not None and not d.shadow:  # a dry run: nothing shows
            headers = self._headers(client, d)
            if not d.allowed:
                self._release(client, lease)
                return self._too_many(start_response, d.retry_after,
                                      headers)
        if delay_ns:
            time.sleep(delay_ns / 1e9)  # within delay: _may_delay()

        def add_headers(status, response_headers, exc_info=None):
            return start_response(status, list(response_headers) + headers,
                                  exc_info)

        body = self.app(environ, add_headers if headers else start_response)
        if not lease:
            return body
        return _Closing(body, lambda: self._release(client, lease))


def by_path(app, routes, **common):
    """A RateLimit for each route: routes maps a PATH_INFO prefix to the
    keyword arguments of its RateLimit (common ones in common); a request
    goes through the route of its longest matching prefix, or straight to
    app when none matches."""
    return _Routes(app, routes, common)


class _Routes:
    def __init__(self, app, routes, common):
        self.app = app
        self.routes = sorted(
            ((prefix, RateLimit(app, **dict(common, **settings)))
             for prefix, settings in routes.items()),
            key=lambda r: len(r[0]), reverse=True)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix, mw in self.routes:
            if path.startswith(prefix):
                return mw(environ, start_response)
        return self.app(environ, start_response)

    def close(self):
        for _, mw in self.routes:
            mw.close()
