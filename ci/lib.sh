# shellcheck shell=bash
# Common settings for the ci/ scripts. Sourced, never executed.
#
# VCHIQ_RS_CACHE   cache directory (toolchain root, kernels, build outputs);
#                  default ${XDG_CACHE_HOME:-$HOME/.cache}/vchiq-rs. Lives outside the clone.
# KERNEL_SERIES    pinned kernel series (the Debian package linux-source-$KERNEL_SERIES).

set -eEuo pipefail

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$CI_DIR/.." && pwd)
CACHE=${VCHIQ_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vchiq-rs}
ROOT=$CACHE/trixie-root
KERNEL_SERIES=7.3
SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The host's own Rust toolchain (rustup) for host-side crates.
[ -d "$HOME/.cargo/bin" ] && PATH=$HOME/.cargo/bin:$PATH

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "$1 needs root (debootstrap, chroot and bind mounts). Run it as root, e.g. with sudo."
}

# Run a command inside the trixie root with /proc, /dev, /sys and the clone visible (the clone
# at the same path as on the host, so paths in logs are valid on both sides). The mounts live in
# a private mount namespace that ends with the command: nothing stays mounted under the cache,
# so deleting the cache can never reach the host's /dev or the clone.
in_root() {
	need_root "running the toolchain"
	local dir=$PWD
	case $dir/ in "$TOP"/*) ;; *) dir=$TOP ;; esac
	mkdir -p "$ROOT$TOP"
	unshare --mount --propagation private -- /bin/bash -euc '
		root=$1 top=$2 dir=$3
		shift 3
		for m in proc dev sys; do mount --rbind "/$m" "$root/$m"; done
		mount --bind "$top" "$root$top"
		exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			LANG=C.UTF-8 TERM=dumb bash -c "cd \"\$1\" && shift && exec \"\$@\"" _ "$dir" "$@"
	' _ "$ROOT" "$TOP" "$dir" "$@"
}

# Serialise with other runs touching the same cache entry.
with_lock() {
	local name=$1; shift
	mkdir -p "$CACHE/locks"
	exec {lockfd}>"$CACHE/locks/$name.lock"
	if ! flock -n "$lockfd"; then
		log "waiting for another run holding $CACHE/locks/$name.lock"
		flock "$lockfd"
	fi
	"$@"
	flock -u "$lockfd"
}

retry() {
	local n=0 delay=5
	until "$@"; do
		n=$((n + 1))
		[ $n -lt 5 ] || return 1
		log "retrying in ${delay}s: $*"
		sleep $delay
		delay=$((delay * 2))
	done
}
