# The engine's KUnit suites (both roles over one kernel buffer; the pagelist codec) run in the
# kernel; vchiq-core loads alone (no device to bind), creates no /dev/vchiq, unloads, and
# load/unload cycles leave nothing behind; the kernel's thread and time ABI works for native
# and 32-bit glibc programs.
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

# The user ABI for threads and time (no vchiq involved): an ordinary glibc pthreads program,
# native and, on arm64, the 32-bit build through the compat system calls, as Raspberry Pi OS
# runs its 32-bit user space on 64-bit kernels (Documentation/testing.rst).
t_run "pthread-check (native)" pthread-check 4 2000
if [ "$(uname -m)" = aarch64 ]; then
	t_run "pthread-check32 (32-bit glibc on the arm64 kernel)" pthread-check32 4 2000
fi
