# The README's demo: the whole family on the simulated VideoCore. Loads the simulator, the
# core, the kernel API test client and /dev/vchiq, echoes a few messages through the kernel
# API, shows the connection state and a menu of things to try, then a shell on the console
# when run interactively (vchiq.shell=1), else powers off. On the way out every module of the
# family that is loaded (whatever the user loaded or unloaded) goes, in dependency order,
# before the leak check. Booted like a Pi, with the top of RAM kept for the VideoCore's
# firmware memory (vc-mem, vcdbg/vclog-style reading).
# vm-vc-mem: yes
# vm-alsa: yes
FAMILY_LOAD="vchiq_sim vchiq_core vchiq_ktest vchiq_dev vc_mem snd_bcm2835 vc_sm_cma"
for m in $FAMILY_LOAD; do t_run "modprobe $m" modprobe $m; done
say "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
t_run "echo 100 messages through the VideoCore" sh -c 'echo "echo 100" >/sys/kernel/debug/vchiq-ktest/run'
cat /sys/kernel/debug/vchiq-ktest/result >/dev/console
cat /sys/kernel/debug/vchiq-core-sim/state >/dev/console
t_run "vchiq-test -f 1 through /dev/vchiq" vchiq-test -f 1
t_run "vcgencmd-style query over GCMD: version" vcmem gencmd version
t_run "the firmware's message log through /dev/vc-mem" sh -c 'vcmem log -m | tail -n 5'
t_run "aplay half a second of 48 kHz stereo on 'bcm2835 Headphones'" sh -c \
	'pcm-check wav /tmp/demo.wav 16 2 48000 24000 1 && aplay -q -D hw:CARD=Headphones,DEV=0 /tmp/demo.wav'
t_run "vc-sm-cma: the simulated camera's frames in a dma-buf from /dev/vcsm-cma" vcsm camera 0

menu() {
	cat <<'MENU'

  vchiq-rs demo: vchiq-sim (the simulated VideoCore), vchiq-core, vchiq-ktest, vchiq-dev,
  vc-mem, snd-bcm2835, vc-sm-cma
  Things to try:
    vchiq-test -f 1                 functional test of /dev/vchiq (64-bit)
    vchiq-test32 -f 1               the same through the compat ioctls (32-bit, arm64 only)
    vchiq-test -p 100               message and bulk round-trip latencies
    vchiq-test -b 1024 20           1 MiB bulk echo throughput
    vchiq-test --stress 4           4 processes x 3 threads of open/echo/bulk/close
    echo "echo 1000" >/sys/kernel/debug/vchiq-ktest/run; cat /sys/kernel/debug/vchiq-ktest/result
    cat /sys/kernel/debug/vchiq-core-sim/state       the connection, slots, services
    ls /sys/kernel/debug/vchiq-sim                    the simulator's fault knobs and counters
    vcmem gencmd measure_temp       a vcgencmd-style query of the firmware's GCMD service
    vcmem gencmd commands           every GCMD command the firmware knows
    vcmem info; vcmem syms          /dev/vc-mem: the VideoCore memory and its symbol table
    vcmem log -m                    the firmware's message log, as vclog -m prints it
    aplay -l; amixer -c Headphones  the ALSA card over the VideoCore's audio service
    pcm-check wav /tmp/t.wav 16 2 48000 48000 1; aplay /tmp/t.wav; cat /sys/kernel/debug/vchiq-sim/auds
    vcsm flow 0; vcsm camera 1      vc-sm-cma: libvcsm's flows, camera frames in a cached buffer
    cat /sys/kernel/debug/vcsm-cma/state               the shared buffers
    pthread-check                   threads and time as glibc programs use them
  'exit' ends the demo: the family is unloaded and checked for leaks.

MENU
}

if grep -q vchiq.shell=1 /proc/cmdline; then
	menu >/dev/console
	setsid cttyhack sh
fi

# unload_family: every loaded module of the family, users before what they use.
unload_family() {
	local m rc=0
	for m in vc_sm_cma snd_bcm2835 vc_mem vchiq_dev vchiq_ktest vchiq_kunit vchiq_core vchiq_sim; do
		grep -q "^$m " /proc/modules || continue
		rmmod $m || { say "rmmod $m failed"; rc=1; }
	done
	return $rc
}
t_run "unload the family" unload_family
