// SPDX-License-Identifier: GPL-2.0
/* Emits one WARN at load: the runner must go red. */
#include <linux/bug.h>
#include <linux/module.h>

static int __init selftest_warn_init(void)
{
	WARN(1, "deliberate WARN for the runner's self-test\n");
	return 0;
}
module_init(selftest_warn_init);

static void __exit selftest_warn_exit(void)
{
}
module_exit(selftest_warn_exit);

MODULE_DESCRIPTION("VM runner self-test: a WARN");
MODULE_LICENSE("GPL");
