// SPDX-License-Identifier: GPL-2.0
/* Dereferences NULL at load: an oops (and, with PANIC_ON_OOPS, a panic) must turn the run red. */
#include <linux/module.h>

/* Read with READ_ONCE: the compiler may not prove it NULL and drop the access. */
static int *selftest_null;

static int __init selftest_oops_init(void)
{
	return *READ_ONCE(selftest_null);
}
module_init(selftest_oops_init);

static void __exit selftest_oops_exit(void)
{
}
module_exit(selftest_oops_exit);

MODULE_DESCRIPTION("VM runner self-test: an oops");
MODULE_LICENSE("GPL");
