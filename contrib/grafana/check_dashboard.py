#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""check_dashboard.py - the Grafana dashboard is a well-formed dashboard,
and every metric the dashboard and the alerting rules name is one a real
floodgated exports (TAP).

The names come from the "# TYPE" lines of a running daemon's /metrics
(every family is declared, even one without samples yet), started here on
a private port with gossip, snapshots, a shadow rule and a peer that never
answers, so that every family floodgated can export is there.  Names a
pending change will add are listed in PENDING with why.

usage: check_dashboard.py DASHBOARD.json RULES.yml FLOODGATED FLOODGATE_CLI
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# Named by the rules before the daemon exports them (none at present).
PENDING = set()
# Series Prometheus makes itself, for every scrape target.
PROMETHEUS = {"up"}
PANEL_TYPES = {"row", "stat", "timeseries", "table", "state-timeline",
               "bargauge", "gauge", "text"}
NAME = re.compile(r"\b((?:floodgate|process)_[a-z0-9_]+|up)\b(?=\s*[{(\[)/*+\-<>=!,]|\s*$)")

tests = []


def check(ok, what, detail=""):
    tests.append((bool(ok), what, detail))


def dashboard_problems(d):
    """What makes @d no importable dashboard (schema of Grafana 9-10)."""
    bad = []
    for k, t in (("uid", str), ("title", str), ("schemaVersion", int),
                 ("panels", list), ("templating", dict), ("time", dict)):
        if not isinstance(d.get(k), t):
            bad.append(f"top-level {k} missing or not a {t.__name__}")
    if bad:
        return bad
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"]):
        bad.append("uid is not 1..40 of [A-Za-z0-9_-]")
    variables = {v.get("name") for v in d["templating"].get("list", [])}
    ids = set()
    for p in d["panels"]:
        pid, kind, g = p.get("id"), p.get("type"), p.get("gridPos", {})
        where = f"panel {pid} ({p.get('title')!r})"
        if not isinstance(pid, int) or pid in ids:
            bad.append(f"{where}: id missing or repeated")
        ids.add(pid)
        if kind not in PANEL_TYPES:
            bad.append(f"{where}: unknown type {kind!r}")
        if not all(isinstance(g.get(k), int) for k in "hwxy") or \
                g.get("x", 0) + g.get("w", 0) > 24:
            bad.append(f"{where}: gridPos not within 24 columns")
        if kind == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            bad.append(f"{where}: no targets")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(refs):
            bad.append(f"{where}: refIds missing or repeated")
        for t in targets:
            if not t.get("expr"):
                bad.append(f"{where}: a target without expr")
            for v in re.findall(r"\$(\w+)", t.get("expr", "")):
                if v not in variables and not v.startswith("__"):
                    bad.append(f"{where}: ${v} is no dashboard variable")
    return bad


def names_in_dashboard(d):
    out = set()
    for p in d["panels"]:
        for t in p.get("targets", []):
            out |= set(NAME.findall(t["expr"]))
    for v in d["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        out |= set(NAME.findall(q or ""))
    return out


def names_in_rules(path):
    out = set()
    text = [ln for ln in open(path) if not ln.lstrip().startswith("#")]
    exprs, cur = [], None
    for ln in text:  # expr: value, possibly a folded block (>-)
        m = re.match(r"(\s*)expr:\s*(.*)$", ln)
        if m:
            cur = len(m.group(1))
            exprs.append(m.group(2) if m.group(2) not in (">-", "|", ">") else "")
        elif cur is not None and (len(ln) - len(ln.lstrip()) > cur) and ln.strip():
            exprs[-1] += " " + ln.strip()
        else:
            cur = None
    for e in exprs:
        out |= set(NAME.findall(e))
    return out, len(exprs)


def free_port(lo):
    for port in range(lo, lo + 400, 2):
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port + 1))
            u.close()
            t.close()
            return port
        except OSError:
            u.close()
            t.close()
    raise SystemExit("no free port")


def gossip_conf(cli, d, port):
    """A gossip node with a snapshot: the default transport's families."""
    for n in ("n0", "n1"):
        subprocess.run([cli, "keygen", f"{d}/{n}.key", n], check=True,
                       stdout=subprocess.DEVNULL)
    with open(f"{d}/keyring", "w") as k:
        for n in ("n0", "n1"):
            k.write(open(f"{d}/{n}.key.pub").read())
    return (f"node-key {d}/n0.key\nkeyring {d}/keyring\n"
            f"listen 127.0.0.1:{port}\npeer 127.0.0.1:{port + 300}\n"
            f"snapshot {d}/snap every 1s\n")


