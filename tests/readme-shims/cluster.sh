# SPDX-License-Identifier: ISC
# cluster.sh - sourced by host.sh: the README's three hosts.  Host 1 is
# host.sh's own namespaces, after the one-host replay; hosts 2 and 3 are
# clones of it: new mount and network namespaces held by a sleeping
# process each, with an /etc of their own (over a copy of host 1's
# before its key was made), an empty /var/lib/floodgate, /run and
# /dev/shm; the three bridged on 192.0.2.0/24, the sample's addresses.

on() { # on N COMMAND: COMMAND in host N's shell
	h=$1
	shift
	if [ "$h" = 1 ]; then
		sh -c "$*"
	else
		eval "nsenter -t \$holder$h -m -n sh -c \"\$*\""
	fi
}

cluster_up() {
	ip link add br0 type bridge && ip addr add 192.0.2.1/24 dev br0 &&
		ip link set br0 up || return 1
	cp -a /etc "$tmp/ov/etc-image" || return 1
	for h in 2 3; do
		unshare -m -n --propagation private sleep 100000 &
		eval "holder$h=\$!"
		sleep 0.2
		ip link add "v$h" type veth peer name eth0 netns "$(eval echo \$holder$h)" &&
			ip link set "v$h" master br0 up || return 1
		mkdir "$tmp/ov/etc$h.up" "$tmp/ov/etc$h.work"
		on "$h" "ip link set lo up && ip addr add 192.0.2.$h/24 dev eth0 &&
			ip link set eth0 up &&
			mount -t overlay fg-ops-etc$h -o lowerdir=$tmp/ov/etc-image,upperdir=$tmp/ov/etc$h.up,workdir=$tmp/ov/etc$h.work /etc &&
			mount -t tmpfs -o mode=0700 fg-ops-state$h /var/lib/floodgate &&
			mount -t tmpfs -o mode=0755 fg-ops-run$h /run &&
			mount -t tmpfs -o mode=1777 fg-ops-shm$h /dev/shm" || return 1
	done
}

cluster_down() {
	for h in 2 3; do
		eval "p=\${holder$h:-}"
		[ -n "$p" ] || continue
		on "$h" "systemctl stop floodgated" >/dev/null 2>&1
		kill "$p" 2>/dev/null
	done
}

# What the README says in words between its first command and the rest:
# one keyring of the three .pub lines on every host; in each host's
# configuration, listen on its own address and uncomment node-key, keyring
# and the peers, which name the two others.
cluster_edit() {
	: >"$tmp/keyring"
	for h in 1 2 3; do
		on "$h" "cat /etc/floodgate/node.key.pub" >>"$tmp/keyring"
	done
	for h in 1 2 3; do
		on "$h" "cp $tmp/keyring /etc/floodgate/keyring &&
			sed -i -e 's/^listen 127.0.0.1:7420/listen 192.0.2.$h:7420/' \
			    -e 's/^#\(node-key\|keyring\|peer\) /\1 /' \
			    -e '/^peer /s/192\.0\.2\.$h\b/192.0.2.1/' \
			    /etc/floodgate/floodgate.conf"
	done
}

# Each command on each host in turn; the first (the key pair) on all
# three before the edits; "floodgate peers" may take a few rounds.
cluster_replay() {
	first=1
	while IFS= read -r line <&4; do
		for h in 1 2 3; do
			mine=$(echo "$line" | sed "s/node1/node$h/")
			out=$tmp/out3.$h
			i=0
			while :; do
				on "$h" "$mine" >"$out" 2>&1 </dev/null
				rc=$?
				case $line in *"floodgate peers"*) ;; *) break ;; esac
				[ "$(grep -c ' alive ' "$out")" -ge 2 ] && break
				i=$((i + 1))
				[ $i -lt 50 ] || break
				sleep 0.1
			done
			if [ $rc -ne 0 ]; then
				not_ok "node$h: exit 0: $mine (exit $rc)" "$out"
			elif case $line in *"floodgated -t"*) ! grep -q "configuration ok" "$out" ;; *) false ;; esac; then
				not_ok "node$h: configuration ok: $mine" "$out"
			elif case $line in *"floodgate peers"*) [ "$(grep -c ' alive ' "$out")" -lt 2 ] ;; *) false ;; esac; then
				not_ok "node$h: the two others alive: $mine" "$out"
			else
				ok "node$h: $mine"
			fi
		done
		[ $first = 1 ] && cluster_edit
		first=0
	done 4<"$1"
}
