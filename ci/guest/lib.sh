# Helpers for test plans (guest side, busybox sh). Sourced by /init.
# A plan reports each test with t_ok/t_fail (or t_run); KUnit results are copied from
# debugfs by kunit_load. The host (ci/analyze.py) counts them and parses KTAP with kunit.py.

say() { echo "vchiq-vm: $*" >/dev/console; }

t_ok() { echo "TEST ok $1" >&3; say "ok $1"; }
t_fail() { echo "TEST not ok $1 # $2" >&3; say "not ok $1 # $2"; }

# t_run NAME CMD...: runs CMD with its output on the console; ok when it exits 0.
t_run() {
	local name=$1
	shift
	if "$@" >/dev/console 2>&1; then t_ok "$name"; else t_fail "$name" "exit $?"; fi
}

# kunit_load MODULE [PARAMS...]: loads MODULE, which must run at least one KUnit suite, and
# sends each new suite's KTAP results (from debugfs, before the module can go away) to the
# host. The module stays loaded.
kunit_load() {
	local mod=$1 before after s n=0
	shift
	before=$(ls /sys/kernel/debug/kunit 2>/dev/null)
	if ! modprobe "$mod" "$@" >/dev/console 2>&1; then
		t_fail "load $mod" "modprobe failed"
		return 1
	fi
	after=$(ls /sys/kernel/debug/kunit 2>/dev/null)
	for s in $after; do
		case " $(echo $before) " in *" $s "*) continue ;; esac
		echo "KUNIT-BEGIN $s" >&3
		cat "/sys/kernel/debug/kunit/$s/results" >&3
		echo "KUNIT-END $s" >&3
		n=$((n + 1))
	done
	if [ $n -eq 0 ]; then
		t_fail "load $mod" "no KUnit suite ran"
		return 1
	fi
	t_ok "load $mod ($n KUnit suites)"
}

KMEMLEAK=/sys/kernel/debug/kmemleak

# Forget what the kernel itself leaked while booting, so only the plan's leaks count.
kmemleak_reset() {
	[ -w $KMEMLEAK ] || return 0
	echo scan >$KMEMLEAK
	echo clear >$KMEMLEAK
}

# After the plan (modules unloaded): objects must be older than 5 s to be reported, and
# need two scans to be seen as unreferenced.
kmemleak_check() {
	if [ ! -w $KMEMLEAK ]; then
		say "kmemleak not available: leak check skipped"
		return 0
	fi
	sleep 6
	echo scan >$KMEMLEAK
	echo scan >$KMEMLEAK
	# debugfs files report size 0: read the report instead of testing -s.
	local report
	report=$(cat $KMEMLEAK)
	if [ -n "$report" ]; then
		echo "$report" >/dev/console
		t_fail "kmemleak" "$(echo "$report" | grep -c unreferenced) unreferenced objects"
	else
		t_ok "kmemleak"
	fi
}
