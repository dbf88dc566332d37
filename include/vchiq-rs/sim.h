/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hardware boundary between vchiq-core and the simulated VideoCore (vchiq-sim).
 *
 * On a Raspberry Pi, vchiq-core meets the VideoCore through three things: a doorbell
 * register pair (BELL0: the ARM's doorbell, read-to-clear; BELL2: the VideoCore's doorbell,
 * write to ring), the doorbell interrupt, and the firmware property call VCHIQ_INIT that
 * hands over the bus address of slot zero. The simulator offers the same three things:
 *
 * - it registers a platform device named VCHIQ_SIM_DEVICE_NAME with a 32-bit DMA mask,
 *   platform data `struct vchiq_sim_platform_data` and IRQ resource 0, an interrupt of an
 *   interrupt-simulator domain (CONFIG_IRQ_SIM) that it raises from its own context;
 * - the ops below stand in for the doorbell registers and the firmware call.
 *
 * The core binds the device by name and never calls the simulator otherwise. The ops are
 * valid while the core is bound: the simulator unregisters the device (which unbinds the
 * core) before it frees anything the ops use.
 */
#ifndef VCHIQ_RS_SIM_H
#define VCHIQ_RS_SIM_H

#include <linux/types.h>

#define VCHIQ_SIM_DEVICE_NAME "vchiq-sim"

/* BELL0's bit that says the VideoCore rang the ARM (ARM_DS_ACTIVE). */
#define VCHIQ_SIM_BELL0_RUNG 0x4u

struct vchiq_sim_ops {
	/*
	 * The firmware's VCHIQ_INIT property call. `slot_zero` is the bus address of slot
	 * zero. Returns 0 when the call went through; `*status` then holds the firmware's
	 * answer: 0 if it accepted the memory, non-zero if it refused (as the real firmware
	 * does for a second init without a reset). A negative errno means the call itself
	 * failed (for instance -ETIMEDOUT when the VideoCore does not respond).
	 */
	int (*fw_vchiq_init)(void *ctx, u32 slot_zero, u32 *status);
	/* Write to BELL2: ring the VideoCore's doorbell. Callable from any context. */
	void (*ring_bell2)(void *ctx);
	/* Read BELL0, which clears it: VCHIQ_SIM_BELL0_RUNG if the VideoCore rang. */
	u32 (*read_bell0)(void *ctx);
	/*
	 * Simulator only; a real VideoCore cannot be told to let go of the memory. Called by
	 * the core when it unbinds: stop touching the memory handed over by fw_vchiq_init
	 * (flush any work that might) and accept a new init afterwards, as writing `reset` in
	 * debugfs does. Returns 0 when the VideoCore will no longer touch that memory, so the
	 * core may free it, or -EBUSY when the simulator has been told to behave like real
	 * firmware (debugfs `refuse_reset`): the core then keeps (leaks) the memory, as it does
	 * on a Pi, and the next init is refused. Process context; may sleep.
	 */
	int (*vc_reset)(void *ctx);
};

struct vchiq_sim_platform_data {
	const struct vchiq_sim_ops *ops;
	void *ctx;
	/* The cache line size the VideoCore assumes for bulk fragments (32 or 64). */
	u32 cache_line_size;
};

#endif /* VCHIQ_RS_SIM_H */
