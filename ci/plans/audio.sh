# audio: snd-bcm2835 on vchiq-core alone (no vchiq-dev, no /dev/vchiq) against the simulated
# AUDS service, with Debian's aplay and amixer (Documentation/audio.rst). Generated WAVs are
# played and the simulator's capture compared with them bit for bit (aplay pads its last
# period with silence) over formats, channel counts, rates and both transports (DATA messages
# and bulk); the mixer's values reach the simulator as §6.2 says; eight substreams at once
# (in the soak tier 20 rounds more);
# underrun and recovery; every AUDS fault knob ends in its predicted error, never a hang;
# 32-bit aplay on arm64; unload/reload idle and while playing; the leak check follows.
# vm-alsa: yes
# vm-timeout: 1200
# vm-soak-timeout: 1800

DBG=/sys/kernel/debug/vchiq-sim
CORE=/sys/bus/platform/drivers/vchiq-sim
ODD=/sys/kernel/debug/snd-bcm2835-headphones
CARD=Headphones
DEV=hw:CARD=$CARD,DEV=0
W=/tmp/audio
mkdir -p $W

# wav FILE BITS CHANNELS RATE FRAMES: a WAV of pseudo-random samples (a new seed each time).
SEED=1
wav() {
	SEED=$((SEED + 1))
	pcm-check wav "$1" "$2" "$3" "$4" "$5" $SEED
}

# newest: the index of the most recently opened AUDS connection.
newest() { awk '{ split($2, s, "="); if (s[2] + 0 > best) { best = s[2] + 0; i = $1 } } END { print i }' $DBG/auds; }

# fields N NAME...: fields of connection N's line in $DBG/auds, space-separated; field N NAME:
# one. One process per call: each fork and exec costs a tenth of a second or more in a guest
# under TCG with KASAN (the first version's three per field took 1.7 s of every play).
fields() {
	local line v k out=
	line=" $(sed -n "$(($1 + 1))p" $DBG/auds) "
	shift
	for k in "$@"; do
		v=${line#* $k=}
		[ "$v" = "$line" ] && v=
		out="$out${out:+ }${v%% *}"
	done
	echo "$out"
}
field() { fields "$1" "$2"; }

# same WAV N: connection N's capture is the WAV's data, then at most a period of silence.
same() { pcm-check same "$1" $DBG/auds_capture"$2"; }

# pcm_node: the /dev/snd node of the headphones card's PCM (its card number changes as the
# HDMI card comes and goes).
pcm_node() {
	ls /dev/snd/pcmC*D0p | while read -r f; do
		c=${f#/dev/snd/pcmC}
		grep -q "^ *${c%%D*} \[$CARD" /proc/asound/cards && echo "$f"
	done
}

# play NAME BITS CHANNELS RATE FRAMES [APLAY]: aplay (or APLAY, aplay32) a fresh WAV, compare
# the capture. A stream of more than 256 KiB/s on the headphones PCM is played by pcm-check
# wavplay (pcm-check32 with aplay32) instead: the same hardware and software parameters as
# aplay's, but a drain without ALSA's drain timeout, which the small buffers of these streams
# (43-170 ms) make as short as 100 ms without a period: a guest the host starved for that long
# ended aplay's drain early and the capture was short (tools/pcm-check, wavplay()).
play() {
	local name=$1 bits=$2 ch=$3 rate=$4 frames=$5 aplay=${6:-aplay} n got cmd
	wav $W/t.wav "$bits" "$ch" "$rate" "$frames"
	cmd="$aplay -q -D $DEV"
	if [ $((rate * ch * bits / 8)) -gt 262144 ] && [ "$DEV" = "hw:CARD=$CARD,DEV=0" ]; then
		cmd="pcm-check${aplay#aplay} wavplay $(pcm_node)"
	fi
	if ! $cmd $W/t.wav >/dev/console 2>&1; then
		t_fail "$name" "${cmd%% *} failed"
		return
	fi
	n=$(newest)
	got=$(fields "$n" channels rate bps)
	if [ "$got" != "$ch $rate $bits" ]; then
		t_fail "$name" "the simulator was configured with $got"
		return
	fi
	if same $W/t.wav "$n" >/dev/console 2>&1; then t_ok "$name"; else t_fail "$name" "capture differs"; fi
}

# log_mark writes a line of its own to the kernel log; log_since prints the log from the newest
# mark on, so that a test reads what its own command logged: neither a line from a test before
# it nor one pushed out of a "tail" by whatever else the kernel logged meanwhile. A log that
# wrapped past the mark prints nothing (the test fails, it does not pass on old lines).
MARKS=0
log_mark() {
	MARKS=$((MARKS + 1))
	echo "audio-plan: mark $MARKS" >/dev/kmsg
}
log_since() { dmesg | sed -n "/audio-plan: mark $MARKS\$/,\$p"; }

# expect_fail NAME WANT CMD...: CMD fails and its output (or the log since) says WANT.
expect_fail() {
	local name=$1 want=$2 out
	shift 2
	log_mark
	if out=$("$@" 2>&1); then
		echo "$out" >/dev/console
		t_fail "$name" "succeeded"
		return
	fi
	echo "$out" >/dev/console
	case "$out $(log_since)" in
	*"$want"*) t_ok "$name" ;;
	*) t_fail "$name" "no '$want'" ;;
	esac
}

