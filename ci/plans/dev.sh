# vchiq-dev: /dev/vchiq driven from user space by tools/vchiq-test, every mode with the 64-bit
# binary and, on arm64, the 32-bit armhf one through the compat ioctls: the functional test,
# pings, a bulk throughput run, stress (processes x threads), random ioctls, children killed
# mid-bulk (then a leak scan), the races of callback delivery and unbind (issue 11, with
# vchiq-ktest: each interleaving forced with the simulator's knobs, see
# Documentation/architecture.rst, "Delivery and unbind"), unloading while the device is held
# open, a file holding messages across the simulator's unload, and the final unload and leak
# check. Loop sizes: Documentation/testing.rst (check: to find bugs; soak: the
# endurance figures).
# vm-timeout: 2400
# vm-soak-timeout: 43200

DEV=/dev/vchiq
SIM=/sys/kernel/debug/vchiq-sim
KT=/sys/kernel/debug/vchiq-ktest
CORE=/sys/kernel/debug/vchiq-core-sim

# tools TEST ARGS...: runs vchiq-test, and on arm64 the 32-bit one too.
tools() {
	local name=$1
	shift
	t_run "vchiq-test $name" vchiq-test "$@"
	if [ "$(uname -m)" = aarch64 ]; then
		if [ -x /bin/vchiq-test32 ]; then
			t_run "vchiq-test32 $name (compat)" vchiq-test32 "$@"
		else
			t_fail "vchiq-test32 $name (compat)" "no armhf vchiq-test in the initramfs"
		fi
	fi
}

