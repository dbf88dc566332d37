// SPDX-License-Identifier: GPL-2.0
/* A KUnit suite with one passing and one failing case: the runner must go red. */
#include <kunit/test.h>
#include <linux/module.h>

static void selftest_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1, 1);
}

static void selftest_fails(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, 1, 2, "deliberate failure for the runner's self-test");
}

static struct kunit_case selftest_cases[] = {
	KUNIT_CASE(selftest_passes),
	KUNIT_CASE(selftest_fails),
	{}
};

static struct kunit_suite selftest_suite = {
	.name = "vchiq_runner_selftest",
	.test_cases = selftest_cases,
};

kunit_test_suite(selftest_suite);

MODULE_DESCRIPTION("VM runner self-test: a failing KUnit case");
MODULE_LICENSE("GPL");
