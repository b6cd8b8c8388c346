# SPDX-License-Identifier: ISC
"""floodgate - Python binding of libfloodgate (ctypes, standard library only).

    import floodgate
    fg = floodgate.Client()               # fg_open(NULL): $FLOODGATE_SEGMENT
    d = fg.allow("api", user_id)          # fg_allow(), cost 1
    if not d.allowed:
        ...  # d.retry_after_ms, d.remaining, d.limit, d.reset_ms
    policy, ratelimit = fg.ratelimit_headers(d)   # the HTTP header values

    d = fg.allow_many([("api", user_id, 1), ("ip", addr, 1)])  # all or none
    d, delay_ns = fg.reserve("api", user_id)      # delay instead of deny
    lease = fg.acquire("uploads", user_id)        # in-flight limit
    if lease: ... ; fg.release(lease)

Design.  The binding is a thin layer over the C library: no build step, no
state of its own beyond the handle.  Every negative return of the library
becomes a floodgate.Error carrying the code and fg_strerror()'s message, so
a caller never has to look at integers.

Finding the library.  $FLOODGATE_LIBRARY (a path) wins; then the dynamic
loader's own search (ctypes.util.find_library("floodgate"): ld.so.cache,
and LD_LIBRARY_PATH); then the libdir that pkg-config gives for floodgate
(an installation under a prefix the loader does not search, with
PKG_CONFIG_PATH pointing at it); then the soname libfloodgate.so.0 as the
loader finds it.  No path is built in.  The library is loaded at the first Client, not at import, so that an
application (and the WSGI middleware) can import the module and fail open
when the library is absent.

Fork.  A prefork server (gunicorn --preload, uWSGI, a multiprocessing pool)
may create a Client in the master before fork(): libfloodgate(3) documents
that each child's copy of the handle is its own and the mapping is shared,
so the children's checks draw on the same buckets and a child closing its
copy (or exiting) leaves the others' intact.  The handle is used by one
thread at a time (floodgate.h), and ctypes releases the GIL during the call,
so each Client serialises its calls with a lock; a child re-creates the
locks after fork() (os.register_at_fork) in case another thread of the
parent held one at the moment of the fork.

Keys and names are passed to C as NUL-terminated strings: a str is encoded
as UTF-8, and a key or name containing a NUL byte is refused (FG_EINVAL)
rather than silently truncated into another key.
"""
import ctypes
import ctypes.util
import math
import os
import subprocess
import threading
import weakref

__all__ = [
    "Client", "Owner", "Decision", "Error", "load_library", "diagnose",
    "strerror", "KEY_MAX", "DECISION_SHADOW", "DECISION_UNTRACKED",
    "DECISION_FALLBACK", "RULE_GLOBAL", "RULE_FAIL_CLOSED", "RULE_SHADOW",
    "RULE_DEFAULT", "RULE_IN_FLIGHT", "RULE_SLIDING_WINDOW",
    "RULE_FIXED_WINDOW", "RULE_PENALTY", "RULE_STRICT",
    "SLIDING_WINDOW_MAX", "Lease", "TRIPLES_MAX", "RATELIMIT_MAX",
]

KEY_MAX = 64
DECISION_SHADOW = 0x1
DECISION_UNTRACKED = 0x2
DECISION_FALLBACK = 0x4
RULE_GLOBAL = 0x02
RULE_FAIL_CLOSED = 0x04
RULE_SHADOW = 0x08
RULE_DEFAULT = 0x10
RULE_IN_FLIGHT = 0x20
RULE_SLIDING_WINDOW = 0x40
RULE_FIXED_WINDOW = 0x80
RULE_PENALTY = 0x100
RULE_STRICT = 0x400
SLIDING_WINDOW_MAX = 1048575
TRIPLES_MAX = 8
RATELIMIT_MAX = 80
CREATE_REPLACE = 0x1