knob() { echo "$2" >$DBG/$1; }

t_run "load vchiq_sim, vchiq_core" sh -c "modprobe vchiq_sim && modprobe vchiq_core"
t_run "load snd_bcm2835" modprobe snd_bcm2835
if grep -q '^vchiq_dev ' /proc/modules || [ -e /dev/vchiq ]; then
	t_fail "no vchiq_dev, no /dev/vchiq" "present"
else
	t_ok "no vchiq_dev, no /dev/vchiq"
fi
t_run "card bcm2835 Headphones" grep -q "\[$CARD *\]: bcm2835_headpho - bcm2835 Headphones" /proc/asound/cards
t_run "aplay -l lists it" sh -c "aplay -l | grep -q 'bcm2835 Headphones'"
t_run "8 substreams" sh -c "aplay -l | grep -q 'Subdevices: 8/8'"
if grep -q HDMI /proc/asound/cards; then t_fail "no HDMI card by default" "present"; else t_ok "no HDMI card by default"; fi
knob auds_speed 1
# A guest the host did not run for a while (other VMs, builds) would find the simulated
# VideoCore played everything due meanwhile, underrunning the 85 ms buffers of the 192 kHz
# cases: it plays on from 20 ms back instead (counted in auds_stalls, printed at the end).
knob auds_max_lag_ms 20

# The matrix: formats x channels x rates, DATA messages (version 2) and bulk (version 1).
# The check tier plays every format, channel count and rate at least once per transport
# (each format and channel count at 48 kHz, each rate in S16 stereo); soak the product.
frames_for() { echo $(($1 / 5)); } # 0.2 s
wanted() {
	[ "$TIER" = soak ] && return 0
	[ "$3" = 48000 ] && [ "$1" = 16 ] && return 0
	[ "$3" = 48000 ] && [ "$4" = data ] && return 0
	[ "$1" = 16 ] && [ "$2" = 2 ] && return 0
	[ "$1" = 8 ] && [ "$2" = 8 ] && [ "$3" = 192000 ] && return 0
	return 1
}
for transport in data bulk; do
	if [ $transport = bulk ]; then knob auds_version 1; else knob auds_version 2; fi
	for bits in 8 16; do
		for ch in 1 2 8; do
			for rate in 8000 44100 48000 192000; do
				wanted $bits $ch $rate $transport || continue
				fmt=S16_LE
				[ $bits = 8 ] && fmt=U8
				play "aplay $transport $fmt ${ch}ch $rate Hz bit-exact" "$bits" "$ch" "$rate" "$(frames_for $rate)"
			done
		done
	done
	n=$(newest)
	b=$(field "$n" bulk_bytes)
	case $transport:$b in data:0 | bulk:[1-9]*) t_ok "$transport: bulk bytes $b" ;; *) t_fail "$transport: bulk bytes $b" "wrong transport" ;; esac
done
knob auds_version 2

