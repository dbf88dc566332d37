# vchiq-core bound to the simulated VideoCore: end-to-end traffic through the service API
# (vchiq-ktest), every fault knob of the simulator with the error the ARM side must report,
# a firmware that refuses a second init, and load/unload cycles in both orders. Loop sizes:
# Documentation/testing.rst (check: to find bugs; soak: the endurance figures).
# vm-timeout: 1500
# vm-soak-timeout: 21600

SIM=/sys/kernel/debug/vchiq-sim
KT=/sys/kernel/debug/vchiq-ktest
CORE=/sys/kernel/debug/vchiq-core-sim

# ktest TEST [ARG]: runs a vchiq-ktest test; ok when it passes.
ktest() {
	local out rc=0
	echo "$*" >$KT/run 2>/dev/null || rc=$?
	out=$(cat $KT/result)
	echo "$out" >/dev/console
	if [ $rc = 0 ]; then t_ok "ktest $*"; else t_fail "ktest $*" "$(echo "$out" | tail -n 1)"; fi
}

# ktest_fails TEST ARG...: the test must fail (a fault is injected); the core must say why.
ktest_fails() {
	if echo "$*" >$KT/run 2>/dev/null; then
		t_fail "ktest $* fails" "it passed"
	else
		t_ok "ktest $* fails: $(tail -n 1 $KT/result)"
	fi
}

counter() { cat $SIM/$1; }

load_all() { modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_ktest; }

t_run "load vchiq-sim, vchiq-core, vchiq-ktest" load_all
t_run "core bound to the simulator" test -d /sys/bus/platform/drivers/vchiq-sim/vchiq-sim
t_run "ktest bound to its auxiliary device" test -e $KT/run
if [ -e /dev/vchiq ]; then t_fail "no /dev/vchiq" "present"; else t_ok "no /dev/vchiq"; fi
cat $CORE/state >/dev/console

ktest echo "$(sized 2000 100000)"
# Every alignment and every size class modulo 64 (check: a quarter of the pairs; soak: all).
ktest bulk-align "$(sized 4 1)"
t_run "the simulator saw every fun2 transfer intact" test "$(counter fun2_mismatches)" = 0
ktest bulk-large
ktest open
ktest close
# Close from the VideoCore's side, while the client waits.
remote_close() {
	(echo remote-close >$KT/run) &
	local pid=$! rc=0
	# The VideoCore closes once the echo reply reached the client: a close_open taken before
	# the open closes nothing (a fixed 2 s wait assumed the machine's speed).
	wait_until 30 grep -q "^service .*: Open .*messages [1-9]" $CORE/state ||
		{ say "the echo service got no reply within 30 s"; rc=1; }
	echo 1 >$SIM/close_open
	wait $pid || rc=1
	return $rc
}
t_run "ktest remote-close (the VideoCore closes the service)" remote_close
cat $KT/result >/dev/console
# The doorbell yardstick works (its figures are make bench's).
echo 1 >$SIM/pingpong
t_run "doorbell ping (bare round trips)" sh -c "echo 200 >$CORE/ping"
echo 0 >$SIM/pingpong
grep '^ping' $CORE/state >/dev/console

# Use counts: the VideoCore's REMOTE_USE / REMOTE_RELEASE, acked by the keepalive thread.
# until_ok CMD...: CMD passes within 20 s (a bound for a hang, not for a slow guest: each of
# these takes milliseconds, and the bugs they catch cost seconds per message).
until_ok() { wait_until 20 "$@"; }