# Error codes of floodgate.h, by name.
EINVAL, EKEY, EKEYLEN, ENORULE, ECOST, ENOSEG, EACCES, EBADSEG = range(-1, -9, -1)
EVERSION, ENOMEM, ESYS, EEXIST, ERULES, ENAME, ERULE, ETOOBIG = range(-9, -17, -1)
EKIND, ESPACE = -17, -18
ERROR_NAMES = {
    EINVAL: "FG_EINVAL", EKEY: "FG_EKEY", EKEYLEN: "FG_EKEYLEN",
    ENORULE: "FG_ENORULE", ECOST: "FG_ECOST", ENOSEG: "FG_ENOSEG",
    EACCES: "FG_EACCES", EBADSEG: "FG_EBADSEG", EVERSION: "FG_EVERSION",
    ENOMEM: "FG_ENOMEM", ESYS: "FG_ESYS", EEXIST: "FG_EEXIST",
    ERULES: "FG_ERULES", ENAME: "FG_ENAME", ERULE: "FG_ERULE",
    ETOOBIG: "FG_ETOOBIG", EKIND: "FG_EKIND", ESPACE: "FG_ESPACE",
}


class Error(Exception):
    """A libfloodgate failure: .code is the negative FG_E* value (None when
    the library itself could not be loaded), .name its symbol, .message
    fg_strerror()'s text, possibly followed by a detail."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.name = ERROR_NAMES.get(code, "unknown") if code is not None else None
        self.message = message

    def __str__(self):
        if self.code is None:
            return self.message
        return "%s (%s)" % (self.message, self.name)


class _fg_decision(ctypes.Structure):
    _fields_ = [("limit", ctypes.c_uint32), ("remaining", ctypes.c_uint32),
                ("retry_after_ms", ctypes.c_uint64),
                ("reset_ms", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("rule", ctypes.c_uint32)]


class _fg_rule(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("capacity", ctypes.c_uint32),
                ("rate", ctypes.c_uint32), ("period_ms", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("max_delay_ms", ctypes.c_uint32),
                ("lease_ms", ctypes.c_uint32),
                ("penalty_denials", ctypes.c_uint32),
                ("penalty_window_ms", ctypes.c_uint32),
                ("penalty_block_ms", ctypes.c_uint32)]


class _fg_triple(ctypes.Structure):
    _fields_ = [("rule", ctypes.c_char_p), ("key", ctypes.c_char_p),
                ("cost", ctypes.c_uint32)]


class _fg_lease(ctypes.Structure):
    _fields_ = [("opaque_", ctypes.c_uint64 * 11)]


class _fg_rule_info(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 32), ("index", ctypes.c_uint32),
                ("capacity", ctypes.c_uint32), ("rate", ctypes.c_uint32),
                ("period_ms", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("interval_ns", ctypes.c_uint64),
                ("table_full", ctypes.c_uint64),
                ("max_delay_ms", ctypes.c_uint32),
                ("lease_ms", ctypes.c_uint32),
                ("penalty_denials", ctypes.c_uint32),
                ("penalty_window_ms", ctypes.c_uint32),
                ("penalty_block_ms", ctypes.c_uint32),
                ("reserved_", ctypes.c_uint32),
                ("penalties", ctypes.c_uint64)]


_RULE_FIELDS = ("index", "capacity", "rate", "period_ms", "flags",
                "interval_ns", "max_delay_ms", "lease_ms", "penalty_denials",
                "penalty_window_ms", "penalty_block_ms", "penalties")
RULES_MAX = 255


class _fg_segment_opts(ctypes.Structure):
    _fields_ = [("capacity", ctypes.c_uint64), ("mode", ctypes.c_uint32),
                ("uid", ctypes.c_int64), ("gid", ctypes.c_int64)]


_STATS_FIELDS = ("capacity", "nslots", "used", "dead", "inserts", "abandoned",
                 "reaped", "consumed", "denied", "table_full", "evicted")


class _fg_segment_stats(ctypes.Structure):
    # struct fg_segment_stats has grown at its end before: the spare tail
    # keeps a newer library from writing past the buffer, and a field an
    # older library does not fill reads 0.
    _fields_ = [(n, ctypes.c_uint64) for n in _STATS_FIELDS] + [
        ("_spare", ctypes.c_uint64 * 16)]


class Decision:
    """The outcome of one check: .allowed plus the fields of struct
    fg_decision.  retry_after and reset are the same in whole seconds,
    rounded up, as HTTP headers want them."""

    __slots__ = ("allowed", "limit", "remaining", "retry_after_ms",
                 "reset_ms", "flags", "rule", "_d")

    def __init__(self, allowed, d):
        self.allowed = allowed
        self.limit = d.limit
        self.remaining = d.remaining
        self.retry_after_ms = d.retry_after_ms
        self.reset_ms = d.reset_ms
        self.flags = d.flags
        self.rule = d.rule
        self._d = d

    def __bool__(self):
        return self.allowed

    @property
    def shadow(self):
        return bool(self.flags & DECISION_SHADOW)

    @property
    def untracked(self):
        return bool(self.flags & DECISION_UNTRACKED)

    @property
    def fallback(self):
        """A strict rule's on-redis-down policy answered."""
        return bool(self.flags & DECISION_FALLBACK)

    @property
    def retry_after(self):
        return math.ceil(self.retry_after_ms / 1000)

    @property
    def reset(self):
        return math.ceil(self.reset_ms / 1000)

    def __repr__(self):
        return ("Decision(allowed=%r, limit=%d, remaining=%d, "
                "retry_after_ms=%d, reset_ms=%d, flags=%#x, rule=%d)" % (
                    self.allowed, self.limit, self.remaining,
                    self.retry_after_ms, self.reset_ms, self.flags,
                    self.rule))


