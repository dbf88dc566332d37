// SPDX-License-Identifier: GPL-2.0
/*
 * vchiq-sim: the kernel glue that the Rust `kernel` crate of Linux 7.3 does not offer.
 *
 * - the interrupt-simulator domain and its one interrupt (the ARM's doorbell IRQ);
 * - the platform device "vchiq-sim" (as platform_device_register_full would make it, with
 *   platform data, an IRQ resource and a 32-bit DMA mask);
 * - the simulator's own ordered workqueue (the 7.3 Rust workqueue API can neither allocate
 *   nor destroy one, and destroy_workqueue() is what drains the VideoCore's work item), and
 *   the VideoCore's timer: a delayed work on that queue that activates the VideoCore at a
 *   service's deadline (AUDS plays at a sample rate), cancelled before the queue goes;
 * - bus address to page translation (dma_to_phys, pfn_valid), vmap of the slot memory with
 *   the attributes dma_alloc_coherent gave it, and kmap_local copies for bulk data;
 * - the device-managed action that detaches the VideoCore from the ARM's memory when the
 *   core unbinds (a safety net behind the vc_reset op).
 *
 * The Rust side declares all of these in sys.rs; the ops the core calls are implemented in
 * Rust (sim.rs) and collected into `struct vchiq_sim_ops` here.
 */

#include <linux/device.h>
#include <linux/dma-direct.h>
#include <linux/dma-map-ops.h>
#include <linux/err.h>
#include <linux/highmem.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irq_sim.h>
#include <linux/irqdomain.h>
#include <linux/mm.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include <vchiq-rs/sim.h>

/* Implemented in Rust (sim.rs). `ctx` is the simulator's `Sim`. */
int vchiq_sim_rs_fw_vchiq_init(void *ctx, u32 slot_zero, u32 *status);
void vchiq_sim_rs_ring_bell2(void *ctx);
u32 vchiq_sim_rs_read_bell0(void *ctx);
int vchiq_sim_rs_vc_reset(void *ctx);
void vchiq_sim_rs_detach(void *ctx);
void vchiq_sim_rs_tick(void *ctx);

/* Declared here for the Rust side (sys.rs); not exported from the module. */
struct vchiq_sim_hw;
int vchiq_sim_hw_create(struct vchiq_sim_hw **out);
int vchiq_sim_hw_register(struct vchiq_sim_hw *hw, void *ctx, u32 cache_line_size);
void vchiq_sim_hw_unregister(struct vchiq_sim_hw *hw);
void vchiq_sim_hw_destroy(struct vchiq_sim_hw *hw);
struct workqueue_struct *vchiq_sim_hw_wq(struct vchiq_sim_hw *hw);
struct device *vchiq_sim_hw_dev(struct vchiq_sim_hw *hw);
unsigned int vchiq_sim_hw_irq(struct vchiq_sim_hw *hw);
unsigned int vchiq_sim_hw_dev_refs(struct vchiq_sim_hw *hw);
void vchiq_sim_hw_raise(struct vchiq_sim_hw *hw);
void vchiq_sim_hw_kick_after(struct vchiq_sim_hw *hw, u32 usecs);
int vchiq_sim_add_detach_action(struct device *dev, void *ctx);
void *vchiq_sim_vmap(struct device *dev, u32 bus, u32 size);
void vchiq_sim_vunmap(void *va);
int vchiq_sim_bus_copy(struct device *dev, u32 bus, void *buf, size_t len, bool to_bus);
struct device *vchiq_sim_test_dev(void);
u32 vchiq_sim_test_bus(const void *va);

static const struct vchiq_sim_ops vchiq_sim_ops = {
	.fw_vchiq_init = vchiq_sim_rs_fw_vchiq_init,
	.ring_bell2 = vchiq_sim_rs_ring_bell2,
	.read_bell0 = vchiq_sim_rs_read_bell0,
	.vc_reset = vchiq_sim_rs_vc_reset,
};

struct vchiq_sim_hw {
	struct fwnode_handle *fwnode;
	struct irq_domain *domain;
	unsigned int irq;
	struct workqueue_struct *wq;
	struct platform_device *pdev;
	/* The VideoCore's timer; `ctx` is the `Sim` it activates, `dying` stops re-arming. */
	struct delayed_work tick;
	void *ctx;
	bool dying;
};

static void vchiq_sim_hw_tick(struct work_struct *work)
{
	struct vchiq_sim_hw *hw = container_of(to_delayed_work(work), struct vchiq_sim_hw, tick);
	void *ctx = READ_ONCE(hw->ctx);

	if (ctx)
		vchiq_sim_rs_tick(ctx);
}

