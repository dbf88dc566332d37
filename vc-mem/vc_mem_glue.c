// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of vc-mem's kernel layer (sys.rs is its Rust half). Each function wraps one
 * facility the 7.3 `kernel` crate lacks or offers only as a macro or a static inline: the
 * VMA's page offset, an uncached remap_pfn_range, the check that a physical range is not
 * Linux's RAM, memremap, a capability test and the Raspberry Pi firmware's GET_VC_MEMORY
 * property call. Nothing here holds state.
 */

#include <linux/capability.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mm.h>
#include <linux/of.h>
#include <linux/string.h>
#include <soc/bcm2835/raspberrypi-firmware.h>

unsigned long vc_mem_sys_pgoff(const void *vma);
int vc_mem_sys_remap_uncached(void *vma, u64 phys);
bool vc_mem_sys_is_ram(u64 phys, u64 size);
void *vc_mem_sys_map(u64 phys, size_t len);
void vc_mem_sys_unmap(void *va);
void vc_mem_sys_read(void *dst, const void *va, size_t len);
bool vc_mem_sys_rawio(void);
int vc_mem_sys_fw_vc_memory(u32 *base, u32 *size);

/* The VMA comes as void * (see sys.rs). */
unsigned long vc_mem_sys_pgoff(const void *p)
{
	const struct vm_area_struct *vma = p;

	return vma->vm_pgoff;
}

/* The caller checked that [phys, phys + the VMA's length) is VideoCore memory. */
int vc_mem_sys_remap_uncached(void *p, u64 phys)
{
	struct vm_area_struct *vma = p;

	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	return remap_pfn_range(vma, vma->vm_start, PHYS_PFN(phys), vma->vm_end - vma->vm_start,
			       vma->vm_page_prot);
}

/*
 * Whether any byte of [phys, phys + size) is System RAM, i.e. memory Linux manages. (Not
 * pfn_valid(): memory kept from Linux at the end of a boot memory section has struct pages.)
 */
bool vc_mem_sys_is_ram(u64 phys, u64 size)
{
	return region_intersects(phys, size, IORESOURCE_SYSTEM_RAM, IORES_DESC_NONE) !=
	       REGION_DISJOINT;
}

/* A write-combined (normal, uncached) kernel mapping of VideoCore memory. */
void *vc_mem_sys_map(u64 phys, size_t len)
{
	return memremap(phys, len, MEMREMAP_WC);
}

void vc_mem_sys_unmap(void *va)
{
	memunmap(va);
}

/* Copies out of a mapping from vc_mem_sys_map (no Rust reference into VideoCore memory). */
void vc_mem_sys_read(void *dst, const void *va, size_t len)
{
	memcpy(dst, va, len);
}

bool vc_mem_sys_rawio(void)
{
	return capable(CAP_SYS_RAWIO);
}

/*
 * The firmware's answer to GET_VC_MEMORY (tag 0x00010006): the VideoCore's memory as a base
 * address and a size. -ENOENT without a firmware node (not a Pi, or the VM), -EPROBE_DEFER
 * while its driver has not probed; the firmware call's error otherwise.
 */
int vc_mem_sys_fw_vc_memory(u32 *base, u32 *size)
{
	struct device_node *np;
	struct rpi_firmware *fw;
	u32 buf[2] = { 0, 0 };
	int ret;

	np = of_find_compatible_node(NULL, NULL, "raspberrypi,bcm2835-firmware");
	if (!np)
		return -ENOENT;
	fw = rpi_firmware_get(np);
	of_node_put(np);
	if (!fw)
		return -EPROBE_DEFER;
	ret = rpi_firmware_property(fw, RPI_FIRMWARE_GET_VC_MEMORY, buf, sizeof(buf));
	rpi_firmware_put(fw);
	if (ret)
		return ret;
	*base = buf[0];
	*size = buf[1];
	return 0;
}