_lib = None
_lib_lock = threading.Lock()


def _pkg_config_libdir():
    """The libdir of floodgate.pc, or None (no pkg-config, no .pc)."""
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "floodgate"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = out.stdout.strip()
    return libdir if out.returncode == 0 and libdir else None


def _candidates():
    """Where to look for the library, in order (see the module comment)."""
    env = os.environ.get("FLOODGATE_LIBRARY")
    if env:
        yield env  # an explicit choice is never second-guessed
        return
    found = ctypes.util.find_library("floodgate")
    if found:
        yield found
    libdir = _pkg_config_libdir()
    if libdir:
        yield os.path.join(libdir, "libfloodgate.so.0")
    yield "libfloodgate.so.0"


def _declare(lib):
    P = ctypes.c_void_p
    sig = {
        "fg_open": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_uint,
                                   ctypes.POINTER(P)]),
        "fg_close": (None, [P]),
        "fg_allow": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.c_uint32,
                                    ctypes.POINTER(_fg_decision)]),
        "fg_allow_many": (ctypes.c_int, [P, ctypes.POINTER(_fg_triple),
                                         ctypes.c_uint,
                                         ctypes.POINTER(_fg_decision),
                                         ctypes.POINTER(ctypes.c_uint)]),
        "fg_reserve": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.c_uint32,
                                      ctypes.POINTER(ctypes.c_uint64),
                                      ctypes.POINTER(_fg_decision)]),
        "fg_reserve_many": (ctypes.c_int, [P, ctypes.POINTER(_fg_triple),
                                           ctypes.c_uint,
                                           ctypes.POINTER(ctypes.c_uint64),
                                           ctypes.POINTER(_fg_decision),
                                           ctypes.POINTER(ctypes.c_uint)]),
        "fg_acquire": (ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.POINTER(_fg_lease),
                                      ctypes.POINTER(_fg_decision)]),
        "fg_release": (ctypes.c_int, [P, ctypes.POINTER(_fg_lease)]),
        "fg_ratelimit_headers": (ctypes.c_int, [
            P, ctypes.POINTER(_fg_decision), ctypes.c_char_p,
            ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]),
        "fg_allow_request": (ctypes.c_int, [P, ctypes.c_char_p,
                                            ctypes.c_char_p]),
        "fg_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "fg_diagnose": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_size_t]),
        "fg_create": (ctypes.c_int, [ctypes.c_char_p,
                                     ctypes.POINTER(_fg_segment_opts),
                                     ctypes.c_uint, ctypes.POINTER(P)]),
        "fg_unlink": (ctypes.c_int, [ctypes.c_char_p]),
        "fg_rule_set": (ctypes.c_int, [P, ctypes.POINTER(_fg_rule)]),
        "fg_rule_remove": (ctypes.c_int, [P, ctypes.c_char_p]),
        "fg_stats": (ctypes.c_int, [P, ctypes.POINTER(_fg_segment_stats)]),
        "fg_rule_get": (ctypes.c_int, [P, ctypes.c_uint32,
                                       ctypes.POINTER(_fg_rule_info)]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args


def load_library():
    """Load libfloodgate once (see the module comment for the search
    order); raise Error with code None when it cannot be found."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        tried = []
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
                _declare(lib)
            except (OSError, AttributeError) as e:
                tried.append("%s: %s" % (path, e))
                continue
            _lib = lib
            return lib
        raise Error(None, "libfloodgate not found (install it, point "
                    "PKG_CONFIG_PATH at its floodgate.pc, or set "
                    "FLOODGATE_LIBRARY to its path); tried " +
                    "; ".join(tried))


def strerror(code):
    return load_library().fg_strerror(code).decode()


def _raise(code, detail=None):
    msg = strerror(code)
    raise Error(code, msg if detail is None else "%s: %s" % (msg, detail))


def _cstr(value, what):
    b = value.encode() if isinstance(value, str) else bytes(value)
    if b"\0" in b:
        _raise(EINVAL, "%s contains a NUL byte" % what)
    return b


def _segment_arg(segment):
    return None if segment is None else _cstr(os.fsencode(segment), "segment")


def _cost_arg(cost):
    if not isinstance(cost, int) or cost < 0 or cost > 0xFFFFFFFF:
        _raise(ECOST, "cost %r" % (cost,))
    return cost


class Lease:
    """A lease of an in-flight rule (fg_acquire), to give back with
    Client.release(); false when it was denied."""

    __slots__ = ("acquired", "decision", "_l")

    def __init__(self, acquired, decision, lease):
        self.acquired = acquired
        self.decision = decision
        self._l = lease

    def __bool__(self):
        return self.acquired


def diagnose(segment=None):
    """fg_diagnose(): (code fg_open() would give now, one-line explanation)."""
    lib = load_library()
    buf = ctypes.create_string_buffer(512)
    r = lib.fg_diagnose(_segment_arg(segment), buf, len(buf))
    return r, buf.value.decode(errors="replace")


# Every live Client, so that a forked child can give each a fresh lock.
_clients = weakref.WeakSet()


def _after_fork_in_child():
    for c in list(_clients):
        c._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Client:
    """One attachment to a segment (fg_open).  segment: a name, an absolute
    path, or None for $FLOODGATE_SEGMENT or "floodgate"."""

    def __init__(self, segment=None):
        self._lib = load_library()
        self._lock = threading.Lock()
        self._h = None
        self._rule_index = {}  # rule name -> index, as rule() found it
        self.segment = segment
        h = ctypes.c_void_p()
        r = self._attach(_segment_arg(segment), h)
        if r < 0:
            detail = None
            if r == EACCES:  # fg_diagnose() names the file, mode and fix
                detail = diagnose(segment)[1]
            _raise(r, detail)
        self._h = h
        _clients.add(self)

    def _attach(self, seg, h):
        return self._lib.fg_open(seg, 0, ctypes.byref(h))

    def _handle(self):
        if self._h is None:
            _raise(EINVAL, "client is closed")
        return self._h

    def allow(self, rule, key, cost=1):
        """fg_allow(): take cost tokens from the bucket of (rule, key).
        Return a Decision; raise Error on FG_ENORULE, FG_EKEY, FG_EKEYLEN,
        FG_ECOST, FG_EINVAL (then nothing was consumed)."""
        r_b = _cstr(rule, "rule name")
        k_b = _cstr(key, "key")
        cost = _cost_arg(cost)
        d = _fg_decision()
        with self._lock:
            r = self._lib.fg_allow(self._handle(), r_b, k_b, cost,
                                   ctypes.byref(d))
        if r < 0:
            _raise(r, "rule %r" % (rule,) if r == ENORULE else None)
        return Decision(r == 1, d)

    @staticmethod
    def _triples(triples):
        """The C array of up to TRIPLES_MAX (rule, key, cost) triples."""
        if not 1 <= len(triples) <= TRIPLES_MAX:
            _raise(EINVAL, "%d triples (1 to %d)" % (len(triples),
                                                     TRIPLES_MAX))
        arr = (_fg_triple * len(triples))()
        for i, (rule, key, cost) in enumerate(triples):
            arr[i] = _fg_triple(_cstr(rule, "rule name"), _cstr(key, "key"),
                                _cost_arg(cost))
        return arr

    @staticmethod
    def _many_error(r, triples, which):
        bad = triples[which.value] if which.value < len(triples) else None
        _raise(r, "rule %r" % (bad[0],) if r == ENORULE and bad else None)

    def allow_many(self, triples):
        """fg_allow_many(): one request under up to TRIPLES_MAX (rule, key,
        cost) triples, all or none.  Return the Decision of the rule that
        decided; raise Error (then nothing was consumed)."""
        triples = list(triples)
        arr = self._triples(triples)
        d = _fg_decision()
        which = ctypes.c_uint()
        with self._lock:
            r = self._lib.fg_allow_many(self._handle(), arr, len(triples),
                                        ctypes.byref(d), ctypes.byref(which))
        if r < 0:
            self._many_error(r, triples, which)
        return Decision(r == 1, d)

    def reserve_many(self, triples):
        """fg_reserve_many(): (Decision, delay_ns) of one request under up
        to TRIPLES_MAX (rule, key, cost) triples: every rule reserves within
        its max-delay and the request goes after the longest wait, or none
        keeps anything."""
        triples = list(triples)
        arr = self._triples(triples)
        d = _fg_decision()
        which = ctypes.c_uint()
        delay = ctypes.c_uint64()
        with self._lock:
            r = self._lib.fg_reserve_many(self._handle(), arr, len(triples),
                                          ctypes.byref(delay),
                                          ctypes.byref(d),
                                          ctypes.byref(which))
        if r < 0:
            self._many_error(r, triples, which)
        return Decision(r == 1, d), delay.value

    def reserve(self, rule, key, cost=1):
        """fg_reserve(): (Decision, delay_ns): allowed after delay_ns when
        the rule's max-delay allows it, else denied with nothing taken."""
        r_b = _cstr(rule, "rule name")
        k_b = _cstr(key, "key")
        cost = _cost_arg(cost)
        d = _fg_decision()
        delay = ctypes.c_uint64()
        with self._lock:
            r = self._lib.fg_reserve(self._handle(), r_b, k_b, cost,
                                     ctypes.byref(delay), ctypes.byref(d))
        if r < 0:
            _raise(r, "rule %r" % (rule,) if r == ENORULE else None)
        return Decision(r == 1, d), delay.value

    def acquire(self, rule, key):
        """fg_acquire(): a Lease (false when denied; its .decision says
        why); give it back with release() when the request ends."""
        r_b = _cstr(rule, "rule name")
        k_b = _cstr(key, "key")
        lease = _fg_lease()
        d = _fg_decision()
        with self._lock:
            r = self._lib.fg_acquire(self._handle(), r_b, k_b,
                                     ctypes.byref(lease), ctypes.byref(d))
        if r < 0:
            _raise(r, "rule %r" % (rule,) if r == ENORULE else None)
        return Lease(r == 1, Decision(r == 1, d), lease)

    def release(self, lease):
        """fg_release(): True when the lease was given back, False when it
        held nothing any more (denied, given back, or ended by itself)."""
        with self._lock:
            r = self._lib.fg_release(self._handle(), ctypes.byref(lease._l))
        if r < 0:
            _raise(r)
        return r == 1

    def ratelimit_headers(self, decision):
        """fg_ratelimit_headers(): the values of RateLimit-Policy and
        RateLimit for a Decision of this client, as str; raise Error
        (FG_ENORULE: the rule was withdrawn since; FG_EKIND: in-flight)."""
        pol = ctypes.create_string_buffer(RATELIMIT_MAX)
        rl = ctypes.create_string_buffer(RATELIMIT_MAX)
        with self._lock:
            r = self._lib.fg_ratelimit_headers(
                self._handle(), ctypes.byref(decision._d), pol, len(pol), rl,
                len(rl))
        if r < 0:
            _raise(r)
        return pol.value.decode(), rl.value.decode()

    def allow_request(self, user_id, endpoint):
        """fg_allow_request(): True when allowed."""
        u = _cstr(user_id, "user id")
        e = _cstr(endpoint, "endpoint")
        with self._lock:
            r = self._lib.fg_allow_request(self._handle(), u, e)
        if r < 0:
            _raise(r)
        return r == 1

    def rule(self, name):
        """The rule in force named name, as a dict of fg_rule_info (name,
        index, capacity, rate, period_ms, flags, interval_ns, max_delay_ms,
        lease_ms, penalty_denials, penalty_window_ms, penalty_block_ms,
        penalties), or None.  A name keeps its index for the segment's life:
        the index is remembered, so a second look is one fg_rule_get()."""
        want = _cstr(name, "rule name")
        ri = _fg_rule_info()
        with self._lock:
            h = self._handle()
            guess = self._rule_index.get(want)
            order = ([guess] if guess is not None else []) + list(
                range(RULES_MAX))
            for i in order:
                if (self._lib.fg_rule_get(h, i, ctypes.byref(ri)) == 0 and
                        ri.name == want):
                    self._rule_index[want] = i
                    info = {f: getattr(ri, f) for f in _RULE_FIELDS}
                    info["name"] = ri.name.decode()
                    return info
        return None

    def stats(self):
        """fg_stats() as a dict (O(slots): for operators and tests)."""
        s = _fg_segment_stats()
        with self._lock:
            r = self._lib.fg_stats(self._handle(), ctypes.byref(s))
        if r < 0:
            _raise(r)
        return {n: getattr(s, n) for n in _STATS_FIELDS}

    def close(self):
        """fg_close(); later calls raise Error.  Idempotent."""
        with self._lock:
            h, self._h = self._h, None
        if h is not None:
            self._lib.fg_close(h)
            _clients.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            self._lib.fg_close(self._h)
            self._h = None


class Owner(Client):
    """The owner side (fg_create, fg_rule_set) for a single-host embedding
    or a test; in production floodgated owns the segment."""

    def __init__(self, segment=None, capacity=0, mode=0, replace=False):
        self._opts = _fg_segment_opts(capacity, mode, -1, -1)
        self._flags = CREATE_REPLACE if replace else 0
        super().__init__(segment)

    def _attach(self, seg, h):
        return self._lib.fg_create(seg, ctypes.byref(self._opts),
                                   self._flags, ctypes.byref(h))

    def set_rule(self, name, capacity, rate, period_ms, flags=0,
                 max_delay_ms=0, lease_ms=0, penalty=None):
        """fg_rule_set(); penalty: (denials, window_ms, block_ms), which
        sets RULE_PENALTY."""
        p = penalty or (0, 0, 0)
        if penalty:
            flags |= RULE_PENALTY
        rule = _fg_rule(_cstr(name, "rule name"), capacity, rate, period_ms,
                        flags, max_delay_ms, lease_ms, *p)
        with self._lock:
            r = self._lib.fg_rule_set(self._handle(), ctypes.byref(rule))
        if r < 0:
            _raise(r)

    def remove_rule(self, name):
        with self._lock:
            r = self._lib.fg_rule_remove(self._handle(),
                                         _cstr(name, "rule name"))
        if r < 0:
            _raise(r)

    def unlink(self):
        """fg_unlink() the segment's name; this handle stays usable."""
        r = self._lib.fg_unlink(_segment_arg(self.segment))
        if r < 0:
            _raise(r)
