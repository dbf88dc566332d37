# The engine's KUnit suite (both roles over one kernel buffer) runs in the kernel; vchiq-core
# loads alone (no device to bind), creates no /dev/vchiq, unloads, and load/unload cycles
# leave nothing behind.
kunit_load vchiq_kunit
t_run "unload vchiq_kunit" rmmod vchiq_kunit
t_run "load vchiq_core" modprobe vchiq_core
if [ -e /dev/vchiq ]; then t_fail "no /dev/vchiq" "present after modprobe vchiq_core"; else t_ok "no /dev/vchiq"; fi
t_run "unload vchiq_core" rmmod vchiq_core
cycles() {
	i=0
	while [ $i -lt 20 ]; do
		modprobe vchiq_core && rmmod vchiq_core || return 1
		i=$((i + 1))
	done
	! grep -q vchiq_core /proc/modules
}
t_run "20 load/unload cycles" cycles