# force_bulk=1 on a version 2 service.
t_run "reload with force_bulk=1" sh -c "rmmod snd_bcm2835 && modprobe snd_bcm2835 force_bulk=1"
play "aplay force_bulk S16 2ch 48000 Hz bit-exact" 16 2 48000 9600
n=$(newest)
if [ "$(field "$n" bulk_bytes)" -gt 0 ]; then t_ok "force_bulk: bulk transfers"; else t_fail "force_bulk: bulk transfers" "none"; fi

# enable_hdmi=1: the HDMI card with its IEC958 PCM, route 2; the substreams shared out.
t_run "reload with enable_hdmi=1" sh -c "rmmod snd_bcm2835 && modprobe snd_bcm2835 enable_hdmi=1"
t_run "card bcm2835 HDMI" grep -q "\[HDMI *\]: bcm2835_hdmi - bcm2835 HDMI" /proc/asound/cards
t_run "HDMI: 4 substreams, headphones: 4" sh -c "aplay -l | grep -A2 'HDMI.*device 0' | grep -q 'Subdevices: 4/4' && aplay -l | grep -A2 'Headphones.*device 0' | grep -q 'Subdevices: 4/4'"
t_run "HDMI: the IEC958 PCM" sh -c "aplay -l | grep -q 'HDMI.*device 1: IEC958'"
t_run "HDMI: IEC958 controls" sh -c "amixer -c HDMI controls | grep -q 'IEC958 Playback Default' && amixer -c HDMI controls | grep -q 'IEC958 Playback Con Mask'"
DEV=hw:CARD=HDMI,DEV=0
play "HDMI: S16 2ch 48000 Hz bit-exact" 16 2 48000 9600
n=$(newest)
if [ "$(field "$n" dest)" = 2 ]; then t_ok "HDMI: route 2"; else t_fail "HDMI: route 2" "dest $(field "$n" dest)"; fi
DEV=hw:CARD=HDMI,DEV=1
play "HDMI IEC958: S16 2ch 44100 Hz bit-exact" 16 2 44100 8820
DEV=hw:CARD=$CARD,DEV=0
t_run "reload" sh -c "rmmod snd_bcm2835 && modprobe snd_bcm2835"

# Raw PCM ioctls (tools/pcm-check): the driver's limits and constraints; the delay stays
# within [0, buffer] after every write and the drain plays every frame.
PCM=$(pcm_node)
expect_out() {
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	echo "$out" >/dev/console
	case $out in *"$want"*) t_ok "$name" ;; *) t_fail "$name" "no '$want'" ;; esac
}
expect_out "limits: U8 and S16_LE only" "formats 0x6" pcm-check limits "$PCM"
expect_out "limits: 1-8 channels" "channels 1-8" pcm-check limits "$PCM"
expect_out "limits: 8-192 kHz" "rate 8000-192000" pcm-check limits "$PCM"
expect_out "limits: periods of at least 10 ms" "period_time 10000-" pcm-check limits "$PCM"
expect_out "limits: buffers up to 128 KiB" "-131072" pcm-check limits "$PCM"
expect_out "limits: periods are multiples of 16 bytes" "period_bytes 1000 refused" pcm-check limits "$PCM"
expect_out "raw ioctls: delay within the buffer, every frame played" "played 24000 frames" pcm-check play "$PCM" 16 2 48000 24000
# One period per buffer cannot be kept fed (the application may write only once the whole
# buffer played): refused. Until 2026-12-07 it was taken, and 1 s in one 200 ms period failed
# with EIO. Two periods of 1 s (8 kHz mono): ALSA's write timeout (1.1 buffer times) leaves
# 1.2 s for a guest the host does not run.
expect_out "limits: at least two periods" "periods 2-128" pcm-check limits "$PCM"
expect_out "raw ioctls: one period per buffer refused" "HW_PARAMS" pcm-check play "$PCM" 16 2 48000 24000 1 200000
expect_out "raw ioctls, two periods of 1 s: every frame played" "played 24000 frames" pcm-check play "$PCM" 16 1 8000 24000 2 1000000
knob auds_version 1
expect_out "raw ioctls over bulk: every frame played" "played 9000 frames" pcm-check play "$PCM" 8 1 44100 9000
knob auds_version 2

