# The family built into the kernel (ci/intree --builtin, kernel flavour builtin): the
# simulator registers its VideoCore at boot and everything binds there, with no modprobe;
# each interface works (/dev/vchiq through vchiq-test, /dev/vc-mem with the vc_mem.*
# parameters from the kernel command line as a Pi's firmware passes them, the GCMD service,
# /dev/vcsm-cma with the simulated camera, the ALSA card through aplay); modprobe of a
# built-in module is a no-op and the test client still loads and unloads as a module.
# vm-check: no (needs the kernel with the family built in: ci/intree --builtin, make intree)
# vm-vc-mem: yes
# vm-alsa: yes
# vm-timeout: 600

wait_for() {
	local i=0
	while [ $i -lt 50 ]; do
		[ -e "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

if grep -q '^vchiq_core ' /proc/modules; then
	t_fail "vchiq-core built in" "it is a loaded module"
else
	t_ok "vchiq-core built in"
fi
t_run "vchiq-core bound to the simulated VideoCore at boot" test -d /sys/bus/platform/drivers/vchiq-sim/vchiq-sim
t_run "/dev/vchiq at boot" wait_for /dev/vchiq
t_run "/dev/vc-mem at boot" wait_for /dev/vc-mem
t_run "/dev/vcsm-cma at boot" wait_for /dev/vcsm-cma
t_run "the ALSA card at boot" grep -q bcm2835 /proc/asound/cards
t_run "modprobe vchiq_core: built in, a no-op" modprobe vchiq_core
t_run "vchiq-test functional" vchiq-test -f 1 --fun2-slice 40
t_run "vc-mem: the VideoCore memory from the command line's vc_mem.* parameters" vcmem info
t_run "vc-mem: the firmware's message log" sh -c 'vcmem log -m | tail -n 3'
t_run "GCMD over /dev/vchiq: version" vcmem gencmd version
t_run "vc-sm-cma: the simulated camera's frames in a dma-buf" vcsm camera 0
t_run "aplay a fifth of a second to the built-in snd-bcm2835" sh -c \
	'pcm-check wav /tmp/t.wav 16 2 48000 9600 1 && aplay -q -D hw:CARD=Headphones,DEV=0 /tmp/t.wav'
t_run "vchiq-ktest loads as a module beside the built-in core" modprobe vchiq_ktest
t_run "ktest echo 20" sh -c 'echo "echo 20" >/sys/kernel/debug/vchiq-ktest/run'
t_run "vchiq-ktest unloads" rmmod vchiq_ktest
