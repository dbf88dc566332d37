# vcsm: vc-sm-cma (Documentation/vc-sm-cma.rst) on the simulated VideoCore's SMEM service, without
# vchiq-dev: every ioctl and its errors, libvcsm's flows (alloc + mmap + DMA_BUF_IOCTL_SYNC,
# import, export by dup, free by close) uncached and cached, the simulated camera's frames read bit
# for bit and CPU writes checksummed by the VideoCore, a udmabuf imported (the VideoCore writes its
# very pages), a camera frame PRIME-imported into VKMS and read back bit for bit through its
# writeback connector, a VGEM buffer imported and checksummed by the VideoCore, RELEASED after and
# before FREE, every SMEM fault knob, a process killed while it waits, one killed inside an
# hours-long CLEAN_INVALID2 and one killed with buffers
# mapped, VC_MEM_REQUEST, protocol-1 firmware, alloc/import/free cycles, buffers the VideoCore
# never gives back (kept, counted) across the simulator's reload; tools/vcsm 64-bit and, on
# arm64, 32-bit (compat). The leak check follows the plan.
# vm-timeout: 900
# vm-soak-timeout: 7200

SIM=/sys/kernel/debug/vchiq-sim/smem
STATE=/sys/kernel/debug/vcsm-cma/state

# both NAME ARGS...: runs vcsm, and on arm64 the 32-bit one too.
both() {
	local name=$1
	shift
	t_run "vcsm $name" vcsm "$@"
	if [ "$(uname -m)" = aarch64 ]; then
		if [ -x /bin/vcsm32 ]; then
			t_run "vcsm32 $name (compat)" vcsm32 "$@"
		else
			t_fail "vcsm32 $name (compat)" "no armhf vcsm in the initramfs"
		fi
	fi
}

# expect NAME WANT CMD...: CMD's output must contain WANT.
expect() {
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	echo "$out" >/dev/console
	case $out in *"$want"*) t_ok "$name" ;; *) t_fail "$name" "no '$want' in the output" ;; esac
}

# wait_for WANT FILE: up to 20 s for FILE to contain WANT (a hang-catcher).
wait_for() {
	local i=0
	while [ $i -lt 2000 ]; do
		grep -q "$1" "$2" && return 0
		sleep 0.01
		i=$((i + 1))
	done
	cat "$2" >/dev/console
	return 1
}

t_run "load vchiq_sim, vchiq_core" sh -c "modprobe vchiq_sim && modprobe vchiq_core"
# IMPORT's wait (timeout_ms) is 20 s for the plan, a hang-catcher: a guest starved for seconds
# must not turn an answer into ETIMEDOUT, nor a kill into a timeout (vcsm interrupt). Only the
# fault knobs that leave IMPORT unanswered run with a short one, 2 s (they wait it out twice).
# The unload/reload cycles load the module's default (5 s).
TIMEOUT=timeout_ms=20000
t_run "load vc_sm_cma ($TIMEOUT)" modprobe vc_sm_cma $TIMEOUT
t_run "/dev/vcsm-cma appears" test -c /dev/vcsm-cma
if grep -q '^vchiq_dev ' /proc/modules || [ -e /dev/vchiq ]; then
	t_fail "no vchiq_dev, no /dev/vchiq" "present"
else
	t_ok "no vchiq_dev, no /dev/vchiq"
fi
t_run "protocol 2 acknowledged" wait_for "protocol: 2" $STATE
expect "SMEM open in the simulator" "open: true version: 2 released: true" cat $SIM

both abi abi
both "flow (uncached)" flow 0
both "flow (cached)" flow 1
both "camera (uncached)" camera 0
both "camera (cached)" camera 1
both import import
both "reimport (an own buffer imported: the mapped table is its page)" reimport
# Zero copy into a display (VKMS: PRIME import, plane, writeback) and from VGEM.
both "display (uncached)" display 0
both "display (cached)" display 1
both vgem vgem
both released released
# reload ARGS...: vc_sm_cma unloaded and loaded with ARGS, protocol 2 acknowledged.
reload() { rmmod vc_sm_cma && modprobe vc_sm_cma "$@" && wait_for "protocol: 2" $STATE; }
t_run "reload vc_sm_cma (timeout_ms=2000)" reload timeout_ms=2000
t_run "vcsm faults" vcsm faults
t_run "reload vc_sm_cma ($TIMEOUT)" reload $TIMEOUT
t_run "vcsm interrupt" vcsm interrupt
both "a process in an hours-long CLEAN_INVALID2 dies when killed" kill-cleaning
t_run "vcsm request" vcsm request
t_run "vcsm cycles" vcsm cycles "$(sized 60 10000)"
if [ -x /bin/vcsm32 ]; then t_run "vcsm32 cycles (compat)" vcsm32 cycles "$(sized 20 2000)"; fi

# A process killed with buffers mapped; the module cannot go while they exist.
killed() {
	local pid i=0
	vcsm hold 4 >/tmp/hold 2>&1 &
	pid=$!
	while ! grep -q ready /tmp/hold; do
		sleep 0.05
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
	done
	grep -q "Total resource count: 4" $STATE || return 1
	if rmmod vc_sm_cma 2>/dev/null; then
		echo "vc_sm_cma unloaded with buffers held"
		return 1
	fi
	kill -9 $pid
	wait $pid
	wait_for "Total resource count: 0" $STATE
}
t_run "killed with buffers mapped; unload refused meanwhile" killed

# Protocol 1: no acknowledgement, FREE is final.
t_run "smem version 1" sh -c "echo version 1 >$SIM"
t_run "reload vc_sm_cma" sh -c "rmmod vc_sm_cma && modprobe vc_sm_cma $TIMEOUT"
t_run "vcsm v1" vcsm v1
t_run "smem version 2" sh -c "echo version 2 >$SIM"
t_run "reload vc_sm_cma" sh -c "rmmod vc_sm_cma && modprobe vc_sm_cma $TIMEOUT"
t_run "protocol 2 again" wait_for "protocol: 2" $STATE

# No RELEASED ever: the buffer stays; when the VideoCore goes it is kept, not freed, and counted.
t_run "smem fault 5 (no RELEASED)" sh -c "echo fault 5 >$SIM"
t_run "alloc and close" vcsm alloc-once
t_run "the buffer waits for RELEASED" wait_for "VC freeing LINUX 0" $STATE
t_run "unload vchiq_sim (unbinds vc-sm-cma)" rmmod vchiq_sim
expect "kept, with a warning" "keeping buffer" sh -c "dmesg | grep keeping"
t_run "reload vchiq_sim" modprobe vchiq_sim
t_run "vc-sm-cma binds again" wait_for "protocol: 2" $STATE
expect "the kept buffer counted" "leaked: 1" cat $STATE
both "flow after the reload" flow 1

# Unload/reload cycles, then everything out (the leak check follows the plan).
cycles() {
	local i=0
	while [ $i -lt "$1" ]; do
		rmmod vc_sm_cma && modprobe vc_sm_cma && vcsm flow 0 >/dev/null || return 1
		i=$((i + 1))
	done
}
t_run "vc_sm_cma unload/reload cycles" cycles "$(sized 3 200)"
t_run "unload vc_sm_cma, vchiq_core, vchiq_sim" rmmod vc_sm_cma vchiq_core vchiq_sim
