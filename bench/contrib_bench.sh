#!/bin/sh
# SPDX-License-Identifier: ISC
# contrib_bench.sh - what each integration costs a request.
#
# In one run, on loopback (ports in 21000-21999), wrk measures:
#   - Apache httpd prefork serving a small static file, at a location with
#     no rule and at one with a FloodgateRule;
#   - nginx (2 workers) serving the same file with no limit, with a
#     floodgate_rule, and with limit_req (a zone whose rate and burst never
#     delay nor refuse: the cost of its check);
#   - PHP-FPM behind that nginx: a hello script, and contrib/php's
#     example.php (the same, after floodgate_allow() and its headers);
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
# DURATION (5), ROUNDS (3), THREADS (2), CONNECTIONS (16), WORKERS (4);
# NGINX_BIN and PHP_FPM name the servers (make bench-contrib passes what
# configure found); nginx and PHP-FPM are skipped when their module or
# extension is not built.
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

tmp=$(mktemp -d /tmp/fg-int-bench.XXXXXX) || exit 1
seg=fg-int-bench-$$
ngx_mod=$builddir/contrib/nginx/objs/ngx_http_floodgate_module.so
php_ext=$builddir/contrib/php/build/modules/floodgate.so
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
have_nginx=
[ -f "$ngx_mod" ] && [ -x "$NGINX" ] && have_nginx=yes
have_php=
[ -n "$have_nginx" ] && [ -f "$php_ext" ] && [ -n "$PHP_FPM" ] &&
	[ -x "$PHP_FPM" ] && have_php=yes
LD_LIBRARY_PATH=$builddir/lib/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
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

# compare NAME URL PID [NAME URL PID]...: alternate the servers ROUNDS
# times, then a row each
compare() {
	for _ in $(seq "$ROUNDS"); do
		i=0
		while [ $((i * 3)) -lt $# ]; do
			eval "url=\${$((i * 3 + 2))} pid=\${$((i * 3 + 3))}"
			measure "$url" "$pid" >>"$tmp/side$i"
			i=$((i + 1))
		done
	done
	i=0
	while [ $# -gt 0 ]; do
		f=$tmp/side$i
		printf '| %s | %s | %s | %s | %s | %s |\n' "$1" \
			"$(cut -d' ' -f1 "$f" | median)" \
			"$(cut -d' ' -f2 "$f" | median)" \
			"$(cut -d' ' -f3 "$f" | median)" \
			"$(cut -d' ' -f5 "$f" | median)" \
			"$(awk '{ s += $4 } END { print s + 0 }' "$f")"
		rm -f "$f"
		shift 3
		i=$((i + 1))
	done
}

fg_owner "$seg" create "bench:1000000000:1000000000:1000" \
	"api:1000000000:1000000000:1000" ||
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

# nginx: /plain/, /floodgate/ and /limitreq/ serve the same file; *.php
# goes to PHP-FPM (a static pool of WORKERS) on a Unix socket.  Both run
# their workers as root here, so that no permission stands in the way.
if [ -n "$have_nginx" ]; then
	nginx_port=$(fg_free_port)
	mkdir -p "$tmp/htdocs/floodgate" "$tmp/htdocs/limitreq" "$tmp/nginx"
	cp "$tmp/htdocs/plain/f.txt" "$tmp/htdocs/floodgate/"
	cp "$tmp/htdocs/plain/f.txt" "$tmp/htdocs/limitreq/"
	cp "$srcdir/contrib/php/example.php" "$srcdir/contrib/php/t/hello.php" \
		"$tmp/htdocs/"
	cat >"$tmp/nginx.conf" <<NGINX
load_module $ngx_mod;
user root;
daemon off;
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	floodgate_segment $seg;
	limit_req_zone \$binary_remote_addr zone=lr:1m rate=100000000r/s;
	server {
		listen 127.0.0.1:$nginx_port;
		root $tmp/htdocs;
		location /plain/ { }
		location /floodgate/ { floodgate_rule bench; }
		location /limitreq/ { limit_req zone=lr burst=1000000 nodelay; }
		location ~ \.php\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_pass unix:$tmp/fpm.sock;
		}
	}
}
NGINX
	env -u NGINX "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx.conf" \
		-e "$tmp/nginx/error.log" &
	nginx_pid=$!
	pids="$pids $nginx_pid"
	wait_http "http://127.0.0.1:$nginx_port/plain/f.txt"
