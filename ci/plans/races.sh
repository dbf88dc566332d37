# Lifetime and ordering races of callback delivery and unbind (issue 11): each test forces
# one interleaving with the simulator's knobs (hold: the VideoCore's next messages reach
# the ARM as one batch; stop; close_open) or from the shell (unloading the simulator under
# an open file, killing a process), and checks the outcome the core guarantees
# (Documentation/architecture.md, "Delivery and unbind"). Run under KASAN on arm64.
# vm-timeout: 300

SIM=/sys/kernel/debug/vchiq-sim
KT=/sys/kernel/debug/vchiq-ktest
CORE=/sys/kernel/debug/vchiq-core-sim

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

load_all() {
	modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_ktest && modprobe vchiq_dev &&
		until_file /proc/misc vchiq
}
unload_all() { rmmod vchiq_dev vchiq_ktest vchiq_core vchiq_sim; }

t_run "load vchiq-sim, vchiq-core, vchiq-ktest, vchiq-dev" load_all

# Finding 7: a reply and the service's CLOSE in one batch. The reply's MESSAGE_AVAILABLE
# callback runs before SERVICE_CLOSED and must still be able to read the message.
ktest stash-open
echo 2 >$SIM/hold
ktest stash-echo
echo 1 >$SIM/close_open
ktest stash-expect-msg-closed
t_run "hold released after its 2 messages" test "$(cat $SIM/hold)" = 0

# Finding 1: OPENACK, the service's first message and its CLOSE in one batch, while the
# opener waits. The open succeeds and the handler (held only by the service) outlives the
# message's slow callback.
until_hold() {
	local i=0
	until [ "$(cat $SIM/hold)" = "$1" ]; do
		[ $i -ge 100 ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
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
ktest stash-server
echo $((0x52414345)) >$SIM/open_arm
ktest stash-expect opened
echo 2 >$SIM/hold
echo 1 >$SIM/greet
echo 1 >$SIM/reopen
ktest stash-expect closed,opened,greeting
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
	echo "stash-burst 15 2" >$KT/run || return 1
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

# Finding 10: GET_CLIENT_ID is the opener's process id, whichever thread opened.
t_run "vchiq-test --client-id" vchiq-test --client-id
if [ -x /bin/vchiq-test32 ]; then t_run "vchiq-test32 --client-id (compat)" vchiq-test32 --client-id; fi

# Finding 9: a killed process's close waits the full reply timeout (5 s, whatever HZ is) for
# a VideoCore that does not answer, once, and still sends every service its CLOSE: when the
# VideoCore resumes, all of echo's 8 listeners are free again.
killed_close() {
	local pid t0 t1 d
	vchiq-test --hold 2 </dev/null >/tmp/hold.out 2>&1 &
	pid=$!
	until_file /tmp/hold.out ready || { say "--hold did not get ready"; cat /tmp/hold.out >/dev/console; return 1; }
	echo 1 >$SIM/stop
	t0=$(uptime_s)
	kill -9 $pid
	wait $pid 2>/dev/null
	t1=$(uptime_s)
	echo 0 >$SIM/stop
	d=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	say "the killed process's close took $d s"
	awk -v d="$d" 'BEGIN { exit !(d >= 4.5 && d <= 9) }'
}
t_run "killed process: one 5 s reply timeout" killed_close
sleep 1
t_run "every echo listener free again (vchiq-test --open-all 8)" vchiq-test --open-all 8

# Finding 2: an open file holds a message in slot memory when the simulator goes away; the
# device then refuses everything (ESHUTDOWN) and closing the file touches nothing freed.
unbind_held() {
	local pid rc=0
	rm -f /tmp/go
	mkfifo /tmp/go
	vchiq-test --unbind-held </tmp/go >/tmp/uh.out 2>&1 &
	pid=$!
	exec 5>/tmp/go
	if ! until_file /tmp/uh.out ready; then
		say "--unbind-held did not get ready"
		rc=1
	fi
	rmmod vchiq_sim || rc=1
	echo go >&5
	exec 5>&-
	wait $pid || rc=1
	cat /tmp/uh.out >/dev/console
	return $rc
}
t_run "close a file holding messages after the simulator's unload" unbind_held
t_run "unload the rest" rmmod vchiq_dev vchiq_ktest vchiq_core
t_run "reload and echo" sh -c "modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_ktest && echo 'echo 20' >$KT/run"
t_run "unload" rmmod vchiq_ktest vchiq_core vchiq_sim
