// SPDX-License-Identifier: GPL-2.0
/* Reads one byte past a kmalloc'd object: KASAN (arm64 debug kernel) must report it. */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/slab.h>

static int __init selftest_kasan_init(void)
{
	char *p = kmalloc(16, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	/* READ_ONCE: the load may not be optimised away. */
	(void)READ_ONCE(p[16]);
	kfree(p);
	return 0;
}
module_init(selftest_kasan_init);

static void __exit selftest_kasan_exit(void)
{
}
module_exit(selftest_kasan_exit);

MODULE_DESCRIPTION("VM runner self-test: a slab out-of-bounds read");
MODULE_LICENSE("GPL");