# Found by reading: a WRITE whose PCM did not all go (the queue timed out on a stalled
# VideoCore) left the VideoCore expecting the rest, so it took the next message, prepare's
# CONTROL, as PCM and the stream never answered again; and prepare sent no STOP, so what an
# earlier configuration left unplayed played before the new data. Here the VideoCore is
# stopped while a whole buffer is written (33 DATA messages: the write fails after the 5 s
# queue timeout), then resumed; the same stream, prepared again, plays a WAV exactly.
# Found by review: a torn write left the stream startable, and took its whole length off the
# bytes in flight though what went (and the silence owed) still plays: a stream started without
# a new prepare (a quarter buffer written, then the torn half, then START) played all of it
# (the capture began with it, and the COMPLETEs could outrun the count: bad_counts). Now the
# tear ends the stream with XRUN: START is refused until the next prepare.
# until_out FILE WORD: FILE contains WORD within 30 s.
until_out() { wait_until 30 grep -q "$2" "$1"; }
# torn [start]
torn() {
	local pid rc=0 bad
	bad=$(cat $ODD/bad_counts)
	wav $W/torn.wav 16 2 48000 9600
	rm -f $W/torn.in
	mkfifo $W/torn.in
	pcm-check torn "$PCM" $W/torn.wav "$@" <$W/torn.in >$W/torn.out 2>&1 &
	pid=$!
	exec 5>$W/torn.in
	if until_out $W/torn.out prepared; then
		knob stop 1
		echo go >&5
		until_out $W/torn.out "write failed" || { say "the write did not fail"; rc=1; }
		knob stop 0
		echo go >&5
	else
		say "pcm-check torn did not get prepared"
		rc=1
	fi
	exec 5>&-
	wait $pid || rc=1
	knob stop 0
	cat $W/torn.out >/dev/console
	[ "$(cat $ODD/bad_counts)" = "$bad" ] || { say "COMPLETEs beyond what was written: $bad -> $(cat $ODD/bad_counts)"; rc=1; }
	[ $rc = 0 ] && same $W/torn.wav "$(newest)" >/dev/console 2>&1
}
t_run "a write torn by a stalled VideoCore; prepared again, the stream plays exactly" torn
t_run "a torn write ends the stream: START refused, no COMPLETE beyond the count; prepared again, exact" torn start