def redis_conf(cli, d, port):
    """A Redis node whose Redis is down (nothing listens on port): the
    Redis transport's families, breaker open, and a strict rule's."""
    subprocess.run([cli, "keygen", f"{d}/n0.key", "n0"], check=True,
                   stdout=subprocess.DEVNULL)
    return (f"node-key {d}/n0.key\nsync redis://127.0.0.1:{port}\n"
            "redis-timeout 100ms\n"
            "rule strict capacity 2 rate 1/1h scope strict\n")


def gossip_ready(text):
    # a snapshot written, a window of top keys closed: every family has
    # its samples
    return re.search(r"^floodgate_snapshot_age_seconds ", text, re.M) \
        and "\nfloodgate_top_denied_key_denials{" in text


def redis_ready(text):
    return "\nfloodgate_redis_breaker_state{" in text \
        and "\nfloodgate_strict_redis_up " in text


def exported(floodgated, cli, transport, ready):
    """Family names from a live daemon's /metrics, and its text."""
    d = tempfile.mkdtemp(prefix="fg-mon-dash-")
    seg = f"fg-mon-dash-{os.getpid()}"
    port = free_port(26600 + os.getpid() % 100 * 2)
    proc = None
    try:
        conf = f"{d}/n0.conf"
        with open(conf, "w") as f:
            f.write(f"segment {seg}\ncapacity 1000\ninterval 100ms\n"
                    f"http {port + 1}\ncontrol {d}/ctl.sock\n"
                    + transport(cli, d, port) +
                    "rule api capacity 2 rate 1/1h scope global\n"
                    "rule trial capacity 2 rate 1/1h mode shadow\n")
        proc = subprocess.Popen([floodgated, "-f", "-c", conf],
                                stderr=open(f"{d}/log", "w"))
        url = f"http://127.0.0.1:{port + 1}/metrics"
        text, deadline = "", time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            try:
                text = urllib.request.urlopen(url, timeout=5).read().decode()
            except OSError:
                pass
            if ready(text):
                break
            for r in ("api", "trial"):  # denials: top keys have samples
                subprocess.run([cli, "-c", conf, "check", r, "k"],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            time.sleep(0.2)
        names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
        return names, text, open(f"{d}/log").read()
    finally:
        if proc:
            proc.terminate()
            proc.wait()
        # the segment's name and its System V memory
        subprocess.run([cli, "-s", seg, "remove"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for tail in (".state", ".state-remote"):  # the daemon's, beside it
            try:
                os.unlink(f"/dev/shm/{seg}{tail}")
            except OSError:
                pass
        shutil.rmtree(d, ignore_errors=True)


def main():
    dash_path, rules_path, floodgated, cli = sys.argv[1:5]
    try:
        dash = json.load(open(dash_path))
        check(True, "the dashboard is JSON")
    except ValueError as e:
        check(False, "the dashboard is JSON", str(e))
        dash = {}
    bad = dashboard_problems(dash) if dash else ["no dashboard"]
    check(not bad, "the dashboard has what Grafana imports", "\n".join(bad))
    names, text, log = exported(floodgated, cli, gossip_conf, gossip_ready)
    rnames_live, rtext, rlog = exported(floodgated, cli, redis_conf,
                                        redis_ready)
    check(redis_ready(rtext), "a Redis node whose Redis is down says so",
          f"daemon log:\n{rlog}\n{rtext[:2000]}")
    check(len(names) > 40, "a live floodgated declares its families",
          f"{len(names)} found; daemon log:\n{log}\n{text[:2000]}")
    r = subprocess.run(["promtool", "check", "metrics"], input=text,
                       text=True, capture_output=True)
    check(r.returncode == 0, "the live /metrics passes promtool check metrics",
          r.stdout + r.stderr)
    top = "floodgate_top_denied_key_denials{" in text
    check(top, "the live /metrics has top denied keys", text[-3000:])
    used = names_in_dashboard(dash) if not bad else set()
    missing = sorted(used - names - PROMETHEUS - PENDING)
    check(used and not missing,
          "every metric the dashboard names is exported",
          "not exported: " + ", ".join(missing))
    rnames, nexpr = names_in_rules(rules_path)
    missing = sorted(rnames - names - rnames_live - PROMETHEUS - PENDING)
    check(nexpr >= 10 and not missing,
          "every metric the alerting rules name is exported",
          f"{nexpr} expressions; not exported: " + ", ".join(missing))
    stale = sorted(PENDING & names)
    if stale:
        print("# now exported, drop from PENDING: " + ", ".join(stale))
    print(f"1..{len(tests)}")
    for i, (ok, what, detail) in enumerate(tests, 1):
        if not ok and detail:
            for ln in detail.splitlines():
                print(f"# {ln}")
        print(f"{'ok' if ok else 'not ok'} {i} - {what}")
    return 0 if all(t[0] for t in tests) else 1


if __name__ == "__main__":
    sys.exit(main())
