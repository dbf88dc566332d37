// SPDX-License-Identifier: GPL-2.0
/*
 * The C half of vchiq-core's kernel abstraction layer (see sys.rs, its Rust half, and
 * Documentation/architecture.rst). Each function wraps one kernel facility that the 7.3
 * `kernel` crate does not offer, or offers only behind a macro or a static inline:
 * kernel threads, the Raspberry Pi firmware property call, auxiliary devices with plain
 * platform data, and the DMA mapping of bulk buffers. Nothing here holds state.
 */

#include <linux/auxiliary_bus.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/of.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <soc/bcm2835/raspberrypi-firmware.h>

#include "sys_glue.h"

struct task_struct *vchiq_sys_kthread_start(int (*fn)(void *), void *data, const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s", name);

	if (IS_ERR(t))
		return t;
	/* Hold a reference so that stopping is safe even after fn has returned. */
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

int vchiq_sys_kthread_stop(struct task_struct *t)
{
	return kthread_stop_put(t);
}

int vchiq_sys_rpi_vchiq_init(u32 slot_zero, u32 *status)
{
	struct device_node *np;
	struct rpi_firmware *fw;
	u32 val = slot_zero;
	int ret;

	np = of_find_compatible_node(NULL, NULL, "raspberrypi,bcm2835-firmware");
	if (!np)
		return -ENOENT;
	fw = rpi_firmware_get(np);
	of_node_put(np);
	if (!fw)
		return -EPROBE_DEFER;
	ret = rpi_firmware_property(fw, RPI_FIRMWARE_VCHIQ_INIT, &val, sizeof(val));
	rpi_firmware_put(fw);
	if (!ret)
		*status = val;
	return ret;
}

void *vchiq_sys_platdata(struct device *dev)
{
	return dev_get_platdata(dev);
}

static void vchiq_sys_aux_release(struct device *dev)
{
	kfree(to_auxiliary_dev(dev));
}

struct auxiliary_device *vchiq_sys_aux_add(struct device *parent, const char *modname,
					   const char *name, u32 id, void *data)
{
	struct auxiliary_device *adev;
	int ret;

	adev = kzalloc_obj(*adev, GFP_KERNEL);
	if (!adev)
		return ERR_PTR(-ENOMEM);
	adev->name = name;
	adev->id = id;
	adev->dev.parent = parent;
	adev->dev.platform_data = data;
	adev->dev.release = vchiq_sys_aux_release;
	ret = auxiliary_device_init(adev);
	if (ret) {
		kfree(adev);
		return ERR_PTR(ret);
	}
	ret = __auxiliary_device_add(adev, modname);
	if (ret) {
		auxiliary_device_uninit(adev);
		return ERR_PTR(ret);
	}
	return adev;
}

void vchiq_sys_aux_del(struct auxiliary_device *adev)
{
	auxiliary_device_delete(adev);
	auxiliary_device_uninit(adev);
}

struct page *vchiq_sys_buf_page(const void *addr)
{
	if (is_vmalloc_addr(addr))
		return vmalloc_to_page(addr);
	if (virt_addr_valid(addr))
		return virt_to_page(addr);
	return NULL;
}

void vchiq_sys_dma_keep_page_offset(struct device *dev)
{
	dma_set_min_align_mask(dev, PAGE_SIZE - 1);
}

struct sg_table *vchiq_sys_map_pages(struct device *dev, struct page **pages, u32 n,
				     u32 offset, u32 len, bool to_device)
{
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc_obj(*sgt, GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages(sgt, pages, n, offset, len, GFP_KERNEL);
	if (ret)
		goto free;
	ret = dma_map_sgtable(dev, sgt, to_device ? DMA_TO_DEVICE : DMA_FROM_DEVICE, 0);
	if (ret)
		goto table;
	return sgt;
table:
	sg_free_table(sgt);
free:
	kfree(sgt);
	return ERR_PTR(ret);
}

void vchiq_sys_unmap_pages(struct device *dev, struct sg_table *sgt, bool to_device)
{
	dma_unmap_sgtable(dev, sgt, to_device ? DMA_TO_DEVICE : DMA_FROM_DEVICE, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

/*
 * Frees the table of a mapping the device may still use, without unmapping it: the
 * mapping (and any bounce buffer behind it) stays for good.
 */
void vchiq_sys_forget_pages(struct sg_table *sgt)
{
	sg_free_table(sgt);
	kfree(sgt);
}

void *vchiq_sys_coherent_alloc(struct device *dev, u32 size, u64 *bus)
{
	dma_addr_t addr;
	void *p = dma_alloc_coherent(dev, size, &addr, GFP_KERNEL);

	if (p)
		*bus = addr;
	return p;
}

void vchiq_sys_coherent_free(struct device *dev, u32 size, void *p, u64 bus)
{
	dma_free_coherent(dev, size, p, bus);
}
