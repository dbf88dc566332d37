# make bench only (ci/bench boots it on the fast kernels): performance figures, each printed
# to the results channel as "BENCH run=R key=value" for ci/bench to turn into ratios against
# the yardsticks measured in the same run. Not a pass/fail test beyond "it ran".
# vm-alsa: yes
# vm-timeout: 1800

SIM=/sys/kernel/debug/vchiq-sim
KT=/sys/kernel/debug/vchiq-ktest
CORE=/sys/kernel/debug/vchiq-core-sim
# The host's BENCH_RUNS, AUDIO_SECONDS and AUDIO_XRUN_SECONDS come as vchiq.<name>= (ci/vm).
for _arg in $(cat /proc/cmdline); do
	case $_arg in
	vchiq.bench_runs=*) BENCH_RUNS=${_arg#*=} ;;
	vchiq.audio_seconds=*) AUDIO_SECONDS=${_arg#*=} ;;
	vchiq.audio_xrun_seconds=*) AUDIO_XRUN_SECONDS=${_arg#*=} ;;
	esac
done
RUNS=${BENCH_RUNS:-5}

bench() { echo "BENCH run=$run $1=$2" >&3; say "bench run $run: $1 = $2"; }

t_run "load vchiq-sim, vchiq-core, vchiq-ktest, vchiq-dev" sh -c \
	"modprobe vchiq_sim && modprobe vchiq_core && modprobe vchiq_ktest && modprobe vchiq_dev"

run=1
while [ $run -le "$RUNS" ]; do
	# Kernel API: sync round trip, 1 MiB bulk transmit (one at a time, four in flight), memcpy
	# of 1 MiB (vchiq-ktest bench).
	if echo bench >$KT/run 2>/dev/null; then
		out=$(cat $KT/result)
		bench kernel_rt_ns "$(echo "$out" | sed -n 's/.*sync round trip \([0-9]*\) ns.*/\1/p')"
		bench bulk_tx_1m_mbs "$(echo "$out" | sed -n 's/.*1 MiB bulk transmit \([0-9]*\) MB\/s.*/\1/p')"
		bench bulk_tx_1m_q4_mbs "$(echo "$out" | sed -n 's/.*1 MiB bulk transmit, 4 in flight, \([0-9]*\) MB\/s.*/\1/p')"
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
	# The same with no completion thread between (queue, then await in one thread), and a
	# bare ioctl (the two system calls' share of the difference).
	out=$(vchiq-test --rt 500 2>&1)
	bench user_direct_rt_ns "$(echo "$out" | sed -n 's/^round trip (size 0, queue + await in one thread) -> \([0-9.]*\) us.*/\1/p' |
		awk '{ printf "%d", $1 * 1000 }')"
	bench bare_ioctl_ns "$(echo "$out" | sed -n 's/^bare ioctl (unknown request, ENOTTY) -> \([0-9.]*\) us.*/\1/p' |
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