wait_dev() {
	local i=0
	while [ $i -lt 20 ]; do
		[ -c $DEV ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

if [ ! -x /bin/vchiq-test ]; then
	t_fail "vchiq-test in the initramfs" "missing (ci/tools)"
fi
t_run "load vchiq-sim, vchiq-core" sh -c "modprobe vchiq_sim && modprobe vchiq_core"
if [ -e $DEV ]; then t_fail "no $DEV before vchiq-dev" "present"; else t_ok "no $DEV before vchiq-dev"; fi
t_run "load vchiq-dev" modprobe vchiq_dev
t_run "$DEV appears" wait_dev

# Random ioctls first, on a freshly loaded family (each run starts with the fuzzer's own check
# that its alarm ends a wait that begins late: a one-shot alarm once hung it in make check).
n=$(sized 10000 1000000)
tools "--fuzz $n" --fuzz "$n"
# A fresh VideoCore for what follows, whatever the fuzzing left behind.
t_run "reload vchiq-dev, vchiq-core, vchiq-sim after fuzzing" sh -c \
	"rmmod vchiq_dev vchiq_core vchiq_sim && modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_dev"
t_run "$DEV appears again" wait_dev

# The functional test: each iteration runs one slice of the fun2 alignment sweep (1/40 in
# check: plan core crosses every alignment with every size class through kernel buffers;
# soak's 20 iterations of 1/20 cover the whole sweep through user pages).
n=$(sized 2 20)
slice=$(sized 40 20)
tools "-f $n --fun2-slice $slice" -f "$n" --fun2-slice "$slice"
n=$(sized 5 100)
tools "-p $n" -p "$n"
tools "--rt $n" --rt "$n"
tools "-b 1024 8" -b 1024 8
n=$(sized 4 16)
tools "--stress $n" --stress "$n"
n=$(sized 50 1000)
tools "--kill-bulk $n" --kill-bulk "$n"
kmemleak_check

# The races of issue 11 (findings 7, 1, 5, 3, 4, 10, 9; finding 2 at the end): vchiq-ktest's
# step tests and vchiq-test's helpers, each interleaving forced with the simulator's knobs.
ktest() {
	local out rc=0
	echo "$*" >$KT/run 2>/dev/null || rc=$?
	out=$(cat $KT/result)
	echo "$out" >/dev/console
	if [ $rc = 0 ]; then t_ok "ktest $*"; else t_fail "ktest $*" "$(echo "$out" | tail -n 1)"; fi
}

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# until_file FILE WORD: FILE contains WORD within about 10 s.
until_file() {
	local i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		[ $i -ge 100 ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

t_run "load vchiq-ktest" modprobe vchiq_ktest
# until_hold N: the simulator's hold has N messages left to write (within about 10 s). A knob
# that makes the VideoCore act (close_open) waits for this: the VideoCore runs at its own
# pace, and on a loaded host it may not have answered what the ARM sent before the knob.
until_hold() {
	local i=0
	until [ "$(cat $SIM/hold)" = "$1" ]; do
		[ $i -ge 100 ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
# Finding 7: a reply and the service's CLOSE in one batch. The reply's MESSAGE_AVAILABLE
# callback runs before SERVICE_CLOSED and must still be able to read the message.
ktest stash-open
echo 2 >$SIM/hold
ktest stash-echo
t_run "the VideoCore answered the echo (its reply held)" until_hold 1
echo 1 >$SIM/close_open
ktest stash-expect-msg-closed
t_run "hold released after its 2 messages" test "$(cat $SIM/hold)" = 0

# Finding 1: OPENACK, the service's first message and its CLOSE in one batch, while the
# opener waits. The open succeeds and the handler (held only by the service) outlives the
# message's slow callback.
open_race() {
	local pid rc=0
	echo 3 >$SIM/hold
	echo 1 >$SIM/greet
	(echo open-race >$KT/run) 2>/dev/null &
	pid=$!
	# OPENACK and the greeting are written, the doorbell held: now the CLOSE.
	until_hold 1 || { say "the VideoCore did not answer the open"; rc=1; }
	echo 1 >$SIM/close_open
	wait $pid || rc=1
	cat $KT/result >/dev/console
	return $rc
}
t_run "ktest open-race (OPENACK, a message and CLOSE in one batch)" open_race

# Finding 5: the VideoCore closes and reopens a server of the ARM's in one batch. The client
# sees SERVICE_CLOSED then SERVICE_OPENED, the new connection's messages arrive, and
# REMOVE_SERVICE works.
# The removal closes the new connection: its SERVICE_CLOSED has come when it returns.
# The second time (no greeting) the handler lingers in its SERVICE_OPENED callback and the
# removal runs meanwhile, while the batch that closed and reopened the server is still in
# delivery: the end of that batch must not take the reopened service for a closed one (it
# did once the removal had made it a client: the entry went, and the removal returned
# without the SERVICE_CLOSED, or EINVAL).
reopen_remove() {
	ktest "stash-server$1"
	echo $((0x52414345)) >$SIM/open_arm
	ktest stash-expect opened
	echo 2 >$SIM/hold
	if [ "$2" ]; then echo 1 >$SIM/greet; fi
	echo 1 >$SIM/reopen
	ktest stash-expect "closed,opened$2"
	ktest "stash-remove closed"
}
reopen_remove "" ,greeting
reopen_remove -linger
# A server the VideoCore closed is still a server (it listens again): removing it while its
# SERVICE_CLOSED callback runs succeeds (it returned EINVAL).
ktest stash-server-linger
echo $((0x52414345)) >$SIM/open_arm
ktest stash-expect opened
echo 2 >$SIM/reopen
ktest stash-expect closed
ktest stash-remove

# Finding 3: the slot handler delivers a batch of 15 replies and the first of two aborted
# bulks (the CLOSE that aborts them came last) while SERVICE_CLOSED and the other abort wait
# in the engine's queue; then a message arrives on the sync channel. Every callback of the
# service still comes in order, one at a time, from one thread.
until_delivering() {
	local i=0
	until grep -q "^delivering: [1-9]" $CORE/state; do
		[ $i -ge 100 ] && return 1
		sleep 0.05
		i=$((i + 1))
	done
}
sync_race() {
	echo 16 >$SIM/hold
	# The VideoCore late, as on a loaded host: the 15 replies must be written (and held)
	# before the close. A close taken first left the hold short of its 16 messages, and
	# nothing was delivered (make check, 2026-12-03).
	echo 1 >$SIM/stop
	echo "stash-burst 15 2" >$KT/run || { echo 0 >$SIM/stop; return 1; }
	sleep 0.2
	echo 0 >$SIM/stop
	until_hold 1 || { say "the VideoCore did not answer the 15 echoes"; return 1; }
	echo 1 >$SIM/close_open
	until_delivering || { say "no batch in delivery"; return 1; }
	echo 1 >$SIM/sync_send
}
ktest stash-serial
t_run "a batch in delivery, then the sync channel" sync_race
ktest stash-expect-serial 15 2
t_run "the sync message was sent" test "$(cat $SIM/sync_sent)" -ge 1

# Finding 4: a signal while a safe blocking bulk waits must not end it (the transfer still
# owns the buffer); the VideoCore's close, which aborts it, does.
bulk_signal() {
	local pid i=0
	(trap 'say "writer: signal caught"' USR1; echo bulk-signal >$KT/run) 2>/dev/null &
	pid=$!
	until grep -q "^bulks: in flight [1-9]" $CORE/state; do
		[ $i -ge 100 ] && { say "the receive was not queued"; break; }
		sleep 0.05
		i=$((i + 1))
	done
	sleep 0.2
	kill -USR1 $pid
	sleep 0.5
	echo 1 >$SIM/close_open
	wait $pid
	cat $KT/result >/dev/console
	grep -q "^PASS bulk-signal" $KT/result
}
t_run "ktest bulk-signal (a signal does not end a safe blocking bulk)" bulk_signal

# Found by reading: a kernel client's queue wait ended with EINTR on a signal, so a client
# could not finish a message sequence (vc-sm-cma's FREE from a dying process, audio's WRITE
# header then its PCM chunks). The VideoCore stopped, the queue waits for quota or slots;
# the writer is signalled during the wait, then the VideoCore resumes: every message queued.
# /dev/vchiq's queue (interruptible) must end at the signal instead.
stalls() { awk '/^stalls:/ { print $3 + $5 + $7 }' $CORE/state; }
stalls_above() { [ "$(stalls)" -gt "$1" ]; }
# queue_signal [interruptible]
queue_signal() {
	local pid before rc=0
	before=$(stalls)
	echo 1 >$SIM/stop
	(trap 'say "writer: signal caught"' USR1; echo stash-queue-signal "$@" >$KT/run) 2>/dev/null &
	pid=$!
	if ! wait_until 10 stalls_above "$before"; then
		say "the queue did not wait within 10 s"
		echo 0 >$SIM/stop
		wait $pid
		return 1
	fi
	kill -USR1 $pid
	sleep 0.5
	echo 0 >$SIM/stop
	wait $pid || rc=$?
	cat $KT/result >/dev/console
	[ $rc = 0 ] && grep -q "^PASS stash-queue-signal" $KT/result
}
for mode in kernel interruptible; do
	ktest stash-open
	if [ $mode = kernel ]; then
		t_run "ktest stash-queue-signal (a signal does not end a kernel client's queue wait)" queue_signal
	else
		t_run "ktest stash-queue-signal interruptible (it ends /dev/vchiq's)" queue_signal interruptible
	fi
	ktest stash-drop
done

# Finding 10: GET_CLIENT_ID is the opener's process id, whichever thread opened.
t_run "vchiq-test --client-id" vchiq-test --client-id
if [ -x /bin/vchiq-test32 ]; then t_run "vchiq-test32 --client-id (compat)" vchiq-test32 --client-id; fi

# Finding 9: a killed process's close waits the full reply timeout (5 s, whatever HZ is) for
# a VideoCore that does not answer, once, and still sends every service its CLOSE: when the
# VideoCore resumes, all of echo's 8 listeners are free again. "Once" is the core's timeout
# count (exactly one more), "the full timeout" a close of at least 4.5 s; the upper bound (60 s)
# only catches a hang, whatever the guest's speed (it was 9 s: eight timeouts would be 40 s).
core_timeouts() { sed -n 's/.*; timeouts \([0-9]*\);.*/\1/p' $CORE/state; }
killed_close() {
	local pid t0 t1 d n0 n1
	vchiq-test --hold 2 </dev/null >/tmp/hold.out 2>&1 &
	pid=$!
	until_file /tmp/hold.out ready || { say "--hold did not get ready"; cat /tmp/hold.out >/dev/console; return 1; }
	n0=$(core_timeouts)
	echo 1 >$SIM/stop
	t0=$(uptime_s)
	kill -9 $pid
	wait $pid 2>/dev/null
	t1=$(uptime_s)
	n1=$(core_timeouts)
	echo 0 >$SIM/stop
	d=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	say "the killed process's close took $d s, $((n1 - n0)) reply timeouts"
	[ $((n1 - n0)) -eq 1 ] && awk -v d="$d" 'BEGIN { exit !(d >= 4.5 && d <= 60) }'
}
t_run "killed process: one 5 s reply timeout" killed_close
# The VideoCore frees the listeners as it takes the CLOSEs, at its own pace: tried for up to
# 20 s (a fixed 1 s wait assumed the machine's speed).
open_all_free() {
	local i=0
	until vchiq-test --open-all 8; do
		[ $i -ge 20 ] && return 1
		sleep 1
		i=$((i + 1))
	done
}
t_run "every echo listener free again (vchiq-test --open-all 8)" open_all_free

t_run "unload vchiq-ktest" rmmod vchiq_ktest

# Unloading while a process holds the device open: refused (EBUSY) or waits; it goes once
# the process is gone.
unload_busy() {
	sh -c "exec 4<>$DEV && exec sleep 60" &
	local holder=$! rc=0
	if ! wait_until 20 test -e /proc/$holder/fd/4; then
		say "the holder could not open $DEV"
		kill $holder 2>/dev/null
		wait $holder 2>/dev/null
		return 1
	fi
	if rmmod vchiq_dev 2>/dev/console; then
		# A waiting unload returns only after the holder closed.
		kill -0 $holder 2>/dev/null && { say "rmmod succeeded while $DEV was open"; rc=1; }
	else
		say "rmmod vchiq_dev refused while $DEV is open (expected)"
	fi
	kill $holder 2>/dev/null
	wait $holder 2>/dev/null
	grep -q '^vchiq_dev ' /proc/modules && { rmmod vchiq_dev || rc=1; }
	[ ! -e $DEV ] || { say "$DEV still present"; rc=1; }
	return $rc
}
t_run "rmmod vchiq_dev while $DEV is held open, then after" unload_busy
t_run "load vchiq-dev again" modprobe vchiq_dev
t_run "$DEV appears (third time)" wait_dev
# helper_start OUT ARGS...: vchiq-test ARGS in the background, its output in OUT and its
# stdin on a fifo that fd 5 writes the go-aheads to (a line each); waits for its first
# `ready`. helper_end OUT: the last go-ahead; waits for it and shows its output.
helper_start() {
	local out=$1
	shift
	rm -f /tmp/go
	mkfifo /tmp/go
	vchiq-test "$@" </tmp/go >"$out" 2>&1 &
	helper=$!
	exec 5>/tmp/go
	until_file "$out" ready || { say "vchiq-test $* did not get ready"; return 1; }
}
helper_end() {
	local rc=0
	echo go >&5
	exec 5>&-
	wait $helper || rc=1
	cat "$1" >/dev/console
	return $rc
}
# Finding 6: bulks in flight when the core unbinds from a VideoCore that keeps the memory and
# goes on (the simulator's refuse_reset 2, as real firmware): queued while it is stopped, then
# resumed after the unbind, it reads both pagelists and writes the receive's pages, which the
# core must have kept (pagelists not freed, pages pinned and mapped).
BIND=/sys/bus/platform/drivers/vchiq-sim
kept_bulk() {
	local rc=0 pins kept
	pins=$(pins_outstanding)
	helper_start /tmp/kb.out --kept-bulk || rc=1
	echo 1 >$SIM/stop
	echo go >&5
	until_file /tmp/kb.out queued || { say "--kept-bulk did not queue"; rc=1; }
	echo 2 >$SIM/refuse_reset
	echo vchiq-sim >$BIND/unbind || rc=1
	dmesg | grep -q 'keeping .* bulk' || { say "no report of the kept bulks"; rc=1; }
	echo 0 >$SIM/stop
	helper_end /tmp/kb.out || rc=1
	# The helper has exited: what is still pinned is what the core kept, rightly (the
	# VideoCore may still access it), for good. The page check after the plan allows for it.
	kept=$(($(pins_outstanding) - pins))
	PINS_KEPT=$((PINS_KEPT + kept))
	say "pages: $kept user pages kept pinned with the kept bulks"
	echo 0 >$SIM/refuse_reset
	echo 1 >$SIM/reset
	echo vchiq-sim >$BIND/bind || rc=1
	wait_dev || { say "$DEV did not come back"; rc=1; }
	return $rc
}
t_run "bulks in flight at unbind complete into memory the core kept" kept_bulk
# Finding 2: an open file holds a message in slot memory when the simulator goes away, and a
# server of it is open from the VideoCore's side; the device then refuses everything
# (ESHUTDOWN), removing the server sends no CLOSE into the freed slots, and closing the file
# touches nothing freed.
unbind_held() {
	local rc=0 i=0
	helper_start /tmp/uh.out --unbind-held || rc=1
	echo $((0x52414345)) >$SIM/open_arm
	until [ "$(cat $SIM/open_arm)" = 0 ] || [ $i -ge 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.3
	rmmod vchiq_sim || rc=1
	helper_end /tmp/uh.out || rc=1
	return $rc
}
t_run "close a file holding messages after the simulator's unload" unbind_held
t_run "unload vchiq-dev, vchiq-core" rmmod vchiq_dev vchiq_core
t_run "no vchiq debugfs entries left" sh -c 'ls /sys/kernel/debug/kmemleak >/dev/null && ! ls /sys/kernel/debug | grep -q vchiq'
