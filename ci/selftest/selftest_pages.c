// SPDX-License-Identifier: GPL-2.0
/*
 * Leaves behind pages that kmemleak does not track: one page of the loading process pinned
 * with pin_user_pages_fast() and never unpinned, and a coherent DMA buffer (from CMA, being
 * larger than a page) never freed. The guest's page check (pages_check in ci/guest/lib.sh)
 * must report both.
 */
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/sched.h>

#define SELFTEST_CMA_BYTES (4 << 20)

/* Kept until unload, so that no driver core or DMA debugging path frees or checks the buffer. */
static struct platform_device *selftest_pages_pdev;

static int __init selftest_pages_init(void)
{
	unsigned long addr = current->mm->arg_start & PAGE_MASK;
	struct page *page;
	dma_addr_t dma;
	int ret;

	ret = pin_user_pages_fast(addr, 1, 0, &page);
	if (ret != 1)
		return ret < 0 ? ret : -EFAULT;
	/* The page stays pinned: its reference is lost here. */

	selftest_pages_pdev = platform_device_register_simple("selftest-pages", -1, NULL, 0);
	if (IS_ERR(selftest_pages_pdev))
		return PTR_ERR(selftest_pages_pdev);
	ret = dma_coerce_mask_and_coherent(&selftest_pages_pdev->dev, DMA_BIT_MASK(32));
	if (!ret && !dma_alloc_coherent(&selftest_pages_pdev->dev, SELFTEST_CMA_BYTES, &dma,
					GFP_KERNEL))
		ret = -ENOMEM;
	if (ret)
		platform_device_unregister(selftest_pages_pdev);
	return ret;
}
module_init(selftest_pages_init);

static void __exit selftest_pages_exit(void)
{
	platform_device_unregister(selftest_pages_pdev);
}
module_exit(selftest_pages_exit);

MODULE_DESCRIPTION("VM runner self-test: a pinned user page and a CMA buffer left behind");
MODULE_LICENSE("GPL");