# snd-bcm2835 in real time (auds_speed 1): ALSA's position against the bytes the simulated
# VideoCore reported played, the time from the COMPLETE that crossed a period boundary to
# snd_pcm_period_elapsed() returning (/proc/asound/Headphones/pcm0p-reports), the ARM's CPU
# time per second of 48 kHz stereo (all CPU time during the stream, less the VideoCore's own
# activations and the idle machine's rate), and xruns in a long stream with vchiq-test --stress
# beside it (goal: 0). AUDIO_SECONDS (default 10) per run, AUDIO_XRUN_SECONDS (default 60)
# once.
AUDIO_SECONDS=${AUDIO_SECONDS:-10}
AUDIO_XRUN_SECONDS=${AUDIO_XRUN_SECONDS:-60}
REPORTS=/proc/asound/Headphones/pcm0p-reports
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
sim_busy_us() { sed -n 's/^activations: [0-9]* total \([0-9]*\) us.*/\1/p' $SIM/state; }
field_of() { sed -n "s/.*$1 \([0-9]*\).*/\1/p" $REPORTS; }
t_run "load snd_bcm2835" modprobe snd_bcm2835
echo 1 >$SIM/auds_speed
PCM=$(ls /dev/snd/pcmC*D0p | while read -r f; do
	c=${f#/dev/snd/pcmC}
	grep -q "^ *${c%%D*} \[Headphones" /proc/asound/cards && echo "$f"
done)
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
run=1
while [ $run -le "$RUNS" ]; do
	# The idle machine's rate first (the guest's own housekeeping), over the same time.
	b0=$(busy_ticks)
	sleep "$AUDIO_SECONDS"
	idle_us=$((($(busy_ticks) - b0) * 1000000 / hz))
	r0=$(field_of reports) l0=$(field_of total_us) s0=$(sim_busy_us) b0=$(busy_ticks)
	if out=$(pcm-check position "$PCM" 16 2 48000 "$AUDIO_SECONDS" $SIM/auds 2>&1); then
		b1=$(busy_ticks) s1=$(sim_busy_us)
		say "$out"
		bench audio_pos_err_mean_us "$(echo "$out" | sed -n 's/.*mean error \([0-9]*\) us.*/\1/p')"
		bench audio_pos_err_max_us "$(echo "$out" | sed -n 's/.*max error \([0-9]*\) us.*/\1/p')"
		n=$(($(field_of reports) - r0))
		[ $n -gt 0 ] && bench audio_report_mean_us $((($(field_of total_us) - l0) / n))
		bench audio_report_max_us "$(field_of max_us)"
		arm_us=$(((b1 - b0) * 1000000 / hz - (s1 - s0) - idle_us))
		[ $arm_us -lt 0 ] && arm_us=0
		bench audio_cpu_us_per_s $((arm_us / AUDIO_SECONDS))
	else
		t_fail "audio position (run $run)" "$out"
	fi
	run=$((run + 1))
done
# One long stream with the transport under stress beside it (not per run: it is long).
aplay -D hw:CARD=Headphones,DEV=0 -t raw -f S16_LE -c 2 -r 48000 -d "$AUDIO_XRUN_SECONDS" \
	/dev/zero >/tmp/xrun.log 2>&1 &
apid=$!
while kill -0 $apid 2>/dev/null; do vchiq-test --stress 2 --rounds 5 >/dev/null 2>&1; done
if wait $apid; then
	run=1
	bench audio_xruns "$(grep -c -i underrun /tmp/xrun.log)"
else
	t_fail "audio: a $AUDIO_XRUN_SECONDS s stream beside vchiq-test --stress" "$(tail -n 3 /tmp/xrun.log)"
fi
t_ok "audio bench: $RUNS runs"
t_run "unload" rmmod snd_bcm2835 vchiq_dev vchiq_ktest vchiq_core vchiq_sim

# vc-sm-cma: the CPU's read and write bandwidth of a cached and of an uncached 1 MiB buffer
# (every pass inside DMA_BUF_IOCTL_SYNC, as libvcsm does), against ordinary memory read and
# written by the same loop in the same run, and one ALLOC + IMPORT_DMABUF + close (tools/vcsm
# bench.rs).
t_run "load vchiq-sim, vchiq-core, vc-sm-cma" sh -c \
	"modprobe vchiq_sim && modprobe vchiq_core && modprobe vc_sm_cma"
# mbs_of KIND WHAT: the MB/s of KIND's WHAT (read, write) in vcsm bench's output $out.
mbs_of() { echo "$out" | sed -n "s/^bench: $1 .*$2 \([0-9]*\) MB\/s.*/\1/p"; }
run=1
while [ $run -le "$RUNS" ]; do
	if out=$(vcsm bench 2>&1); then
		for kind in ordinary cached uncached; do
			bench "vcsm_${kind}_read_mbs" "$(mbs_of $kind read)"
			bench "vcsm_${kind}_write_mbs" "$(mbs_of $kind write)"
		done
		# The same passes without the time in the syncs, and a sync pair's cost.
		for kind in cached uncached; do
			bench "vcsm_${kind}_pass_read_mbs" "$(mbs_of $kind-passes read)"
			bench "vcsm_${kind}_pass_write_mbs" "$(mbs_of $kind-passes write)"
			bench "vcsm_${kind}_sync_us" "$(echo "$out" | sed -n "s/^bench: $kind-passes .*sync-pair \([0-9]*\) us.*/\1/p")"
		done
		bench vcsm_alloc_import_us "$(echo "$out" | sed -n 's/^bench: alloc+import+free \([0-9]*\) us.*/\1/p')"
	else
		t_fail "vcsm bench (run $run)" "$(echo "$out" | tail -n 1)"
	fi
	run=$((run + 1))
done
t_ok "vc-sm-cma bench: $RUNS runs"
t_run "unload vc-sm-cma" rmmod vc_sm_cma vchiq_core vchiq_sim
