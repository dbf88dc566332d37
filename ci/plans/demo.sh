# The README's demo: the family on the simulated VideoCore. Loads the simulator and the core
# (no /dev/vchiq: that is vchiq-dev's), echoes a few messages through the kernel API, shows
# the connection state, then a shell on the console when run interactively (vchiq.shell=1),
# else powers off. Try: echo "echo 100" >/sys/kernel/debug/vchiq-ktest/run
t_run "modprobe vchiq_sim" modprobe vchiq_sim
t_run "modprobe vchiq_core" modprobe vchiq_core
t_run "modprobe vchiq_ktest" modprobe vchiq_ktest
say "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
t_run "echo 100 messages through the VideoCore" sh -c 'echo "echo 100" >/sys/kernel/debug/vchiq-ktest/run'
cat /sys/kernel/debug/vchiq-ktest/result >/dev/console
cat /sys/kernel/debug/vchiq-core-sim/state >/dev/console
if grep -q vchiq.shell=1 /proc/cmdline; then
	say "shell on the test system; 'exit' ends the demo (unload, leak check, power off)"
	setsid cttyhack sh
fi
t_run "unload" rmmod vchiq_ktest vchiq_core vchiq_sim
