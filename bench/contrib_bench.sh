#!/bin/sh
# contrib_bench.sh - what mod_floodgate and the WSGI middleware cost a request.
#
# In one run, on loopback (ports in 23000-23999), wrk measures:
#   - Apache httpd prefork serving a small static file, at a location with
#     no rule and at one with a FloodgateRule;
#   - gunicorn (sync workers) serving contrib/python/testapp.py without and
#     with floodgate_wsgi.RateLimit.
# The rule admits everything (a billion tokens, refilled a billion a
# second) and is keyed by the client address, so every request takes a
# token from one bucket: the most contended case, and no request is cut
# short by a 429.  Each pair is measured alternately ROUNDS times for
# DURATION seconds, so that the drift of a shared machine falls on both
# sides; the table gives the median requests/s and latency percentiles.
#
# Run from the build directory: make bench-contrib (or
# srcdir=SRC sh SRC/bench/contrib_bench.sh).  Knobs (environment):
# DURATION (5), ROUNDS (3), THREADS (2), CONNECTIONS (16), WORKERS (4).
srcdir=${srcdir:-.}
. "$srcdir/contrib/apache/conf.sh"
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
WORKERS=${WORKERS:-4}
PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
export PYTHONDONTWRITEBYTECODE

for t in wrk python3 gunicorn "$httpd"; do
	command -v "$t" >/dev/null 2>&1 || { echo "contrib_bench: $t not found"; exit 1; }
done
[ -f "$mod" ] || { echo "contrib_bench: $mod not built (configure found no apxs)"; exit 1; }

tmp=$(mktemp -d /tmp/fg-bench.XXXXXX) || exit 1
seg=fg-bench-$$
pids=
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	fg_owner "$seg" unlink >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

wait_http() { # wait_http URL: up to 10 s
	for _ in $(seq 100); do
		python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "contrib_bench: $1 does not answer"
	exit 1
}

# server_cpu PID: CPU time, in clock ticks, of PID, its live children and
# its reaped ones (utime + stime + cutime + cstime of the parent, utime +
# stime of each child): the server's cost, which the load of a shared
# machine disturbs much less than its throughput.
server_cpu() {
	{
		cat "/proc/$1/stat"
		for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
			cat "/proc/$c/stat" 2>/dev/null
		done
	} | sed 's/^.*) //' | awk -v p="$1" 'NR == 1 { t += $12 + $13 + $14 + $15; next }
		{ t += $12 + $13 } END { print t }'
}

# measure URL PID: one wrk run against the server PID; prints
# "req/s p50_ms p99_ms non2xx cpu_us_per_request"
measure() {
	c0=$(server_cpu "$2")
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1" >"$tmp/wrk.out" 2>&1
	c1=$(server_cpu "$2")
	awk -v cpu=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '
	     function ms(v) {
		if (v ~ /us$/) return v * 0.001
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v + 0
	     }
	     / requests in / { n = $1 }
	     /Requests\/sec:/ { r = $2 }
	     $1 == "50%" { p50 = ms($2) }
	     $1 == "99%" { p99 = ms($2) }
	     /Non-2xx or 3xx responses:/ { bad = $5 }
	     END { printf "%.0f %.3f %.3f %d %.0f\n", r, p50, p99, bad,
	           n ? cpu * 1e6 / hz / n : 0 }' "$tmp/wrk.out"
}

