// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of the simulated firmware memory (fwmem.rs): a write-combined mapping of the
 * top of RAM that the VM's boot kept from Linux, refused if any page of it is Linux's.
 */

#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>

void *vchiq_sim_fw_map(u64 phys, u32 len);
void vchiq_sim_fw_unmap(void *va);

void *vchiq_sim_fw_map(u64 phys, u32 len)
{
	if (region_intersects(phys, len, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) !=
	    REGION_DISJOINT)
		return NULL;
	return memremap(phys, len, MEMREMAP_WC);
}

void vchiq_sim_fw_unmap(void *va)
{
	memunmap(va);
}
