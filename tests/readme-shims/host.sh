#!/bin/sh
# SPDX-License-Identifier: ISC
# host.sh - the one host of tests/readme.sh, run in its mount and network
# namespaces: makes /usr, /etc and /var overlays, /run and /dev/shm empty,
# loopback up; replays the commands of file $1 in one shell, as a reader
# types them (a cd holds for the next line), one TAP line each; then
# checks what the README promises that the commands themselves do not
# show: the segment's owner, the snapshot at exit under the unit's
# sandbox, the buckets after a "reboot", a bad config refused by reload.
# Then the commands of file $2 on three hosts: this one (192.0.2.1) and
# two clones of it after its install (cluster.sh).
set -u
cmds=$1
cmds3=$2
tmp=$FG_TMP
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	[ -z "${2:-}" ] || tail -n 25 "$2" | sed 's/^/# /'
}

ip link set lo up || { echo "1..0 # SKIP no network namespace"; exit 0; }
mkdir -p "$tmp/ov" && mount -t tmpfs fg-ops-ov "$tmp/ov" || exit 1
for d in usr etc var; do
	mkdir "$tmp/ov/$d.up" "$tmp/ov/$d.work"
	mount -t overlay "fg-ops-$d" -o "lowerdir=/$d,upperdir=$tmp/ov/$d.up,workdir=$tmp/ov/$d.work" "/$d" ||
		{ echo "1..0 # SKIP overlayfs unavailable"; exit 0; }
done
mount -t tmpfs -o mode=0755 fg-ops-run /run || exit 1
mount -t tmpfs -o mode=1777 fg-ops-shm /dev/shm || exit 1
PATH=$FG_SHIMS:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
trap 'systemctl stop floodgated >/dev/null 2>&1; cluster_down' EXIT
. "$FG_SHIMS/cluster.sh"

echo "1..$(($(wc -l <"$cmds") + 5 + 3 * $(wc -l <"$cmds3")))"

# What a command's output must hold, beyond its exit status 0.
expect_of() {
	case $1 in
	*"floodgated -t -c "*) echo "/etc/floodgate/floodgate.conf: configuration ok" ;;
	*journalctl*) echo "snapshot /var/lib/floodgate/floodgate.snap: none yet" ;;
	*"&& echo allowed"*) echo "allowed" ;;
	esac
}

cd "$tmp/src" || exit 1
i=0
while IFS= read -r line <&3; do
	i=$((i + 1))
	out=$tmp/out.$i
	echo "# \$ $line"
	eval "$line" >"$out" 2>&1 </dev/null
	rc=$?
	want=$(expect_of "$line")
	if [ $rc -ne 0 ]; then
		not_ok "exit 0: $line (exit $rc)" "$out"
	elif [ -n "$want" ] && ! grep -qF "$want" "$out"; then
		not_ok "\"$want\": $line" "$out"
	else
		ok "$line"
	fi
done 3<"$cmds"

# The segment belongs to the user make install created (sysusers.d), in
# the workers' group, as the installed configuration says: its memory
# 0660, its name file 0640 (workers read it, only its owner writes it).
owner=$(stat -c '%U:%G %a' /dev/shm/floodgate 2>&1)
if [ "$owner" = "floodgate:www-data 640" ]; then
	ok "the segment's name is floodgate:www-data 0640"
else
	not_ok "the segment's name is floodgate:www-data 0640 (it is $owner)"
fi
# This host has an IPC namespace of its own (readme.sh): its one segment.
ipcs -m -c >"$tmp/ipcs" 2>&1
if awk '$2 == "660" && $5 == "floodgate" && $6 == "www-data"' "$tmp/ipcs" |
	grep -q .; then
	ok "the segment's memory is floodgate:www-data 0660"
else
	not_ok "the segment's memory is floodgate:www-data 0660" "$tmp/ipcs"
fi

# A reload of a configuration with an error fails, says where, and the
# daemon goes on with the rules it has.
cp /etc/floodgate/floodgate.conf "$tmp/conf.good"
echo "rule broken capacity 10" >>/etc/floodgate/floodgate.conf
systemctl reload floodgated >"$tmp/reload.out" 2>&1
rc=$?
line=$(wc -l <"$tmp/conf.good")
if [ $rc -ne 0 ] && grep -q "^/etc/floodgate/floodgate.conf:$((line + 1)): rule 'broken'" "$tmp/reload.out" &&
	systemctl is-active floodgated; then
	ok "systemctl reload refuses a configuration with an error, with its line"
else
	not_ok "systemctl reload refuses a configuration with an error, with its line (exit $rc)" "$tmp/reload.out"
fi
cp "$tmp/conf.good" /etc/floodgate/floodgate.conf

# Under the unit's ProtectSystem=strict, the snapshot is written at stop.
floodgate check other reboot --cost 30 >/dev/null 2>&1
systemctl stop floodgated
snap=/var/lib/floodgate/floodgate.snap
if grep -q "snapshot $snap written at exit" /run/fg-journal &&
	[ "$(stat -c %a "$snap" 2>&1)" = 600 ] &&
	! grep -q "Read-only file system" /run/fg-journal; then
	ok "the snapshot is written at stop, in the unit's StateDirectory"
else
	not_ok "the snapshot is written at stop, in the unit's StateDirectory" /run/fg-journal
fi

# A reboot loses /dev/shm; the buckets come back: 30 of "other"'s 60
# tokens were taken, so 45 more are refused (a full bucket would allow).
rm -f /dev/shm/floodgate /dev/shm/floodgate.*
if systemctl start floodgated >"$tmp/start.out" 2>&1 &&
	grep -q "snapshot $snap: restored 1 buckets" /run/fg-journal &&
	! floodgate check other reboot --cost 45 >/dev/null 2>&1; then
	ok "after a reboot the buckets come back from the snapshot"
else
	not_ok "after a reboot the buckets come back from the snapshot" /run/fg-journal
fi

cluster_up && cluster_replay "$cmds3"
[ "$fails" -eq 0 ]
