# vm-dt: bcm2835
# The Raspberry Pi platform driver on QEMU's virt machine (ci/dt): two device tree nodes,
# "brcm,bcm2835-vchiq" and "brcm,bcm2836-vchiq", with real registers and interrupts but no
# Raspberry Pi firmware. vchiq-core binds both, maps the doorbell registers (BELL0 read),
# requests the doorbell IRQ, allocates and initialises the slot memory, starts its threads
# and reaches the firmware's VCHIQ_INIT, which fails (no firmware node): each probe must then
# undo everything, free the memory the VideoCore never got, and leave no thread, interrupt,
# debugfs entry or leak behind. Loading, failing and unloading repeat.
DT=/sys/firmware/devicetree/base
t_run "device tree has the bcm2835 node" test -e $DT/vchiq@a002040/compatible
t_run "device tree has the bcm2836 node" test -e $DT/vchiq@a002240/compatible
kmemleak_reset
t_run "load vchiq_core" modprobe vchiq_core
log_has() { dmesg | grep -q "$1"; }
t_run "bcm2835: registers mapped, 32-byte cache lines" log_has "a002040.vchiq: bcm2835 doorbell registers mapped (32-byte"
t_run "bcm2836: registers mapped, 64-byte cache lines" log_has "a002240.vchiq: bcm2835 doorbell registers mapped (64-byte"
for d in a002040 a002240; do
	t_run "$d: VCHIQ_INIT reached and failed (no firmware)" log_has "$d.vchiq: VCHIQ_INIT failed"
	t_run "$d: probe failed with ENOENT" log_has "$d.vchiq: probe with driver vchiq-bcm2835 failed with error -2"
done
t_run "no device bound" sh -c '! ls /sys/bus/platform/drivers/vchiq-bcm2835/ | grep -q vchiq@'
t_run "doorbell IRQs freed" sh -c '! grep -q "VCHIQ doorbell" /proc/interrupts'
t_run "no protocol thread left" sh -c '! ps | grep -q "[v]chiq-\(slot\|recy\|sync\|keep\)"'
t_run "no debugfs entry" sh -c '! ls /sys/kernel/debug | grep -q vchiq-core'
t_run "slot memory not kept" sh -c '! dmesg | grep -q "keeping .* bytes of slot memory"'
t_run "no /dev/vchiq" test ! -e /dev/vchiq
t_run "unload vchiq_core" rmmod vchiq_core
cycles() {
	i=0
	while [ $i -lt 5 ]; do
		modprobe vchiq_core && rmmod vchiq_core || return 1
		i=$((i + 1))
	done
	[ "$(dmesg | grep -c 'a002240.vchiq: VCHIQ_INIT failed')" -eq 6 ]
}
t_run "5 more load/fail/unload cycles" cycles
kmemleak_check
taint_check
