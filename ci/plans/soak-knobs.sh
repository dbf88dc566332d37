# make soak only: every fault knob of the simulator cycled repeatedly under traffic through
# the kernel API (vchiq-ktest), each round ending with a healthy connection; the fatal
# corrupt header is followed by a reload. Rounds: sized (check: 2, soak: 200).
# vm-timeout: 900
# vm-soak-timeout: 21600

SIM=/sys/kernel/debug/vchiq-sim
KT=/sys/kernel/debug/vchiq-ktest

load_all() { modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_ktest; }
unload_all() { rmmod vchiq_ktest vchiq_core vchiq_sim; }
# kt TEST...: runs a ktest test, its verdict as the exit status.
kt() { echo "$*" >$KT/run 2>/dev/null; }

# One round: each knob on while traffic runs, then off, then the connection must work.
knob_round() {
	local k
	for k in "refuse_open 1" "delay_ms 20" "stop 1" "drop_doorbell 1" "corrupt_header 2" "close_open 1"; do
		set -- $k
		echo "$2" >$SIM/$1 || return 1
		kt echo 10 # may fail: the knob is on
		echo 0 >$SIM/$1 2>/dev/null
		kt echo 50 || { say "after knob $1: $(tail -n 1 $KT/result)"; return 1; }
	done
	echo 3 >$SIM/remote_use && echo 3 >$SIM/remote_release || return 1
	kt echo 20 || return 1
	# The fatal one: the connection is broken for good, the reload must be clean.
	echo 1 >$SIM/corrupt_header
	kt echo 5
	unload_all && load_all
}

t_run "load vchiq-sim, vchiq-core, vchiq-ktest" load_all
rounds=$(sized 2 200)
i=0 failed=0
while [ $i -lt "$rounds" ]; do
	if ! knob_round >/dev/console 2>&1; then
		failed=1
		break
	fi
	i=$((i + 1))
done
if [ $failed = 0 ]; then t_ok "$rounds rounds of every fault knob under traffic"; else t_fail "$rounds rounds of every fault knob under traffic" "round $i failed"; fi
t_run "unload" unload_all
t_run "no vchiq kthreads left" sh -c '! ps | grep -q "[v]chiq-"'
t_run "no vchiq debugfs entries left" sh -c '! ls /sys/kernel/debug | grep -q vchiq'