# The VideoCore's sync slot: each message waits for the ARM to hand the slot back (the ARM
# drops it: no synchronous service on that port). 50 of them take milliseconds; when the
# ARM's sync thread missed a message sent while its slot handler was busy with the last one,
# each waited for an unrelated wake-up, seconds (finding 8's class: a stalled sync sender).
sync_done() { test "$(cat $SIM/sync_send)" = 0; }
sync_burst() {
	local before
	before=$(counter sync_sent)
	echo 50 >$SIM/sync_send
	until_ok sync_done || { say "$(cat $SIM/sync_send) left"; return 1; }
	test $(($(counter sync_sent) - before)) -eq 50
}
t_run "50 sync-slot messages within 20 s" sync_burst
# keep_is COUNTS...: the core's keepalive line ends "peer use count COUNTS...".
keep_is() { grep -q "^keepalive: peer use count $*\$" $CORE/state; }
acks_are() { test "$(counter use_acks)" = "$1"; }
t_run "keepalive thread running" sh -c 'ps | grep -q "[v]chiq-keep"'
echo 5 >$SIM/remote_use
t_run "5 REMOTE_USE acked (simulator)" until_ok acks_are 5
t_run "peer use count 5" until_ok keep_is 5 uses 5 releases 0 acks 5 bad releases 0
echo 5 >$SIM/remote_release
t_run "5 REMOTE_RELEASE: peer use count 0" until_ok keep_is 0 uses 5 releases 5 acks 5 bad releases 0
echo 1 >$SIM/remote_release
t_run "extra REMOTE_RELEASE counted as an error" until_ok keep_is 0 uses 5 releases 6 acks 5 bad releases 1
t_run "no ack for a release" acks_are 5
grep '^keepalive' $CORE/state >/dev/console
ktest echo 10

# Fault knobs.
echo 1 >$SIM/refuse_open
ktest refused
echo 0 >$SIM/refuse_open

echo 30 >$SIM/delay_ms
ktest echo 20
echo 0 >$SIM/delay_ms

echo 1 >$SIM/stop
ktest stalled
echo 0 >$SIM/stop
# The open the stopped VideoCore left pending completes late; the core closes it again.
ktest echo 100

# A lost doorbell: the ARM misses one interrupt. The exchange in flight may time out
# (ETIMEDOUT) or be rescued by the VideoCore's next doorbell; either way the connection must
# go on working.
echo 1 >$SIM/drop_doorbell
echo "echo 20" >$KT/run 2>/dev/null
say "after a dropped doorbell: $(tail -n 1 $KT/result)"
t_run "dropped doorbell counted" test "$(counter doorbells_dropped)" -ge 1
ktest echo 100

# A message of an unknown type is skipped: the echo it carried never arrives (ETIMEDOUT),
# and the connection goes on.
echo 2 >$SIM/corrupt_header
ktest_fails echo 20
ktest echo 100

# A corrupt header breaks the connection for good: the core counts the protocol error and
# every later request fails cleanly until the device is rebound.
echo 1 >$SIM/corrupt_header
ktest_fails echo 20
ktest_fails echo 1
t_run "unload after a broken connection" rmmod vchiq_ktest vchiq_core vchiq_sim

# A firmware that refuses a second init (as a real one does): the core keeps the memory at
# unbind and a reload fails cleanly.
# The memory is leaked, not the device: the device's reference count is back where it was
# (a kept allocation that held a reference kept the simulator's device for ever).
modprobe vchiq_sim
refs=$(cat $SIM/device_refs)
echo 1 >$SIM/refuse_reset
modprobe vchiq_core
t_run "core bound" test -d /sys/bus/platform/drivers/vchiq-sim/vchiq-sim
rmmod vchiq_core
t_run "the kept memory holds no device reference" test "$(cat $SIM/device_refs)" = "$refs"
modprobe vchiq_core
t_run "rebind refused by the firmware" test ! -e /sys/bus/platform/drivers/vchiq-sim/vchiq-sim
t_run "refused init counted" test "$(counter refused_inits)" -ge 1
rmmod vchiq_core vchiq_sim

# Load/unload cycles with traffic, unloading in both orders.
cycles() {
	local i=0
	while [ $i -lt ${1:-100} ]; do
		load_all || return 1
		echo "echo 20" >$KT/run || return 1
		if [ $((i % 2)) = 0 ]; then
			rmmod vchiq_ktest vchiq_core vchiq_sim || return 1
		else
			rmmod vchiq_sim && rmmod vchiq_ktest vchiq_core || return 1
		fi
		i=$((i + 1))
	done
}
n=$(sized 20 1000)
t_run "$n load/unload cycles with traffic, both orders" cycles "$n"
t_run "no vchiq kthreads left" sh -c '! ps | grep -q "[v]chiq-"'
t_run "no vchiq-keep kthread left" sh -c '! ps | grep -q "[v]chiq-keep"'
t_run "no vchiq debugfs entries left" sh -c '! ls /sys/kernel/debug | grep -q vchiq'
