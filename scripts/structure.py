#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""structure.py BUILD_DIR - the house rules HACKING states, checked.

  1. No C file of the product (lib shm gossip redis daemon cli util demo) is over
     800 lines.
  2. No function there is over 80 lines or of cyclomatic complexity over 15,
     as pmccabe (Debian's pmccabe) measures them.
  3. Modules depend downward only: no loop of includes or calls between
     files.  A file calls another when its object file uses a symbol the
     other's defines (nm on the objects of BUILD_DIR, so it sees the calls
     the compiler saw); it includes another when it includes a header
     whose .c is that file.  A strongly connected component of more than
     one file is a loop.

  4. Every C, shell and Python file of the tree (tracked by git; fuzz
     seeds and generated files aside) names its licence with an SPDX line
     (`SPDX-License-Identifier: ISC`) in its first line, or its second
     after a #! line.

Prints each breach and exits 1 if there is one; prints a summary and exits
0 otherwise.  Tests, benches and contrib are not the product: they may be
long and depend on anything.
"""
import os
import re
import subprocess
import sys

ROOMS = ["lib", "shm", "gossip", "redis", "daemon", "cli", "util", "demo"]
MAX_FILE_LINES = 800
MAX_FUNC_LINES = 80
MAX_COMPLEXITY = 15


def sources(top):
    out = []
    for room in ROOMS:
        d = os.path.join(top, room)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                out.append(os.path.join(room, name))
    return out


def check_sizes(top, files):
    bad = []
    for f in files:
        with open(os.path.join(top, f), encoding="utf-8",
                  errors="replace") as fh:
            n = sum(1 for _ in fh)
        if n > MAX_FILE_LINES:
            bad.append("%s: %d lines (at most %d)" % (f, n, MAX_FILE_LINES))
    return bad


def check_functions(top, files):
    cfiles = [os.path.join(top, f) for f in files if f.endswith(".c")]
    res = subprocess.run(["pmccabe"] + cfiles, capture_output=True,
                         text=True, check=False)
    bad = []
    for line in res.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 6:
            continue
        cc, lines, where = int(parts[0]), int(parts[4]), parts[5]
        where = os.path.relpath(where.split("(")[0], top) + \
            "(" + where.split("(", 1)[1]
        if cc > MAX_COMPLEXITY or lines > MAX_FUNC_LINES:
            bad.append("%s: complexity %d, %d lines (at most %d and %d)"
                       % (where, cc, lines, MAX_COMPLEXITY, MAX_FUNC_LINES))
    return bad


SPDX = "SPDX-License-Identifier: ISC"


def check_licences(top):
    """Files whose first lines (after #!) do not carry the SPDX line."""
    if not os.path.isdir(os.path.join(top, ".git")):
        return []  # a release tarball: git checks the tree it came from
    res = subprocess.run(["git", "-C", top, "ls-files", "*.c", "*.h",
                          "*.cc", "*.sh", "*.py"], capture_output=True,
                         text=True, check=True)
    bad = []
    for f in res.stdout.split():
        if f.startswith("tests/fuzz/corpus/"):
            continue
        with open(os.path.join(top, f), encoding="utf-8",
                  errors="replace") as fh:
            head = [fh.readline(), fh.readline()]
        if head[0].startswith("/* This is a generated file"):
            continue
        line = head[1] if head[0].startswith("#!") else head[0]
        if SPDX not in line:
            bad.append("%s: no \"%s\" line at its top" % (f, SPDX))
    return bad


def object_source(build, obj, known):
    """The source file an object of BUILD was compiled from, or None."""
    rel = os.path.relpath(obj, build)
    room = rel.split(os.sep)[0]
    if room not in ROOMS:
        return None
    stem = os.path.basename(obj)[:-2]
    # automake names per-target objects TARGET-STEM.o
    for cand in (stem, stem.split("-", 1)[-1]):
        src = os.path.join(room, cand + ".c")
        if src in known:
            return src
    return None


def symbols(build, known):
    defs, uses = {}, {}
    for dirpath, _, names in os.walk(build):
        if ".libs" in dirpath.split(os.sep):
            continue
        for name in names:
            if not name.endswith(".o"):
                continue
            obj = os.path.join(dirpath, name)
            src = object_source(build, obj, known)
            if src is None:
                continue
            res = subprocess.run(["nm", "-P", obj], capture_output=True,
                                 text=True, check=False)
            for line in res.stdout.splitlines():
                f = line.split()
                if len(f) < 2:
                    continue
                sym, kind = f[0], f[1]
                if kind == "U":
                    uses.setdefault(src, set()).add(sym)
                elif kind in "TDBRC":
                    defs.setdefault(sym, set()).add(src)
    return defs, uses


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def include_edges(top, files, known):
    edges = {}
    for f in files:
        with open(os.path.join(top, f), encoding="utf-8",
                  errors="replace") as fh:
            for line in fh:
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)[:-2] + ".c" if m.group(1).endswith(
                    ".h") else None
                src = f[:-2] + ".c"
                if target and target in known and src in known and \
                        target != src:
                    edges.setdefault(src, set()).add(target)
    return edges


def loops(graph):
    """Tarjan: the strongly connected components of more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(sys.argv[1])
    files = sources(top)
    known = set(f for f in files if f.endswith(".c"))
    bad = check_sizes(top, files) + check_functions(top, files) + \
        check_licences(top)
    defs, uses = symbols(build, known)
    if not uses:
        bad.append("no objects under %s: build first" % build)
    graph = include_edges(top, files, known)
    for src, syms in uses.items():
        for sym in syms:
            for target in defs.get(sym, ()):
                if target != src:
                    graph.setdefault(src, set()).add(target)
    for comp in loops(graph):
        bad.append("a loop of includes or calls: " + " <-> ".join(comp))
    for b in bad:
        print("structure: " + b)
    if bad:
        return 1
    print("structure: %d files, none over %d lines; no function over %d "
          "lines or complexity %d; %d files in the graph, no loop; every "
          "source file names its licence"
          % (len(files), MAX_FILE_LINES, MAX_FUNC_LINES, MAX_COMPLEXITY,
             len(graph)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