median() { # median of the numbers on stdin
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# compare NAME_A URL_A PID_A NAME_B URL_B PID_B: alternate, then a row each
compare() {
	: >"$tmp/a"
	: >"$tmp/b"
	for _ in $(seq "$ROUNDS"); do
		measure "$2" "$3" >>"$tmp/a"
		measure "$5" "$6" >>"$tmp/b"
	done
	for side in a b; do
		[ $side = a ] && name=$1 || name=$4
		f=$tmp/$side
		printf '| %s | %s | %s | %s | %s | %s |\n' "$name" \
			"$(cut -d' ' -f1 "$f" | median)" \
			"$(cut -d' ' -f2 "$f" | median)" \
			"$(cut -d' ' -f3 "$f" | median)" \
			"$(cut -d' ' -f5 "$f" | median)" \
			"$(awk '{ s += $4 } END { print s + 0 }' "$f")"
	done
}

fg_owner "$seg" create "bench:1000000000:1000000000:1000" ||
	{ echo "contrib_bench: cannot create the segment"; exit 1; }

# Apache: /plain without a rule, /limited with one; the same file.
apache_port=$(fg_free_port)
mkdir -p "$tmp/htdocs/plain" "$tmp/htdocs/limited" "$tmp/logs"
head -c 1024 /dev/zero | tr '\0' x >"$tmp/htdocs/plain/f.txt"
cp "$tmp/htdocs/plain/f.txt" "$tmp/htdocs/limited/f.txt"
chmod -R a+rX "$tmp"
fg_apache_conf "$tmp" "$apache_port" "$seg" "$((WORKERS * 2))" \
	'<Location /limited>
	FloodgateRule bench
</Location>' >"$tmp/httpd.conf"
"$httpd" -f "$tmp/httpd.conf" -k start || exit 1
wait_http "http://127.0.0.1:$apache_port/plain/f.txt"
apache_pid=$(cat "$tmp/httpd.pid")
pids="$pids $apache_pid"

# gunicorn: one server without the middleware, one with it.
gport_plain=$(fg_free_port)
PYTHONPATH=$srcdir/contrib/python gunicorn -w "$WORKERS" -k sync \
	-b "127.0.0.1:$gport_plain" --log-level warning testapp:application \
	2>"$tmp/gunicorn-plain.log" &
gpid_plain=$!
pids="$pids $!"
wait_http "http://127.0.0.1:$gport_plain/"
gport_fg=$(fg_free_port)
FG_TEST_SEGMENT=$seg FG_TEST_RULE=bench FLOODGATE_LIBRARY=$lib \
	PYTHONPATH=$srcdir/contrib/python gunicorn -w "$WORKERS" -k sync \
	-b "127.0.0.1:$gport_fg" --log-level warning testapp:application \
	2>"$tmp/gunicorn-fg.log" &
gpid_fg=$!
pids="$pids $!"
wait_http "http://127.0.0.1:$gport_fg/"

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, median of $ROUNDS alternating runs; $(nproc) CPUs; $(uname -r)"
echo
echo "| server | requests/s | p50 ms | p99 ms | server CPU us/request | non-2xx |"
echo "|---|---|---|---|---|---|"
compare "Apache prefork, static 1 KiB file" \
	"http://127.0.0.1:$apache_port/plain/f.txt" "$apache_pid" \
	"Apache prefork + mod_floodgate" \
	"http://127.0.0.1:$apache_port/limited/f.txt" "$apache_pid"
compare "gunicorn $WORKERS sync workers, WSGI hello" \
	"http://127.0.0.1:$gport_plain/" "$gpid_plain" \
	"gunicorn + floodgate_wsgi.RateLimit" \
	"http://127.0.0.1:$gport_fg/" "$gpid_fg"
echo
echo "admitted, denied by the segment: $(fg_owner "$seg" stats)"

# In-process, without the network's noise: one Client.allow() through
# ctypes, and one WSGI call of a trivial app bare and behind RateLimit.
FLOODGATE_LIBRARY=$lib PYTHONPATH=$srcdir/contrib/python python3 - "$seg" <<'EOF'
import sys, timeit
import floodgate, floodgate_wsgi

seg = sys.argv[1]
c = floodgate.Client(seg)
app = lambda env, sr: (sr("200 OK", []), [b""])[1]
mw = floodgate_wsgi.RateLimit(app, rule="bench", segment=seg)
env = {"REMOTE_ADDR": "192.0.2.1"}
sr = lambda status, headers, exc_info=None: None
n = 200000


def best(stmt):
    return min(timeit.repeat(stmt, number=n, repeat=5)) / n * 1e9


allow = best(lambda: c.allow("bench", "192.0.2.1"))
bare = best(lambda: app(env, sr))
wrapped = best(lambda: mw(env, sr))
print("in-process, best of 5 x %d: Client.allow %.0f ns; WSGI call bare "
      "%.0f ns, behind RateLimit %.0f ns (+%.0f ns a request)"
      % (n, allow, bare, wrapped, wrapped - bare))
EOF
