# vchiq-core loads, its KUnit suite (the engine in both roles) runs, no /dev/vchiq appears,
# it unloads, and load/unload cycles leave nothing behind.
kunit_load vchiq_core
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
