// SPDX-License-Identifier: GPL-2.0
/* Leaks one allocation at load: kmemleak, and so the runner, must report it. */
#include <linux/module.h>
#include <linux/slab.h>

/* Written with WRITE_ONCE: the compiler may not elide the allocations. */
static void *selftest_leak_ptr;

/*
 * Leak 64 objects: a stale copy of a pointer (a cached kernel stack, a register) can hide one
 * object from kmemleak, not all of them.
 */
static int __init selftest_leak_init(void)
{
	int i;

	for (i = 0; i < 64; i++) {
		WRITE_ONCE(selftest_leak_ptr, kmalloc(256 + 8 * i, GFP_KERNEL));
		if (!READ_ONCE(selftest_leak_ptr))
			return -ENOMEM;
	}
	/* Lose the last reference. */
	WRITE_ONCE(selftest_leak_ptr, NULL);
	return 0;
}
module_init(selftest_leak_init);

static void __exit selftest_leak_exit(void)
{
}
module_exit(selftest_leak_exit);

MODULE_DESCRIPTION("VM runner self-test: a memory leak");
MODULE_LICENSE("GPL");
