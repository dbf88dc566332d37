# vc-mem: /dev/vc-mem and the simulated firmware's memory (Documentation/vc-mem.rst). The boot
# keeps the top 32 MiB of RAM from Linux and describes it on the command line and in
# /chosen/log, as a Pi's firmware does. vc-mem alone (no vchiq-core), then with the simulator's
# firmware image: every ioctl, mmap and FBIODMACOPY of the same bytes, bounds, the access
# policy, the symbol table, a knob-changed variable, the message log across a ring wrap with
# the services and GCMD commands just sent, an assert record; tools/vcmem 64-bit and, on arm64, 32-bit
# (compat). GCMD, the service behind vcgencmd: every command's exact text, eight concurrent
# clients, every fault knob ending in a clear error or a client timeout. Unusable inputs give
# a device that fails cleanly; load/unload cycles leak nothing.
# vm-vc-mem: yes
# vm-timeout: 600
# vm-soak-timeout: 3600

DEV=/dev/vc-mem
DBG=/sys/kernel/debug/vchiq-sim

# both NAME ARGS...: runs vcmem, and on arm64 the 32-bit one too.
both() {
	local name=$1
	shift
	t_run "vcmem $name" vcmem "$@"
	if [ "$(uname -m)" = aarch64 ]; then
		if [ -x /bin/vcmem32 ]; then
			t_run "vcmem32 $name (compat)" vcmem32 "$@"
		else
			t_fail "vcmem32 $name (compat)" "no armhf vcmem in the initramfs"
		fi
	fi
}

# expect NAME WANT CMD...: CMD's output must contain WANT.
expect() {
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	echo "$out" >/dev/console
	case $out in *"$want"*) t_ok "$name" ;; *) t_fail "$name" "no '$want' in the output" ;; esac
}

ko=$(find /lib/modules -name vc-mem.ko | head -n 1)

# vc-mem alone: no vchiq-core, no simulator.
t_run "load vc_mem alone" modprobe vc_mem
t_run "$DEV appears" test -c $DEV
if grep -q '^vchiq_core ' /proc/modules; then t_fail "no vchiq_core" "loaded"; else t_ok "no vchiq_core"; fi
expect "info from the command line" "mem_base=0x3e000000" vcmem info
expect "debugfs vc_mem_base" "0x3e000000" cat /sys/kernel/debug/vc-mem/vc_mem_base
expect "debugfs vc_mem_size" "0x40000000" cat /sys/kernel/debug/vc-mem/vc_mem_size
expect "debugfs vc_mem_phys_addr" "0x40000000" cat /sys/kernel/debug/vc-mem/vc_mem_phys_addr
expect "mmap without an image reads zeros" "00 00 00 00" vcmem --mmap read 0x3e002800 16

# The simulated firmware's image.
t_run "load vchiq_sim" modprobe vchiq_sim
both check check
expect "debug header" "symbol_table=0x3e003000" vcmem header
expect "symbol test_var" "test_var addr=0x3e004000 size=4" vcmem sym test_var
expect "test_var at load" "305419896" vcmem peek test_var
t_run "knob fw_test_var" sh -c "echo 4242 >$DBG/fw_test_var"
expect "test_var changed (dma)" "4242" vcmem --dma peek test_var
expect "test_var changed (mmap)" "4242" vcmem --mmap peek test_var
expect "version_string" "76 63 68 69 71 2d 72 73" vcmem read 0x3e004040 8
n=$(sized 200 20000)
t_run "mmap churn ($n mappings)" vcmem churn $n

# The message log: wrap the ring, then open services; they come last, in order.
t_run "load vchiq_core, vchiq_dev" sh -c "modprobe vchiq_core && modprobe vchiq_dev"
n=$(sized 3000 30000)
t_run "fill the message log ($n)" sh -c "echo $n >$DBG/fw_log_fill"
t_run "vchiq-test -p 2 (opens echo)" vchiq-test -p 2
expect "gencmd measure_temp (vcgencmd's request)" "temp=42.8'C" vcmem gencmd measure_temp
# After the last filler: echo's opens and closes (alternating, an open first), then GCMD's
# open, the command and its result, GCMD's close.
log_tail() {
	local out tail lines
	out=$(vcmem log -m) || return 1
	if echo "$out" | grep -q "simulated firmware started"; then
		echo "the ring did not wrap"
		return 1
	fi
	tail=$(echo "$out" | sed -n "/filler $n of $n\$/,\$p" | sed 1d | sed 's/^[0-9]*\.[0-9]*: //')
	echo "$tail"
	lines=$(echo "$tail" | wc -l)
	[ "$lines" -ge 5 ] || return 1
	[ "$(echo "$tail" | tail -n 3)" = "vchiq: service GCMD opened
gencmd: measure_temp -> 0
vchiq: service GCMD closed" ] || return 1
	tail=$(echo "$tail" | head -n $((lines - 3)))
	[ "$(echo "$tail" | awk 'NR % 2 == 1' | sort -u)" = "vchiq: service echo opened" ] &&
		[ "$(echo "$tail" | awk 'NR % 2 == 0' | sort -u)" = "vchiq: service echo closed" ]
}
t_run "log -m: wrapped, then echo opened and closed, then GCMD" log_tail
t_run "vcmem check after the wrap" vcmem check
t_run "knob fw_assert" sh -c "echo 77 >$DBG/fw_assert"
expect "log -a" "assert( fw_assert == 0 ) failed; sim/fwknobs.c line 77" vcmem log -a
expect "lost records" "0" cat $DBG/fw_lost

# GCMD through /dev/vchiq: every command's text, eight clients at once, every fault knob.
both gencmd-check gencmd-check

# Unusable inputs: a device whose calls fail with ENXIO.
t_run "unload vc_mem" rmmod vc_mem
t_run "insmod vc-mem without inputs" insmod "$ko"
if vcmem info 2>/dev/null; then t_fail "no inputs: ioctls fail" "succeeded"; else t_ok "no inputs: ioctls fail"; fi
# No vc_mem.* and no Raspberry Pi firmware node (QEMU virt): GET_VC_MEMORY is not asked.
expect "no inputs, no firmware: the log says what is missing" "no mem_size (the firmware passes vc_mem.mem_size=)" dmesg
if dmesg | grep -q "GET_VC_MEMORY"; then t_fail "no firmware: no GET_VC_MEMORY" "asked"; else t_ok "no firmware: no GET_VC_MEMORY"; fi
t_run "unload vc_mem (no inputs)" rmmod vc_mem
t_run "insmod vc-mem over Linux RAM" insmod "$ko" phys_addr=0x40000000 mem_base=0x1000000 mem_size=0x3f000000
if vcmem info 2>/dev/null; then t_fail "Linux RAM: ioctls fail" "succeeded"; else t_ok "Linux RAM: ioctls fail"; fi
expect "Linux RAM refused in the log" "overlaps Linux's RAM" dmesg
t_run "unload vc_mem (Linux RAM)" rmmod vc_mem

# Load/unload cycles, then everything out (the leak check follows the plan).
cycles() {
	local i=0
	while [ $i -lt "$1" ]; do
		modprobe vc_mem && vcmem info >/dev/null && rmmod vc_mem || return 1
		i=$((i + 1))
	done
}
t_run "vc_mem load/unload cycles" cycles "$(sized 10 500)"
t_run "unload vchiq_dev, vchiq_core, vchiq_sim" rmmod vchiq_dev vchiq_core vchiq_sim
