# SPDX-License-Identifier: ISC
# sandbox.sh - sourced by the shell tests: fg_sandbox DIR... -- COMMAND...
# runs COMMAND in a mount namespace of its own where every mount is
# read-only but the DIRs, as systemd's ProtectSystem=strict with
# ReadWritePaths=DIR... makes it, and as an install that must write
# nothing outside DESTDIR is checked.  Status 99 when the namespace
# cannot be made (not root, no unshare).  Each DIR must exist.  The shell
# of FG_SANDBOX_SH execs COMMAND, so that
#   (exec unshare -m --propagation private sh -c "$FG_SANDBOX_SH" sh ...) &
# leaves COMMAND's pid in $!.
FG_SANDBOX_SH='
	w=
	while [ "$1" != -- ]; do w="$w $1"; shift; done
	shift
	for d in $w; do mount --bind "$d" "$d" || exit 99; done
	awk "{ print \$2 }" /proc/self/mounts | while read -r m; do
		m=$(printf "%b" "$m") # \040 for a blank
		case " $w " in *" $m "*) continue ;; esac
		mount -o remount,bind,ro "$m" 2>/dev/null
	done
	touch /fg-sandbox-probe 2>/dev/null && exit 99
	exec "$@"'

fg_sandbox() {
	unshare -m --propagation private sh -c "$FG_SANDBOX_SH" sh "$@"
}
