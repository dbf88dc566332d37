# vchiq-sim alone (no vchiq-core): its KUnit suite (the firmware services against an
# ARM-role engine) passes, the platform device, its simulated doorbell interrupt and the
# debugfs knobs and counters exist and behave, it unloads cleanly, and load/unload cycles
# leave nothing behind (kmemleak, run by /init after the plan).
SIMD=/sys/kernel/debug/vchiq-sim
SIMDEV=/sys/bus/platform/devices/vchiq-sim
SIM_KNOBS="delay_ms refuse_open drop_doorbell corrupt_header stop refuse_reset pingpong close_open"
SIM_COUNTERS="inits refused_inits resets refused_resets bell2 doorbells doorbells_dropped messages messages_tx opens
	bulks bulk_mismatches bulk_errors fun2_mismatches corrupted errors rounds"

# sim_irqs: how many interrupts of the interrupt simulator exist (-1: no sysfs to tell).
sim_irqs() {
	[ -d /sys/kernel/irq ] || { echo -1; return; }
	grep -l '^irq_sim$' /sys/kernel/irq/*/chip_name 2>/dev/null | wc -l
}

irqs_before=$(sim_irqs)
kunit_load vchiq_sim

if [ -e $SIMDEV ]; then t_ok "platform device vchiq-sim"; else t_fail "platform device vchiq-sim" "no $SIMDEV"; fi
if [ -e $SIMDEV/driver ]; then
	t_fail "vchiq-sim unbound without vchiq-core" "bound to $(readlink $SIMDEV/driver)"
else
	t_ok "vchiq-sim unbound without vchiq-core"
fi
if [ "$irqs_before" = -1 ]; then
	say "no /sys/kernel/irq: interrupt check skipped"
elif [ "$(sim_irqs)" -eq $((irqs_before + 1)) ]; then
	t_ok "simulated doorbell interrupt mapped"
else
	t_fail "simulated doorbell interrupt mapped" "irq_sim interrupts: $irqs_before before, $(sim_irqs) after"
fi

debugfs_files() {
	local f
	for f in $SIM_KNOBS $SIM_COUNTERS reset state; do
		[ -e $SIMD/$f ] || { echo "missing $SIMD/$f"; return 1; }
	done
}
t_run "debugfs files" debugfs_files

counters_zero() {
	local c v
	for c in $SIM_COUNTERS; do
		v=$(cat $SIMD/$c) || return 1
		[ "$v" = 0 ] || { echo "$c = '$v'"; return 1; }
	done
	for c in $SIM_KNOBS; do
		v=$(cat $SIMD/$c) || return 1
		[ "$v" = 0 ] || { echo "knob $c = '$v'"; return 1; }
	done
}
t_run "counters and knobs read 0" counters_zero

state_off() {
	cat $SIMD/state
	grep -q '^state: off$' $SIMD/state
}
t_run "state is off" state_off

knob_rw() {
	local k
	for k in delay_ms refuse_open drop_doorbell stop refuse_reset pingpong close_open; do
		echo 3 >$SIMD/$k || return 1
		[ "$(cat $SIMD/$k)" = 3 ] || { echo "$k reads '$(cat $SIMD/$k)'"; return 1; }
		echo 0 >$SIMD/$k || return 1
		[ "$(cat $SIMD/$k)" = 0 ] || return 1
	done
	echo 2 >$SIMD/corrupt_header && [ "$(cat $SIMD/corrupt_header)" = 2 ] || return 1
	echo 0 >$SIMD/corrupt_header || return 1
	# Out of range or not a number: refused, value unchanged.
	! echo 3 >$SIMD/corrupt_header 2>/dev/null || { echo "corrupt_header took 3"; return 1; }
	! echo x >$SIMD/delay_ms 2>/dev/null || { echo "delay_ms took x"; return 1; }
	[ "$(cat $SIMD/corrupt_header)" = 0 ] && [ "$(cat $SIMD/delay_ms)" = 0 ]
}
t_run "knobs read back what was written" knob_rw

reset_knob() {
	echo 1 >$SIMD/reset || return 1
	! echo 2 >$SIMD/reset 2>/dev/null || { echo "reset took 2"; return 1; }
	grep -q '^state: off$' $SIMD/state
}
t_run "reset" reset_knob

t_run "unload vchiq_sim" rmmod vchiq_sim
gone() {
	[ ! -e $SIMDEV ] || { echo "$SIMDEV still there"; return 1; }
	[ ! -e $SIMD ] || { echo "$SIMD still there"; return 1; }
	[ "$irqs_before" = -1 ] || [ "$(sim_irqs)" -eq "$irqs_before" ] || { echo "irq_sim interrupt left"; return 1; }
}
t_run "device, debugfs and interrupt gone" gone

params() {
	modprobe vchiq_sim cache_line_size=32 && rmmod vchiq_sim || return 1
	! modprobe vchiq_sim cache_line_size=48 2>/dev/null || { rmmod vchiq_sim; echo "took 48"; return 1; }
}
t_run "cache_line_size parameter" params

sim_cycles() {
	local i=0
	while [ $i -lt 20 ]; do
		modprobe vchiq_sim && cat $SIMD/state >/dev/null && rmmod vchiq_sim || return 1
		i=$((i + 1))
	done
	! grep -q vchiq_sim /proc/modules
}
t_run "20 load/unload cycles" sim_cycles

# With vchiq-core loaded first, the core binds (and calls VCHIQ_INIT) while the simulator
# registers its device; either unload order works. Skipped when vchiq-core is not built.
core_first() {
	modprobe vchiq_core && modprobe vchiq_sim || return 1
	[ -d /sys/bus/platform/devices/vchiq-sim/driver ] || { echo "core not bound"; return 1; }
	[ "$(cat $SIMD/inits)" = 1 ] || { echo "inits = $(cat $SIMD/inits)"; return 1; }
	grep -q '^state: running$' $SIMD/state || return 1
	rmmod vchiq_sim && rmmod vchiq_core || return 1
	modprobe vchiq_core && modprobe vchiq_sim && rmmod vchiq_core && rmmod vchiq_sim
}
if [ -n "$(find /lib/modules -name vchiq-core.ko)" ]; then
	t_run "vchiq-core loaded first binds" core_first
else
	say "vchiq-core not built: load-order check skipped"
fi
