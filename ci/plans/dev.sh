# vchiq-dev: /dev/vchiq driven from user space by tools/vchiq-test, every mode with the 64-bit
# binary and, on arm64, the 32-bit armhf one through the compat ioctls: the functional test,
# pings, a bulk throughput run, stress (processes x threads), random ioctls, children killed
# mid-bulk (then a leak scan), unloading while the device is held open, and the final unload
# and leak check. Loop sizes: Documentation/testing.md (check: to find bugs; soak: the
# endurance figures).
# vm-timeout: 1800
# vm-soak-timeout: 43200

DEV=/dev/vchiq

# tools TEST ARGS...: runs vchiq-test, and on arm64 the 32-bit one too.
tools() {
	local name=$1
	shift
	t_run "vchiq-test $name" vchiq-test "$@"
	if [ "$(uname -m)" = aarch64 ]; then
		if [ -x /bin/vchiq-test32 ]; then
			t_run "vchiq-test32 $name (compat)" vchiq-test32 "$@"
		else
			t_fail "vchiq-test32 $name (compat)" "no armhf vchiq-test in the initramfs"
		fi
	fi
}

wait_dev() {
	local i=0
	while [ $i -lt 20 ]; do
		[ -c $DEV ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

if [ ! -x /bin/vchiq-test ]; then
	t_fail "vchiq-test in the initramfs" "missing (ci/tools)"
fi
t_run "load vchiq-sim, vchiq-core" sh -c "modprobe vchiq_sim && modprobe vchiq_core"
if [ -e $DEV ]; then t_fail "no $DEV before vchiq-dev" "present"; else t_ok "no $DEV before vchiq-dev"; fi
t_run "load vchiq-dev" modprobe vchiq_dev
t_run "$DEV appears" wait_dev

# The functional test: each iteration runs one slice of the fun2 alignment sweep (1/40 in
# check: plan core crosses every alignment with every size class through kernel buffers;
# soak's 20 iterations of 1/20 cover the whole sweep through user pages).
n=$(sized 3 20)
slice=$(sized 40 20)
tools "-f $n --fun2-slice $slice" -f "$n" --fun2-slice "$slice"
n=$(sized 5 100)
tools "-p $n" -p "$n"
tools "-b 1024 8" -b 1024 8
n=$(sized 4 16)
tools "--stress $n" --stress "$n"
n=$(sized 10000 1000000)
tools "--fuzz $n" --fuzz "$n"
# A fresh VideoCore for what follows, whatever the fuzzing left behind.
t_run "reload vchiq-dev, vchiq-core, vchiq-sim after fuzzing" sh -c \
	"rmmod vchiq_dev vchiq_core vchiq_sim && modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_dev"
t_run "$DEV appears again" wait_dev
n=$(sized 50 1000)
tools "--kill-bulk $n" --kill-bulk "$n"
kmemleak_check

# Unloading while a process holds the device open: refused (EBUSY) or waits; it goes once
# the process is gone.
unload_busy() {
	sh -c "exec 4<>$DEV && sleep 3" &
	local holder=$! rc=0
	sleep 1
	if [ ! -e /proc/$holder/fd/4 ]; then
		say "the holder could not open $DEV"
		return 1
	fi
	if rmmod vchiq_dev 2>/dev/console; then
		# A waiting unload returns only after the holder closed.
		kill -0 $holder 2>/dev/null && { say "rmmod succeeded while $DEV was open"; rc=1; }
	else
		say "rmmod vchiq_dev refused while $DEV is open (expected)"
	fi
	wait $holder || { say "the holder failed"; rc=1; }
	grep -q '^vchiq_dev ' /proc/modules && { rmmod vchiq_dev || rc=1; }
	[ ! -e $DEV ] || { say "$DEV still present"; rc=1; }
	return $rc
}
t_run "rmmod vchiq_dev while $DEV is held open, then after" unload_busy
t_run "unload vchiq-core, vchiq-sim" rmmod vchiq_core vchiq_sim
t_run "no vchiq debugfs entries left" sh -c 'ls /sys/kernel/debug/kmemleak >/dev/null && ! ls /sys/kernel/debug | grep -q vchiq'
