# Helpers for test plans (guest side, busybox sh). Sourced by /init.
# A plan reports each test with t_ok/t_fail (or t_run); KUnit results are copied from
# debugfs by kunit_load. The host (ci/analyze.py) counts them and parses KTAP with kunit.py.

say() { echo "vchiq-vm: $*" >/dev/console; }

# The run's tier (vchiq.tier= on the kernel command line, ci/vm --tier): "check" (make check:
# loops sized to find bugs) or "soak" (make soak: the endurance figures).
TIER=check
for _arg in $(cat /proc/cmdline); do
	case $_arg in vchiq.tier=*) TIER=${_arg#vchiq.tier=} ;; esac
done
# sized CHECK SOAK: a loop size for this tier.
sized() { if [ "$TIER" = soak ]; then echo "$2"; else echo "$1"; fi; }

# Each test's console line ends with the seconds since the previous test ended (where a
# plan's time goes). t_took sets T_TOOK (no subshell: T_LAST must persist).
T_LAST=$(cut -d' ' -f1 /proc/uptime)
t_took() {
	local now
	now=$(cut -d' ' -f1 /proc/uptime)
	T_TOOK=$(awk -v a="$T_LAST" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
	T_LAST=$now
}
# Where user pages stay pinned: a test after which more are pinned than before says so.
T_PINS=
t_pins() {
	local p
	p=$(pins_outstanding)
	[ -n "$T_PINS" ] && [ "$p" != "$T_PINS" ] && say "pages: $((p - T_PINS)) more user pages pinned after '$1' ($p in all)"
	T_PINS=$p
}
t_ok() {
	t_pins "$1"
	t_took
	echo "TEST ok $1" >&3
	say "ok $1 ($T_TOOK s)"
}
t_fail() {
	t_pins "$1"
	t_took
	echo "TEST not ok $1 # $2" >&3
	say "not ok $1 # $2 ($T_TOOK s)"
}

# wait_until SECONDS CMD...: CMD succeeds within SECONDS, tried every 0.1 s (what a plan waits
# for, rather than a fixed sleep that assumes the machine's speed).
wait_until() {
	local n=$(($1 * 10))
	shift
	until "$@"; do
		[ $n -le 0 ] && return 1
		sleep 0.1
		n=$((n - 1))
	done
}

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

# Forget what the kernel itself leaked while booting, so only the plan's leaks count. Objects
# younger than 5 s are never reported, so wait that out first.
kmemleak_reset() {
	[ -w $KMEMLEAK ] || return 0
	sleep 5
	echo scan >$KMEMLEAK
	echo clear >$KMEMLEAK
}

# After the plan (modules unloaded): objects must be older than 5 s to be reported, and
# need two scans to be seen as unreferenced. A kernel without kmemleak (the fast flavour)
# skips the check; a debug kernel whose kmemleak is missing or disabled fails it.
kmemleak_check() {
	if [ ! -e $KMEMLEAK ]; then
		if grep -q vchiq.flavour=debug /proc/cmdline; then
			t_fail "kmemleak" "no $KMEMLEAK on a debug kernel"
		else
			say "kmemleak not available: leak check skipped"
		fi
		return 0
	fi
	sleep 6
	if ! echo scan >$KMEMLEAK || ! echo scan >$KMEMLEAK; then
		t_fail "kmemleak" "scan failed (kmemleak disabled?)"
		return 0
	fi
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

# Pages the family may leave behind that kmemleak does not see (it tracks slab and vmalloc
# objects, not pages): user pages pinned for bulks (pin_user_pages, counted by the kernel in
# /proc/vmstat as nr_foll_pin_acquired and _released) and CMA, where coherent DMA buffers come
# from (vchiq-core's slots and pagelists, vc-sm-cma's buffers, the simulator's memory).
# pages_baseline before the plan, pages_check after it; the check needs the family unloaded
# (a loaded module may hold both, rightly) and is skipped, with a line saying so, otherwise.
FAMILY_MODULES="vchiq_core vchiq_dev vchiq_sim vchiq_ktest vc_mem vc_sm_cma snd_bcm2835"
# Freed CMA pages may sit in the per-CPU free lists for a while, uncounted as free: a leak of
# up to this many KiB goes unseen (a per-cycle leak in a cycle test is far larger).
CMA_SLACK_KB=2048
# The counters are kept per CPU and folded into /proc/vmstat and /proc/meminfo only every
# second or so: reading /proc/sys/vm/stat_refresh folds them now (without it a check read a
# count from before the pins it was looking for, and found them later).
vm_refresh() { cat /proc/sys/vm/stat_refresh >/dev/null 2>&1 || true; }
pins_outstanding() {
	vm_refresh
	awk '/^nr_foll_pin_acquired / { a = $2 } /^nr_foll_pin_released / { r = $2 }
		END { print a - r }' /proc/vmstat
}
cma_free_kb() {
	vm_refresh
	awk '/^CmaFree:/ { print $2 }' /proc/meminfo
}
pages_baseline() {
	# Pages a plan has seen the core keep on purpose (bulks the VideoCore may still access
	# when the core unbinds from it: they stay pinned for good); the plan adds them up.
	PINS_KEPT=0
	PINS_BEFORE=$(pins_outstanding)
	CMA_BEFORE=$(cma_free_kb)
}
pages_check() {
	local m pins cma
	for m in $FAMILY_MODULES; do
		if [ -d /sys/module/$m ]; then
			say "pages: $m still loaded (or built in): pinned-page and CMA check skipped"
			return 0
		fi
	done
	pins=$(($(pins_outstanding) - PINS_BEFORE))
	if [ "$pins" = "$PINS_KEPT" ]; then
		t_ok "no user pages left pinned ($PINS_KEPT kept on purpose with bulks the VideoCore may still access)"
	else
		t_fail "no user pages left pinned" "$pins pinned since the plan began, $PINS_KEPT of them kept on purpose"
	fi
	[ -n "$CMA_BEFORE" ] || return 0
	# Let the deferred frees (RCU callbacks, workqueues releasing dma-bufs) run before the
	# CMA count is read.
	sleep 2
	cma=$(cma_free_kb)
	if [ $((CMA_BEFORE - cma)) -le $CMA_SLACK_KB ]; then
		t_ok "CMA returned (${CMA_BEFORE} KiB free before, ${cma} KiB after)"
	else
		t_fail "CMA returned" "$((CMA_BEFORE - cma)) KiB of CMA still in use since the plan began"
	fi
}

# Format-independent backstop for kernel reports: the taint flags. D (died), W (warned),
# B (bad page), L (soft lockup), M (machine check), U (userspace-defined), K (live patched) and
# S/R/A/C/I/X/T are unexpected here; O (out-of-tree), E (unsigned) and N (KUnit ran) are expected.
taint_check() {
	local t bad=0 bit
	t=$(cat /proc/sys/kernel/tainted)
	for bit in 0 1 2 3 4 5 6 7 8 9 10 11 14 15 16 17; do
		[ $(((t >> bit) & 1)) = 1 ] && bad=$((bad | (1 << bit)))
	done
	if [ $bad = 0 ]; then t_ok "kernel not tainted by a report"; else t_fail "kernel not tainted by a report" "taint mask $bad (of $t)"; fi
	if [ -r /proc/lockdep_stats ] && grep -q "debug_locks: *0" /proc/lockdep_stats; then
		t_fail "lockdep still active" "debug_locks is 0: lockdep reported and switched itself off"
	fi
}
