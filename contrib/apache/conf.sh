# SPDX-License-Identifier: ISC
# conf.sh - paths, the httpd.conf of a private Apache prefork, a free port
# and the segment's owner, for test-apache.sh and bench/contrib_bench.sh
# (sourced; needs $srcdir).
#
# fg_apache_conf DIR PORT SEGMENT SERVERS [LOCATIONS]: print a configuration
# with ServerRoot, logs, pid file and mutexes in DIR, listening on
# 127.0.0.1:PORT, DocumentRoot DIR/htdocs, SERVERS to 4*SERVERS prefork
# children (with FG_APACHE_MPM=event: two to four children of 2*SERVERS
# threads, the threaded MPM), mod_floodgate ($mod) on SEGMENT, then LOCATIONS
# verbatim.
# Under root the children run as nobody (DIR must be readable by them).
# Needs $moddir (Apache's module directory) and $mod.

# Where things are, from the build directory (make check's, or the caller's).
builddir=$PWD
mod=$builddir/contrib/apache/.libs/mod_floodgate.so
lib=${FLOODGATE_LIBRARY:-$builddir/lib/.libs/libfloodgate.so.0}
httpd=${APACHE2:-/usr/sbin/apache2}
moddir=${APACHE_MODULES:-/usr/lib/apache2/modules}
# A sanitizer build: apache2 and python3 load the ASan runtime first.
asan_preload=
if ldd "$lib" 2>/dev/null | grep -q libasan; then
	asan_preload=$(${CC:-cc} -print-file-name=libasan.so)
fi

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
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule floodgate_module $mod
MaxConnectionsPerChild 0
KeepAlive Off
DocumentRoot "$1/htdocs"
<Directory "$1/htdocs">
	Require all granted
</Directory>
FloodgateSegment $3
CONF
	fg_apache_mpm "$4"
	if [ "$(id -u)" -eq 0 ]; then
		printf 'User nobody\nGroup nogroup\n'
	fi
	printf '%s\n' "$5"
}

# fg_apache_mpm SERVERS: the MPM's lines ($FG_APACHE_MPM: prefork, the
# default, or event).
fg_apache_mpm() {
	if [ "${FG_APACHE_MPM:-prefork}" = event ]; then
		t=$(($1 * 2))
		cat <<CONF
LoadModule mpm_event_module $moddir/mod_mpm_event.so
StartServers 2
ServerLimit 4
ThreadLimit $t
ThreadsPerChild $t
MaxRequestWorkers $((t * 4))
MinSpareThreads 1
MaxSpareThreads $((t * 4))
CONF
	else
		cat <<CONF
LoadModule mpm_prefork_module $moddir/mod_mpm_prefork.so
StartServers $1
MinSpareServers $1
MaxSpareServers $(($1 * 2))
MaxRequestWorkers $(($1 * 4))
CONF
	fi
}

# fg_apache_cgi DIR: the lines that run CGI scripts (mod_cgi under
# prefork; a threaded MPM needs mod_cgid, its socket in DIR).
fg_apache_cgi() {
	if [ "${FG_APACHE_MPM:-prefork}" = event ]; then
		printf 'LoadModule cgid_module %s/mod_cgid.so\nScriptSock %s/cgisock\n' "$moddir" "$1"
	else
		printf 'LoadModule cgi_module %s/mod_cgi.so\n' "$moddir"
	fi
}

# fg_free_port: a TCP port free on loopback in 21000-21999 (the contrib
# tests' range) into $port, its lock held by this shell on fd 9 (call it
# in the test's shell, not in $(...): a subshell would let the lock go);
# 1 if there is none.
fg_free_port() {
	locks=/tmp/fg-test-ports-$(id -u)
	mkdir -p -m 700 "$locks" || return 1
	for i in $(seq 0 99); do
		p=$((21000 + ($$ * 13 + i * 7) % 1000))
		python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null || continue
		# the port's lock (contrib/fgtest.py's), held on fd 9 by this
		# shell until it exits: no other test of the run takes it
		exec 9>"$locks/p$p"
		if flock -n 9; then
			port=$p
			return 0
		fi
		exec 9>&-
	done
	return 1
}

# fg_owner SEGMENT create NAME:CAPACITY:RATE:PERIOD_MS[:MAX_DELAY_MS]... |
# free RULE KEY | stats | unlink: the segment and its rules (NAME:CAPACITY:inflight:LEASE_MS
# an in-flight rule), through the Python binding's floodgate.Owner;
# free prints the places of an in-flight rule free for KEY; stats prints
# "admitted denied".  Needs $srcdir, $lib (libfloodgate) and
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
        name, cap, rate, period, *delay = spec.split(":")
        if rate == "inflight":
            o.set_rule(name, int(cap), 0, 0, floodgate.RULE_IN_FLIGHT,
                       lease_ms=int(period))
        else:
            o.set_rule(name, int(cap), int(rate), int(period),
                       max_delay_ms=int(delay[0]) if delay else 0)
elif op == "free":  # places free of an in-flight rule for a key
    leases = []
    while True:
        lease = o.acquire(sys.argv[3], sys.argv[4])
        if not lease:
            break
        leases.append(lease)
    print(len(leases))
    for lease in leases:
        o.release(lease)
elif op == "stats":
    st = o.stats()
    print(st["consumed"], st["denied"])
elif op == "unlink":
    o.unlink()
' "$@"
}
