#!/bin/sh
# SPDX-License-Identifier: ISC
# test-apache.sh - mod_floodgate in a real Apache httpd, prefork MPM (TAP);
# with FG_APACHE_MPM=event (test-apache-event.sh), the threaded event MPM,
# where a child's threads share its handle under the module's mutex: the
# same checks must give the same exact counts.
#
# Starts Debian's apache2 on loopback (a port in 21000-21999) with its own
# ServerRoot, configuration and logs in a temporary directory, loading
# mod_mpm_prefork, mod_authz_core and the module built in this tree.  The
# segment and its rules are made with the Python binding's Owner
# (contrib/python).  Rules refill one token an hour, so during the test a
# key is admitted exactly `capacity` times; ab drives the server from 8
# connections and its counts are compared with that number and with the
# segment's own counters.  When run as root, the children run as nobody and
# the segment stays 0660 root: they can only check requests through the
# handle the parent attached before forking them (see mod_floodgate.c).
#
# Skips only when apache2, its prefork module, ab, htpasswd, curl, python3
# or the module itself are missing, saying which.
srcdir=${srcdir:-.}
. "$srcdir/contrib/apache/conf.sh"

# make check runs this through the TAP driver, for which a skipped script
# is the plan "1..0 # SKIP why" and exit status 0 (77 would be an ERROR).
skip() {
	echo "1..0 # SKIP $*"
	exit 0
}
[ -x "$httpd" ] || skip "$httpd not found (install apache2)"
mpm=${FG_APACHE_MPM:-prefork}
[ -f "$moddir/mod_mpm_$mpm.so" ] || skip "no $moddir/mod_mpm_$mpm.so"
[ -f "$mod" ] || skip "mod_floodgate not built (configure found no apxs)"
command -v ab >/dev/null 2>&1 || skip "ab not found (install apache2-utils)"
command -v curl >/dev/null 2>&1 || skip "curl not found"
command -v htpasswd >/dev/null 2>&1 || skip "htpasswd not found (install apache2-utils)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"