# The mixer: amixer's values reach the simulator (§6.2).
play_quiet() { wav $W/q.wav 16 2 48000 2400 && aplay -q -D $DEV $W/q.wav; }
mixer() {
	local name=$1 want_vol=$2 n got
	shift 2
	if ! ${AMIXER:-amixer} -q -c $CARD -- "$@" >/dev/console 2>&1; then
		t_fail "$name" "amixer failed"
		return
	fi
	play_quiet >/dev/console 2>&1
	n=$(newest)
	got=$(fields "$n" volume dest)
	if [ "$got" = "$want_vol 1" ]; then
		t_ok "$name"
	else
		t_fail "$name" "volume and dest $got, want $want_vol 1"
	fi
}
mixer "amixer volume -20.00 dB: volume 5120, dest 1" 5120 cset name='PCM Playback Volume' -2000
mixer "amixer volume 0 dB: volume 0" 0 cset name='PCM Playback Volume' 0
mixer "amixer volume +4.00 dB: volume -1024" 4294966272 cset name='PCM Playback Volume' 400
mixer "amixer mute: volume 26214" 26214 cset name='PCM Playback Switch' off
mixer "amixer unmute: the volume again" 4294966272 cset name='PCM Playback Switch' on
t_run "amixer volume back to 0" amixer -q -c $CARD cset name='PCM Playback Volume' 0
t_run "the volume's TLV is a dB scale" sh -c "amixer -c $CARD cget name='PCM Playback Volume' | grep -q 'dBscale-min=-102.39dB,step=0.01dB,mute=1'"
# last_seq: the open number of the newest connection (0: none yet).
last_seq() {
	local c
	c=$(newest)
	if [ -n "$c" ]; then field "$c" seq; else echo 0; fi
}
# wait_new_playing SEQ: until a connection opened after open number SEQ plays (at most 20 s).
wait_new_playing() {
	local i=0
	while ! awk -v old="$1" '{ split($2, s, "="); split($4, p, "=");
		if (s[2] + 0 > old + 0 && p[2] == 1) f = 1 } END { exit !f }' $DBG/auds; do
		i=$((i + 1))
		[ $i -le 200 ] || return 1
		sleep 0.1
	done
}
# A change while a stream plays reaches the simulator at once; the stream stays bit-exact.
# 15 s of 8 kHz mono (little to move), so that the stream still plays when amixer runs however
# slow the guest: a 3 s stream, then a 6 s one of 48 kHz stereo, had ended before the change on
# a guest the host starved (amixer took more than 6 s beside two busy host threads; the test
# says so).
wav $W/v.wav 16 1 8000 120000
volume_while_playing() {
	local pid old n v rc=0
	old=$(last_seq)
	aplay -q -D $DEV $W/v.wav &
	pid=$!
	wait_new_playing "$old" || { echo "the stream did not start"; rc=1; }
	amixer -q -c $CARD -- cset name='PCM Playback Volume' -1000 || rc=1
	n=$(newest)
	v=$(field "$n" volume)
	[ "$(field "$n" open)" = 1 ] || { echo "the stream had ended before amixer's change"; rc=1; }
	wait $pid || { echo "aplay failed"; rc=1; }
	if [ "$v" != 2560 ]; then
		echo "volume $v while playing, want 2560 (connection $n, opened after $old):"
		cat $DBG/auds
		amixer -c $CARD cget name='PCM Playback Volume'
		dmesg | tail -n 5
		rc=1
	fi
	same $W/v.wav "$n" || rc=1
	return $rc
}
t_run "amixer -10.00 dB while playing: volume 2560 at once, still bit-exact" volume_while_playing
amixer -q -c $CARD cset name='PCM Playback Volume' 0

