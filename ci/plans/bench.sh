# make bench only (ci/bench boots it on the fast kernels): performance figures, each printed
# to the results channel as "BENCH run=R key=value" for ci/bench to turn into ratios against
# the yardsticks measured in the same run. Not a pass/fail test beyond "it ran".
# vm-timeout: 1800

SIM=/sys/kernel/debug/vchiq-sim
KT=/sys/kernel/debug/vchiq-ktest
CORE=/sys/kernel/debug/vchiq-core-sim
RUNS=${BENCH_RUNS:-5}

bench() { echo "BENCH run=$run $1=$2" >&3; say "bench run $run: $1 = $2"; }

t_run "load vchiq-sim, vchiq-core, vchiq-ktest, vchiq-dev" sh -c \
	"modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_ktest && modprobe vchiq_dev"

run=1
while [ $run -le "$RUNS" ]; do
	# Kernel API: sync round trip, 1 MiB bulk transmit, memcpy of 1 MiB (vchiq-ktest bench).
	if echo bench >$KT/run 2>/dev/null; then
		out=$(cat $KT/result)
		bench kernel_rt_ns "$(echo "$out" | sed -n 's/.*sync round trip \([0-9]*\) ns.*/\1/p')"
		bench bulk_tx_1m_mbs "$(echo "$out" | sed -n 's/.*1 MiB bulk transmit \([0-9]*\) MB\/s.*/\1/p')"
		bench memcpy_1m_mbs "$(echo "$out" | sed -n 's/.*memcpy 1 MiB \([0-9]*\) MB\/s.*/\1/p')"
	else
		t_fail "ktest bench (run $run)" "$(tail -n 1 $KT/result)"
	fi
	# The yardstick: bare doorbell round trips through the same interrupt path.
	echo 1 >$SIM/pingpong
	echo 5000 >$CORE/ping
	echo 0 >$SIM/pingpong
	bench doorbell_rt_ns "$(sed -n 's/^ping: .* round trips, \([0-9]*\) ns each.*/\1/p' $CORE/state | head -n 1)"
	# User space: round trip of an empty message through /dev/vchiq (completion API).
	out=$(vchiq-test -p 500 2>&1)
	bench user_rt_ns "$(echo "$out" | sed -n 's/^ping (size 0, 0 async, 0 oneway) -> \([0-9.]*\) us.*/\1/p' | head -n 1 |
		awk '{ printf "%d", $1 * 1000 }')"
	# Bulk throughput curve through /dev/vchiq (echoed: each way).
	for kib in 4 64 1024 16384; do
		iters=$((65536 / kib))
		[ $iters -gt 200 ] && iters=200
		[ $iters -lt 4 ] && iters=4
		out=$(vchiq-test -b $kib $iters 2>&1)
		bench "user_bulk_${kib}k_mbs" "$(echo "$out" | sed -n 's/^Throughput: \([0-9.]*\) MB\/s each way.*/\1/p')"
	done
	run=$((run + 1))
done
t_ok "bench: $RUNS runs"
t_run "unload" rmmod vchiq_dev vchiq_ktest vchiq_core vchiq_sim