fi
if [ -n "$have_php" ]; then
	cat >"$tmp/fpm.conf" <<FPM
[global]
pid = $tmp/fpm.pid
error_log = $tmp/fpm.log
daemonize = no
[bench]
listen = $tmp/fpm.sock
pm = static
pm.max_children = $WORKERS
php_admin_value[floodgate.segment] = $seg
FPM
	# OPcache on, as in production: scripts are not compiled per request
	"$PHP_FPM" -n -R -d zend_extension=opcache.so -d opcache.enable=1 \
		-d extension="$php_ext" -y "$tmp/fpm.conf" -F \
		>"$tmp/fpm.out" 2>&1 &
	fpm_pid=$!
	pids="$pids $fpm_pid"
	wait_http "http://127.0.0.1:$nginx_port/hello.php"
fi

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency, median of $ROUNDS alternating runs; $(nproc) CPUs; $(uname -r)"
echo
echo "| server | requests/s | p50 ms | p99 ms | server CPU us/request | non-2xx |"
echo "|---|---|---|---|---|---|"
compare "Apache prefork, static 1 KiB file" \
	"http://127.0.0.1:$apache_port/plain/f.txt" "$apache_pid" \
	"Apache prefork + mod_floodgate" \
	"http://127.0.0.1:$apache_port/limited/f.txt" "$apache_pid"
if [ -n "$have_nginx" ]; then
	compare "nginx 2 workers, static 1 KiB file" \
		"http://127.0.0.1:$nginx_port/plain/f.txt" "$nginx_pid" \
		"nginx + floodgate_rule" \
		"http://127.0.0.1:$nginx_port/floodgate/f.txt" "$nginx_pid" \
		"nginx + limit_req (nodelay)" \
		"http://127.0.0.1:$nginx_port/limitreq/f.txt" "$nginx_pid"
fi
if [ -n "$have_php" ]; then
	compare "PHP-FPM $WORKERS workers behind nginx, hello.php" \
		"http://127.0.0.1:$nginx_port/hello.php" "$fpm_pid" \
		"PHP-FPM, example.php (floodgate_allow + headers)" \
		"http://127.0.0.1:$nginx_port/example.php" "$fpm_pid"
fi
compare "gunicorn $WORKERS sync workers, WSGI hello" \
	"http://127.0.0.1:$gport_plain/" "$gpid_plain" \
	"gunicorn + floodgate_wsgi.RateLimit" \
	"http://127.0.0.1:$gport_fg/" "$gpid_fg"
echo
echo "admitted, denied by the segment: $(fg_owner "$seg" stats)"

# In-process PHP: floodgate_allow() against a call of a built-in function
# of two string arguments (the floor of a function call in PHP).
if [ -n "$have_php" ]; then
	"$(dirname "$PHP_FPM")/../bin/php" -v >/dev/null 2>&1 &&
		php="$(dirname "$PHP_FPM")/../bin/php" || php=php
	"$php" -n -d extension="$php_ext" -d floodgate.segment="$seg" -r '
$n = 1000000;
$best = function (callable $f) use ($n) {
	$b = INF;
	for ($r = 0; $r < 5; $r++) {
		$t = hrtime(true);
		$f($n);
		$b = min($b, (hrtime(true) - $t) / $n);
	}
	return $b;
};
$allow = $best(function ($n) { for ($i = 0; $i < $n; $i++) floodgate_allow("bench", "192.0.2.1"); });
$floor = $best(function ($n) { for ($i = 0; $i < $n; $i++) strcmp("bench", "192.0.2.1"); });
printf("in-process PHP, best of 5 x %d: floodgate_allow %.0f ns; strcmp (a call) %.0f ns\n", $n, $allow, $floor);
'
fi

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