# Found by a make check that failed once ("aplay U8 8ch 192000 Hz: aplay failed", its guest
# starved by the VM runs beside it). ALSA fails a write waiting for room with EIO when no
# period elapses for 1.1 buffer times, at least 100 ms; the periods come as VideoCore messages
# through vchiq-core's callback thread, not as interrupts, and a busy ARM may hold them back
# longer than that (the largest buffer at 192 kHz 8ch U8 is 85 ms). The driver lets a write
# wait at least 2 s (Documentation/audio.rst). Here the ARM hears nothing for 0.5 s (the
# simulator rings no doorbell) while aplay waits for room in a 50 ms buffer; the VideoCore
# plays on, runs dry and the stream underruns, which aplay recovers from: bit-exact.
# NB=the bytes= of the most recently opened connection, read with shell builtins only (no
# fork: read while the doorbell is held, when a fork may cost a tenth of a second).
newest_bytes() {
	local line s best=0
	NB=
	while read -r line; do
		s=${line#* seq=}
		s=${s%% *}
		case $s in '' | *[!0-9]*) continue ;; esac
		[ "$s" -gt "$best" ] || continue
		best=$s
		NB=${line#* bytes=}
		NB=${NB%% *}
	done <$DBG/auds
}
# 6 s of S16 stereo 48 kHz, so that more than a buffer is still to be written when the hold
# begins however slow the guest (a 2 s stream had all been written on a starved one); nothing
# but the 0.5 s sleep runs inside the hold.
wav $W/p.wav 16 2 48000 288000
quiet_arm() {
	local pid old n rc=0
	old=$(last_seq)
	aplay -D $DEV --buffer-time=50000 --period-time=10000 $W/p.wav >/dev/console 2>&1 &
	pid=$!
	wait_new_playing "$old" || { echo "the stream did not start"; rc=1; }
	n=$(newest)
	knob hold 100000
	newest_bytes
	sleep 0.5
	knob hold 0
	if [ "${NB:-0}" -gt $((1152000 - 9600)) ]; then
		echo "the stream had (almost) all been written when the doorbell went quiet (bytes=$NB)"
		rc=1
	fi
	wait $pid || { echo "aplay failed"; rc=1; }
	same $W/p.wav "$n" || rc=1
	return $rc
}
t_run "no period reported for 0.5 s, 50 ms buffer: aplay waits (no EIO), recovers, bit-exact" quiet_arm

# Found by a soak round that stood still until EIO (a 40 ms buffer at 192 kHz 8ch U8, its
# hardware position a whole buffer behind the application's). The driver's position is an
# offset in the buffer: when the COMPLETEs of a whole buffer reach the ARM at once soon after
# ALSA last read it, it reads as nothing played. Here the doorbell is held while a full 20 ms
# buffer plays, then released while the position is read every 2 ms; ten rounds, each must
# end in an underrun (every frame played) within 2 s (Documentation/audio.rst).
expect_out "a whole buffer played between two position reads is seen played (10 rounds)" \
	"wrap: 10 rounds" pcm-check wrap "$PCM" $DBG/hold 10
knob hold 0

# Every substream at once, each bit-exact. Sized for this emulated machine (debug kernels
# under QEMU, sharing the host with another VM), however slow: every stream costs a COMPLETE
# per 10 ms both ways whatever its rate, and ALSA ends a write or a drain when no period
# elapses for 1.1 x the buffer time, so the streams are 2 s of 8 kHz S16 mono in the largest
# buffer (8 s, 128000 bytes) with 0.5 s periods: a stream may run 17 times slower than real
# time before a wait times out (Documentation/audio.rst, "Eight concurrent streams").
several() {
	local n=$1 i pids= ok=0 c r=0
	i=0
	while [ $i -lt "$n" ]; do
		wav $W/e$i.wav 16 1 8000 16000
		i=$((i + 1))
	done
	i=0
	while [ $i -lt "$n" ]; do
		aplay --buffer-time=8000000 --period-time=500000 -D $DEV $W/e$i.wav >/dev/console 2>&1 &
		pids="$pids $!"
		i=$((i + 1))
	done
	for i in $pids; do wait "$i" || r=1; done
	[ $r = 0 ] || return 1
	for c in 0 1 2 3 4 5 6 7; do
		i=0
		while [ $i -lt "$n" ]; do
			if same $W/e$i.wav $c >/dev/null 2>&1; then ok=$((ok + 1)); break; fi
			i=$((i + 1))
		done
	done
	echo "$ok captures match a WAV"
	# A stream closed with bytes not played: its drain timed out or ended early (aplay
	# ignores the drain's error, and the capture is then short).
	if grep -q ' discarded=[1-9]' $DBG/auds; then
		echo "a drain ended with bytes not played"
		ok=0
	fi
	[ $ok -ge "$n" ] && return 0
	cat $DBG/auds
	return 1
}
t_run "8 substreams at once, each bit-exact" several 8
# The soak tier repeats it (the check tier's single round failed on a slow machine).
rounds=$(sized 0 20)
k=1
while [ $k -le "$rounds" ]; do
	t_run "8 substreams at once, round $k of $rounds" several 8
	k=$((k + 1))
done

# Underruns: the firmware's signal, then counts the stream cannot explain; aplay recovers.
wav $W/u.wav 16 2 48000 72000
knob auds_underrun 1
out=$(aplay -D $DEV $W/u.wav 2>&1)
r=$?
echo "$out" >/dev/console
case "$r $out" in "0 "*underrun*) t_ok "underrun signal: aplay reports it and recovers" ;; *) t_fail "underrun signal: aplay reports it and recovers" "exit $r" ;; esac
knob auds_overcount 1
out=$(aplay -D $DEV $W/u.wav 2>&1)
r=$?
echo "$out" >/dev/console
case "$r $out" in "0 "*underrun*) t_ok "COMPLETE beyond the data: XRUN, recovered" ;; *) t_fail "COMPLETE beyond the data: XRUN, recovered" "exit $r" ;; esac
play "after the underruns: bit-exact again" 16 2 48000 9600
t_run "underrun signal and unexplained count counted" sh -c "[ \$(cat $ODD/underruns) -ge 1 ] && [ \$((\$(cat $ODD/underruns) + \$(cat $ODD/bad_counts))) -ge 2 ]"