/* Creates the interrupt domain with its one mapped interrupt, and the workqueue. */
int vchiq_sim_hw_create(struct vchiq_sim_hw **out)
{
	struct vchiq_sim_hw *hw;
	int ret;

	hw = kzalloc_obj(*hw, GFP_KERNEL);
	if (!hw)
		return -ENOMEM;

	hw->fwnode = irq_domain_alloc_named_fwnode("vchiq-sim");
	if (!hw->fwnode) {
		ret = -ENOMEM;
		goto err_free;
	}
	hw->domain = irq_domain_create_sim(hw->fwnode, 1);
	if (IS_ERR(hw->domain)) {
		ret = PTR_ERR(hw->domain);
		goto err_fwnode;
	}
	hw->irq = irq_create_mapping(hw->domain, 0);
	if (!hw->irq) {
		ret = -ENXIO;
		goto err_domain;
	}
	hw->wq = alloc_ordered_workqueue("vchiq-sim", 0);
	if (!hw->wq) {
		ret = -ENOMEM;
		goto err_mapping;
	}
	INIT_DELAYED_WORK(&hw->tick, vchiq_sim_hw_tick);
	*out = hw;
	return 0;

err_mapping:
	irq_dispose_mapping(hw->irq);
err_domain:
	irq_domain_remove_sim(hw->domain);
err_fwnode:
	irq_domain_free_fwnode(hw->fwnode);
err_free:
	kfree(hw);
	return ret;
}

/*
 * Registers the platform device the core binds: what platform_device_register_full() does
 * with a name, no id, a 32-bit DMA mask, the IRQ resource and the platform data, except that
 * hw->pdev is set before platform_device_add(). The core may bind, and call fw_vchiq_init
 * (which needs the device), inside platform_device_add() when it is loaded first.
 */
int vchiq_sim_hw_register(struct vchiq_sim_hw *hw, void *ctx, u32 cache_line_size)
{
	struct vchiq_sim_platform_data pdata = {
		.ops = &vchiq_sim_ops,
		.ctx = ctx,
		.cache_line_size = cache_line_size,
	};
	struct resource res = DEFINE_RES_IRQ_NAMED(hw->irq, "doorbell");
	struct platform_device *pdev;
	int ret;

	pdev = platform_device_alloc(VCHIQ_SIM_DEVICE_NAME, PLATFORM_DEVID_NONE);
	if (!pdev)
		return -ENOMEM;
	pdev->platform_dma_mask = DMA_BIT_MASK(32);
	pdev->dev.dma_mask = &pdev->platform_dma_mask;
	pdev->dev.coherent_dma_mask = DMA_BIT_MASK(32);
	ret = platform_device_add_resources(pdev, &res, 1);
	if (!ret)
		ret = platform_device_add_data(pdev, &pdata, sizeof(pdata));
	if (ret)
		goto err;
	WRITE_ONCE(hw->ctx, ctx);
	WRITE_ONCE(hw->pdev, pdev);
	ret = platform_device_add(pdev);
	if (ret) {
		WRITE_ONCE(hw->pdev, NULL);
		goto err;
	}
	return 0;

err:
	platform_device_put(pdev);
	return ret;
}

/* Unregisters the platform device (unbinding the core); idempotent. */
void vchiq_sim_hw_unregister(struct vchiq_sim_hw *hw)
{
	struct platform_device *pdev = hw->pdev;

	WRITE_ONCE(hw->pdev, NULL);
	if (pdev)
		platform_device_unregister(pdev);
}

/*
 * Stops the timer, drains and destroys the workqueue, then removes the interrupt. Once
 * `dying` is set no activation re-arms the timer; the flush waits for an activation that
 * read it before, so the cancel is the last word on the timer.
 */
void vchiq_sim_hw_destroy(struct vchiq_sim_hw *hw)
{
	vchiq_sim_hw_unregister(hw);
	WRITE_ONCE(hw->dying, true);
	flush_workqueue(hw->wq);
	cancel_delayed_work_sync(&hw->tick);
	destroy_workqueue(hw->wq);
	irq_dispose_mapping(hw->irq);
	irq_domain_remove_sim(hw->domain);
	irq_domain_free_fwnode(hw->fwnode);
	kfree(hw);
}

struct workqueue_struct *vchiq_sim_hw_wq(struct vchiq_sim_hw *hw)
{
	return hw->wq;
}

/* The platform device's `struct device`, or NULL when it is not registered. */
struct device *vchiq_sim_hw_dev(struct vchiq_sim_hw *hw)
{
	struct platform_device *pdev = READ_ONCE(hw->pdev);

	return pdev ? &pdev->dev : NULL;
}

/* The platform device's reference count (0 once unregistered), for the leak tests. */
unsigned int vchiq_sim_hw_dev_refs(struct vchiq_sim_hw *hw)
{
	struct platform_device *pdev = READ_ONCE(hw->pdev);

	return pdev ? kref_read(&pdev->dev.kobj.kref) : 0;
}

unsigned int vchiq_sim_hw_irq(struct vchiq_sim_hw *hw)
{
	return hw->irq;
}

/*
 * Raises the ARM's doorbell interrupt. The interrupt simulator delivers it from an irq_work,
 * in hard interrupt context, as a real doorbell would be. Process context only.
 */
