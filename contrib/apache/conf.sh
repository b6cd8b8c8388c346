# conf.sh - the httpd.conf of a private Apache prefork for tests and
# benchmarks; sourced by test-apache.sh and bench/contrib_bench.sh.
#
# fg_apache_conf DIR PORT SEGMENT SERVERS [LOCATIONS]: print a configuration
# with ServerRoot, logs, pid file and mutexes in DIR, listening on
# 127.0.0.1:PORT, DocumentRoot DIR/htdocs, SERVERS to 4*SERVERS prefork
# children, mod_floodgate ($mod) on SEGMENT, then LOCATIONS verbatim.
# Under root the children run as nobody (DIR must be readable by them).
# Needs $moddir (Apache's module directory) and $mod.
fg_apache_conf() {
	cat <<CONF
ServerRoot "$1"
ServerName 127.0.0.1
Listen 127.0.0.1:$2
PidFile $1/httpd.pid
DefaultRuntimeDir $1
Mutex file:$1 default
ErrorLog $1/logs/error.log
LogLevel warn
LoadModule mpm_prefork_module $moddir/mod_mpm_prefork.so
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule floodgate_module $mod
StartServers $4
MinSpareServers $4
MaxSpareServers $(($4 * 2))
MaxRequestWorkers $(($4 * 4))
MaxConnectionsPerChild 0
KeepAlive Off
DocumentRoot "$1/htdocs"
<Directory "$1/htdocs">
	Require all granted
</Directory>
FloodgateSegment $3
CONF
	if [ "$(id -u)" -eq 0 ]; then
		printf 'User nobody\nGroup nogroup\n'
	fi
	printf '%s\n' "$5"
}

# fg_free_port: a TCP port free on loopback in 23000-23999, or nothing.
fg_free_port() {
	for i in $(seq 0 99); do
		p=$((23000 + ($$ * 13 + i * 7) % 1000))
		if python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# fg_owner SEGMENT create NAME:CAPACITY:RATE:PERIOD_MS... | stats | unlink:
# the segment and its rules, through the Python binding's floodgate.Owner;
# stats prints "admitted denied".  Needs $srcdir, $lib (libfloodgate) and
# $asan_preload (empty, or the ASan runtime a sanitizer build needs).
fg_owner() {
	PYTHONDONTWRITEBYTECODE=1 LD_PRELOAD=$asan_preload \
	ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc \
	FLOODGATE_LIBRARY=$lib PYTHONPATH=$srcdir/contrib/python python3 -c '
import sys, floodgate
seg, op = sys.argv[1], sys.argv[2]
o = floodgate.Owner(seg, capacity=1024)
if op == "create":
    for spec in sys.argv[3:]:
        name, cap, rate, period = spec.split(":")
        o.set_rule(name, int(cap), int(rate), int(period))
elif op == "stats":
    st = o.stats()
    print(st["consumed"], st["denied"])
elif op == "unlink":
    o.unlink()
' "$@"
}
