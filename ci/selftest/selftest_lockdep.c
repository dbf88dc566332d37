// SPDX-License-Identifier: GPL-2.0
/*
 * Takes two mutexes in both orders (one after the other, so nothing deadlocks): lockdep must
 * report a possible circular dependency, and the runner must go red.
 */
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(selftest_a);
static DEFINE_MUTEX(selftest_b);

static int __init selftest_lockdep_init(void)
{
	mutex_lock(&selftest_a);
	mutex_lock(&selftest_b);
	mutex_unlock(&selftest_b);
	mutex_unlock(&selftest_a);

	mutex_lock(&selftest_b);
	mutex_lock(&selftest_a);
	mutex_unlock(&selftest_a);
	mutex_unlock(&selftest_b);
	return 0;
}
module_init(selftest_lockdep_init);

static void __exit selftest_lockdep_exit(void)
{
}
module_exit(selftest_lockdep_exit);

MODULE_DESCRIPTION("VM runner self-test: an ABBA lock order");
MODULE_LICENSE("GPL");