# The fault knobs (firmware-services.md §7): each ends in its error, never a hang.
knob refuse_open 1
expect_fail "refused open: aplay fails" "failed to open the AUDS service" aplay -q -D $DEV $W/q.wav
knob refuse_open 0
knob auds_fault 1
expect_fail "CONFIG error: prepare fails (EIO)" "vchi message response error:1, msg=2" aplay -q -D $DEV $W/q.wav
knob auds_fault 2
expect_fail "CONTROL error: prepare fails (EIO)" "vchi message response error:1, msg=3" aplay -q -D $DEV $W/q.wav
# A mixer change goes to every open stream even when one refuses it (until 2026-12-07 the
# first refusal ended the round: the other streams kept the old volume). Two 30 s streams,
# stopped once the change was made.
# controls_since SEQ: the CONTROLs the connections opened after open number SEQ received.
controls_since() {
	awk -v old="$1" '{ split($2, s, "="); if (s[2] + 0 > old + 0) for (i = 1; i <= NF; i++)
		if ($i ~ /^controls=/) { split($i, c, "="); t += c[2] } } END { print t + 0 }' $DBG/auds
}
control_to_all() {
	local first old a b before after rc=0
	knob auds_fault 0
	wav $W/m.wav 8 1 8000 240000
	first=$(last_seq)
	old=$first
	aplay -q -D $DEV $W/m.wav &
	a=$!
	wait_new_playing "$old" || { echo "the first stream did not start"; rc=1; }
	old=$(last_seq)
	aplay -q -D $DEV $W/m.wav &
	b=$!
	wait_new_playing "$old" || { echo "the second stream did not start"; rc=1; }
	before=$(controls_since "$first")
	knob auds_fault 2
	amixer -q -c $CARD -- cset name='PCM Playback Volume' -500 >/dev/console 2>&1 &&
		{ echo "amixer succeeded although the streams refused"; rc=1; }
	after=$(controls_since "$first")
	[ $((after - before)) = 2 ] || { echo "CONTROLs of the two streams: $before, then $after"; cat $DBG/auds; rc=1; }
	knob auds_fault 0
	kill $a $b
	wait $a
	wait $b
	amixer -q -c $CARD cset name='PCM Playback Volume' 0
	return $rc
}
t_run "CONTROL error on a mixer change: every stream still gets it, amixer fails" control_to_all
knob auds_fault 3
close_error() {
	log_mark
	aplay -q -D $DEV $W/q.wav && log_since | grep -q 'response error:1, msg=5'
}
t_run "CLOSE error: playback still ends, the error logged" close_error
knob auds_fault 7
play "stray RESULT after OPEN: still bit-exact" 16 2 48000 9600
t_run "stray RESULT counted" sh -c "[ \$(cat $ODD/stray_results) -ge 1 ]"
# no_hang NAME WANT CMD...: CMD ends by itself (ALSA's own timeouts) and the log says WANT
# (nothing asked of the log when WANT is empty).
no_hang() {
	local name=$1 want=$2 r
	shift 2
	log_mark
	timeout 40 "$@" >/dev/console 2>&1
	r=$?
	if [ $r = 124 ] || [ $r = 143 ]; then
		t_fail "$name" "still running after 40 s"
		return
	fi
	if [ -z "$want" ] || log_since | grep -q "$want"; then
		t_ok "$name"
	else
		t_fail "$name" "no '$want' in the log"
	fi
}
knob auds_fault 4
expect_out "no COMPLETE: no progress, drop and close at once" "no progress in 0.5 s" pcm-check stall "$PCM"
knob auds_fault 5
expect_out "bad cookies: no progress, drop and close at once" "no progress in 0.5 s" pcm-check stall "$PCM"
t_run "bad cookies counted" sh -c "[ \$(cat $ODD/bad_cookies) -ge 1 ]"
no_hang "bad cookies: ignored, the stream ends by ALSA's timeout" "invalid cookie" aplay -q -D $DEV $W/q.wav
if [ "$TIER" = soak ]; then
	knob auds_fault 4
	# Without a COMPLETE the short stream ends by ALSA's drain timeout, which ALSA logs at
	# debug level only: nothing of its own in the log. Until 2026-12-08 this test looked for
	# "snd_bcm2835" in the last 30 lines, and found the previous test's "invalid cookie".
	no_hang "no COMPLETE: the stream ends by ALSA's timeout" "" aplay -q -D $DEV $W/q.wav
	knob auds_fault 6
	expect_fail "RESULT after 11 s: ETIMEDOUT" "vchi message timeout" timeout 60 aplay -q -D $DEV $W/q.wav