void vchiq_sim_hw_raise(struct vchiq_sim_hw *hw)
{
	irq_set_irqchip_state(hw->irq, IRQCHIP_STATE_PENDING, true);
}

/*
 * Activates the VideoCore in `usecs` microseconds (at least one jiffy from now), replacing
 * an earlier pending deadline. Process context.
 */
void vchiq_sim_hw_kick_after(struct vchiq_sim_hw *hw, u32 usecs)
{
	if (READ_ONCE(hw->dying))
		return;
	mod_delayed_work(hw->wq, &hw->tick, usecs_to_jiffies(usecs));
}

static void vchiq_sim_devm_detach(void *ctx)
{
	vchiq_sim_rs_detach(ctx);
}

/*
 * Detaches the VideoCore when `dev` unbinds. Called from fw_vchiq_init, i.e. after the core
 * allocated its slot memory: devres runs actions in reverse order, so this runs after the
 * core's remove() and before device-managed slot memory is freed.
 */
int vchiq_sim_add_detach_action(struct device *dev, void *ctx)
{
	return devm_add_action(dev, vchiq_sim_devm_detach, ctx);
}

/*
 * The page behind bus address `bus` as `dev` sees it, or NULL if it is not RAM (no struct
 * page). Reserved pages are RAM like any other to a DMA master: the swiotlb bounce buffers
 * the ARM's DMA API hands out for unaligned receives live in reserved memory, and a wrong
 * address must corrupt memory the way it would on a Pi, not be filtered out here.
 */
static struct page *vchiq_sim_bus_page(struct device *dev, u64 bus)
{
	phys_addr_t phys;
	unsigned long pfn;
	struct page *page;

	if (bus > U32_MAX) {
		dev_warn_ratelimited(dev, "bus address %#llx beyond 32 bits\n", bus);
		return NULL;
	}
	phys = dma_to_phys(dev, (dma_addr_t)bus);
	pfn = PHYS_PFN(phys);
	if (!pfn_valid(pfn)) {
		dev_warn_ratelimited(dev, "bus address %#llx (phys %pa) is not RAM\n", bus, &phys);
		return NULL;
	}
	page = pfn_to_page(pfn);
	return page;
}

/*
 * Maps `size` bytes at bus address `bus` (the ARM's coherent slot memory) into the kernel's
 * address space, page by page through the bus-to-physical translation (never through the
 * ARM side's own mapping), with the attributes dma_alloc_coherent uses for `dev` so that the
 * two mappings agree. Works with highmem. Returns NULL on failure.
 */
void *vchiq_sim_vmap(struct device *dev, u32 bus, u32 size)
{
	unsigned long off = offset_in_page(bus);
	unsigned long i, n;
	struct page **pages;
	pgprot_t prot = PAGE_KERNEL;
	void *va;

	if (!size)
		return NULL;
	n = DIV_ROUND_UP(off + size, PAGE_SIZE);
	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for (i = 0; i < n; i++) {
		pages[i] = vchiq_sim_bus_page(dev, (u64)(bus - off) + (u64)i * PAGE_SIZE);
		if (!pages[i]) {
			kvfree(pages);
			return NULL;
		}
	}
	if (!dev_is_dma_coherent(dev))
		prot = pgprot_dmacoherent(prot);
	va = vmap(pages, n, VM_MAP, prot);
	kvfree(pages);
	return va ? va + off : NULL;
}

void vchiq_sim_vunmap(void *va)
{
	vunmap((void *)((unsigned long)va & PAGE_MASK));
}

/*
 * Copies `len` bytes between `buf` and bus address `bus`: into the ARM's memory if `to_bus`,
 * out of it otherwise. Each page is translated and validated separately and reached through
 * kmap_local_page (highmem). Returns 0, or -EFAULT (possibly after a partial copy) if a page
 * is not RAM.
 *
 * Caches: the copy goes through the CPU cache, like a cache-coherent bus master. On the
 * non-coherent test platforms that is only right because QEMU does not model caches.
 */
int vchiq_sim_bus_copy(struct device *dev, u32 bus, void *buf, size_t len, bool to_bus)
{
	u64 addr = bus;
	u8 *p = buf;

	while (len) {
		size_t off = offset_in_page(addr);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		struct page *page = vchiq_sim_bus_page(dev, addr);
		void *va;

		if (!page)
			return -EFAULT;
		va = kmap_local_page(page);
		if (to_bus)
			memcpy(va + off, p, n);
		else
			memcpy(p, va + off, n);
		kunmap_local(va);
		addr += n;
		p += n;
		len -= n;
	}
	return 0;
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * For the KUnit suite: a device without DMA ranges (bus address == physical address), enough
 * for vchiq_sim_bus_copy(), and the bus address of lowmem kernel memory.
 */
static struct device vchiq_sim_test_device = { .init_name = "vchiq-sim-test" };

struct device *vchiq_sim_test_dev(void)
{
	return &vchiq_sim_test_device;
}

u32 vchiq_sim_test_bus(const void *va)
{
	return (u32)virt_to_phys(va);
}
#endif