tmp=$(mktemp -d /tmp/fg-int-apache.XXXXXX) || exit 1
seg=fg-int-apache-$$
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	fi
	owner unlink >/dev/null 2>&1
	[ -n "$FG_TEST_KEEP" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM


owner() { fg_owner "$seg" "$@"; }

fg_free_port || { echo "Bail out! no free port in 21000-21999"; exit 1; }
url=http://127.0.0.1:$port

n=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
notok() {
	n=$((n + 1))
	echo "not ok $n - $*"
	failed=1
}
check() { # check "description" test-args...
	d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
failed=

for d in limited limited/free g free c e u m d d2 dm slow mix; do
	mkdir -p "$tmp/htdocs/$d"
	echo "hello $d" >"$tmp/htdocs/$d/index.html"
done
mkdir -p "$tmp/logs"
htpasswd -bcB "$tmp/htpasswd" alice pw-a 2>/dev/null &&
	htpasswd -bB "$tmp/htpasswd" bob pw-b 2>/dev/null ||
	{ echo "Bail out! htpasswd failed"; exit 1; }
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$tmp"
	chmod -R a+rX "$tmp/htdocs"
fi

LOCATIONS="LoadModule setenvif_module $moddir/mod_setenvif.so
SetEnvIf X-Tenant ^(.+)\$ FG_TENANT=\$1
<Location /limited>
	FloodgateRule t
</Location>
<Location /limited/free>
	FloodgateRule off
</Location>
<Location /g>
	FloodgateRule g
	FloodgateKey header X-Client
</Location>
<Location /c>
	FloodgateRule c
	FloodgateCost 3
</Location>
<Location /e>
	FloodgateRule e
	FloodgateKey env FG_TENANT
</Location>
LoadModule authn_core_module $moddir/mod_authn_core.so
LoadModule authn_file_module $moddir/mod_authn_file.so
LoadModule auth_basic_module $moddir/mod_auth_basic.so
LoadModule authz_user_module $moddir/mod_authz_user.so
<Location /u>
	AuthType Basic
	AuthName floodgate
	AuthUserFile $tmp/htpasswd
	Require valid-user
	FloodgateRule u
	FloodgateKey user
</Location>
<Location /m>
	FloodgateRule m1
	FloodgateRule m2 key=header:X-User
</Location>
<Location /d>
	FloodgateRule d
	FloodgateDelay 2s
</Location>
<Location /d2>
	FloodgateRule d2
	FloodgateDelay 500ms
</Location>
<Location /dm>
	FloodgateRule dm1
	FloodgateRule dm2
	FloodgateDelay 2s
</Location>
$(fg_apache_cgi "$tmp")
<Directory \"$tmp/htdocs/slow\">
	Options +ExecCGI
	<Files \"*.cgi\">
		SetHandler cgi-script
	</Files>
</Directory>
<Location /slow>
	FloodgateConcurrency conc addr
</Location>
<Location /mix>
	FloodgateRule one
	FloodgateConcurrency conc
</Location>"
write_conf() { # write_conf SEGMENT
	fg_apache_conf "$tmp" "$port" "$1" 4 "$LOCATIONS" >"$tmp/httpd.conf"
}

# ab URL N: "complete non2xx broken" (broken = connect, receive, exceptions)
abrun() {
	ab -q -n "$2" -c 8 ${3:+-H "$3"} "$1" >"$tmp/ab.out" 2>&1 || {
		sed 's/^/# /' "$tmp/ab.out"
		echo "0 0 0"
		return
	}
	awk '/^Complete requests:/ { c = $3 }
	     /^Non-2xx responses:/ { x = $3 }
	     /^ +\(Connect:/ { gsub(/[(),]/, ""); b = $2 + $4 + $8 }
	     END { print c + 0, x + 0, b + 0 }' "$tmp/ab.out"
}

header() { # header FILE NAME: the value of a response header
	tr -d '\r' <"$1" | awk -v h="$2" 'tolower($1) == tolower(h) ":" { print $2 }'
}

CAP=300
GCAP=2000
GREQ=30000
# hold.cgi: a request that lasts until the test creates $tmp/release,
# writing all the while (so a client gone is noticed); it marks its start.
mkdir -m 777 "$tmp/marks"
cat >"$tmp/htdocs/slow/hold.cgi" <<CGI
#!/bin/sh
: >"$tmp/marks/\$\$"
printf 'Content-Type: text/plain\\r\\n\\r\\n'
while [ ! -e "$tmp/release" ]; do echo waiting || exit 0; sleep 0.05; done
echo done
CGI
chmod 755 "$tmp/htdocs/slow/hold.cgi"

echo "1..34"
owner create "t:$CAP:1:3600000" "g:$GCAP:1:3600000" \
	"c:10:1:3600000" "e:1:1:3600000" "u:1:1:3600000" \
	"m1:20:1:3600000" "m2:8:1:3600000" "d:1:1:1000:1500" \
	"d2:1:1:1000:1500" "dm1:1:1:1000:1500" "dm2:10:1:3600000" \
	"conc:3:inflight:60000" "one:1:1:3600000" || { echo "Bail out! cannot create the segment"; exit 1; }
write_conf "$seg"
LD_PRELOAD=$asan_preload ASAN_OPTIONS=detect_leaks=0 \
	"$httpd" -f "$tmp/httpd.conf" -k start
for _ in $(seq 100); do
	[ -s "$tmp/httpd.pid" ] && curl -s -o /dev/null "$url/free/index.html" && break
	sleep 0.1
done
pid=$(cat "$tmp/httpd.pid" 2>/dev/null)
check "apache2 $mpm starts with mod_floodgate" kill -0 "${pid:-0}"

if [ "$(id -u)" -eq 0 ]; then
	users=$(ps -o user= --ppid "${pid:-0}" | sort -u | tr '\n' ' ')
	mode=$(stat -c '%a %U' "/dev/shm/$seg")
	check "children run as nobody ($users) and the segment is $mode: they check through the handle the parent attached" \
		test "$users $mode" = "nobody  660 root"
else
	ok "children check through the handle the parent attached # SKIP not root"
fi
curl -s -D "$tmp/h1" -o /dev/null "$url/limited/index.html"
check "an allowed response is 200" grep -q "^HTTP/1.1 200" "$tmp/h1"
# CAP tokens, one an hour: full from empty in CAP hours, the next in one
check "an allowed response carries RateLimit-Policy and RateLimit, no legacy names" \
	test "$(header "$tmp/h1" RateLimit-Policy) $(header "$tmp/h1" RateLimit) $(grep -ci "^RateLimit-\(Limit\|Remaining\|Reset\)" "$tmp/h1")" = "\"t\";q=$CAP;w=$((CAP * 3600)) \"t\";r=$((CAP - 1));t=3600 0"

set -- $(abrun "$url/limited/index.html" 1000)
echo "# ab: complete $1, non-2xx $2, broken $3"
check "ab from 8 connections: all 1000 requests answered" test "$1 $3" = "1000 0"
check "admitted exactly the bucket's remaining $((CAP - 1))" test $(($1 - $2)) -eq $((CAP - 1))

curl -s -D "$tmp/h2" -o /dev/null "$url/limited/index.html"
check "a denied request is 429" grep -q "^HTTP/1.1 429" "$tmp/h2"
ra=$(header "$tmp/h2" Retry-After)
rl=$(header "$tmp/h2" RateLimit)
check "429 carries Retry-After (an hour away), RateLimit-Policy and RateLimit (t no later than Retry-After)" \
	test "${ra:-0}" -ge 3500 -a "$(header "$tmp/h2" RateLimit-Policy) ${rl%;t=*}" = "\"t\";q=$CAP;w=$((CAP * 3600)) \"t\";r=0" -a "${rl##*;t=}" -le "${ra:-0}"

curl -s -D "$tmp/h3" -o /dev/null "$url/free/index.html"
check "a location without a rule is not limited and has no headers" \
	test "$(grep -c "^HTTP/1.1 200" "$tmp/h3") $(grep -ci "^RateLimit" "$tmp/h3")" = "1 0"

codes() { # codes URL N [HEADER]: the status of N requests in a row
	for _ in $(seq "$2"); do
		curl -s -o /dev/null -w '%{http_code} ' ${3:+-H "$3"} "$1"
	done
}
curl -s -D "$tmp/h5" -o /dev/null "$url/limited/free/index.html"
check "FloodgateRule off lifts an inherited rule" \
	test "$(grep -c "^HTTP/1.1 200" "$tmp/h5") $(grep -ci "^RateLimit" "$tmp/h5")" = "1 0"
check "FloodgateCost 3 on a bucket of 10: three requests, then 429" \
	test "$(codes "$url/c/index.html" 4)" = "200 200 200 429 "
check "FloodgateKey env: one bucket per variable's value" \
	test "$(codes "$url/e/index.html" 2 "X-Tenant: a")$(codes "$url/e/index.html" 1 "X-Tenant: b")" = "200 429 200 "
check "FloodgateKey user: after authentication, one bucket per user" \
	test "$(codes "$url/u/index.html" 1)$(codes "$url/u/index.html" 2 "Authorization: Basic $(printf alice:pw-a | base64)")$(codes "$url/u/index.html" 1 "Authorization: Basic $(printf bob:pw-b | base64)")" = "401 200 429 200 "
curl -s -D "$tmp/h6" -o /dev/null "$url/g/index.html"
check "FloodgateKey header, header absent: the client address's own bucket" \
	test "$(header "$tmp/h6" RateLimit)" = "\"g\";r=$((GCAP - 1));t=3600"

# Graceful restarts under load: ab runs while the parent replaces every
# child twice; the restarts happen while ab is still running (checked).
# Each restart waits for the load to make progress (10% and 30% of the
# requests checked), not for a time: on a fast machine ab could be done
# before a timer fires, on a slow one not started.  The progress is read
# from the segment by the floodgate CLI (milliseconds, where the Python
# owner takes a second under the sanitizers' preload).
checked_g() { # tokens admitted + checks denied under rule g
	"$builddir/cli/floodgate" -s "$seg" stats --prometheus 2>/dev/null |
		awk '/^floodgate_rule_(allowed_tokens|denials)_total\{rule="g"/ { n += $2 }
		     END { print n + 0 }'
}
progress() { # progress N: wait until N more checks than at $base
	local i
	for i in $(seq 6000); do
		[ $(($(checked_g) - base)) -ge "$1" ] && return 0
		sleep 0.005
	done
	return 1
}
base=$(checked_g)
abrun "$url/g/index.html" $GREQ "X-Client: loadgen" >"$tmp/g.out" &
abpid=$!
during=yes
for round in 1 2; do
	progress $((GREQ * (round * 2 - 1) / 10)) || during=no
	kill -0 $abpid 2>/dev/null || during=no
	LD_PRELOAD=$asan_preload ASAN_OPTIONS=detect_leaks=0 \
		"$httpd" -f "$tmp/httpd.conf" -k graceful
done
kill -0 $abpid 2>/dev/null || during=no
wait $abpid
set -- $(cat "$tmp/g.out")
echo "# ab during 2 graceful restarts: complete $1, non-2xx $2, broken $3 (restarts during load: $during)"
check "two graceful restarts happened while ab was running" \
	test "$during $(grep -c -e "Graceful restart requested" -e "Doing graceful restart" "$tmp/logs/error.log")" = "yes 2"
check "graceful restarts lose no request and admit exactly $GCAP" \
	test "$1 $3 $(($1 - $2))" = "$GREQ 0 $GCAP"
st=$(owner stats)
adm=$((CAP + GCAP + 1 + 9 + 2 + 2))
den=$((1000 + 1 - (CAP - 1) + GREQ - GCAP + 1 + 1 + 1))
check "the segment counted $adm tokens admitted and $den requests denied ($st)" \
	test "$st" = "$adm $den"

# Several rules in one location, all must admit (fg_allow_many): m1 (20
# tokens a client address) and m2 (8 an X-User).  Each user gets 8 until
# m1's 20 are gone; a request that m2 denies takes nothing from m1 (checked
# one after the other, u1's 42 denials would have spent m1).
tokens() { # tokens RULE: tokens admitted under RULE, as the segment counts
	"$builddir/cli/floodgate" -s "$seg" stats --prometheus 2>/dev/null |
		awk -v r="floodgate_rule_allowed_tokens_total{rule=\"$1\"" \
			'index($0, r) == 1 { print $2 }'
}
m=
for u in u1 u2 u3; do
	set -- $(abrun "$url/m/index.html" 50 "X-User: $u")
	m="$m$1/$(($1 - $2))/$3 "
done
echo "# /m, 50 requests each of u1 u2 u3: complete/admitted/broken $m"
check "several rules: u1 and u2 get m2's 8 each, u3 the last 4 of m1's 20" \
	test "$m" = "50/8/0 50/8/0 50/4/0 "
check "a request one rule denies takes nothing from the other: m1 and m2 admitted exactly 20" \
	test "$(tokens m1) $(tokens m2)" = "20 20"

# FloodgateDelay: rule d holds 1 token, one a second, max-delay 1.5 s.  A
# second request right after the first is served once the token is there
# (1 s after the first was admitted, so at least 1 s after it was sent),
# within the 2 s bound.  Then three at once: one waits its second, the two
# behind it (2 and 3 s away: beyond 1.5 s) get 429 at once.
now() { date +%s.%N; }
t0=$(now)
c1=$(curl -s -o /dev/null -w '%{http_code}' "$url/d/index.html")
c2=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$url/d/index.html")
t2=$(now)
echo "# /d: $c1, then $c2 s; $(echo "$t0 $t2" | awk '{ print $2 - $1 }') s after the first was sent"
check "FloodgateDelay: the second request is served after the token's wait, within the bound" \
	awk -v c="$c1 $c2" -v t0="$t0" -v t2="$t2" 'BEGIN {
		split(c, f, " ")
		exit !(f[1] == 200 && f[2] == 200 && t2 - t0 >= 1 && f[3] < 2) }'
for i in 1 2 3; do
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
		"$url/d/index.html" >"$tmp/d.$i" &
done
wait
sort -n "$tmp"/d.? >"$tmp/d.all"
echo "# /d, three at once: $(tr '\n' ' ' <"$tmp/d.all")"
check "FloodgateDelay: beyond the rule's max-delay, 429 without waiting; one delayed 200" \
	awk '{ n[$1]++ } $1 == 429 && $2 >= 0.5 { bad = 1 }
		$1 == 200 && ($2 < 0.2 || $2 >= 2) { bad = 1 }
		END { exit !(n[200] == 1 && n[429] == 2 && !bad) }' "$tmp/d.all"
check "a rule whose max-delay exceeds FloodgateDelay is not delayed: 429 at once, and a warning" \
	test "$(codes "$url/d2/index.html" 2)" = "200 429 " -a \
	"$(grep -c "rule d2: its max-delay exceeds FloodgateDelay" "$tmp/logs/error.log")" -ge 1

# FloodgateDelay with two rules (fg_reserve_many): dm1 as d above, dm2 10
# tokens an hour without a max-delay.  The second request waits dm1's
# second; of three at once one waits, two get 429 at once; dm2 pays for
# the three served only.
c1=$(curl -s -o /dev/null -w '%{http_code}' "$url/dm/index.html")
c2=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$url/dm/index.html")
for i in 1 2 3; do
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
		"$url/dm/index.html" >"$tmp/dm.$i" &
done
wait
sort -n "$tmp"/dm.? >"$tmp/dm.all"
echo "# /dm: $c1, $c2, then three at once: $(tr '\n' ' ' <"$tmp/dm.all")"
check "FloodgateDelay with two rules: waits for the slower, 429 beyond its max-delay" \
	awk -v c="$c1 $c2" '{ n[$1]++ } $1 == 429 && $2 >= 0.5 { bad = 1 }
		$1 == 200 && ($2 < 0.2 || $2 >= 2) { bad = 1 }
		END { split(c, f, " ")
			exit !(f[1] == 200 && f[2] == 200 && f[3] >= 0.5 &&
				f[3] < 2 && n[200] == 1 && n[429] == 2 && !bad) }' \
	"$tmp/dm.all"
check "a delayed request's other rule pays for the served only: dm1 and dm2 admitted 3" \
	test "$(tokens dm1) $(tokens dm2)" = "3 3"

# FloodgateConcurrency conc: 3 in flight an address, leases of 60 s.  The
# places free are read from the segment (take leases until denied, count,
# give them back), a second source beside the responses.
places() { owner free conc 127.0.0.1; }
wait_free() { # wait_free N: until N places are free (30 s at most)
	for _ in $(seq 300); do
		[ "$(places)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
marks() { ls "$tmp/marks" | wc -l; }
wait_marks() { # wait_marks N: until N holds have started (10 s at most)
	for _ in $(seq 1000); do
		[ "$(marks)" -ge "$1" ] && return 0
		sleep 0.01
	done
	return 1
}
hold() { # hold I: a held request in the background, its pid in hold_I
	curl -s -o /dev/null -w '%{http_code}' "$url/slow/hold.cgi" \
		>"$tmp/hold.$1" &
	eval "hold_$1=\$!"
}
unhold() { # release the holds, wait for them, and for their places
	: >"$tmp/release"
	wait "$@"
	wait_free 3
	rm -f "$tmp/release" "$tmp/marks"/*
}
for i in 1 2 3; do hold $i; done
wait_marks 3
check "FloodgateConcurrency 3: with 3 requests in flight the 4th gets 429 (places free: $(places))" \
	test "$(marks) $(codes "$url/slow/index.html" 1)" = "3 429 "
unhold $hold_1 $hold_2 $hold_3
check "the 3 held requests are served, and after they end a new one passes" \
	test "$(cat "$tmp/hold.1" "$tmp/hold.2" "$tmp/hold.3") $(codes "$url/slow/index.html" 1)" = "200200200 200 "
for i in 1 2 3; do hold $i; done
wait_marks 3
full=$(codes "$url/slow/index.html" 1)
kill $hold_1
start=$(now)
got=
for _ in $(seq 1000); do # 10 s: far less than the 60 s lease
	got=$(codes "$url/slow/index.html" 1)
	[ "$got" = "200 " ] && break
	sleep 0.01
done
echo "# a place came back $(echo "$start $(now)" | awk '{ print $2 - $1 }') s after the client went"
check "a client that aborts mid-request frees its place (well before its lease ends; free now: $(places))" \
	test "$full$got" = "429 200 "
unhold $hold_2 $hold_3
for i in 1 2 3; do hold $i; done
wait_marks 3
check "every place is back once the requests ended: 3 new holds are in flight, a 4th gets 429" \
	test "$(marks) $(codes "$url/slow/index.html" 1)" = "3 429 "
unhold $hold_1 $hold_2 $hold_3
# A request a rate rule denies keeps no place: two holds in flight, /mix
# (rule one: 1 token, and conc) twice, then one place is free again.
hold 1
hold 2
wait_marks 2
mix=$(codes "$url/mix/index.html" 2)
mix_ok() { test "$mix" = "200 429 " && wait_free 1; }
check "a request a rate rule denies keeps no in-flight place (/mix: $mix)" \
	mix_ok
unhold $hold_1 $hold_2

# A missing segment: the restarted server serves unlimited, and says why.
write_conf "$seg-absent"
LD_PRELOAD=$asan_preload ASAN_OPTIONS=detect_leaks=0 \
	"$httpd" -f "$tmp/httpd.conf" -k graceful
for _ in $(seq 100); do
	grep -q "cannot attach to segment $seg-absent" "$tmp/logs/error.log" && break
	sleep 0.1
done
codes=
for _ in $(seq 100); do
	curl -s -D "$tmp/h4" -o /dev/null "$url/limited/index.html"
	grep -qi "^RateLimit" "$tmp/h4" || break # the old generation is gone
	sleep 0.1
done
check "a missing segment fails open with a logged warning" \
	test "$(grep -c "^HTTP/1.1 200" "$tmp/h4") $(grep -c "floodgate: cannot attach to segment $seg-absent" "$tmp/logs/error.log")" = "1 1"

# a2enmod with the files make install puts in Apache's mods-available:
# floodgate.load names the module where make install puts it, and
# floodgate.conf is valid once the module is loaded.
etc=$tmp/etc
mkdir -p "$etc/mods-available" "$etc/mods-enabled"
cp "$builddir/contrib/apache/floodgate.load" \
	"$srcdir/contrib/apache/floodgate.conf" "$etc/mods-available/"
if command -v a2enmod >/dev/null 2>&1; then
	APACHE_CONFDIR=$etc a2enmod -q floodgate >"$tmp/a2enmod.out" 2>&1
	check "a2enmod floodgate enables floodgate.load and floodgate.conf" \
		test "$(readlink "$etc/mods-enabled/floodgate.load") $(readlink "$etc/mods-enabled/floodgate.conf")" = "../mods-available/floodgate.load ../mods-available/floodgate.conf"
else
	ok "a2enmod floodgate # SKIP a2enmod not found"
fi
check "floodgate.load loads $APACHE_MODDIR/mod_floodgate.so, where make install puts it" \
	grep -qx "LoadModule floodgate_module ${APACHE_MODDIR:-?}/mod_floodgate.so" \
	"$etc/mods-available/floodgate.load"
printf 'LoadModule floodgate_module %s\nInclude %s\n' "$mod" \
	"$etc/mods-enabled/floodgate.conf" >"$tmp/conftest.conf"
fg_apache_conf "$tmp" "$port" "$seg" 1 "Include $tmp/conftest.conf" |
	grep -v '^LoadModule floodgate_module' >"$tmp/httpd-t.conf"
check "floodgate.conf passes apache2 -t" \
	env LD_PRELOAD="$asan_preload" ASAN_OPTIONS=detect_leaks=0 \
	"$httpd" -t -f "$tmp/httpd-t.conf"

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if grep -E '\[[a-z_]*:(emerg|alert|crit|error)\]|AddressSanitizer|runtime error' "$tmp/logs/error.log" >/dev/null; then
	sed 's/^/# /' "$tmp/logs/error.log"
	notok "the error log has no errors"
else
	ok "the error log has no errors"
fi
[ -z "$failed" ]