fi
knob auds_fault 0
play "all faults off: bit-exact" 16 2 44100 8820

# Long streams in real time (soak): 40 s each of 48 kHz S16 stereo (7.68 MB, within the
# simulator's 8 MiB capture), bit-exact.
if [ "$TIER" = soak ]; then
	for i in 1 2 3; do
		play "long stream $i: 40 s of S16 2ch 48000 Hz in real time, bit-exact" 16 2 48000 1920000
	done
fi

# 32-bit aplay and amixer on the 64-bit kernel (compat ioctls).
if [ "$(uname -m)" = aarch64 ]; then
	if [ -x /usr/bin/aplay32 ]; then
		play "aplay32 S16 2ch 48000 Hz bit-exact (compat)" 16 2 48000 9600 aplay32
		play "aplay32 U8 8ch 192000 Hz bit-exact (compat)" 8 8 192000 38400 aplay32
		AMIXER=amixer32 mixer "amixer32 volume -10.00 dB (compat)" 2560 cset name='PCM Playback Volume' -1000
		t_run "amixer32 reads it back" sh -c "amixer32 -c $CARD cget name='PCM Playback Volume' | grep -q ': values=-1000'"
	else
		t_fail "aplay32 (compat)" "no armhf aplay in the initramfs"
	fi
fi

# Unload/reload while idle, then while playing (the stream ends with an error).
cycles() {
	local i=0
	while [ $i -lt "$1" ]; do
		rmmod snd_bcm2835 && modprobe snd_bcm2835 || return 1
		i=$((i + 1))
	done
}
t_run "unload/reload idle" cycles "$(sized 5 100)"
# 6 s: aplay is still writing (its buffer holds 0.7 s) when the core goes, however slow the
# guest (a 2 s stream had been written out on a starved guest: aplay exited 0).
wav $W/long.wav 16 2 48000 288000
unbind_playing() {
	local pid rc=0 old
	old=$(last_seq)
	aplay -q -D $DEV $W/long.wav &
	pid=$!
	wait_new_playing "$old" || rc=1
	echo vchiq-sim >$CORE/unbind || rc=1
	if wait $pid; then
		echo "aplay did not fail"
		rc=1
	fi
	if grep -q Headphones /proc/asound/cards; then
		echo "the card outlived the unbinding"
		rc=1
	fi
	# Bound again whatever happened, so that the tests after this one have their card.
	echo vchiq-sim >$CORE/bind 2>/dev/null
	return $rc
}
t_run "unbinding the core while playing ends the stream with an error" unbind_playing
t_run "the card is back with the core" wait_until 20 grep -q Headphones /proc/asound/cards
play "playing after the core came back: bit-exact" 16 2 48000 9600
reload_playing() {
	local old pid rc=0
	old=$(last_seq)
	aplay -q -D $DEV $W/long.wav &
	pid=$!
	wait_new_playing "$old" || { echo "the stream did not start"; rc=1; }
	# The module is busy while the stream is open; once aplay is killed (its stream dropped
	# mid-write), it unloads and loads again.
	if rmmod snd_bcm2835 2>/dev/null; then
		echo "unloaded with a stream open"
		rc=1
	fi
	kill $pid
	wait $pid 2>/dev/null
	rmmod snd_bcm2835 || rc=1
	modprobe snd_bcm2835 || rc=1
	return $rc
}
t_run "unload while playing: busy; after the player was killed, fine" reload_playing
echo "audio: the guest stalled $(cat $DBG/auds_stalls) times (auds_max_lag_ms)" >/dev/console
t_run "sim: no AUDS protocol errors" sh -c "[ \$(cat $DBG/auds_errors) = 0 ]"
t_run "unload snd_bcm2835, vchiq_core, vchiq_sim" rmmod snd_bcm2835 vchiq_core vchiq_sim
