# The README's demo: load the family, show what it made, then a shell on the console when
# run interactively (vchiq.shell=1), else power off.
t_run "modprobe vchiq_core" modprobe vchiq_core
say "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
dmesg | grep -i vchiq >/dev/console
if grep -q vchiq.shell=1 /proc/cmdline; then
	say "shell on the test system; 'exit' ends the demo (unload, leak check, power off)"
	setsid cttyhack sh
fi
t_run "rmmod vchiq_core" rmmod vchiq_core
